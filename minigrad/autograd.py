"""Autograd's mechanics in one place: grad mode, the ``Function`` contract and the backward pass.

The op contract is ``Function`` with ``forward(ctx, *arrays)`` and ``backward(ctx, grad_output)``,
used by every op in ``ops.py`` and by user-defined ops:

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

``backward(root, grad)`` is the backward pass: an iterative topological sort, then
one sweep in reverse order that hands each op its output gradient. ``apply`` records
each Tensor input's ``_version`` (bumped by every assignment to ``.data``), and the
sweep refuses an op whose input was reassigned since, as PyTorch does.

Grad mode (``no_grad``, ``enable_grad``, ``is_grad_enabled``) is per thread, and each
block restores the mode it found, so blocks nest and decorated functions may recurse.

This module never imports ``minigrad.tensor``: the Tensor class registers itself
with ``@register_tensor`` when it is defined, which tells ``Function.apply`` what to
recognise among its arguments and what to wrap its output in. So the import
graph has no cycle (autograd <- ops <- tensor).
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from minigrad import backend

__all__ = [
    "Context",
    "Function",
    "backward",
    "enable_grad",
    "is_grad_enabled",
    "no_grad",
    "register_tensor",
    "unbroadcast",
]

_Tensor = None  # the class registered by register_tensor


def register_tensor(cls):
    """Class decorator: ops take ``cls`` instances as graph inputs and return ``cls._make(...)``."""
    global _Tensor
    _Tensor = cls
    return cls


# ------------------------------------------------------------------------- grad mode
class _GradMode(threading.local):
    """Per-thread grad mode, as in PyTorch: ``enabled`` and the modes saved by open blocks."""

    def __init__(self):
        self.enabled = True
        self.saved = []


_mode = _GradMode()


def is_grad_enabled() -> bool:
    """Whether new ops record a graph in this thread (False inside ``no_grad``)."""
    return _mode.enabled


class _SetGradMode:
    """A block (or decorated function) that runs with grad mode ``self.enabled``.

    The mode before each entry is pushed on a per-thread stack and restored at the
    matching exit, so one instance may be nested or used by a recursive function.
    Used bare (``@no_grad``) or called (``@no_grad()``), it decorates a function.
    """

    enabled: bool

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self if func is None else self(func)

    def __enter__(self):
        _mode.saved.append(_mode.enabled)
        _mode.enabled = self.enabled
        return self

    def __exit__(self, *exc):
        _mode.enabled = _mode.saved.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with self:
                return func(*args, **kwargs)

        return wrapper


class no_grad(_SetGradMode):
    """Context manager (and decorator) in which Tensor ops record no graph, as in PyTorch.

    The mode is per thread: a ``no_grad`` block in one thread leaves recording on in
    the others. ``Value`` (the scalar engine) ignores it and always records, to
    keep its ops as cheap as a Python closure.
    """

    enabled = False


class enable_grad(_SetGradMode):
    """Context manager (and decorator) that turns recording back on inside ``no_grad``."""

    enabled = True


# -------------------------------------------------------------------- the op contract
class Context:
    """What one op application remembers for its backward pass.

    ``fn`` is the Function class, ``inputs`` the positional arguments it got,
    ``needs_input_grad`` one bool per input and ``versions`` each Tensor input's
    ``_version`` when the op ran (None for other inputs). Ops may store extra attributes.
    """

    __slots__ = ("fn", "inputs", "needs_input_grad", "versions", "saved_tensors", "__dict__")

    def __init__(self, fn=None, inputs=(), needs_input_grad=(), versions=()):
        self.fn = fn
        self.inputs = inputs
        self.needs_input_grad = needs_input_grad
        self.versions = versions
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
        versions = []
        record = False
        for a in args:
            if isinstance(a, _Tensor):
                raw.append(a._data)
                versions.append(a._version)
                needs.append(a.requires_grad)
                record = record or a.requires_grad
            else:
                raw.append(a)
                versions.append(None)
                needs.append(False)
        record = record and _mode.enabled
        needs = tuple(needs)
        ctx = Context(cls, args, needs, tuple(versions)) if record else Context(cls, (), needs)
        out = cls.forward(ctx, *raw, **kwargs)
        if isinstance(out, _Tensor):
            raise TypeError(
                f"{cls.__name__}.forward must return an array, not a Tensor "
                "(forward works on raw arrays: use .data)"
            )
        return _Tensor._make(out, ctx if record else None)


# ----------------------------------------------------------------- the backward pass
def backward(root, grad=None) -> None:
    """Backpropagate from ``root``, adding gradients into the leaves' ``.grad``.

    ``grad`` is dL/d(root); it may be omitted only when ``root`` holds a single number.
    """
    if not root.requires_grad:
        raise RuntimeError(
            "backward: this tensor does not require grad: no input of its graph was made "
            "with requires_grad=True (or it was computed inside no_grad())"
        )
    data = root._data
    if grad is None:
        if data.size != 1:
            raise RuntimeError(
                f"backward: grad can be omitted only for a single-number output (got shape "
                f"{data.shape}); reduce it first (e.g. .sum()) or pass grad= an array of that "
                "shape"
            )
        grad = backend.array_module(data).ones_like(data)
    else:
        # A copy: no .grad is ever the caller's own array.
        grad = backend.array_module(data).array(
            grad._data if isinstance(grad, _Tensor) else backend.as_array(grad),
            dtype=data.dtype,
        )
        if grad.shape != data.shape:
            raise ValueError(
                f"backward: grad must have the output's shape {data.shape} (got {grad.shape})"
            )

    grads = {root: grad}  # Tensors hash by identity
    pop, get = grads.pop, grads.get
    given_to_leaves = set()
    for node in reversed(_topological_order(root)):
        g = pop(node, None)
        if g is None:
            continue
        ctx = node._ctx
        if ctx is None:
            # Leaf: accumulate; never store an array another node may also hold.
            if id(g) in given_to_leaves or not getattr(g.flags, "writeable", True):
                g = g.copy()
            given_to_leaves.add(id(g))
            node.grad = g if node.grad is None else node.grad + g
            continue
        node.grad = g
        inputs = ctx.inputs
        for i, (parent, version) in enumerate(zip(inputs, ctx.versions)):
            if version is not None and parent._version != version:
                _raise_modified(ctx.op, i, version, parent._version)
        in_grads = ctx.fn.backward(ctx, g)
        if type(in_grads) is not tuple:
            in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
        if len(in_grads) != len(inputs):
            raise ValueError(
                f"{ctx.op}.backward must return a tuple with one gradient per input of "
                f"forward (None for an input without one): {len(inputs)} expected, "
                f"got {len(in_grads)}"
            )
        for parent, needed, pg in zip(inputs, ctx.needs_input_grad, in_grads):
            if not needed or pg is None:
                continue
            data = parent._data
            if type(pg) is not type(data) or pg.shape != data.shape:
                pg = _fit_gradient(pg, data, ctx)
            elif pg.dtype is not data.dtype and pg.dtype != data.dtype:
                pg = pg.astype(data.dtype)
            prev = get(parent)
            grads[parent] = pg if prev is None else prev + pg


def _raise_modified(op: str, position: int, recorded: int, now: int):
    raise RuntimeError(
        f"backward: input {position} of {op} was modified after {op} used it (its .data was "
        f"at version {recorded} when the op ran, {now} now), so its gradient would be wrong; "
        "run the forward pass again after changing .data, or change it only after backward()"
    )


def _topological_order(root) -> list:
    """Nodes that need a gradient, each after all its inputs; iterative, so any depth works."""
    order = []
    seen = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        ctx = node._ctx
        if ctx is not None:
            for parent, needed in zip(ctx.inputs, ctx.needs_input_grad):
                if needed and parent not in seen:
                    stack.append((parent, False))
    return order


def _fit_gradient(pg, data, ctx: Context):
    """Bring a gradient returned by ``ctx``'s backward to the input's type, shape and dtype."""
    if isinstance(pg, _Tensor):
        pg = pg._data
    if not hasattr(pg, "shape") or isinstance(pg, np.generic):
        pg = backend.as_array(pg, data.dtype)
    if pg.shape != data.shape:
        try:
            pg = unbroadcast(pg, data.shape)
        except ValueError as exc:  # the op's name is looked up only when it is needed
            raise ValueError(f"{ctx.op}.{exc}") from None
    if pg.dtype != data.dtype:
        pg = pg.astype(data.dtype)
    return pg


def unbroadcast(grad, shape: tuple, where: str = "backward"):
    """Sum ``grad`` over the axes that broadcasting added or stretched, giving ``shape``.

    This is the one place where gradients of broadcast operands are reduced.
    """
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    if extra > 0 and grad.shape[extra:] == shape:  # only leading axes added (a bias row)
        return grad.sum(axis=tuple(range(extra)))
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
