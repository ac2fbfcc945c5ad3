"""Feedback without hidden tests: an nbgrader preprocessor plus the ``feedback`` step.

nbgrader builds feedback from the autograded notebook, in which the hidden tests were put
back, and shows them (jupyter/nbgrader#917). :class:`HideHiddenTests` runs inside nbgrader's
GenerateFeedback (see ``course/nbgrader_config.py``): it removes each
``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` region with nbgrader's own
ClearHiddenTests, and from the tracebacks of those cells drops the frames that quote the
cell (IPython prints lines around the failing one, hidden ones included). The error's name
and message, and frames in the student's own cells, stay.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearHiddenTests

__all__ = ["HIDDEN_TRACEBACK_NOTE", "HideHiddenTests", "generate_feedback", "hide_cell_frames"]

HIDDEN_TRACEBACK_NOTE = (
    "(lines of this test cell are not shown: it contains hidden tests)"
)


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def hide_cell_frames(traceback: list[str], execution_count: int | None) -> list[str]:
    """Drop the traceback entries that quote the test cell itself (``Cell In[n]``).

    Frames from other cells (the student's own functions) and from installed modules stay:
    they show where the student's code failed without showing the test.
    """
    if execution_count is None:
        marker = None
    else:
        marker = f"Cell In[{execution_count}]"
    kept: list[str] = []
    replaced = False
    for entry in traceback:
        plain = _strip_ansi(entry)
        if marker is None and plain.lstrip().startswith(("Cell In[", "Input In [")):
            hide = True
        else:
            hide = marker is not None and marker in plain
        if hide:
            if not replaced:
                kept.append(HIDDEN_TRACEBACK_NOTE)
                replaced = True
            continue
        kept.append(entry)
    if not replaced:
        kept.append(HIDDEN_TRACEBACK_NOTE)
    return kept


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden-test regions, and from those cells' tracebacks the frames of the cell."""

    def preprocess_cell(self, cell, resources, cell_index):
        had_hidden = (
            cell.cell_type == "code" and self.begin_test_delimeter in cell.source
        )
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if had_hidden:
            for output in cell.get("outputs", []):
                if output.get("output_type") == "error":
                    output["traceback"] = hide_cell_frames(
                        list(output.get("traceback", [])), cell.get("execution_count")
                    )
        return cell, resources


def generate_feedback(course, assignment: str, student: str | None = None) -> list[str]:
    """Run nbgrader generate_feedback for one assignment; return error messages (empty if ok)."""
    api = course.api()
    result = api.generate_feedback(assignment, student)
    if result.get("success"):
        return []
    return [_last_error(result) or f"generate_feedback failed for {assignment}"]


def _last_error(result: dict) -> str:
    lines = [ln for ln in (result.get("log") or "").splitlines() if ln.startswith("[ERROR]")]
    if lines:
        return lines[-1].removeprefix("[ERROR]").strip()
    err = (result.get("error") or "").strip().splitlines()
    return err[-1] if err else ""
