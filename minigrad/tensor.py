"""``Tensor``: an array that records the ops applied to it and backpropagates through them.

This file owns the Tensor class, its operator methods (each a thin call into the
op table of ``ops.py``) and ``backward``: an iterative topological sort, then one
pass in reverse order that hands each op its output gradient.
"""

from __future__ import annotations

import numpy as np

from minigrad import backend
from minigrad.function import Context, unbroadcast

__all__ = ["Tensor"]


class Tensor:
    """An n-dimensional array node of the graph.

    ``data`` is the array (numpy, or cupy on a GPU); ``grad`` is None until a
    backward pass reaches the tensor. Leaves (tensors made by the user) add up
    gradients across backward passes until ``zero_grad``; tensors made by ops
    keep the gradient of the latest pass, for inspection and drawing.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "name", "__weakref__")
    __array_priority__ = 1000  # numpy scalars and arrays defer to our reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = backend.as_array(data, dtype)
        if requires_grad and not backend.is_floating(self.data):
            raise TypeError(
                f"Tensor: requires_grad needs a floating dtype (got {self.data.dtype}); "
                "pass floats or dtype=np.float64"
            )
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name

    @classmethod
    def _make(cls, data, ctx: Context | None) -> Tensor:
        """Wrap an op's output array without the checks of ``__init__``."""
        t = cls.__new__(cls)
        if not isinstance(data, np.ndarray) and not type(data).__module__.startswith("cupy"):
            data = np.asarray(data)
        t.data = data
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t.name = None
        return t

    # ----------------------------------------------------------------- properties
    @property
    def shape(self) -> tuple:
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    @property
    def device(self) -> str:
        return "cpu" if isinstance(self.data, np.ndarray) else "cuda"

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        body = np.array2string(backend.to_numpy(self.data), precision=4, threshold=20)
        extra = ", requires_grad=True" if self.requires_grad else ""
        if self._ctx is not None:
            extra += f", op={self._ctx.op}"
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item: the tensor must have exactly one element (got shape {self.shape})"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (copied from the GPU if needed)."""
        return backend.to_numpy(self.data)

    def to(self, device: str) -> Tensor:
        """A leaf copy of this tensor on ``"cpu"`` or ``"cuda"``."""
        return Tensor(backend.to_device(self.data, device), requires_grad=self.requires_grad)

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor._make(self.data, None)

    def zero_grad(self) -> None:
        self.grad = None

    # ------------------------------------------------------------------ backward
    def backward(self, grad=None) -> None:
        """Backpropagate from this tensor, adding gradients into the leaves' ``.grad``.

        ``grad`` is the upstream gradient dL/d(self); it may be omitted only when
        this tensor holds a single number (then it is 1).
        """
        if not self.requires_grad:
            raise RuntimeError(
                "backward: this tensor does not require grad: no input of its graph was made "
                "with requires_grad=True (or it was computed inside no_grad())"
            )
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward: grad can be omitted only for a single-number output (got shape "
                    f"{self.shape}); reduce it first (e.g. .sum()) or pass grad= an array of that "
                    "shape"
                )
            xp = backend.array_module(self.data)
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else backend.as_array(grad, self.dtype)
            if grad.shape != self.shape:
                raise ValueError(
                    f"backward: grad must have the output's shape {self.shape} (got {grad.shape})"
                )

        grads = {self: grad}  # Tensors hash by identity
        pop, get = grads.pop, grads.get
        given_to_leaves = set()
        for node in reversed(self._topological_order()):
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
            in_grads = ctx.fn.backward(ctx, g)
            if type(in_grads) is not tuple:
                in_grads = tuple(in_grads) if isinstance(in_grads, list) else (in_grads,)
            inputs = ctx.inputs
            if len(in_grads) != len(inputs):
                raise ValueError(
                    f"{ctx.op}.backward must return a tuple with one gradient per input of "
                    f"forward (None for an input without one): {len(inputs)} expected, "
                    f"got {len(in_grads)}"
                )
            for parent, needed, pg in zip(inputs, ctx.needs_input_grad, in_grads):
                if not needed or pg is None:
                    continue
                data = parent.data
                if type(pg) is not type(data) or pg.shape != data.shape:
                    pg = _fit_gradient(pg, data, ctx.op)
                elif pg.dtype is not data.dtype and pg.dtype != data.dtype:
                    pg = pg.astype(data.dtype)
                prev = get(parent)
                grads[parent] = pg if prev is None else prev + pg

    def _topological_order(self) -> list:
        """Nodes that need a gradient, each after all its inputs; iterative, so any depth works."""
        order = []
        seen = set()
        stack = [(self, False)]
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

    # -------------------------------------------------------------- operators
    def _operand(self, other):
        """Python numbers take this tensor's float dtype; arrays and Tensors pass through."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            if self.data.dtype.kind == "f":
                return backend.array_module(self.data).asarray(other, dtype=self.data.dtype)
            return np.asarray(other)
        if isinstance(other, np.ndarray) or type(other).__module__.startswith("cupy"):
            return other
        if isinstance(other, np.generic):
            return np.asarray(other)
        return NotImplemented

    def _binary(self, op, other, reflected=False):
        other = self._operand(other)
        if other is NotImplemented:
            return NotImplemented
        return op.apply(other, self) if reflected else op.apply(self, other)

    def __add__(self, other):
        return self._binary(_ops.Add, other)

    def __radd__(self, other):
        return self._binary(_ops.Add, other, reflected=True)

    def __sub__(self, other):
        return self._binary(_ops.Sub, other)

    def __rsub__(self, other):
        return self._binary(_ops.Sub, other, reflected=True)

    def __mul__(self, other):
        return self._binary(_ops.Mul, other)

    def __rmul__(self, other):
        return self._binary(_ops.Mul, other, reflected=True)

    def __truediv__(self, other):
        return self._binary(_ops.Div, other)

    def __rtruediv__(self, other):
        return self._binary(_ops.Div, other, reflected=True)

    def __pow__(self, other):
        return self._binary(_ops.Pow, other)

    def __rpow__(self, other):
        return self._binary(_ops.Pow, other, reflected=True)

    def __matmul__(self, other):
        return self._binary(_ops.MatMul, other)

    def __rmatmul__(self, other):
        return self._binary(_ops.MatMul, other, reflected=True)

    def __neg__(self):
        return _ops.Neg.apply(self)

    def __getitem__(self, index):
        if isinstance(index, Tensor):
            index = index.data
        elif isinstance(index, tuple):
            index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
        return _ops.GetItem.apply(self, index=index)

    # --------------------------------------------------------- elementwise maps
    def exp(self):
        return _ops.Exp.apply(self)

    def log(self):
        return _ops.Log.apply(self)

    def tanh(self):
        return _ops.Tanh.apply(self)

    def relu(self):
        return _ops.ReLU.apply(self)

    def sigmoid(self):
        return _ops.Sigmoid.apply(self)

    def log_softmax(self, axis: int = -1):
        return _ops.LogSoftmax.apply(self, axis=axis)

    # ----------------------------------------------------------------- reductions
    def sum(self, axis=None, keepdims: bool = False):
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis=None, keepdims: bool = False):
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis=None, keepdims: bool = False):
        """Sum divided by the number of summed entries (a composition: no backward of its own)."""
        axes = _ops.normalize_axes(axis, self.ndim, "mean")
        count = 1
        for a in axes:
            count *= self.shape[a]
        return self.sum(axis=axis, keepdims=keepdims) / float(count)

    # -------------------------------------------------------------------- shape
    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _ops.Reshape.apply(self, shape=shape)

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=axes or None)

    @property
    def T(self):
        return self.transpose()


def _fit_gradient(pg, data, op: str):
    """Bring a gradient returned by ``op``'s backward to the input's type, shape and dtype."""
    if isinstance(pg, Tensor):
        pg = pg.data
    if not hasattr(pg, "shape") or isinstance(pg, np.generic):
        pg = backend.as_array(pg, data.dtype)
    if pg.shape != data.shape:
        pg = unbroadcast(pg, data.shape, where=f"{op}.backward")
    if pg.dtype != data.dtype:
        pg = pg.astype(data.dtype)
    return pg


from minigrad import function as _function  # noqa: E402
from minigrad import ops as _ops  # noqa: E402  (ops need Tensor defined first)

_function._Tensor = Tensor
