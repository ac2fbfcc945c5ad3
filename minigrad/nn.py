"""Layers: ``Module`` (finds its parameters), ``Linear``, ``MLP``, ``Residual`` and small helpers.

A Linear layer computes x @ W + b with W of shape (in_features, out_features),
so a batch of rows x (N, in) gives (N, out), dW = x^T dout and db = dout summed
over the batch, as in the course notes. Initial weights and biases are drawn
uniformly from [-1/sqrt(in), 1/sqrt(in)], PyTorch's default.
"""

from __future__ import annotations

import numpy as np

from minigrad.ops import Affine
from minigrad.tensor import Tensor, as_input

__all__ = ["MLP", "Linear", "Module", "ReLU", "Residual", "Sequential", "Sigmoid", "Tanh"]


class Module:
    """Base class: subclasses define ``forward``; parameters are found in attributes."""

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def parameters(self) -> list:
        """Every Tensor with requires_grad in this module and its sub-modules, each once."""
        found, seen = [], set()
        stack = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, Tensor):
                if item.requires_grad and id(item) not in seen:
                    seen.add(id(item))
                    found.append(item)
            elif isinstance(item, Module):
                stack.extend(reversed(list(vars(item).values())))
            elif isinstance(item, (list, tuple)):
                stack.extend(reversed(item))
            elif isinstance(item, dict):
                stack.extend(reversed(list(item.values())))
        return found

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Linear(Module):
    """y = x @ W + b."""

    def __init__(
        self, in_features: int, out_features: int, bias: bool = True, seed=None, dtype=np.float64
    ):
        rng = np.random.default_rng(seed)
        bound = 1.0 / np.sqrt(in_features)
        self.in_features, self.out_features = in_features, out_features
        self.W = Tensor(
            rng.uniform(-bound, bound, (in_features, out_features)).astype(dtype),
            requires_grad=True,
            name="W",
        )
        self.b = (
            Tensor(
                rng.uniform(-bound, bound, out_features).astype(dtype), requires_grad=True, name="b"
            )
            if bias
            else None
        )

    def forward(self, x):
        if self.b is None:
            return x @ self.W
        return Affine.apply(as_input(x), self.W, self.b)

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features}, bias={self.b is not None})"


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid}


class Sequential(Module):
    """Modules applied one after the other."""

    def __init__(self, *modules):
        self.layers = list(modules)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def __repr__(self) -> str:
        return "Sequential(" + ", ".join(map(repr, self.layers)) + ")"


class MLP(Sequential):
    """Linear layers of the given ``sizes``, ``activation`` between them (not after the last)."""

    def __init__(self, sizes, activation: str | None = "relu", seed=None, dtype=np.float64):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"MLP: sizes needs an input and an output size at least (got {sizes})")
        if activation is not None and activation not in _ACTIVATIONS:
            raise ValueError(
                f"MLP: activation must be one of {sorted(_ACTIVATIONS)} or None "
                f"(got {activation!r})"
            )
        rng = np.random.default_rng(seed)
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, seed=rng, dtype=dtype))
            if activation is not None and i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
        super().__init__(*layers)
        self.sizes = sizes


class Residual(Module):
    """y = x + module(x): the skip path hands the upstream gradient straight to x."""

    def __init__(self, module: Module):
        self.module = module

    def forward(self, x):
        return x + self.module(x)

    def __repr__(self) -> str:
        return f"Residual({self.module!r})"
