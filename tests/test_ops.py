"""Every op of the table: forward against numpy, backward against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import mutually_broadcastable_shapes
from oracle import numerical_grad

import minigrad as mg
from minigrad import functional as F
from minigrad.ops import OPS, Affine, CrossEntropy


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _log_softmax(a, axis=-1):
    s = a - a.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def _away_from_zero(rng, shape):
    return rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


LABELS = np.array([2, 0, 1, 2])
INDEX = (np.array([0, 2, 0, 0]), np.array([1, 1, 1, 3]))  # (0, 1) is picked three times

# (row id, op name, input maker, minigrad function, numpy reference)
CASES = [
    ("add", "add", lambda r: [r.normal(size=(3, 4)), r.normal(size=4)], lambda a, b: a + b, np.add),
    (
        "sub",
        "sub",
        lambda r: [r.normal(size=(3, 1)), r.normal(size=(1, 4))],
        lambda a, b: a - b,
        np.subtract,
    ),
    (
        "mul",
        "mul",
        lambda r: [r.normal(size=(2, 3)), r.normal(size=(2, 3))],
        lambda a, b: a * b,
        np.multiply,
    ),
    (
        "div",
        "div",
        lambda r: [r.normal(size=(2, 3)), _away_from_zero(r, (3,))],
        lambda a, b: a / b,
        np.divide,
    ),
    (
        "pow",
        "pow",
        lambda r: [r.uniform(0.5, 2, (2, 3)), r.normal(size=(2, 3))],
        lambda a, b: a**b,
        np.power,
    ),
    ("pow-number", "pow", lambda r: [r.uniform(0.5, 2, (2, 3))], lambda a: a**3, lambda a: a**3),
    ("rpow", "pow", lambda r: [r.normal(size=(4,))], lambda a: 2.0**a, lambda a: 2.0**a),
    ("neg", "neg", lambda r: [r.normal(size=(3,))], lambda a: -a, np.negative),
    (
        "matmul-2d",
        "matmul",
        lambda r: [r.normal(size=(3, 4)), r.normal(size=(4, 2))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    (
        "matmul-batched",
        "matmul",
        lambda r: [r.normal(size=(2, 3, 4)), r.normal(size=(4, 5))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    (
        "matmul-batch-both",
        "matmul",
        lambda r: [r.normal(size=(2, 1, 3, 4)), r.normal(size=(3, 4, 2))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    (
        "matmul-vec-left",
        "matmul",
        lambda r: [r.normal(size=(4,)), r.normal(size=(4, 3))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    (
        "matmul-vec-right",
        "matmul",
        lambda r: [r.normal(size=(2, 3, 4)), r.normal(size=(4,))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    (
        "matmul-dot",
        "matmul",
        lambda r: [r.normal(size=(4,)), r.normal(size=(4,))],
        lambda a, b: a @ b,
        np.matmul,
    ),
    ("exp", "exp", lambda r: [r.normal(size=(3, 2))], lambda a: a.exp(), np.exp),
    ("log", "log", lambda r: [r.uniform(0.5, 3, (3, 2))], lambda a: a.log(), np.log),
    ("tanh", "tanh", lambda r: [r.normal(size=(3, 2))], lambda a: a.tanh(), np.tanh),
    ("sigmoid", "sigmoid", lambda r: [r.normal(size=(3, 2)) * 4], lambda a: a.sigmoid(), _sigmoid),
    (
        "relu",
        "relu",
        lambda r: [_away_from_zero(r, (3, 4))],
        lambda a: a.relu(),
        lambda a: np.maximum(a, 0),
    ),
    ("sum-all", "sum", lambda r: [r.normal(size=(3, 4))], lambda a: a.sum(), np.sum),
    (
        "sum-axis",
        "sum",
        lambda r: [r.normal(size=(3, 4, 2))],
        lambda a: a.sum(axis=1),
        lambda a: a.sum(axis=1),
    ),
    (
        "sum-tuple-keep",
        "sum",
        lambda r: [r.normal(size=(3, 4, 2))],
        lambda a: a.sum(axis=(0, 2), keepdims=True),
        lambda a: a.sum(axis=(0, 2), keepdims=True),
    ),
    (
        "mean",
        "sum",
        lambda r: [r.normal(size=(3, 4))],
        lambda a: a.mean(axis=-1),
        lambda a: a.mean(axis=-1),
    ),
    (
        "max-all",
        "max",
        lambda r: [r.permutation(12).reshape(3, 4) * 0.3],
        lambda a: a.max(),
        np.max,
    ),
    (
        "max-axis",
        "max",
        lambda r: [r.permutation(24).reshape(2, 3, 4) * 0.3],
        lambda a: a.max(axis=(0, 2), keepdims=True),
        lambda a: a.max(axis=(0, 2), keepdims=True),
    ),
    (
        "log-softmax",
        "log_softmax",
        lambda r: [r.normal(size=(3, 5)) * 3],
        lambda a: a.log_softmax(axis=1),
        lambda a: _log_softmax(a, axis=1),
    ),
    (
        "cross-entropy",
        "cross_entropy",
        lambda r: [r.normal(size=(4, 3)) * 2],
        lambda a: CrossEntropy.apply(a, LABELS),
        lambda a: -_log_softmax(a, 1)[np.arange(4), LABELS].mean(),
    ),
    (
        "affine",
        "affine",
        lambda r: [r.normal(size=(5, 3)), r.normal(size=(3, 2)), r.normal(size=2)],
        lambda x, W, b: Affine.apply(x, W, b),
        lambda x, W, b: x @ W + b,
    ),
    (
        "reshape",
        "reshape",
        lambda r: [r.normal(size=(3, 4))],
        lambda a: a.reshape(2, 6),
        lambda a: a.reshape(2, 6),
    ),
    (
        "transpose",
        "transpose",
        lambda r: [r.normal(size=(2, 3, 4))],
        lambda a: a.transpose(2, 0, 1),
        lambda a: a.transpose(2, 0, 1),
    ),
    ("T", "transpose", lambda r: [r.normal(size=(2, 3))], lambda a: a.T, lambda a: a.T),
    (
        "getitem-repeated",
        "getitem",
        lambda r: [r.normal(size=(3, 4))],
        lambda a: a[INDEX],
        lambda a: a[INDEX],
    ),
    (
        "getitem-slice",
        "getitem",
        lambda r: [r.normal(size=(3, 4))],
        lambda a: a[1:, ::2],
        lambda a: a[1:, ::2],
    ),
]


@pytest.mark.parametrize("row, op, make, fn, ref", CASES, ids=[c[0] for c in CASES])
def test_forward_matches_numpy(row, op, make, fn, ref):
    """Each op's forward equals the numpy expression it stands for."""
    arrays = make(np.random.default_rng(0))
    out = fn(*[mg.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.data, ref(*arrays), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("row, op, make, fn, ref", CASES, ids=[c[0] for c in CASES])
def test_backward_matches_finite_differences(row, op, make, fn, ref):
    """Each op's backward equals central finite differences of its numpy reference."""
    rng = np.random.default_rng(1)
    arrays = make(rng)
    tensors = [mg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*tensors)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    expected = numerical_grad(ref, arrays, upstream)
    for t, e in zip(tensors, expected):
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, e, rtol=1e-6, atol=1e-7)


def test_every_registered_op_has_a_method_and_a_row():
    """A registered op without a Tensor method or without a test row fails here."""
    tested = {c[1] for c in CASES}
    for name, (fn, method, reflected) in OPS.items():
        assert name in tested, f"op {name!r} has no row in CASES"
        assert issubclass(fn, mg.Function) and fn.name == name
        assert fn.__doc__ and "=" in fn.__doc__, f"op {name!r} needs a docstring with its formula"
        for m in (method, reflected):
            if m is not None:
                assert callable(getattr(mg.Tensor, m)), f"op {name!r}: no Tensor.{m}"


@settings(max_examples=40, deadline=None)
@given(
    shapes=mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
    op=st.sampled_from(["add", "sub", "mul", "div"]),
    seed=st.integers(0, 2**16),
)
def test_broadcast_gradients_have_operand_shapes(shapes, op, seed):
    """For any broadcastable pair, each gradient has its operand's shape and the right values."""
    rng = np.random.default_rng(seed)
    a = rng.normal(size=shapes.input_shapes[0])
    b = _away_from_zero(rng, shapes.input_shapes[1])
    fns = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide}
    ta, tb = mg.Tensor(a, requires_grad=True), mg.Tensor(b, requires_grad=True)
    out = getattr(
        ta, {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__"}[op]
    )(tb)
    assert out.shape == shapes.result_shape
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    ga, gb = numerical_grad(fns[op], [a, b], upstream)
    assert ta.grad.shape == a.shape and tb.grad.shape == b.shape
    np.testing.assert_allclose(ta.grad, ga, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(tb.grad, gb, rtol=1e-6, atol=1e-7)


def test_max_splits_the_gradient_on_ties():
    """Tied maxima share the upstream gradient evenly: the indicator, normalised."""
    t = mg.Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]], requires_grad=True)
    t.max(axis=1).backward(np.array([1.0, 1.0]))
    np.testing.assert_array_equal(t.grad, [[0, 0.5, 0.5], [1, 0, 0]])


def test_softmax_functions_survive_huge_logits():
    """softmax, log_softmax and cross_entropy stay finite and exact for logits of +-1e5."""
    z = mg.Tensor([[1e5, -1e5, 0.0]], requires_grad=True)
    np.testing.assert_array_equal(F.softmax(z).data, [[1.0, 0.0, 0.0]])
    np.testing.assert_array_equal(F.log_softmax(z).data, [[0.0, -2e5, -1e5]])
    loss = F.cross_entropy(z, np.array([1]))
    assert loss.item() == 2e5
    loss.backward()
    np.testing.assert_allclose(z.grad, [[1.0, -1.0, 0.0]])
