"""``Tensor``: an array that records the ops applied to it and backpropagates through them.

This file owns the Tensor class: construction (copying, or sharing through
``from_numpy``), the ``data`` version counter, and the operator methods, which are
generated from the op table ``ops.OPS`` (one per registered op). The backward pass
itself lives in ``autograd.py``.
"""

from __future__ import annotations

import inspect

import numpy as np

from minigrad import autograd, backend
from minigrad.ops import OPS, normalize_axes

__all__ = ["Tensor", "as_input"]


@autograd.register_tensor
class Tensor:
    """An n-dimensional array node of the graph.

    ``data`` is the array (numpy, or cupy on a GPU); ``grad`` is None until a
    backward pass reaches the tensor. Leaves (tensors made by the user) add up
    gradients across backward passes until ``zero_grad``; tensors made by ops
    keep the gradient of the latest pass, for inspection and drawing.

    ``Tensor(array)`` copies the array, as ``torch.tensor`` does, so that an optimiser
    step never edits the caller's array; ``Tensor.from_numpy(array)`` shares it.
    Every assignment to ``.data`` (``p.data -= lr * g`` included) bumps a version
    counter, and ``backward`` refuses to use an op whose input was reassigned after
    the op ran. A write into the array's elements (``t.data[0] = 5``) does not go
    through ``.data =`` and cannot be seen: it changes later gradients silently.
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_version", "name", "__weakref__")
    __array_priority__ = 1000  # numpy scalars and arrays defer to our reflected ops

    def __init__(self, data, requires_grad: bool = False, dtype=None, name: str | None = None):
        if isinstance(data, Tensor):
            data = data._data
        array = backend.as_array(data, dtype)
        self._init(array.copy() if array is data else array, requires_grad, name)

    @classmethod
    def from_numpy(cls, array, requires_grad: bool = False) -> Tensor:
        """A leaf sharing ``array``'s memory, as ``torch.from_numpy``: each changes the other."""
        if not isinstance(array, np.ndarray) and not type(array).__module__.startswith("cupy"):
            raise TypeError(
                f"Tensor.from_numpy: array must be a numpy array (got {type(array).__name__}); "
                "use Tensor(data) for other data"
            )
        t = cls.__new__(cls)
        t._init(backend.as_array(array), requires_grad, None)
        return t

    def _init(self, data, requires_grad, name):
        if requires_grad and not backend.is_floating(data):
            raise TypeError(
                f"Tensor: requires_grad needs a floating dtype (got {data.dtype}); "
                "pass floats or dtype=np.float64"
            )
        self._data = data
        self._version = 0
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._ctx = None
        self.name = name

    @classmethod
    def _make(cls, data, ctx) -> Tensor:
        """Wrap an op's output array (not copied) without the checks of ``__init__``."""
        t = cls.__new__(cls)
        if not isinstance(data, np.ndarray) and not type(data).__module__.startswith("cupy"):
            data = np.asarray(data)
        t._data = data
        t._version = 0
        t.grad = None
        t.requires_grad = ctx is not None
        t._ctx = ctx
        t.name = None
        return t

    @property
    def data(self):
        """The array; assigning to it bumps the version that ``backward`` checks."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value
        self._version += 1

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

        ``grad`` is the upstream gradient dL/d(self) (copied); it may be omitted only when
        this tensor holds a single number (then it is 1). See ``autograd.backward``.
        """
        autograd.backward(self, grad)

    # -------------------------------------------------------------- operators
    def _operand(self, other):
        """The other operand of a binary op, as an array or a Tensor (NotImplemented if neither).

        A wrapped number (a Python number, numpy scalar or 0-d array) takes this tensor's
        float dtype, as in PyTorch; arrays with dimensions keep numpy's type promotion.
        """
        if isinstance(other, Tensor):
            return other
        data = self._data
        if isinstance(other, (int, float)) and not isinstance(other, bool):
            if data.dtype.kind == "f":
                return backend.array_module(data).asarray(other, dtype=data.dtype)
            return np.asarray(other)
        if isinstance(other, np.generic):
            other = np.asarray(other)
        elif not isinstance(other, np.ndarray) and not type(other).__module__.startswith("cupy"):
            return NotImplemented
        if other.ndim == 0 and data.dtype.kind == "f" and other.dtype.kind in "iuf":
            return backend.array_module(data).asarray(other, dtype=data.dtype)
        return other

    # ----------------------------------------------------------------- reductions
    def mean(self, axis=None, keepdims: bool = False):
        """Sum divided by the number of summed entries (a composition: no backward of its own)."""
        axes = normalize_axes(axis, self.ndim, "mean")
        count = 1
        for a in axes:
            count *= self.shape[a]
        return self.sum(axis=axis, keepdims=keepdims) / float(count)

    @property
    def T(self):
        return self.transpose()


def as_input(x) -> Tensor:
    """``x`` as a Tensor for an op to read: a Tensor as is, an array shared without a copy
    (an op never writes its inputs), anything else converted as ``Tensor(x)`` does."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray) or type(x).__module__.startswith("cupy"):
        return Tensor.from_numpy(x)
    return Tensor(x)


def _binary_methods(fn):
    """``t.op(x)`` and the reflected ``t.rop(x)`` for a binary operator ``fn``."""
    apply = fn.apply

    def method(self, other):
        if type(other) is not Tensor:
            other = self._operand(other)
            if other is NotImplemented:
                return NotImplemented
        return apply(self, other)

    def reflected(self, other):
        other = self._operand(other)
        if other is NotImplemented:
            return NotImplemented
        return apply(other, self)

    return method, reflected


def _unary_method(fn):
    """``t.op(*options)``: the options of ``fn.forward`` after the array, by position or keyword."""
    if hasattr(fn, "tensor_method"):
        return fn.tensor_method
    apply = fn.apply
    options = tuple(inspect.signature(fn.forward).parameters)[2:]
    if not options:
        return lambda self: apply(self)

    def method(self, *args, **kwargs):
        if len(args) > len(options):
            raise TypeError(
                f"{fn.name}: takes at most {len(options)} arguments {options} "
                f"(got {len(args)})"
            )
        kwargs.update(zip(options, args))
        return apply(self, **kwargs)

    return method


def _install_methods():
    """Give Tensor one method per registered op (and the reflected one of binary operators)."""
    for entry in OPS.values():
        if entry.method is None:
            continue
        if entry.reflected is None:
            methods = {entry.method: _unary_method(entry.fn)}
        else:
            methods = dict(zip((entry.method, entry.reflected), _binary_methods(entry.fn)))
        for name, method in methods.items():
            if name in vars(Tensor):
                raise TypeError(f"op {entry.fn.name!r}: Tensor already defines {name}")
            method.__name__ = method.__qualname__ = name
            method.__doc__ = entry.fn.__doc__
            setattr(Tensor, name, method)


_install_methods()
