"""Losses and normalisations built from the primitive ops (no hand-written backward here).

log_softmax(x)_i = x_i - m - log sum_j exp(x_j - m), with m = max_j x_j, is the primitive
``LogSoftmax`` of ops.py: finite and exact for logits of +-1e5;
softmax(x) = exp(log_softmax(x)), so no exp overflows;
cross_entropy(z, y) = mean over the batch of -log_softmax(z)[n, y_n], the fused op ``CrossEntropy``;
mse_loss(p, t) = mean of (p - t)**2.
"""

from __future__ import annotations

from minigrad import backend
from minigrad.backend import array_module
from minigrad.ops import CrossEntropy
from minigrad.tensor import Tensor, as_input

__all__ = ["cross_entropy", "log_softmax", "mse_loss", "relu", "sigmoid", "softmax", "tanh"]


def softmax(x, axis: int = -1) -> Tensor:
    """Probabilities along ``axis``: exp(x_i) / sum_j exp(x_j), computed as exp(log_softmax)."""
    return as_input(x).log_softmax(axis=axis).exp()


def log_softmax(x, axis: int = -1) -> Tensor:
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max)))."""
    return as_input(x).log_softmax(axis=axis)


def cross_entropy(logits, targets) -> Tensor:
    """Mean negative log-likelihood of integer class ``targets`` under softmax(``logits``).

    ``logits`` has shape (N, C) (or (C,) for one example); ``targets`` holds N
    integers in [0, C).
    """
    logits = as_input(logits)
    labels = targets.data if isinstance(targets, Tensor) else targets
    labels = array_module(logits.data).asarray(labels)  # labels live where the logits do
    if logits.ndim == 1:
        logits = logits.reshape(1, -1)
        labels = labels.reshape(1)
    if logits.ndim != 2:
        raise ValueError(f"cross_entropy: logits must have shape (N, C) (got {logits.shape})")
    if labels.dtype.kind not in "iu":
        raise TypeError(
            f"cross_entropy: targets must be integer class indices (got dtype {labels.dtype}); "
            "use labels, not one-hot rows"
        )
    n, c = logits.shape
    if labels.shape != (n,):
        raise ValueError(f"cross_entropy: targets must have shape ({n},) (got {labels.shape})")
    if n == 0:
        raise ValueError("cross_entropy: the batch is empty (got 0 rows)")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= c:
        raise ValueError(f"cross_entropy: targets must lie in [0, {c}) (got {lo}..{hi})")
    return CrossEntropy.apply(logits, labels)


def mse_loss(pred, target) -> Tensor:
    """Mean squared error: mean((pred - target)**2); shapes must match exactly."""
    pred = as_input(pred)
    if not isinstance(target, Tensor) and not hasattr(target, "shape"):
        # A list or a number: an array of the prediction's type and dtype.
        target = array_module(pred.data).asarray(backend.as_array(target), dtype=pred.dtype)
    target_shape = target.shape
    if tuple(target_shape) != pred.shape:
        raise ValueError(
            f"mse_loss: pred and target must have the same shape (got {pred.shape} and "
            f"{tuple(target_shape)}); a (N,) vs (N, 1) mix-up would broadcast to (N, N)"
        )
    diff = pred - target
    return (diff * diff).mean()


def relu(x) -> Tensor:
    return as_input(x).relu()


def sigmoid(x) -> Tensor:
    return as_input(x).sigmoid()


def tanh(x) -> Tensor:
    return as_input(x).tanh()
