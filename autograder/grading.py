"""Grade and validate: pick the work, prepare the gradebook, run it in parallel, summarise.

Autograding is nbgrader's (``NbGraderAPI.autograde`` in a worker process per student, see
:mod:`autograder.parallel`); validation is nbgrader's Validator. This module decides what to
run and turns outcomes into a table and an exit status.
"""

from __future__ import annotations

from .course import Course, PipelineError
from .parallel import Outcome, Task, run_tasks
from .report import format_table

__all__ = ["grade", "outcome_table", "summary_line", "validate"]


def _check_in_gradebook(course: Course, assignments: list[str]) -> None:
    with course.gradebook() as gb:
        known = {a.name for a in gb.assignments}
    missing = sorted(set(assignments) - known)
    if missing:
        raise PipelineError(
            f"{', '.join(missing)} not in the gradebook {course.db_url()}: "
            "release it first (`python -m autograder release`)"
        )


def grade(
    course: Course,
    assignments: list[str] | None = None,
    students: list[str] | None = None,
    **run_options,
) -> list[Outcome]:
    """Autograde every submitted (assignment, student) pair, filtered by the arguments."""
    pairs = course.submissions(assignments)
    if students:
        pairs = [p for p in pairs if p[1] in students]
    if not pairs:
        where = course.submitted_dir
        raise PipelineError(
            f"no submissions to grade under {where}"
            + (f" for {', '.join(assignments)}" if assignments else "")
            + (f" from {', '.join(students)}" if students else "")
            + " (expected submitted/<student>/<assignment>/<notebook>.ipynb; see `collect`)"
        )
    _check_in_gradebook(course, sorted({a for a, _ in pairs}))
    # Create every student here, in one process: parallel workers creating the same new
    # student at once would collide on the gradebook's unique key.
    with course.gradebook() as gb:
        for student in sorted({s for _, s in pairs}):
            gb.update_or_create_student(student)
    tasks = [Task("grade", assignment, student) for assignment, student in pairs]
    run_options.setdefault("desc", "grading")
    return run_tasks(course, tasks, **run_options)


def validate(
    course: Course, assignments: list[str] | None = None, invert: bool = False, **run_options
) -> list[Outcome]:
    """nbgrader validate on source notebooks (must pass) or, ``invert``, releases (must fail)."""
    base = course.release_dir if invert else course.source_dir
    available = course.released_assignments() if invert else course.source_assignments()
    wanted = assignments or available
    missing = [a for a in wanted if a not in available]
    if missing or not wanted:
        step = "release" if invert else "build"
        raise PipelineError(
            f"no notebooks for {', '.join(missing) or 'any assignment'} in {base} "
            f"(run `python -m autograder {step}` first)"
        )
    tasks = [
        Task("validate", a, path=str(p), invert=invert)
        for a in wanted
        for p in sorted((base / a).glob("*.ipynb"))
    ]
    run_options.setdefault("desc", "validating")
    return run_tasks(course, tasks, **run_options)


def outcome_table(outcomes: list[Outcome]) -> str:
    """One row per task: what, status, score, seconds, reason."""
    rows = []
    for o in outcomes:
        if o.task.kind == "grade":
            score = "-" if o.score is None else f"{o.score:g}/{o.max_score:g}"
            status = "graded" if o.ok else "FAILED"
            rows.append([o.task.student, o.task.assignment, status, score,
                         f"{o.seconds:.1f}", o.reason])
        else:
            status = "ok" if o.ok else "FAILED"
            rows.append(["(validate)", o.task.assignment, status, "-", f"{o.seconds:.1f}",
                         o.reason or o.task.label])
    return format_table(["student", "assignment", "status", "score", "seconds", "reason"], rows)


def summary_line(outcomes: list[Outcome]) -> str:
    ok = sum(o.ok for o in outcomes)
    failed = len(outcomes) - ok
    verb = "graded" if outcomes and outcomes[0].task.kind == "grade" else "passed"
    return f"{ok} {verb}, {failed} failed"
