"""One grading configuration: the limits and settings of grading, read from the course.

Every command that grades, validates or checks reads one :class:`GradingConfig`: the
defaults below, then the ``c.Grading`` section of the course's ``nbgrader_config.py``,
then the command-line flags that were given. Workers receive it inside their task record,
never through environment variables. Reading it never writes to disk.

In ``nbgrader_config.py``::

    c.Grading.timeout = 1800      # seconds one student (or one validation) may take; 0: none
    c.Grading.memory_mb = 4096    # address-space cap per task, kernel included; 0: none
    c.Grading.retries = 1         # re-runs of a task whose kernel failed to start
    c.Grading.jobs = 0            # processes at a time; 0: the number of cores
    c.Grading.sandbox = True      # run kernels in bubblewrap where it works
    c.Grading.feedback_interval_minutes = 10  # serve-feedback: minutes between graded
    c.Grading.feedback_per_day = 20           # ... and graded per 24 h (per student and
                                              # assignment; 0: no limit)
    c.Grading.due = {"a3_minibatch": "2026-10-09 17:00 Europe/London"}  # due dates
                                              # (:mod:`autograder.late`; no zone: that of
                                              # c.Exchange.timezone)

The gradebook URL is nbgrader's own ``c.CourseDirectory.db_url``; for the commands that take
``--db``, that flag overrides it, else the environment variable ``MINIGRAD_GRADEBOOK_URL``
(:func:`gradebook_url`, read here only). The time one cell may run is nbgrader's
``c.Execute.timeout``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["GRADEBOOK_ENV", "SECTION", "GradingConfig", "gradebook_url", "read_section"]

SECTION = "Grading"
GRADEBOOK_ENV = "MINIGRAD_GRADEBOOK_URL"


@dataclass(frozen=True)
class GradingConfig:
    """The limits and settings of one grading run (see the module docstring)."""

    jobs: int = 0
    timeout: float = 1800.0
    memory_mb: int = 4096
    retries: int = 1
    sandbox: bool = True
    progress: bool | None = None  # None: a bar when the output is a terminal
    db_url: str = ""  # "": the course's own gradebook
    feedback_interval_minutes: float = 10.0  # serve-feedback only; 0: no limit
    feedback_per_day: int = 20  # serve-feedback only; 0: no limit
    due: dict[str, str] = field(default_factory=dict)  # assignment -> due date (late.py)

    def __post_init__(self):
        checks = [
            ("jobs", self.jobs >= 0, "a whole number >= 0 (0: the number of cores)"),
            ("timeout", self.timeout >= 0, "a number of seconds >= 0 (0: no limit)"),
            ("memory_mb", self.memory_mb >= 0, "a number of megabytes >= 0 (0: no cap)"),
            ("retries", self.retries >= 0, "a whole number >= 0"),
            ("feedback_interval_minutes", self.feedback_interval_minutes >= 0,
             "a number of minutes >= 0 (0: no limit)"),
            ("feedback_per_day", self.feedback_per_day >= 0,
             "a whole number >= 0 (0: no limit)"),
        ]
        for name, ok, what in checks:
            if not ok:
                raise ValueError(f"grading setting {name} must be {what} "
                                 f"(got {getattr(self, name)!r})")
        if not (isinstance(self.due, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in self.due.items())):
            raise ValueError("grading setting due must map assignment names to dates such as "
                             f"{{'a3_minibatch': '2026-10-09 17:00'}} (got {self.due!r})")
        if self.db_url and "://" not in self.db_url:
            raise ValueError("grading setting db_url must be a database URL such as "
                             f"postgresql://user@host/gradebook (got {self.db_url!r})")

    def replace(self, **changes) -> GradingConfig:
        """A copy with ``changes`` applied; a change of None keeps the current value."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def read(cls, course_dir: str | Path, **flags) -> GradingConfig:
        """The defaults, then ``c.Grading`` of ``course_dir``'s nbgrader_config.py, then
        ``flags`` (command-line values; None means not given)."""
        return cls().replace(**read_section(course_dir)).replace(**flags)

    @classmethod
    def from_args(cls, course_dir: str | Path, args) -> GradingConfig:
        """:meth:`read` with the grading flags of an argparse namespace (absent ones ignored):
        ``--jobs --timeout --memory-mb --retries --no-progress --no-sandbox --db`` (see
        :func:`gradebook_url`)."""
        flags = {name: getattr(args, name, None)
                 for name in ("jobs", "timeout", "memory_mb", "retries")}
        if getattr(args, "no_progress", False):
            flags["progress"] = False
        if getattr(args, "no_sandbox", False):
            flags["sandbox"] = False
        flags["db_url"] = gradebook_url(args) or None
        return cls.read(course_dir, **flags)


def gradebook_url(args) -> str:
    """The gradebook URL a command was given: ``--db``, else ``$MINIGRAD_GRADEBOOK_URL`` for a
    command that takes ``--db``; '' when neither (the course's own gradebook).

    Commands without ``--db`` (check, selfgrade: scratch courses) ignore the variable."""
    if not hasattr(args, "db"):
        return ""
    return (args.db or os.environ.get(GRADEBOOK_ENV, "")).strip()


def read_section(course_dir: str | Path) -> dict:
    """The ``c.Grading`` settings of the course's nbgrader_config.py ({} without a file)."""
    from traitlets.config.loader import PyFileConfigLoader

    from .course import CONFIG_NAME, PipelineError

    path = Path(course_dir) / CONFIG_NAME
    if not path.is_file():
        return {}
    try:
        section = PyFileConfigLoader(CONFIG_NAME, path=str(path.parent)).load_config()[SECTION]
    except Exception as exc:  # a broken config file is the instructor's to fix
        raise PipelineError(f"could not load {path}: {exc}") from exc
    names = {f.name for f in dataclasses.fields(GradingConfig)} - {"progress", "db_url"}
    unknown = sorted(set(section) - names)
    if unknown:
        raise PipelineError(
            f"{path}: c.{SECTION} has no setting {', '.join(unknown)} "
            f"(known: {', '.join(sorted(names))})")
    return dict(section)
