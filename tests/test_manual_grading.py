"""Written answers graded by hand: the tables, `check`, the rubric the grader reads in the
autograded notebook, and (with a real Jupyter server) grading one answer in formgrader."""

from __future__ import annotations

import os
from pathlib import Path

import jupytext
import labserver
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


# --- grading by hand in formgrader, through its REST API ------------------------------------

OWN_ANSWER = "Three minus signs multiply to a minus sign, so the cube of -2 is -8."
FORGED = "Grader: this answer is worth full marks."  # a student's cell posing as the grader's


def _submit(course: Course, student: str) -> None:
    """The released notebook with the solution's code and a written answer of the student's
    own, and a cell the student marked as the grader's."""
    from autograder.rubric import is_written
    from autograder.samples import solution_source

    released = nbformat.read(course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    source = nbformat.read(course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", 4)
    solutions = {c.id: c.source for c in source.cells}
    for cell in released.cells:
        if is_written(cell):
            cell.source = OWN_ANSWER
            cell.metadata["rubric"] = [{"points": 3, "criterion": "anything goes"}]
        elif cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solution_source(solutions[cell.id])
    forged = nbformat.v4.new_markdown_cell(FORGED)
    forged.metadata["minigrad"] = {GRADER_KEY: ANSWER}
    released.cells.append(forged)
    target = course.submitted_dir / student / ASSIGNMENT
    target.mkdir(parents=True)
    nbformat.write(released, target / f"{ASSIGNMENT}.ipynb")


def _call(base: str, headers: dict, path: str, body: dict | None = None):
    """GET (or PUT ``body`` as JSON) a formgrader URL; the answer's JSON, or its text."""
    import json
    import urllib.request

    request = urllib.request.Request(
        base + path, headers={**headers, "Content-Type": "application/json"},
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "PUT")
    with urllib.request.urlopen(request, timeout=60) as answer:
        text = answer.read().decode()
    return json.loads(text) if answer.headers.get_content_type() == "application/json" \
        or text[:1] in "[{" else text


def _feedback_text(course: Course, student: str) -> str:
    import html
    import re

    from autograder.feedback import generate_feedback

    assert generate_feedback(course, ASSIGNMENT, student) == []
    page = course.feedback_dir / student / ASSIGNMENT / f"{ASSIGNMENT}.html"
    return html.unescape(re.sub(r"<[^>]+>", " ", page.read_text(encoding="utf-8")))


def test_a_written_answer_graded_in_formgrader_reaches_the_total_export_and_feedback(
        checked, tmp_path, restore_environ):
    """A student's written answer, graded in formgrader over its REST API: formgrader's page
    shows the answer with the source's rubric (not the student's forged one); the points
    and comment reach the gradebook's total, `export --format csv` and the feedback page,
    which said "graded by hand later" before and never shows the rubric; `report` counts
    the students still to grade by hand."""
    import csv

    from autograder.cli import main
    from autograder.report import gradebook_table

    _, _, course = checked
    criteria = [item["criterion"] for item in _source_answer().metadata["rubric"]]
    _submit(course, "ada")
    assert main(["grade", ASSIGNMENT, "--student", "ada", "--no-progress", "--jobs", "1",
                 "--course-dir", str(course.course_dir),
                 "--notebooks-dir", str(WRITTEN_NOTEBOOKS)]) == 0
    before = _feedback_text(course, "ada")
    assert "Graded by hand later" in before and "Score: 3.0 / 6.0" in before
    assert OWN_ANSWER in before
    assert not [t for t in criteria + [FORGED, "Rubric", "anything goes"] if t in before]
    pending = f"{ASSIGNMENT}: {{}} student(s) with answers to grade by hand"
    assert pending.format(3) in gradebook_table(course)  # ada, the solution and the buggy one

    server = labserver.launch(course, tmp_path / "home", grader=True)
    base, headers = server.url, server.headers
    try:
        labserver.wait_until_up(server, 90, "/formgrader/api/status")
        [notebook] = [n for n in _call(base, headers,
                                       f"/formgrader/api/submitted_notebooks/{ASSIGNMENT}/"
                                       f"{ASSIGNMENT}") if n["student"] == "ada"]
        assert notebook["needs_manual_grade"] is True
        page = _call(base, headers, f"/formgrader/submissions/{notebook['id']}/")
        assert OWN_ANSWER in page and all(c in page for c in criteria), page[-2000:]
        assert FORGED not in page and "anything goes" not in page
        [grade] = [g for g in _call(base, headers, "/formgrader/api/grades?submission_id="
                                    + notebook["id"]) if g["name"] == ANSWER]
        assert (grade["auto_score"], grade["max_score"]) == (None, 3.0)
        saved = _call(base, headers, f"/formgrader/api/grade/{grade['id']}",
                      {"manual_score": 2})
        assert saved["manual_score"] == 2 and saved["needs_manual_grade"] is False
        [comment] = [c for c in _call(base, headers, "/formgrader/api/comments?submission_id="
                                      + notebook["id"]) if c["name"] == ANSWER]
        _call(base, headers, f"/formgrader/api/comment/{comment['id']}",
              {"manual_comment": "The derivative's sign is missing."})
        [student] = [s for s in _call(base, headers, f"/formgrader/api/submissions/{ASSIGNMENT}")
                     if s["student"] == "ada"]
        assert (student["score"], student["max_score"]) == (5.0, 6.0)
    finally:
        labserver.stop(server)

    with course.gradebook() as gb:
        submission = gb.find_submission(ASSIGNMENT, "ada")
        assert (submission.score, submission.needs_manual_grade) == (5.0, False)
    assert pending.format(2) in gradebook_table(course)
    out = tmp_path / "grades.csv"
    assert main(["export", "--format", "csv", "--out", str(out), ASSIGNMENT,
                 "--course-dir", str(course.course_dir),
                 "--notebooks-dir", str(WRITTEN_NOTEBOOKS)]) == 0
    rows = {r["student_id"]: r for r in csv.DictReader(out.open())}
    assert (float(rows["ada"]["score"]), rows["ada"]["status"]) == (5.0, "graded"), rows["ada"]
    assert "grade by hand" not in rows["ada"]["note"]
    assert "answers to grade by hand" in rows["sample-solution"]["note"]
    after = _feedback_text(course, "ada")
    assert "Score: 5.0 / 6.0" in after and "Score: 2.0 / 3.0" in after
    assert "The derivative's sign is missing." in after
    assert not [t for t in criteria + [FORGED, "Rubric", "Graded by hand later"] if t in after]
    released = (course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text()
    assert not [t for t in criteria if t in released] and '"rubric"' not in released
