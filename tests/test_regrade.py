"""Regrades with a record: `grade A --exercise GRADE_ID --reason ...` writes that exercise's
new score only (every other cell keeps its score and its output, an override stays, the
stale record is left alone), each changed exercise is logged once (who, when, old, new,
why) and shown in the feedback page and the export's note, and a whole regrade logs only
the cells whose points changed. nbgrader runs for real on the tiny fixture assignment."""

from __future__ import annotations

import csv
import getpass
import re
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import nbformat
import pytest

from autograder.build import build
from autograder.changes import ChangeKind, changes, override
from autograder.cli import main
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError
from autograder.export import export
from autograder.feedback import generate_feedback
from autograder.grading import grade
from autograder.pipeline import prepare_assignments
from autograder.stale import stale_students

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
CONFIG = GradingConfig(jobs=2, progress=False)
WHY = "the hidden test of cube now checks cube(-3) == 27"


@pytest.fixture
def course(tmp_path, restore_environ) -> Course:
    """The fixture assignment released; ada submitted the solution, bob the buggy notebook
    (cube_grad wrong for negative x), cy the blank one, dan the solution."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    course = Course.create(tmp_path / "course", notebooks)
    checks = prepare_assignments(course, [ASSIGNMENT], say=lambda _: None, force_release=True)
    assert not checks[ASSIGNMENT].problems
    for student, sample in (("ada", "solution"), ("bob", "buggy"), ("cy", "blank"),
                            ("dan", "solution")):
        shutil.copytree(course.submitted_dir / f"sample-{sample}", course.submitted_dir / student)
    return course


def _utc_now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _cells(course: Course, student: str) -> dict[str, float]:
    with course.gradebook() as gb:
        submission = gb.find_submission(ASSIGNMENT, student)
        return {g.name: float(g.score) for nb in submission.notebooks for g in nb.grades}


def _change_hidden_tests(course: Course) -> None:
    """Both hidden tests change so that the solution fails them: cube's now wants
    cube(-3) == 27, cube_grad's compares the negated answer. Built, not released (hidden
    tests are not in the gradebook)."""
    path = course.notebooks_dir / ASSIGNMENT / f"{ASSIGNMENT}.py"
    text = path.read_text()
    for old, new in (("assert got == -27", "assert got == 27"),
                     ("got = student.cube_grad(x)", "got = -student.cube_grad(x)")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    path.write_text(text)
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])


def _graded_cell(course: Course, student: str, grade_id: str):
    path = course.autograded_dir / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    nb = nbformat.read(str(path), as_version=4)
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _has_error(cell) -> bool:
    return any(o.output_type == "error" for o in cell.outputs)


def _export_notes(course: Course) -> dict[str, tuple[str, str]]:
    """student -> (score, note) of the csv export."""
    (path,), _ = export(course, "csv", [ASSIGNMENT])
    with open(path, newline="", encoding="utf-8") as fh:
        return {r["student_id"]: (r["score"], r["note"]) for r in csv.DictReader(fh)}


@pytest.mark.grading
def test_one_exercise_is_regraded_and_every_change_is_logged_and_shown(course, capsys):
    """After both hidden tests change, `grade --exercise f1-cube-test` gives ada and bob 0
    for cube and keeps their cube_grad scores (which would now be 0) with its output; cy's
    override stays; dan, never graded, is not; two regrade rows are logged and shown on the
    feedback page and in the export; everyone stays stale. A whole regrade of ada then logs
    only cube_grad, the one cell whose points change."""
    first = grade(course, [ASSIGNMENT], ["ada", "bob", "cy"], config=CONFIG)
    assert [(o.task.student, o.score) for o in first] == [("ada", 5.0), ("bob", 2.0),
                                                          ("cy", 0.0)]
    override(course, "cy", "f1-cube-test", 1.5, "right idea")
    assert changes(course.db_url()) == changes(course.db_url(), "cy")  # only the override
    _change_hidden_tests(course)
    assert stale_students(course) == {ASSIGNMENT: ["ada", "bob", "cy"]}

    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(course.notebooks_dir),
            "--jobs", "2", "--no-progress"]
    before = _utc_now()
    assert main(["grade", ASSIGNMENT, "--exercise", "f1-cube-test", "--reason", WHY,
                 *args]) == 1  # dan has no earlier grade
    out = capsys.readouterr().out
    rows = re.findall(r"^(\w+)\s+f1_tiny\s+(\w+)\s+(\S+)", out, re.M)
    assert rows == [("ada", "graded", "3/5"), ("bob", "graded", "0/5"), ("cy", "graded", "1.5/5"),
                    ("dan", "FAILED", "-")], out
    assert "dan has no earlier grade of f1_tiny for the other exercises to keep" in out
    assert f"changed: ada f1_tiny f1-cube-test: 2 -> 0/2 ({WHY})" in out.splitlines()
    assert f"changed: bob f1_tiny f1-cube-test: 2 -> 0/2 ({WHY})" in out.splitlines()

    assert _cells(course, "ada") == {"f1-cube-test": 0.0, "f1-cube-grad-test": 3.0}
    assert _cells(course, "bob") == {"f1-cube-test": 0.0, "f1-cube-grad-test": 0.0}
    assert _cells(course, "cy") == {"f1-cube-test": 1.5, "f1-cube-grad-test": 0.0}
    # the autograded notebook: the regraded cell's new output, the other cell's earlier one
    assert _has_error(_graded_cell(course, "ada", "f1-cube-test"))
    assert not _has_error(_graded_cell(course, "ada", "f1-cube-grad-test"))
    assert _has_error(_graded_cell(course, "bob", "f1-cube-grad-test"))
    assert "cube_grad(-2) must be 3 x**2 = 12, got -12.0" in str(
        _graded_cell(course, "bob", "f1-cube-grad-test").outputs)
    assert stale_students(course) == {ASSIGNMENT: ["ada", "bob", "cy"]}

    override_row, *regrades = changes(course.db_url())
    assert override_row.kind is ChangeKind.OVERRIDE
    assert [(c.kind, c.student, c.grade_id, c.old, c.new, c.max_score, c.reason, c.who)
            for c in regrades] == [
        (ChangeKind.REGRADE, s, "f1-cube-test", 2.0, 0.0, 2.0, WHY, getpass.getuser())
        for s in ("ada", "bob")]
    assert all(before <= c.at <= _utc_now() + timedelta(seconds=1) for c in regrades)
    assert main(["override", "--list", *args[:4]]) == 0
    assert capsys.readouterr().out.splitlines() == [c.line() for c in changes(course.db_url())]

    assert generate_feedback(course, ASSIGNMENT, "ada") == []
    page = (course.feedback_dir / "ada" / ASSIGNMENT / f"{ASSIGNMENT}.html").read_text()
    assert f"{ASSIGNMENT} (Score: 3.0 / 5.0)" in page
    assert re.search(r'href="#f1-cube-test">[^<]*</a> \(Score: 0\.0 / 2\.0\)', page), page
    assert re.search(r'href="#f1-cube-grad-test">[^<]*</a> \(Score: 3\.0 / 3\.0\)', page), page
    line = f"Regraded: 2 -&gt; 0 / 2.</strong> {WHY}"
    assert page.count("Regraded:") == 1 and line in page
    assert page.index('name="f1-cube-test"') < page.index(line) < page.index(
        'name="f1-cube-grad-test"')
    assert "must be 3 x**2" not in page  # the kept cell shows the output it was scored by

    notes = _export_notes(course)
    assert notes["ada"] == ("3", f"stale: graded before the tests or points changed; "
                                 f"regrade f1-cube-test 2 -> 0/2: {WHY}")
    assert notes["cy"] == ("1.5", "stale: graded before the tests or points changed; "
                                  "override f1-cube-test 1.5/2: right idea")

    assert main(["grade", ASSIGNMENT, "-s", "ada", *args]) == 0
    out = capsys.readouterr().out
    assert "changed: ada f1_tiny f1-cube-grad-test: 3 -> 0/3 (regrade)" in out.splitlines()
    assert "1 change(s) logged" in out
    assert _cells(course, "ada") == {"f1-cube-test": 0.0, "f1-cube-grad-test": 0.0}
    last = changes(course.db_url(), "ada")[-1]
    assert (len(changes(course.db_url())), last.grade_id, last.old, last.new, last.reason) == (
        4, "f1-cube-grad-test", 3.0, 0.0, "regrade")
    assert stale_students(course) == {ASSIGNMENT: ["bob", "cy"]}


@pytest.mark.grading
@pytest.mark.parametrize(("exercises", "reason", "says"), [
    (["f1-cube"], "why", "--exercise must be the grade id of a graded cell of f1_tiny "
                         "(got 'f1-cube'; known: f1_tiny: f1-cube-test, f1-cube-grad-test)"),
    (["f1-cube-test"], " ", "--exercise needs --reason: why the exercise is regraded"),
])
def test_a_bad_exercise_or_no_reason_is_refused_before_grading(course, exercises, reason, says):
    """An unknown grade id names the assignment's grade ids; --exercise without a reason is
    refused; nothing is graded."""
    with pytest.raises(PipelineError, match=re.escape(says)):
        grade(course, [ASSIGNMENT], exercises=exercises, reason=reason, config=CONFIG)
    assert not course.autograded_dir.exists() or not any(course.autograded_dir.iterdir())


@pytest.mark.grading
def test_a_new_submission_is_not_logged_as_a_regrade(course, capsys):
    """cy hands in the solution after the blank notebook was graded: grading it gives 5/5
    and logs nothing (new answers, not a regrade); grading the same answers again after a
    hidden test changed logs the cell that changed."""
    assert [o.score for o in grade(course, [ASSIGNMENT], ["cy"], config=CONFIG)] == [0.0]
    shutil.rmtree(course.submitted_dir / "cy")
    shutil.copytree(course.submitted_dir / "sample-solution", course.submitted_dir / "cy")
    assert [o.score for o in grade(course, [ASSIGNMENT], ["cy"], config=CONFIG)] == [5.0]
    assert changes(course.db_url()) == []
    _change_hidden_tests(course)
    seen = []
    assert [o.score for o in grade(course, [ASSIGNMENT], ["cy"], config=CONFIG,
                                   on_change=seen.extend)] == [0.0]
    assert [(c.grade_id, c.old, c.new, c.reason) for c in changes(course.db_url())] == [
        ("f1-cube-grad-test", 3.0, 0.0, "regrade"), ("f1-cube-test", 2.0, 0.0, "regrade")]
    assert seen == changes(course.db_url())
