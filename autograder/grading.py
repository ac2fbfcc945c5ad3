"""Grade and validate: pick the work, prepare the gradebook, run it in parallel, summarise.

Autograding is nbgrader's (``NbGraderAPI.autograde`` in a worker process per student, see
:mod:`autograder.parallel`); validation is nbgrader's Validator. This module decides what to
run and turns outcomes into a table and an exit status.

``--shard i/n`` splits one class between n machines sharing a gradebook: a student belongs
to shard ``sha256(student id) mod n + 1``, which every machine computes alike whatever else
it holds, so each student is graded by exactly one machine (shards of a small class are
only roughly equal in size).
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING

from .config import GradingConfig
from .course import Course, PipelineError, display_url, pick_assignments
from .parallel import Outcome, run_tasks
from .records import StagedSubmission, Task, TaskKind, TextEnum
from .report import format_table
from .scan import Kind, Status
from .stale import fingerprint, record_fingerprints, stale_students, unreleased_changes

if TYPE_CHECKING:
    from .changes import Change
    from .scan import SubmissionScan

__all__ = [
    "Standing",
    "grade",
    "outcome_table",
    "parse_shard",
    "shard_of",
    "shard_students",
    "status_of",
    "summary_line",
    "validate",
]


class Standing(TextEnum):
    """Where a student stands after ``grade``."""

    GRADED = "graded"
    FLAGGED = "flagged"  # graded, with tampering withheld or a file refused
    FAILED = "failed"  # not graded; the reason says why
    MISSING = "missing"  # nothing submitted (export and report only)


def parse_shard(text: str) -> tuple[int, int]:
    """``"i/n"`` as (i, n); ValueError unless both are integers with 1 <= i <= n."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", str(text))
    if match:
        index, count = int(match.group(1)), int(match.group(2))
        if 1 <= index <= count:
            return index, count
    raise ValueError(f"--shard must look like i/n with 1 <= i <= n (got {text!r})")


def shard_of(student: str, count: int) -> int:
    """The shard (1 to ``count``) a student id belongs to; the same on every machine."""
    if count < 1:
        raise ValueError(f"shard count must be at least 1 (got {count})")
    digest = hashlib.sha256(student.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def shard_students(students: Iterable[str], index: int, count: int) -> list[str]:
    """The students of ``students`` in shard ``index`` of ``count``, sorted."""
    return sorted(s for s in set(students) if shard_of(s, count) == index)


def _check_in_gradebook(course: Course, assignments: list[str]) -> None:
    with course.gradebook() as gb:
        known = {a.name for a in gb.assignments}
    missing = sorted(set(assignments) - known)
    if missing:
        raise PipelineError(
            f"{', '.join(missing)} not in the gradebook {display_url(course.db_url())}: "
            "release it first (`python -m autograder release`)"
        )


def grade(
    course: Course,
    assignments: list[str] | None = None,
    students: list[str] | None = None,
    shard: tuple[int, int] | None = None,
    on_scan: Callable[[list[SubmissionScan]], None] | None = None,
    config: GradingConfig | None = None,
    stale: bool = False,
    exercises: list[str] | None = None,
    reason: str = "",
    on_change: Callable[[list[Change]], None] | None = None,
) -> list[Outcome]:
    """Autograde every submitted (assignment, student) pair, filtered by the arguments,
    as ``config`` says (None: :meth:`GradingConfig.read` of the course; its ``db_url``,
    when set, is the gradebook).

    ``shard=(i, n)`` keeps the students of shard i of n (see :func:`shard_of`); a shard
    that holds none of the selected students returns no outcomes. ``stale`` keeps the
    students whose grade is stale (:mod:`autograder.stale`); none: no outcomes.

    An assignment whose built notebooks differ from the points and visible tests released
    to the gradebook is refused (PipelineError): autograde would use the released ones.
    Each graded student's fingerprint of the assignment is recorded in the gradebook.
    Before grading, the due dates of ``config.due`` and the extensions logged by ``extend``
    are written to the gradebook, where nbgrader's late policy reads them
    (:mod:`autograder.late`).

    Every submission is scanned first (:mod:`autograder.scan`; ``on_scan`` gets the scans
    before any task starts) and graded by the scan's rule from a staged copy that holds its
    regular files only (links and special files are refused): repaired notebooks are
    graded as repaired, tampering is withheld and its exercise scores 0 (the outcome's
    ``flags`` say why), a submission that cannot be repaired or read is not
    graded (a failed outcome with the reason). Flagged and failed submissions are copied to
    ``course/quarantine/``. One outcome per pair, in order.

    A submission graded before, with the same answers, is regraded: every graded cell
    whose points change is logged with ``reason`` (default "regrade";
    :mod:`autograder.changes`), and ``on_change`` gets the changes. ``exercises`` (grade
    ids) regrades only those, and needs a ``reason``: the notebooks run again, every other
    cell keeps its score and its autograded output, and the fingerprint is not recorded (a
    stale student stays stale for the other cells); a student with no earlier grade is not
    graded (a failed outcome says so).
    """
    from .changes import grades_of, log_regrades, pick_exercises

    if exercises and not reason.strip():
        raise PipelineError("--exercise needs --reason: why the exercise is regraded "
                            "(got nothing)")
    if config is None:
        config = GradingConfig.read(course.course_dir)
    if config.db_url:
        course = Course(course.course_dir, course.notebooks_dir, config.db_url)
    pairs = course.submissions(assignments)
    if students:
        pairs = [p for p in pairs if p[1] in students]
    if stale:
        outdated = stale_students(course, assignments)
        pairs = [p for p in pairs if p[1] in outdated.get(p[0], ())]
        if not pairs:
            return []
    if shard is not None and pairs:
        index, count = parse_shard(f"{shard[0]}/{shard[1]}")
        mine = set(shard_students((s for _, s in pairs), index, count))
        pairs = [p for p in pairs if p[1] in mine]
        if not pairs:
            return []
    if not pairs:
        where = course.submitted_dir
        raise PipelineError(
            f"no submissions to grade under {where}"
            + (f" for {', '.join(assignments)}" if assignments else "")
            + (f" from {', '.join(students)}" if students else "")
            + " (expected submitted/<student>/<assignment>/<notebook>.ipynb; see `collect`)"
        )
    graded = sorted({a for a, _ in pairs})
    _check_in_gradebook(course, graded)
    chosen = pick_exercises(course, graded, exercises) if exercises else {}
    if chosen:
        pairs = [p for p in pairs if p[0] in chosen]
        graded = sorted(chosen)
    for assignment in graded:
        changes = unreleased_changes(course, assignment)
        if changes:
            raise PipelineError(
                f"{assignment}: the built notebooks differ from what was released to the "
                f"gradebook ({'; '.join(changes[:5])}): run `python -m autograder release "
                f"{assignment}` first, or grading would use the released points and tests")
    fingerprints = {a: fingerprint(course, a) for a in graded}
    from .late import apply_extensions, course_policy, write_due_dates

    course_policy(course.config())  # a wrong late policy stops grading before it starts
    write_due_dates(course, config.due)
    # Create every student here, in one process: parallel workers creating the same new
    # student at once would collide on the gradebook's unique key.
    with course.gradebook() as gb:
        for student in sorted({s for _, s in pairs}):
            gb.update_or_create_student(student)
    apply_extensions(course, pairs)  # before autograde works out how late each one is
    before = grades_of(course, pairs)
    first = [p for p in pairs if p not in before] if chosen else []
    outcomes = [Outcome(Task(TaskKind.GRADE, a, s), False,
                        f"not graded: {s} has no earlier grade of {a} for the other exercises "
                        f"to keep; grade the whole submission (`grade {a} -s {s}`)",
                        scan=Status.FAILED) for a, s in first]
    ready = [p for p in pairs if p not in first]
    if ready:
        outcomes += _scan_and_grade(course, ready, on_scan, config, chosen)
    outcomes.sort(key=lambda o: pairs.index((o.task.assignment, o.task.student)))
    for assignment, value in fingerprints.items():
        done = [o.task.student for o in outcomes if o.ok and o.task.assignment == assignment]
        if value is not None and not chosen:
            record_fingerprints(course.db_url(), assignment, done, value)
    logged = log_regrades(course, before, reason.strip() or "regrade")
    if on_change is not None:
        on_change(logged)
    return outcomes


def _scan_and_grade(course: Course, pairs, on_scan, config: GradingConfig,
                    exercises: dict[str, list[str]]) -> list[Outcome]:
    from .scan import quarantine, scan_submission, stage_submission

    def failed(task: Task, why: str, scan: SubmissionScan | None = None) -> Outcome:
        flags = scan.reasons(Kind.TAMPERING) if scan is not None else []
        return Outcome(task, False, "not graded: " + why[:400], scan=Status.FAILED, flags=flags)

    scans: list[SubmissionScan | None] = []
    outcomes: list[Outcome | None] = [None] * len(pairs)
    for index, (assignment, student) in enumerate(pairs):
        try:  # one unreadable submission is that student's failure, never the batch's
            scans.append(scan_submission(course, assignment, student))
        except Exception as exc:  # noqa: BLE001
            scans.append(None)
            outcomes[index] = failed(Task(TaskKind.GRADE, assignment, student),
                                     f"the scan could not read the submission "
                                     f"({type(exc).__name__}: {exc})")
    if on_scan is not None:
        on_scan([s for s in scans if s is not None])
    with tempfile.TemporaryDirectory(prefix="autograder-staged-") as tmp:
        staging = Path(tmp)
        tasks, slots = [], []
        for index, scan in enumerate(scans):
            if scan is None:
                continue
            task = Task(TaskKind.GRADE, scan.assignment, scan.student)
            try:
                if scan.status in (Status.FAILED, Status.FLAGGED):
                    quarantine(course, scan)
                if scan.status is Status.FAILED:
                    outcomes[index] = failed(task, "; ".join(scan.reasons(Kind.BROKEN)), scan)
                    continue
                stage_submission(scan, course.submitted_dir, staging)
            except Exception as exc:  # noqa: BLE001
                outcomes[index] = failed(task, f"the submission could not be staged "
                                               f"({type(exc).__name__}: {exc})", scan)
                continue
            staged = StagedSubmission(str(staging), dict(scan.zero_cells))
            tasks.append(Task(TaskKind.GRADE, scan.assignment, scan.student, staged=staged,
                              exercises=exercises.get(scan.assignment, [])))
            slots.append(index)
        for index, outcome in zip(slots, run_tasks(course, tasks, config, desc="grading")):
            scan = scans[index]
            outcome.scan = scan.status
            outcome.flags = scan.reasons(Kind.TAMPERING)
            outcome.repairs = scan.reasons(Kind.REPAIRED)
            outcomes[index] = outcome
    return [o for o in outcomes if o is not None]


def status_of(outcome: Outcome) -> Standing:
    """Graded, flagged (graded, tampering found) or failed (not graded)."""
    if not outcome.ok:
        return Standing.FAILED
    return Standing.FLAGGED if outcome.flags else Standing.GRADED


def validate(
    course: Course, assignments: list[str] | None = None, invert: bool = False,
    config: GradingConfig | None = None,
) -> list[Outcome]:
    """nbgrader validate on source notebooks (must pass) or, ``invert``, releases (must fail),
    as ``config`` says (None: :meth:`GradingConfig.read` of the course)."""
    base = course.release_dir if invert else course.source_dir
    available = course.released_assignments() if invert else course.source_assignments()
    step = "release" if invert else "build"
    wanted = pick_assignments(assignments, available, "notebooks", base,
                              fix=f"python -m autograder {step}")
    tasks = [
        Task(TaskKind.VALIDATE, a, path=str(p), invert=invert)
        for a in wanted
        for p in sorted((base / a).glob("*.ipynb"))
    ]
    return run_tasks(course, tasks, config, desc="validating")


def _grade_reason(o: Outcome) -> str:
    flags = o.flags
    parts = []
    if flags:
        parts.append(flags[0] + (f" (+{len(flags) - 1} more)" if len(flags) > 1 else ""))
    if o.reason:
        parts.append(o.reason)
    repairs = o.repairs
    if repairs and o.ok:
        parts.append(f"repaired ({len(repairs)}): {repairs[0]}")
    text = "; ".join(parts)
    return text if len(text) <= 160 else text[:157] + "..."


def outcome_table(outcomes: list[Outcome], scores: dict[tuple[str, str], str] | None = None
                  ) -> str:
    """One row per task: what, status, score, seconds, reason. ``scores``: (assignment,
    student) -> the score to show instead (a late one's, less its penalty)."""
    rows = []
    for o in outcomes:
        if o.task.kind is TaskKind.GRADE:
            score = "-" if o.score is None else f"{o.score:g}/{o.max_score:g}"
            score = (scores or {}).get((o.task.assignment, o.task.student), score)
            standing = status_of(o)
            status = str(standing) if standing is Standing.GRADED else standing.value.upper()
            rows.append([o.task.student, o.task.assignment, status, score,
                         f"{o.seconds:.1f}", _grade_reason(o)])
        else:
            status = "ok" if o.ok else "FAILED"
            rows.append(["(validate)", o.task.assignment, status, "-", f"{o.seconds:.1f}",
                         o.reason or o.task.label])
    return format_table(["student", "assignment", "status", "score", "seconds", "reason"], rows)


def summary_line(outcomes: list[Outcome]) -> str:
    ok = sum(o.ok for o in outcomes)
    failed = len(outcomes) - ok
    if outcomes and outcomes[0].task.kind is TaskKind.GRADE:
        flagged = sum(status_of(o) is Standing.FLAGGED for o in outcomes)
        return f"{ok - flagged} graded, {failed} failed, {flagged} flagged"
    return f"{ok} passed, {failed} failed"
