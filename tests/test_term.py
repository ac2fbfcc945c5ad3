"""A term, scripted: one assignment (a3_minibatch, built from notebooks/) in a scratch course,
taken through the commands an instructor runs, in order, and every number of the exports
checked against what each submission must earn.

The class hands in through two LMSs. Canvas is downloaded twice: before the due date, then
after it (a late student added, a resubmission replacing the first copy, the rest kept).
Moodle is downloaded once, with each notebook dated when it was submitted. The notebooks are
the sample students of ``samples.py`` (solution, blank, buggy) and variants made the same
way: the solution with some of ``buggy.py``'s bugs, or with its last exercise left as
released. What each earns is known from how it was made: the test cells' points in the
source notebook less what ``buggy.py`` says each bug loses, plus the override's change. The
gradebook is never read back for an expected value.

The class: two Canvas students with the same name (and distinct user ids), a renamed notebook
(``A3_Minibatch (1).ipynb``), a Canvas LATE mark, a late Moodle submission, a notebook that
cannot be read (failed: an empty score, never 0), an enrolled student who submitted nothing
(missing: empty too), and two identical notebooks (the top pair of the similarity report).
"""

from __future__ import annotations

import contextlib
import csv
import html
import io
import math
import os
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

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

CANVAS_BEFORE = datetime(2026, 10, 5, 18, 0)  # the first Canvas download, before the due date
CANVAS_AFTER = datetime(2026, 10, 8, 9, 0)  # the second, after it
OVERRIDE = ("48214", "a3-mse-loss-test", 1.0, "the reduction argument was ambiguous")


@dataclass(frozen=True)
class Student:
    """One student of the term: where they hand in, what, and when (Moodle only)."""

    id: str
    name: str
    lms: str
    work: str  # a key of the notebooks _work makes, or "broken" or "none"
    file: str = NOTEBOOK  # the name of the file they uploaded
    late: bool = False  # Canvas's LATE mark
    when: datetime | None = None  # Moodle: when they submitted (the zip entry's date)


STUDENTS = [
    Student("48213", "lovelaceada", "canvas", "solution"),
    Student("48214", "leebo", "canvas", "buggy"),
    Student("48215", "leebo", "canvas", "blank"),  # another Bo Lee
    Student("48216", "hassanomar", "canvas", "unfinished", "A3_Minibatch (1).ipynb", late=True),
    Student("48217", "obriensiobhán", "canvas", "solution"),  # resubmitted: blank, then this
    Student("48218", "Ida Ng", "canvas", "none"),  # enrolled, submitted nothing
    Student("880011", "Chen Wei", "moodle", "middle bugs", when=datetime(2026, 10, 4, 16, 30)),
    Student("880012", "Dee Ray", "moodle", "last bug", when=datetime(2026, 10, 7, 11, 15)),
    Student("880013", "Chen Wei", "moodle", "broken", when=datetime(2026, 10, 5, 23, 0)),
    Student("880014", "Siobhán O'Brien", "moodle", "first bug", "A3_Minibatch (1).ipynb",
            when=datetime(2026, 10, 5, 21, 5)),
]
BY_ID = {s.id: s for s in STUDENTS}
FIRST_TRY = ("48217", "blank")  # in the first Canvas download


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
          ) -> tuple[dict[str, tuple[bytes, float]], dict[str, float]]:
    """Each kind of notebook handed in: (its bytes, the autograded points it loses); and the
    points of each test cell, from the source notebook.

    samples.py writes the solution, the blank and the buggy notebook; the variants are its
    buggy notebook with fewer of the bugs, and the solution with the last answer cell as
    released."""
    source = nbformat.read(course.source_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
    points = {gid: float(c.metadata["nbgrader"]["points"])
              for gid, c in _cells(source, "grade").items()
              if not c.metadata["nbgrader"].get("solution")}

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
    for kind, bugs in (("first bug", spec.bugs[:1]), ("middle bugs", spec.bugs[1:3]),
                       ("last bug", spec.bugs[-1:])):
        work[kind] = (samples(kind, bugs)["buggy"], lost(bugs))

    # the last exercise left as released: the test cells after its answer cell lose all
    order = [c.metadata.get("nbgrader", {}) for c in source.cells]
    last = max(i for i, m in enumerate(order) if m.get("solution") and m.get("grade_id"))
    gid = order[last]["grade_id"]
    unfinished = nbformat.reads(made["solution"].decode(), as_version=4)
    released = nbformat.read(course.release_dir / ASSIGNMENT / NOTEBOOK, as_version=4)
    _cells(unfinished, "solution")[gid].source = _cells(released, "solution")[gid].source
    work["unfinished"] = (nbformat.writes(unfinished).encode(),
                          sum(points.get(m.get("grade_id"), 0.0) for m in order[last + 1:]))
    assert len({data for data, _ in work.values()}) == len(work), "two kinds are the same"
    return work, points


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


def _term(tmp: Path) -> dict:
    course_dir = tmp / "course"
    args = ["--course-dir", course_dir, "--notebooks-dir", NOTEBOOKS]

    # 1. build and release
    _ok("build", ASSIGNMENT, *args)
    _ok("release", ASSIGNMENT, *args)
    course = Course.at(course_dir, NOTEBOOKS)
    spec = load_buggy(buggy_path(NOTEBOOKS, ASSIGNMENT))
    assert len(spec.bugs) >= 4, "the variants need four bugs in buggy.py"
    work, points = _work(course, spec, tmp / "samples")

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

    # 3. collect: the first Canvas download, the second (incremental), then Moodle
    collected = {"canvas-1": _lines(_ok("collect", ASSIGNMENT, first, *args))}
    kept = {s.id: (course.submitted_dir / s.id / ASSIGNMENT / "lms.json").read_bytes()
            for s in canvas if not s.late and s.id != FIRST_TRY[0]}
    collected["canvas-2"] = _lines(_ok("collect", ASSIGNMENT, second, *args))
    collected["moodle"] = _lines(_ok("collect", ASSIGNMENT, moodle, *args))
    with course.gradebook() as gb:  # the roster names a student who handed in nothing
        first_name, last_name = BY_ID["48218"].name.split()
        gb.update_or_create_student("48218", first_name=first_name, last_name=last_name)

    # grade: every collected notebook but the broken one is graded
    status, graded, err = _run("grade", ASSIGNMENT, "--jobs", 2, "--no-progress", *args)
    assert status == 1, graded + err  # 880013's notebook cannot be read
    assert re.findall(r"^failed: (.*?):", err, re.M) == [f"880013/{ASSIGNMENT}"], err

    # an override, with its reason
    student, grade_id, new, reason = OVERRIDE
    _ok("override", student, grade_id, new, "--reason", reason, *args)

    # 4. export, and similarity
    reports = course.reports_dir
    exports = {fmt: _ok("export", "--format", fmt, *args) for fmt in ("canvas", "moodle", "csv")}
    similarity = _ok("similarity", ASSIGNMENT, *args)
    return dict(course=course, work=work, points=points, spec=spec, collected=collected, kept=kept,
                exports=exports, similarity=similarity, graded=graded,
                files={"canvas": reports / "canvas.csv",
                       "moodle": reports / f"moodle-{ASSIGNMENT}.csv",
                       "csv": reports / "grades.csv",
                       "similarity": reports / f"similarity-{ASSIGNMENT}.html"})


# --- what each student must get, from how the term was made --------------------------------


def _total(term) -> float:
    return sum(term["points"].values())


def _expected(term) -> dict[str, dict]:
    """student id -> status, raw score (before the penalty), penalty, final score."""
    total = _total(term)
    out = {}
    for s in STUDENTS:
        if s.work == "none":
            out[s.id] = dict(status="missing", raw=None, penalty=None, final=None)
            continue
        if s.work == "broken":
            out[s.id] = dict(status="failed", raw=None, penalty=None, final=None)
            continue
        raw = total - term["work"][s.work][1]
        if s.id == OVERRIDE[0]:
            # the override sets the cell's points: buggy.py says what the cell had scored
            scored = term["points"][OVERRIDE[1]] - term["spec"].loses.get(OVERRIDE[1], 0.0)
            raw += OVERRIDE[2] - scored
        penalty = 0.0  # no due date in the course yet: nothing is late
        out[s.id] = dict(status="graded", raw=raw, penalty=penalty,
                         final=max(0.0, raw - penalty))
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
    keeps the rest unchanged; Moodle's renamed notebook and same-name students are placed
    under their own ids, with the time each notebook was submitted."""
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
            "48218, 880011, 880012, 880013, 880014") in printed  # 48218 handed in nothing


def test_moodle_export_numbers(term):
    """moodle-a3_minibatch.csv: Participant ids, the final score (empty when not graded),
    the maximum grade, the status with the override's reason, and when it was written."""
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
    student, grade_id, points, reason = OVERRIDE
    assert status[f"Participant {student}"] == (
        f"graded: override {grade_id} {points:g}/{term['points'][grade_id]:g}: {reason}")
    assert status["Participant 880013"].startswith("failed: the scan refused it: broken:")
    assert status["Participant 48218"] == "missing: nothing submitted"


def test_csv_export_numbers(term):
    """grades.csv: for every student, raw score, late penalty, final score and maximum as
    constructed; the times of the Moodle notebooks; names, LMS and status."""
    rows = _read(term["files"]["csv"])
    assert rows[0] == CSV_COLUMNS
    expected = _expected(term)
    assert [r[3] for r in rows[1:]] == sorted(expected)
    for row in rows[1:]:
        got = dict(zip(CSV_COLUMNS, row))
        student, want = BY_ID[got["student_id"]], expected[got["student_id"]]
        assert (got["assignment"], got["duedate"]) == (ASSIGNMENT, ""), row
        assert got["timestamp"] == (str(student.when) if student.when and want["raw"] is not None
                                    else ""), row
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
    note = {r[3]: r[CSV_COLUMNS.index("note")] for r in rows[1:]}
    student, grade_id, points, reason = OVERRIDE
    assert note[student] == f"override {grade_id} {points:g}/{term['points'][grade_id]:g}: {reason}"
    assert note["48218"] == "nothing submitted"


def test_similarity_puts_the_identical_notebooks_on_top(term):
    """The two students who handed in the same notebook are the first pair, each 100%
    matched, in the printed list and at the top of the HTML report."""
    printed = term["similarity"]
    assert "not compared: 48218: no submission" in printed
    assert re.search(r"^not compared: 880013: a3_minibatch\.ipynb: truncated JSON", printed, re.M)
    pairs = re.findall(r"^\s+(\d+)%\s+(.+?) and (.+?)\s+\((\d+)% of .*, (\d+)% of",
                       printed, re.M)
    assert pairs[0] == ("100", "48213 (lovelaceada)", "48217 (obriensiobhán)", "100", "100"), \
        printed
    page = term["files"]["similarity"].read_text(encoding="utf-8")
    first = re.search(r"<tr><td><a href='#pair-1'>([^<]*)</a></td><td>([^<]*)</td>"
                      r"<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", page)
    assert first and [html.unescape(g) for g in first.groups()] == [
        "100%", "48213 (lovelaceada)", "100%", "48217 (obriensiobhán)", "100%"], page[:2000]
