"""One grading task in a process of its own.

The parent (:mod:`autograder.parallel`) writes a :class:`~autograder.records.TaskRecord`
as JSON, runs it in a new process (forked from a fork server that has nbgrader imported
already, via :func:`forked_entry`, or started as ``python -I -m autograder.worker TASK.json
RESULT.json``) and reads the :class:`~autograder.records.TaskResult`; a crash, a hang or a
memory blow-up here costs one task, never the batch. The record's
:class:`~autograder.config.GradingConfig` gives the limits and the gradebook. Tasks:

- ``grade``: nbgrader autograde of one (assignment, student), then the score from the
  gradebook. nbgrader's Execute step is replaced by
  :class:`autograder.execute.JudgedExecute`: the kernel runs through the sandbox launcher
  (:mod:`autograder.sandbox`; in bubblewrap when the task says so) and the hidden tests run
  here, in the judge, against plain data from the kernel; it reports the cells it left out
  and the seeds it used through a file of :class:`~autograder.records.JudgeEvent` lines.
  When the task carries a staged submission from the pre-grade scan (:mod:`autograder.scan`),
  nbgrader reads that repaired copy instead of ``submitted/``, and the test cells the scan
  named score 0. The gradebook is written here, by nbgrader, never from inside the kernel.
  A regrade of chosen exercises (the task's ``exercises``) saves their scores only:
  :class:`autograder.changes.SaveChosenGrades` takes the place of SaveAutoGrades.
  Last, :class:`autograder.rubric.GraderRubric` puts each written answer's rubric, from the
  source notebook, under the answer for the grader in formgrader;
- ``validate``: nbgrader's Validator on one notebook (``invert``: no test may pass).
"""

from __future__ import annotations

import os
import re
import resource
import sqlite3
import sys
import time
from pathlib import Path

from .records import EventKind, JudgeEvent, Status, TaskKind, TaskRecord, TaskResult

__all__ = ["error_summary", "forked_entry", "main", "retryable", "run_task_file"]

_EXC_LINE = re.compile(
    r"^(?:\[ERROR\]\s*)?([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt))\b:?(.*)$"
)
_RETRYABLE = (
    "Kernel died before replying",
    "Timeout waiting for kernel_info reply",
    "kernel_info reply",
    "database is locked",
    "Address already in use",
)


def retryable(text: str) -> bool:
    """Whether a failure reads as one another attempt may not meet (a kernel that did not
    start, a locked gradebook, a port in use)."""
    return any(s in text for s in _RETRYABLE)


def error_summary(result: dict) -> str:
    """The most telling line of an nbgrader failure: the last exception, else the last error."""
    text = "\n".join(filter(None, [result.get("log"), result.get("error")]))
    exc_lines = []
    error_lines = []
    for line in text.splitlines():
        stripped = line.strip()
        match = _EXC_LINE.match(stripped)
        if match and match.group(1).rsplit(".", 1)[-1] != "NbGraderException":
            exc_lines.append(f"{match.group(1)}:{match.group(2)}".rstrip(":").strip())
        if stripped.startswith("[ERROR]"):
            message = stripped.removeprefix("[ERROR]").strip()
            if message and not message.startswith(("Please see", "There was an error processing")):
                error_lines.append(message)
    if exc_lines:
        return exc_lines[-1][:400]
    if error_lines:
        return error_lines[-1][:400]
    return "nbgrader reported a failure without a message"


def _busy_timeout() -> None:
    """Let parallel workers wait for the sqlite gradebook instead of failing on a lock."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    @event.listens_for(Engine, "connect")
    def _set_timeout(dbapi_connection, _record):
        if isinstance(dbapi_connection, sqlite3.Connection):
            dbapi_connection.execute("PRAGMA busy_timeout = 60000")


def _limit_memory(megabytes: int) -> None:
    if megabytes > 0:
        limit = megabytes * 1024 * 1024
        try:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        except (ValueError, OSError):
            pass


def _grading_api(course, record: TaskRecord, kernel_dir: Path):
    """nbgrader's API for one grade task, and the kernel plan it uses: JudgedExecute in place
    of Execute, kernels started by the sandbox launcher, and the staged submission when the
    scan made one."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.converters import Autograde
    from nbgrader.coursedir import CourseDirectory
    from nbgrader.preprocessors import Execute

    from .course import apply_grading_environment, nbgrader_steps
    from .execute import JudgedExecute
    from .judge.seeds import read_seeds
    from .rubric import GraderRubric
    from .sandbox import kernel_plan

    task, config = record.task, record.config
    apply_grading_environment()
    cfg = course.config()
    staged = task.staged.submitted_dir if task.staged else ""
    if staged:
        cfg.CourseDirectory.submitted_directory = staged
    nbgrader_steps(cfg, Autograde, "autograde_preprocessors", swap={Execute: JudgedExecute},
                   last=(GraderRubric,))
    cfg.GraderRubric.source_dir = str(course.source_dir)
    coursedir = CourseDirectory(config=cfg)
    if task.exercises:  # only these get new scores; the other cells are kept as autograded
        # before, read now because autograde removes the earlier notebooks first
        from nbgrader.preprocessors import SaveAutoGrades

        from .changes import SaveChosenGrades, graded_cells

        nbgrader_steps(cfg, Autograde, "autograde_preprocessors",
                       swap={SaveAutoGrades: SaveChosenGrades})
        cfg.SaveChosenGrades.grade_ids = list(task.exercises)
        cfg.SaveChosenGrades.kept_cells = graded_cells(Path(coursedir.format_path(
            coursedir.autograded_directory, task.student, task.assignment)))
    run_dir = kernel_dir / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    kernel = kernel_plan(
        course_dir=course.course_dir,
        notebooks_dir=course.notebooks_dir,
        submission_dir=coursedir.format_path(coursedir.autograded_directory, task.student,
                                             task.assignment),
        run_dir=run_dir,
        db_url=coursedir.db_url,
        extra_hidden=(staged,) if staged else (),
        sandbox=config.sandbox,
        memory_mb=config.memory_mb,
        cpu_seconds=int(config.timeout),
    )
    plan_path = kernel_dir / "kernel-plan.json"
    plan_path.write_text(kernel.to_json())
    cfg.JudgedExecute.kernel_plan = str(plan_path)
    cfg.JudgedExecute.runtime_dir = str(run_dir)
    cfg.JudgedExecute.judge_dir = str(course.judge_dir)
    cfg.JudgedExecute.events_file = str(kernel_dir / "events.jsonl")
    cfg.JudgedExecute.zero_cells = dict(task.staged.zero_cells) if task.staged else {}
    cfg.JudgedExecute.seeds = read_seeds(coursedir.db_url, task.student, task.assignment)
    coursedir = CourseDirectory(config=cfg)
    return NbGraderAPI(coursedir=coursedir, config=cfg), kernel


def _read_events(path: Path) -> list[JudgeEvent]:
    if not path.is_file():
        return []
    return [JudgeEvent.from_json(line) for line in path.read_text().splitlines() if line]


def _grade(record: TaskRecord) -> TaskResult:
    import shutil
    import tempfile

    from .course import Course
    from .judge.seeds import record_seeds
    from .sandbox import remove_cgroup

    task = record.task
    course = Course(Path(record.course_dir), Path(record.notebooks_dir), record.config.db_url)
    kernel_dir = Path(tempfile.mkdtemp(prefix="autograder-kernel-"))
    plan = None
    try:
        api, plan = _grading_api(course, record, kernel_dir)
        result = api.autograde(task.assignment, task.student, force=True, create=True)
        events = _read_events(kernel_dir / "events.jsonl")
    finally:
        if plan is not None:
            remove_cgroup(plan)
        shutil.rmtree(kernel_dir, ignore_errors=True)
    log = result.get("log") or ""
    if not result.get("success"):
        reason = error_summary(result)
        return TaskResult(Status.RETRYABLE if retryable(log + reason) else Status.FAILED,
                          reason)
    notes = [f"{e.notebook}.ipynb" + (f" [{e.cell}]" if e.cell else "") + f": not run: {e.detail}"
             for e in events if e.kind is EventKind.KERNEL_LOST]
    for line in log.splitlines():
        if "No submitted file" in line:
            notes.append("missing notebook " + Path(line.split(":", 1)[-1].strip()).name)
    seeds = {e.cell: (e.notebook, e.seed) for e in events
             if e.kind is EventKind.SEED and e.cell and e.seed is not None}
    record_seeds(course.db_url(), task.student, task.assignment, seeds)
    with course.gradebook() as gb:
        submission = gb.find_submission(task.assignment, task.student)
        return TaskResult(
            Status.DONE,
            reason="; ".join(notes),
            score=float(submission.score),
            max_score=float(submission.max_score),
            needs_manual_grade=bool(submission.needs_manual_grade),
            cells={grade.name: float(grade.score)
                   for nb in submission.notebooks for grade in nb.grades},
        )


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def _validate(record: TaskRecord) -> TaskResult:
    from nbgrader.validator import Validator

    from .course import Course

    course = Course(Path(record.course_dir), Path(record.notebooks_dir), record.config.db_url)
    validator = Validator(config=course.config())
    validator.invert = record.task.invert
    results = validator.validate(record.task.path)
    for key, what in (
        ("type_changed", "changed cell type"),
        ("changed", "changed test cell"),
        ("passed", "test cell passes although the answers are stubs"),
        ("failed", "test cell fails"),
    ):
        cells = results.get(key)
        if cells:
            first = cells[0]
            detail = _first_line(first.get("source", ""))
            error = first.get("raw_error", "")
            if error:
                from nbconvert.filters import strip_ansi

                last = [ln for ln in strip_ansi(error).splitlines() if ln.strip()]
                detail += f" -> {last[-1].strip()}" if last else ""
            return TaskResult(Status.FAILED, f"{len(cells)} {what}(s); first: {detail}"[:400])
    return TaskResult(Status.DONE)


def run_task_file(task_path: str, result_path: str) -> None:
    """Run the :class:`TaskRecord` in ``task_path`` and write its :class:`TaskResult` to
    ``result_path``."""
    import dataclasses

    from .course import trusted_sys_path

    trusted_sys_path()
    # see autograder.cli._skip_slow_imports: seconds saved in every worker
    sys.modules.setdefault("rfc3987_syntax", None)
    record = TaskRecord.from_json(Path(task_path).read_text())
    _limit_memory(record.config.memory_mb)
    _busy_timeout()
    start = time.perf_counter()
    try:
        if record.task.kind is TaskKind.GRADE:
            result = _grade(record)
        else:
            result = _validate(record)
    except MemoryError:
        result = TaskResult(Status.FAILED, "the grader ran out of memory")
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:400]
        result = TaskResult(Status.RETRYABLE if retryable(reason) else Status.FAILED, reason)
    usage = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    result = dataclasses.replace(result, seconds=time.perf_counter() - start,
                                 max_rss_mb=usage / 1024.0)
    Path(result_path).write_text(result.to_json())


def forked_entry(task_path: str, result_path: str, log_path: str, cwd: str,
                 env: dict[str, str]) -> None:
    """Start of a task forked from the fork server: own session, the grading environment
    (inherited by the kernel), output to the log file."""
    os.setsid()  # the parent stops a task by killing its process group
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    run_task_file(task_path, result_path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m autograder.worker TASK.json RESULT.json", file=sys.stderr)
        return 2
    run_task_file(args[0], args[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
