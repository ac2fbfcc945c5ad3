"""The oracle the engine's tests compare against: central finite differences in float64."""

from __future__ import annotations

import numpy as np


def numerical_grad(f, arrays, upstream, eps=1e-6):
    """d<upstream, f(*arrays)>/d arrays[i] for every i, by central differences in float64."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + eps
            plus = np.sum(upstream * f(*arrays))
            a[idx] = old - eps
            minus = np.sum(upstream * f(*arrays))
            a[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads
