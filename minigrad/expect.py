"""Checks that say what must hold and what was got: the visible tests' vocabulary.

The test cells of the course check requirements with these functions, and the hidden tests
(which run in the grader, see ``autograder.judge``) check the same requirements with the
same functions, so a student who passes the visible checks of a kind (dtype, shape, order,
numerical stability, ...) has seen the message that kind of hidden check would give.

Each ``expect_*`` function raises ``AssertionError`` with one sentence, which starts with
``what`` (the function and the case, e.g. ``"softmax(float32 logits of shape (4, 3))"``),
says what must hold and what was got; it returns the value it checked as a numpy array.

- ``expect_close(got, want, what)``: values (shape first, then the worst entry, and a
  constant factor such as "every entry is 2 times the right value" when there is one);
- ``expect_shape(got, shape, what)``, ``expect_dtype(got, dtype, what)``;
- ``expect_finite(got, what, hint=...)``: no nan or inf (numerical stability);
- ``expect_accuracy(accuracy, target, what)``: an accuracy target;
- ``expect_unchanged(before, after, what)``: an input not changed in place;
- ``require(kind, condition, message)``: any other requirement, with its kind named
  (``"order"``, ``"reset"``, ``"method"``, ...);
- ``autograd_off()``: inside the block, ``.backward()`` of ``Value`` and ``Tensor`` raises
  (exercises asking for a gradient by hand are graded like this);
- ``calls_to(name)``: counts the calls of a notebook function or of ``minigrad.Tensor.backward``
  while the block runs, to check how an answer works, not only what it returns.
"""

from __future__ import annotations

import contextlib
import sys
from fractions import Fraction

import numpy as np

__all__ = [
    "KINDS",
    "AutogradDisabledError",
    "autograd_off",
    "calls_to",
    "expect_accuracy",
    "expect_close",
    "expect_dtype",
    "expect_finite",
    "expect_shape",
    "expect_unchanged",
    "require",
]

KINDS = ("value", "shape", "dtype", "stability", "order", "reset", "accuracy", "method",
         "inplace", "gradient", "autograd-off", "iterative")
"""The kinds of requirement a test checks; ``require`` takes one of them."""

_SHOW = 120


class AutogradDisabledError(RuntimeError):
    """Raised when code asked to compute a gradient by hand calls ``.backward()``."""


def _text(value) -> str:
    """A value that is not numbers, on one line of at most ``_SHOW`` characters."""
    text = " ".join(repr(value).split())
    return text if len(text) <= _SHOW else text[: _SHOW - 3] + "..."


def _array(got, what: str) -> np.ndarray:
    data = getattr(got, "data", got) if type(got).__name__ in ("Tensor", "Value") else got
    try:
        return np.asarray(data)
    except Exception:  # noqa: BLE001 - anything that is not array-like
        raise AssertionError(f"{what} must be an array, got {type(got).__name__}") from None


def _factor(got: np.ndarray, want: np.ndarray) -> Fraction | None:
    if got.shape != want.shape or not np.any(np.abs(want) > 1e-12):
        return None
    pick = np.argmax(np.abs(want))
    ratio = float(got.flat[pick] / want.flat[pick])
    if not np.isfinite(ratio):  # a nan or inf answer is no constant factor of the right one
        return None
    ratio = Fraction(ratio).limit_denominator(64)
    if ratio in (0, 1) or abs(float(ratio)) > 1000:
        return None
    return ratio if np.allclose(got, float(ratio) * want, rtol=1e-6, atol=1e-12) else None


def expect_shape(got, shape, what: str) -> np.ndarray:
    """``got`` has shape ``shape``."""
    array = _array(got, what)
    shape = tuple(shape)
    if array.shape != shape:
        extra = " (the transpose)" if array.shape == shape[::-1] and len(shape) == 2 else ""
        raise AssertionError(f"{what} must have shape {shape}, got {array.shape}{extra}")
    return array


def expect_dtype(got, dtype, what: str) -> np.ndarray:
    """``got`` is an array of ``dtype`` (results keep their inputs' precision)."""
    array = _array(got, what)
    want = np.dtype(dtype)
    if array.dtype != want:
        raise AssertionError(f"{what} must be a {want.name} array like its inputs, got "
                             f"{array.dtype.name}: keep the inputs' dtype (no float64 "
                             "constants or accumulators)")
    return array


def expect_finite(got, what: str, hint: str = "") -> np.ndarray:
    """Every entry of ``got`` is finite."""
    array = _array(got, what)
    bad = ~np.isfinite(array.astype(float, copy=False)) if array.dtype.kind in "fc" else None
    if bad is not None and bad.any():
        index = [int(i) for i in np.unravel_index(np.argmax(bad), array.shape)] \
            if array.ndim else []
        value = array[tuple(index)] if array.ndim else array
        where = f" at index {index}" if array.ndim else ""
        raise AssertionError(f"{what} must be finite, got {value}{where}"
                             + (f": {hint}" if hint else ""))
    return array


def expect_close(got, want, what: str, rtol: float = 1e-6, atol: float = 1e-8,
                 hint: str = "") -> np.ndarray:
    """``got`` has ``want``'s shape and values, within ``rtol``/``atol``."""
    want = np.asarray(want)
    array = expect_shape(got, want.shape, what)
    try:
        got_f = array.astype(np.float64)
    except (TypeError, ValueError):
        raise AssertionError(f"{what} must hold numbers, got {_text(got)}") from None
    want_f = want.astype(np.float64)
    if np.allclose(got_f, want_f, rtol=rtol, atol=atol, equal_nan=False):
        return array
    if got_f.ndim == 0:
        where = f"got {float(got_f):.10g}, want {float(want_f):.10g}"
    else:
        err = np.abs(got_f - want_f)
        index = np.unravel_index(np.argmax(np.where(np.isnan(err), np.inf, err)), err.shape)
        where = (f"at index {[int(i) for i in index]} got {got_f[index]:.10g}, "
                 f"want {want_f[index]:.10g}")
    factor = _factor(got_f, want_f)
    if factor is not None:
        where += (f"; every entry is {factor} times the right value" if factor != -1
                  else "; every entry has the wrong sign")
    raise AssertionError(f"{what}: wrong values, {where}" + (f". {hint}" if hint else ""))


def expect_accuracy(accuracy, target: float, what: str, hint: str = "") -> float:
    """``accuracy`` (a fraction in [0, 1]) is at least ``target``."""
    value = float(accuracy)
    if not value >= target:
        raise AssertionError(f"{what} must reach an accuracy of at least {target:.0%}, got "
                             f"{value:.1%}" + (f": {hint}" if hint else ""))
    return value


def expect_unchanged(before, after, what: str) -> None:
    """An input array is the same after the call as before (not changed in place)."""
    b, a = np.asarray(before), np.asarray(after)
    if b.shape != a.shape or not np.array_equal(a, b, equal_nan=True):
        raise AssertionError(f"{what} changed its input in place: build new arrays and leave "
                             "the caller's arrays alone")


def require(kind: str, condition, message: str) -> None:
    """Fail with ``message`` unless ``condition``; ``kind`` names the requirement."""
    if kind not in KINDS:
        raise ValueError(f"require: kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not condition:
        raise AssertionError(message)


def _refuse_backward(*args, **kwargs):
    raise AutogradDisabledError(
        "autograd is switched off for this exercise: compute the gradient by hand with "
        "numpy instead of calling .backward()")


@contextlib.contextmanager
def autograd_off():
    """Inside the block, ``Value.backward`` and ``Tensor.backward`` raise."""
    from minigrad.tensor import Tensor
    from minigrad.value import Value

    saved = [(cls, vars(cls)["backward"]) for cls in (Tensor, Value) if "backward" in vars(cls)]
    for cls, _ in saved:
        cls.backward = _refuse_backward
    try:
        yield
    finally:
        for cls, original in saved:
            cls.backward = original


class Calls:
    """How often a function was called inside a ``calls_to`` block."""

    def __init__(self, name: str):
        self.name = name
        self.count = 0

    def __repr__(self) -> str:
        return f"<{self.count} call(s) to {self.name}>"


@contextlib.contextmanager
def calls_to(name: str, namespace: dict | None = None):
    """Count the calls of ``name`` inside the block: a function of the calling notebook
    (``"numerical_jacobian"``) or a dotted path from a module (``"minigrad.Tensor.backward"``).
    """
    namespace = namespace if namespace is not None else sys._getframe(2).f_globals
    parts = name.split(".")
    if parts[0] in namespace and len(parts) == 1:
        owner, attr = namespace, parts[0]
    else:
        root = namespace.get(parts[0]) or sys.modules.get(parts[0])
        if root is None or len(parts) < 2:
            raise ValueError(f"calls_to: {name!r} is neither a name of the notebook nor a "
                             "dotted path from an imported module")
        for part in parts[1:-1]:
            root = getattr(root, part)
        owner, attr = root, parts[-1]
    get = owner.__getitem__ if isinstance(owner, dict) else (lambda a: getattr(owner, a))
    original = get(attr)
    seen = Calls(name)

    def counted(*args, **kwargs):
        seen.count += 1
        return original(*args, **kwargs)

    if isinstance(owner, dict):
        owner[attr] = counted
    else:
        setattr(owner, attr, counted)
    try:
        yield seen
    finally:
        if isinstance(owner, dict):
            owner[attr] = original
        else:
            setattr(owner, attr, original)
