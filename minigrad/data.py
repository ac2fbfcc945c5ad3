"""Small datasets the notebooks use; none needs a download.

regression_1d: y = sin(3x) / 2 + x / 4 + noise on x in [-2, 2], shapes (n, 1).
spirals: interleaved 2-D spirals, one arm per class, labels as integers.
digits: scikit-learn's bundled 8x8 handwritten digits (1,797 images), pixels scaled to [0, 1].
"""

from __future__ import annotations

import numpy as np

__all__ = ["digits", "regression_1d", "spirals"]


def regression_1d(n: int = 200, noise: float = 0.1, seed: int = 0):
    """(X, y), both of shape (n, 1), float64."""
    if n < 1:
        raise ValueError(f"regression_1d: n must be at least 1 (got {n})")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2.0, 2.0, n))
    y = 0.5 * np.sin(3.0 * x) + 0.25 * x + noise * rng.standard_normal(n)
    return x.reshape(n, 1), y.reshape(n, 1)


def spirals(n_per_class: int = 100, classes: int = 3, noise: float = 0.2, seed: int = 0):
    """(X, y): X of shape (n_per_class * classes, 2), y integer labels in [0, classes)."""
    if n_per_class < 1 or classes < 2:
        raise ValueError(
            f"spirals: need n_per_class >= 1 and classes >= 2 (got {n_per_class}, {classes})"
        )
    rng = np.random.default_rng(seed)
    radius = np.linspace(0.0, 1.0, n_per_class)
    xs, ys = [], []
    for k in range(classes):
        theta = np.linspace(k * 4.0, (k + 1) * 4.0, n_per_class) + noise * rng.standard_normal(
            n_per_class
        )
        xs.append(np.column_stack([radius * np.sin(theta), radius * np.cos(theta)]))
        ys.append(np.full(n_per_class, k, dtype=np.int64))
    return np.concatenate(xs), np.concatenate(ys)


def digits(test_fraction: float = 0.25, seed: int = 0):
    """(X_train, y_train, X_test, y_test): 8x8 digit images flattened to 64 values in [0, 1].

    The split is stratified: each digit keeps the same share in both parts.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(
            f"digits: test_fraction must lie strictly between 0 and 1 (got {test_fraction})"
        )
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X = bunch.data.astype(np.float64) / 16.0
    y = bunch.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for k in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == k))
        test[idx[: int(round(test_fraction * len(idx)))]] = True
    train_idx, test_idx = (
        rng.permutation(np.flatnonzero(~test)),
        rng.permutation(np.flatnonzero(test)),
    )
    return X[train_idx], y[train_idx], X[test_idx], y[test_idx]
