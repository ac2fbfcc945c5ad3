"""Tests for one grading task in its worker (autograder.worker), run in this process through
run_task_file: a graded submission's score and cells from the gradebook, the scan's zeroed
cells, seeds recorded, validation both ways, and failures as results with a reason."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from autograder.build import build
from autograder.config import GradingConfig
from autograder.course import Course
from autograder.judge.seeds import read_seeds
from autograder.records import StagedSubmission, Status, Task, TaskKind, TaskRecord, TaskResult
from autograder.release import release
from autograder.samples import buggy_path, load_buggy, write_samples
from autograder.worker import main, retryable, run_task_file

pytestmark = [
    pytest.mark.grading,
    # nbgrader's autograde, run in this process, trips SQLAlchemy's autoflush warnings
    pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning"),
]

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
CONFIG = GradingConfig(memory_mb=0, sandbox=False)  # memory_mb would cap this very process


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """The fixture assignment built and released, with the three sample students submitted."""
    saved = dict(os.environ)
    course = Course.create(tmp_path_factory.mktemp("worker") / "course", FIXTURE_NOTEBOOKS)
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])
    assert [what for _, what in release(course, [ASSIGNMENT], force=True)] == ["released"]
    write_samples(course.source_dir / ASSIGNMENT, course.release_dir / ASSIGNMENT,
                  course.submitted_dir, load_buggy(buggy_path(FIXTURE_NOTEBOOKS, ASSIGNMENT)))
    with course.gradebook() as gb:
        for student in ("sample-solution", "sample-buggy"):
            gb.update_or_create_student(student)
    yield course
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def run(course, tmp_path):
    """run(task, config) -> TaskResult, through the files a worker reads and writes."""
    saved_env, saved_path = dict(os.environ), list(sys.path)

    def run_one(task: Task, config: GradingConfig = CONFIG) -> TaskResult:
        record = TaskRecord(task, str(course.course_dir), str(course.notebooks_dir), config)
        (tmp_path / "task.json").write_text(record.to_json())
        run_task_file(str(tmp_path / "task.json"), str(tmp_path / "result.json"))
        return TaskResult.from_json((tmp_path / "result.json").read_text())

    yield run_one
    os.environ.clear()
    os.environ.update(saved_env)
    sys.path[:] = saved_path


def test_grade_reads_the_score_and_cells_from_the_gradebook(course, run):
    """A graded submission's result holds the gradebook's score and each test cell's points;
    the seeds the judge used are recorded for a regrade."""
    result = run(Task(TaskKind.GRADE, ASSIGNMENT, "sample-buggy"))
    assert result.status is Status.DONE, result.reason
    assert (result.score, result.max_score) == (2.0, 5.0)
    assert result.cells == {"f1-cube-test": 2.0, "f1-cube-grad-test": 0.0}
    assert result.seconds > 0 and result.max_rss_mb > 0
    seeds = read_seeds(course.db_url(), "sample-buggy", ASSIGNMENT)
    assert set(seeds) == {"f1-cube-test", "f1-cube-grad-test"}


def test_grade_takes_the_staged_copy_and_its_zeroed_cells(course, run, tmp_path):
    """With a staged submission, nbgrader reads the staged copy and the scan's cells score 0."""
    import shutil

    staged = tmp_path / "staged"
    shutil.copytree(course.submitted_dir / "sample-solution", staged / "sample-solution")
    task = Task(TaskKind.GRADE, ASSIGNMENT, "sample-solution",
                staged=StagedSubmission(str(staged), {"f1-cube-test": "tampering"}))
    result = run(task)
    assert result.status is Status.DONE, result.reason
    assert result.cells == {"f1-cube-test": 0.0, "f1-cube-grad-test": 3.0}
    graded = course.autograded_dir / "sample-solution" / ASSIGNMENT / "f1_tiny.ipynb"
    assert "this test scores 0: tampering" in graded.read_text()


def test_grade_of_a_missing_submission_fails_with_a_reason(run):
    """nbgrader's failure becomes a failed result with its most telling line."""
    result = run(Task(TaskKind.GRADE, ASSIGNMENT, "nobody"))
    assert result.status is Status.FAILED
    assert result.reason and "nobody" in result.reason


@pytest.mark.parametrize(
    ("folder", "invert", "status", "reason"),
    [
        ("source", False, Status.DONE, ""),
        ("release", True, Status.DONE, ""),
        ("source", True, Status.FAILED, "test cell passes although the answers are stubs(s)"),
        ("release", False, Status.FAILED, "test cell fails(s); first: "),
    ],
)
def test_validate_both_ways(course, run, folder, invert, status, reason):
    """Sources pass their tests and releases fail them; the reverse is a failure that names
    the first cell."""
    path = getattr(course, f"{folder}_dir") / ASSIGNMENT / "f1_tiny.ipynb"
    result = run(Task(TaskKind.VALIDATE, ASSIGNMENT, path=str(path), invert=invert))
    assert result.status is status
    assert reason in result.reason


def test_validate_of_a_missing_notebook_is_a_failed_result(run, tmp_path):
    """An exception in the task is reported as the task's failure, never raised."""
    result = run(Task(TaskKind.VALIDATE, ASSIGNMENT, path=str(tmp_path / "gone.ipynb")))
    assert result.status is Status.FAILED and "gone.ipynb" in result.reason


@pytest.mark.parametrize(
    ("text", "again"),
    [
        ("RuntimeError: Kernel died before replying to kernel_info", True),
        ("sqlite3.OperationalError: database is locked", True),
        ("AssertionError: cube(2) must be 8", False),
    ],
)
def test_retryable(text, again):
    """A kernel that did not start or a locked gradebook is worth another attempt."""
    assert retryable(text) is again


def test_main_usage(capsys):
    """The worker's command line takes a task file and a result file."""
    assert main(["only-one"]) == 2
    assert "usage: python -m autograder.worker TASK.json RESULT.json" in capsys.readouterr().err
