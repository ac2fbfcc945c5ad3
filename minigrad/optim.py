"""Optimisers that update parameters in place from their ``.grad``: ``SGD`` and ``Adam``.

SGD with momentum mu and weight decay lam:  v <- mu v + (g + lam w);  w <- w - lr v.
Adam:  m <- b1 m + (1-b1) g;  s <- b2 s + (1-b2) g^2;  w <- w - lr m_hat / (sqrt(s_hat) + eps).
Parameters without a gradient (never reached by backward) are left alone.
"""

from __future__ import annotations

from minigrad.tensor import Tensor

__all__ = ["SGD", "Adam", "Optimizer"]


class Optimizer:
    def __init__(self, params, lr: float):
        self.params = list(params)
        if not self.params:
            raise ValueError("optimizer: got an empty parameter list (did the model create any?)")
        for p in self.params:
            if not isinstance(p, Tensor) or not p.requires_grad:
                raise TypeError(
                    f"optimizer: parameters must be Tensors with requires_grad=True (got {p!r:.60})"
                )
        if lr <= 0:
            raise ValueError(f"optimizer: lr must be positive (got {lr})")
        self.lr = lr

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None


class SGD(Optimizer):
    def __init__(self, params, lr: float, momentum: float = 0.0, weight_decay: float = 0.0):
        super().__init__(params, lr)
        self.momentum, self.weight_decay = momentum, weight_decay
        self._velocity = [None] * len(self.params)

    def step(self) -> None:
        for i, p in enumerate(self.params):
            if p.grad is None:
                continue
            g = p.grad if not self.weight_decay else p.grad + self.weight_decay * p.data
            if self.momentum:
                v = self._velocity[i]
                g = self._velocity[i] = g.copy() if v is None else self.momentum * v + g
            p.data -= self.lr * g


class Adam(Optimizer):
    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        super().__init__(params, lr)
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self._m = [None] * len(self.params)
        self._s = [None] * len(self.params)

    def step(self) -> None:
        self.t += 1
        c1, c2 = 1 - self.b1**self.t, 1 - self.b2**self.t
        for i, p in enumerate(self.params):
            g = p.grad
            if g is None:
                continue
            m = self._m[i] = (
                (1 - self.b1) * g
                if self._m[i] is None
                else self.b1 * self._m[i] + (1 - self.b1) * g
            )
            s = self._s[i] = (
                (1 - self.b2) * g * g
                if self._s[i] is None
                else self.b2 * self._s[i] + (1 - self.b2) * g * g
            )
            p.data -= (self.lr * (m / c1) / ((s / c2) ** 0.5 + self.eps)).astype(
                p.data.dtype, copy=False
            )
