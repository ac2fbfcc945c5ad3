"""Tests for running grading tasks in processes of their own (autograder.parallel) and the
records that cross that boundary (autograder.records): round trips, a task over its time
limit stopped, a crashing task reported and retried, outcomes in task order."""

from __future__ import annotations

import os
import time

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.config import GradingConfig
from autograder.course import Course
from autograder.parallel import default_jobs, run_tasks
from autograder.records import (
    EventKind,
    JudgeEvent,
    StagedSubmission,
    Status,
    Task,
    TaskKind,
    TaskRecord,
    TaskResult,
    from_json,
    to_json,
)

pytestmark = pytest.mark.grading


# --- records ------------------------------------------------------------------------------------


RECORDS = [
    TaskRecord(Task(TaskKind.GRADE, "a1", "ann",
                    staged=StagedSubmission("/tmp/staged", {"a1-t": "copied"})),
               "/c", "/n", GradingConfig(jobs=2, timeout=5.5, progress=False, db_url="sqlite://")),
    TaskRecord(Task(TaskKind.VALIDATE, "a1", path="/c/source/a1/a1.ipynb", invert=True), "/c",
               "/n"),
    TaskResult(Status.DONE, score=3.0, max_score=5.0, cells={"a1-t": 2.0}, seconds=1.5),
    TaskResult(Status.RETRYABLE, "Kernel died before replying to kernel_info"),
    JudgeEvent(EventKind.SEED, "a1", "a1-t", seed=2**40),
    JudgeEvent(EventKind.KERNEL_LOST, "a1", "", "the kernel died"),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_records_round_trip(record):
    """Each record comes back equal from its JSON, enums and nested records included."""
    again = type(record).from_json(record.to_json())
    assert again == record
    assert from_json(type(record), to_json(record)) == record


def test_statuses_and_kinds_are_enums_on_both_sides():
    """Kinds and statuses are enums after a round trip, and read as the words they were."""
    record = TaskRecord.from_json(RECORDS[0].to_json())
    assert record.task.kind is TaskKind.GRADE and record.task.kind == "grade"
    assert isinstance(record.config, GradingConfig) and record.config.timeout == 5.5
    assert record.task.staged.zero_cells == {"a1-t": "copied"}
    assert TaskResult.from_json('{"status": "failed", "score": 2}').score == 2.0
    assert Task("validate", "a1").kind is TaskKind.VALIDATE


@pytest.mark.parametrize(
    ("cls", "text", "message"),
    [
        (TaskResult, '{"status": "fine"}', "'fine' is not a valid Status"),
        (TaskResult, '{"status": "done", "extra": 1}', "TaskResult has no field extra"),
        (TaskRecord, '{"task": [], "course_dir": "", "notebooks_dir": ""}',
         "Task must be a JSON object"),
        (Task, '{"assignment": "a1"}', "kind"),
    ],
)
def test_a_record_that_does_not_fit_is_refused(cls, text, message):
    """A record with an unknown status, field or shape is a ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        cls.from_json(text)


def test_task_labels():
    """A task's label names the student or the notebook validated."""
    assert Task(TaskKind.GRADE, "a1", "ann").label == "ann/a1"
    assert Task(TaskKind.VALIDATE, "a1", path="/x/a1.ipynb").label == "validate source a1.ipynb"
    assert Task(TaskKind.VALIDATE, "a1", path="/x/a1.ipynb", invert=True).label == (
        "validate release (--invert) a1.ipynb")


# --- running tasks --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course with three notebooks to validate: one clean, one that never ends, one whose
    kernel kills its grading process."""
    root = tmp_path_factory.mktemp("parallel")
    course = Course.create(root / "course", root / "notebooks")
    folder = course.source_dir / "p1"
    folder.mkdir(parents=True)
    cells = {
        "clean": "x = 1",
        "sleepy": "import os, time\n"
                  f"open({str(course.course_dir / 'sleepy.pid')!r}, 'w').write(str(os.getpid()))\n"
                  "time.sleep(600)",
        "crash": "import os, signal\nos.kill(os.getppid(), signal.SIGTERM)\nimport time\n"
                 "time.sleep(60)",
    }
    for name, source in cells.items():
        nbformat.write(new_notebook(cells=[new_code_cell(source)]), str(folder / f"{name}.ipynb"))
    return course


def _validate(course: Course, name: str) -> Task:
    return Task(TaskKind.VALIDATE, "p1", path=str(course.source_dir / "p1" / f"{name}.ipynb"))


@pytest.mark.parametrize("fork_server", [True, False], ids=["forked", "fresh"])
def test_a_task_over_its_time_limit_is_stopped(course, fork_server):
    """A task that never ends is killed at the time limit, with its kernel, and reported."""
    pid_file = course.course_dir / "sleepy.pid"
    pid_file.unlink(missing_ok=True)
    start = time.monotonic()
    [outcome] = run_tasks(course, [_validate(course, "sleepy")],
                          GradingConfig(timeout=6, retries=3, progress=False),
                          fork_server=fork_server)
    assert time.monotonic() - start < 30
    assert not outcome.ok and outcome.attempts == 1
    assert outcome.reason == "stopped after the time limit of 6 s per task"
    assert outcome.seconds == 6.0
    kernel = int(pid_file.read_text())  # the kernel had started: it must be gone too
    for _ in range(50):
        try:
            os.kill(kernel, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the kernel {kernel} outlived its stopped task")


def test_a_crashing_task_is_retried_then_reported(course):
    """A grading process killed by a signal fails with a reason, after its retries; outcomes
    come back in task order whatever finishes first."""
    tasks = [_validate(course, "crash"), _validate(course, "clean")]
    crashed, clean = run_tasks(course, tasks, GradingConfig(jobs=2, retries=1, progress=False),
                               desc="test")
    assert clean.task == tasks[1] and clean.ok and clean.attempts == 1 and clean.seconds > 0
    assert crashed.task == tasks[0] and not crashed.ok
    assert crashed.reason.startswith("the grading process killed by signal 15")
    assert crashed.attempts == 2


def test_config_defaults_to_the_course(course):
    """Without a config, run_tasks reads the course's c.Grading; a task that cannot run is a
    failed outcome with the reason."""
    missing = Task(TaskKind.VALIDATE, "p1", path=str(course.source_dir / "nope.ipynb"))
    [outcome] = run_tasks(course, [missing])
    assert not outcome.ok and "nope.ipynb" in outcome.reason
    assert default_jobs() >= 1


def test_an_interrupt_stops_every_running_task(course):
    """Ctrl-C during a batch kills the running tasks (each in its own session) and reaches
    the caller at once, not after the tasks' time limit."""
    import signal
    import threading

    timer = threading.Timer(3.0, os.kill, (os.getpid(), signal.SIGINT))
    start = time.monotonic()
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            run_tasks(course, [_validate(course, "sleepy")] * 2,
                      GradingConfig(jobs=2, timeout=120, progress=False))
    finally:
        timer.cancel()
    assert time.monotonic() - start < 30
