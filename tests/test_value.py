"""The scalar engine ``minigrad.Value``: ops against the math module and finite differences,
and the graph semantics (fan-out, repeated backward, deep chains, no reference cycles)."""

from __future__ import annotations

import gc
import math
import random
import sys
import weakref

import numpy as np
import pytest

from minigrad.value import Value

H = 1e-6  # central-difference step; inputs below stay well inside each op's domain


def sigmoid(x):
    return 1.0 / (1.0 + math.exp(-x))


# One row per op: (id, build from Value inputs, reference on floats, domain per input, _op).
OPS = [
    ("add", lambda a, b: a + b, lambda a, b: a + b, [(-3, 3), (-3, 3)], "+"),
    ("sub", lambda a, b: a - b, lambda a, b: a - b, [(-3, 3), (-3, 3)], "-"),
    ("mul", lambda a, b: a * b, lambda a, b: a * b, [(-3, 3), (-3, 3)], "*"),
    ("div", lambda a, b: a / b, lambda a, b: a / b, [(-3, 3), (0.3, 3)], "/"),
    ("div-negative", lambda a, b: a / b, lambda a, b: a / b, [(-3, 3), (-3, -0.3)], "/"),
    ("add-number", lambda a: a + 2, lambda a: a + 2, [(-3, 3)], "+"),
    ("radd", lambda a: 1.5 + a, lambda a: 1.5 + a, [(-3, 3)], "+"),
    ("sub-number", lambda a: a - 1.25, lambda a: a - 1.25, [(-3, 3)], "-"),
    ("rsub", lambda a: 2.5 - a, lambda a: 2.5 - a, [(-3, 3)], "-"),
    ("mul-number", lambda a: a * 3, lambda a: a * 3, [(-3, 3)], "*"),
    ("rmul", lambda a: -2.0 * a, lambda a: -2.0 * a, [(-3, 3)], "*"),
    ("div-number", lambda a: a / 4, lambda a: a / 4, [(-3, 3)], "/"),
    ("rdiv", lambda a: 3 / a, lambda a: 3 / a, [(0.3, 3)], "/"),
    ("neg", lambda a: -a, lambda a: -a, [(-3, 3)], "neg"),
    ("pow-2", lambda a: a**2, lambda a: a**2, [(-3, 3)], "**2"),
    ("pow-3", lambda a: a**3, lambda a: a**3, [(-3, 3)], "**3"),
    ("pow-half", lambda a: a**0.5, math.sqrt, [(0.2, 4)], "**0.5"),
    ("pow-minus-1", lambda a: a**-1, lambda a: 1 / a, [(0.3, 3)], "**-1"),
    ("pow-minus-2-negative-base", lambda a: a**-2, lambda a: a**-2, [(-3, -0.3)], "**-2"),
    ("pow-0", lambda a: a**0, lambda a: 1.0, [(-3, 3)], "**0"),
    ("pow-numpy-int", lambda a: a ** np.int64(2), lambda a: a**2, [(-3, 3)], "**2"),
    ("pow-numpy-float", lambda a: a ** np.float64(1.5), lambda a: a**1.5, [(0.2, 3)], "**1.5"),
    ("pow-bool", lambda a: a**True, lambda a: a, [(-3, 3)], "**1"),
    ("exp", lambda a: a.exp(), math.exp, [(-3, 3)], "exp"),
    ("log", lambda a: a.log(), math.log, [(0.2, 5)], "log"),
    ("tanh", lambda a: a.tanh(), math.tanh, [(-3, 3)], "tanh"),
    ("relu-positive", lambda a: a.relu(), lambda a: max(a, 0.0), [(0.1, 3)], "relu"),
    ("relu-negative", lambda a: a.relu(), lambda a: max(a, 0.0), [(-3, -0.1)], "relu"),
    ("sigmoid-positive", lambda a: a.sigmoid(), sigmoid, [(0, 5)], "sigmoid"),
    ("sigmoid-negative", lambda a: a.sigmoid(), sigmoid, [(-5, 0)], "sigmoid"),
]

# Compositions, checked the same way: fan-out, shared inputs, every op mixed.
COMPOSITES = [
    ("square-plus-linear", lambda x: x * x + 3 * x, lambda x: x * x + 3 * x, [(-3, 3)]),
    (
        "a1-reciprocal",
        lambda x, y: 1 / (y + (-x).exp()),
        lambda x, y: 1 / (y + math.exp(-x)),
        [(-2, 2), (0.5, 2)],
    ),
    (
        "neuron",
        lambda w, x, b: (w * x + b).tanh(),
        lambda w, x, b: math.tanh(w * x + b),
        [(-2, 2)] * 3,
    ),
    (
        "mixed",
        lambda a, b: (a * b - a / b + (a**2).sigmoid()).exp().log() - b.relu(),
        lambda a, b: a * b - a / b + sigmoid(a**2) - max(b, 0.0),
        [(-2, 2), (0.3, 2)],
    ),
]


def points(domains, seed, count=3):
    """``count`` seeded input tuples drawn uniformly from ``domains``."""
    rng = random.Random(seed)
    return [tuple(rng.uniform(lo, hi) for lo, hi in domains) for _ in range(count)]


def finite_difference(reference, xs, i):
    up = list(xs)
    down = list(xs)
    up[i] += H
    down[i] -= H
    return (reference(*up) - reference(*down)) / (2 * H)


@pytest.mark.parametrize(
    ("build", "reference", "domains", "op"), [row[1:] for row in OPS], ids=[row[0] for row in OPS]
)
def test_op_forward_matches_math(build, reference, domains, op):
    """Each op's value equals the math-module reference and records its op and children."""
    for xs in points(domains, seed=1):
        inputs = [Value(x) for x in xs]
        out = build(*inputs)
        assert isinstance(out, Value)
        assert type(out.data) is float
        assert out.data == pytest.approx(reference(*xs), rel=1e-12, abs=1e-12)
        assert out._op == op
        assert isinstance(out._prev, tuple)
        assert all(v in out._prev for v in inputs)


@pytest.mark.parametrize(
    ("build", "reference", "domains"),
    [row[1:4] for row in OPS + COMPOSITES],
    ids=[row[0] for row in OPS + COMPOSITES],
)
def test_backward_matches_central_differences(build, reference, domains):
    """Each input's grad equals the central finite difference of the reference (float64)."""
    for xs in points(domains, seed=2):
        inputs = [Value(x) for x in xs]
        build(*inputs).backward()
        for i, v in enumerate(inputs):
            expected = finite_difference(reference, xs, i)
            assert type(v.grad) is float
            assert v.grad == pytest.approx(expected, rel=1e-6, abs=1e-7), f"input {i} at {xs}"


@pytest.mark.parametrize(
    ("build", "x", "grad"),
    [
        (lambda a: (lambda b: b + b)(a + a), 1.0, 4.0),
        (lambda a: a * a + 3 * a, 3.0, 9.0),
        (lambda a: (lambda s: s * s)(a * a), 3.0, 108.0),
        (lambda a: a - a + a, 2.0, 1.0),
    ],
    ids=["b=a+a,c=b+b", "x*x+3x", "diamond", "a-a+a"],
)
def test_fan_out_accumulates(build, x, grad):
    """A node used several times receives the sum of the gradients along every path."""
    a = Value(x)
    build(a).backward()
    assert a.grad == grad


def test_fan_out_exact_example():
    """``b = a + a; c = b + b`` gives ``a.grad == 4`` exactly, as the issue states."""
    a = Value(1.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0 and c.grad == 1.0


@pytest.mark.parametrize(
    "build",
    [
        lambda a, b: (a * b + a).tanh() * (b - a),
        lambda a, b: (lambda s: s * s + s)(a + b),
        lambda a, b: (a.exp() + b.sigmoid()).log() / (b * b + 1),
    ],
    ids=["shared-input", "shared-interior", "unary-mix"],
)
def test_second_backward_adds_exactly_one_leaf_increment(build):
    """A second backward() doubles each leaf grad and leaves interior grads unchanged."""
    a, b = Value(0.7), Value(-1.3)
    out = build(a, b)
    out.backward()
    first_leaves = (a.grad, b.grad)
    interior = [v for v in _all_nodes(out) if v._prev]
    first_interior = [v.grad for v in interior]
    out.backward()
    assert (a.grad, b.grad) == pytest.approx(tuple(2 * g for g in first_leaves), rel=1e-15)
    assert [v.grad for v in interior] == first_interior
    assert out.grad == 1.0
    a.grad = b.grad = 0.0
    out.backward()
    assert (a.grad, b.grad) == pytest.approx(first_leaves, rel=1e-15)


def test_backward_of_a_leaf_accumulates():
    """backward() on a leaf adds 1 to its grad each time, like any other leaf."""
    a = Value(5.0)
    a.backward()
    a.backward()
    assert a.grad == 2.0


@pytest.mark.slow  # about 3 s alone on an idle core; much longer under coverage tracing
def test_million_node_chain_without_recursion(monkeypatch):
    """A 1,000,000-node chain backpropagates at the default recursion limit, untouched."""

    def refuse(limit):
        raise AssertionError(f"sys.setrecursionlimit({limit}) was called")

    monkeypatch.setattr(sys, "setrecursionlimit", refuse)
    limit = sys.getrecursionlimit()
    x0, c = Value(0.5), Value(0.25)
    x = x0
    for _ in range(1_000_000 - 2):
        x = x + c
    x.backward()
    assert (x0.grad, c.grad) == (1.0, 999_998.0)
    assert x.data == pytest.approx(0.5 + 0.25 * 999_998)
    assert sys.getrecursionlimit() == limit
    del x  # freeing the chain must not recurse either


def _all_nodes(root):
    seen = {id(root): root}
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen[id(child)] = child
                stack.append(child)
    return list(seen.values())


@pytest.mark.parametrize(
    ("build", "domains"),
    [(row[1], row[3]) for row in OPS + COMPOSITES],
    ids=[row[0] for row in OPS + COMPOSITES],
)
def test_dropped_graph_is_freed_without_the_cycle_collector(build, domains):
    """With gc disabled, every node of a dropped graph is freed by reference counting."""
    (xs,) = points(domains, seed=3, count=1)
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        out = build(*[Value(x) for x in xs])
        out.backward()
        out.backward()
        refs = [weakref.ref(v) for v in _all_nodes(out)]
        assert len(refs) >= 2
        del out
        alive = [r for r in refs if r() is not None]
        assert alive == []
    finally:
        if was_enabled:
            gc.enable()


@pytest.mark.parametrize(
    ("action", "error", "pattern"),
    [
        (lambda: Value(0.0).log(), ValueError, r"log: the input must be positive \(got 0\.0\)"),
        (lambda: Value(-2.0).log(), ValueError, r"must be positive \(got -2\.0\)"),
        (lambda: Value(2.0) ** Value(3.0), TypeError, r"exponent must be a number.*got Value"),
        (lambda: 2 ** Value(3.0), TypeError, r"exponent must be a number.*got 2 \*\* Value"),
        (lambda: pow(Value(2.0), 2, 3), TypeError, r"modulo.*not supported \(got modulo=3\)"),
        (lambda: Value(-8.0) ** (1 / 3), ValueError, r"negative base needs an integer exponent"),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, r"base must be nonzero.*got 0\.0 \*\* -1"),
        (lambda: Value(10.0) ** 400, OverflowError, r"too large for a float \(got 10\.0 \*\* 400"),
        (lambda: Value(1000.0).exp(), OverflowError, r"at most 709\.78.*got 1000\.0"),
        (lambda: Value(1.0) / 0, ZeroDivisionError, r"divisor must be nonzero \(got 1\.0 / 0\.0"),
        (lambda: 1 / Value(0.0), ZeroDivisionError, r"divisor must be nonzero"),
        (lambda: Value("2"), TypeError, r"data must be a real number.*got str"),
        (lambda: Value(None), TypeError, r"data must be a real number.*got NoneType"),
        (lambda: Value(Value(1.0)), TypeError, r"got Value: pass the Value itself"),
        (
            lambda: Value(1.0, (Value(1.0),) * 3, "sum3"),
            ValueError,
            r"at most two inputs.*\(got 3\)",
        ),
        (lambda: Value(1.0) + "a", TypeError, r"unsupported operand"),
        (lambda: [1] * Value(1.0), TypeError, r"can't multiply|unsupported operand"),
    ],
    ids=[
        "log-zero",
        "log-negative",
        "pow-value-exponent",
        "rpow",
        "pow-modulo",
        "pow-complex-result",
        "pow-zero-negative",
        "pow-overflow",
        "exp-overflow",
        "div-zero",
        "rdiv-zero",
        "data-str",
        "data-none",
        "data-value",
        "three-inputs",
        "add-str",
        "rmul-list",
    ],
)
def test_errors_say_what_must_hold_and_what_was_got(action, error, pattern):
    """User errors raise a clear exception naming the op, the rule and the value got."""
    with pytest.raises(error, match=pattern):
        action()


@pytest.mark.parametrize(
    "method",
    [
        "__add__",
        "__radd__",
        "__sub__",
        "__rsub__",
        "__mul__",
        "__rmul__",
        "__truediv__",
        "__rtruediv__",
        "__pow__",
        "__rpow__",
    ],
)
@pytest.mark.parametrize("other", ["a", None, [1.0], 1j], ids=["str", "None", "list", "complex"])
def test_unknown_types_return_not_implemented(method, other):
    """Binary dunders return NotImplemented for anything that is not a real number."""
    assert getattr(Value(1.0), method)(other) is NotImplemented


@pytest.mark.parametrize(
    ("number", "expected"),
    [(2, 2.0), (True, 1.0), (np.float32(1.5), 1.5), (np.int64(3), 3.0), (np.float64(0.25), 0.25)],
    ids=["int", "bool", "np.float32", "np.int64", "np.float64"],
)
def test_real_numbers_mix_on_both_sides(number, expected):
    """Python and numpy real numbers become float constant leaves, left or right of a Value."""
    v = Value(number)
    assert type(v.data) is float and v.data == expected
    x = Value(3.0)
    for out in (x * number, number * x):
        assert isinstance(out, Value)
        assert out.data == 3.0 * expected
        out.backward()
    assert x.grad == 2 * expected


@pytest.mark.parametrize(
    ("build", "data", "grad"),
    [
        (lambda x: x.relu(), 0.0, 0.0),  # the kink: slope 0 by convention
        (lambda x: x**0.5, 0.0, math.inf),  # vertical tangent at 0
        (lambda x: x**0, 1.0, 0.0),  # a constant
        (lambda x: x**2, 0.0, 0.0),
    ],
    ids=["relu-kink", "sqrt-at-0", "pow-0-at-0", "square-at-0"],
)
def test_values_and_slopes_at_zero(build, data, grad):
    """At x = 0 the kinks and vertical tangents give the documented value and slope."""
    x = Value(0.0)
    out = build(x)
    out.backward()
    assert (out.data, x.grad) == (data, grad)


@pytest.mark.parametrize(
    ("build", "data", "grad"),
    [
        (lambda x: x.sigmoid(), 0.0, 0.0),
        (lambda x: (-x).sigmoid(), 1.0, 0.0),
        (lambda x: x.tanh(), -1.0, 0.0),
        (lambda x: (-x).tanh(), 1.0, 0.0),
    ],
    ids=["sigmoid-very-negative", "sigmoid-very-positive", "tanh-negative", "tanh-positive"],
)
def test_saturating_ops_do_not_overflow(build, data, grad):
    """sigmoid and tanh stay finite for inputs of -1000, where a naive formula overflows."""
    x = Value(-1000.0)
    out = build(x)
    out.backward()
    assert (out.data, x.grad) == (data, grad)


def test_subclass_instances_mix_with_values():
    """A subclass of Value is used as a node as it is, on either side of an op."""

    class Named(Value):
        __slots__ = ()

    a, b = Value(2.0), Named(5.0)
    out = a * b + b / a
    out.backward()
    assert out._prev[0]._prev == (a, b) and out._prev[1]._prev == (b, a)
    assert (a.grad, b.grad) == pytest.approx((5.0 - 5.0 / 4.0, 2.0 + 0.5))


def test_custom_op_from_the_docstring():
    """A user-defined op built as Value(result, children, name, rule) backpropagates."""

    def cube(x):
        def rule(out, g):
            a = out._a
            a.grad += 3 * a.data**2 * g

        return Value(x.data**3, (x,), "cube", rule)

    x = Value(2.0)
    y = cube(x) * 2
    y.backward()
    assert y._prev[0]._prev == (x,) and y._prev[0]._op == "cube"
    assert x.grad == 24.0


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Value(2.0), "Value(data=2.0, grad=0.0)"),
        (Value(-1.5, label="x"), "Value(data=-1.5, grad=0.0, label='x')"),
    ],
    ids=["plain", "labelled"],
)
def test_repr_shows_data_grad_and_label(value, text):
    """repr shows data and grad, and the label when there is one."""
    assert repr(value) == text


def test_leaf_attributes():
    """A new Value is a leaf: no children, empty op, zero grad, its label kept."""
    v = Value(4, label="w")
    assert (v.data, v.grad, v._prev, v._op, v.label) == (4.0, 0.0, (), "", "w")


def test_prev_gives_the_inputs_given_to_the_constructor():
    """``_prev`` is the tuple of inputs passed to ``Value(data, children, ...)``, in order."""
    a, b = Value(1.0), Value(2.0)
    assert Value(0.0, (a,), "f")._prev == (a,)
    assert Value(0.0, [b, a], "g")._prev == (b, a)
    assert Value(0.0, (a, a), "h")._prev == (a, a)


def test_label_can_be_set_later_and_does_not_keep_its_node_alive():
    """A label set after construction is read back; a labelled node is still freed when dropped."""
    v = Value(1.0)
    assert v.label == ""
    v.label = "z"
    assert (v.label, repr(v)) == ("z", "Value(data=1.0, grad=0.0, label='z')")
    ref = weakref.ref(v)
    del v
    assert ref() is None
