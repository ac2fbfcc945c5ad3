"""minigrad.nn and minigrad.optim: parameters, layer gradients, optimiser updates, training."""

from __future__ import annotations

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F


def test_linear_forward_and_gradients():
    """Linear computes x @ W + b; dW = x^T g and db = g summed over the batch."""
    layer = mg.nn.Linear(3, 2, seed=0)
    x = np.random.default_rng(1).normal(size=(5, 3))
    out = layer(x)
    np.testing.assert_allclose(out.data, x @ layer.W.data + layer.b.data)
    g = np.random.default_rng(2).normal(size=(5, 2))
    out.backward(g)
    np.testing.assert_allclose(layer.W.grad, x.T @ g)
    np.testing.assert_allclose(layer.b.grad, g.sum(axis=0))
    assert layer.W.shape == (3, 2) and np.all(np.abs(layer.W.data) <= 1 / np.sqrt(3))


def test_linear_without_bias_and_float32():
    """bias=False gives x @ W; dtype=float32 gives float32 parameters and outputs."""
    layer = mg.nn.Linear(4, 3, bias=False, seed=0, dtype=np.float32)
    assert layer.b is None and len(layer.parameters()) == 1
    assert layer(mg.Tensor(np.ones((2, 4), np.float32))).dtype == np.float32
    assert "bias=False" in repr(layer)


def test_parameters_are_found_once_in_nested_containers():
    """parameters() walks attributes, lists, dicts and sub-modules; shared tensors appear once."""

    class Net(mg.nn.Module):
        def __init__(self):
            self.shared = mg.nn.Linear(2, 2, seed=0)
            self.blocks = [self.shared, mg.nn.Residual(mg.nn.Linear(2, 2, seed=1))]
            self.extra = {"scale": mg.Tensor(1.0, requires_grad=True)}
            self.frozen = mg.Tensor(np.ones(2))

        def forward(self, x):
            for b in self.blocks:
                x = b(x)
            return x * self.extra["scale"]

    net = Net()
    params = net.parameters()
    assert len(params) == 5 and len({id(p) for p in params}) == 5
    net(np.ones((3, 2))).sum().backward()
    assert all(p.grad is not None for p in params)
    net.zero_grad()
    assert all(p.grad is None for p in params)


def test_residual_passes_the_gradient_through_the_skip():
    """Residual(f)(x) = x + f(x), so dx = g + J_f^T g."""
    inner = mg.nn.Linear(3, 3, bias=False, seed=0)
    x = mg.Tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)
    g = np.random.default_rng(1).normal(size=(2, 3))
    mg.nn.Residual(inner)(x).backward(g)
    np.testing.assert_allclose(x.grad, g + g @ inner.W.data.T)
    assert repr(mg.nn.Residual(inner)).startswith("Residual(Linear(3, 3")


@pytest.mark.parametrize(
    "activation, fn",
    [
        ("relu", lambda a: np.maximum(a, 0)),
        ("tanh", np.tanh),
        ("sigmoid", lambda a: 1 / (1 + np.exp(-a))),
        (None, lambda a: a),
    ],
)
def test_mlp_matches_a_numpy_forward(activation, fn):
    """MLP(sizes) is Linear layers with the activation between them and none after the last."""
    mlp = mg.nn.MLP([4, 5, 3], activation=activation, seed=0)
    l1, l2 = [m for m in mlp.layers if isinstance(m, mg.nn.Linear)]
    x = np.random.default_rng(0).normal(size=(6, 4))
    expected = fn(x @ l1.W.data + l1.b.data) @ l2.W.data + l2.b.data
    np.testing.assert_allclose(mlp(x).data, expected)
    assert "Linear(4, 5" in repr(mlp)


@pytest.mark.parametrize(
    "sizes, activation, message",
    [([3], "relu", "input and an output"), ([3, 2], "gelu", "activation must be")],
)
def test_mlp_checks_its_arguments(sizes, activation, message):
    """Bad sizes or an unknown activation are refused."""
    with pytest.raises(ValueError, match=message):
        mg.nn.MLP(sizes, activation=activation)


def test_module_without_forward_says_so():
    """A Module subclass that forgot forward gets a clear error."""
    with pytest.raises(NotImplementedError, match="must define forward"):
        mg.nn.Module()(1)
    assert repr(mg.nn.Module()) == "Module()"


def test_sgd_with_momentum_and_weight_decay_follows_the_formula():
    """v <- mu v + (g + lam w); w <- w - lr v, over two steps."""
    w = mg.Tensor(np.array([1.0, -2.0]), requires_grad=True)
    opt = mg.optim.SGD([w], lr=0.1, momentum=0.9, weight_decay=0.01)
    ref_w, v = w.data.copy(), np.zeros(2)
    for g in (np.array([0.5, 1.0]), np.array([-1.0, 2.0])):
        w.grad = g.copy()
        opt.step()
        v = 0.9 * v + (g + 0.01 * ref_w)
        ref_w = ref_w - 0.1 * v
        np.testing.assert_allclose(w.data, ref_w)
    opt.zero_grad()
    assert w.grad is None
    opt.step()  # a parameter without a gradient is left alone
    np.testing.assert_allclose(w.data, ref_w)


def test_adam_follows_the_formula():
    """Adam's bias-corrected update matches a numpy reference over three steps."""
    w = mg.Tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = mg.optim.Adam([w], lr=0.01)
    ref, m, s = w.data.astype(np.float64), np.zeros(2), np.zeros(2)
    for t, g in enumerate([np.array([0.5, 1.0]), np.array([-1.0, 2.0]), np.array([0.1, 0.0])], 1):
        w.grad = g.astype(np.float32)
        opt.step()
        m = 0.9 * m + 0.1 * g
        s = 0.999 * s + 0.001 * g * g
        ref = ref - 0.01 * (m / (1 - 0.9**t)) / (np.sqrt(s / (1 - 0.999**t)) + 1e-8)
        np.testing.assert_allclose(w.data, ref, rtol=1e-5)
    assert w.dtype == np.float32


@pytest.mark.parametrize(
    "params, lr, error, message",
    [
        ([], 0.1, ValueError, "empty parameter list"),
        ([mg.Tensor([1.0])], 0.1, TypeError, "requires_grad=True"),
        ([mg.Tensor([1.0], requires_grad=True)], 0.0, ValueError, "lr must be positive"),
    ],
)
def test_optimizers_check_their_arguments(params, lr, error, message):
    """Optimisers refuse empty, frozen or non-tensor parameters and a non-positive lr."""
    with pytest.raises(error, match=message):
        mg.optim.SGD(params, lr=lr)


@pytest.mark.parametrize(
    "make_opt",
    [lambda p: mg.optim.SGD(p, lr=0.5, momentum=0.9), lambda p: mg.optim.Adam(p, lr=0.05)],
)
def test_training_reduces_the_loss_on_spirals(make_opt):
    """A small MLP trained on spirals brings the loss well below its starting value."""
    X, y = mg.data.spirals(60, 3, seed=0)
    model = mg.nn.MLP([2, 32, 3], activation="tanh", seed=0)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(150):
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
