"""Self-grading: ``python -m autograder selfgrade NOTEBOOK.ipynb`` grades one's own notebook.

For a learner without an instructor. The notebook is matched to an assignment of
``notebooks/`` by its nbgrader ``grade_id``s (its file name breaks ties), and graded against
the hidden tests in a scratch course of its own, with the pipeline's steps: ``build`` the
source notebook, ``release`` it (which registers it in a new gradebook), ``grade`` the one
submission with nbgrader's autograde in a worker process. The course in ``course/`` and its
gradebook are never touched.

What is printed: points per graded cell, and for each failing one the last line of its
error (``NameOfError: message``), marked when it is the judge's verdict on the hidden tests
(the judge's message, never the hidden test source). The exit status is 0 when grading
ran, whatever the score; 1 when the notebook could not be graded (with the reason); 2 for
a usage error.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course, PipelineError, default_paths, pick_assignments
from .execute import FAILED

__all__ = [
    "STUDENT",
    "ExerciseResult",
    "SelfGradeResult",
    "format_result",
    "identify",
    "main",
    "selfgrade",
]

STUDENT = "selfgrade"
_MESSAGE_LIMIT = 300


@dataclass(frozen=True)
class ExerciseResult:
    """One graded cell: its points and, when it lost points, the error that says why."""

    grade_id: str
    points: float
    max_points: float
    message: str = ""
    hidden: bool = False
    by_hand: bool = False  # a written answer, left for a grader

    @property
    def passed(self) -> bool:
        return self.points >= self.max_points


@dataclass
class SelfGradeResult:
    """The outcome of grading one notebook."""

    assignment: str
    notebook: str
    exercises: list[ExerciseResult] = field(default_factory=list)
    seconds: float = 0.0
    feedback_html: Path | None = None

    @property
    def score(self) -> float:
        return sum(e.points for e in self.exercises if not e.by_hand)

    @property
    def max_score(self) -> float:
        """The points graded automatically (written answers excluded)."""
        return sum(e.max_points for e in self.exercises if not e.by_hand)

    @property
    def by_hand(self) -> float:
        """The points of the written answers, graded by hand later."""
        return sum(e.max_points for e in self.exercises if e.by_hand)


# --- which assignment is this? ----------------------------------------------------------------


def _grade_ids(nb: dict) -> list[str]:
    ids = []
    for cell in nb.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id") if isinstance(meta, dict) else None
        if isinstance(grade_id, str):
            ids.append(grade_id)
    return ids


def _read_notebook(path: Path) -> dict:
    if not path.is_file():
        raise PipelineError(f"{path}: no such file (expected a .ipynb notebook)")
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PipelineError(f"{path} is not a notebook: it is not valid JSON ({exc})") from exc
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise PipelineError(f"{path} is not a notebook: it has no list of cells")
    return nb


def identify(
    notebook_path: Path, notebooks_dir: Path, assignment: str | None = None
) -> tuple[str, Path]:
    """The (assignment, jupytext source) a notebook belongs to.

    The source sharing the most grade_ids with the notebook wins; a source whose file name
    matches the notebook's breaks ties. Raises PipelineError when nothing matches.
    """
    from .build import build_notebook, notebook_sources

    notebook_path = Path(notebook_path)
    submitted = set(_grade_ids(_read_notebook(notebook_path)))
    sources = notebook_sources(Path(notebooks_dir))
    if not sources:
        raise PipelineError(
            f"no assignment sources in {notebooks_dir} (expected notebooks/<assignment>/"
            "<name>.py; run from the repository or pass --notebooks-dir)"
        )
    if assignment is not None:
        pick_assignments([assignment], sources, "assignment sources", notebooks_dir)
        sources = {assignment: sources[assignment]}
    if not submitted:
        raise PipelineError(
            f"{notebook_path} has no nbgrader cells (no grade_id in any cell's metadata): "
            "start from the released notebook, not a new one"
        )
    # the file named like the notebook first: usually it is the one, and the others
    # need not be built then
    candidates = [(a, p) for a, paths in sources.items() for p in paths]
    candidates.sort(key=lambda ap: ap[1].stem != notebook_path.stem)
    best: tuple[int, str, Path] | None = None
    for name, py_path in candidates:
        try:
            source_ids = set(_grade_ids(json.loads(build_notebook(py_path))))
        except ValueError as exc:
            raise PipelineError(f"cannot build {py_path}: {exc}") from exc
        overlap = len(submitted & source_ids)
        if best is None or overlap > best[0]:
            best = (overlap, name, py_path)
        if overlap and overlap == len(source_ids) and py_path.stem == notebook_path.stem:
            break
    if best is None or best[0] == 0:
        some = ", ".join(sorted(submitted)[:3])
        raise PipelineError(
            f"{notebook_path} matches no assignment in {notebooks_dir}: none of its grade_ids "
            f"({some}, ...) occurs in {', '.join(sorted(sources))}"
        )
    return best[1], best[2]


# --- feedback from the autograded notebook ----------------------------------------------------


def _error_message(output: dict) -> str:
    """``Name: first line of the message``, never a line of source."""
    from nbconvert.filters import strip_ansi

    ename = str(output.get("ename", "Error"))
    evalue = strip_ansi(str(output.get("evalue", ""))).strip()
    first = next((ln.strip() for ln in evalue.splitlines() if ln.strip()), "")
    if ename in ("SyntaxError", "IndentationError", "TabError"):
        first = ""  # its message can quote the offending line
    text = f"{ename}: {first}" if first else ename
    if len(text) > _MESSAGE_LIMIT:
        text = text[: _MESSAGE_LIMIT - 3] + "..."
    return text


def _cell_feedback(cell: dict) -> tuple[str, bool]:
    """(message, hidden) for a graded cell of the autograded notebook; ("", False) if no error."""
    for output in cell.get("outputs", []):
        if output.get("output_type") != "error":
            continue
        # the judge's verdict (Failed) is the hidden tests'; any other error, the visible ones
        return _error_message(output), output.get("ename") == FAILED
    return "", False


def _collect_results(course: Course, assignment: str, stem: str) -> list[ExerciseResult]:
    autograded = course.autograded_dir / STUDENT / assignment / f"{stem}.ipynb"
    nb = _read_notebook(autograded)
    order, feedback = [], {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("grade") and meta.get("grade_id"):
            order.append(meta["grade_id"])
            feedback[meta["grade_id"]] = _cell_feedback(cell)
    with course.gradebook() as gb:
        submission = gb.find_submission_notebook(stem, assignment, STUDENT)
        grades = {
            g.name: (float(g.score or 0.0), float(g.max_score or 0.0), bool(g.needs_manual_grade))
            for g in submission.grades
        }
    results = []
    for grade_id in order + sorted(set(grades) - set(order)):
        if grade_id not in grades:
            continue
        points, max_points, by_hand = grades[grade_id]
        message, hidden = feedback.get(grade_id, ("", False))
        if points < max_points and not message and not by_hand:
            message = "no points (the grader recorded no error for this cell)"
        results.append(ExerciseResult(grade_id, points, max_points, message, hidden, by_hand))
    return results


# --- grading --------------------------------------------------------------------------------


def selfgrade(
    notebook_path: str | Path,
    notebooks_dir: str | Path | None = None,
    assignment: str | None = None,
    timeout: float = 1800.0,
    feedback_html: str | Path | None = None,
    keep: bool = False,
    say=None,
) -> SelfGradeResult:
    """Grade ``notebook_path`` against the hidden tests of its assignment.

    ``notebooks_dir``: the jupytext sources (default: ``notebooks/`` of this checkout);
    ``assignment``: skip the detection; ``timeout``: seconds for the whole grading run;
    ``feedback_html``: also write nbgrader's feedback page there (hidden tests removed);
    ``keep``: leave the scratch course in place (its path is passed to ``say``).
    Raises PipelineError when the notebook cannot be graded.
    """
    from .build import build
    from .config import GradingConfig
    from .feedback import generate_feedback
    from .grading import grade
    from .release import release

    start = time.perf_counter()
    notebook_path = Path(notebook_path)
    notebooks_dir = Path(notebooks_dir) if notebooks_dir else default_paths()[1]
    name, py_path = identify(notebook_path, notebooks_dir, assignment)
    stem = py_path.stem
    if say:
        say(f"grading {notebook_path} as {name}/{stem}.ipynb against the hidden tests")
    scratch = Path(tempfile.mkdtemp(prefix="autograder-selfgrade-"))
    try:
        # its own sqlite gradebook, whatever the course's config names: a shared gradebook
        # must never see a self-graded notebook
        course = Course.create(scratch / "course", notebooks_dir,
                               gradebook_url=f"sqlite:///{scratch / 'course' / 'gradebook.db'}")
        try:
            build(course.notebooks_dir, course.source_dir, [name])
        except ValueError as exc:
            raise PipelineError(f"cannot build {name}: {exc}") from exc
        for _, what in release(course, [name], force=True):
            if what != "released":
                raise PipelineError(f"cannot release {name}: {what}")
        target = course.submitted_dir / STUDENT / name
        target.mkdir(parents=True)
        shutil.copyfile(notebook_path, target / f"{stem}.ipynb")
        config = GradingConfig.read(course.course_dir, jobs=1, timeout=timeout,
                                    progress=False)
        outcomes = grade(course, [name], [STUDENT], config=config)
        if not outcomes or not outcomes[0].ok:
            reason = outcomes[0].reason if outcomes else "nothing was graded"
            raise PipelineError(f"nbgrader could not grade {notebook_path}: {reason}")
        result = SelfGradeResult(name, stem, _collect_results(course, name, stem))
        if feedback_html:
            problems = generate_feedback(course, name, STUDENT)
            page = course.feedback_dir / STUDENT / name / f"{stem}.html"
            if problems or not page.is_file():
                raise PipelineError(
                    f"feedback for {notebook_path} failed: {'; '.join(problems) or 'no page'}"
                )
            out = Path(feedback_html)
            out.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(page, out)
            result.feedback_html = out
        result.seconds = time.perf_counter() - start
        if keep and say:
            say(f"scratch course kept in {course.course_dir}")
        return result
    finally:
        if not keep:
            shutil.rmtree(scratch, ignore_errors=True)


def format_result(result: SelfGradeResult) -> str:
    """The per-exercise table, the feedback messages and the total, as printed."""
    from .report import format_table

    rows = [
        [e.grade_id, f"- / {e.max_points:g}", "to grade by hand"] if e.by_hand else
        [e.grade_id, f"{e.points:g} / {e.max_points:g}", "passed" if e.passed else "failed"]
        for e in result.exercises
    ]
    lines = [
        f"{result.assignment} ({result.notebook}.ipynb)",
        "",
        format_table(["exercise", "points", "result"], rows),
    ]
    failed = [e for e in result.exercises if not e.passed and not e.by_hand]
    if failed:
        lines += ["", "feedback:"]
        for e in failed:
            where = " (a hidden test)" if e.hidden else ""
            lines.append(f"  {e.grade_id}{where}: {e.message}")
    total = f"total: {result.score:g} / {result.max_score:g}"
    if result.by_hand:
        total += f" (and {result.by_hand:g} points of written answers, graded by hand)"
    lines += ["", total]
    if result.feedback_html is not None:
        lines.append(f"feedback page: {result.feedback_html}")
    return "\n".join(lines)


# --- command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """``python -m autograder.selfgrade ...`` is ``python -m autograder selfgrade ...``."""
    from .cli import main as cli_main

    return cli_main(["selfgrade", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":
    sys.exit(main())
