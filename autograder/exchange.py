"""The instructor's side of nbgrader's exchange: publish releases, collect submissions,
release feedback.

Students on the same machine (a JupyterHub, a shared server) fetch and submit with
nbgrader's Assignment List; this module does the instructor's half with nbgrader's own
exchange classes (through ``NbGraderAPI``). The exchange root is ``c.Exchange.root`` of the
course's nbgrader_config.py unless a command is given ``--exchange-root``; the course id is
``c.CourseDirectory.course_id``.

Collecting never loses a collected copy silently: a newer submission replaces an older
collected one (and the line says so), an older one never replaces a newer one, and a
collected copy with no ``timestamp.txt`` (imported from an LMS zip or by hand) is kept and
named, since nothing says which of the two is newer.

A student can write any folder name into the inbound (nbgrader makes it writable by all but
listable by none). Before anything is collected, :func:`set_aside` renames, out of
nbgrader's sight (``.refused-<name>``), every submission folder whose name claims another
student than the OS user who owns it (nbgrader itself only warns), whose timestamp is not a
date, or whose timestamp is over an hour in the future (it would stay "the latest" for
good). ``c.ExchangeCollect.check_owner = False`` turns the owner check off (nbgrader's own
switch), for exchanges where users are not OS users.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from .course import Course, PipelineError, apply_grading_environment

__all__ = ["REFUSED", "Collected", "InboundFolder", "Refused", "collect_from_exchange",
           "exchange_root", "inbound_folders", "publish", "release_feedback", "set_aside"]

REFUSED = ".refused-"  # prefix of a set-aside submission folder (glob's * skips dot names)
_FUTURE = timedelta(hours=1)


def _api(course: Course, root: str | Path | None):
    """nbgrader's NbGraderAPI for ``course`` with the exchange root in force."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    apply_grading_environment()
    cfg = course.config()
    if root is not None:
        cfg.Exchange.root = str(root)
    return NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)


def exchange_root(course: Course, root: str | Path | None = None) -> Path:
    """The exchange root in force; PipelineError unless it is a folder this user can write."""
    from nbgrader.exchange.default import Exchange

    if root is None:
        root = Exchange(config=course.config()).root
    root = Path(root)
    if root.is_dir() and os.access(root, os.W_OK | os.X_OK):
        return root
    got = "it is not writable by this user" if root.is_dir() else "no such folder"
    raise PipelineError(
        f"the exchange root {root} must be a folder everyone can write to (got: {got}); "
        f"create it once with `sudo mkdir -p {root} && sudo chmod 1777 {root}` (0o777 plus "
        "the sticky bit, as nbgrader documents), or set c.Exchange.root in nbgrader_config.py "
        "or --exchange-root"
    )


def _course_id(api) -> str:
    course_id = api.coursedir.course_id
    if not course_id:
        raise PipelineError("the exchange needs a course id: set c.CourseDirectory.course_id "
                            "in nbgrader_config.py (got none)")
    return course_id


def _check(result: dict | None, what: str) -> None:
    from .feedback import _last_error

    if not (result or {}).get("success"):
        raise PipelineError(f"nbgrader {what} failed: {_last_error(result or {})}")


def publish(course: Course, assignments: list[str], root: str | Path | None = None) -> Path:
    """Copy each released assignment to the exchange (nbgrader release_assignment), replacing
    an earlier copy there; return the course's folder in the exchange."""
    root = exchange_root(course, root)
    api = _api(course, root)
    course_id = _course_id(api)
    api.config.ExchangeReleaseAssignment.force = True  # release/ was just regenerated
    for assignment in assignments:
        _check(api.release_assignment(assignment), f"release_assignment of {assignment}")
    return root / course_id


@dataclass(frozen=True)
class Collected:
    """One student's outcome of collecting from the exchange.

    ``timestamp``: the submission now in submitted/ (None when none is); ``what``: collected,
    replaced (``previous`` was the older collected copy), unchanged, or kept with why."""

    student: str
    timestamp: str | None
    what: str
    previous: str | None = None

    def line(self) -> str:
        when = self.timestamp or "no timestamp"
        if self.what == "replaced":
            return f"{self.student}: {when} (replaced the copy submitted {self.previous})"
        return f"{self.student}: {when} ({self.what})"


@dataclass(frozen=True)
class Refused:
    """A submission folder :func:`set_aside` renamed, and why."""

    student: str  # as the folder's name claims
    assignment: str
    timestamp: str
    folder: str  # its name before it was set aside
    why: str

    def line(self) -> str:
        return f"{self.student}: refused {self.folder} ({self.why}); renamed {REFUSED}{self.folder}"


def _check_owner(api) -> bool:
    section = api.config.ExchangeCollect
    return bool(section.check_owner) if "check_owner" in section else True


@dataclass(frozen=True)
class InboundFolder:
    """A submission folder of the exchange's inbound, as its name reads."""

    student: str
    assignment: str
    timestamp: str
    folder: Path


def inbound_folders(inbound: Path) -> list[InboundFolder]:
    """The submission folders of ``inbound``, named as nbgrader names them,
    ``<student>+<assignment>+<timestamp>[+<random>]``; set-aside ones are left out."""
    found = []
    for folder in sorted(inbound.glob("[!.]*")) if inbound.is_dir() else []:
        parts = folder.name.split("+")
        if len(parts) in (3, 4) and folder.is_dir():
            found.append(InboundFolder(*parts[:3], folder))
    return found


def set_aside(inbound: Path, check_owner: bool = True) -> list[Refused]:
    """Rename the submission folders of ``inbound`` that must not be collected (see the
    module docstring) to ``.refused-<name>``; return them."""
    from nbgrader.utils import parse_utc

    refused = []
    now = datetime.now(timezone.utc)
    for found in inbound_folders(inbound):
        student, assignment, stamp, folder = (found.student, found.assignment,
                                              found.timestamp, found.folder)
        try:
            when = parse_utc(stamp).replace(tzinfo=timezone.utc)
            why = (f"its timestamp is in the future (now {now:%Y-%m-%d %H:%M} UTC)"
                   if when > now + _FUTURE else None)
        except (ValueError, OverflowError):
            why = f"its timestamp {stamp!r} is not a date"
        if why is None and check_owner:
            try:
                owner = pwd.getpwuid(folder.lstat().st_uid).pw_name
            except KeyError:
                owner = f"uid {folder.lstat().st_uid}"
            if owner != student:
                why = f"named for {student} but made by {owner}"
        if why is not None:
            folder.rename(folder.with_name(REFUSED + folder.name))
            refused.append(Refused(student, assignment, stamp, folder.name, why))
    return refused


def _submissions(inbound: Path, assignment: str) -> dict[str, datetime]:
    """The latest submission time of ``assignment`` per student in the exchange's inbound."""
    from nbgrader.utils import parse_utc

    latest: dict[str, datetime] = {}
    for found in inbound_folders(inbound):
        if found.assignment == assignment:
            stamp = parse_utc(found.timestamp)
            if found.student not in latest or stamp > latest[found.student]:
                latest[found.student] = stamp
    return latest


def collect_from_exchange(course: Course, assignment: str, root: str | Path | None = None,
                          only: str | None = None) -> list[Collected]:
    """Collect the latest submission of every student (only student ``only``'s when given) into
    submitted/<student>/<assignment>/ with nbgrader's collect (``--update``: only newer
    submissions replace collected ones)."""
    from nbgrader.utils import temp_attrs

    root = exchange_root(course, root)
    api = _api(course, root)
    inbound = root / _course_id(api) / "inbound"
    if not inbound.is_dir():
        raise PipelineError(f"no inbound folder in the exchange ({inbound}): publish the "
                            "assignment with `python -m autograder release --exchange` first")
    done = [Collected(r.student, None, f"refused: {r.folder}, {r.why}; renamed {REFUSED}"
                      f"{r.folder}") for r in set_aside(inbound, _check_owner(api))
            if r.assignment == assignment]
    latest_of = _submissions(inbound, assignment)
    if only is not None:
        latest_of = {only: latest_of[only]} if only in latest_of else {}
    for student, latest in sorted(latest_of.items()):
        dest = course.submitted_dir / student / assignment
        before = api.coursedir.get_existing_timestamp(str(dest)) if dest.is_dir() else None
        previous = (dest / "timestamp.txt").read_text().strip() if before else None
        if dest.is_dir() and before is None:
            done.append(Collected(student, None, f"kept: {dest} has no timestamp.txt, so "
                                  "which copy is newer is unknown; move it away to collect"))
            continue
        with temp_attrs(api.coursedir, student_id=student):
            _check(api.collect(assignment, update=True), f"collect of {student}/{assignment}")
        after = api.coursedir.get_existing_timestamp(str(dest))
        shown = (dest / "timestamp.txt").read_text().strip()
        if before is None:
            what = "collected"
        elif after == before:
            what = ("unchanged" if latest == before else
                    "kept: the collected copy is newer than the exchange's latest")
        else:
            what = "replaced"
        done.append(Collected(student, shown, what, previous))
    return done


def release_feedback(course: Course, assignment: str, student: str | None = None,
                     root: str | Path | None = None) -> list[str]:
    """Put the feedback of ``assignment`` (one student's or everyone's) in the exchange, where
    each student fetches their own; return the students left out, each with why."""
    from nbgrader.utils import temp_attrs

    root = exchange_root(course, root)
    api = _api(course, root)
    _course_id(api)
    folders = sorted(course.feedback_dir.glob(f"{student or '*'}/{assignment}"))
    # nbgrader finds a student's feedback by the secret written when they submitted
    unsent = [f.parent.name for f in folders if not (f / "submission_secret.txt").is_file()]
    if len(unsent) < len(folders):
        with temp_attrs(api.coursedir, student_id_exclude=",".join(unsent)):
            _check(api.release_feedback(assignment, student),
                   f"release_feedback of {assignment}")
    return [f"{s}: not submitted through the exchange (no submission_secret.txt)"
            for s in unsent]
