"""The ``feedback`` step: nbgrader's generate_feedback, with a page a student can read offline.

Hidden tests never reach feedback: they are not in the notebooks at all (``build`` moves
them to ``course/judge/``, and the judge writes only its verdict into a graded cell).
What this module adds to nbgrader's feedback (see :func:`feedback_config`):

- the template ``minigrad_feedback`` (``autograder/templates``, nbgrader's feedback template
  with three changes named at its top): every score is labelled with
  its exercise ("Exercise 3: activation backward, part sigmoid_backward"), the label the
  grader wrote into the cell's metadata, instead of "Test cell" and a grade id;
- :class:`OfflineMath`: the maths of markdown cells becomes MathML when the page is made
  (with latex2mathml), so it renders with no network and no script; MathJax is not loaded;
- :class:`FeedbackNote`: a note at the top of the page, when one is given (the feedback
  service says that its page is the automatic grading of one submission, not the final grade).
- :class:`OverrideNotes`: under each graded cell whose points changed after grading (an
  ``override`` or a regrade, :mod:`autograder.changes`), one line per change: old and new
  points and the reason.
- written answers (:mod:`autograder.rubric`): the grader's rubric cells are left out, and an
  answer not yet graded by hand says "graded by hand later".

- :class:`autograder.late.LateNote`: a line at the top with when the submission was handed
  in and due, how late, the late penalty and the policy.

The grader's file paths never appear: outputs are reduced to one line per error and paths
are cut to file names while grading (:mod:`autograder.execute`).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor, Preprocessor
from traitlets import Bool, Unicode

__all__ = ["FeedbackNote", "OfflineMath", "OverrideNotes", "feedback_config", "generate_feedback",
           "math_to_mathml"]

TEMPLATES = Path(__file__).parent / "templates"
_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.S)
_DISPLAY = re.compile(r"\$\$(.+?)\$\$", re.S)
_INLINE = re.compile(r"(?<![\\$])\$(?!\s)([^$\n]+?)(?<!\s)\$(?!\$)")


def _convert(tex: str, display: str) -> str:
    from latex2mathml.converter import convert

    try:
        return convert(tex.strip(), display=display)
    except Exception:  # noqa: BLE001 - an expression it cannot read stays as TeX text
        return f"<code>{tex}</code>"


def math_to_mathml(markdown: str) -> str:
    """Markdown with every ``$...$`` and ``$$...$$`` outside code replaced by MathML."""
    parts = _CODE.split(markdown)
    for i in range(0, len(parts), 2):  # even parts are outside code
        text = _DISPLAY.sub(lambda m: "\n\n" + _convert(m.group(1), "block") + "\n\n",
                            parts[i])
        parts[i] = _INLINE.sub(lambda m: _convert(m.group(1), "inline"), text)
    return "".join(parts)


class OfflineMath(Preprocessor):
    """Markdown cells' maths as MathML (see the module docstring)."""

    enabled = Bool(True)

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "markdown" and "$" in cell.source:
            cell.source = math_to_mathml(cell.source)
        return cell, resources


class FeedbackNote(Preprocessor):
    """A markdown cell with ``text`` first in the notebook (nothing when ``text`` is empty)."""

    enabled = Bool(True)
    text = Unicode("").tag(config=True)

    def preprocess(self, nb, resources):
        if self.text:
            from nbformat.v4 import new_markdown_cell

            nb.cells.insert(0, new_markdown_cell(f"> **{self.text}**"))
        return nb, resources


class OverrideNotes(Preprocessor):
    """After each graded cell whose points changed after grading, a markdown cell per change,
    oldest first: "Points set by the instructor" (an override) or "Regraded", the old and new
    points and the reason."""

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        from nbformat.v4 import new_markdown_cell

        from .changes import ChangeKind, changes

        info = resources["nbgrader"]
        by_cell: dict[str, list] = {}
        for change in changes(info["db_url"], info["student"], info["assignment"]):
            by_cell.setdefault(change.grade_id, []).append(change)
        for index in reversed(range(len(nb.cells))):
            meta = nb.cells[index].metadata.get("nbgrader", {})
            if not meta.get("grade"):
                continue
            for c in reversed(by_cell.get(meta.get("grade_id"), [])):
                what = ("Points set by the instructor" if c.kind is ChangeKind.OVERRIDE
                        else "Regraded")
                nb.cells.insert(index + 1, new_markdown_cell(
                    f"> **{what}: {c.old:g} -> {c.new:g} / {c.max_score:g}.** "
                    f"{html.escape(c.reason)}"))
        return nb, resources


def feedback_config(cfg) -> None:
    """Point nbgrader's GenerateFeedback at the labelled, offline template, unless the
    course's nbgrader_config.py chose a template itself."""
    import nbgrader

    if "template_name" in cfg.HTMLExporter:
        return
    nbgrader_templates = Path(nbgrader.__file__).parent / "server_extensions" / \
        "formgrader" / "templates"
    cfg.HTMLExporter.template_name = "minigrad_feedback"
    cfg.HTMLExporter.extra_template_basedirs = [str(TEMPLATES), str(nbgrader_templates)]
    from nbgrader.preprocessors import GetGrades

    from .rubric import GraderCellsOut, WrittenPending

    cfg.GenerateFeedback.preprocessors = [GraderCellsOut, GetGrades, WrittenPending,
                                          CSSHTMLHeaderPreprocessor, OfflineMath,
                                          FeedbackNote, OverrideNotes]
    from .late import LateNote

    cfg.GenerateFeedback.preprocessors.append(LateNote)  # after GetGrades: it sets the score


def generate_feedback(course, assignment: str, student: str | None = None,
                      note: str = "") -> list[str]:
    """Run nbgrader generate_feedback for one assignment; return error messages (empty if ok).

    Like ``NbGraderAPI.generate_feedback``, except that the API pins nbgrader's own template;
    this keeps the course's (:func:`feedback_config`). ``note``: a line at the top of each
    page (:class:`FeedbackNote`)."""
    from nbgrader.apps.api import capture_log
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import temp_attrs
    from traitlets.config import Config

    api = course.api()
    who = {"assignment_id": assignment}
    if student is not None:
        who["student_id"] = student
    config = Config(api.config)
    config.FeedbackNote.text = note
    with temp_attrs(api.coursedir, **who):
        app = GenerateFeedback(coursedir=api.coursedir, parent=api, config=config)
        app.force = True
        result = capture_log(app)
    if result.get("success"):
        return []
    return [_last_error(result) or f"generate_feedback failed for {assignment}"]


def _last_error(result: dict) -> str:
    lines = [ln for ln in (result.get("log") or "").splitlines() if ln.startswith("[ERROR]")]
    if lines:
        return lines[-1].removeprefix("[ERROR]").strip()
    err = (result.get("error") or "").strip().splitlines()
    return err[-1] if err else ""
