"""The op table: every primitive differentiable op, its forward and its local derivative.

Each op is a ``Function`` whose docstring gives the formula and the gradient it
sends back. Backward results may keep the broadcast shape of the output; the
engine reduces them to each input's shape (``autograd.unbroadcast``). Everything
else in minigrad (mean, softmax, losses, layers) is a composition of these.

``@op(name, method, reflected=...)`` right above each class registers it in ``OPS``,
the table ``Tensor`` builds its methods from (see ``minigrad.tensor``): an op's
name is written once. A test fails when a registered op has no method or no test
row. Ops share plain helpers on arrays (``_matmul``, ``_log_softmax``), never
another op's ``forward`` or saved state.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from minigrad.autograd import Function
from minigrad.backend import array_module, scatter_add

__all__ = ["OPS", "OpEntry", "normalize_axes", "op"]


class OpEntry(NamedTuple):
    """One row of ``OPS``: the Function and the Tensor methods that apply it."""

    fn: type
    method: str | None  # Tensor method that applies it; None for a fused op (functional, nn)
    reflected: str | None  # for a binary operator: the reflected method (``__radd__``)


OPS: dict[str, OpEntry] = {}


def op(name: str, method: str | None = None, reflected: str | None = None):
    """Class decorator: register a Function as op ``name``, applied by ``Tensor.<method>``.

    With ``reflected``, the op is a binary operator: ``t.method(x)`` is ``op(t, x)`` and
    ``t.reflected(x)`` is ``op(x, t)``, with Python numbers and arrays as ``x``. Otherwise the
    method passes its arguments to ``forward`` as keywords after the tensor, unless the
    class defines ``tensor_method(x, ...)`` to turn the method's arguments into ``apply``'s.
    ``minigrad.tensor`` builds the methods when it loads, so ops are registered here, in
    this file; an op of your own is a ``Function`` called with ``YourOp.apply(...)``.
    """

    def register(fn):
        if name in OPS:
            raise ValueError(f"op: the name {name!r} is already registered by {OPS[name].fn}")
        fn.name = name
        OPS[name] = OpEntry(fn, method, reflected)
        return fn

    return register


def _broadcast_error(name, a, b, exc):
    sa, sb = np.shape(a), np.shape(b)
    return (
        ValueError(f"{name}: shapes {sa} and {sb} are not broadcastable")
        if "broadcast" in str(exc)
        else exc
    )


def normalize_axes(axis, ndim: int, name: str) -> tuple:
    """``axis`` (None, int or tuple) as a sorted tuple of non-negative axes, checked."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < ndim or (ndim == 0 and a not in (0, -1)):
            raise ValueError(
                f"{name}: axis {a} is out of range for an array with {ndim} dimensions"
            )
        out.append(int(a) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: repeated axis in {axis}")
    return tuple(sorted(out))


@op("add", "__add__", reflected="__radd__")
class Add(Function):
    """out = a + b;  da = g, db = g."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a + b
        except ValueError as exc:
            raise _broadcast_error("add", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        return g, g


@op("sub", "__sub__", reflected="__rsub__")
class Sub(Function):
    """out = a - b;  da = g, db = -g."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a - b
        except ValueError as exc:
            raise _broadcast_error("sub", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


@op("mul", "__mul__", reflected="__rmul__")
class Mul(Function):
    """out = a * b;  da = g * b, db = g * a."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return a * b
        except ValueError as exc:
            raise _broadcast_error("mul", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g * b if da else None), (g * a if db else None)


@op("div", "__truediv__", reflected="__rtruediv__")
class Div(Function):
    """out = a / b;  da = g / b, db = -g * a / b**2."""

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        try:
            return a / b
        except ValueError as exc:
            raise _broadcast_error("div", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        return (g / b if da else None), (-g * a / (b * b) if db else None)


@op("pow", "__pow__", reflected="__rpow__")
class Pow(Function):
    """out = a ** b;  da = g * b * a**(b-1) (0 where b == 0), db = g * out * log(a) (for a > 0)."""

    @staticmethod
    def forward(ctx, a, b):
        try:
            out = a**b
        except ValueError as exc:
            raise _broadcast_error("pow", a, b, exc) from None
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, g):
        a, b, out = ctx.saved_tensors
        da, db = ctx.needs_input_grad
        # Where b == 0 the exponent b - 1 is replaced by 1, so 0 ** -1 is never computed.
        ga = g * b * a ** array_module(a).where(b == 0, 1, b - 1) if da else None
        gb = g * out * array_module(out).log(a) if db else None
        return ga, gb


@op("neg", "__neg__")
class Neg(Function):
    """out = -a;  da = -g."""

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


@op("matmul", "__matmul__", reflected="__rmatmul__")
class MatMul(Function):
    """out = a @ b (2-D, batched or with 1-D vectors);  da = g @ b^T, db = a^T @ g.

    A 1-D operand is treated as a row (left) or column (right) vector, as numpy
    does; batch axes that broadcasting added are summed by the engine.
    """

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return _matmul(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _matmul_grads(a, b, g, *ctx.needs_input_grad)


def _matmul(a, b):
    """a @ b, with errors that name both shapes."""
    sa, sb = np.shape(a), np.shape(b)
    if len(sa) == 0 or len(sb) == 0:
        raise ValueError(f"matmul: operands must have at least 1 dimension (got {sa} and {sb})")
    k_a = sa[-1]
    k_b = sb[-2] if len(sb) > 1 else sb[0]
    if k_a != k_b:
        raise ValueError(
            f"matmul: shapes {sa} and {sb} are not aligned: {k_a} (last axis of the first) "
            f"!= {k_b} ({'second-to-last' if len(sb) > 1 else 'only'} axis of the second)"
        )
    try:
        return a @ b
    except ValueError as exc:
        raise ValueError(f"matmul: batch shapes of {sa} and {sb} are not broadcastable") from exc


def _matmul_grads(a, b, g, need_a: bool, need_b: bool):
    """dL/da = g @ b^T and dL/db = a^T @ g, with 1-D operands promoted and squeezed back."""
    if a.ndim == 1 and b.ndim == 1:  # dot product: g is a number
        return (g * b if need_a else None), (g * a if need_b else None)
    xp = array_module(g)
    a2 = a[None, :] if a.ndim == 1 else a
    b2 = b[:, None] if b.ndim == 1 else b
    g2 = g
    if a.ndim == 1:
        g2 = xp.expand_dims(g2, -2)
    if b.ndim == 1:
        g2 = xp.expand_dims(g2, -1)
    ga = gb = None
    if need_a:
        ga = g2 @ xp.swapaxes(b2, -1, -2)
        if a.ndim == 1:
            ga = ga[..., 0, :]
    if need_b:
        gb = xp.swapaxes(a2, -1, -2) @ g2
        if b.ndim == 1:
            gb = gb[..., 0]
    return ga, gb


@op("affine")
class Affine(Function):
    """out = x @ W + b (a batch of rows times a weight matrix, plus a bias row).

    dx = g @ W^T, dW = x^T @ g, db = g summed over the batch. The composition
    ``x @ W + b`` gives the same numbers; this fused op (PyTorch's addmm) is what
    ``nn.Linear`` uses, one graph node per layer instead of two.
    """

    @staticmethod
    def forward(ctx, x, W, b):
        ctx.save_for_backward(x, W)
        out = _matmul(x, W)
        try:
            out += b
        except ValueError:
            raise ValueError(
                f"affine: the bias of shape {np.shape(b)} does not broadcast to the output "
                f"of shape {out.shape}"
            ) from None
        return out

    @staticmethod
    def backward(ctx, g):
        x, W = ctx.saved_tensors
        need_x, need_W, need_b = ctx.needs_input_grad
        gx, gW = _matmul_grads(x, W, g, need_x, need_W)
        return gx, gW, (g if need_b else None)


@op("exp", "exp")
class Exp(Function):
    """out = exp(a);  da = g * out."""

    @staticmethod
    def forward(ctx, a):
        out = array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out,)


@op("log", "log")
class Log(Function):
    """out = log(a) (natural);  da = g / a."""

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return array_module(a).log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / a,)


@op("tanh", "tanh")
class Tanh(Function):
    """out = tanh(a);  da = g * (1 - out**2)."""

    @staticmethod
    def forward(ctx, a):
        out = array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (1 - out * out),)


@op("sigmoid", "sigmoid")
class Sigmoid(Function):
    """out = 1 / (1 + exp(-a)), computed without overflow;  da = g * out * (1 - out)."""

    @staticmethod
    def forward(ctx, a):
        xp = array_module(a)
        # exp of -|a| never overflows; the two branches agree where both are finite.
        e = xp.exp(-xp.abs(a))
        out = xp.where(a >= 0, 1 / (1 + e), e / (1 + e)).astype(a.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out * (1 - out),)


@op("relu", "relu")
class ReLU(Function):
    """out = max(a, 0);  da = g where a > 0, else 0 (0 is the gradient chosen at the kink).

    relu(-inf) is 0, and an infinite upstream gradient at a blocked entry gives 0, not
    nan. The backward multiplies by the mask, which is several times faster than
    ``where`` in numpy, unless the upstream gradient has an inf or a nan.
    """

    @staticmethod
    def forward(ctx, a):
        out = array_module(a).maximum(a, 0)
        ctx.save_for_backward(out)  # out > 0 exactly where a > 0
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        xp = array_module(g)
        if xp.isfinite(g).all():
            return (g * (out > 0),)
        return (xp.where(out > 0, g, 0),)  # inf * 0 would be nan


@op("sum", "sum")
class Sum(Function):
    """out = sum of a over ``axis``;  da = g broadcast back over the summed axes (ones)."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "sum")
        ctx.shape, ctx.axes, ctx.keepdims = a.shape, axes, keepdims
        return a.sum(axis=axes, keepdims=keepdims)

    @staticmethod
    def backward(ctx, g):
        if not ctx.keepdims:
            g = g.reshape(tuple(1 if i in ctx.axes else s for i, s in enumerate(ctx.shape)))
        out = array_module(g).empty(ctx.shape, dtype=g.dtype)
        out[...] = g
        return (out,)


@op("max", "max")
class Max(Function):
    """out = max of a over ``axis``;  da = g at the maximum (an indicator), split evenly on ties."""

    @staticmethod
    def forward(ctx, a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "max")
        if a.size == 0:
            raise ValueError(f"max: the array must not be empty (got shape {a.shape})")
        out = a.max(axis=axes, keepdims=True)
        ctx.save_for_backward(a, out)
        ctx.axes = axes
        return (
            out
            if keepdims
            else out.reshape(tuple(s for i, s in enumerate(a.shape) if i not in axes))
        )

    @staticmethod
    def backward(ctx, g):
        a, out = ctx.saved_tensors
        mask = a == out
        count = mask.sum(axis=ctx.axes, keepdims=True)
        return (mask * (g.reshape(out.shape) / count),)


@op("log_softmax", "log_softmax")
class LogSoftmax(Function):
    """out = a - m - log(sum(exp(a - m))) along ``axis``, m = max(a);  da = g - softmax(a) * sum(g).

    A primitive rather than a composition: the fused backward is one line and
    it keeps the loss of a training step from costing a dozen small ops.
    """

    @staticmethod
    def forward(ctx, a, axis=-1):
        out = _log_softmax(a, axis)
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        xp = array_module(out)
        return (g - xp.exp(out) * g.sum(axis=ctx.axis, keepdims=True),)


def _log_softmax(a, axis):
    """a - m - log(sum(exp(a - m))) along ``axis``, m = max(a): no exp overflows."""
    xp = array_module(a)
    if a.ndim == 0:
        raise ValueError("log_softmax: the input must have at least 1 dimension (got a scalar)")
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


@op("cross_entropy")
class CrossEntropy(Function):
    """out = mean over the batch of -log softmax(z)[n, y_n] for logits z (N, C), labels y (N,).

    dz = (softmax(z) - onehot(y)) / N, times the upstream scalar g. Fused so that a
    training step's loss is one node; ``functional.cross_entropy`` checks the inputs.
    """

    @staticmethod
    def forward(ctx, z, labels):
        xp = array_module(z)
        n = z.shape[0]
        logp = _log_softmax(z, axis=1)
        ctx.save_for_backward(logp)
        rows = xp.arange(n)
        ctx.labels, ctx.rows = labels, rows
        return -logp[rows, labels].sum() / n

    @staticmethod
    def backward(ctx, g):
        (logp,) = ctx.saved_tensors
        grad = array_module(logp).exp(logp)
        grad[ctx.rows, ctx.labels] -= 1
        grad *= g / logp.shape[0]
        return grad, None


@op("reshape", "reshape")
class Reshape(Function):
    """out = a viewed with a new shape;  da = g reshaped back."""

    @staticmethod
    def tensor_method(x, *shape):  # x.reshape(2, 3) or x.reshape((2, 3))
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return Reshape.apply(x, shape=shape)

    @staticmethod
    def forward(ctx, a, shape):
        ctx.shape = a.shape
        try:
            return a.reshape(shape)
        except ValueError:
            raise ValueError(
                f"reshape: cannot reshape an array of shape {a.shape} ({a.size} entries) "
                f"into shape {tuple(shape)}"
            ) from None

    @staticmethod
    def backward(ctx, g):
        return (g.reshape(ctx.shape),)


@op("transpose", "transpose")
class Transpose(Function):
    """out = a with its axes permuted (reversed when ``axes`` is None);  da = g permuted back."""

    @staticmethod
    def tensor_method(x, *axes):  # x.transpose() reverses; x.transpose(1, 0) or ((1, 0))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return Transpose.apply(x, axes=axes or None)

    @staticmethod
    def forward(ctx, a, axes=None):
        if axes is not None and sorted(int(x) % max(a.ndim, 1) for x in axes) != list(
            range(a.ndim)
        ):
            raise ValueError(
                f"transpose: axes {tuple(axes)} must be a permutation of range({a.ndim}) "
                f"for shape {a.shape}"
            )
        ctx.axes = axes
        return a.transpose(axes)

    @staticmethod
    def backward(ctx, g):
        if ctx.axes is None:
            return (g.transpose(),)
        inverse = np.argsort([int(x) % g.ndim for x in ctx.axes])
        return (g.transpose(tuple(inverse)),)


@op("getitem", "__getitem__")
class GetItem(Function):
    """out = a[index];  da = g scattered into zeros at ``index``, adding up repeated indices."""

    @staticmethod
    def tensor_method(x, index):  # x[index]; a Tensor in the index stands for its data
        tensor = type(x)
        if isinstance(index, tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, tensor) else i for i in index)
        return GetItem.apply(x, index=index)

    @staticmethod
    def forward(ctx, a, index):
        ctx.shape, ctx.dtype, ctx.index = a.shape, a.dtype, index
        try:
            return a[index]
        except IndexError as exc:
            raise IndexError(f"getitem: {exc} (array shape {a.shape})") from None

    @staticmethod
    def backward(ctx, g):
        xp = array_module(g)
        grad = xp.zeros(ctx.shape, dtype=ctx.dtype)
        scatter_add(grad, ctx.index, g)
        return (grad,)
