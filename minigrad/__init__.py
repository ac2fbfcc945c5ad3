"""minigrad: a compact autograd engine for teaching backpropagation.

``Value`` is the scalar engine (one readable file); ``Tensor`` is the array engine
built from ``Function`` ops registered in one table.
"""

from minigrad import data, expect, functional, gradcheck, nn, optim, viz
from minigrad.autograd import Function, enable_grad, is_grad_enabled, no_grad
from minigrad.tensor import Tensor
from minigrad.value import Value

__all__ = [
    "Function",
    "Tensor",
    "Value",
    "data",
    "enable_grad",
    "expect",
    "functional",
    "gradcheck",
    "is_grad_enabled",
    "nn",
    "no_grad",
    "optim",
    "viz",
]
__version__ = "0.1.0"
