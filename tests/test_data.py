"""minigrad.data: shapes, dtypes, determinism and the digits split."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg


def test_regression_1d_is_seeded_and_shaped():
    """regression_1d gives (n, 1) arrays, the same for the same seed and different otherwise."""
    X, y = mg.data.regression_1d(50, seed=3)
    assert X.shape == y.shape == (50, 1) and X.dtype == np.float64
    np.testing.assert_array_equal(X, mg.data.regression_1d(50, seed=3)[0])
    assert not np.array_equal(y, mg.data.regression_1d(50, seed=4)[1])
    assert X.min() >= -2 and X.max() <= 2


def test_spirals_labels_and_shapes():
    """spirals gives n_per_class points per class with integer labels."""
    X, y = mg.data.spirals(40, 4, seed=0)
    assert X.shape == (160, 2) and y.dtype.kind == "i"
    np.testing.assert_array_equal(np.bincount(y), [40] * 4)


def test_digits_split_is_stratified_and_scaled():
    """digits: 1,797 images in [0, 1], a stratified held-out split, no overlap."""
    Xtr, ytr, Xte, yte = mg.data.digits(test_fraction=0.25, seed=0)
    assert Xtr.shape[1] == 64 and len(Xtr) + len(Xte) == 1797
    assert 0.0 <= Xtr.min() and Xtr.max() <= 1.0
    share = np.bincount(yte, minlength=10) / np.bincount(np.concatenate([ytr, yte]))
    assert np.all(np.abs(share - 0.25) < 0.02)
    rows_tr = {r.tobytes() for r in Xtr}
    assert sum(r.tobytes() in rows_tr for r in Xte) < 5  # a few digits are pixel-identical


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: mg.data.regression_1d(0), "n must be at least 1"),
        (lambda: mg.data.spirals(10, 1), "classes >= 2"),
        (lambda: mg.data.digits(test_fraction=1.0), "strictly between 0 and 1"),
    ],
)
def test_bad_arguments_are_refused(call, message):
    """Dataset makers refuse impossible sizes."""
    with pytest.raises(ValueError, match=message):
        call()
