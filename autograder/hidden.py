"""Helpers that hidden tests call inside the student's kernel.

A hidden test must not trust anything the student's cells could have replaced.
These helpers give it a private copy of a module, a way to switch minigrad's
autograd off for exercises that ask for gradients by hand, and a scope in which
warnings cannot turn a correct answer into a failed cell.
"""

from __future__ import annotations

import contextlib
import importlib.util
import warnings
from collections.abc import Iterator
from types import ModuleType

__all__ = ["AutogradDisabledError", "engine_off", "fresh_module", "quiet"]


class AutogradDisabledError(RuntimeError):
    """Raised when an exercise that asks for a gradient by hand calls minigrad's backward."""


def fresh_module(name: str) -> ModuleType:
    """Load module ``name`` again from its file, without touching ``sys.modules``.

    Rebinding or patching the module the student imported does not reach the copy.
    """
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"fresh_module: no module named {name!r} is installed")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _refuse(*args, **kwargs):
    raise AutogradDisabledError(
        "autograd is switched off in this test: this exercise asks for the gradient by hand, "
        "so compute it with numpy instead of calling .backward()"
    )


@contextlib.contextmanager
def engine_off() -> Iterator[None]:
    """Make ``Tensor.backward`` and ``Value.backward`` raise inside the block."""
    import minigrad

    classes = [minigrad.Tensor, minigrad.Value]
    saved = [cls.__dict__["backward"] for cls in classes]
    try:
        for cls in classes:
            cls.backward = _refuse
        yield
    finally:
        for cls, original in zip(classes, saved):
            cls.backward = original


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Python warnings and numpy floating-point warnings inside the block."""
    import numpy as np

    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        yield
