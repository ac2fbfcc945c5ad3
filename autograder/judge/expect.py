"""Checks every hidden test needs, with messages a student can act on.

These are in the namespace of every hidden-test block (:mod:`autograder.judge.runner`), so
a block states what it checks instead of re-defining how to check it:

- ``numbers(got, call, names)``: the floats a call returned, one per name;
- ``arrays(got, call, names, shapes=None, dtype=None)``: the arrays a call returned, with
  their shapes and dtype checked;
- ``unchanged(target, *args, names=..., hint=...)``: call ``target`` (``student.f``) and fail
  when it changed an array argument in place; returns the call's result;
- ``gradients_ok(label, f, inputs, analytic, **options)``: ``check_gradients`` whose
  failure starts with ``label`` (the function and the case);
- ``show(value)``, ``describe(value)``, ``worst(got, want)``: short texts for messages;
- ``times(got, want)``: the factor k when ``got`` is k times ``want`` (a forgotten 1/N,
  a doubled gradient), else None.

- the requirement checks of :mod:`minigrad.expect` (``expect_close``, ``expect_shape``,
  ``expect_dtype``, ``expect_finite``, ``expect_accuracy``, ``expect_unchanged``,
  ``require``): the visible tests use the same functions, so a hidden check of a kind gives
  the message the student has already met in a visible one.

Each failure raises AssertionError with one message: what was called, what must hold and
what was got.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction

import numpy as np

from minigrad.expect import _text as short_text
from minigrad.expect import (
    expect_accuracy,
    expect_close,
    expect_dtype,
    expect_finite,
    expect_shape,
    expect_unchanged,
    require,
)

from ..protocol import plain_kind

__all__ = ["arrays", "describe", "expect_accuracy", "expect_close", "expect_dtype",
           "expect_finite", "expect_shape", "expect_unchanged", "gradients_ok", "numbers",
           "require", "show", "times", "unchanged", "worst"]

_SHOW = 120


def show(value) -> str:
    """A short text for a value from the student: small arrays as rounded lists."""
    return short_text(value)


def describe(value) -> str:
    """What a value is: 'a float32 array of shape (3, 2)', 'a tuple of 2', 'a float'."""
    if type(value) is np.ndarray:
        return f"a {value.dtype} array of shape {value.shape}"
    if type(value) in (tuple, list):
        return f"a {type(value).__name__} of {len(value)}"
    return plain_kind(value).replace(" object", "")


def worst(got, want) -> str:
    """Where ``got`` and ``want`` differ most: 'at index [1, 0] got 0.5, want 0.25'."""
    got = np.asarray(got, dtype=np.float64)
    want = np.broadcast_to(np.asarray(want, dtype=np.float64), got.shape)
    err = np.abs(got - want)
    index = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
    return (f"at index {[int(i) for i in index]} got {got[index]:.10g}, "
            f"want {want[index]:.10g}")


def times(got, want, rtol: float = 1e-6) -> Fraction | None:
    """k when got == k * want for a simple ratio k (2, 1/3, -1...) other than 1, else None."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape or not np.any(np.abs(want) > 1e-12):
        return None
    pick = np.argmax(np.abs(want))
    ratio = Fraction(float(got.flat[pick] / want.flat[pick])).limit_denominator(64)
    if ratio in (0, 1) or abs(float(ratio)) > 1000:
        return None
    if np.allclose(got, float(ratio) * want, rtol=rtol, atol=1e-12):
        return ratio
    return None


def _shown_tuple(got) -> str:
    def item(v) -> str:
        if isinstance(v, (np.ndarray, int, float, np.generic)):
            return show(v)
        if isinstance(v, str) and len(v) <= 40:
            return repr(v)
        return describe(v)

    if type(got) in (tuple, list):
        text = "(" + ", ".join(item(v) for v in got) + ")"
    else:
        text = item(got)
    return text if len(text) <= 2 * _SHOW else text[: 2 * _SHOW - 3] + "..."


def numbers(got, call: str, names: Sequence[str]) -> tuple[float, ...]:
    """The floats a call returned, one per name; fails saying what came back instead."""
    if type(got) is np.ndarray and got.ndim == 1:
        got = got.tolist()
    want = f"{call} must return {len(names)} numbers ({', '.join(names)})"
    assert type(got) in (tuple, list) and len(got) == len(names), (
        f"{want}, got {_shown_tuple(got)}")
    try:
        return tuple(float(v) for v in got)
    except (TypeError, ValueError):
        raise AssertionError(f"{want}, got {_shown_tuple(got)}") from None


def arrays(got, call: str, names: Sequence[str], shapes: Sequence[tuple] | None = None,
           dtype=None) -> tuple[np.ndarray, ...]:
    """The arrays a call returned, one per name, with their shapes and dtype checked."""
    assert type(got) in (tuple, list) and len(got) == len(names), (
        f"{call} must return the tuple ({', '.join(names)}), got {_shown_tuple(got)}")
    out = tuple(np.asarray(g) for g in got)
    if shapes is not None:
        found = [g.shape for g in out]
        assert found == [tuple(s) for s in shapes], (
            f"{call}: ({', '.join(names)}) must have the shapes {[tuple(s) for s in shapes]}, "
            f"got {found}")
    if dtype is not None:
        found = [g.dtype.name for g in out]
        assert all(d == np.dtype(dtype).name for d in found), (
            f"{call} must return {np.dtype(dtype).name} arrays like its inputs, got dtypes "
            f"{found} for ({', '.join(names)})")
    return out


def unchanged(target, *args, names: Sequence[str] | None = None, hint: str = "", **kwargs):
    """Call ``target(*args, **kwargs)`` in the kernel; fail when it changed an array argument
    in place. Returns the call's plain result."""
    result, after = target.inputs_after(*args, **kwargs)
    label = getattr(target, "_label", "the function")
    names = list(names or [f"argument {i + 1}" for i in range(len(args))])
    for name, before, now in zip(names, args, after):
        if type(before) is not np.ndarray:
            continue
        now = np.asarray(now)
        if now.shape != before.shape:
            raise AssertionError(f"{label} changed the shape of its argument {name} in place, "
                                 f"from {before.shape} to {now.shape}")
        if not np.array_equal(now, before, equal_nan=True):
            raise AssertionError(
                f"{label} changed its argument {name} in place ({worst(now, before)}): "
                + (hint or "build new arrays and leave the caller's arrays alone"))
    return result


def gradients_ok(label: str, f, inputs, analytic, **options) -> None:
    """``check_gradients(f, inputs, analytic, **options)``; its report, after ``label``."""
    from minigrad.gradcheck import check_gradients

    result = check_gradients(f, inputs, analytic, **options)
    if not result.passed:  # every failing input, then the table (the runner clips it)
        raise AssertionError(f"{label}: the gradients do not match finite differences\n"
                             f"{result}")
