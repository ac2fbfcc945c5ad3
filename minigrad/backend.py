"""The array backend, chosen in one place: numpy by default, cupy for arrays on a GPU.

Every op asks ``array_module(x)`` for the module that owns its input, so the same
code runs on numpy and cupy arrays. cupy is imported only when a cupy array or
the device ``"cuda"`` is actually used.
"""

from __future__ import annotations

import sys
from types import ModuleType

import numpy as np

__all__ = [
    "array_module",
    "as_array",
    "cupy",
    "is_floating",
    "scatter_add",
    "to_device",
    "to_numpy",
]

_CUPY_HINT = (
    "minigrad: the 'cuda' device needs cupy, which is not installed. "
    "Install it with: pip install 'minigrad-course[gpu]' (cupy for CUDA 12), "
    "on a machine with an NVIDIA GPU."
)


def cupy() -> ModuleType:
    """Import cupy on first use, with an install hint when it is missing."""
    try:
        import cupy as cp
    except ImportError as exc:
        raise ImportError(_CUPY_HINT) from exc
    return cp


def array_module(a) -> ModuleType:
    """The module (numpy or cupy) that owns array ``a``."""
    if isinstance(a, np.ndarray) or not type(a).__module__.startswith("cupy"):
        return np
    return sys.modules["cupy"]


def is_floating(a) -> bool:
    """True when ``a`` has a floating-point dtype."""
    return np.issubdtype(a.dtype, np.floating)


def as_array(data, dtype=None):
    """Turn ``data`` into an array, keeping numpy and cupy arrays as they are.

    Python numbers and lists of numbers become float64 (bools and integers
    included), as in the documented API; numpy integer arrays keep their dtype so
    that labels stay integers.
    """
    if isinstance(data, np.ndarray) or type(data).__module__.startswith("cupy"):
        if data.dtype.kind not in "biufc":
            _refuse(f"{type(data).__name__} of dtype {data.dtype}")
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, (str, bytes)):
        _refuse(type(data).__name__)
    if isinstance(data, np.generic):
        if data.dtype.kind not in "biufc":
            _refuse(type(data).__name__)
        return np.asarray(data, dtype=dtype)
    try:
        arr = np.asarray(data, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise TypeError(
            f"Tensor: data must be a number or a rectangular array of numbers "
            f"(got {type(data).__name__}: {exc})"
        ) from None
    if dtype is None and arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    if arr.dtype == object:
        raise TypeError(
            f"Tensor: data must be numbers or an array of numbers (got {type(data).__name__} "
            "holding non-numbers); ragged lists are a common cause"
        )
    if arr.dtype.kind not in "biufc":
        _refuse(f"{type(data).__name__} holding {arr.dtype} entries")
    return arr


def _refuse(got: str):
    """Strings, bytes, objects and dates are not data: an array holds booleans or numbers."""
    raise TypeError(f"Tensor: data must be numbers (got {got})")


def to_numpy(a) -> np.ndarray:
    """A numpy copy (or view) of ``a`` wherever it lives."""
    if isinstance(a, np.ndarray):
        return a
    return cupy().asnumpy(a)


def to_device(a, device: str):
    """Move array ``a`` to ``"cpu"`` (numpy) or ``"cuda"`` (cupy)."""
    if device == "cpu":
        return to_numpy(a)
    if device in ("cuda", "gpu"):
        return cupy().asarray(a)
    raise ValueError(f"to: device must be 'cpu' or 'cuda' (got {device!r})")


def scatter_add(target, index, values) -> None:
    """``target[index] += values`` with repeated indices adding up, on either backend."""
    if isinstance(target, np.ndarray):
        np.add.at(target, index, values)
    else:  # pragma: no cover - needs a GPU
        import cupyx

        cupyx.scatter_add(target, index, values)
