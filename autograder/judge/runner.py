"""Run one hidden-test block in the judge and turn what happened into a verdict.

A hidden-test block is the instructor's code between ``### BEGIN HIDDEN TESTS`` and
``### END HIDDEN TESTS`` in a test cell of ``notebooks/``; ``autograder build`` moves it out
of the notebook into ``course/judge/`` (see :mod:`autograder.judge.tests`). It runs here, in
the grading process, never in the student's kernel, with these names:

- ``student``: the handle on the student's kernel (:class:`autograder.judge.Student`), with
  the helpers for patterns many blocks share: ``student.counting(name, missing_ok=True)``
  (counts the calls of a notebook function, zero when the notebook has none) and
  ``student.standins({name: answers, ...})`` (each function the notebook defines answers
  the judge's inputs, so one exercise is judged on its own);
- ``np``, ``math``, ``mg`` (minigrad, imported by this trusted process) and
  ``check_gradients`` / ``gradcheck`` from :mod:`minigrad.gradcheck`;
- ``seed``: an integer derived from the student, the assignment and the test cell, for the
  test's random cases (the same student gets the same cases on a regrade);
- ``StudentError`` and ``raises(type_name, call, *args, **kwargs)``, for tests that expect
  the student's code to raise;
- the checks of :mod:`autograder.judge.expect`: ``numbers``, ``arrays``, ``unchanged``,
  ``gradients_ok``, ``show``, ``describe``, ``worst`` and ``times``, and the requirement
  checks of :mod:`minigrad.expect` (``expect_close``, ``require`` ...);
- whatever the assignment's hidden preamble (``notebooks/<assignment>/hidden.py``) defines:
  it runs in the block's namespace before the block, so helpers one notebook's blocks share
  are written once there.

The block passes when it finishes. It fails with one message: an ``assert``'s message,
the first lines of a gradient check's report, or what the student's call raised. A
kernel that dies or hangs is not the block's verdict: :class:`KernelLost` goes up to the
executor, which runs the rest of the notebook in a fresh kernel.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass

import numpy as np

from .seeds import seed_for
from .student import KernelLost, Student, StudentError, StudentTimeout
from .tests import PREAMBLE_NAME

__all__ = ["Verdict", "judge_block", "seed_for", "student_message"]

_MAX_LINES = 12
_MAX_CHARS = 1500


@dataclass(frozen=True)
class Verdict:
    """What the judge decided about one test cell."""

    passed: bool
    message: str = ""
    seconds: float = 0.0
    calls: int = 0


def student_message(exc: StudentError) -> str:
    """What a student reads when their code raised under the judge: one line that says what
    to do for the errors that have one answer."""
    if exc.type_name == "RecursionError":
        return (f"{exc.what} hit Python's recursion limit: write it as a loop with an explicit "
                "stack or list, so it works on graphs thousands of nodes deep")
    if exc.type_name == "NotImplementedError" and not exc.message:
        return (f"{exc.what} is not answered yet: replace `raise NotImplementedError()` with "
                "your code")
    if isinstance(exc, StudentTimeout):
        return (f"{exc.what} {exc.message}: look for an endless loop, or a much slower method "
                "than the exercise asks for")
    return str(exc)


def _clip(text: str) -> str:
    lines = text.strip().splitlines() or [""]
    if len(lines) > _MAX_LINES:
        lines = lines[:_MAX_LINES] + ["..."]
    text = "\n".join(lines)
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 3] + "..."


def raises(type_name: str, call, *args, **kwargs) -> StudentError:
    """Call ``call(*args, **kwargs)``; return the StudentError when it raised ``type_name``,
    else fail with a message saying what happened instead."""
    try:
        call(*args, **kwargs)
    except StudentError as exc:
        if exc.type_name == type_name:
            return exc
        raise AssertionError(f"expected {type_name}, but {exc}") from None
    label = getattr(call, "_label", getattr(call, "__name__", "the call"))
    raise AssertionError(f"{label} must raise {type_name} here, and it returned normally")


def _namespace(student: Student, seed: int) -> dict:
    import minigrad as mg
    from minigrad.gradcheck import check_gradients, gradcheck

    from . import expect

    return {
        **{name: getattr(expect, name) for name in expect.__all__},
        "__name__": "hidden_tests",
        "student": student,
        "np": np,
        "math": math,
        "mg": mg,
        "check_gradients": check_gradients,
        "gradcheck": gradcheck,
        "seed": seed,
        "StudentError": StudentError,
        "raises": raises,
    }


def judge_block(code: str, student: Student, *, seed: int = 0,
                filename: str = "<hidden tests>", preamble: str = "") -> Verdict:
    """Run ``preamble`` then ``code`` against ``student`` in one namespace; the verdict
    (KernelLost propagates)."""
    start = time.perf_counter()
    calls = student.calls
    try:
        compiled = [compile(preamble, PREAMBLE_NAME, "exec"), compile(code, filename, "exec")]
        namespace = _namespace(student, seed)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            for part in compiled:
                exec(part, namespace)
    except KernelLost:
        raise
    except StudentError as exc:
        return _done(False, student_message(exc), start, student, calls)
    except AssertionError as exc:
        text = str(exc) or "a hidden check failed (it gives no reason)"
        return _done(False, text, start, student, calls)
    except RecursionError:
        return _done(False, "the hidden test hit Python's recursion limit while checking "
                            "your answer", start, student, calls)
    except Exception as exc:  # noqa: BLE001 - any other failure is the answer's shape
        return _done(False, "the hidden test could not use your answer "
                            f"({type(exc).__name__}: {exc})", start, student, calls)
    return _done(True, "", start, student, calls)


def _done(passed: bool, message: str, start: float, student: Student, calls: int) -> Verdict:
    return Verdict(passed, _clip(message), time.perf_counter() - start, student.calls - calls)
