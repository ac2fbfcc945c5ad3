"""The records that cross the process boundaries of grading, each with one JSON form.

::

    parallel (parent) --TaskRecord-->  worker            a file the parent writes
    worker            --TaskResult-->  parallel          a file the worker writes
    worker            --KernelPlan-->  sandbox launcher  a file named on its command line
    JudgedExecute     --JudgeEvent-->  worker            JSON lines in a file named in its config

A :class:`Task` carries the :class:`StagedSubmission` the pre-grade scan made, and a
:class:`TaskRecord` the :class:`~autograder.config.GradingConfig` of the run. :func:`to_json`
and :func:`from_json` are the one serialisation of every record: a dataclass becomes an
object, an enum its value, and :func:`from_json` rebuilds both from the type hints.

This module imports only the standard library: the kernel launcher reads a plan with it.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from .config import GradingConfig

__all__ = [
    "EventKind",
    "JudgeEvent",
    "KernelPlan",
    "StagedSubmission",
    "Status",
    "Task",
    "TaskKind",
    "TaskRecord",
    "TaskResult",
    "TextEnum",
    "from_json",
    "to_json",
]


class TextEnum(str, Enum):
    """A string enum that prints as its value (what :class:`enum.StrEnum` does from 3.11)."""

    def __str__(self) -> str:
        return self.value


# --- the one serialisation --------------------------------------------------------------------


def to_json(record) -> str:
    """``record`` (a dataclass, possibly holding others and enums) as JSON text."""
    return json.dumps(_plain(record), sort_keys=True)


def from_json(cls, text: str):
    """The ``cls`` record that :func:`to_json` wrote as ``text``; ValueError when it is not."""
    try:
        return _build(cls, json.loads(text))
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"not a {cls.__name__} record: {exc}") from exc


def _plain(value):
    if dataclasses.is_dataclass(value):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


def _build(hint, data):
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):  # X | None
        if data is None:
            return None
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
        return _build(hint, data)
    if origin in (list, tuple):
        return origin(_build(typing.get_args(hint)[0], v) for v in data)
    if origin is dict:
        value_hint = typing.get_args(hint)[1]
        return {k: _build(value_hint, v) for k, v in data.items()}
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(data)
    if dataclasses.is_dataclass(hint):
        if not isinstance(data, dict):
            raise TypeError(f"{hint.__name__} must be a JSON object (got {type(data).__name__})")
        hints = typing.get_type_hints(hint)
        unknown = sorted(set(data) - set(hints))
        if unknown:
            raise TypeError(f"{hint.__name__} has no field {', '.join(unknown)}")
        return hint(**{name: _build(hints[name], value) for name, value in data.items()})
    if hint is float and isinstance(data, int):
        return float(data)
    return data


class Record:
    """``to_json()`` and ``Cls.from_json(text)``, through the module's one serialisation."""

    def to_json(self) -> str:
        return to_json(self)

    @classmethod
    def from_json(cls, text: str):
        return from_json(cls, text)


# --- a grading task and its result ----------------------------------------------------------


class TaskKind(TextEnum):
    GRADE = "grade"  # nbgrader autograde of one (assignment, student)
    VALIDATE = "validate"  # nbgrader's Validator on one notebook


class Status(TextEnum):
    DONE = "done"  # graded, or validated as it should be
    FAILED = "failed"  # the reason says why
    RETRYABLE = "retryable"  # failed in a way another attempt may not (a kernel that did not start)


@dataclass(frozen=True)
class StagedSubmission(Record):
    """Where the pre-grade scan staged a submission's regular files (repaired), and the test
    cells that score 0, grade_id -> why."""

    submitted_dir: str
    zero_cells: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Task(Record):
    """One unit of work: grade (assignment, student) or validate the notebook at ``path``
    (``invert``: no test may pass). ``staged``: grade the scan's staged copy, not submitted/.
    ``exercises``: the grade ids whose scores a regrade writes (empty: all)."""

    kind: TaskKind
    assignment: str
    student: str = ""
    path: str = ""
    invert: bool = False
    staged: StagedSubmission | None = None
    exercises: list[str] = field(default_factory=list)

    def __post_init__(self):
        object.__setattr__(self, "kind", TaskKind(self.kind))

    @property
    def label(self) -> str:
        if self.kind is TaskKind.GRADE:
            return f"{self.student}/{self.assignment}"
        what = "release (--invert)" if self.invert else "source"
        return f"validate {what} {Path(self.path).name}"


@dataclass(frozen=True)
class TaskRecord(Record):
    """What a worker is given: the task, the course and the grading configuration (whose
    ``db_url``, when set, is the gradebook in force)."""

    task: Task
    course_dir: str
    notebooks_dir: str
    config: GradingConfig = field(default_factory=GradingConfig)


@dataclass(frozen=True)
class TaskResult(Record):
    """What became of a task in its worker (or, when the worker left none, in the parent)."""

    status: Status
    reason: str = ""
    score: float | None = None
    max_score: float | None = None
    needs_manual_grade: bool = False
    cells: dict[str, float] = field(default_factory=dict)  # grade_id -> points
    seconds: float = 0.0
    max_rss_mb: float = 0.0

    def __post_init__(self):
        object.__setattr__(self, "status", Status(self.status))


# --- the kernel and the judge -----------------------------------------------------------------


@dataclass(frozen=True)
class KernelPlan(Record):
    """Everything the kernel launcher (:mod:`autograder.sandbox`) needs for one student."""

    sandbox: bool
    python: str
    hidden: list[str]  # folders covered by an empty read-only tmpfs
    blank_files: list[str]  # files covered by an empty one (a sqlite gradebook)
    read_only: list[str]  # folders put back, read-only
    writable: list[str]  # the kernel's socket folder
    files_from: str  # the submission folder whose regular files the kernel gets copies of
    run_dir: str
    font_cache: list[str]
    env: dict[str, str]
    max_processes: int = 0
    cgroup: str = ""
    memory_mb: int = 0
    cpu_seconds: int = 0
    file_mb: int = 0
    tmp_mb: int = 0


class EventKind(TextEnum):
    KERNEL_LOST = "kernel-lost"  # a cell killed or hung the kernel and was left out
    SEED = "seed"  # the seed the judge used for a test cell


@dataclass(frozen=True)
class JudgeEvent(Record):
    """Something the execute step reports to its worker, about one cell of one notebook."""

    kind: EventKind
    notebook: str
    cell: str = ""  # the grade_id ('' for a cell without one)
    detail: str = ""
    seed: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "kind", EventKind(self.kind))
