"""The op contract: ``Function`` with ``forward(ctx, *arrays)`` and ``backward(ctx, grad_output)``.

Stated once here, used by every op in ``ops.py`` and by user-defined ops:

    class Square(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return (2 * x * grad_output,)

    y = Square.apply(t)

``forward`` sees raw arrays (numpy or cupy), never Tensors. ``backward`` returns
one gradient per positional input of ``forward`` (``None`` where there is none);
a gradient may have the broadcast shape of the output: the engine reduces it to
the input's shape in one place (``unbroadcast``).
This file also owns the global grad mode (``no_grad``).
"""

from __future__ import annotations

import contextlib

__all__ = ["Context", "Function", "is_grad_enabled", "no_grad", "unbroadcast"]

_grad_enabled = True
_Tensor = None  # minigrad.tensor.Tensor, bound when that module loads


def is_grad_enabled() -> bool:
    """Whether new ops record a graph (False inside ``no_grad``)."""
    return _grad_enabled


class no_grad(contextlib.ContextDecorator):
    """Context manager (and decorator) in which ops record no graph, as in PyTorch."""

    def __enter__(self):
        global _grad_enabled
        self._prev = _grad_enabled
        _grad_enabled = False
        return self

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self._prev
        return False


class Context:
    """What one op application remembers for its backward pass.

    ``fn`` is the Function class, ``inputs`` the positional arguments it got,
    ``needs_input_grad`` one bool per input. Ops may store extra attributes.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "saved_tensors", "__dict__")

    def __init__(self, fn=None, inputs=(), needs_input_grad=()):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.saved_tensors = ()

    def save_for_backward(self, *arrays) -> None:
        """Keep arrays for ``backward``; read them back as ``ctx.saved_tensors``."""
        self.saved_tensors = arrays

    @property
    def op(self) -> str:
        """The op's name, for drawing and error messages."""
        return getattr(self.fn, "name", None) or self.fn.__name__

    @property
    def parents(self) -> tuple:
        """The Tensor inputs of this op, in order."""
        return tuple(a for a in self.inputs if isinstance(a, _Tensor))


class Function:
    """Base class of every differentiable op. Subclass it and call ``YourOp.apply(...)``."""

    name: str | None = None

    @staticmethod
    def forward(ctx: Context, *args, **kwargs):
        raise NotImplementedError("Function subclasses must define forward(ctx, *arrays)")

    @staticmethod
    def backward(ctx: Context, grad_output):
        raise NotImplementedError("Function subclasses must define backward(ctx, grad_output)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` on the arrays behind ``args`` and record the op in the graph."""
        raw = []
        needs = []
        record = False
        for a in args:
            if isinstance(a, _Tensor):
                raw.append(a.data)
                needs.append(a.requires_grad)
                record = record or a.requires_grad
            else:
                raw.append(a)
                needs.append(False)
        record = record and _grad_enabled
        ctx = Context(cls, args if record else (), tuple(needs))
        out = cls.forward(ctx, *raw, **kwargs)
        if isinstance(out, _Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return an array, not a Tensor "
                "(forward works on raw arrays: use .data)"
            )
        return _Tensor._make(out, ctx if record else None)


def unbroadcast(grad, shape: tuple, where: str = "backward"):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    This is the one place where gradients of broadcast operands are reduced.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra < 0 or any(s != 1 and s != g for s, g in zip(shape, grad.shape[extra:])):
        raise ValueError(
            f"{where}: a gradient of shape {grad.shape} cannot be reduced to the input's shape "
            f"{shape}; the gradient must have the input's shape or a shape it broadcasts to"
        )
    axes = tuple(range(extra)) + tuple(
        extra + i for i, s in enumerate(shape) if s == 1 and grad.shape[extra + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes)
    return grad.reshape(shape)
