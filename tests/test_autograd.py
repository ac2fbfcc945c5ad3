"""Autograd's mechanics: grad mode per thread, copies and versions, and engine faults.

Each test named after a fault guards against its return.
"""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import minigrad as mg
from minigrad import functional as F
from minigrad.ops import OPS


# ------------------------------------------------------------------------------ grad mode
def test_no_grad_recursive_decorator_restores_recording():
    """A recursive @no_grad() function leaves recording on after it returns."""

    @mg.no_grad()
    def countdown(n):
        return 0 if n == 0 else countdown(n - 1)

    countdown(3)
    assert mg.is_grad_enabled()
    assert (mg.Tensor([1.0], requires_grad=True) * 2).requires_grad


def test_no_grad_same_instance_nested_restores_recording():
    """One no_grad instance entered twice (nested) leaves recording on after both exits."""
    block = mg.no_grad()
    with block:
        with block:
            assert not mg.is_grad_enabled()
        assert not mg.is_grad_enabled()
    assert mg.is_grad_enabled()


def test_no_grad_is_per_thread():
    """A no_grad block in one thread does not stop recording in another thread."""
    entered, done = threading.Event(), threading.Event()
    seen = {}

    def other():
        entered.wait(5)
        seen["enabled"] = mg.is_grad_enabled()
        seen["records"] = (mg.Tensor([1.0], requires_grad=True) * 2).requires_grad
        done.set()

    worker = threading.Thread(target=other)
    worker.start()
    with mg.no_grad():
        entered.set()
        done.wait(5)
        assert not mg.is_grad_enabled()
    worker.join(5)
    assert seen == {"enabled": True, "records": True}


def test_no_grad_without_parentheses_decorates():
    """@mg.no_grad (no parentheses) returns a wrapped function that records nothing."""

    @mg.no_grad
    def double(t):
        """Twice t."""
        return t * 2

    assert double.__name__ == "double" and double.__doc__ == "Twice t."
    assert not double(mg.Tensor([1.0], requires_grad=True)).requires_grad
    assert mg.is_grad_enabled()


def test_no_grad_restores_the_mode_after_an_exception():
    """An exception inside no_grad still restores recording."""
    with pytest.raises(ZeroDivisionError), mg.no_grad():
        _ = 1 / 0
    assert mg.is_grad_enabled()


def test_enable_grad_records_inside_no_grad():
    """enable_grad turns recording back on inside no_grad, and off again after it."""
    x = mg.Tensor([1.0], requires_grad=True)
    with mg.no_grad():
        with mg.enable_grad():
            assert (x * 2).requires_grad
        assert not (x * 2).requires_grad


def test_value_ignores_no_grad():
    """Value (the scalar engine) records inside no_grad, as its docstring says."""
    a = mg.Value(3.0)
    with mg.no_grad():
        b = a * a
    b.backward()
    assert b._prev and a.grad == 6.0
    assert "no_grad" in mg.Value.__doc__ and "Value" in mg.no_grad.__doc__


# ------------------------------------------------------------------------------- numerics
def test_relu_of_minus_infinity_is_zero():
    """relu(-inf) is 0, not nan."""
    out = mg.Tensor([-np.inf, -1.0, 2.0, np.inf]).relu()
    np.testing.assert_array_equal(out.data, [0.0, 0.0, 2.0, np.inf])


def test_relu_backward_blocks_an_infinite_upstream():
    """An infinite upstream gradient at a blocked entry gives 0, not nan."""
    x = mg.Tensor([-1.0, 0.0, 2.0], requires_grad=True)
    x.relu().backward(np.array([np.inf, -np.inf, 3.0]))
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 3.0])


def test_pow_zero_exponent_at_zero_has_zero_gradient():
    """d(x**0)/dx at x = 0 is 0, with no RuntimeWarning (as Value gives)."""
    x = mg.Tensor([0.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (x**0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0])
    v = mg.Value(0.0)
    (v**0).backward()
    assert v.grad == 0.0


def test_pow_zero_exponent_entrywise_and_exponent_gradient_unneeded():
    """da is 0 exactly where b == 0; log(a) is not computed when b needs no gradient."""
    a = mg.Tensor([0.0, 0.0, 3.0], requires_grad=True)
    b = np.array([0.0, 2.0, 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (a**b).sum().backward()
    np.testing.assert_array_equal(a.grad, [0.0, 0.0, 1.0])


# ------------------------------------------------------------------------------ inputs
@pytest.mark.parametrize(
    "data, got",
    [
        ("abc", "got str"),
        (b"abc", "got bytes"),
        (np.array(["a", "b"]), "got ndarray of dtype <U1"),
        (np.array([1, "x"], dtype=object), "got ndarray of dtype object"),
    ],
)
def test_tensor_of_strings_is_refused(data, got):
    """Tensor of a string, bytes or an array of strings/objects raises TypeError."""
    with pytest.raises(TypeError, match=rf"data must be numbers \({got}\)"):
        mg.Tensor(data)


def test_mse_loss_accepts_a_list_target():
    """mse_loss(t, [0., 0.]) works: the list becomes an array of t's dtype."""
    t = mg.Tensor(np.array([1.0, 3.0], dtype=np.float32), requires_grad=True)
    loss = F.mse_loss(t, [0.0, 0.0])
    assert loss.item() == 5.0 and loss.dtype == np.float32
    loss.backward()
    np.testing.assert_array_equal(t.grad, [1.0, 3.0])


@pytest.mark.parametrize("scalar", [np.array(2.0), np.float64(2.0), np.int64(2), 2.0, 2])
def test_wrapped_number_keeps_float32(scalar):
    """A 0-d array, numpy scalar or Python number takes a float32 tensor's dtype."""
    x = mg.Tensor(np.ones(3, dtype=np.float32))
    for out in (x * scalar, scalar * x, x - scalar, scalar - x, x / scalar, x**scalar):
        assert out.dtype == np.float32


def test_arrays_with_dimensions_keep_numpy_promotion():
    """A float64 array with ndim >= 1 promotes a float32 tensor, as numpy does."""
    x = mg.Tensor(np.ones(3, dtype=np.float32))
    assert (x * np.array([2.0])).dtype == np.float64


# ------------------------------------------------------------------- copies and versions
def test_tensor_copies_the_callers_array():
    """Tensor(ndarray) copies: an optimiser step leaves the caller's array alone."""
    w0 = np.array([1.0, 2.0])
    w = mg.Tensor(w0, requires_grad=True)
    (w * w).sum().backward()
    mg.optim.SGD([w], lr=0.1).step()
    np.testing.assert_array_equal(w0, [1.0, 2.0])
    np.testing.assert_allclose(w.data, [0.8, 1.6])


def test_from_numpy_shares_memory():
    """Tensor.from_numpy shares the array: a step edits it, and it edits the tensor."""
    w0 = np.array([1.0, 2.0])
    w = mg.Tensor.from_numpy(w0, requires_grad=True)
    assert w.data is w0
    (w * w).sum().backward()
    mg.optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w0, [0.8, 1.6])
    with pytest.raises(TypeError, match="must be a numpy array"):
        mg.Tensor.from_numpy([1.0, 2.0])
    with pytest.raises(TypeError, match="floating dtype"):
        mg.Tensor.from_numpy(np.arange(3), requires_grad=True)


def test_leaf_grad_is_not_the_array_given_to_backward():
    """A leaf's .grad is never the very array passed to backward(G)."""
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    upstream = np.array([1.0, 1.0])
    x.backward(upstream)
    assert x.grad is not upstream
    y = mg.Tensor([1.0, 2.0], requires_grad=True)
    z = y + 0.0
    z.backward(upstream)
    assert y.grad is not upstream
    y.grad += 1
    np.testing.assert_array_equal(upstream, [1.0, 1.0])


def test_data_changed_between_forward_and_backward_is_detected():
    """Reassigning an input's .data after the forward pass makes backward raise, naming the op."""
    w = mg.Tensor([1.0, 2.0], requires_grad=True)
    loss = (w * w).sum()
    w.data -= 1.0
    with pytest.raises(RuntimeError, match=r"input 0 of mul was modified after mul used it"):
        loss.backward()
    w.data = np.array([3.0, 4.0])
    with pytest.raises(RuntimeError, match=r"version 0 when the op ran, 2 now"):
        loss.backward()


@pytest.mark.parametrize("make_opt", [
    lambda ps: mg.optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: mg.optim.Adam(ps, lr=0.01)])
def test_training_loop_does_not_trip_the_version_check(make_opt):
    """zero_grad, forward, backward, step, repeated: the loss goes down without an error."""
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(16, 3)), rng.integers(0, 2, 16)
    model = mg.nn.MLP([3, 8, 2], seed=0)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = F.cross_entropy(model(mg.Tensor(x)), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# ------------------------------------------------------------------------ op structure
def test_fused_ops_keep_their_own_saved_state():
    """Affine saves (x, W) and CrossEntropy its log-probabilities: no op reuses another's."""
    rng = np.random.default_rng(0)
    x = mg.Tensor(rng.normal(size=(4, 3)))
    W = mg.Tensor(rng.normal(size=(3, 2)), requires_grad=True)
    b = mg.Tensor(rng.normal(size=2), requires_grad=True)
    out = mg.nn.Linear(3, 2)
    out.W, out.b = W, b
    z = out(x)
    saved = z._ctx.saved_tensors
    assert len(saved) == 2 and saved[0] is x.data and saved[1] is W.data
    loss = F.cross_entropy(z, np.array([0, 1, 1, 0]))
    (logp,) = loss._ctx.saved_tensors
    np.testing.assert_allclose(np.exp(logp).sum(axis=1), 1.0)


def test_tensor_methods_come_from_the_op_table():
    """Each registered Tensor method applies its op: Tensor dispatches through the table."""
    x = mg.Tensor(np.arange(1.0, 7.0).reshape(2, 3), requires_grad=True)
    for name, (fn, method, reflected) in OPS.items():
        for m in (method, reflected):
            if m is not None:
                assert getattr(mg.Tensor, m).__doc__ == fn.__doc__, (name, m)
    assert (x + 1)._ctx.fn is OPS["add"].fn and (1 - x)._ctx.fn is OPS["sub"].fn
    assert x.sum(1).shape == (2,) and x.sum(axis=0, keepdims=True).shape == (1, 3)
    with pytest.raises(TypeError, match="sum: takes at most 2 arguments"):
        x.sum(0, False, 1)


def test_an_op_name_is_registered_once():
    """Registering a second op under a taken name is an error naming the first."""
    from minigrad.ops import op

    with pytest.raises(ValueError, match="'add' is already registered"):

        @op("add", "__add__", reflected="__radd__")
        class Plus(mg.Function):
            """out = a + b."""

    assert OPS["add"].fn.__name__ == "Add"


def test_integer_tensors_keep_numpy_promotion_with_numbers():
    """Only float tensors impose their dtype: an integer tensor times 2 stays integer."""
    x = mg.Tensor(np.array([1, 2], dtype=np.int64))
    assert (x * 2).dtype == np.int64 and (x * np.float32(0.5)).dtype.kind == "f"
