"""The op table: every primitive differentiable op, its forward and its local derivative.

Each op is a ``Function`` whose docstring gives the formula and the gradient it
sends back. Backward results may keep the broadcast shape of the output; the
engine reduces them to each input's shape (``function.unbroadcast``). Everything
else in minigrad (mean, softmax, losses, layers) is a composition of these.
``OPS`` maps each op's name to its class and to the Tensor method that calls it;
a test fails when a registered op has no method or no test row.
"""

from __future__ import annotations

import numpy as np

from minigrad.backend import array_module, scatter_add
from minigrad.function import Function

__all__ = ["OPS", "normalize_axes"]


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


class Add(Function):
    """out = a + b;  da = g, db = g."""

    name = "add"

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a + b
        except ValueError as exc:
            raise _broadcast_error("add", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        return g, g


class Sub(Function):
    """out = a - b;  da = g, db = -g."""

    name = "sub"

    @staticmethod
    def forward(ctx, a, b):
        try:
            return a - b
        except ValueError as exc:
            raise _broadcast_error("sub", a, b, exc) from None

    @staticmethod
    def backward(ctx, g):
        return g, (-g if ctx.needs_input_grad[1] else None)


class Mul(Function):
    """out = a * b;  da = g * b, db = g * a."""

    name = "mul"

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


class Div(Function):
    """out = a / b;  da = g / b, db = -g * a / b**2."""

    name = "div"

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


class Pow(Function):
    """out = a ** b;  da = g * b * a**(b-1), db = g * out * log(a) (defined for a > 0)."""

    name = "pow"

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
        ga = g * b * a ** (b - 1) if da else None
        gb = g * out * array_module(out).log(a) if db else None
        return ga, gb


class Neg(Function):
    """out = -a;  da = -g."""

    name = "neg"

    @staticmethod
    def forward(ctx, a):
        return -a

    @staticmethod
    def backward(ctx, g):
        return (-g,)


class MatMul(Function):
    """out = a @ b (2-D, batched or with 1-D vectors);  da = g @ b^T, db = a^T @ g.

    A 1-D operand is treated as a row (left) or column (right) vector, as numpy
    does; batch axes that broadcasting added are summed by the engine.
    """

    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
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
        ctx.save_for_backward(a, b)
        try:
            return a @ b
        except ValueError as exc:
            raise ValueError(
                f"matmul: batch shapes of {sa} and {sb} are not broadcastable"
            ) from exc

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.saved_tensors
        return _matmul_grads(a, b, g, *ctx.needs_input_grad)


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


class Affine(Function):
    """out = x @ W + b (a batch of rows times a weight matrix, plus a bias row).

    dx = g @ W^T, dW = x^T @ g, db = g summed over the batch. The composition
    ``x @ W + b`` gives the same numbers; this fused op (PyTorch's addmm) is what
    ``nn.Linear`` uses, one graph node per layer instead of two.
    """

    name = "affine"

    @staticmethod
    def forward(ctx, x, W, b):
        out = MatMul.forward(ctx, x, W)
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


class Exp(Function):
    """out = exp(a);  da = g * out."""

    name = "exp"

    @staticmethod
    def forward(ctx, a):
        out = array_module(a).exp(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * out,)


class Log(Function):
    """out = log(a) (natural);  da = g / a."""

    name = "log"

    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return array_module(a).log(a)

    @staticmethod
    def backward(ctx, g):
        (a,) = ctx.saved_tensors
        return (g / a,)


class Tanh(Function):
    """out = tanh(a);  da = g * (1 - out**2)."""

    name = "tanh"

    @staticmethod
    def forward(ctx, a):
        out = array_module(a).tanh(a)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        return (g * (1 - out * out),)


class Sigmoid(Function):
    """out = 1 / (1 + exp(-a)), computed without overflow;  da = g * out * (1 - out)."""

    name = "sigmoid"

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


class ReLU(Function):
    """out = max(a, 0);  da = g where a > 0, else 0 (0 is the gradient chosen at the kink)."""

    name = "relu"

    @staticmethod
    def forward(ctx, a):
        mask = a > 0
        ctx.save_for_backward(mask)
        return a * mask

    @staticmethod
    def backward(ctx, g):
        (mask,) = ctx.saved_tensors
        return (g * mask,)


class Sum(Function):
    """out = sum of a over ``axis``;  da = g broadcast back over the summed axes (ones)."""

    name = "sum"

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


class Max(Function):
    """out = max of a over ``axis``;  da = g at the maximum (an indicator), split evenly on ties."""

    name = "max"

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


class LogSoftmax(Function):
    """out = a - m - log(sum(exp(a - m))) along ``axis``, m = max(a);  da = g - softmax(a) * sum(g).

    A primitive rather than a composition: the fused backward is one line and
    it keeps the loss of a training step from costing a dozen small ops.
    """

    name = "log_softmax"

    @staticmethod
    def forward(ctx, a, axis=-1):
        xp = array_module(a)
        if a.ndim == 0:
            raise ValueError("log_softmax: the input must have at least 1 dimension (got a scalar)")
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        ctx.save_for_backward(out)
        ctx.axis = axis
        return out

    @staticmethod
    def backward(ctx, g):
        (out,) = ctx.saved_tensors
        xp = array_module(out)
        return (g - xp.exp(out) * g.sum(axis=ctx.axis, keepdims=True),)


class CrossEntropy(Function):
    """out = mean over the batch of -log softmax(z)[n, y_n] for logits z (N, C), labels y (N,).

    dz = (softmax(z) - onehot(y)) / N, times the upstream scalar g. Fused so that a
    training step's loss is one node; ``functional.cross_entropy`` checks the inputs.
    """

    name = "cross_entropy"

    @staticmethod
    def forward(ctx, z, labels):
        xp = array_module(z)
        n = z.shape[0]
        logp = LogSoftmax.forward(ctx, z, axis=1)
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


class Reshape(Function):
    """out = a viewed with a new shape;  da = g reshaped back."""

    name = "reshape"

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


class Transpose(Function):
    """out = a with its axes permuted (reversed when ``axes`` is None);  da = g permuted back."""

    name = "transpose"

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


class GetItem(Function):
    """out = a[index];  da = g scattered into zeros at ``index``, adding up repeated indices."""

    name = "getitem"

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


# name -> (Function class, Tensor method that applies it, or None for a fused op that
# minigrad.functional or minigrad.nn applies)
OPS = {
    "add": (Add, "__add__"),
    "sub": (Sub, "__sub__"),
    "mul": (Mul, "__mul__"),
    "div": (Div, "__truediv__"),
    "pow": (Pow, "__pow__"),
    "neg": (Neg, "__neg__"),
    "matmul": (MatMul, "__matmul__"),
    "exp": (Exp, "exp"),
    "log": (Log, "log"),
    "tanh": (Tanh, "tanh"),
    "sigmoid": (Sigmoid, "sigmoid"),
    "relu": (ReLU, "relu"),
    "sum": (Sum, "sum"),
    "max": (Max, "max"),
    "log_softmax": (LogSoftmax, "log_softmax"),
    "cross_entropy": (CrossEntropy, None),
    "affine": (Affine, None),
    "reshape": (Reshape, "reshape"),
    "transpose": (Transpose, "transpose"),
    "getitem": (GetItem, "__getitem__"),
}
