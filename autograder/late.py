"""Deadlines: due dates from the course config, per-student extensions with a log, and the
late policy, applied through nbgrader's own late-submission mechanism.

- **Due dates**: ``c.Grading.due = {"a3_minibatch": "2026-10-09 17:00 Europe/London"}``
  (:func:`parse_due`: ``YYYY-MM-DD HH:MM``, then an optional time-zone name; without one,
  the wall time is read in ``c.Exchange.timezone``, UTC by default). ``release``, and
  ``grade`` before grading, write them to nbgrader's ``Assignment.duedate`` (UTC). An
  assignment the config does not name keeps the gradebook's due date.
- **Extensions**: ``extend`` logs each grant or removal in the gradebook's table
  ``late_extensions`` (who, when, what, why); the last entry of a student and assignment is
  in force. It is written to nbgrader's ``SubmittedAssignment.extension`` at once when the
  submission is in the gradebook, and by ``grade`` before every autograde, so a regrade or a
  re-collect keeps it.
- **The policy**: :class:`LatePolicy`, nbgrader's ``LateSubmissionPlugin`` with more
  methods, set as ``c.AssignLatePenalties.plugin_class``; nbgrader's autograde stores its
  penalty per notebook (``late_submission_penalty``), so formgrader shows it. ``report``,
  ``export`` and ``feedback`` work the penalty out again with :meth:`LatePolicy.penalty` for
  the score as it stands (after a manual grade or an override); with another plugin they
  show the penalty nbgrader stored.

Lateness needs a submission time (nbgrader's ``timestamp.txt``). A Canvas download gives
none (:mod:`autograder.collect`): such a submission is not late by time, no penalty is
computed, and what Canvas marked (late or not) is shown instead (:class:`Lateness`).
"""

from __future__ import annotations

import getpass
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbgrader.plugins import LateSubmissionPlugin
from traitlets import Bool, Enum, Float

from .course import Course, PipelineError
from .sidetable import ensure_table, read_rows

__all__ = [
    "Extension",
    "LateNote",
    "LatePolicy",
    "Lateness",
    "active_extensions",
    "apply_extensions",
    "course_policy",
    "course_zone",
    "due_dates",
    "extend",
    "extensions",
    "format_duration",
    "late_mark",
    "parse_due",
    "write_due_dates",
]

TABLE = "late_extensions"
DAY = 86400.0
_DUE = re.compile(r"(?P<when>\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d)?)(?:\s+(?P<zone>\S+))?")
_DUE_FORM = "'YYYY-MM-DD HH:MM', then optionally a time zone such as Europe/London"


# --- the policy ---------------------------------------------------------------------------------


class LatePolicy(LateSubmissionPlugin):
    """The course's late policy (``c.LatePolicy``), nbgrader's late-submission plugin.

    A notebook ``seconds_late`` after its student's due date loses:

    - ``none``: nothing; ``zero``: everything (nbgrader's own two methods);
    - ``fixed``: ``percent`` % once;
    - ``per_day``: ``percent`` % per day late, a part of a day counting as a day;

    of its points (``percent_of = "points"``) or of the points earned (``"score"``), never
    more than its score. Late by more than ``cutoff_days`` (when not 0), it scores 0.
    nbgrader works a penalty out per notebook and adds them up, so with ``"points"`` an
    assignment loses ``percent`` % of its points per day in all.
    """

    penalty_method = Enum(
        ("none", "zero", "fixed", "per_day"), default_value="none",
        help="none, zero (the score), fixed (percent once) or per_day (percent per day "
             "late, a part day counting as a day)").tag(config=True)
    percent = Float(0.0, help="the percent taken off, once (fixed) or per day (per_day)"
                    ).tag(config=True)
    percent_of = Enum(("points", "score"), default_value="points",
                      help="percent of the notebook's points or of the points earned"
                      ).tag(config=True)
    cutoff_days = Float(0.0, help="late by more than this many days scores 0; 0: no cut-off"
                        ).tag(config=True)

    def check(self) -> None:
        """ValueError unless the settings make a policy."""
        if not 0 <= self.percent <= 100:
            raise ValueError(f"c.LatePolicy.percent must be between 0 and 100 "
                             f"(got {self.percent:g})")
        if self.penalty_method in ("fixed", "per_day") and self.percent == 0:
            raise ValueError(f"c.LatePolicy.percent must be above 0 for penalty_method "
                             f"{self.penalty_method!r} (got 0)")
        if self.cutoff_days < 0:
            raise ValueError(f"c.LatePolicy.cutoff_days must be >= 0, 0 for no cut-off "
                             f"(got {self.cutoff_days:g})")

    def penalty(self, score: float, max_score: float, seconds_late: float) -> float:
        """The points a notebook scoring ``score`` of ``max_score`` loses, ``seconds_late``
        after its due date (0 when not late)."""
        score = max(0.0, float(score))
        if seconds_late <= 0 or self.penalty_method == "none":
            return 0.0
        if self.penalty_method == "zero" or (
                self.cutoff_days and seconds_late > self.cutoff_days * DAY):
            return score
        base = float(max_score) if self.percent_of == "points" else score
        times = 1 if self.penalty_method == "fixed" else math.ceil(seconds_late / DAY)
        return min(score, round(base * self.percent / 100 * times, 6))

    def describe(self) -> str:
        """The policy in one phrase, for reports and feedback pages."""
        of = "the points" if self.percent_of == "points" else "the points earned"
        text = {"none": "no late penalty",
                "zero": "a late submission scores 0",
                "fixed": f"{self.percent:g}% of {of} off when late",
                "per_day": f"{self.percent:g}% of {of} off per day late (a part day counts "
                           "as a day)"}[self.penalty_method]
        if self.cutoff_days and self.penalty_method in ("fixed", "per_day"):
            text += f"; more than {self.cutoff_days:g} day(s) late scores 0"
        return text

    def late_submission_penalty(self, student_id: str, score: float,
                                total_seconds_late: float) -> float:
        """nbgrader's hook, called by ``AssignLatePenalties`` (our parent) for one notebook."""
        step = self.parent  # it holds the open gradebook and names the notebook
        notebook = step.gradebook.find_submission_notebook(
            step.notebook_id, step.assignment_id, step.student_id)
        return self.penalty(score, float(notebook.max_score), total_seconds_late)


def course_policy(cfg) -> LatePolicy | None:
    """The course's :class:`LatePolicy` (``cfg``: its traitlets Config), None when
    ``c.AssignLatePenalties.plugin_class`` is another plugin (nbgrader's stored penalty then
    stands); PipelineError when the settings are wrong or would be ignored."""
    from traitlets import TraitError
    from traitlets.utils.importstring import import_item

    plugin = None
    if "AssignLatePenalties" in cfg and "plugin_class" in cfg.AssignLatePenalties:
        plugin = cfg.AssignLatePenalties.plugin_class
        if isinstance(plugin, str):
            try:
                plugin = import_item(plugin)
            except ImportError as exc:
                raise PipelineError(f"c.AssignLatePenalties.plugin_class must name a class "
                                    f"nbgrader can import (got {plugin!r}: {exc})") from exc
    if not (isinstance(plugin, type) and issubclass(plugin, LatePolicy)):
        if "LatePolicy" in cfg:
            raise PipelineError(
                "c.LatePolicy is set, so c.AssignLatePenalties.plugin_class must be "
                f"'autograder.late.LatePolicy' for nbgrader to apply it (got "
                f"{getattr(plugin, '__qualname__', plugin) or 'nbgrader default'})")
        return None
    try:
        policy = plugin(config=cfg)
        policy.check()
    except (TraitError, ValueError) as exc:
        raise PipelineError(f"late policy: {exc}") from exc
    return policy


# --- due dates ----------------------------------------------------------------------------------


def course_zone(cfg):
    """The course's time zone, nbgrader's ``c.Exchange.timezone`` (UTC when not set)."""
    name = cfg.Exchange.timezone if "Exchange" in cfg and "timezone" in cfg.Exchange else "UTC"
    return _zone(name, f"c.Exchange.timezone must name a time zone such as Europe/London "
                       f"(got {name!r})")


def _zone(name: str, error: str):
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise PipelineError(error) from None


def parse_due(assignment: str, text, zone) -> datetime:
    """``c.Grading.due[assignment]`` as naive UTC; a wall time with no zone name is read in
    ``zone``. PipelineError naming the form when it is not one."""
    where = f"c.Grading.due[{assignment!r}]"
    found = _DUE.fullmatch(text.strip()) if isinstance(text, str) else None
    if not found:
        raise PipelineError(f"{where} must be {_DUE_FORM} (got {text!r})")
    try:
        wall = datetime.fromisoformat(found["when"])
    except ValueError as exc:
        raise PipelineError(f"{where} must be a real date and time, {_DUE_FORM} "
                            f"(got {text!r}: {exc})") from None
    if found["zone"]:
        zone = _zone(found["zone"], f"{where} must end with a time zone name such as "
                                    f"Europe/London or UTC (got {found['zone']!r})")
    return wall.replace(tzinfo=zone).astimezone(timezone.utc).replace(tzinfo=None)


def due_dates(course: Course, due: dict[str, str]) -> dict[str, datetime]:
    """assignment -> due date (naive UTC) of ``due`` (``c.Grading.due``); PipelineError for
    a bad date or an assignment the course does not have."""
    if not due:
        return {}
    known = set(course.notebook_assignments()) | set(course.source_assignments())
    unknown = sorted(set(due) - known)
    if unknown:
        raise PipelineError(f"c.Grading.due names {', '.join(map(repr, unknown))}: each key "
                            f"must be an assignment of the course (known: "
                            f"{', '.join(sorted(known)) or 'none'})")
    zone = course_zone(course.config())
    return {name: parse_due(name, text, zone) for name, text in sorted(due.items())}


def write_due_dates(course: Course, due: dict[str, str]) -> dict[str, datetime]:
    """Write ``due`` (``c.Grading.due``) to the gradebook's assignments that exist; return
    what was written."""
    dates = due_dates(course, due)
    written = {}
    if not dates:
        return written
    with course.gradebook() as gb:
        present = {a.name: a for a in gb.assignments}
        for name, when in dates.items():
            if name in present:
                if present[name].duedate != when:
                    present[name].duedate = when
                written[name] = when
        gb.db.commit()
    return written


# --- extensions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """One logged grant (``minutes`` > 0) or removal (0) of an extension."""

    assignment: str
    student: str
    minutes: float
    reason: str
    who: str
    at: datetime

    def line(self) -> str:
        what = f"+{format_duration(self.minutes * 60)}" if self.minutes else "removed"
        return (f"{self.at:%Y-%m-%d %H:%M:%S} UTC  {self.who}  {self.assignment}  "
                f"{self.student}  {what}  {self.reason}")


def _table(metadata):
    from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text

    return Table(
        TABLE, metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("assignment", String(128), nullable=False),
        Column("student", String(128), nullable=False),
        Column("minutes", Float, nullable=False),
        Column("reason", Text, nullable=False),
        Column("who", String(128), nullable=False),
        Column("at", DateTime, nullable=False),
    )


def extensions(db_url: str, assignment: str | None = None,
               student: str | None = None) -> list[Extension]:
    """The log of the gradebook at ``db_url``, oldest first; only ``assignment``'s and
    ``student``'s when given."""
    return [Extension(**row)
            for row in read_rows(db_url, _table, assignment=assignment, student=student)]


def active_extensions(db_url: str) -> dict[tuple[str, str], timedelta]:
    """(assignment, student) -> the extension in force (the last logged entry, if not a
    removal)."""
    last = {(e.assignment, e.student): e.minutes for e in extensions(db_url)}
    return {key: timedelta(minutes=m) for key, m in last.items() if m}


def extend(course: Course, assignment: str, student: str, days: float = 0, hours: float = 0,
           reason: str = "", remove: bool = False) -> Extension:
    """Give ``student`` ``days`` + ``hours`` more for ``assignment`` (``remove``: take the
    extension in force away), log it and set nbgrader's extension when the submission is in
    the gradebook. PipelineError, with nothing written, when anything is wrong."""
    from nbgrader.api import MissingEntry
    from sqlalchemy import MetaData

    if not reason.strip():
        raise PipelineError("extend: --reason must say why (got nothing)")
    if not student.strip():
        raise PipelineError("extend: STUDENT must be a student id (got nothing)")
    if remove and (days or hours):
        raise PipelineError(f"extend --remove takes the extension away: give no --days or "
                            f"--hours (got --days {days:g} --hours {hours:g})")
    minutes = 0.0 if remove else (days * 24 + hours) * 60
    if not remove and not (days >= 0 and hours >= 0 and minutes > 0):
        raise PipelineError(f"extend: --days and --hours must be >= 0 and give more than 0 "
                            f"(got --days {days:g} --hours {hours:g}; --remove takes one away)")
    if remove and (assignment, student) not in active_extensions(course.db_url()):
        raise PipelineError(f"extend --remove: {student} has no extension for {assignment}")
    record = Extension(assignment, student, minutes, reason.strip(), getpass.getuser(),
                       datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0))
    with course.gradebook() as gb:
        known = sorted(a.name for a in gb.assignments)
        if assignment not in known:
            raise PipelineError(f"extend: ASSIGNMENT must be released to the gradebook "
                                f"(got {assignment!r}; known: {', '.join(known) or 'none'})")
        table = _table(MetaData())
        ensure_table(gb.db.connection(), table)
        gb.db.execute(table.insert().values(
            assignment=assignment, student=student, minutes=minutes, reason=record.reason,
            who=record.who, at=record.at))
        try:
            submission = gb.find_submission(assignment, student)
        except MissingEntry:
            pass
        else:
            submission.extension = timedelta(minutes=minutes) if minutes else None
        gb.db.commit()
    return record


def apply_extensions(course: Course, pairs) -> None:
    """Set nbgrader's extension of each (assignment, student) in ``pairs`` to the one in
    force, creating the submission when needed; clear one no longer in force."""
    from nbgrader.api import MissingEntry

    active = active_extensions(course.db_url())
    with course.gradebook() as gb:
        for assignment, student in pairs:
            extension = active.get((assignment, student))
            if extension is not None:
                gb.update_or_create_submission(assignment, student, extension=extension)
                continue
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            if submission.extension is not None:
                submission.extension = None
                gb.db.commit()


# --- how late, said once ------------------------------------------------------------------------


def format_duration(seconds: float) -> str:
    """``2d 3h``, ``3h 12m``, ``12m``, ``40s``: the two largest units."""
    seconds = int(round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m"), (secs, "s"))
             if v]
    return " ".join(parts[:2]) or "0s"


@dataclass(frozen=True)
class Lateness:
    """When one submission was due (UTC, its extension included) and handed in, and the
    LMS's own late mark (None when the LMS gives none)."""

    due: datetime | None = None
    extension: timedelta | None = None
    submitted: datetime | None = None
    lms: str = ""
    lms_late: bool | None = None

    @classmethod
    def of(cls, submission, record=None) -> Lateness:
        """The lateness of nbgrader's SubmittedAssignment and its ``lms.json`` record."""
        return cls(submission.duedate, submission.extension, submission.timestamp,
                   record.lms if record else "", record.late if record else None)

    @property
    def seconds_late(self) -> float | None:
        """Seconds after the due date (0: on time); None when either time is unknown."""
        if self.due is None or self.submitted is None:
            return None
        return max(0.0, (self.submitted - self.due).total_seconds())

    def label(self) -> str:
        """'on time', 'late 1d 2h', the LMS's mark when there is no time, or '' when
        nothing says (no due date and no mark)."""
        late = self.seconds_late
        if late is not None:
            return f"late {format_duration(late)}" if late else "on time"
        lms = self.lms.capitalize() or "the LMS"
        if self.lms_late is not None:
            why = "no submission time" if self.submitted is None else "no due date"
            return (f"{'late' if self.lms_late else 'on time'} by {lms}'s mark ({why}: "
                    "no penalty computed)")
        if self.due is not None:
            return "lateness unknown (no submission time: no penalty computed)"
        return ""


def late_mark(lateness: Lateness | None, penalty: float) -> str:
    """What follows a score in a table: ' late 1d 2h -1', ' late' (the LMS's mark),
    ' late?' (due, with no time and no mark), or ''."""
    seconds = lateness.seconds_late if lateness else None
    if seconds:
        text = f" late {format_duration(seconds)}"
    elif (lateness and lateness.lms_late) or penalty:
        text = " late"
    elif (lateness and lateness.due is not None and seconds is None
          and lateness.lms_late is None):  # due, and neither a time nor an LMS's mark
        text = " late?"
    else:
        text = ""
    return text + (f" -{penalty:g}" if penalty else "")


def submission_penalty(policy: LatePolicy | None, submission, lateness: Lateness) -> float:
    """The penalty of nbgrader's SubmittedAssignment ``submission`` for its score as it
    stands: ``policy``'s, per notebook and added up; nbgrader's stored one without a policy."""
    if policy is None:
        return float(submission.late_submission_penalty or 0.0)
    seconds = lateness.seconds_late or 0.0
    return sum(policy.penalty(float(nb.score), float(nb.max_score), seconds)
               for nb in submission.notebooks)


class LateNote(Preprocessor):
    """Feedback: a line first on the page saying when the submission was handed in, when it
    was due (with the extension), how late, the penalty and the policy; the page's score
    uses the policy's penalty for the score as it stands."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_markdown_cell
        from nbgrader.api import Gradebook
        from nbgrader.coursedir import CourseDirectory

        from .collect import LmsRecord

        info = resources["nbgrader"]
        coursedir = CourseDirectory(config=self.config)
        folder = Path(coursedir.format_path(coursedir.submitted_directory, info["student"],
                                            info["assignment"]))
        policy = course_policy(self.config)
        with Gradebook(info["db_url"]) as gb:
            submission = gb.find_submission(info["assignment"], info["student"])
            notebook = gb.find_submission_notebook(info["notebook"], info["assignment"],
                                                   info["student"])
            lateness = Lateness.of(submission, LmsRecord.read(folder))
            score, top = float(notebook.score), float(notebook.max_score)
            penalty = (float(notebook.late_submission_penalty or 0.0) if policy is None else
                       policy.penalty(score, top, lateness.seconds_late or 0.0))
        info["late_penalty"] = penalty
        info["score"] = score - penalty
        text = _note(lateness, penalty, policy, course_zone(self.config))
        if text:
            nb.cells.insert(0, new_markdown_cell(f"> {text}"))
        return nb, resources


def _note(lateness: Lateness, penalty: float, policy: LatePolicy | None, zone) -> str:
    """The feedback page's line (see :class:`LateNote`); '' when nothing is known."""
    label = lateness.label()
    if not label and not penalty:
        return ""

    def shown(when: datetime) -> str:
        local = when.replace(tzinfo=timezone.utc).astimezone(zone)
        return f"{local:%Y-%m-%d %H:%M} ({zone.key})"

    parts = [f"Submitted {shown(lateness.submitted)}" if lateness.submitted else
             "Submission time unknown"]
    if lateness.due is not None:
        extra = (f", with an extension of {format_duration(lateness.extension.total_seconds())}"
                 if lateness.extension else "")
        parts.append(f"due {shown(lateness.due)}{extra}")
    parts.append(label or "late")
    rule = policy.describe() if policy is not None else "nbgrader's late-submission plugin"
    parts.append(f"late penalty -{penalty:g} ({rule})" if penalty else
                 f"no late penalty ({rule})")
    return "**" + "; ".join(parts) + ".**"
