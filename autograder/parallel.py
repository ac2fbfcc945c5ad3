"""Run grading tasks in parallel, one process per task, with limits, retries and a progress bar.

Each task (an autograde of one student, or one validation) runs in a process of its own,
in its own session: forked from a fork server that has nbgrader imported already, or a
fresh ``python -m autograder.worker``. The parent only watches: a task that exceeds its
time limit is killed with its process group (a sandboxed kernel dies with it, bwrap's
``--die-with-parent``; an unsandboxed one notices its parent is gone and exits), one that
dies is reported, a kernel that fails to start is retried. Nothing one task does stops the
others. The parent and a worker speak through files holding a
:class:`~autograder.records.TaskRecord` and a :class:`~autograder.records.TaskResult`; the
limits come from one :class:`~autograder.config.GradingConfig`.

As with any multiprocessing fork server, a script that calls :func:`run_tasks` must keep
its top-level code under ``if __name__ == "__main__":`` (``python -m autograder`` does).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from .config import GradingConfig
from .course import Course, grading_environment
from .records import Status, Task, TaskRecord, TaskResult

__all__ = ["Outcome", "Task", "default_jobs", "run_tasks"]


def default_jobs() -> int:
    """The number of cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


@dataclass
class Outcome:
    """What became of a task: its result, the attempts it took and, for a graded submission,
    what the pre-grade scan found (``scan`` status, tampering ``flags``, ``repairs``)."""

    task: Task
    ok: bool
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    seconds: float = 0.0
    attempts: int = 1
    max_rss_mb: float = 0.0
    needs_manual_grade: bool = False
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> points
    scan: str = ""
    flags: list[str] = field(default_factory=list)
    repairs: list[str] = field(default_factory=list)


class _Running:
    """The task processes alive now, so an interrupt can stop them all."""

    def __init__(self):
        self.lock = threading.Lock()
        self.pids: set[int] = set()
        self.stopping = threading.Event()

    def kill_all(self) -> None:
        self.stopping.set()
        with self.lock:
            for pid in self.pids:
                _kill_group(pid)


def _kill_group(pid: int) -> None:
    """Kill a task and everything in its session (the task itself even before its setsid)."""
    for kill in (os.killpg, os.kill):
        try:
            kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


_FORK_CONTEXT: list = []


def _fork_context():
    """A multiprocessing context whose fork server has nbgrader imported (None if unsupported).

    Forking a task from it saves the seconds every fresh interpreter spends importing
    nbgrader; each task is still a separate process.
    """
    if not _FORK_CONTEXT:
        import multiprocessing

        if "forkserver" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["autograder._forkserver"])
            _FORK_CONTEXT.append(ctx)
        else:  # pragma: no cover - Windows
            _FORK_CONTEXT.append(None)
    return _FORK_CONTEXT[0]


def _start(task_file: Path, result_file: Path, log_file: Path, cwd: str, env: dict,
           use_fork: bool):
    """Start one task process in its own session; return (pid, wait(timeout) -> code|None)."""
    ctx = _fork_context() if use_fork else None
    if ctx is not None:
        from .worker import forked_entry

        proc = ctx.Process(target=forked_entry, daemon=False,
                           args=(str(task_file), str(result_file), str(log_file), cwd, env))
        proc.start()

        def wait(timeout):
            proc.join(timeout)
            return proc.exitcode

        return proc.pid, wait
    with open(log_file, "wb") as log:
        popen = subprocess.Popen(
            [sys.executable, "-I", "-m", "autograder.worker", str(task_file), str(result_file)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            env=env, cwd=cwd, start_new_session=True,
        )

    def wait_popen(timeout):
        try:
            return popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    return popen.pid, wait_popen


def _run_once(record: TaskRecord, workdir: Path, index: int, env: dict, running: _Running,
              use_fork: bool) -> TaskResult:
    task_file = workdir / f"task-{index}.json"
    result_file = workdir / f"result-{index}.json"
    log_file = workdir / f"log-{index}.txt"
    result_file.unlink(missing_ok=True)
    task_file.write_text(record.to_json())
    timeout = record.config.timeout
    with running.lock:
        if running.stopping.is_set():
            return TaskResult(Status.FAILED, "not run: the batch was interrupted")
        pid, wait = _start(task_file, result_file, log_file, record.course_dir, env, use_fork)
        running.pids.add(pid)
    try:
        code = wait(timeout if timeout > 0 else None)
        if code is None:
            _kill_group(pid)
            wait(None)
            return TaskResult(Status.FAILED,
                              f"stopped after the time limit of {timeout:g} s per task",
                              seconds=float(timeout))
    finally:
        with running.lock:
            running.pids.discard(pid)
    if running.stopping.is_set():
        return TaskResult(Status.FAILED, "stopped: the batch was interrupted")
    if result_file.is_file():
        try:
            return TaskResult.from_json(result_file.read_text())
        except ValueError:  # cut short: the worker died while writing it
            pass
    tail = []
    if log_file.is_file():
        tail = [ln for ln in log_file.read_text(errors="replace").splitlines() if ln.strip()]
    how = f"killed by signal {-code}" if code < 0 else f"exited with code {code}"
    again = code < 0 and -code != signal.SIGKILL
    return TaskResult(Status.RETRYABLE if again else Status.FAILED,
                      f"the grading process {how}" + (f": {tail[-1][:300]}" if tail else ""))


def run_tasks(
    course: Course,
    tasks: list[Task],
    config: GradingConfig | None = None,
    desc: str = "grading",
    fork_server: bool = True,
) -> list[Outcome]:
    """Run ``tasks`` as ``config`` says; outcomes come back in task order.

    ``config`` (None: :meth:`GradingConfig.read` of the course): ``jobs`` processes at a time,
    ``timeout`` per task (seconds, 0 for none), ``memory_mb`` caps each task's address space
    (its kernel included; 0 for none), ``retries`` re-runs a task whose kernel failed to
    start, ``progress`` True/False forces the tqdm bar on/off (None: on a terminal),
    ``sandbox`` runs grading kernels in bubblewrap where :func:`autograder.sandbox.sandbox_status`
    says it works, ``db_url`` (else the course's ``gradebook_url``) names the gradebook.
    ``fork_server``: fork tasks from a server with nbgrader imported (else a fresh
    ``python -m autograder.worker`` per task).
    """
    from tqdm import tqdm

    from .sandbox import sandbox_status

    if config is None:
        config = GradingConfig.read(course.course_dir)
    config = config.replace(sandbox=config.sandbox and sandbox_status().available,
                            db_url=config.db_url or course.gradebook_url)
    jobs = max(1, config.jobs or default_jobs())
    env = grading_environment(single_thread=jobs > 1)
    outcomes: list[Outcome | None] = [None] * len(tasks)
    lock = threading.Lock()
    running = _Running()
    disable = None if config.progress is None else not config.progress

    with tempfile.TemporaryDirectory(prefix="autograder-run-") as tmp:
        workdir = Path(tmp)

        def work(index: int) -> Outcome:
            record = TaskRecord(tasks[index], str(course.course_dir), str(course.notebooks_dir),
                                config)
            attempt = 0
            while True:
                attempt += 1
                result = _run_once(record, workdir, index, env, running, fork_server)
                if result.status is not Status.RETRYABLE or attempt > config.retries:
                    break
            return Outcome(
                task=record.task,
                ok=result.status is Status.DONE,
                reason=result.reason,
                score=result.score,
                max_score=result.max_score,
                seconds=result.seconds,
                attempts=attempt,
                max_rss_mb=result.max_rss_mb,
                needs_manual_grade=result.needs_manual_grade,
                cells=dict(result.cells),
            )

        with tqdm(total=len(tasks), desc=desc, unit="task", disable=disable,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = {pool.submit(work, i): i for i in range(len(tasks))}
                try:
                    for future in as_completed(futures):
                        index = futures[future]
                        try:
                            outcome = future.result()
                        except Exception as exc:  # a bug in the runner itself: report it
                            outcome = Outcome(tasks[index], False,
                                              f"{type(exc).__name__}: {exc}")
                        with lock:
                            outcomes[index] = outcome
                        bar.set_postfix_str(outcome.task.label[-40:], refresh=False)
                        bar.update(1)
                except KeyboardInterrupt:
                    running.kill_all()  # workers run in their own sessions: stop them here
                    for future in futures:
                        future.cancel()
                    raise
    return [o for o in outcomes if o is not None]
