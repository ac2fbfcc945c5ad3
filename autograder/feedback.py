"""The ``feedback`` step: nbgrader's generate_feedback, with its errors made readable.

Hidden tests never reach feedback: they are not in the notebooks at all (``build`` moves
them to ``course/judge/``, and the judge writes only its verdict into a graded cell), so
nbgrader's own feedback preprocessors are enough.
"""

from __future__ import annotations

__all__ = ["generate_feedback"]


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
