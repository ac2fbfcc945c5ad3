"""Tests for ``python -m autograder selfgrade``: a learner grades their own notebook.

The tiny fixture assignment gives the three sample students (solution, blank, buggy) through
the pipeline's own functions; one real assignment proves the course's hidden tests run too.
nbgrader runs for real."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest

from autograder.build import build, notebook_sources
from autograder.config import GRADEBOOK_ENV
from autograder.course import Course, PipelineError
from autograder.release import release
from autograder.samples import buggy_path, load_buggy, write_samples
from autograder.selfgrade import identify, main, selfgrade

pytestmark = [pytest.mark.grading,
              pytest.mark.usefixtures("restore_environ")]  # tests/conftest.py

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
COURSE_NOTEBOOKS = ROOT / "notebooks"
ASSIGNMENT = "f1_tiny"
# text that appears only inside the fixture's hidden tests
HIDDEN_ONLY = ("f_ref", "BEGIN HIDDEN", "numeric = ", "h = 1e-5", "student.cube")
# the real assignment graded once (the quickest of the course to run)
REAL_ASSIGNMENT = "a3_minibatch"


def _samples(tmp: Path, notebooks_dir: Path, assignment: str) -> dict[str, Path]:
    """The sample students' notebooks of one assignment, made by the pipeline."""
    saved = dict(os.environ)
    course = Course.create(tmp / "course", notebooks_dir)
    build(notebooks_dir, course.source_dir, [assignment])
    release(course, [assignment], force=True)
    written = write_samples(course.source_dir / assignment, course.release_dir / assignment,
                            tmp / "submitted", load_buggy(buggy_path(notebooks_dir, assignment)))
    os.environ.clear()
    os.environ.update(saved)
    return {student: next(folder.glob("*.ipynb")) for student, folder in written.items()}


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """student -> notebook path of the fixture assignment's sample students."""
    return _samples(tmp_path_factory.mktemp("selfgrade-samples"), FIXTURE_NOTEBOOKS, ASSIGNMENT)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main([*argv, "--notebooks-dir", str(FIXTURE_NOTEBOOKS)])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def graded(samples, tmp_path_factory):
    """student -> (exit status, stdout, stderr, feedback page) of one selfgrade run each."""
    pages = tmp_path_factory.mktemp("selfgrade-pages")
    runs = {}
    for student, notebook in samples.items():
        page = pages / f"{student}.html"
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            status = main([str(notebook), "--notebooks-dir", str(FIXTURE_NOTEBOOKS),
                           "--html", str(page)])
        runs[student] = (status, out.getvalue(), err.getvalue(), page)
    return runs


def _points(out: str) -> dict[str, str]:
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 5 and parts[2] == "/":
            rows[parts[0]] = f"{parts[1]}/{parts[3]} {parts[4]}"
    return rows


def _feedback(out: str) -> dict[str, str]:
    lines = out.splitlines()
    if "feedback:" not in lines:
        return {}
    found = {}
    for line in lines[lines.index("feedback:") + 1:]:
        if not line.startswith("  "):
            break
        grade_id, _, message = line.strip().partition(": ")
        found[grade_id] = message
    return found


@pytest.mark.parametrize(
    ("student", "total", "rows"),
    [
        ("sample-solution", "5 / 5",
         {"f1-cube-test": "2/2 passed", "f1-cube-grad-test": "3/3 passed"}),
        ("sample-blank", "0 / 5",
         {"f1-cube-test": "0/2 failed", "f1-cube-grad-test": "0/3 failed"}),
        ("sample-buggy", "2 / 5",
         {"f1-cube-test": "2/2 passed", "f1-cube-grad-test": "0/3 failed"}),
    ],
)
def test_sample_students_score_as_expected(graded, student, total, rows):
    """Solution: full marks; blank: zero; buggy: the points buggy.py promises, per exercise."""
    status, out, err, _ = graded[student]
    assert status == 0, err
    assert f"total: {total}" in out
    assert _points(out) == rows


@pytest.mark.parametrize(
    ("student", "wanted"),
    [
        ("sample-solution", {}),
        ("sample-blank", {
            "f1-cube-test": "NotImplementedError: not answered yet: replace `raise",
            "f1-cube-grad-test": "NotImplementedError: not answered yet: replace `raise",
        }),
        ("sample-buggy", {
            "f1-cube-grad-test (a hidden test)":
                "Failed: cube_grad(-2) must be 3 x**2 = 12, got -12.0",
        }),
    ],
)
def test_feedback_names_the_error_and_hidden_tests(graded, student, wanted):
    """Each failing exercise carries its error line; a failure inside hidden tests says so."""
    _, out, _, _ = graded[student]
    found = _feedback(out)
    assert set(found) == set(wanted), out
    for grade_id, start in wanted.items():
        assert found[grade_id].startswith(start), found[grade_id]


@pytest.mark.parametrize("student", ["sample-solution", "sample-blank", "sample-buggy"])
def test_hidden_tests_never_shown(graded, student):
    """Neither the printed report nor the --html feedback page quotes hidden test source."""
    _, out, err, page = graded[student]
    assert f"feedback page: {page}" in out
    text = page.read_text(encoding="utf-8")
    assert "cube_grad" in text
    for hidden in HIDDEN_ONLY:
        assert hidden not in out + err
        assert hidden not in text


@pytest.mark.parametrize(
    ("rename", "assignment", "expected"),
    [
        ("f1_tiny.ipynb", None, ("f1_tiny", "f1_tiny.py")),
        ("my copy (2).ipynb", None, ("f1_tiny", "f1_tiny.py")),
        ("whatever.ipynb", "f1_tiny", ("f1_tiny", "f1_tiny.py")),
    ],
)
def test_identify_by_grade_ids(samples, tmp_path, rename, assignment, expected):
    """The assignment is found from the cells' grade_ids, whatever the file is called."""
    copy = tmp_path / rename
    shutil.copyfile(samples["sample-blank"], copy)
    name, source = identify(copy, FIXTURE_NOTEBOOKS, assignment)
    assert (name, source.name) == expected


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda d, s: d / "missing.ipynb", (), "no such file"),
        (lambda d, s: _write(d / "text.ipynb", "not json"), (), "not valid JSON"),
        (lambda d, s: _write(d / "empty.ipynb", json.dumps({"cells": [], "metadata": {}})),
         (), "has no nbgrader cells"),
        (lambda d, s: _write(d / "other.ipynb", json.dumps({"cells": [
            {"cell_type": "code", "source": "", "outputs": [], "execution_count": None,
             "metadata": {"nbgrader": {"grade_id": "zz-unknown"}}}], "metadata": {}})),
         (), "matches no assignment"),
        (lambda d, s: s, ("--assignment", "a9_nothing"), "no assignment sources for a9_nothing"),
    ],
)
def test_unusable_notebook_exits_1_with_reason(samples, tmp_path, capsys, make, extra, message):
    """A notebook that cannot be graded: exit status 1 and a one-line reason on stderr."""
    path = make(tmp_path, samples["sample-blank"])
    status, out, err = _run(capsys, str(path), *extra)
    assert status == 1
    assert err.startswith("autograder selfgrade: error: ") and message in err, err
    assert "Traceback" not in err


def test_shared_gradebook_is_left_alone(samples, monkeypatch):
    """With a shared gradebook configured, selfgrade still grades in its own scratch one."""
    unusable = "postgresql://nobody@127.0.0.1:9/no_such_gradebook"
    monkeypatch.setenv(GRADEBOOK_ENV, unusable)
    result = selfgrade(samples["sample-solution"], FIXTURE_NOTEBOOKS)
    assert (result.score, result.max_score) == (5.0, 5.0)
    assert os.environ[GRADEBOOK_ENV] == unusable


def test_usage_error_exits_2(capsys):
    """No notebook argument is a usage error (exit status 2)."""
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_missing_sources_are_explained(samples, tmp_path):
    """Without assignment sources the error says where it looked and what to pass."""
    with pytest.raises(PipelineError, match="--notebooks-dir"):
        identify(samples["sample-blank"], tmp_path)


@pytest.mark.slow
@pytest.mark.skipif(REAL_ASSIGNMENT not in notebook_sources(COURSE_NOTEBOOKS),
                    reason=f"{REAL_ASSIGNMENT} is not in notebooks/")
def test_real_assignment_solution_gets_full_marks(tmp_path, capsys):
    """A solution-filled notebook of a course assignment scores full marks on the hidden tests."""
    notebook = _samples(tmp_path, COURSE_NOTEBOOKS, REAL_ASSIGNMENT)["sample-solution"]
    result = selfgrade(notebook, COURSE_NOTEBOOKS)
    assert result.assignment == REAL_ASSIGNMENT
    assert result.max_score > 0 and result.score == result.max_score, [
        (e.grade_id, e.message) for e in result.exercises if not e.passed
    ]


def test_written_answers_are_left_to_grade_by_hand(tmp_path, capsys):
    """A written answer is neither passed nor failed: the table and the total say that it is
    graded by hand, and it is not counted in the automatic total."""
    written_notebooks = ROOT / "tests" / "fixtures" / "written"
    notebook = _samples(tmp_path, written_notebooks, "f2_written")["sample-solution"]
    status = main([str(notebook), "--notebooks-dir", str(written_notebooks)])
    out = capsys.readouterr().out
    assert status == 0, out
    rows = [line for line in out.splitlines() if "to grade by hand" in line]
    assert len(rows) == 1 and "- / " in rows[0], out
    assert "feedback:" not in out, out  # nothing failed
    assert "points of written answers, graded by hand)" in out, out
