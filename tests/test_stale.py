"""Stale grades: after an exercise's points change and the course is rebuilt, grade and report
name the students graded before, grade refuses to use the old points, `grade --stale`
regrades exactly those students, and a regrade is not reported as a repair. nbgrader runs
for real on the tiny fixture assignment."""

from __future__ import annotations

import copy
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import compute_checksum

from autograder.build import build
from autograder.cli import main
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError
from autograder.grading import grade
from autograder.pipeline import prepare_assignments
from autograder.release import release
from autograder.report import gradebook_table
from autograder.scan import Kind, NotebookScan, Status, SubmissionScan, repair_notebook
from autograder.stale import (
    fingerprint,
    record_fingerprints,
    recorded_fingerprints,
    stale_lines,
    stale_students,
    unreleased_changes,
)

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
SOURCE = Path(ASSIGNMENT) / f"{ASSIGNMENT}.py"
CONFIG = GradingConfig(jobs=2, progress=False)


@pytest.mark.parametrize(("stale", "lines"), [
    ({}, []),
    ({"a2_vectorized": ["ada", "bob", "cy"]},
     ["a2_vectorized: 3 students graded before its tests or points changed: ada, bob, cy; "
      "regrade with `grade --stale`"]),
    ({"b": ["zoe"], "a": ["x1", "x2", "x3", "x4"]},
     ["a: 4 students graded before its tests or points changed: x1, x2, x3 and 1 more; "
      "regrade with `grade --stale`",
      "b: 1 student graded before its tests or points changed: zoe; "
      "regrade with `grade --stale`"]),
])
def test_stale_lines(stale, lines):
    """One line per assignment, sorted, naming the students (at most `shown`)."""
    assert stale_lines(stale, shown=3) == lines


def _change_points(notebooks: Path, grade_id: str, old: int, new: int) -> None:
    path = notebooks / SOURCE
    text = path.read_text()
    header = f'"grade_id": "{grade_id}", "locked": true, "points": {old},'
    assert header in text
    path.write_text(text.replace(header, header.replace(f"{old},", f"{new},")))


def _course(root: Path) -> Course:
    """The fixture assignment built and released in a course of its own; ada and bob submit
    the solution, cy the blank notebook, dan the solution."""
    notebooks = root / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    course = Course.create(root / "course", notebooks)
    checks = prepare_assignments(course, [ASSIGNMENT], say=lambda _: None, force_release=True)
    assert not checks[ASSIGNMENT].problems
    for student, sample in (("ada", "solution"), ("bob", "solution"), ("cy", "blank"),
                            ("dan", "solution")):
        shutil.copytree(course.submitted_dir / f"sample-{sample}", course.submitted_dir / student)
    return course


@pytest.fixture
def course(tmp_path, restore_environ) -> Course:
    return _course(tmp_path)


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """The released notebook of the fixture assignment."""
    saved = dict(os.environ)
    course = _course(tmp_path_factory.mktemp("stale"))
    os.environ.clear()
    os.environ.update(saved)
    return nbformat.read(str(course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), 4)


@pytest.mark.grading
def test_a_points_change_makes_grades_stale_until_regraded(course, capsys):
    """Changing one exercise's points: grade refuses until released, report marks ada, bob
    and cy stale, `grade --stale` regrades exactly bob and cy (ada was regraded by hand, dan
    never graded), full marks of the new total, nobody "repaired"."""
    first = grade(course, [ASSIGNMENT], ["ada", "bob", "cy"], config=CONFIG)
    assert [(o.task.student, o.score, o.max_score) for o in first] == [
        ("ada", 5.0, 5.0), ("bob", 5.0, 5.0), ("cy", 0.0, 5.0)]
    assert stale_students(course) == {}

    _change_points(course.notebooks_dir, "f1-cube-test", 2, 4)
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])
    assert stale_students(course) == {ASSIGNMENT: ["ada", "bob", "cy"]}
    assert unreleased_changes(course, ASSIGNMENT) == ["f1-cube-test: 4 points built, 2 released"]
    with pytest.raises(PipelineError, match=r"f1-cube-test: 4 points built, 2 released\): "
                                            r"run `python -m autograder release f1_tiny`"):
        grade(course, [ASSIGNMENT], ["dan"], config=CONFIG)

    assert release(course, [ASSIGNMENT], force=True) == [(ASSIGNMENT, "released")]
    assert unreleased_changes(course, ASSIGNMENT) == []
    table = gradebook_table(course)
    assert re.search(r"^ada\s+5/7 stale\s+5/7$", table, re.M), table
    assert re.search(r"^cy\s+0/7 stale\s+0/7$", table, re.M), table
    assert table.splitlines()[-1] == (
        "f1_tiny: 3 students graded before its tests or points changed: ada, bob, cy; "
        "regrade with `grade --stale`")

    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(course.notebooks_dir),
            "--jobs", "2", "--no-progress"]
    assert main(["grade", "-s", "ada", *args]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^ada\s+f1_tiny\s+graded\s+7/7\s+\S+$", out, re.M), out
    assert ("f1_tiny: 2 students graded before its tests or points changed: bob, cy; "
            "regrade with `grade --stale`") in out.splitlines()
    assert stale_students(course) == {ASSIGNMENT: ["bob", "cy"]}

    assert main(["grade", "--stale", *args]) == 0
    out = capsys.readouterr().out
    rows = re.findall(r"^(\w+)\s+f1_tiny\s+(\w+)\s+(\S+)", out, re.M)
    assert rows == [("bob", "graded", "7/7"), ("cy", "graded", "0/7")], out
    assert "scan: 2 submission(s): 2 ok, 0 repaired" in out
    assert "repaired (" not in out and "stale" not in out
    assert stale_students(course) == {}
    assert "stale" not in gradebook_table(course)

    assert main(["grade", "--stale", *args]) == 0
    assert "grade --stale: no selected student has a stale grade" in capsys.readouterr().out


def test_a_hidden_test_change_is_stale_without_a_release(course):
    """Editing only a hidden test changes the fingerprint (stale) but not what the gradebook
    needs (no release asked for); a rebuild with nothing changed keeps the fingerprint."""
    before = fingerprint(course, ASSIGNMENT)
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])
    assert fingerprint(course, ASSIGNMENT) == before
    path = course.notebooks_dir / SOURCE
    text = path.read_text()
    assert "got = student.cube(-3)" in text
    path.write_text(text.replace("got = student.cube(-3)", "got = student.cube(-4)")
                    .replace("must be -27", "must be -64").replace("got == -27", "got == -64"))
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])
    assert fingerprint(course, ASSIGNMENT) not in (None, before)
    assert unreleased_changes(course, ASSIGNMENT) == []
    assert fingerprint(course, "not_built") is None


def _test_cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


CUBE_TEST_NOW = "assert cube(3) == 27"


@pytest.mark.parametrize(("edit", "kind", "status", "says"), [
    # the cell as an earlier release made it, which computed the checksum with its points
    ({"points": 1, "checksum": True}, Kind.NOTE, Status.OK,
     "changed in the release since: points 1 -> 2"),
    ({"source": CUBE_TEST_NOW, "checksum": True}, Kind.NOTE, Status.OK,
     "the test cell changed in the release since (the current one is graded)"),
    # the student changed the points or the code
    ({"points": 1}, Kind.REPAIRED, Status.REPAIRED,
     "nbgrader metadata changed, restored: points 1 -> 2"),
    ({"source": CUBE_TEST_NOW}, Kind.REPAIRED, Status.REPAIRED,
     "the test cell was edited (the release's version is graded)"),
    # the checksum does not cover the schema version: always the student's doing
    ({"schema_version": 2, "checksum": True}, Kind.REPAIRED, Status.REPAIRED,
     "nbgrader metadata changed, restored: schema_version 2 -> 3"),
])
def test_a_cell_from_an_earlier_release_is_not_a_repair(released, edit, kind, status, says):
    """A test cell whose points or code changed in the release since the student fetched it
    is a note ("changed in the release since"); one the student edited is repaired."""
    submitted = nbformat.from_dict(copy.deepcopy(released))
    cell = _test_cell(submitted, "f1-cube-test")
    edit = dict(edit)
    checksum = edit.pop("checksum", False)
    cell.source = edit.pop("source", cell.source)
    cell.metadata.nbgrader.update(edit)
    if checksum:
        cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    name = f"{ASSIGNMENT}.ipynb"
    repaired, findings = repair_notebook(dict(submitted), released, name)
    assert [(f.kind, f.where, f.message) for f in findings] == [(kind, "f1-cube-test", says)]
    fixed = _test_cell(repaired, "f1-cube-test")
    want = _test_cell(released, "f1-cube-test")
    assert (fixed.source, fixed.metadata.nbgrader) == (want.source, want.metadata.nbgrader)
    scan = SubmissionScan(ASSIGNMENT, "ada", [NotebookScan(name, findings, repaired)])
    assert scan.status is status


def test_fingerprints_are_recorded_per_student_and_assignment(tmp_path):
    """The last grade's fingerprint is kept per (assignment, student); reading a gradebook
    that has no such table finds none and leaves the gradebook as it was."""
    from sqlalchemy import create_engine, inspect

    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert recorded_fingerprints(url) == {}
    assert not inspect(create_engine(url)).has_table("grade_fingerprints")
    record_fingerprints(url, "a1", ["ada", "bob"], "f" * 64)
    record_fingerprints(url, "a2", ["ada"], "a" * 64)
    record_fingerprints(url, "a1", ["bob"], "b" * 64)
    record_fingerprints(url, "a1", [], "c" * 64)
    assert recorded_fingerprints(url) == {
        ("a1", "ada"): "f" * 64, ("a1", "bob"): "b" * 64, ("a2", "ada"): "a" * 64}
