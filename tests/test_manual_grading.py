"""Written answers graded by hand: the tables, `check`, the rubric the grader reads in the
autograded notebook, and (with a real Jupyter server) grading one answer in formgrader."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import nbformat
import pytest

from autograder.config import GradingConfig
from autograder.course import Course
from autograder.exercises import exercises_of, exercises_of_source, notebook_table, readme_table
from autograder.pipeline import run_check
from autograder.rubric import GRADER_KEY

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parent.parent
WRITTEN_NOTEBOOKS = ROOT / "tests" / "fixtures" / "written"
ASSIGNMENT = "f2_written"
SOURCE = WRITTEN_NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.py"
ANSWER = "f2-sign-answer"


def _source_answer():
    nb = jupytext.read(SOURCE)
    [cell] = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER]
    return cell


def test_tables_show_autograded_and_written_points_apart():
    """The notebook's table has an autograded and a written column with their totals; the
    README's table adds them up per assignment and over the course."""
    exercises = exercises_of_source(SOURCE)
    assert [(ex.auto_points, ex.written_points, ex.points) for ex in exercises] == [
        (2, 0, 2), (1, 0, 1), (0, 3, 3)]
    rows = notebook_table(exercises)
    assert rows[0] == "| # | exercise | graded parts | autograded | written | points |"
    assert rows[4] == "| 3 | why the cube keeps the sign | written answer | 0 | 3 | 3 |"
    assert rows[-1] == "| | **total** | 2 graded cells, 1 written | **3** | **3** | **6** |"
    readme = readme_table({ASSIGNMENT: ("topic", exercises), "other": ("t", exercises[:1])})
    assert readme[2:] == ["| f2_written | topic | 3 | 2 | 3 | 3 | 6 |",
                          "| other | t | 1 | 1 | 2 | - | 2 |",
                          "| **total** | | 4 | 3 | **5** | **3** | **8** |"]


def test_tables_without_written_answers_keep_their_columns():
    """A course or notebook without written answers keeps the table it had: points only."""
    exercises = exercises_of_source(SOURCE)[:2]
    assert notebook_table(exercises)[0] == "| # | exercise | graded parts | points |"
    assert notebook_table(exercises)[-1] == "| | **total** | 2 graded cells | **3** |"
    assert readme_table({ASSIGNMENT: ("topic", exercises)}) == [
        "| assignment | topic | graded exercises | graded cells | points |",
        "| --- | --- | --- | --- | --- |", "| f2_written | topic | 2 | 2 | 3 |"]


def test_a_written_answer_must_be_in_an_exercise():
    """A written answer before any exercise heading is refused, naming the cell."""
    nb = jupytext.read(SOURCE)
    nb.cells = [_source_answer()]
    with pytest.raises(ValueError, match=f"written answer {ANSWER} .3 points. is not under"):
        exercises_of(nb, "x.py")


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One `check` run on the fixture with a written answer, its scratch course kept:
    (exit status, output, Course)."""
    saved = dict(os.environ)
    scratch = tmp_path_factory.mktemp("check")
    lines: list[str] = []
    status = run_check(WRITTEN_NOTEBOOKS, say=lines.append, scratch_dir=scratch,
                       config=GradingConfig(jobs=2, progress=False))
    os.environ.clear()
    os.environ.update(saved)
    return status, "\n".join(lines), Course.at(scratch / "course", WRITTEN_NOTEBOOKS)


def test_check_leaves_written_answers_to_grade_by_hand(checked):
    """check: the solution scores every autograded point and its written answer waits for a
    grader; the blank one scores 0 with nothing to grade; the table says which is which."""
    status, output, course = checked
    assert status == 0, output
    row = next(line for line in output.splitlines() if line.startswith(ASSIGNMENT))
    assert "3 auto + 3 written" in row and "3 + 3 by hand" in row and "1 + 3 by hand / 1" in row
    assert "written answers, graded by hand" in output and f"{ASSIGNMENT} 3 points" in output
    with course.gradebook() as gb:
        grades = {s: {g.name: g for nb in gb.find_submission(ASSIGNMENT, s).notebooks
                      for g in nb.grades}[ANSWER]
                  for s in ("sample-solution", "sample-blank", "sample-buggy")}
        pending = {s: (g.needs_manual_grade, g.auto_score, g.score) for s, g in grades.items()}
        totals = {s: gb.find_submission(ASSIGNMENT, s).score for s in grades}
    assert pending == {"sample-solution": (True, None, 0.0), "sample-blank": (False, 0.0, 0.0),
                       "sample-buggy": (True, None, 0.0)}
    assert totals == {"sample-solution": 3.0, "sample-blank": 0.0, "sample-buggy": 1.0}


def test_the_autograded_notebook_gives_the_grader_the_rubric(checked):
    """Formgrader shows the autograded notebook: right after the written answer, a cell
    marked as the grader's holds every criterion of the source's rubric with its points."""
    _, _, course = checked
    path = course.autograded_dir / "sample-solution" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    cells = nbformat.read(path, as_version=4).cells
    at = next(i for i, c in enumerate(cells)
              if c.metadata.get("nbgrader", {}).get("grade_id") == ANSWER)
    note = cells[at + 1]
    assert note.metadata["minigrad"] == {GRADER_KEY: ANSWER}
    for item in _source_answer().metadata["rubric"]:
        assert f"- {item['points']:g}: {item['criterion']}" in note.source
    assert cells[at].metadata["minigrad"]["label"] == (
        "Exercise 3: why the cube keeps the sign, written answer")
    assert sum(GRADER_KEY in c.metadata.get("minigrad", {}) for c in cells) == 1
