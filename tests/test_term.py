"""A term, scripted: one assignment (a3_minibatch, built from notebooks/) in a scratch course,
taken through the commands an instructor runs, in order, and every number of the exports
checked against what each submission must earn.

The course has a due date (in Europe/London) and a per-day late policy with a cut-off. The
class hands in through two LMSs. Canvas is downloaded twice: before the due date, then
after it (a late student added, a resubmission replacing the first copy, the rest kept).
Moodle is downloaded once, each notebook dated when it was submitted. The first round is
graded, then the second download's two students; one written answer is graded by hand (as
formgrader does it), one exercise is overridden.

The notebooks are the sample students of ``samples.py`` (solution, blank, buggy) and
variants made the same way: the solution with some of ``buggy.py``'s bugs, or with its
last exercise left as released. What each earns is known from how it was made: the test
cells' points in the source notebook, less what ``buggy.py`` says each bug loses, plus the
points given by hand and the override's change, less the policy's penalty for the time
each notebook was handed in. The gradebook is never read back for an expected value.

The class: two Canvas students with the same name (distinct user ids), and two Moodle ones;
renamed notebooks (``A3_Minibatch (1).ipynb``); a Canvas LATE mark (no time: no penalty); a
late Moodle submission, one past the cut-off and one late within an extension; a notebook
that cannot be read (failed: an empty score, never 0); an enrolled student who submitted
nothing (missing: empty too); two identical notebooks (the top pair of the similarity
report). Last, ``selfgrade`` checks that one of ``buggy.py``'s mistakes handed in alone
costs only what ``buggy.py`` says.
"""

from __future__ import annotations

import contextlib
import csv
import getpass
import html
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import nbformat
import pytest

from autograder.cli import main
from autograder.collect import LmsRecord
from autograder.course import Course
from autograder.export import CANVAS_COLUMNS, CSV_COLUMNS, MOODLE_COLUMNS
from autograder.samples import BuggySpec, buggy_path, load_buggy, write_samples

pytestmark = [pytest.mark.grading, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")]

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENT = "a3_minibatch"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"

DUE = "2026-10-06 17:00 Europe/London"
DUE_UTC = (datetime(2026, 10, 6, 17, 0, tzinfo=ZoneInfo("Europe/London"))
           .astimezone(timezone.utc).replace(tzinfo=None))
PERCENT_PER_DAY, CUTOFF_DAYS = 10.0, 7.0
CONFIG = f"""
c.Grading.due = {{"{ASSIGNMENT}": "{DUE}"}}
c.AssignLatePenalties.plugin_class = "autograder.late.LatePolicy"
c.LatePolicy.penalty_method = "per_day"
c.LatePolicy.percent = {PERCENT_PER_DAY}
c.LatePolicy.cutoff_days = {CUTOFF_DAYS}
"""
RULE = (f"{PERCENT_PER_DAY:g}% of the points off per day late (a part day counts as a day); "
        f"more than {CUTOFF_DAYS:g} day(s) late scores 0")
CANVAS_BEFORE = datetime(2026, 10, 6, 12, 0)  # the first Canvas download, before the due date
CANVAS_AFTER = datetime(2026, 10, 8, 9, 0)  # the second, after it
OVERRIDE = ("48214", "a3-mse-loss-test", 1.0, "the reduction argument was ambiguous")
BY_HAND = ("48213", 2.0)  # the written answer graded by hand: student, points
EXTENSION = ("880014", 2, "ill, note from the doctor")  # student, days, reason


@dataclass(frozen=True)
class Student:
    """One student of the term: where they hand in, what, and when (Moodle only)."""

    id: str
    name: str
    lms: str
    work: str  # a key of the notebooks _work makes, or "broken" or "none"
    file: str = NOTEBOOK  # the name of the file they uploaded
    late: bool = False  # Canvas's LATE mark: in the second download only
    when: datetime | None = None  # Moodle: when they submitted (the zip entry's date)


STUDENTS = [
    Student("48213", "lovelaceada", "canvas", "solution"),
    Student("48214", "leebo", "canvas", "buggy"),
    Student("48215", "leebo", "canvas", "blank"),  # another Bo Lee
    Student("48216", "hassanomar", "canvas", "unfinished", "A3_Minibatch (1).ipynb", late=True),
    Student("48217", "obriensiobhán", "canvas", "solution"),  # resubmitted: blank, then this
    Student("48218", "Ida Ng", "canvas", "none"),  # enrolled, submitted nothing
    Student("880012", "Dee Ray", "moodle", "last bug", when=datetime(2026, 10, 7, 21, 15)),
    Student("880013", "Dee Ray", "moodle", "broken", when=datetime(2026, 10, 6, 15, 0)),
    Student("880014", "Siobhán O'Brien", "moodle", "first bug", "A3_Minibatch (1).ipynb",
            when=datetime(2026, 10, 7, 10, 5)),  # late, within the extension
    Student("880015", "Eve Moss", "moodle", "middle bugs",  # past the cut-off: scores 0
            when=datetime(2026, 10, 18, 12, 31, 8)),
]
BY_ID = {s.id: s for s in STUDENTS}
FIRST_TRY = ("48217", "blank")  # in the first Canvas download
SECOND_ROUND = ("48216", "48217")  # graded after the second Canvas download


def _run(*argv) -> tuple[int, str, str]:
    """``python -m autograder *argv`` through the CLI's main: (status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, out.getvalue(), err.getvalue()


def _ok(*argv) -> str:
    status, out, err = _run(*argv)
    assert status == 0, f"{argv[0]} exited {status}\n{out}\n{err}"
    return out


def _cells(nb, key: str) -> dict[str, dict]:
    return {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells
            if c.metadata.get("nbgrader", {}).get(key)}


def _work(course: Course, spec: BuggySpec, scratch: Path
          ) -> tuple[dict[str, tuple[bytes, float]], dict[str, float], dict[str, float]]:
    """Each kind of notebook handed in: (its bytes, the autograded points it loses); the
    points of each test cell and of each written answer, from the source notebook.

    samples.py writes the solution, the blank and the buggy notebook; the variants are its
    buggy notebook with fewer of the bugs, and the solution with the last answer cell as
    released."""
    source = nbformat.read(course.source_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
    graded = {gid: (c.cell_type, float(c.metadata["nbgrader"]["points"]))
              for gid, c in _cells(source, "grade").items()}
    points = {gid: p for gid, (kind, p) in graded.items() if kind == "code"}
    written = {gid: p for gid, (kind, p) in graded.items() if kind == "markdown"}

    def samples(kind: str, bugs) -> dict[str, bytes]:
        folder = scratch / kind
        write_samples(course.source_dir / ASSIGNMENT, course.release_dir / ASSIGNMENT, folder,
                      BuggySpec(spec.path, tuple(bugs)))
        return {s: (folder / f"sample-{s}" / ASSIGNMENT / NOTEBOOK).read_bytes()
                for s in ("solution", "blank", "buggy")}

    def lost(bugs) -> float:
        return sum(v for bug in bugs for v in bug.loses.values())

    made = samples("all", spec.bugs)
    work = {"solution": (made["solution"], 0.0), "blank": (made["blank"], sum(points.values())),
            "buggy": (made["buggy"], lost(spec.bugs))}
    for kind, bugs in (("first bug", spec.bugs[:1]), ("middle bugs", spec.bugs[3:5]),
                       ("last bug", spec.bugs[-1:])):
        work[kind] = (samples(kind, bugs)["buggy"], lost(bugs))

    # the last exercise left as released: the test cells after its answer code lose all
    order = [c.metadata.get("nbgrader", {}) for c in source.cells]
    last = max(i for i, (c, m) in enumerate(zip(source.cells, order))
               if c.cell_type == "code" and m.get("solution") and m.get("grade_id"))
    gid = order[last]["grade_id"]
    unfinished = nbformat.reads(made["solution"].decode(), as_version=4)
    released = nbformat.read(course.release_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
    _cells(unfinished, "solution")[gid].source = _cells(released, "solution")[gid].source
    work["unfinished"] = (nbformat.writes(unfinished).encode(),
                          sum(points.get(m.get("grade_id"), 0.0) for m in order[last + 1:]))
    assert len({data for data, _ in work.values()}) == len(work), "two kinds are the same"
    return work, points, written


def _zip(path: Path, members: dict[str, tuple[bytes, datetime]]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, when) in members.items():
            zf.writestr(zipfile.ZipInfo(name, when.timetuple()[:6]), data)
    return path


def _canvas_name(s: Student, number: int) -> str:
    return f"{s.name}_{'late_' if s.late else ''}{s.id}_{900000 + number}_{s.file}"


def _moodle_name(s: Student) -> str:
    return f"{s.name}_{s.id}_assignsubmission_file_/{s.file}"


def _lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    """The term run through the command line; what the checks need."""
    saved = dict(os.environ)
    os.environ.pop("MINIGRAD_GRADEBOOK_URL", None)
    try:
        yield _term(tmp_path_factory.mktemp("term"))
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _grade_by_hand(course: Course, student: str, grade_id: str, points: float) -> None:
    """What formgrader does when a grader scores a written answer (its grade API handler):
    nbgrader's manual score, and nothing left to grade by hand."""
    with course.gradebook() as gb:
        grade = gb.find_grade(grade_id, ASSIGNMENT, ASSIGNMENT, student)
        grade.manual_score = points
        grade.needs_manual_grade = False
        gb.db.commit()


def _term(tmp: Path) -> dict:
    course_dir = tmp / "course"
    args = ["--course-dir", course_dir, "--notebooks-dir", NOTEBOOKS]

    # 1. build, then the due date and late policy in the course config, then release
    _ok("build", ASSIGNMENT, *args)
    course = Course.at(course_dir, NOTEBOOKS)
    with course.config_path.open("a", encoding="utf-8") as fh:
        fh.write(CONFIG)
    _ok("release", ASSIGNMENT, *args)
    spec = load_buggy(buggy_path(NOTEBOOKS, ASSIGNMENT))
    assert len(spec.bugs) >= 6, "the variants need six bugs in buggy.py"
    work, points, written = _work(course, spec, tmp / "samples")
    assert len(written) >= 1, f"{ASSIGNMENT} needs a written answer to grade by hand"

    def data(s: Student) -> bytes:
        return b'{"cells": [' if s.work == "broken" else work[s.work][0]

    # 2. the downloads
    canvas = [s for s in STUDENTS if s.lms == "canvas" and s.work != "none"]
    first = _zip(tmp / "canvas-1.zip", {
        _canvas_name(s, n): (work[FIRST_TRY[1]][0] if s.id == FIRST_TRY[0] else data(s),
                             CANVAS_BEFORE)
        for n, s in enumerate(canvas) if not s.late})
    second = _zip(tmp / "canvas-2.zip", {  # the resubmission is a new Canvas file
        _canvas_name(s, n + (10 if s.id == FIRST_TRY[0] else 0)): (data(s), CANVAS_AFTER)
        for n, s in enumerate(canvas)})
    moodle = _zip(tmp / "moodle.zip", {_moodle_name(s): (data(s), s.when)
                                       for s in STUDENTS if s.lms == "moodle"})

    # 3. collect the first Canvas download and Moodle's; the roster's student who handed in
    # nothing; an extension; grade
    collected = {"canvas-1": _lines(_ok("collect", ASSIGNMENT, first, *args)),
                 "moodle": _lines(_ok("collect", ASSIGNMENT, moodle, *args))}
    with course.gradebook() as gb:
        first_name, last_name = BY_ID["48218"].name.split()
        gb.update_or_create_student("48218", first_name=first_name, last_name=last_name)
    student, days, reason = EXTENSION
    _ok("extend", ASSIGNMENT, student, "--days", days, "--reason", reason, *args)
    status, out, err = _run("grade", ASSIGNMENT, "--jobs", 2, "--no-progress", *args)
    assert status == 1, out + err  # 880013's notebook cannot be read
    assert re.findall(r"^failed: (.*?):", err, re.M) == [f"880013/{ASSIGNMENT}"], err
    graded = {"first": (out, err)}

    # the second Canvas download: only the late student and the resubmission are graded
    kept = {s.id: (course.submitted_dir / s.id / ASSIGNMENT / "lms.json").read_bytes()
            for s in canvas if s.id not in SECOND_ROUND}
    collected["canvas-2"] = _lines(_ok("collect", ASSIGNMENT, second, *args))
    graded["second"] = _ok("grade", ASSIGNMENT, *(a for s in SECOND_ROUND for a in ("-s", s)),
                           "--jobs", 2, "--no-progress", *args)

    # a written answer graded by hand, and an override with its reason
    _grade_by_hand(course, BY_HAND[0], next(iter(written)), BY_HAND[1])
    student, grade_id, new, reason = OVERRIDE
    _ok("override", student, grade_id, new, "--reason", reason, *args)

    # 4. the report, the exports, the log, and similarity
    reports = course.reports_dir
    report = _ok("report", *args)
    exports = {fmt: _ok("export", "--format", fmt, *args) for fmt in ("canvas", "moodle", "csv")}
    return dict(course=course, work=work, points=points, written=written, spec=spec,
                collected=collected, kept=kept, graded=graded, report=report, exports=exports,
                log=_ok("override", "--list", *args),
                similarity=_ok("similarity", ASSIGNMENT, *args),
                files={"canvas": reports / "canvas.csv",
                       "moodle": reports / f"moodle-{ASSIGNMENT}.csv",
                       "csv": reports / "grades.csv",
                       "similarity": reports / f"similarity-{ASSIGNMENT}.html"})


# --- what each student must get, from how the term was made --------------------------------


def _total(term) -> float:
    return sum(term["points"].values()) + sum(term["written"].values())


def _canvas_mark(s: Student) -> str:
    return (f"{'late' if s.late else 'on time'} by Canvas's mark (no submission time: no "
            "penalty computed)")


def _late(s: Student) -> tuple[timedelta, float | None]:
    """(the student's extension, seconds late); None when the LMS gave no time."""
    extension = timedelta(days=EXTENSION[1]) if s.id == EXTENSION[0] else timedelta(0)
    if s.when is None:
        return extension, None
    return extension, max(0.0, (s.when - DUE_UTC - extension).total_seconds())


def _duration(seconds: float) -> str:
    """'1d 5h': the two largest of days, hours, minutes and seconds that are not 0."""
    left, parts = int(seconds), []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, left = divmod(left, size)
        if count:
            parts.append(f"{count}{unit}")
    return " ".join(parts[:2])


def _penalty(score: float, top: float, seconds: float | None) -> float:
    """The course's policy: PERCENT_PER_DAY of the points per day or part of one, all of the
    score after CUTOFF_DAYS, never more than the score."""
    if not seconds:
        return 0.0
    if seconds > CUTOFF_DAYS * 86400:
        return score
    return min(score, top * PERCENT_PER_DAY / 100 * math.ceil(seconds / 86400))


def _expected(term) -> dict[str, dict]:
    """student id -> status, raw score (before the penalty), penalty, final score, note."""
    total, points = _total(term), term["points"]
    out = {}
    for s in STUDENTS:
        if s.work == "none":
            out[s.id] = dict(status="missing", raw=None, penalty=None, final=None,
                             note="nothing submitted")
            continue
        if s.work == "broken":
            out[s.id] = dict(status="failed", raw=None, penalty=None, final=None, note=None)
            continue
        raw = sum(points.values()) - term["work"][s.work][1]
        notes = []
        if s.id == OVERRIDE[0]:
            _, grade_id, new, reason = OVERRIDE
            scored = points[grade_id] - term["spec"].loses.get(grade_id, 0.0)
            raw += new - scored
            notes.append(f"override {grade_id} {new:g}/{points[grade_id]:g}: {reason}")
        if s.id == BY_HAND[0]:
            raw += BY_HAND[1]
        elif s.work != "blank":
            notes.append("answers to grade by hand")
        _, seconds = _late(s)
        penalty = _penalty(raw, total, seconds)
        if s.lms == "canvas":
            notes.append(_canvas_mark(s))
        elif seconds:
            notes.append(f"late {_duration(seconds)}, penalty -{penalty:g} ({RULE})")
        out[s.id] = dict(status="graded", raw=raw, penalty=penalty, final=raw - penalty,
                         note="; ".join(notes))
    return out


def _number(text: str) -> float | None:
    return None if text == "" else float(text)


def _same(got: str, want: float | None) -> bool:
    value = _number(got)
    return value is None if want is None else value is not None and math.isclose(value, want)


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


# --- the checks ------------------------------------------------------------------------------


def test_collect_places_each_student_under_their_lms_id(term):
    """The second Canvas download adds the late student, replaces only the resubmission and
    keeps the rest unchanged; renamed notebooks and same-name students are placed under
    their own ids; Moodle's with the time each notebook was submitted."""
    course = term["course"]
    first = term["collected"]["canvas-1"]
    assert first[-1].startswith("4 added, 0 replaced, 0 kept, 0 rejected"), first
    assert [line.split(":")[0] for line in first[:-1]] == [
        "48213 (lovelaceada)", "48214 (leebo)", "48215 (leebo)", "48217 (obriensiobhán)"]
    second = term["collected"]["canvas-2"]
    assert second[-1].startswith("1 added, 1 replaced, 3 kept, 0 rejected"), second
    lines = {line.split(" ", 1)[0]: line for line in second[:-1]}
    assert lines["48216"] == ("48216 (hassanomar): a3_minibatch.ipynb, downloaded "
                              f"{CANVAS_AFTER} UTC, LATE (added)")
    assert lines["48217"] == (f"48217 (obriensiobhán): a3_minibatch.ipynb, downloaded "
                              f"{CANVAS_AFTER} UTC (replaced: the copy of {CANVAS_BEFORE} UTC)")
    for student, before in term["kept"].items():
        assert "(kept: the same notebooks are already collected)" in lines[student]
        assert (course.submitted_dir / student / ASSIGNMENT / "lms.json").read_bytes() == before
    moodle = term["collected"]["moodle"]
    assert moodle[-1].startswith("4 added, 0 replaced, 0 kept, 0 rejected"), moodle
    for s in STUDENTS:
        folder = course.submitted_dir / s.id / ASSIGNMENT
        if s.work == "none":
            assert not folder.exists()
            continue
        record = LmsRecord.read(folder)
        assert (record.lms, record.student, record.name) == (s.lms, s.id, s.name)
        assert list(record.files) == [NOTEBOOK] and record.files[NOTEBOOK].endswith(s.file)
        if s.lms == "moodle":
            assert record.timestamp == str(s.when)
            assert (folder / "timestamp.txt").read_text() == str(s.when)
        else:
            assert record.late is s.late and not (folder / "timestamp.txt").exists()
        if s.work != "broken":
            assert (folder / NOTEBOOK).read_bytes() == term["work"][s.work][0]


def test_grade_grades_only_the_second_download(term):
    """The second grade runs the late student and the resubmission only; a new submission
    is not a regrade, so nothing of theirs is in the log of grade changes, which ends with
    the override: who, the points before and after, and why."""
    out = term["graded"]["second"]
    assert re.search(r"^grade: 2 graded", out, re.M), out
    assert not [line for line in out.splitlines() if line.startswith("changed: ")], out
    log = term["log"].splitlines()
    assert not [line for line in log if re.search(rf"\s({'|'.join(SECOND_ROUND)})\s", line)]
    student, grade_id, new, reason = OVERRIDE
    lost = term["spec"].loses[grade_id]
    assert [line for line in log if " override " in line] == log[-1:]
    assert re.search(rf"\s{getpass.getuser()}\s+override\s+{student}\s+{ASSIGNMENT}\s+"
                     rf"{grade_id}\s+{term['points'][grade_id] - lost:g} -> {new:g}/"
                     rf"{term['points'][grade_id]:g}\s+{reason}$", log[-1]), log


def test_grade_shows_the_late_scores(term):
    """grade's table gives a late student's final score with how late and the penalty (the
    Moodle one), or Canvas's late mark (no time, no penalty)."""
    expected, total = _expected(term), _total(term)
    first, _ = term["graded"]["first"]
    _, seconds = _late(BY_ID["880012"])
    want = expected["880012"]
    assert (f"{want['final']:g}/{total:g} late {_duration(seconds)} -{want['penalty']:g}"
            in first), first
    assert not re.search(r"^880014\b.* late", first, re.M), first  # within the extension
    second = term["graded"]["second"]
    assert re.search(rf"^\s*48216\s.*\s{expected['48216']['final']:g}/{total:g} late\s",
                     second, re.M), second


def test_grade_shows_no_late_question_for_canvas_on_time(term):
    """A Canvas submission has no time, but Canvas marked it on time: no 'late?' after its
    score in grade's table."""
    second = term["graded"]["second"]
    final = _expected(term)["48217"]["final"]
    found = re.search(rf"^\s*48217\s.*\s{final:g}/{_total(term):g}( late\S*)?\s", second,
                      re.M)
    assert found and found[1] is None, second


def test_report_gradebook_shows_final_scores_lateness_and_who_is_not_graded(term):
    """report's gradebook: each student's final score with how late and the penalty (or
    Canvas's mark), '*' while a written answer waits to be graded by hand, 'missing' and
    'failed' with no total; and how many students wait for a grader."""
    expected, total = _expected(term), _total(term)
    rows = {}
    for line in term["report"].splitlines():
        found = re.fullmatch(r"\s*(\d+)\s{2}(.+?)\s{2,}(\S+)\s*", line)
        if found and found[1] in BY_ID:
            rows[found[1]] = (found[2], found[3])
    want = {}
    for s in STUDENTS:
        w = expected[s.id]
        if w["raw"] is None:
            want[s.id] = (w["status"], "-")
            continue
        _, seconds = _late(s)
        mark = (f" late {_duration(seconds)}" if seconds else " late" if s.late else "")
        mark += f" -{w['penalty']:g}" if w["penalty"] else ""
        pending = " *" if "answers to grade by hand" in w["note"] else ""
        want[s.id] = (f"{w['final']:g}/{total:g}{mark}{pending}", f"{w['final']:g}/{total:g}")
    assert rows == want, term["report"]
    waiting = sum("answers to grade by hand" in (w["note"] or "") for w in expected.values())
    assert f"{ASSIGNMENT}: {waiting} student(s) with answers to grade by hand" in term["report"]


@pytest.mark.parametrize("fmt", ["canvas", "moodle", "csv"])
def test_export_names_the_students_not_graded(term, fmt):
    """Each export prints the failed and the missing student and counts every status."""
    expected = _expected(term)
    printed = term["exports"][fmt].splitlines()
    assert [line for line in printed if line.startswith(f"{ASSIGNMENT}: ")] == [
        f"{ASSIGNMENT}: 48218 missing (nothing submitted)",
        f"{ASSIGNMENT}: 880013 failed (the scan refused it: broken: a3_minibatch.ipynb: "
        "truncated JSON (Expecting value; line 1, column 12))"]
    counts = {k: sum(w["status"] == k for w in expected.values())
              for k in ("graded", "flagged", "failed", "missing")}
    assert printed[-1].startswith(", ".join(f"{n} {k}" for k, n in counts.items()) + "; wrote ")


def test_canvas_export_numbers(term):
    """canvas.csv: Canvas's columns, the points possible, and each student's final score
    (empty for the failed and the missing student), under their Canvas id and name."""
    rows = _read(term["files"]["canvas"])
    assert rows[0] == CANVAS_COLUMNS + [ASSIGNMENT]
    assert rows[1][:5] == ["    Points Possible", "", "", "", ""]
    assert _same(rows[1][5], _total(term))
    expected = _expected(term)
    assert [r[1] for r in rows[2:]] == sorted(expected)
    for row in rows[2:]:
        student, want = BY_ID[row[1]], expected[row[1]]
        assert row[0] == student.name and row[2:5] == ["", "", ""], row
        assert _same(row[5], want["final"]), (row, want)
    printed = term["exports"]["canvas"]
    assert ("5 student(s) not collected from Canvas, written with their gradebook id: "
            "48218, 880012, 880013, 880014, 880015") in printed  # 48218 handed in nothing


def test_moodle_export_numbers(term):
    """moodle-a3_minibatch.csv: Participant ids, the final score (empty when not graded),
    the maximum grade, the status with its note, and when it was written."""
    rows = _read(term["files"]["moodle"])
    assert rows[0] == MOODLE_COLUMNS
    expected = _expected(term)
    assert [r[0] for r in rows[1:]] == [f"Participant {s}" for s in sorted(expected)]
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    for row in rows[1:]:
        got = dict(zip(MOODLE_COLUMNS, row))
        student = BY_ID[got["Identifier"].removeprefix("Participant ")]
        want = expected[student.id]
        assert (got["Full name"], got["Email address"]) == (student.name, ""), row
        assert got["Status"].split(":")[0] == want["status"], row
        assert _same(got["Grade"], want["final"]), (row, want)
        assert _same(got["Maximum Grade"], _total(term)), row
        written = datetime.strptime(got["Last modified (grade)"], "%Y-%m-%d %H:%M:%S UTC")
        assert now - timedelta(minutes=30) <= written <= now, row
    status = {r[0]: r[3] for r in rows[1:]}
    assert status["Participant 880013"].startswith("failed: the scan refused it: broken:")


def test_csv_export_numbers(term):
    """grades.csv: for every student, raw score, late penalty, final score and maximum as
    constructed; the due date and the submission time; names, LMS and status."""
    rows = _read(term["files"]["csv"])
    assert rows[0] == CSV_COLUMNS
    expected = _expected(term)
    assert [r[3] for r in rows[1:]] == sorted(expected)
    for row in rows[1:]:
        got = dict(zip(CSV_COLUMNS, row))
        student, want = BY_ID[got["student_id"]], expected[got["student_id"]]
        graded = want["raw"] is not None
        assert (got["assignment"], got["duedate"]) == (ASSIGNMENT, str(DUE_UTC)), row
        assert got["timestamp"] == (str(student.when) if student.when and graded else ""), row
        assert _same(got["raw_score"], want["raw"]), (row, want)
        assert _same(got["late_submission_penalty"], want["penalty"]), (row, want)
        assert _same(got["score"], want["final"]), (row, want)
        assert _same(got["max_score"], _total(term)), row
        assert got["status"] == want["status"], row
        assert got["lms"] == ("" if student.work == "none" else student.lms), row
        assert got["name"] == student.name, row
        missing = student.work == "none"
        assert (got["first_name"], got["last_name"]) == (
            tuple(student.name.split()) if missing else ("", "")), row


def test_csv_lateness_columns(term):
    """grades.csv's lateness: each graded student's due date with the extension, the
    extension in hours, the seconds late (empty where Canvas gave no time), the lateness in
    words and the policy; nothing for the students not graded."""
    rows = _read(term["files"]["csv"])
    expected = _expected(term)
    for row in rows[1:]:
        got = dict(zip(CSV_COLUMNS, row))
        student = BY_ID[got["student_id"]]
        late = [got[c] for c in CSV_COLUMNS[-5:]]
        if expected[student.id]["raw"] is None:
            assert late == ["", "", "", "", ""], row
            continue
        extension, seconds = _late(student)
        assert got["student_duedate"] == str(DUE_UTC + extension), row
        assert _same(got["extension_hours"], extension.total_seconds() / 3600 or None), row
        assert got["late"] == (_canvas_mark(student) if seconds is None else
                               f"late {_duration(seconds)}" if seconds else "on time"), row
        assert got["late_policy"] == RULE, row
        assert _same(got["seconds_late"], seconds), row


def test_export_notes_say_what_changed_each_grade(term):
    """The csv's note and Moodle's status say, per student: the override with its reason,
    the written answers still to grade by hand, the lateness and its penalty by the policy
    (Canvas's own mark where Canvas gave no time); the failed student's says why."""
    expected = _expected(term)
    notes = {r[3]: r[CSV_COLUMNS.index("note")] for r in _read(term["files"]["csv"])[1:]}
    status = {r[0].removeprefix("Participant "): r[3]
              for r in _read(term["files"]["moodle"])[1:]}
    assert notes["880013"].startswith("the scan refused it: broken: a3_minibatch.ipynb: ")
    assert status["880013"] == f"failed: {notes['880013']}"
    assert len(term["log"].splitlines()) == 1  # the override
    want = {s: w["note"] for s, w in expected.items() if w["note"] is not None}
    assert {s: notes[s] for s in want} == want
    assert {s: status[s] for s in want} == {
        s: f"{expected[s]['status']}: {note}" if note else expected[s]["status"]
        for s, note in want.items()}


def test_one_mistake_costs_points_once(term, tmp_path):
    """The solution with buggy.py's affine_backward mistake alone, graded by `selfgrade`,
    loses only what buggy.py says that mistake loses (a later exercise calling
    affine_backward keeps its points)."""
    course, spec, points = term["course"], term["spec"], term["points"]
    [bug] = [b for b in spec.bugs if "a3-affine-backward" in b.cells]
    write_samples(course.source_dir / ASSIGNMENT, course.release_dir / ASSIGNMENT, tmp_path,
                  BuggySpec(spec.path, (bug,)))
    notebook = tmp_path / "sample-buggy" / ASSIGNMENT / NOTEBOOK
    out = _ok("selfgrade", notebook, "--assignment", ASSIGNMENT, "--notebooks-dir", NOTEBOOKS)
    found = re.search(r"^total: (\S+) / (\S+)", out, re.M)
    assert found, out
    assert (float(found[1]), float(found[2])) == (
        sum(points.values()) - sum(bug.loses.values()), sum(points.values())), out


def test_similarity_puts_the_identical_notebooks_on_top(term):
    """The two students who handed in the same notebook are the first pair, each 100%
    matched, in the printed list and at the top of the HTML report."""
    printed = term["similarity"]
    assert "not compared: 48218: no submission" in printed
    assert re.search(r"^not compared: 880013 \(Dee Ray\): a3_minibatch\.ipynb: truncated JSON",
                     printed, re.M)
    pairs = re.findall(r"^\s+(\d+)%\s+(.+?) and (.+?)\s+\((\d+)% of .*, (\d+)% of",
                       printed, re.M)
    assert pairs[0] == ("100", "48213 (lovelaceada)", "48217 (obriensiobhán)", "100", "100"), \
        printed
    page = term["files"]["similarity"].read_text(encoding="utf-8")
    first = re.search(r"<tr><td><a href='#pair-1'>([^<]*)</a></td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert first and [html.unescape(g) for g in first.groups()] == [
        "100%", "48213 (lovelaceada)", "100%", "48217 (obriensiobhán)", "100%"], page[:2000]
