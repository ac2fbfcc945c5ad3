"""minigrad.functional: values against numpy, gradients against finite differences, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from oracle import numerical_grad

import minigrad as mg
from minigrad import functional as F


def _log_softmax(z, axis=-1):
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_softmax_rows_sum_to_one_and_match_numpy(axis):
    """softmax along any axis matches exp(log_softmax) in numpy and sums to one."""
    z = np.random.default_rng(0).normal(size=(4, 5)) * 5
    p = F.softmax(mg.Tensor(z), axis=axis).data
    np.testing.assert_allclose(p, np.exp(_log_softmax(z, axis)), rtol=1e-12)
    np.testing.assert_allclose(p.sum(axis=axis), 1.0)


def test_softmax_jacobian_matches_formula():
    """d softmax_i / d z_j = p_i (delta_ij - p_j)."""
    z = np.array([0.5, -1.0, 2.0])
    jac = np.zeros((3, 3))
    for i in range(3):
        t = mg.Tensor(z, requires_grad=True)
        F.softmax(t)[i].backward()
        jac[i] = t.grad
    p = np.exp(_log_softmax(z))
    np.testing.assert_allclose(jac, np.diag(p) - np.outer(p, p), atol=1e-12)


@pytest.mark.parametrize("n, c", [(1, 3), (8, 10), (32, 4)])
def test_cross_entropy_value_and_gradient(n, c):
    """cross_entropy is the batch mean of -log p[y] and its gradient is (P - Y) / N."""
    rng = np.random.default_rng(n)
    z = rng.normal(size=(n, c)) * 3
    y = rng.integers(0, c, n)
    t = mg.Tensor(z, requires_grad=True)
    loss = F.cross_entropy(t, y)
    np.testing.assert_allclose(loss.item(), -_log_softmax(z, 1)[np.arange(n), y].mean())
    loss.backward()
    expected = np.exp(_log_softmax(z, 1))
    expected[np.arange(n), y] -= 1
    np.testing.assert_allclose(t.grad, expected / n, atol=1e-12)
    (num,) = numerical_grad(lambda a: -_log_softmax(a, 1)[np.arange(n), y].mean(), [z], 1.0)
    np.testing.assert_allclose(t.grad, num, atol=1e-7)


def test_cross_entropy_accepts_one_example_and_tensor_labels():
    """A single row of logits with a label tensor works like a batch of one."""
    loss = F.cross_entropy(mg.Tensor([2.0, 0.0, -1.0]), mg.Tensor(np.array([0])))
    np.testing.assert_allclose(loss.item(), -_log_softmax(np.array([2.0, 0.0, -1.0]))[0])


@pytest.mark.parametrize(
    "logits, labels, error, message",
    [
        (np.ones((2, 3)), np.array([0.0, 1.0]), TypeError, "integer class indices"),
        (np.ones((2, 3)), np.array([0, 3]), ValueError, r"targets must lie in \[0, 3\)"),
        (np.ones((2, 3)), np.array([0, -1]), ValueError, "must lie in"),
        (np.ones((2, 3)), np.array([0]), ValueError, r"targets must have shape \(2,\)"),
        (np.ones((2, 3, 4)), np.array([0, 1]), ValueError, r"shape \(N, C\)"),
        (np.ones((0, 3)), np.zeros(0, dtype=int), ValueError, "empty"),
    ],
)
def test_cross_entropy_checks_its_inputs(logits, labels, error, message):
    """Wrong labels or shapes are refused with what must hold."""
    with pytest.raises(error, match=message):
        F.cross_entropy(mg.Tensor(logits), labels)


def test_mse_loss_value_gradient_and_shape_check():
    """mse_loss is mean((p - t)**2) with gradient 2 (p - t) / N, and refuses mismatched shapes."""
    p = np.array([[1.0], [2.0], [4.0]])
    t = np.array([[0.0], [2.0], [1.0]])
    tp = mg.Tensor(p, requires_grad=True)
    loss = F.mse_loss(tp, t)
    assert loss.item() == pytest.approx(10 / 3)
    loss.backward()
    np.testing.assert_allclose(tp.grad, 2 * (p - t) / 3)
    with pytest.raises(ValueError, match=r"same shape.*\(N,\) vs \(N, 1\)"):
        F.mse_loss(tp, t.ravel())
    assert F.mse_loss(tp, mg.Tensor(t)).item() == pytest.approx(10 / 3)


def test_activation_shortcuts():
    """functional.relu/sigmoid/tanh equal the Tensor methods and accept arrays."""
    x = np.array([-1.0, 0.5])
    np.testing.assert_allclose(F.relu(x).data, [0.0, 0.5])
    np.testing.assert_allclose(F.tanh(x).data, np.tanh(x))
    np.testing.assert_allclose(F.sigmoid(x).data, 1 / (1 + np.exp(-x)))
