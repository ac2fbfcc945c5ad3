"""Student-style layers for the gradient checker, each with right and wrong backward passes.

``CASES`` lists the layers. ``case.make(seed, dtype)`` returns ``(f, inputs, variants)``:
``f`` is the forward the checker differentiates, ``inputs`` the dict it is called with,
``variants`` maps a variant name to the analytic argument of ``check_gradients`` (a callable
of ``dout`` or a dict of gradients). ``case.right`` names the variants that are correct,
``case.wrong`` the ones with a deliberate bug. ``case.options`` are keywords for every check
of the case (an upstream gradient, a split of a shared input), and ``case.hints`` maps a wrong
variant to text its failure message must contain. The tests and
``benchmarks/gradcheck_cost.py`` both use this table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

__all__ = ["CASES", "Case", "softmax_ce", "two_layer_loss", "two_layer_grads"]


@dataclass(frozen=True)
class Case:
    name: str
    make: Callable[[int, type], tuple]
    right: tuple[str, ...]
    wrong: tuple[str, ...]
    options: dict = field(default_factory=dict)
    hints: dict = field(default_factory=dict)


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


# ---------------------------------------------------------------------------------------------
# scalar MLP of assignment 1: L = (w2 relu(w1 x + b1) + b2 - y)^2, every parameter a number


def _scalar_mlp(seed, dtype):
    rng = _rng(seed, 11)
    x, w1, b1 = rng.uniform(1, 3), -rng.uniform(0.5, 1.5), rng.uniform(6, 7)
    w2, b2 = rng.uniform(2, 4), rng.uniform(0.5, 1.5)
    h = w1 * x + b1  # between 1.5 and 6.5: the ReLU is on, and dw2 = h * db2 differs from db2
    y = w2 * h + b2 + rng.choice([-1, 1]) * rng.uniform(2, 4)
    r = 2 * (w2 * h + b2 - y)

    def f(w1, b1, w2, b2):
        return (w2 * np.maximum(w1 * x + b1, 0.0) + b2 - y) ** 2

    params = {k: np.asarray(v, dtype=dtype) for k, v in
              (("w1", w1), ("b1", b1), ("w2", w2), ("b2", b2))}
    ok = {"w1": r * w2 * x, "b1": r * w2, "w2": r * h, "b2": r}
    variants = {
        "ok": ok,
        "w1 for x": {**ok, "w1": r * w2 * w1},
        "dw2 and db2 swapped": {**ok, "w2": ok["b2"], "b2": ok["w2"]},
    }
    return f, params, variants


# ---------------------------------------------------------------------------------------------
# a backward checked with an upstream gradient of 2: the chain rule must multiply it in


def _upstream_two(seed, dtype):
    rng = _rng(seed, 12)
    x = rng.standard_normal((3, 4)).astype(dtype)
    local = 1 - np.tanh(x) ** 2

    def f(x):
        return np.tanh(x).sum()

    variants = {
        "ok": lambda d: d * local,
        "ok, dict for upstream 2": {"x": 2 * local},
        "forgot * dout": lambda d: local,
        "forgot * dout, dict": {"x": local},
        "dout squared": lambda d: d * d * local,
    }
    return f, {"x": x}, variants


# ---------------------------------------------------------------------------------------------
# a mean loss whose labels sit in a closure: the batch size is the first axis of the logits


def _ce_closure(seed, dtype):
    rng = _rng(seed, 13)
    logits = rng.standard_normal((6, 4)).astype(dtype)
    y = rng.integers(0, 4, size=6)
    p = _probs(logits)
    p[np.arange(6), y] -= 1
    variants = {"ok": {"z": p / 6}, "missing 1/N": {"z": p}}
    return (lambda z: softmax_ce(z, y)), {"z": logits}, variants


# ---------------------------------------------------------------------------------------------
# a shared weight: out = tanh(x @ W) @ W.T, so dW sums the contributions of both uses


def shared_tanh(x, W_in, W_out):
    """The forward with the two uses of W given separately (the ``shared`` split)."""
    return np.tanh(x @ W_in) @ W_out.T


def _shared_weight(seed, dtype):
    rng = _rng(seed, 14)
    x = rng.standard_normal((4, 5)).astype(dtype)
    W = (0.5 * rng.standard_normal((5, 3))).astype(dtype)
    t = np.tanh(x @ W)

    def grads(d, inner=True, outer=True):
        dh = (d @ W) * (1 - t * t)
        dW = (x.T @ dh if inner else 0) + (d.T @ t if outer else 0)
        return dh @ W.T, dW

    variants = {
        "ok": lambda d: grads(d),
        "dW overwritten by the outer use": lambda d: grads(d, inner=False),
        "dW overwritten by the inner use": lambda d: grads(d, outer=False),
    }
    return (lambda x, W: shared_tanh(x, W, W)), {"x": x, "W": W}, variants


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
    Case("scalar MLP", _scalar_mlp, ("ok",), ("w1 for x", "dw2 and db2 swapped"),
         hints={"w1 for x": "a single value cannot tell a wrong factor from a wrong formula",
                "dw2 and db2 swapped": "dw2 and db2 look swapped"}),
    Case("upstream gradient 2", _upstream_two, ("ok", "ok, dict for upstream 2"),
         ("forgot * dout", "forgot * dout, dict", "dout squared"), options={"upstream": 2.0},
         hints={"forgot * dout": "the gradient does not change when the upstream gradient "
                                 "does: multiply by dout / out.grad",
                "forgot * dout, dict": "the upstream gradient was not multiplied in",
                "dout squared": "dx is not linear in the upstream gradient"}),
    Case("mean loss, labels in a closure", _ce_closure, ("ok",), ("missing 1/N",),
         hints={"missing 1/N": "dz is 6 times too large, and 6 is the batch size"}),
    Case("shared weight", _shared_weight, ("ok",),
         ("dW overwritten by the outer use", "dW overwritten by the inner use"),
         options={"shared": {"W": shared_tanh}},
         hints={"dW overwritten by the outer use": "(W_out, use 2 of 2): the gradient of an "
                                                   "input used 2 times is the sum",
                "dW overwritten by the inner use": "overwritten instead of summed"}),
]
