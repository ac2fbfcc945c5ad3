"""The rule for errors a student meets in a blank notebook, shared by the browser test and the
student-install test: what the kit raises must be readable."""

from __future__ import annotations

from nbconvert.filters import strip_ansi

__all__ = ["CHECKER_ERRORS", "frames", "unreadable"]

CHECKER_ERRORS = ("GradientCheckError", "AssertionError", "NotAnsweredError")


def frames(traceback: list[str]) -> list[str]:
    """First lines of a traceback's frames ('Cell In[3], line 2', 'File .../x.py:10, in f'),
    outermost first."""
    heads = [strip_ansi(entry).strip().splitlines() for entry in traceback]
    return [h[0] for h in heads if h and h[0].startswith(("Cell In[", "File "))]


def unreadable(error: dict, test_cell: bool) -> str | None:
    """Why an error output of a blank notebook is not one a student can read; None when it is.

    Readable: the stub's own NotImplementedError, raised in a notebook cell; a checker's error
    (GradientCheckError, AssertionError, NotAnsweredError) with a message; outside test cells
    also a NameError in a notebook cell (a name an earlier failing cell did not get to define).
    """
    ename, evalue = error.get("ename", ""), strip_ansi(error.get("evalue") or "").strip()
    where = frames(list(error.get("traceback") or []))
    innermost = where[-1] if where else "(no frame)"
    in_cell = innermost.startswith("Cell In[")
    if ename == "NotImplementedError":
        return None if in_cell else f"NotImplementedError raised in the kit, at {innermost}"
    if ename in CHECKER_ERRORS:
        return None if evalue else f"{ename} without a message, at {innermost}"
    if ename == "NameError" and in_cell and not test_cell:
        return None
    return f"{ename}: {evalue.splitlines()[0] if evalue else ''} (raised at {innermost})"
