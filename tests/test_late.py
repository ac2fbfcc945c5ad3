"""Deadlines: due dates from c.Grading.due, extensions with `extend` and its log, and the late
policy as nbgrader's late-submission plugin. The arithmetic and the config errors are checked
on their own; then a course is graded for real (the tiny fixture assignment) with students
late, on time thanks to an extension, past the cut-off and from Canvas with no time, and the
penalty is followed into the gradebook, the grade table, report, export and feedback."""

from __future__ import annotations

import csv
import getpass
import os
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from traitlets.config import Config

from autograder.changes import changes
from autograder.cli import main
from autograder.collect import LMS_RECORD, LmsRecord
from autograder.config import GradingConfig
from autograder.course import CONFIG_NAME, Course, PipelineError
from autograder.export import CSV_COLUMNS, export, grade_rows
from autograder.feedback import generate_feedback
from autograder.late import (
    Lateness,
    LatePolicy,
    course_policy,
    due_dates,
    extensions,
    format_duration,
    late_mark,
    parse_due,
)
from autograder.pipeline import prepare_assignments
from autograder.report import gradebook_table, score_distribution

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
DAY = 86400
UTC = ZoneInfo("UTC")


# --- the policy's arithmetic ---------------------------------------------------------------------


@pytest.mark.parametrize(("settings", "score", "seconds", "penalty"), [
    ({"penalty_method": "none"}, 8, 5 * DAY, 0),
    ({"penalty_method": "zero"}, 8, 1, 8),
    ({"penalty_method": "fixed", "percent": 25}, 8, 1, 2.5),  # of the points (10)
    ({"penalty_method": "fixed", "percent": 25}, 8, 9 * DAY, 2.5),
    ({"penalty_method": "fixed", "percent": 25, "percent_of": "score"}, 8, 1, 2),
    ({"penalty_method": "per_day", "percent": 10}, 8, 0, 0),  # on time
    ({"penalty_method": "per_day", "percent": 10}, 8, 1, 1),  # a part day is a day
    ({"penalty_method": "per_day", "percent": 10}, 8, DAY, 1),
    ({"penalty_method": "per_day", "percent": 10}, 8, DAY + 1, 2),
    ({"penalty_method": "per_day", "percent": 10, "percent_of": "score"}, 8, 3 * DAY, 2.4),
    ({"penalty_method": "per_day", "percent": 30}, 5, 3 * DAY, 5),  # never more than the score
    ({"penalty_method": "per_day", "percent": 10, "cutoff_days": 3}, 8, 3 * DAY, 3),
    ({"penalty_method": "per_day", "percent": 10, "cutoff_days": 3}, 8, 3 * DAY + 1, 8),
    ({"penalty_method": "fixed", "percent": 10, "cutoff_days": 0.5}, 8, DAY / 2 + 1, 8),
])
def test_policy_penalty(settings, score, seconds, penalty):
    """Each method on a notebook of 10 points: once or per started day, of the points or of
    the score, capped at the score; past the cut-off the whole score."""
    policy = LatePolicy(**settings)
    policy.check()
    assert policy.penalty(score, 10, seconds) == pytest.approx(penalty)


def test_policy_in_words():
    """describe() names the rate, what it is a percent of and the cut-off."""
    assert LatePolicy(penalty_method="per_day", percent=10, cutoff_days=7).describe() == (
        "10% of the points off per day late (a part day counts as a day); more than 7 day(s) "
        "late scores 0")
    assert LatePolicy(penalty_method="fixed", percent=5, percent_of="score").describe() == (
        "5% of the points earned off when late")
    assert LatePolicy().describe() == "no late penalty"


def _cfg(**late) -> Config:
    cfg = Config()
    cfg.AssignLatePenalties.plugin_class = "autograder.late.LatePolicy"
    for name, value in late.items():
        setattr(cfg.LatePolicy, name, value)
    return cfg


@pytest.mark.parametrize(("cfg", "says"), [
    (_cfg(penalty_method="per_day"), "percent must be above 0 for penalty_method 'per_day' "
                                     "(got 0)"),
    (_cfg(penalty_method="fixed", percent=120), "percent must be between 0 and 100 (got 120)"),
    (_cfg(penalty_method="per_day", percent=5, cutoff_days=-1),
     "cutoff_days must be >= 0, 0 for no cut-off (got -1)"),
    (_cfg(penalty_method="weekly"), "'weekly'"),
    (Config({"LatePolicy": {"percent": 10.0}}),
     "c.LatePolicy is set, so c.AssignLatePenalties.plugin_class must be "
     "'autograder.late.LatePolicy' for nbgrader to apply it (got nbgrader default)"),
])
def test_a_wrong_policy_is_an_error_naming_the_setting(cfg, says):
    """Bad settings, or c.LatePolicy without the plugin class, stop with what must hold."""
    with pytest.raises(PipelineError, match=re.escape(says)):
        course_policy(cfg)


def test_the_policy_in_force():
    """Our plugin: its settings; nbgrader's own plugin (the default): None."""
    policy = course_policy(_cfg(penalty_method="fixed", percent=20))
    assert (policy.penalty_method, policy.percent) == ("fixed", 20)
    assert course_policy(Config()) is None


# --- due dates and lateness ----------------------------------------------------------------------


def test_due_dates_are_read_in_their_zone_or_the_courses():
    """A zone name after the time wins; else the course's zone; stored as naive UTC."""
    london = ZoneInfo("Europe/London")
    assert parse_due("a", "2026-06-01 13:00 Europe/London", UTC) == datetime(2026, 6, 1, 12)
    assert parse_due("a", "2026-06-01 13:00", london) == datetime(2026, 6, 1, 12)
    assert parse_due("a", "2026-12-01T13:00:30", london) == datetime(2026, 12, 1, 13, 0, 30)


@pytest.mark.parametrize(("text", "says"), [
    ("2026-06-31 13:00", "must be a real date and time, 'YYYY-MM-DD HH:MM', then optionally "
                         "a time zone such as Europe/London (got '2026-06-31 13:00': day is "
                         "out of range for month)"),
    ("next friday", "c.Grading.due['a1'] must be 'YYYY-MM-DD HH:MM', then optionally a time "
                    "zone such as Europe/London (got 'next friday')"),
    ("2026-06-01", "(got '2026-06-01')"),
    ("2026-06-01 13:00 Mars/Olympus", "must end with a time zone name such as Europe/London "
                                      "or UTC (got 'Mars/Olympus')"),
])
def test_a_bad_due_date_is_an_error_naming_the_form(text, says):
    """What was got and the form it must have."""
    with pytest.raises(PipelineError, match=re.escape(says)):
        parse_due("a1", text, UTC)


def test_an_unknown_assignment_or_zone_in_the_config_is_an_error(tmp_path, restore_environ):
    """c.Grading.due keys must be the course's assignments; c.Exchange.timezone a zone."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    with pytest.raises(PipelineError, match=re.escape(
            "c.Grading.due names 'a3_minibach': each key must be an assignment of the course "
            "(known: f1_tiny)")):
        due_dates(course, {"a3_minibach": "2026-06-01 13:00"})
    with open(course.config_path, "a") as fh:
        fh.write('\nc.Exchange.timezone = "Europe/Londn"\n')
    with pytest.raises(PipelineError, match=re.escape(
            "c.Exchange.timezone must name a time zone such as Europe/London "
            "(got 'Europe/Londn')")):
        due_dates(course, {ASSIGNMENT: "2026-06-01 13:00"})


def test_lateness_counts_from_the_due_date_with_its_extension():
    """Handed in exactly at the extended due date: on time; one second later: late."""
    due = datetime(2026, 6, 1, 12)
    two_days = timedelta(days=2)
    on_time = Lateness(due + two_days, two_days, due + two_days)
    assert (on_time.seconds_late, on_time.label(), late_mark(on_time, 0)) == (0, "on time", "")
    late = Lateness(due + two_days, two_days, due + two_days + timedelta(seconds=1))
    assert (late.seconds_late, late.label()) == (1, "late 1s")
    assert LatePolicy(penalty_method="per_day", percent=10).penalty(5, 5, late.seconds_late) == 0.5
    assert late_mark(late, 0.5) == " late 1s -0.5"


def test_lateness_without_a_time_is_never_on_time():
    """No submission time: the LMS's mark is shown, or 'unknown' when there is a due date."""
    due = datetime(2026, 6, 1, 12)
    canvas = Lateness(due, None, None, "canvas", True)
    assert canvas.seconds_late is None
    assert canvas.label() == ("late by Canvas's mark (no submission time: no penalty "
                              "computed)")
    assert late_mark(canvas, 0) == " late"
    on_time = Lateness(due, None, None, "canvas", False)  # Canvas marked it on time
    assert on_time.label().startswith("on time by Canvas's mark") and late_mark(on_time, 0) == ""
    unknown = Lateness(due)
    assert unknown.label() == "lateness unknown (no submission time: no penalty computed)"
    assert late_mark(unknown, 0) == " late?"
    assert Lateness().label() == "" and late_mark(Lateness(), 0) == ""


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"), (40, "40s"), (720, "12m"), (3 * 3600 + 720, "3h 12m"), (2 * DAY + 3 * 3600 + 5,
                                                                      "2d 3h")])
def test_durations(seconds, text):
    """The two largest units."""
    assert format_duration(seconds) == text


# --- a course graded for real --------------------------------------------------------------------

# The due date is 13:00 in the course's zone, London, in summer: 12:00 UTC.
DUE = datetime(2026, 6, 1, 12)
LATE_CONFIG = """
c.Exchange.timezone = "Europe/London"
c.Grading.due = {"f1_tiny": "2026-06-01 13:00"}
c.AssignLatePenalties.plugin_class = "autograder.late.LatePolicy"
c.LatePolicy.penalty_method = "per_day"
c.LatePolicy.percent = 10
c.LatePolicy.percent_of = "score"
c.LatePolicy.cutoff_days = 3
"""
POLICY = ("10% of the points earned off per day late (a part day counts as a day); more "
          "than 3 day(s) late scores 0")
CANVAS_ID = "48213"
# student -> when handed in (UTC); None: from Canvas, which gives no time
HANDED_IN = {
    "ann": DUE + timedelta(days=1, hours=1),  # 2 days late: -20%
    "ben": DUE + timedelta(days=1, hours=1),  # the same, with a 2-day extension: on time
    "cat": DUE + timedelta(days=3, seconds=1),  # past the cut-off: 0
    CANVAS_ID: None,
}


def _read_csv(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    return {r.get("student_id") or r.get("ID"): r for r in rows}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, printed output of extend and grade): four solutions graded with the policy."""
    saved = dict(os.environ)
    os.environ.pop("MINIGRAD_GRADEBOOK_URL", None)
    try:
        root = tmp_path_factory.mktemp("late")
        notebooks = root / "notebooks"
        shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
        course = Course.create(root / "course", notebooks)
        with open(course.config_path, "a") as fh:
            fh.write(LATE_CONFIG)
        checks = prepare_assignments(course, [ASSIGNMENT], say=lambda _: None,
                                     force_release=True)
        assert not checks[ASSIGNMENT].problems
        with course.gradebook() as gb:
            assert gb.find_assignment(ASSIGNMENT).duedate == DUE  # written by release
        submitted = course.submitted_dir
        for student, when in HANDED_IN.items():
            folder = submitted / student / ASSIGNMENT
            shutil.copytree(submitted / "sample-solution" / ASSIGNMENT, folder)
            (folder / "timestamp.txt").unlink(missing_ok=True)
            if when is not None:
                (folder / "timestamp.txt").write_text(f"{when} UTC")
        (submitted / CANVAS_ID / ASSIGNMENT / LMS_RECORD).write_text(LmsRecord(
            lms="canvas", student=CANVAS_ID, name="lovelaceada", timestamp="",
            time_from="the zip entry, dated when Canvas built the download",
            files={f"{ASSIGNMENT}.ipynb": f"lovelaceada_late_{CANVAS_ID}_7731_f1_tiny.ipynb"},
            late=True).to_json(), encoding="utf-8")
        for sample in submitted.glob("sample-*"):
            shutil.rmtree(sample)
        args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(notebooks)]
        # granted before ben is in the gradebook: grade applies it
        extend_status = main(["extend", ASSIGNMENT, "ben", "--days", "2", "--reason",
                              "ill, note from the doctor", *args])
        grade_status = main(["grade", ASSIGNMENT, "--jobs", "2", "--no-progress", *args])
        yield course, args, (extend_status, grade_status)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _stored(course: Course) -> dict[str, tuple[float, float | None]]:
    """student -> (score, nbgrader's stored penalty)."""
    with course.gradebook() as gb:
        return {s: (float(gb.find_submission(ASSIGNMENT, s).score),
                    gb.find_submission(ASSIGNMENT, s).late_submission_penalty)
                for s in HANDED_IN}


@pytest.mark.grading
def test_nbgrader_stores_the_policys_penalty(graded):
    """autograde ran our plugin: ann -20% of 5, ben on time (extension), cat past the
    cut-off 5, the Canvas student none (no time); the extension is nbgrader's."""
    course, _, statuses = graded
    assert statuses == (0, 0)
    assert _stored(course) == {"ann": (5.0, 1.0), "ben": (5.0, 0.0), "cat": (5.0, 5.0),
                               CANVAS_ID: (5.0, 0.0)}
    with course.gradebook() as gb:
        ben = gb.find_submission(ASSIGNMENT, "ben")
        assert ben.extension == timedelta(days=2) and ben.total_seconds_late == 0
        assert gb.find_submission(ASSIGNMENT, "ann").total_seconds_late == DAY + 3600
    # ben's extension made his submission row before his first grade: that grade is no regrade
    assert changes(course.db_url(), student="ben") == []


@pytest.mark.grading
def test_the_extension_is_logged_and_listed(graded, capsys):
    """extend --list prints who, when, what and why; a bad request writes nothing."""
    course, args, _ = graded
    (record,) = extensions(course.db_url())
    assert (record.assignment, record.student, record.minutes, record.reason, record.who) == (
        ASSIGNMENT, "ben", 2 * 24 * 60, "ill, note from the doctor", getpass.getuser())
    assert main(["extend", "--list", *args]) == 0
    assert capsys.readouterr().out.splitlines() == [record.line()]
    assert record.line().endswith(f"  {ASSIGNMENT}  ben  +2d  ill, note from the doctor")
    for argv, says in [
        (["extend", ASSIGNMENT, "ann", "--days", "1"], "--reason must say why (got nothing)"),
        (["extend", ASSIGNMENT, "ann", "--reason", "x"],
         "--days and --hours must be >= 0 and give more than 0 (got --days 0 --hours 0"),
        (["extend", "a9", "ann", "--days", "1", "--reason", "x"],
         "ASSIGNMENT must be released to the gradebook (got 'a9'; known: f1_tiny)"),
        (["extend", ASSIGNMENT, "ann", "--remove", "--reason", "x"],
         "extend --remove: ann has no extension for f1_tiny"),
        (["extend", ASSIGNMENT, "ben", "--remove", "--days", "1", "--reason", "x"],
         "give no --days or --hours (got --days 1 --hours 0)"),
        (["extend", ASSIGNMENT], "extend needs ASSIGNMENT STUDENT"),
    ]:
        assert main([*argv, *args]) == 1
        err = capsys.readouterr().err
        assert err.startswith("autograder extend: error: ") and says in err, err
    assert len(extensions(course.db_url())) == 1


@pytest.mark.grading
def test_grade_prints_how_late_and_the_penalty(graded, capfd):
    """The console table of a regrade: final/max, how late and the penalty."""
    course, args, _ = graded
    assert main(["grade", ASSIGNMENT, "-s", "ann", "-s", "ben", "--jobs", "2",
                 "--no-progress", *args]) == 0
    out = capfd.readouterr().out
    assert re.search(r"^ann\s+f1_tiny\s+graded\s+4/5 late 1d 1h -1\s", out, re.M), out
    assert re.search(r"^ben\s+f1_tiny\s+graded\s+5/5\s", out, re.M), out


@pytest.mark.grading
def test_report_export_and_feedback_carry_the_penalty_of_the_score_as_it_stands(
        graded, tmp_path, capsys):
    """After an override (ann 5 -> 4), the penalty is 20% of 4 in report, every export and
    the feedback page, while nbgrader's stored one stays 1 until a regrade; the Canvas
    student shows Canvas's mark and no penalty; an extension given now counts at once."""
    course, args, _ = graded
    assert main(["override", "ann", "f1-cube-test", "1", "--reason", "half the cube",
                 *args]) == 0
    assert _stored(course)["ann"] == (4.0, 1.0)

    table = gradebook_table(course)
    assert re.search(r"^ann\s+3\.2/5 late 1d 1h -0\.8\s+3\.2/5$", table, re.M), table
    assert re.search(r"^ben\s+5/5\s+5/5$", table, re.M), table
    assert re.search(r"^cat\s+0/5 late 3d 1s -5\s+0/5$", table, re.M), table
    assert re.search(rf"^{CANVAS_ID}\s+5/5 late\s+5/5$", table, re.M), table
    assert f"{ASSIGNMENT}: ann late 1d 1h, penalty -0.8 ({POLICY})" in table.splitlines()
    assert (f"{ASSIGNMENT}: {CANVAS_ID} late by Canvas's mark (no submission time: no penalty "
            "computed)") in table.splitlines()

    rows = {r.student: r for r in grade_rows(course)}
    assert {s: (r.score, r.penalty, r.final) for s, r in rows.items()} == {
        "ann": (4.0, 0.8, 3.2), "ben": (5.0, 0.0, 5.0), "cat": (5.0, 5.0, 0.0),
        CANVAS_ID: (5.0, 0.0, 5.0)}
    # the histogram draws the same final scores
    assert score_distribution(course) == {ASSIGNMENT: ([0.0, 3.2, 5.0, 5.0], 5.0)}

    (path,), _ = export(course, "csv", out=tmp_path / "grades.csv")
    with open(path, newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == CSV_COLUMNS
    by_id = _read_csv(path)
    ann, ben, canvas = by_id["ann"], by_id["ben"], by_id[CANVAS_ID]
    assert (ann["raw_score"], ann["late_submission_penalty"], ann["score"]) == ("4", "0.8", "3.2")
    assert (ann["student_duedate"], ann["seconds_late"], ann["late"], ann["late_policy"]) == (
        "2026-06-01 12:00:00", str(DAY + 3600), "late 1d 1h", POLICY)
    assert ann["note"].endswith(f"late 1d 1h, penalty -0.8 ({POLICY})")
    assert (ben["student_duedate"], ben["extension_hours"], ben["seconds_late"], ben["late"],
            ben["score"]) == ("2026-06-03 12:00:00", "48", "0", "on time", "5")
    assert (canvas["seconds_late"], canvas["late_submission_penalty"], canvas["score"]) == (
        "", "0", "5")
    assert canvas["late"].startswith("late by Canvas's mark")
    assert by_id["cat"]["score"] == "0"

    (canvas_csv,), _ = export(course, "canvas", out=tmp_path / "canvas.csv")
    assert {k: v[ASSIGNMENT] for k, v in _read_csv(canvas_csv).items() if k} == {
        "ann": "3.2", "ben": "5", "cat": "0", CANVAS_ID: "5"}
    (moodle,), _ = export(course, "moodle", out=tmp_path / "moodle.csv")
    with open(moodle, newline="", encoding="utf-8") as fh:
        sheet = {r["Identifier"]: r for r in csv.DictReader(fh)}
    assert sheet["Participant ann"]["Grade"] == "3.2"
    assert "late 1d 1h, penalty -0.8" in sheet["Participant ann"]["Status"]

    assert generate_feedback(course, ASSIGNMENT) == []
    pages = {s: (course.feedback_dir / s / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
             for s in HANDED_IN}
    assert (f"Submitted 2026-06-02 14:00 (Europe/London); due 2026-06-01 13:00 "
            f"(Europe/London); late 1d 1h; late penalty -0.8 ({POLICY}).") in pages["ann"]
    assert f"{ASSIGNMENT} (Score: 3.2 / 5.0)" in pages["ann"]
    assert "Late submission penalty (Score: -0.8)" in pages["ann"]
    assert ("due 2026-06-03 13:00 (Europe/London), with an extension of 2d; on time; "
            "no late penalty") in pages["ben"]
    assert f"{ASSIGNMENT} (Score: 0.0 / 5.0)" in pages["cat"]
    assert ("Submission time unknown; due 2026-06-01 13:00 (Europe/London); late by Canvas's "
            "mark (no submission time: no penalty computed)") in pages[CANVAS_ID]

    # an extension given after grading counts at once in report (and nbgrader's row has it)
    assert main(["extend", ASSIGNMENT, "ann", "--days", "1", "--hours", "2", "--reason",
                 "exchange was down", *args]) == 0
    assert capsys.readouterr().out.strip().endswith("ann  +1d 2h  exchange was down")
    assert re.search(r"^ann\s+4/5\s+4/5$", gradebook_table(course), re.M)
    assert main(["extend", ASSIGNMENT, "ann", "--remove", "--reason", "granted by mistake",
                 *args]) == 0
    assert [e.minutes for e in extensions(course.db_url(), ASSIGNMENT, "ann")] == [26 * 60, 0]
    assert re.search(r"^ann\s+3\.2/5 late 1d 1h -0\.8", gradebook_table(course), re.M)


def test_release_refuses_a_bad_due_date_before_releasing(tmp_path, restore_environ):
    """A bad c.Grading.due stops release with the setting named; nothing is released."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    assert main(["build", "--course-dir", str(course.course_dir), "--notebooks-dir",
                 str(FIXTURE_NOTEBOOKS)]) == 0
    with open(course.course_dir / CONFIG_NAME, "a") as fh:
        fh.write('\nc.Grading.due = {"f1_tiny": "2026-06-01 25:00"}\n')
    assert main(["release", "--course-dir", str(course.course_dir), "--notebooks-dir",
                 str(FIXTURE_NOTEBOOKS)]) == 1
    assert not (course.release_dir / ASSIGNMENT).exists()
    with pytest.raises(ValueError, match="grading setting due must map assignment names"):
        GradingConfig(due={"f1_tiny": 5})
