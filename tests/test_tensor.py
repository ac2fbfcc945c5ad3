"""Tensor semantics: graph traversal, accumulation, shapes and dtypes, memory, errors."""

from __future__ import annotations

import gc
import sys
import weakref

import numpy as np
import pytest

import minigrad as mg


def test_deep_chain_backpropagates_without_recursion():
    """A 100,000-op chain backpropagates without RecursionError or a raised recursion limit."""
    limit = sys.getrecursionlimit()
    x = mg.Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    y.sum().backward()
    assert sys.getrecursionlimit() == limit
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])


def test_fan_out_accumulates():
    """b = a + a; c = b + b gives dc/da = 4."""
    a = mg.Tensor(3.0, requires_grad=True)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0


def test_weight_sharing_sums_both_uses():
    """One W used twice gets the sum of both uses' gradients."""
    rng = np.random.default_rng(0)
    W = mg.Tensor(rng.normal(size=(3, 3)), requires_grad=True)
    x = mg.Tensor(rng.normal(size=(2, 3)))
    h = x @ W
    out = (h @ W).sum()
    out.backward()
    g = np.ones((2, 3))
    expected = h.data.T @ g + x.data.T @ (g @ W.data.T)
    np.testing.assert_allclose(W.grad, expected)


def test_second_backward_adds_one_leaf_increment():
    """Calling backward twice adds exactly one more gradient to the leaves, no interior doubling."""
    x = mg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    h = x * x
    loss = (h * h).sum()  # x**4, an interior node with fan-out
    loss.backward()
    first = x.grad.copy()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * first)
    np.testing.assert_allclose(first, 4 * x.data**3)
    np.testing.assert_allclose(h.grad, 2 * h.data)  # interior: the latest pass, not a sum


def test_zero_grad_resets_leaves():
    """Leaves accumulate until zero_grad, as in PyTorch."""
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3.0).sum().backward()
    x.zero_grad()
    assert x.grad is None
    (x * 2.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_leaves_sharing_one_gradient_array_do_not_alias():
    """Two leaves fed the same gradient array get separate arrays."""
    a = mg.Tensor([1.0, 2.0], requires_grad=True)
    b = mg.Tensor([3.0, 4.0], requires_grad=True)
    (a + b).backward(np.ones(2))
    a.grad += 1
    np.testing.assert_array_equal(b.grad, [1.0, 1.0])


@pytest.mark.parametrize(
    "dtype, data",
    [
        (np.float32, np.ones((2, 3), np.float32)),
        (np.float64, [[1, 2, 3], [4, 5, 6]]),
        (np.float64, 2),
        (np.float16, np.ones(3, np.float16)),
    ],
)
def test_dtype_is_kept(dtype, data):
    """float32 stays float32 through ops and gradients; Python lists and numbers become float64."""
    x = mg.Tensor(data, requires_grad=True)
    assert x.dtype == dtype
    y = ((x * 2 + 1.5) / 3 - 0.5) ** 2
    y = y.exp().log().tanh().sigmoid().relu().sum()
    assert y.dtype == dtype
    y.backward()
    assert x.grad.dtype == dtype and x.grad.shape == x.shape


def test_integer_arrays_stay_integers():
    """numpy integer arrays keep their dtype (labels), and cannot require grad."""
    assert mg.Tensor(np.array([1, 2])).dtype == np.int64
    with pytest.raises(TypeError, match="floating dtype"):
        mg.Tensor(np.array([1, 2]), requires_grad=True)


def test_dropped_graph_is_freed_without_the_cycle_collector():
    """No node holds a reference cycle: with gc disabled, dropping the graph frees every node."""
    gc.collect()
    gc.disable()
    try:
        x = mg.Tensor(np.ones(3), requires_grad=True)
        h = (x * 2.0).tanh()
        loss = (h @ h) + h.sum()
        loss.backward()
        refs = [weakref.ref(h), weakref.ref(loss)]
        del h, loss
        assert all(r() is None for r in refs)
        assert x.grad is not None
    finally:
        gc.enable()


def test_no_grad_records_nothing():
    """Inside no_grad ops make tensors that do not require grad and keep no graph."""
    x = mg.Tensor([1.0], requires_grad=True)
    with mg.no_grad():
        assert not mg.is_grad_enabled()
        y = x * 2
    assert mg.is_grad_enabled()
    assert not y.requires_grad and y._ctx is None

    @mg.no_grad()
    def double(t):
        return t * 2

    assert not double(x).requires_grad


def test_detach_cuts_the_graph():
    """detach returns the same data with no history."""
    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    d = (x * 2).detach()
    assert d._ctx is None and not d.requires_grad
    np.testing.assert_array_equal(d.data, [2.0, 4.0])


@pytest.mark.parametrize(
    "make, error, message",
    [
        (
            lambda: mg.Tensor(np.ones((3, 4))) @ mg.Tensor(np.ones((5, 2))),
            ValueError,
            r"matmul: shapes \(3, 4\) and \(5, 2\) are not aligned",
        ),
        (
            lambda: mg.Tensor(np.ones((3, 2))) + mg.Tensor(np.ones(4)),
            ValueError,
            r"add: shapes \(3, 2\) and \(4,\) are not broadcastable",
        ),
        (lambda: mg.Tensor(np.ones((3, 2))) * np.ones(4), ValueError, "mul: shapes"),
        (lambda: mg.Tensor(np.ones(3)) - np.ones(2), ValueError, "sub: shapes"),
        (lambda: mg.Tensor(np.ones(3)) / np.ones(2), ValueError, "div: shapes"),
        (lambda: mg.Tensor(np.ones(3)) ** np.ones(2), ValueError, "pow: shapes"),
        (lambda: mg.Tensor(np.ones(3)) @ mg.Tensor(2.0), ValueError, "at least 1 dimension"),
        (
            lambda: mg.Tensor(np.ones((2, 3, 4))) @ mg.Tensor(np.ones((3, 4, 2))),
            ValueError,
            "batch shapes",
        ),
        (lambda: mg.Tensor(np.ones(3)).sum(axis=2), ValueError, "axis 2 is out of range"),
        (lambda: mg.Tensor(np.ones(3)).sum(axis=(0, 0)), ValueError, "repeated axis"),
        (lambda: mg.Tensor(np.ones((0,))).max(), ValueError, "must not be empty"),
        (lambda: mg.Tensor(np.ones(6)).reshape(4, 2), ValueError, "cannot reshape"),
        (lambda: mg.Tensor(np.ones((2, 3))).transpose(0, 0), ValueError, "permutation"),
        (lambda: mg.Tensor(np.ones(3))[5], IndexError, "getitem"),
        (
            lambda: mg.Tensor(np.ones((2, 2)), requires_grad=True).sum(axis=0).backward(),
            RuntimeError,
            "single-number output",
        ),
        (lambda: mg.Tensor(np.ones(2)).sum().backward(), RuntimeError, "does not require grad"),
        (
            lambda: mg.Tensor(np.ones(2), requires_grad=True).backward(np.ones(3)),
            ValueError,
            "grad must have the output's shape",
        ),
        (lambda: mg.Tensor([[1, 2], [3]]), TypeError, "rectangular array of numbers"),
        (lambda: mg.Tensor(["a", None]), TypeError, "numbers"),
        (lambda: mg.Tensor(np.ones(2)).item(), ValueError, "exactly one element"),
        (lambda: mg.Tensor(1.0).log_softmax(), ValueError, "at least 1 dimension"),
    ],
)
def test_errors_say_what_must_hold(make, error, message):
    """User errors are raised with the op's name and what must hold."""
    with pytest.raises(error, match=message):
        make()


def test_unknown_operand_types_are_refused():
    """Operators return NotImplemented for types they do not know, so Python raises TypeError."""
    with pytest.raises(TypeError):
        mg.Tensor([1.0]) + "a"
    with pytest.raises(TypeError):
        "a" * mg.Tensor([1.0])


def test_python_numbers_mix_on_both_sides():
    """Reflected ops with Python numbers give the same results as numpy."""
    x = mg.Tensor([1.0, 2.0, 4.0])
    for got, want in [
        (2 + x, 2 + x.data),
        (2 - x, 2 - x.data),
        (2 * x, 2 * x.data),
        (2 / x, 2 / x.data),
        (2**x, 2**x.data),
        (np.float64(3) * x, 3 * x.data),
        (np.ones((2, 3)) @ mg.Tensor(np.ones((3, 1))), np.full((2, 1), 3.0)),
    ]:
        np.testing.assert_allclose(got.data, want)


def test_custom_function_subclass():
    """A user-defined Function plugs into the graph like a built-in op."""

    class Cube(mg.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x**3

        @staticmethod
        def backward(ctx, grad_output):
            (x,) = ctx.saved_tensors
            return 3 * x**2 * grad_output

    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y._ctx.op == "Cube" and y._ctx.parents == (x,)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 12.0])


@pytest.mark.parametrize(
    "backward, message",
    [
        (lambda ctx, g: (g, g), "one gradient per input"),
        (lambda ctx, g: (np.ones((5, 5)),), "cannot be reduced"),
    ],
)
def test_custom_function_with_bad_backward_is_named(backward, message):
    """A wrong backward in a user Function is reported with the op's name."""

    class Bad(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

    Bad.backward = staticmethod(backward)
    x = mg.Tensor(np.ones(3), requires_grad=True)
    with pytest.raises(ValueError, match=f"Bad.backward.*{message}"):
        Bad.apply(x).sum().backward()


def test_function_must_return_an_array():
    """forward returning a Tensor is a clear error (forward works on raw arrays)."""

    class Wrong(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return mg.Tensor(x)

    with pytest.raises(TypeError, match="must return an array"):
        Wrong.apply(mg.Tensor([1.0], requires_grad=True))


def test_base_function_methods_must_be_overridden():
    """The base Function says which method is missing."""
    with pytest.raises(NotImplementedError, match="forward"):
        mg.Function.apply(mg.Tensor([1.0]))
    with pytest.raises(NotImplementedError, match="backward"):
        mg.Function.backward(None, None)


def test_backward_returning_a_number_broadcasts():
    """A backward may return a Python number for a one-element input; it is cast to the dtype."""

    class Twice(mg.Function):
        @staticmethod
        def forward(ctx, x):
            return 2 * x

        @staticmethod
        def backward(ctx, g):
            return (2.0 * float(g),)

    x = mg.Tensor(np.float32(1.5), requires_grad=True)
    Twice.apply(x).backward()
    assert x.grad == 2.0 and x.grad.dtype == np.float32


def test_indexing_with_tensors_and_repeats_scatters():
    """Repeated indices add up in the gradient; Tensor indices work like arrays."""
    x = mg.Tensor(np.zeros(4), requires_grad=True)
    idx = mg.Tensor(np.array([1, 1, 3]))
    x[idx].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 2, 0, 1])
    y = mg.Tensor(np.zeros((2, 2)), requires_grad=True)
    y[(mg.Tensor(np.array([0, 0])), np.array([1, 1]))].sum().backward()
    np.testing.assert_array_equal(y.grad, [[0, 2], [0, 0]])


def test_small_conveniences():
    """shape, ndim, size, len, repr, item, numpy, to('cpu'), is_leaf, device."""
    x = mg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    y = x.sum()
    assert (x.shape, x.ndim, x.size, len(x)) == ((2, 3), 2, 6, 2)
    assert "requires_grad=True" in repr(x) and "op=sum" in repr(y)
    assert y.item() == 15.0 and x.is_leaf and not y.is_leaf and x.device == "cpu"
    assert x.numpy() is x.data
    moved = x.to("cpu")
    assert moved.requires_grad and moved is not x
    with pytest.raises(ValueError, match="device must be"):
        x.to("tpu")
    copy = mg.Tensor(x)
    assert copy.data is not x.data and np.array_equal(copy.data, x.data)
    assert x.reshape((3, 2)).shape == (3, 2) and x.transpose((1, 0)).shape == (3, 2)


def test_backward_may_return_a_list():
    """A backward that returns a list instead of a tuple is accepted."""

    class Scale(mg.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return [g * 3.0, None]

    x = mg.Tensor([1.0, 2.0], requires_grad=True)
    Scale.apply(x, 3.0).sum().backward()
    np.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_backward_may_return_numpy_scalars_and_tensors():
    """Gradients given as numpy scalars or Tensors become arrays of the input's dtype."""

    class Half(mg.Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * 0.5 + y

        @staticmethod
        def backward(ctx, g):
            return np.float64(0.5) * g.sum(), mg.Tensor(g)

    x = mg.Tensor(np.float32(2.0), requires_grad=True)
    y = mg.Tensor(np.float32(1.0), requires_grad=True)
    Half.apply(x, y).backward()
    assert isinstance(x.grad, np.ndarray) and x.grad.dtype == np.float32 and x.grad == 0.5
    assert isinstance(y.grad, np.ndarray) and y.grad == 1.0


def test_ops_read_arrays_without_copying_them():
    """An array given to an op or a layer is read in place (ops never write their inputs);
    a Tensor made by the user from it is a copy."""
    from minigrad.tensor import as_input

    x = np.arange(6.0).reshape(2, 3)
    assert as_input(x).data is x
    assert mg.Tensor(x).data is not x
    assert as_input([1.0, 2.0]).dtype == np.float64
    layer = mg.nn.Linear(3, 2, seed=0)
    np.testing.assert_allclose(layer(x).data, x @ layer.W.data + layer.b.data)
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
