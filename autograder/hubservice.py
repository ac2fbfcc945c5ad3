"""Feedback on submission: grade each submission in nbgrader's exchange once, on the server.

``python -m autograder serve-feedback`` runs :meth:`FeedbackService.serve`, a loop of
:meth:`FeedbackService.process_once` passes. A pass reads the exchange's inbound folder and,
for each submission not seen before, in exchange-timestamp order:

- a folder named for another student than the OS user who made it, or with a timestamp that
  is not a date or lies in the future, is set aside unread and recorded ``refused``
  (:func:`autograder.exchange.set_aside`);
- records it in the ledger (``course/feedback-service.jsonl``) as ``queued``;
- when a newer submission of the same student and assignment is already in the exchange, marks
  it ``superseded`` (collect takes the latest only);
- when it is over the student's limits (``c.Grading.feedback_interval_minutes``,
  ``c.Grading.feedback_per_day``, per student and assignment, counted on the service's clock
  when the submission was first seen, not on the timestamp the student's side wrote), marks
  it ``limited`` and puts a short page in the student's feedback saying when the next graded
  submission is allowed;
- else marks it ``grading``, collects it into submitted/ (:func:`collect_from_exchange`),
  grades that one student with the kit's grader (:func:`autograder.grading.grade`: scan,
  trusted judge, sandbox), generates the feedback and releases it to that student through the
  exchange, and marks it ``graded`` (or ``failed`` with the reason, and a page saying so).

Exactly once: the ledger is rewritten whole and atomically (temporary file, then rename)
after every change of state, and one service at a time holds its lock. An entry left
``grading`` (the service died mid-grade) is graded again on the next pass, once; a second
death marks it ``failed``. A submission missing from the ledger (a lost ledger) whose
timestamp the gradebook already holds is recorded as ``graded`` without grading it again.

The instructor's own ``collect`` + ``grade`` + ``feedback`` is not limited and uses the same
grader.

Tested without a hub (tests/test_hubservice.py: order, once only, feedback to its student
only, resubmission, both limits, a death mid-grade, a lost ledger, submissions set aside) and
as the hub's managed service (tests/test_hub.py, hub/jupyterhub_config.py). A submission
found graded in the gradebook (lost ledger) does not count towards the limits.
"""

from __future__ import annotations

import fcntl
import html
import json
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .config import GradingConfig
from .course import Course, PipelineError
from .exchange import (
    REFUSED,
    _api,
    _check_owner,
    _course_id,
    collect_from_exchange,
    exchange_root,
    inbound_folders,
    release_feedback,
    set_aside,
)
from .feedback import generate_feedback
from .grading import grade

__all__ = ["LEDGER_NAME", "Entry", "FeedbackService"]

LEDGER_NAME = "feedback-service.jsonl"
_DAY = timedelta(days=1)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _show(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@dataclass
class Entry:
    """One submission in the exchange as the ledger records it.

    ``state``: queued, grading, graded, failed, limited, superseded or refused (set aside by
    :func:`autograder.exchange.set_aside`: made in another's name, or a bad timestamp);
    ``seen``: when the service first saw it (ISO, UTC); ``attempts``: grading runs started."""

    student: str
    assignment: str
    timestamp: str  # the exchange's, as nbgrader wrote it
    folder: str  # its folder in inbound/
    seen: str
    state: str = "queued"
    attempts: int = 0
    score: float | None = None
    max_score: float | None = None
    note: str = ""

    @property
    def key(self) -> tuple[str, str, str]:
        return self.student, self.assignment, self.timestamp

    def line(self) -> str:
        score = (f" {self.score:g}/{self.max_score:g}"
                 if self.score is not None and self.max_score is not None else "")
        return (f"{self.student} {self.assignment} {self.timestamp}: {self.state}{score}"
                + (f" ({self.note})" if self.note else ""))

    def stamp(self) -> datetime:
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(self.timestamp)
        except (ValueError, OverflowError):  # a refused folder's name need not hold a date
            return datetime.min


class FeedbackService:
    """Grades new exchange submissions of ``course`` (see the module docstring)."""

    def __init__(self, course: Course, root: str | Path | None = None,
                 config: GradingConfig | None = None):
        self.course = course
        self.root = exchange_root(course, root)
        self.config = config or GradingConfig.read(course.course_dir)
        api = _api(course, self.root)
        self.course_id = _course_id(api)
        self.check_owner = _check_owner(api)
        self.ledger_path = course.course_dir / LEDGER_NAME

    # -- the ledger --------------------------------------------------------------------------
    def entries(self) -> list[Entry]:
        """The ledger, oldest submission first."""
        if not self.ledger_path.is_file():
            return []
        lines = self.ledger_path.read_text().splitlines()
        return [Entry(**json.loads(line)) for line in lines if line.strip()]

    def _save(self, entries: list[Entry]) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.ledger_path.parent, prefix=".ledger-")
        with os.fdopen(fd, "w") as fh:
            for entry in sorted(entries, key=Entry.stamp):
                fh.write(json.dumps(asdict(entry)) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.ledger_path)

    # -- one pass ----------------------------------------------------------------------------
    def process_once(self) -> list[Entry]:
        """Handle every submission not handled yet, in timestamp order; return those handled."""
        lock_path = self.ledger_path.with_name(f".{LEDGER_NAME}.lock")
        with open(lock_path, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise PipelineError(f"another feedback service holds {lock_path}") from None
            return self._pass()

    def _pass(self) -> list[Entry]:
        entries = self.entries()
        known = {e.key for e in entries}
        released = set(self.course.released_assignments())
        new = [e for e in self._inbound() if e.key not in known
               and (e.assignment in released or e.state == "refused")]
        for entry in new:
            if entry.state == "queued" and self._in_gradebook(entry):
                entry.state, entry.note = "graded", "found graded in the gradebook"
        if new:
            entries += new
            self._save(entries)
        latest: dict[tuple[str, str], datetime] = {}
        for e in entries:
            if e.state != "refused":
                key = e.student, e.assignment
                latest[key] = max(latest.get(key, e.stamp()), e.stamp())
        handled = [e for e in new if e.state == "refused"]
        for entry in sorted(entries, key=Entry.stamp):
            if entry.state not in ("queued", "grading"):
                continue
            if entry.stamp() < latest[entry.student, entry.assignment]:
                entry.state, entry.note = "superseded", "a newer submission followed"
            elif entry.state == "grading" and entry.attempts >= 2:
                entry.state, entry.note = "failed", "grading stopped twice before finishing"
            else:
                self._handle(entry, entries)
            self._save(entries)
            handled.append(entry)
        return handled

    def _inbound(self) -> list[Entry]:
        inbound = self.root / self.course_id / "inbound"
        seen = _now().isoformat()
        found = [Entry(r.student, r.assignment, r.timestamp, REFUSED + r.folder, seen,
                       state="refused", note=r.why)
                 for r in set_aside(inbound, self.check_owner)]
        for folder in inbound_folders(inbound):
            if (folder.folder / "timestamp.txt").is_file():
                found.append(Entry(folder.student, folder.assignment, folder.timestamp,
                                   folder.folder.name, seen))
        return found

    def _in_gradebook(self, entry: Entry) -> bool:
        from nbgrader.api import MissingEntry

        with self.course.gradebook() as gb:
            try:
                got = gb.find_submission(entry.assignment, entry.student).timestamp
            except MissingEntry:
                return False
        return got is not None and got.replace(tzinfo=None) == \
            entry.stamp().replace(tzinfo=None)

    def _over_limit(self, entry: Entry, entries: list[Entry]) -> datetime | None:
        """When the next graded submission is allowed, if ``entry`` is over a limit; else None."""
        now = datetime.fromisoformat(entry.seen)
        graded = sorted(datetime.fromisoformat(e.seen) for e in entries
                        if e.state == "graded" and e.attempts
                        and (e.student, e.assignment) == (entry.student, entry.assignment))
        nexts = []
        interval = timedelta(minutes=self.config.feedback_interval_minutes)
        if interval and graded and now < graded[-1] + interval:
            nexts.append(graded[-1] + interval)
        per_day = self.config.feedback_per_day
        today = [t for t in graded if t > now - _DAY]
        if per_day and len(today) >= per_day:
            nexts.append(today[-per_day] + _DAY)
        return max(nexts) if nexts else None

    def _handle(self, entry: Entry, entries: list[Entry]) -> None:
        allowed = self._over_limit(entry, entries)
        if allowed is not None:
            entry.state = "limited"
            entry.note = f"over the limit; next graded submission from {_show(allowed)}"
            self._page(entry, "Not graded yet",
                       f"This submission was not graded: graded submissions of "
                       f"{entry.assignment} are limited. The next graded submission is "
                       f"allowed from {_show(allowed)}; submit again then.")
            return
        entry.state = "grading"
        entry.attempts += 1
        self._save(entries)
        try:
            self._grade(entry)
        except PipelineError as exc:
            entry.state, entry.note = "failed", str(exc)
        if entry.state == "failed":
            self._page(entry, "Not graded",
                       "This submission could not be graded; your instructor has the reason.")

    def _grade(self, entry: Entry) -> None:
        from nbgrader.utils import parse_utc

        # this student only: collecting the whole class for each submission would make a
        # burst of n submissions cost n * n nbgrader collects
        done = collect_from_exchange(self.course, entry.assignment, self.root,
                                     only=entry.student)
        collected = {c.student: c.timestamp for c in done}.get(entry.student)
        if collected and collected != entry.timestamp and \
                parse_utc(collected) > entry.stamp():  # arrived since this pass began
            entry.state, entry.note = "superseded", "a newer submission followed"
            return
        if collected != entry.timestamp:
            entry.state = "failed"
            entry.note = (f"collect should hold the submission of {entry.timestamp} "
                          f"(got {collected})")
            return
        [outcome] = grade(self.course, [entry.assignment], [entry.student], config=self.config)
        if not outcome.ok:
            entry.state, entry.note = "failed", outcome.reason
            return
        note = (f"Automatic feedback on your submission of {entry.timestamp}, graded on the "
                "server. It is not your final grade: your instructor's may add points graded "
                "by hand or a late penalty.")
        problems = generate_feedback(self.course, entry.assignment, entry.student, note=note)
        if problems:
            entry.state, entry.note = "failed", "; ".join(problems)
            return
        release_feedback(self.course, entry.assignment, entry.student, self.root)
        entry.state, entry.score, entry.max_score = "graded", outcome.score, outcome.max_score
        entry.note = ""

    def _page(self, entry: Entry, title: str, text: str) -> None:
        """Put a short page in the exchange where ``entry``'s student fetches its feedback."""
        from nbgrader.utils import notebook_hash

        submission = self.root / self.course_id / "inbound" / entry.folder
        secret = (submission / "submission_secret.txt").read_text()
        outbound = self.root / self.course_id / "feedback"
        outbound.mkdir(mode=0o755, exist_ok=True)
        page = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{html.escape(title)}"
                f"</title></head>\n<body><h1>{html.escape(title)}</h1>\n"
                f"<p>{html.escape(text)}</p></body></html>\n")
        for notebook in sorted(submission.glob("*.ipynb")):
            name = notebook_hash(secret=secret, notebook_id=notebook.stem)
            tmp = outbound / f"{name}-tmp.html"
            tmp.write_text(page)
            os.chmod(tmp, 0o644)
            os.replace(tmp, outbound / f"{name}.html")

    # -- the loop ----------------------------------------------------------------------------
    def serve(self, every: float = 10.0, say=print) -> None:
        """Run a pass every ``every`` seconds until interrupted, saying what each did."""
        while True:
            for entry in self.process_once():
                say(entry.line())
            time.sleep(every)
