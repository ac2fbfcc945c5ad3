"""Student-style layers for the gradient checker, each with right and wrong backward passes.

``CASES`` lists the layers. ``case.make(seed, dtype)`` returns ``(f, inputs, variants)``:
``f`` is the forward the checker differentiates, ``inputs`` the dict it is called with,
``variants`` maps a variant name to the analytic argument of ``check_gradients`` (a callable
of ``dout`` or a dict of gradients). ``case.right`` names the variants that are correct,
``case.wrong`` the ones with a deliberate bug. The tests and ``benchmarks/gradcheck_cost.py``
both use this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = ["CASES", "Case", "softmax_ce", "two_layer_loss", "two_layer_grads"]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[int, type], tuple]
    right: tuple[str, ...]
    wrong: tuple[str, ...]


def _rng(seed: int, salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, salt])


# ---------------------------------------------------------------------------------------------
# affine: out = x @ W + b


def _affine(seed, dtype):
    rng = _rng(seed, 1)
    x = rng.standard_normal((3, 4)).astype(dtype)
    W = rng.standard_normal((4, 3)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)

    def f(x, W, b):
        return x @ W + b

    variants = {
        "ok": lambda d: (d @ W.T, x.T @ d, d.sum(axis=0)),
        "bias averaged": lambda d: (d @ W.T, x.T @ d, d.mean(axis=0)),
        "bias not summed": lambda d: (d @ W.T, x.T @ d, d),
        "one row only": lambda d: (d @ W.T, np.outer(x[0], d[0]), d.sum(axis=0)),
    }
    return f, {"x": x, "W": W, "b": b}, variants


# ---------------------------------------------------------------------------------------------
# softmax cross-entropy, mean over the batch


def softmax_ce(logits, y):
    """Mean cross-entropy of integer labels ``y`` under ``softmax(logits)``, computed stably."""
    z = logits - logits.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


def _probs(logits):
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _ce_case(n, c, scale, salt):
    def make(seed, dtype):
        rng = _rng(seed, salt)
        logits = (scale * rng.standard_normal((n, c))).astype(dtype)
        y = rng.integers(0, c, size=n)
        p = _probs(logits)
        onehot = np.zeros_like(p)
        onehot[np.arange(n), y] = 1
        good = (p - onehot) / n
        row = good.copy()
        row[0] = p[0] / n  # forgot to subtract the one-hot in the first row
        variants = {
            "ok": {"logits": good},
            "sign": {"logits": -good},
            "missing 1/N": {"logits": p - onehot},
            "one wrong row": {"logits": row},
        }
        return softmax_ce, {"logits": logits, "y": y}, variants

    return make


# ---------------------------------------------------------------------------------------------
# elementwise layers


def _relu_case(zero_fraction, salt):
    def make(seed, dtype):
        rng = _rng(seed, salt)
        x = rng.standard_normal((5, 4)).astype(dtype)
        x[rng.random(x.shape) < zero_fraction] = 0
        out = np.maximum(x, 0)

        def f(x):
            return np.maximum(x, 0)

        variants = {
            "ok >": lambda d: d * (x > 0),
            "ok >=": lambda d: d * (x >= 0),
            "mask from dout": lambda d: d * (d > 0),
            "mask from output": lambda d: d * (out >= 0),
        }
        return f, {"x": x}, variants

    return make


def _sigmoid(seed, dtype):
    rng = _rng(seed, 5)
    x = (2 * rng.standard_normal((5, 4))).astype(dtype)
    s = 1 / (1 + np.exp(-x))

    def f(x):
        return 1 / (1 + np.exp(-x))

    variants = {
        "ok": lambda d: d * s * (1 - s),
        "1% off": lambda d: 1.01 * d * s * (1 - s),
        "uses x": lambda d: d * x * (1 - x),
    }
    return f, {"x": x}, variants


def _tanh(seed, dtype):
    rng = _rng(seed, 6)
    x = rng.standard_normal((5, 4)).astype(dtype)
    t = np.tanh(x)
    variants = {
        "ok": lambda d: d * (1 - t * t),
        "1 - out": lambda d: d * (1 - t),
    }
    return np.tanh, {"x": x}, variants


# ---------------------------------------------------------------------------------------------
# 2x2 max-pool over (batch, height, width), on post-ReLU data so that windows tie at 0


def _maxpool(x):
    n, h, w = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2).max(axis=(2, 4))


def _pool_route(x, d, pick):
    n, h, w = x.shape
    win = x.reshape(n, h // 2, 2, w // 2, 2).transpose(0, 1, 3, 2, 4).reshape(n, h // 2, w // 2, 4)
    mask = np.zeros_like(win)
    k = pick(win)
    np.put_along_axis(mask, k[..., None], 1, axis=-1)
    dx = mask * d[..., None]
    return dx.reshape(n, h // 2, w // 2, 2, 2).transpose(0, 1, 3, 2, 4).reshape(n, h, w)


def _maxpool_case(seed, dtype):
    rng = _rng(seed, 7)
    x = np.maximum(rng.standard_normal((2, 4, 4)), 0).astype(dtype)

    def average(d):
        return np.repeat(np.repeat(d, 2, axis=1), 2, axis=2) / 4

    variants = {
        "ok": lambda d: _pool_route(x, d, lambda win: win.argmax(axis=-1)),
        "first of window": lambda d: _pool_route(x, d, lambda win: np.zeros(win.shape[:-1], int)),
        "averaged": average,
    }
    return _maxpool, {"x": x}, variants


# ---------------------------------------------------------------------------------------------
# two-layer net with L2 regularisation: loss = CE(relu(X W1 + b1) W2 + b2) + reg/2 (|W1|^2 + |W2|^2)


def two_layer_loss(X, y, reg):
    """The forward of the two-layer net as a function of its parameters (X and y fixed)."""

    def f(W1, b1, W2, b2):
        h = np.maximum(X @ W1 + b1, 0)
        return softmax_ce(h @ W2 + b2, y) + 0.5 * reg * ((W1 * W1).sum() + (W2 * W2).sum())

    return f


def two_layer_grads(X, y, reg, W1, b1, W2, b2, l2_w1=1.0):
    """Hand-written backward of ``two_layer_loss``; ``l2_w1`` scales the L2 term of dW1."""
    n = X.shape[0]
    a = X @ W1 + b1
    h = np.maximum(a, 0)
    p = _probs(h @ W2 + b2)
    p[np.arange(n), y] -= 1
    dz = p / n
    dW2 = h.T @ dz + reg * W2
    dh = dz @ W2.T
    da = dh * (a > 0)
    dW1 = X.T @ da + l2_w1 * reg * W1
    return {"W1": dW1, "b1": da.sum(axis=0), "W2": dW2, "b2": dz.sum(axis=0)}


def _two_layer(seed, dtype):
    rng = _rng(seed, 8)
    n, d, hidden, c, reg = 5, 3, 4, 3, 0.3
    X = rng.standard_normal((n, d)).astype(dtype)
    y = rng.integers(0, c, size=n)
    params = {
        "W1": (0.5 * rng.standard_normal((d, hidden))).astype(dtype),
        "b1": (0.1 * rng.standard_normal(hidden)).astype(dtype),
        "W2": (0.5 * rng.standard_normal((hidden, c))).astype(dtype),
        "b2": (0.1 * rng.standard_normal(c)).astype(dtype),
    }
    f = two_layer_loss(X, y, reg)
    variants = {
        "ok": two_layer_grads(X, y, reg, **params),
        "no L2 in dW1": two_layer_grads(X, y, reg, **params, l2_w1=0.0),
        "L2 doubled in dW1": two_layer_grads(X, y, reg, **params, l2_w1=2.0),
    }
    return f, params, variants


CASES = [
    Case("affine", _affine, ("ok",), ("bias averaged", "bias not summed", "one row only")),
    Case("softmax CE 6x4", _ce_case(6, 4, 1.0, 2), ("ok",),
         ("sign", "missing 1/N", "one wrong row")),
    Case("softmax CE 512x10", _ce_case(512, 10, 1.0, 3), ("ok",), ("sign", "one wrong row")),
    Case("softmax CE logits x10", _ce_case(6, 4, 10.0, 4), ("ok",), ("sign", "missing 1/N")),
    Case("ReLU, no zeros", _relu_case(0.0, 9), ("ok >", "ok >="),
         ("mask from dout", "mask from output")),
    Case("ReLU, 20% exact zeros", _relu_case(0.2, 10), ("ok >", "ok >="),
         ("mask from dout", "mask from output")),
    Case("sigmoid", _sigmoid, ("ok",), ("1% off", "uses x")),
    Case("max-pool on post-ReLU data", _maxpool_case, ("ok",), ("first of window", "averaged")),
    Case("tanh", _tanh, ("ok",), ("1 - out",)),
    Case("two-layer net with L2", _two_layer, ("ok",), ("no L2 in dW1", "L2 doubled in dW1")),
]
