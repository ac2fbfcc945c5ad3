"""Overrides: `override STUDENT EXERCISE POINTS --reason ...` sets one exercise's points as
nbgrader's manual score; the gradebook total, the csv export and the feedback page show it,
the log says who, when, old, new and why, bad inputs write nothing, and a regrade keeps it.
nbgrader runs for real on the tiny fixture assignment."""

from __future__ import annotations

import csv
import getpass
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from autograder.changes import ChangeKind, changes, override
from autograder.cli import main
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError
from autograder.export import export
from autograder.feedback import generate_feedback
from autograder.grading import grade
from autograder.pipeline import prepare_assignments
from autograder.report import gradebook_table

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
CONFIG = GradingConfig(jobs=2, progress=False)


@pytest.fixture
def course(tmp_path, restore_environ) -> Course:
    """The fixture assignment released and graded: ada submitted the solution (5/5), cy the
    blank notebook (0/5)."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    course = Course.create(tmp_path / "course", notebooks)
    checks = prepare_assignments(course, [ASSIGNMENT], say=lambda _: None, force_release=True)
    assert not checks[ASSIGNMENT].problems
    for student, sample in (("ada", "solution"), ("cy", "blank")):
        shutil.copytree(course.submitted_dir / f"sample-{sample}", course.submitted_dir / student)
    outcomes = grade(course, [ASSIGNMENT], ["ada", "cy"], config=CONFIG)
    assert [(o.task.student, o.score) for o in outcomes] == [("ada", 5.0), ("cy", 0.0)]
    return course


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _score(course: Course, student: str) -> float:
    with course.gradebook() as gb:
        return float(gb.find_submission(ASSIGNMENT, student).score)


def _csv_row(course: Course, student: str) -> dict[str, str]:
    (path,), _ = export(course, "csv", [ASSIGNMENT])
    with open(path, newline="", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["student_id"] == student)


@pytest.mark.grading
def test_an_override_reaches_the_total_the_export_and_the_feedback_and_survives_a_regrade(
        course, capsys):
    """cy's f1-cube-test 0 -> 1.5: total 1.5, csv score and note, feedback page 1.5 / 2, a
    log entry with who/when/old/new/why; regrading cy keeps 1.5."""
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(course.notebooks_dir)]
    before = _utc_now().replace(microsecond=0)
    assert main(["override", "cy", "f1-cube-test", "1.5", "--reason", "right idea, sign slip",
                 *args]) == 0
    assert "cy f1_tiny f1-cube-test: 0 -> 1.5/2 (right idea, sign slip)" in \
        capsys.readouterr().out
    assert _score(course, "cy") == 1.5
    assert _score(course, "ada") == 5.0

    row = _csv_row(course, "cy")
    assert (row["score"], row["max_score"], row["status"]) == ("1.5", "5", "graded")
    assert row["note"] == "override f1-cube-test 1.5/2: right idea, sign slip"
    assert _csv_row(course, "ada")["note"] == ""

    assert generate_feedback(course, ASSIGNMENT, "cy") == []
    page = (course.feedback_dir / "cy" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert re.search(r'href="#f1-cube-test">[^<]*</a> \(Score: 1\.5 / 2\.0\)', page), page
    assert f"{ASSIGNMENT} (Score: 1.5 / 5.0)" in page
    assert "Points set by the instructor: 0 -&gt; 1.5 / 2.</strong> right idea, sign slip" in page
    assert page.index("Points set by the instructor") > page.index('name="f1-cube-test"')

    (record,) = changes(course.db_url())
    assert (record.kind, record.student, record.assignment, record.grade_id, record.old,
            record.new, record.max_score, record.reason, record.who) == (
        ChangeKind.OVERRIDE, "cy", ASSIGNMENT, "f1-cube-test", 0.0, 1.5, 2.0,
        "right idea, sign slip", getpass.getuser())
    assert before <= record.at <= _utc_now() + timedelta(seconds=1)
    assert main(["override", "--list", "cy", *args]) == 0
    assert capsys.readouterr().out.splitlines() == [record.line()]
    assert main(["override", "--list", "ada", *args]) == 0
    assert capsys.readouterr().out == ""

    (again,) = grade(course, [ASSIGNMENT], ["cy"], config=CONFIG)
    assert again.task.student == "cy"
    assert _score(course, "cy") == 1.5
    table = gradebook_table(course)
    assert re.search(r"^cy\s+1\.5/5\s+1\.5/5$", table, re.M), table  # no "*": nothing to grade
    assert _csv_row(course, "cy")["note"] == "override f1-cube-test 1.5/2: right idea, sign slip"
    assert generate_feedback(course, ASSIGNMENT) == []
    pages = {s: (course.feedback_dir / s / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
             for s in ("ada", "cy")}
    assert f"{ASSIGNMENT} (Score: 1.5 / 5.0)" in pages["cy"]
    assert "Points set by the instructor" in pages["cy"]
    assert "Points set by the instructor" not in pages["ada"]

    second = override(course, "cy", "f1-cube-test", 2, "regrade request accepted")
    assert (second.old, second.new) == (1.5, 2.0)
    assert _score(course, "cy") == 2.0
    assert [r.new for r in changes(course.db_url(), "cy")] == [1.5, 2.0]
    assert _csv_row(course, "cy")["note"] == ("override f1-cube-test 1.5/2: right idea, sign "
                                              "slip; override f1-cube-test 2/2: regrade request "
                                              "accepted")


@pytest.mark.grading
@pytest.mark.parametrize(("student", "exercise", "points", "reason", "says"), [
    ("zed", "f1-cube-test", 1, "why", "student 'zed' is not in the gradebook"),
    ("cy", "f1-cube", 1, "why", "grade id of any assignment (got 'f1-cube'; known: "
                                "f1-cube-grad-test, f1-cube-test)"),
    ("cy", "f1-cube-test", 3, "why", "points must be between 0 and 2 for f1-cube-test (got 3)"),
    ("cy", "f1-cube-test", -1, "why", "between 0 and 2 for f1-cube-test (got -1)"),
    ("cy", "f1-cube-test", 1, "  ", "--reason must say why the points change (got nothing)"),
])
def test_bad_inputs_are_refused_and_nothing_is_written(course, student, exercise, points,
                                                       reason, says):
    """A wrong student, exercise, points or an empty reason: an error naming it; the score and
    the log are unchanged."""
    with pytest.raises(PipelineError, match=re.escape(says)):
        override(course, student, exercise, points, reason)
    assert _score(course, "cy") == 0.0
    assert changes(course.db_url()) == []


@pytest.mark.grading
def test_the_command_needs_its_arguments_and_a_known_assignment(course, capsys):
    """Without POINTS the command says what it needs; an unknown --assignment is refused."""
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(course.notebooks_dir)]
    assert main(["override", "cy", "f1-cube-test", *args]) == 1
    assert "override needs STUDENT EXERCISE POINTS and --reason" in capsys.readouterr().err
    assert main(["override", "cy", "f1-cube-test", "1", "--reason", "x", "--assignment", "a9",
                 *args]) == 1
    assert "grade id of assignment 'a9'" in capsys.readouterr().err
    assert changes(course.db_url()) == []


def _lms_rows(path: Path, key: str) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {r[key]: r for r in csv.DictReader(fh)}


@pytest.mark.grading
def test_an_override_reaches_the_canvas_and_moodle_files(course):
    """cy's f1-cube-test set to 1.5: Canvas's column of the assignment and Moodle's Grade say
    1.5 for cy (ada keeps 5), Moodle's Status gives the override and its reason."""
    override(course, "cy", "f1-cube-test", 1.5, "right idea, sign slip")
    (canvas,), _ = export(course, "canvas", [ASSIGNMENT])
    rows = _lms_rows(canvas, "ID")
    assert (rows["cy"][ASSIGNMENT], rows["ada"][ASSIGNMENT]) == ("1.5", "5")
    assert next(iter(rows.values()))[ASSIGNMENT] == "5"  # the Points Possible row
    (moodle,), _ = export(course, "moodle", [ASSIGNMENT])
    rows = _lms_rows(moodle, "Identifier")
    assert (rows["Participant cy"]["Grade"], rows["Participant cy"]["Maximum Grade"],
            rows["Participant ada"]["Grade"]) == ("1.5", "5", "5")
    assert rows["Participant cy"]["Status"] == (
        "graded: override f1-cube-test 1.5/2: right idea, sign slip")


def test_overrides_logged_before_regrades_were_are_read(tmp_path):
    """A gradebook whose overrides are in the table grade_overrides (no kind column) reads
    them as overrides, merged by time with the grade_changes log; reading creates nothing."""
    from sqlalchemy import create_engine, inspect

    from autograder import changes as log
    from autograder.sidetable import open_table

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert changes(url) == []
    assert not inspect(create_engine(url)).has_table(log.TABLE)
    row = dict(student="cy", assignment=ASSIGNMENT, grade_id="f1-cube-test", old=0.0, new=1.5,
               max_score=2.0, reason="old log", who="ta")
    with open_table(url, log._old_table) as (engine, table), engine.begin() as conn:
        conn.execute(table.insert(), [{**row, "at": datetime(2026, 10, 1, 9)}])
    with open_table(url, log._table) as (engine, table), engine.begin() as conn:
        conn.execute(table.insert(), [
            {**row, "at": datetime(2026, 10, 3, 9), "kind": "regrade", "old": 1.5, "new": 2.0,
             "reason": "new log"},
            {**row, "at": datetime(2026, 10, 2, 9), "kind": "override", "student": "ada"}])
    assert [(c.kind, c.student, c.reason, c.at.day) for c in changes(url)] == [
        (ChangeKind.OVERRIDE, "cy", "old log", 1), (ChangeKind.OVERRIDE, "ada", "old log", 2),
        (ChangeKind.REGRADE, "cy", "new log", 3)]
    assert [c.reason for c in changes(url, "cy")] == ["old log", "new log"]
