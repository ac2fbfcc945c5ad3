"""The end-to-end runs: ``check`` (prove every assignment grades as it should) and ``demo``.

``check`` works in a scratch course in a temporary folder, so it never touches an
instructor's gradebook. For every assignment in notebooks/ it builds, releases, and then
runs in one parallel batch: nbgrader validate on the source (must pass), validate --invert
on the release (nothing may pass), and autograde of the three sample students (solution:
full marks, blank: zero, buggy: each test cell its points minus what buggy.py says it
loses, with the verdict buggy.py quotes). Written answers are graded by hand, so they are
out of those sums: the solution's and the buggy student's are left to grade by hand, the
blank one's score 0 (:mod:`autograder.samples`).

``demo`` does the same steps on its own course folder (``demo-output/course`` by default),
writes feedback and prints the gradebook.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .build import build, notebook_sources
from .config import GradingConfig
from .course import Course, PipelineError, pick_assignments
from .parallel import Outcome, run_tasks
from .records import Task, TaskKind
from .release import release
from .report import format_table, gradebook_table
from .samples import (
    SAMPLE_STUDENTS,
    buggy_path,
    check_buggy,
    expected_cell_scores,
    expected_scores,
    load_buggy,
    write_samples,
    written_points,
)

__all__ = ["AssignmentCheck", "prepare_assignments", "run_check", "run_demo"]

_TOL = 1e-6


@dataclass
class AssignmentCheck:
    """Everything check learned about one assignment."""

    name: str
    problems: list[str] = field(default_factory=list)
    expected: dict[str, float] = field(default_factory=dict)
    cells: dict[str, float] = field(default_factory=dict)
    says: dict[str, str] = field(default_factory=dict)
    outcomes: list[Outcome] = field(default_factory=list)
    total: float | None = None  # every point, the written answers' too
    written: float = 0.0  # the points of the written answers, graded by hand


def prepare_assignments(
    course: Course, assignments: list[str], say: Callable[[str], None], force_release: bool
) -> dict[str, AssignmentCheck]:
    """Build, release and write the sample students of each assignment; record problems."""
    checks = {a: AssignmentCheck(a) for a in assignments}
    for name, chk in checks.items():
        try:
            build(course.notebooks_dir, course.source_dir, [name])
        except (ValueError, OSError) as exc:
            chk.problems.append(f"build: {exc}")
    specs = {}
    for name, chk in checks.items():
        if chk.problems:
            continue
        try:  # a bad buggy.py is found before anything slow runs
            specs[name] = load_buggy(buggy_path(course.notebooks_dir, name))
            check_buggy(course.source_dir / name, specs[name])
        except ValueError as exc:
            chk.problems.append(f"samples: {exc}")
    for name, chk in checks.items():
        if chk.problems:
            continue
        try:
            for _, what in release(course, [name], force=force_release):
                if what != "released":
                    chk.problems.append(f"release: {what}")
        except PipelineError as exc:
            chk.problems.append(f"release: {exc}")
    for name, chk in checks.items():
        if chk.problems:
            continue
        try:
            spec = specs[name]
            write_samples(course.source_dir / name, course.release_dir / name,
                          course.submitted_dir, spec)
            chk.expected = expected_scores(course.source_dir / name, spec)
            chk.cells = expected_cell_scores(course.source_dir / name, spec)
            chk.says = {gid: bug.says for bug in spec.bugs for gid in bug.loses if bug.says}
            chk.written = written_points(course.source_dir / name)
            chk.total = chk.expected["sample-solution"] + chk.written
        except ValueError as exc:
            chk.problems.append(f"samples: {exc}")
    say(f"prepared {len(checks)} assignment(s) in {course.course_dir}")
    return checks


def _tasks_for(course: Course, checks: dict[str, AssignmentCheck], validate: bool) -> list[Task]:
    tasks = []
    for name, chk in checks.items():
        if chk.problems:
            continue
        if validate:
            for path in sorted((course.source_dir / name).glob("*.ipynb")):
                tasks.append(Task(TaskKind.VALIDATE, name, path=str(path)))
            for path in sorted((course.release_dir / name).glob("*.ipynb")):
                tasks.append(Task(TaskKind.VALIDATE, name, path=str(path), invert=True))
        for student in SAMPLE_STUDENTS:
            tasks.append(Task(TaskKind.GRADE, name, student))
    # the slowest work first keeps every core busy to the end
    tasks.sort(key=lambda t: (t.kind is not TaskKind.GRADE, t.student == "sample-blank"))
    return tasks


def _create_students(course: Course) -> None:
    with course.gradebook() as gb:
        for student in SAMPLE_STUDENTS:
            gb.update_or_create_student(student)


def _verdicts(course: Course, student: str, assignment: str) -> dict[str, str]:
    """grade_id -> the text of a graded test cell's outputs in the autograded notebook."""
    import nbformat

    out = {}
    for path in sorted((course.autograded_dir / student / assignment).glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and meta.get("grade_id"):
                out[meta["grade_id"]] = "\n".join(
                    o.get("text", "") if o.get("output_type") == "stream"
                    else f"{o.get('ename', '')}: {o.get('evalue', '')}"
                    for o in cell.get("outputs", []))
    return out


def _check_cells(course: Course, chk: AssignmentCheck, o: Outcome) -> None:
    """The buggy student, cell by cell: each test cell's score and quoted verdict."""
    got = o.cells
    for gid, want in sorted(chk.cells.items()):
        if gid not in got:
            chk.problems.append(f"sample-buggy: no grade for test cell {gid}")
        elif abs(got[gid] - want) > _TOL:
            chk.problems.append(f"sample-buggy: {gid} scored {got[gid]:g}, expected {want:g}")
    if not chk.says:
        return
    verdicts = _verdicts(course, o.task.student, chk.name)
    for gid, text in sorted(chk.says.items()):
        if text not in verdicts.get(gid, ""):
            shown = " ".join(verdicts.get(gid, "(no output)").split())[:300]
            chk.problems.append(f"sample-buggy: the verdict of {gid} does not say {text!r}; "
                                f"it says: {shown}")


def _judge(checks: dict[str, AssignmentCheck], outcomes: list[Outcome],
           course: Course | None = None) -> None:
    for o in outcomes:
        chk = checks[o.task.assignment]
        chk.outcomes.append(o)
        if o.task.kind is TaskKind.VALIDATE:
            if not o.ok:
                what = "validate --invert (release)" if o.task.invert else "validate (source)"
                chk.problems.append(f"{what} {Path(o.task.path).name}: {o.reason}")
            continue
        student = o.task.student
        if not o.ok:
            chk.problems.append(f"{student}: not graded: {o.reason}")
            continue
        want = chk.expected.get(student)
        if want is not None and abs((o.score or 0.0) - want) > _TOL:
            chk.problems.append(f"{student}: scored {o.score:g}, expected {want:g}")
        pending = student != "sample-blank" and chk.written > 0
        if o.needs_manual_grade != pending:
            chk.problems.append(
                f"{student}: {'no' if pending else 'an'} answer left to grade by hand; "
                f"expected {'the' if pending else 'none'} ({chk.written:g} written points)")
        if student == "sample-buggy" and chk.cells and course is not None:
            _check_cells(course, chk, o)
        top = o.max_score
        if chk.total is not None and top is not None and abs(top - chk.total) > _TOL:
            chk.problems.append(
                f"{student}: gradebook max score {o.max_score:g} differs from the "
                f"source notebooks' {chk.total:g}"
            )


def _score_cell(chk: AssignmentCheck, student: str) -> str:
    for o in chk.outcomes:
        if o.task.kind is TaskKind.GRADE and o.task.student == student:
            if not o.ok:
                return "FAILED"
            want = chk.expected.get(student)
            mark = "" if want is None or abs((o.score or 0) - want) <= _TOL else f" (want {want:g})"
            if o.needs_manual_grade:
                mark += f" + {chk.written:g} by hand"
            return f"{o.score:g}{mark}"
    return "-"


def _validate_cell(chk: AssignmentCheck, invert: bool) -> str:
    found = [o for o in chk.outcomes
             if o.task.kind is TaskKind.VALIDATE and o.task.invert == invert]
    if not found:
        return "-"
    return "ok" if all(o.ok for o in found) else "FAILED"


def _points_cell(chk: AssignmentCheck) -> str:
    if chk.total is None:
        return "-"
    if not chk.written:
        return f"{chk.total:g}"
    return f"{chk.total - chk.written:g} auto + {chk.written:g} written"


def check_table(checks: dict[str, AssignmentCheck]) -> str:
    rows = []
    for name, chk in checks.items():
        grade_secs = [o.seconds for o in chk.outcomes if o.task.kind is TaskKind.GRADE and o.ok]
        rows.append([
            name,
            _points_cell(chk),
            _validate_cell(chk, False),
            _validate_cell(chk, True),
            _score_cell(chk, "sample-solution"),
            _score_cell(chk, "sample-blank"),
            _score_cell(chk, "sample-buggy")
            + (f" / {chk.expected['sample-buggy']:g}" if "sample-buggy" in chk.expected else ""),
            f"{max(grade_secs):.1f}" if grade_secs else "-",
            "ok" if not chk.problems else "FAILED",
        ])
    headers = ["assignment", "points", "validate", "invert", "solution", "blank",
               "buggy / expected", "s/notebook", "check"]
    return format_table(headers, rows)


def _check_lone_bugs(course: Course, checks: dict[str, AssignmentCheck], say) -> None:
    """Each mistake of buggy.py alone, judged in this process (seconds per mistake): it must
    lose exactly its points (see :func:`autograder.judge.local.lone_bug_problems`)."""
    from .judge.local import lone_bug_problems

    sources = notebook_sources(course.notebooks_dir)
    for name, chk in checks.items():
        if chk.problems:
            continue
        start = time.perf_counter()
        bugs = load_buggy(buggy_path(course.notebooks_dir, name)).bugs
        chk.problems += lone_bug_problems(sources[name], bugs)
        say(f"judged one at a time: the {len(bugs)} mistake(s) of {name}, in "
            f"{time.perf_counter() - start:.0f} s")


def run_check(
    notebooks_dir: Path,
    assignments: list[str] | None = None,
    keep: bool = False,
    say: Callable[[str], None] = print,
    scratch_dir: Path | None = None,
    config: GradingConfig | None = None,
) -> int:
    """Check every assignment in a scratch course; print a table; return the exit status.

    The scratch course lives in a new temporary folder, removed at the end unless ``keep``;
    with ``scratch_dir`` it is made there and left in place. ``config``: the grading limits
    (None: those of the project's nbgrader_config.py); the scratch course always keeps its
    own gradebook, whatever ``config.db_url`` says.
    """
    start = time.perf_counter()
    wanted = pick_assignments(assignments, notebook_sources(Path(notebooks_dir)),
                              "notebook sources", notebooks_dir)
    if scratch_dir is not None:
        scratch, keep = Path(scratch_dir), True
    else:
        scratch = Path(tempfile.mkdtemp(prefix="autograder-check-"))
    try:
        course = Course.create(scratch / "course", notebooks_dir)
        if config is None:
            config = GradingConfig.read(course.course_dir)
        config = config.replace(db_url="")
        checks = prepare_assignments(course, wanted, say, force_release=True)
        _check_lone_bugs(course, checks, say)
        tasks = _tasks_for(course, checks, validate=True)
        if tasks:
            _create_students(course)
            _judge(checks, run_tasks(course, tasks, config, desc="check"), course)
        say("")
        say(check_table(checks))
        failed = {n: c for n, c in checks.items() if c.problems}
        written = [f"{n} {c.written:g} points" for n, c in checks.items() if c.written]
        if written:
            say(f"\nwritten answers, graded by hand (in formgrader), not by check: "
                f"{', '.join(written)}; the solution's are left to grade by hand")
        for name, chk in failed.items():
            say(f"\n{name}: check failed")
            for problem in chk.problems:
                say(f"  - {problem}")
        grade_times = [o.seconds for c in checks.values() for o in c.outcomes
                       if o.task.kind is TaskKind.GRADE and o.ok]
        if grade_times:
            say(f"\ngrade: {sum(grade_times) / len(grade_times):.1f} s per notebook on average "
                f"(slowest {max(grade_times):.1f} s)")
        say(f"check: {len(checks) - len(failed)} of {len(checks)} assignment(s) ok "
            f"in {time.perf_counter() - start:.0f} s")
        if keep:
            say(f"scratch course kept in {course.course_dir}")
        return 1 if failed else 0
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def run_demo(
    course: Course,
    say: Callable[[str], None] = print,
    config: GradingConfig | None = None,
) -> int:
    """Build, release, grade the samples, write feedback and print the gradebook, as
    ``config`` says (None: :meth:`GradingConfig.read` of the course)."""
    from .feedback import generate_feedback

    start = time.perf_counter()
    assignments = pick_assignments(None, course.notebook_assignments(), "notebook sources",
                                   course.notebooks_dir)
    say(f"demo course: {course.course_dir}")
    checks = prepare_assignments(course, assignments, say, force_release=True)
    tasks = _tasks_for(course, checks, validate=False)
    if tasks:
        _create_students(course)
        _judge(checks, run_tasks(course, tasks, config, desc="grading samples"), course)
    feedback_files = []
    for name, chk in checks.items():
        if not chk.outcomes:
            continue
        for problem in generate_feedback(course, name):
            chk.problems.append(f"feedback: {problem}")
        feedback_files += sorted((course.feedback_dir).glob(f"*/{name}/*.html"))
    say("")
    say(gradebook_table(course))
    say("(score/max per assignment: the solution scores every autograded point and its "
        "written answers (*) wait for a grader; the blank scores zero, the buggy in between)")
    say("")
    if feedback_files:
        say(f"feedback ({len(feedback_files)} files) in {course.feedback_dir}, e.g.")
        for path in feedback_files[:3]:
            say(f"  {path}")
    grade_times = [o.seconds for c in checks.values() for o in c.outcomes if o.ok]
    if grade_times:
        say(f"grade: {sum(grade_times) / len(grade_times):.1f} s per notebook on average")
    failed = False
    for name, chk in checks.items():
        if chk.problems:
            failed = True
            say(f"{name}: problems")
            for problem in chk.problems:
                say(f"  - {problem}")
    say(f"demo finished in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0
