"""Written answers graded by hand: the answer cell, its rubric, and who may see the rubric.

A written answer is a markdown cell that nbgrader grades by hand (``grade`` and ``solution``
in its nbgrader metadata, ``points`` P) with a ``rubric`` in its cell metadata: a list of
``{"points": p, "criterion": "..."}`` whose points sum to P. Its text in the source notebook
is a model answer. :func:`check_written` is what ``build`` demands of such a cell.

Neither the rubric nor the model answer reaches a student:

- :class:`StripRubric` (release): drops the ``rubric`` key of every cell; nbgrader's
  ClearSolutions has already replaced the model answer with its "YOUR ANSWER HERE" stub.
- :class:`GraderRubric` (autograde, last step): after each written answer of the autograded
  notebook, which formgrader shows, a markdown cell with that answer's rubric, read from the
  course's *source* notebook (a student can edit the metadata of their own cells), marked as
  the grader's own (:data:`GRADER_KEY`); cells a student marked so are dropped first.
- :class:`GraderCellsOut` and :class:`WrittenPending` (feedback): the grader's cells are
  left out, and a written answer not graded yet says so instead of showing a score of 0.
"""

from __future__ import annotations

from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Unicode

__all__ = [
    "GRADER_KEY",
    "RUBRIC_KEY",
    "GraderCellsOut",
    "GraderRubric",
    "StripRubric",
    "WrittenPending",
    "check_written",
    "is_written",
    "rubric_text",
]

RUBRIC_KEY = "rubric"
GRADER_KEY = "grader_rubric"  # under the cell's "minigrad" metadata: the grade_id it is for
_POINTS_TOL = 1e-9


def is_written(cell) -> bool:
    """True for a manually graded written answer: a markdown cell, graded, a solution."""
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "markdown" and bool(meta.get("grade")) and bool(meta.get("solution"))


def check_written(cell, where: str) -> None:
    """Raise ValueError unless a written answer has a rubric whose points sum to its points,
    and no other cell has a rubric."""
    rubric = cell.metadata.get(RUBRIC_KEY)
    if not is_written(cell):
        if rubric is not None:
            raise ValueError(f"{where}: a rubric belongs on a written answer (a markdown cell "
                             "with nbgrader grade and solution true); this cell is not one")
        return
    points = cell.metadata["nbgrader"].get("points")
    if not isinstance(points, int | float) or isinstance(points, bool) or points <= 0:
        raise ValueError(f"{where}: a written answer needs nbgrader points > 0 (got {points!r})")
    if rubric is None:
        raise ValueError(
            f"{where}: a written answer needs a rubric in its cell metadata, "
            'rubric=[{"points": p, "criterion": "..."}, ...] summing to its '
            f"{points:g} points (got none)")
    if not isinstance(rubric, list) or not rubric or not all(
            isinstance(item, dict) and set(item) == {"points", "criterion"}
            and isinstance(item["points"], int | float) and not isinstance(item["points"], bool)
            and item["points"] > 0 and isinstance(item["criterion"], str)
            and item["criterion"].strip() for item in rubric):
        raise ValueError(f"{where}: the rubric must be a non-empty list of "
                         '{"points": p > 0, "criterion": "non-empty text"} (got '
                         f"{rubric!r})")
    total = sum(item["points"] for item in rubric)
    if abs(total - points) > _POINTS_TOL:
        raise ValueError(f"{where}: the rubric's points must sum to the cell's {points:g} "
                         f"points (got {total:g})")


def rubric_text(rubric: list[dict], points: float) -> str:
    """The markdown a grader reads next to a written answer."""
    rows = [f"**Rubric (for the grader; not shown to the student), {points:g} points:**", ""]
    rows += [f"- {item['points']:g}: {item['criterion']}" for item in rubric]
    return "\n".join(rows)


def _grader_cell(cell) -> bool:
    return GRADER_KEY in (cell.metadata.get("minigrad") or {})


class StripRubric(Preprocessor):
    """Release: no cell keeps a ``rubric`` key."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        cell.metadata.pop(RUBRIC_KEY, None)
        return cell, resources


class GraderRubric(Preprocessor):
    """Autograde: the rubric of each written answer in a cell of its own after the answer,
    taken from ``source_dir/<assignment>/<notebook>.ipynb``; the answer is labelled with its
    exercise for the feedback page."""

    enabled = Bool(True)
    source_dir = Unicode("", help="the course's source/ folder").tag(config=True)

    def preprocess(self, nb, resources):
        import nbformat
        from nbformat.v4 import new_markdown_cell

        from .exercises import exercises_of, label_of

        nb.cells = [c for c in nb.cells if not _grader_cell(c)]
        for cell in nb.cells:
            cell.metadata.pop(RUBRIC_KEY, None)
        info = resources["nbgrader"]
        path = Path(self.source_dir) / info["assignment"] / f"{info['notebook']}.ipynb"
        if not self.source_dir or not path.is_file():
            return nb, resources
        source = nbformat.read(str(path), as_version=4)
        written = {c.metadata["nbgrader"]["grade_id"]: c for c in source.cells if is_written(c)}
        labels = label_of(exercises_of(source, str(path)))
        for index in reversed(range(len(nb.cells))):
            cell = nb.cells[index]
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            if not is_written(cell) or grade_id not in written:
                continue
            if grade_id in labels:
                cell.metadata["minigrad"] = {"label": labels[grade_id]}
            model = written[grade_id]
            note = new_markdown_cell(rubric_text(model.metadata.get(RUBRIC_KEY, []),
                                                 model.metadata["nbgrader"]["points"]))
            note.metadata["minigrad"] = {GRADER_KEY: grade_id}
            nb.cells.insert(index + 1, note)
        return nb, resources


class GraderCellsOut(Preprocessor):
    """Feedback: the grader's own cells (the rubrics) are left out."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        nb.cells = [c for c in nb.cells if not _grader_cell(c)]
        return nb, resources


class WrittenPending(Preprocessor):
    """Feedback: a written answer not graded by hand yet is labelled "graded by hand later",
    with a line under it, instead of reading as 0 points."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_markdown_cell
        from nbgrader.api import Gradebook

        info = resources["nbgrader"]
        with Gradebook(info["db_url"]) as gb:
            pending = {g.name for g in gb.find_submission_notebook(
                info["notebook"], info["assignment"], info["student"]).grades
                if g.needs_manual_grade}
        for index in reversed(range(len(nb.cells))):
            cell = nb.cells[index]
            if not is_written(cell) or cell.metadata["nbgrader"].get("grade_id") not in pending:
                continue
            meta = cell.metadata.setdefault("minigrad", {})
            meta["label"] = (meta.get("label") or "Written answer") + " (graded by hand later)"
            points = cell.metadata["nbgrader"].get("points", 0)
            nb.cells.insert(index + 1, new_markdown_cell(
                f"> **Graded by hand later** (out of {points:g} points): this page counts "
                "it as 0 until then."))
        return nb, resources
