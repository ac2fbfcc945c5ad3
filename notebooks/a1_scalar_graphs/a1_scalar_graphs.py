# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Assignment 1: scalar computational graphs
#
# Every number a program computes from its inputs can be differentiated by the same recipe:
# split the program into small steps,
# know the derivative of each step,
# and combine those local derivatives along the graph of the program.
#
# In this assignment we work with scalars only, so every step is plain arithmetic.
# We will
#
# 1. write functions as graphs and run them forward;
# 2. push derivatives backward by hand, first path by path, then in one sweep (backpropagation),
#    and check them with a finite-difference checker we write ourselves;
# 3. see why the sum over all paths explodes on graphs with shared nodes
#    while backpropagation stays linear;
# 4. see why copying the chain rule into code costs $O(k^2)$ for a chain of $k$ steps;
# 5. build a small engine, `Node`, in which every operation carries its own local derivative;
# 6. compute derivatives forward with dual numbers, one Jacobian-vector product per input;
# 7. compare numerical, symbolic and automatic differentiation.
#
# **Grading.**
# The exercises and their points are in the table at the end of this cell.
# Each one is a function (or a class method) with a fixed name and signature:
# do not rename it and do not change its arguments.
# Replace `raise NotImplementedError()` with your code.
# The cell after each exercise runs visible tests that you can run as often as you like;
# the grader runs more tests that you do not see.
# Exercises that ask for a derivative *by hand* are graded with minigrad's autograd switched off:
# calling `.backward()` of `minigrad.Value` or `minigrad.Tensor` there raises an error
# and earns no points, in the visible tests as in grading.
# An exercise with several functions is graded in parts, one per function,
# and an exercise that builds on an earlier one is graded on its own:
# a mistake costs points once.
# Some exercises ask for a number rather than a function (how many passes, which slope):
# assign it to the variable the exercise names.
# One asks for a few sentences in a markdown cell, graded by hand after the deadline.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | autograded | written | points |
# |---|---|---|---|---|---|
# | 1 | a finite-difference checker of our own | numerical_gradient (2), relative_error (1), the kink, predicted (1) | 4 | - | 4 |
# | 2 | $g(x, y, z) = [\max(3x, 0) - y]^2 + z$ by hand | one | 3 | - | 3 |
# | 3 | the loss of a tiny network, by hand | one | 4 | - | 4 |
# | 4 | the sum over paths | one | 3 | - | 3 |
# | 5 | the chain rule in $O(k)$ | one | 3 | - | 3 |
# | 6 | the local derivatives | addition (1), multiplication (1), power (1), exp (1), relu (1) | 5 | - | 5 |
# | 7 | the order of the backward pass | topological_order (3), backpropagate (1) | 4 | - | 4 |
# | 8 | why `+=`, in writing | written answer | 0 | 3 | 3 |
# | 9 | dual numbers | Dual (2), forward_partials (2) | 4 | - | 4 |
# | 10 | forward or reverse, counted | one | 2 | - | 2 |
# | | **total** | 17 graded cells, 1 written | **32** | **3** | **35** |
# <!-- end of points table -->

# %% nbgrader={"grade": false, "grade_id": "a1-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import math
import time

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.expect import autograd_off, expect_close, expect_shape, require
from minigrad.viz import draw_graph

# %% [markdown]
# ## 1. Functions are graphs
#
# Take the function from the lecture
#
# $$f(x, y) = \frac{1}{y + e^{-x}}.$$
#
# A computer evaluates it one primitive operation at a time.
# Giving every intermediate result a name turns the formula into a short program:

# %%
def recip_steps(x, y):
    """Forward pass of f(x, y) = 1 / (y + exp(-x)), returning every intermediate value."""
    a = -x
    b = math.exp(a)
    c = y + b
    d = 1.0 / c
    return {"x": x, "y": y, "a": a, "b": b, "c": c, "d": d}


recip_steps(0.0, 1.0)

# %% [markdown]
# Each named value is a node of a graph.
# An edge goes from a value to every value computed from it:
# $x \to a \to b \to c \to d$ and $y \to c$.
# Running the program from the inputs to the output is the *forward pass*;
# at $(x, y) = (0, 1)$ it gives $a = 0$, $b = 1$, $c = 2$ and $d = 0.5$
# (the drawing below shows $a$ as `-0`, the negative zero of floating point).
#
# In code we represent the graph with objects.
# Each node object holds its value
# and references to the nodes it was computed from (its incoming edges).
# `minigrad.Value` is such an object:
# arithmetic on `Value`s computes the result *and* records where it came from.
# `draw_graph` shows the recorded graph, with the value and the gradient of every node
# (gradients stay 0 until we run a backward pass).
# A `label` is only a name for the drawing.

# %%
x = mg.Value(0.0, label="x")
y = mg.Value(1.0, label="y")
a = -x
b = a.exp()
c = y + b
d = 1 / c
for node, name in ((a, "a"), (b, "b"), (c, "c"), (d, "d")):
    node.label = name  # names shown in the drawing; the constant 1 stays unnamed
print("d =", d.data)
draw_graph(d)

# %% [markdown]
# The same three functions come back throughout the assignment.
# We write them once, using only operations that `mg.Value`, your own `Node` class (section 5)
# and the dual numbers of section 6 all support,
# so one definition runs on all three.
#
# * $f(x, y) = 1 / (y + e^{-x})$;
# * $g(x, y, z) = [\max(3x, 0) - y]^2 + z$, where $\max(\cdot, 0)$ is a ReLU;
# * $L_\text{MLP}(x, y, w_1, b_1, w_2, b_2) = [\max(\max(w_1 x + b_1, 0)\, w_2 + b_2, 0) - y]^2$:
#   the squared error of a network with one input, one hidden ReLU unit and one ReLU output unit,
#   on one example $(x, y)$.

# %%
def recip_program(x, y):
    """f(x, y) = 1 / (y + exp(-x))."""
    return 1 / (y + (-x).exp())


def relu_square_program(x, y, z):
    """g(x, y, z) = (max(3x, 0) - y)^2 + z."""
    return ((3 * x).relu() - y) ** 2 + z


def mlp_loss_program(x, y, w1, b1, w2, b2):
    """Squared error of a 1-1-1 ReLU network with weights w1, w2 and biases b1, b2."""
    hidden = (w1 * x + b1).relu()
    output = (w2 * hidden + b2).relu()
    return (output - y) ** 2


print(mlp_loss_program(*[mg.Value(v) for v in (2.0, 10.0, -1.0, 4.0, 3.0, 1.0)]).data)

# %% [markdown]
# ## 2. Backward by hand
#
# ### The path-product rule
#
# Every edge $u \to v$ of the graph has a *local derivative* $\partial v / \partial u$,
# which only needs the values at the two ends of the edge.
# For a graph that is a single path from an input $i$ to the output $j$,
# the chain rule says: $\partial j / \partial i$ is the product of the local derivatives
# along the path.
#
# For $\partial d / \partial y$ the path is $y \to c \to d$:
#
# $$\frac{\partial d}{\partial y}
#   = \frac{\partial c}{\partial y} \cdot \frac{\partial d}{\partial c}
#   = 1 \cdot \left(-\frac{1}{c^2}\right) = -\frac{1}{4}.$$
#
# For $\partial d / \partial x$ the path is $x \to a \to b \to c \to d$:
#
# $$\frac{\partial d}{\partial x} = (-1) \cdot e^{a} \cdot 1 \cdot \left(-\frac{1}{c^2}\right)
#   = (-1)(1)(1)\left(-\tfrac{1}{4}\right) = \frac{1}{4}.$$
#
# The local derivatives use the values of the forward pass, so we run it first and keep its values.

# %%
v = recip_steps(0.0, 1.0)
local = {
    ("x", "a"): -1.0,  # a = -x
    ("a", "b"): math.exp(v["a"]),  # b = e^a
    ("b", "c"): 1.0,  # c = y + b
    ("y", "c"): 1.0,
    ("c", "d"): -1.0 / v["c"] ** 2,  # d = 1 / c
}
d_dy = local[("y", "c")] * local[("c", "d")]
d_dx = local[("x", "a")] * local[("a", "b")] * local[("b", "c")] * local[("c", "d")]
print(f"dd/dy = {d_dy}, dd/dx = {d_dx}")

# %% [markdown]
# ### Backpropagation
#
# Both products above end with the same factor $\partial d / \partial c$.
# With many inputs, the path-product rule recomputes such shared tails again and again.
# Backpropagation computes each of them once.
# For every node $v$ we keep $\bar v = \partial d / \partial v$,
# the derivative of the *output* with respect to $v$
# (the lecture notes write $\nabla_v$; some call it the error signal).
# We start with $\bar d = 1$ and walk the program backward.
# At a step $j = \varphi(i, \dots)$ we know $\bar j$ already, and we pass
#
# $$\bar i \mathrel{+}= \frac{\partial j}{\partial i}\, \bar j$$
#
# to each input $i$: local derivative times the gradient that arrived from above.
# One backward sweep gives the derivative with respect to *every* node.
# Each step of the sweep does a few multiplications per input of its forward step,
# so the sweep costs a small constant multiple of the forward pass
# (section 6 measures the multiple for minigrad's scalars).

# %%
def recip_forward_backward(x, y):
    """f(x, y) = 1 / (y + exp(-x)) and its partial derivatives (f, df/dx, df/dy), by hand."""
    # forward pass: keep every intermediate value
    a = -x
    b = math.exp(a)
    c = y + b
    d = 1.0 / c
    # backward pass: one line per step of the forward pass, in reverse order
    d_bar = 1.0
    c_bar = (-1.0 / c**2) * d_bar  # d = 1 / c
    y_bar = 1.0 * c_bar  # c = y + b
    b_bar = 1.0 * c_bar
    a_bar = b * b_bar  # b = e^a, and d(e^a)/da = e^a = b
    x_bar = -1.0 * a_bar  # a = -x
    return d, x_bar, y_bar


value, dx, dy = recip_forward_backward(0.0, 1.0)
print(value, dx, dy)

# %% [markdown]
# > **Errata to the notes.**
# > The slides' code for this backward pass writes `dc = (1 / c**2) * dd`;
# > the local derivative of $1/c$ is $-1/c^2$, so that code returns both partials with the wrong sign.
# > The slides' forward-pass exercise announces $f(1, 0, 3)$ but computes $f(1, 0, -2) = 7$.
# > They write the path rule as $\partial i / \partial j$ for a path from $i$ to $j$,
# > which gives $\partial j / \partial i$.
# > They also credit backpropagation with "$O(m)$ time and $O(1)$ space" for a graph of $m$ nodes:
# > the backward sweep needs the values of the forward pass,
# > so its space too grows in proportion to the number of nodes
# > (assignment 3 measures that memory).
#
# ### Checking a gradient with finite differences
#
# How do we know that a gradient derived by hand is right?
# We compare it with the slope measured on the function itself.
# For an input $x$ and a small step $h$, the *central difference*
#
# $$\frac{f(x + h) - f(x - h)}{2h}$$
#
# differs from $f'(x)$ by about $\frac{h^2}{6} |f'''(x)|$,
# much less than the one-sided difference $\frac{f(x + h) - f(x)}{h}$, which is off by about $\frac{h}{2}|f''(x)|$
# (section 7 measures both).
# For a function of several inputs, some of them arrays,
# we nudge one entry at a time and leave all the others where they are.
#
# To compare an analytic value $a$ with a numerical estimate $\tilde a$ we use the *relative error*
# $|a - \tilde a| / \max(|a|, |\tilde a|)$, which does not depend on the scale of the function.
# In float64 with $h = 10^{-5}$,
# a right gradient of a smooth function has a relative error far below $10^{-6}$,
# and a wrong one usually an error of $10^{-2}$ or more.
#
# ### Exercise 1 (4 points): a finite-difference checker of our own
#
# Write two functions.
#
# * `numerical_gradient(f, inputs, h=1e-5)`:
#   `inputs` is a dictionary from names to floats or float arrays,
#   and `f(*inputs.values())` returns a number.
#   Return a dictionary with the same names,
#   each holding a float64 array of its input's shape (a 0-d array for a float):
#   the central difference of `f` in every entry of that input, with step `h`.
#   Nudge entries of copies made with `np.array(value)`
#   (a copy keeps the input's dtype; we come back to that)
#   and leave the caller's `inputs` as they were.
# * `relative_error(analytic, numerical)`: two numbers, or two arrays of one shape;
#   return, as a float, the largest relative error over their entries,
#   where an entry that is 0 in both counts as 0.
#
# A third part asks you to predict what the checker does at a kink.

# %% nbgrader={"grade": false, "grade_id": "a1-numerical-gradient", "locked": false, "schema_version": 3, "solution": true, "task": false}
def numerical_gradient(f, inputs, h=1e-5):
    """Central differences of f(*inputs.values()) in every entry of every input, by name."""
    ### BEGIN SOLUTION
    values = {name: np.array(value) for name, value in inputs.items()}
    grads = {}
    for name, x in values.items():
        grad = np.zeros(x.shape)
        for index in np.ndindex(x.shape):
            old = x[index]
            x[index] = old + h
            up = f(*values.values())
            x[index] = old - h
            down = f(*values.values())
            x[index] = old
            grad[index] = (up - down) / (2 * h)
        grads[name] = grad
    return grads
    ### END SOLUTION


# %% nbgrader={"grade": false, "grade_id": "a1-relative-error", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relative_error(analytic, numerical):
    """max over entries of |a - n| / max(|a|, |n|), an entry that is 0 in both counting 0."""
    ### BEGIN SOLUTION
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numerical, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(n))
    errors = np.abs(a - n) / np.where(scale > 0, scale, 1.0)
    return float(errors.max()) if errors.size else 0.0
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-numerical-gradient-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: numerical_gradient
# numerical_gradient: central differences in every entry, by name, shapes kept, inputs untouched
_got = numerical_gradient(lambda x, y: 1.0 / (y + np.exp(-x)), {"x": 0.0, "y": 1.0})
require("value", isinstance(_got, dict) and sorted(_got) == ["x", "y"],
        "numerical_gradient(f, {'x': 0.0, 'y': 1.0}) must return a dict with the keys 'x' "
        f"and 'y', got {repr(_got)[:80]}")
expect_close([_got["x"], _got["y"]], [0.25, -0.25],
             "numerical_gradient of 1 / (y + exp(-x)) at (0, 1): (d/dx, d/dy)", rtol=1e-8)
_got = numerical_gradient(lambda x: x**3, {"x": 1.0}, h=1e-2)
expect_close(_got["x"], 3.0001, "numerical_gradient of x**3 at x = 1 with h = 0.01",
             rtol=1e-9, hint="use the central difference (f(x + h) - f(x - h)) / (2h); "
             "the one-sided (f(x + h) - f(x)) / h gives 3.0301 here")
_W = np.array([[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]])
_b = np.array([0.5, -0.25])
_inputs = {"W": _W.copy(), "b": _b.copy()}
_got = numerical_gradient(lambda W, b: np.sum(W**3) + np.sum(b * b), _inputs)
expect_shape(_got["W"], (2, 3), "numerical_gradient(...)['W'] for W of shape (2, 3)")
expect_shape(_got["b"], (2,), "numerical_gradient(...)['b'] for b of shape (2,)")
expect_close(_got["W"], 3 * _W**2, "numerical_gradient of sum(W**3) + sum(b*b): d/dW = 3 W**2",
             rtol=1e-8, atol=1e-9)
expect_close(_got["b"], 2 * _b, "numerical_gradient of sum(W**3) + sum(b*b): d/db = 2 b",
             rtol=1e-8, atol=1e-9)
require("inplace", np.array_equal(_inputs["W"], _W) and np.array_equal(_inputs["b"], _b),
        "numerical_gradient changed the arrays in inputs: nudge entries of copies and leave "
        "the caller's inputs as they were")
print("numerical_gradient: visible tests passed")
### BEGIN HIDDEN TESTS
# the functions are built in the kernel (they are callables); the judge computes the
# central differences itself and compares
numgrad = student.kernel('''
def numgrad(numerical_gradient, which, inputs, h):
    functions = {
        "cube": lambda x: x**3,
        "mixed": lambda W, b, c: np.sum(np.tanh(W) * b) + c**2 * np.sum(W),
        "recip": lambda x, y: 1.0 / (y + np.exp(-x)),
    }
    grads = numerical_gradient(functions[which], inputs, h)
    return grads, inputs
''')


def mixed(W, b, c):
    return np.sum(np.tanh(W) * b) + c**2 * np.sum(W)


def central(f, inputs, h):
    """The judge's central differences, entry by entry, in float64."""
    out = {}
    for name in inputs:
        grad = np.zeros(np.shape(inputs[name]))
        for index in np.ndindex(grad.shape):
            up = {k: np.array(v, dtype=float) for k, v in inputs.items()}
            down = {k: np.array(v, dtype=float) for k, v in inputs.items()}
            up[name][index] += h
            down[name][index] -= h
            grad[index] = (f(*up.values()) - f(*down.values())) / (2 * h)
        out[name] = grad
    return out


def check_numgrad(what, which, inputs, h, want, rtol=1e-8, atol=1e-10):
    """numerical_gradient on a kernel-side function: keys, shapes, values, inputs kept."""
    call = f"numerical_gradient({what}, h={h:g})"
    got, after = numgrad(student.numerical_gradient, which, inputs, h)
    require("value", isinstance(got, dict) and sorted(got) == sorted(inputs),
            f"{call} must return a dict with the keys {sorted(inputs)}, got {show(got)}")
    for name, value in inputs.items():
        expect_shape(np.asarray(got[name]), np.shape(value),
                     f"{call}[{name!r}] for {name} of shape {np.shape(value)}")
        expect_close(np.asarray(got[name], dtype=float), want[name],
                     f"{call}[{name!r}]", rtol=rtol, atol=atol,
                     hint="use the central difference (f(x + h) - f(x - h)) / (2h), "
                          "one entry at a time, the other entries unchanged")
    changed = [name for name, value in inputs.items()
               if not np.array_equal(np.asarray(after[name]), np.asarray(value))]
    require("inplace", not changed,
            f"{call} changed the input(s) {', '.join(changed)} in place: nudge entries of "
            "copies and leave the caller's inputs as they were")


# literal answers: the central difference of x**3 is 3x**2 + h**2
check_numgrad("x**3 at x = 1", "cube", {"x": 1.0}, 1e-2, {"x": 3.0001}, rtol=1e-9)
check_numgrad("x**3 at x = -2", "cube", {"x": -2.0}, 1e-3, {"x": 12.000001}, rtol=1e-9)
check_numgrad("1 / (y + exp(-x)) at (0, 1)", "recip", {"x": 0.0, "y": 1.0}, 1e-5,
              {"x": 0.25, "y": -0.25})
# random arrays, against the judge's own central differences
rng = np.random.default_rng(seed)
for _ in range(3):
    rows, cols = (int(v) for v in rng.integers(1, 4, size=2))
    W = rng.normal(size=(rows, cols))
    b = rng.normal(size=cols)
    c = float(rng.normal())
    inputs = {"W": W, "b": b, "c": c}
    check_numgrad(f"sum(tanh(W) * b) + c**2 sum(W) with W of shape {W.shape}", "mixed", inputs,
                  1e-5, central(mixed, inputs, 1e-5), rtol=1e-7, atol=1e-9)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-relative-error-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: relative_error
# relative_error: the largest |a - n| / max(|a|, |n|) over the entries, 0 where both are 0
for _a, _n, _want in [
    (1.0, 1.0, 0.0),
    (2.0, 1.0, 0.5),
    (0.0, -3.0, 1.0),
    (0.0, 0.0, 0.0),
    (-1.0, 1.0, 2.0),
    (np.array([1.0, 2.0, 0.0]), np.array([1.0, 2.2, 0.0]), 0.2 / 2.2),
]:
    _got = relative_error(_a, _n)
    require("value", isinstance(_got, float), f"relative_error must return a float, got {_got!r}")
    expect_close(_got, _want, f"relative_error({_a!r}, {_n!r})", rtol=1e-12, atol=1e-15)
print("relative_error: visible tests passed")
### BEGIN HIDDEN TESTS
def relative_ref(a, n):
    a, n = np.asarray(a, dtype=float), np.asarray(n, dtype=float)
    scale = np.maximum(np.abs(a), np.abs(n))
    return float((np.abs(a - n) / np.where(scale > 0, scale, 1.0)).max())


def check_relative(a, n, want, what):
    """relative_error(a, n) is the float want."""
    call = f"relative_error({what})"
    got = student.relative_error(a, n)
    require("value", isinstance(got, float), f"{call} must return a float, got {show(got)}")
    expect_close(got, want, call, rtol=1e-10, atol=1e-15)


check_relative(0.0, 2.5, 1.0, "0.0, 2.5 (an analytic 0 against a nonzero slope)")
check_relative(-4.0, 0.0, 1.0, "-4.0, 0.0")
check_relative(0.0, 0.0, 0.0, "0.0, 0.0")
check_relative(-3.0, 3.0, 2.0, "-3.0, 3.0 (a wrong sign)")
check_relative(np.zeros(3), np.zeros(3), 0.0, "zeros(3), zeros(3)")
check_relative(np.array([1e-3, 5.0]), np.array([2e-3, 5.0]), 0.5,
               "[0.001, 5.0], [0.002, 5.0] (the worst entry, not an average)")
rng = np.random.default_rng(seed)
for _ in range(3):
    shape = tuple(int(v) for v in rng.integers(1, 4, size=2))
    a = rng.normal(size=shape)
    n = a * (1.0 + rng.normal(scale=1e-3, size=shape))
    n.flat[int(rng.integers(0, n.size))] = 0.0
    check_relative(a, n, relative_ref(a, n), f"two arrays of shape {shape}")
### END HIDDEN TESTS

# %% [markdown]
# Before we run the checker where it is weak, predict what it does there.
# Take $g(x, y, z) = [\max(3x, 0) - y]^2 + z$ at $(x, y, z) = (0, 1, 0)$,
# where $3x$ sits on the kink of the ReLU, and move along $x$ only.
# Work out, as $h \to 0$,
# the slope from the left, $\lim (g(0) - g(-h)) / h$,
# the slope from the right, $\lim (g(h) - g(0)) / h$,
# and the limit of the central difference that `numerical_gradient` returns for $\partial g / \partial x$.
# Assign the three numbers to `kink_left_slope`, `kink_right_slope` and `kink_central_difference`.

# %% nbgrader={"grade": false, "grade_id": "a1-kink-prediction", "locked": false, "schema_version": 3, "solution": true, "task": false}
# g(x, y, z) = (max(3x, 0) - y)^2 + z at (0, 1, 0), along x, as h -> 0: assign three numbers to
# kink_left_slope, kink_right_slope and kink_central_difference
kink_left_slope = kink_right_slope = kink_central_difference = None
### BEGIN SOLUTION
kink_left_slope = 0.0
kink_right_slope = -6.0
kink_central_difference = -3.0
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a1-kink-prediction-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: the kink, predicted
# the slopes of g at its kink from the left and the right, and the limit of the central difference
_answers = {"kink_left_slope": kink_left_slope, "kink_right_slope": kink_right_slope,
            "kink_central_difference": kink_central_difference}
for _name, _value in _answers.items():
    require("value", isinstance(_value, (int, float)) and not isinstance(_value, bool),
            f"{_name} must be a number, got {_value!r}")
print("the kink: three numbers recorded (the grader checks their values)")
### BEGIN HIDDEN TESTS
names = ("kink_left_slope", "kink_right_slope", "kink_central_difference")
left, right, middle = numbers([getattr(student, name).value() for name in names],
                              "the kink answers", names)
expect_close(left, 0.0, "kink_left_slope (left of x = 0 the ReLU is off, so g does not "
             "change with x)", atol=1e-3)
expect_close(right, -6.0, "kink_right_slope (right of x = 0, dg/dx = 2 (3x - y) * 3, at x = 0 "
             "and y = 1)", atol=1e-3)
expect_close(middle, -3.0, "kink_central_difference (the central difference straddles the "
             "kink: it averages the two one-sided slopes)", atol=1e-3)
### END HIDDEN TESTS

# %% [markdown]
# ### Where a simple checker fails
#
# We now run our checker on four cases whose analytic gradients are right,
# and call a relative error below $10^{-6}$ a pass.
#
# 1. $f(x, y) = 1 / (y + e^{-x})$ at $(0, 1)$: smooth, float64.
# 2. $g$ at its kink $(0, 1, 0)$, with $\partial g / \partial x = 0$,
#    the value our ReLU convention gives.
#    Any value between the one-sided slopes is a valid derivative there (a *subgradient*),
#    but the central difference returns their average.
# 3. $g$ at $x = 10^{-6}$, just right of the kink: the step $h = 10^{-5}$ reaches across it.
# 4. $f$ again, with float32 inputs: the function now computes in float32,
#    whose rounding error is about $6 \cdot 10^{-8}$ instead of $10^{-16}$.

# %%
GOOD = 1e-6  # relative error below which we call a gradient right


def recip_numpy(x, y):
    return 1.0 / (y + np.exp(-x))


def g_numpy(x, y, z):
    return (np.maximum(3.0 * x, 0.0) - y) ** 2 + z


def recip_gradient(x, y):
    """The analytic gradient of 1 / (y + exp(-x)), in the dtype of x and y."""
    e = np.exp(-x)
    return {"x": e / (y + e) ** 2, "y": -1.0 / (y + e) ** 2}


def g_gradient(x, y, z):
    """The analytic gradient of g, with the ReLU's derivative 0 at 0."""
    r = max(3.0 * x, 0.0) - y
    return {"x": 6.0 * r if x > 0 else 0.0, "y": -2.0 * r, "z": 1.0}


x32, y32 = np.float32(0.5), np.float32(1.0)
cases = [
    ("f at (0, 1), float64", recip_numpy, {"x": 0.0, "y": 1.0}, recip_gradient(0.0, 1.0)),
    ("g at the kink (0, 1, 0)", g_numpy, {"x": 0.0, "y": 1.0, "z": 0.0}, g_gradient(0.0, 1.0, 0.0)),
    ("g at (1e-6, 1, 0)", g_numpy, {"x": 1e-6, "y": 1.0, "z": 0.0}, g_gradient(1e-6, 1.0, 0.0)),
    ("f at (0.5, 1), float32", recip_numpy, {"x": x32, "y": y32}, recip_gradient(x32, y32)),
]
ours = {}
for what, fn, point, analytic in cases:
    numerical = numerical_gradient(fn, point)
    ours[what] = max(relative_error(analytic[name], numerical[name]) for name in point)
    print(f"{what:<24} relative error {ours[what]:8.1e}  {'pass' if ours[what] < GOOD else 'FAIL'}")
best32 = float("inf")
for h in (1e-4, 1e-3, 1e-2, 1e-1):
    numerical = numerical_gradient(recip_numpy, {"x": x32, "y": y32}, h)
    error = max(relative_error(recip_gradient(x32, y32)[name], numerical[name]) for name in "xy")
    best32 = min(best32, error)
    print(f"float32, h = {h:.0e}          relative error {error:8.1e}")
assert ours["f at (0, 1), float64"] < 1e-9 and ours["g at the kink (0, 1, 0)"] > 0.99
assert 0.1 < ours["g at (1e-6, 1, 0)"] < 0.9 and ours["f at (0.5, 1), float32"] > 1e-4
assert best32 > GOOD

# %% [markdown]
# Only the first case passes, yet all four gradients are right.
# At the kink the relative error is 1: the checker compares our $0$ with the average, $-3$.
# Just beside the kink it fails too, because the two evaluations lie on either side of it;
# this is why the hidden tests keep their random points away from kinks.
# In float32 the difference $f(x + h) - f(x - h)$ loses most of its digits to rounding,
# and the nudged entries are themselves rounded to float32,
# so with $h = 10^{-5}$ the error stays above $10^{-4}$.
# Other steps help, but none brings float32 below the threshold we chose for float64
# (the `assert`s in the cell check all of this):
# the threshold must follow the precision.
#
# ### The production version: `check_gradients`
#
# `minigrad.gradcheck.check_gradients(f, inputs, analytic)` takes the same `f` and `inputs`
# and the analytic gradients as a dictionary.
# It is our checker with the failures above repaired. It
#
# * evaluates `f` in float64 on private copies, whatever the inputs' dtype,
#   and takes its tolerance from the lowest precision among the input, the gradient and the output
#   ($10^{-6}$ relative for float64, $10^{-3}$ for float32);
# * scales the step to the input and to the precision,
#   $h = \epsilon_\text{mach}^{1/3} \max(|x_i|, \text{rms}(x))$,
#   where $\epsilon_\text{mach}$ is the rounding error of the precision;
# * also computes the two one-sided slopes, recognises a kink,
#   and there accepts any value between the slopes;
# * refines a doubtful entry with a second step (Richardson extrapolation and an error estimate);
# * checks a large input on sampled entries and random directions, so that a cell stays fast;
# * when a check fails, names the input, the entry, both values,
#   and a likely cause (a wrong sign, a factor of 2, a forgotten upstream gradient).
#
# On our four cases, and on one wrong gradient:

# %%
from minigrad.gradcheck import check_gradients  # noqa: E402  (met only now, after our own)

for what, fn, point, analytic in cases:
    result = check_gradients(fn, point, analytic)
    print(f"{what:<24} {'pass' if result.passed else 'FAIL'}")
wrong = check_gradients(g_numpy, {"x": 1.0, "y": 0.0, "z": -2.0}, {"x": 18.0, "y": 6.0, "z": 1.0})
assert not wrong.passed and all(check_gradients(*case[1:]).passed for case in cases)
print()
print(wrong)

# %% [markdown]
# All four right gradients pass,
# and the wrong one ($\partial g / \partial y$ with its sign flipped) fails with a report
# that says where and how.
# From here on the visible tests use `check_gradients`; use it on your own functions too.
#
# ### Exercise 2 (3 points): $g(x, y, z) = [\max(3x, 0) - y]^2 + z$ by hand
#
# Write the forward pass as a program of primitive steps
# ($p = 3x$, $q = \max(p, 0)$, $r = q - y$, $s = r^2$, $t = s + z$)
# and then the backward pass, one line per step, in reverse order.
# Return the value and the three partial derivatives as `(t, dt_dx, dt_dy, dt_dz)`.
#
# * The local derivative of $\max(p, 0)$ is $1$ where $p > 0$ and $0$ where $p < 0$;
#   use $0$ at $p = 0$.
# * Inputs and outputs are Python floats.
# * This exercise asks for the gradient by hand: it is graded with minigrad's autograd switched off.
#
# At the lecture's point, $g(1, 0, -2) = 7$.

# %% nbgrader={"grade": false, "grade_id": "a1-relu-square-by-hand", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_square_forward_backward(x, y, z):
    """g(x, y, z) = (max(3x, 0) - y)^2 + z and its partials, as (g, dg/dx, dg/dy, dg/dz)."""
    ### BEGIN SOLUTION
    p = 3.0 * x
    q = max(p, 0.0)
    r = q - y
    s = r**2
    t = s + z
    t_bar = 1.0
    s_bar = 1.0 * t_bar
    z_bar = 1.0 * t_bar
    r_bar = 2.0 * r * s_bar
    q_bar = 1.0 * r_bar
    y_bar = -1.0 * r_bar
    p_bar = (1.0 if p > 0 else 0.0) * q_bar
    x_bar = 3.0 * p_bar
    return t, x_bar, y_bar, z_bar
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-relu-square-by-hand-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# relu_square_forward_backward: value and all three partials are right on both sides of the ReLU
with autograd_off():  # by hand: minigrad's .backward() raises in here, as in grading
    _out = relu_square_forward_backward(1.0, 0.0, -2.0)
assert len(_out) == 4, f"return (g, dg/dx, dg/dy, dg/dz): 4 numbers, got {len(_out)}"
assert abs(_out[0] - 7.0) < 1e-12, f"g(1, 0, -2) must be 7, got {_out[0]}"
for _point in [(1.0, 0.0, -2.0), (-0.5, 1.5, 0.25)]:
    with autograd_off():
        _t, _dx, _dy, _dz = relu_square_forward_backward(*_point)
    check_gradients(
        lambda x, y, z: (np.maximum(3.0 * x, 0.0) - y) ** 2 + z,
        dict(zip(("x", "y", "z"), _point)),
        {"x": _dx, "y": _dy, "z": _dz},
    ).assert_ok()
print("relu_square_forward_backward: visible tests passed")
### BEGIN HIDDEN TESTS
def g_ref(x, y, z):
    return (np.maximum(3.0 * x, 0.0) - y) ** 2 + z


names = ("g", "dg/dx", "dg/dy", "dg/dz")
with student.autograd_off():
    # hand-picked points on both sides of the ReLU, with literal answers
    for point, want in [
        ((1.0, 0.0, -2.0), (7.0, 18.0, -6.0, 1.0)),
        ((-0.5, 1.5, 0.25), (2.5, 0.0, 3.0, 1.0)),
        ((0.5, 2.0, 1.0), (1.25, -3.0, 1.0, 1.0)),
    ]:
        call = f"relu_square_forward_backward{point}"
        got = numbers(student.relu_square_forward_backward(*point), call, names)
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (
            f"{call}: want ({', '.join(names)}) = {want}, got {got}")
    # random points, away from the kink of the ReLU (3x = 0)
    rng = np.random.default_rng(seed)
    for _ in range(8):
        x, y, z = (float(v) for v in rng.uniform(-2.0, 2.0, size=3))
        if abs(x) < 0.1:
            x += 0.3
        call = f"relu_square_forward_backward at (x, y, z) = ({x:.6g}, {y:.6g}, {z:.6g})"
        t, dx, dy, dz = numbers(student.relu_square_forward_backward(x, y, z), call, names)
        want = g_ref(x, y, z)
        assert abs(t - want) < 1e-10, f"{call}: g must be {want:.10g}, got {t:.10g}"
        gradients_ok(f"{call}, partials (dg/dx, dg/dy, dg/dz) = ({dx:.6g}, {dy:.6g}, {dz:.6g})",
                     g_ref, {"x": x, "y": y, "z": z}, {"x": dx, "y": dy, "z": dz})
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 3 (4 points): the loss of a tiny network, by hand
#
# The lecture's goal was the gradient of
#
# $$L_\text{MLP}(x, y, w_1, b_1, w_2, b_2)
#   = \big[\max(\max(w_1 x + b_1, 0)\, w_2 + b_2,\ 0) - y\big]^2$$
#
# with respect to the four parameters.
# It is a network with one hidden ReLU unit and one ReLU output unit,
# trained with the squared error on a single example $(x, y)$.
# The forward pass has six steps:
# $z_1 = w_1 x + b_1$, $o_1 = \max(z_1, 0)$, $z_2 = w_2 o_1 + b_2$, $o_2 = \max(z_2, 0)$,
# $r = o_2 - y$, $L = r^2$.
#
# Write `mlp_loss_forward_backward(x, y, w1, b1, w2, b2)` returning
# `(L, dL_dw1, dL_db1, dL_dw2, dL_db2)`.
# The rules of exercise 2 apply:
# ReLU derivative $0$ at $0$, floats in and out, graded with autograd off.
# At $(x, y, w_1, b_1, w_2, b_2) = (2, 10, -1, 4, 3, 1)$ the loss is $9$.

# %% nbgrader={"grade": false, "grade_id": "a1-mlp-by-hand", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_loss_forward_backward(x, y, w1, b1, w2, b2):
    """L_MLP and its partials in the parameters, as (L, dL/dw1, dL/db1, dL/dw2, dL/db2)."""
    ### BEGIN SOLUTION
    z1 = w1 * x + b1
    o1 = max(z1, 0.0)
    z2 = w2 * o1 + b2
    o2 = max(z2, 0.0)
    r = o2 - y
    loss = r**2
    r_bar = 2.0 * r
    o2_bar = r_bar
    z2_bar = (1.0 if z2 > 0 else 0.0) * o2_bar
    w2_bar = o1 * z2_bar
    b2_bar = z2_bar
    o1_bar = w2 * z2_bar
    z1_bar = (1.0 if z1 > 0 else 0.0) * o1_bar
    w1_bar = x * z1_bar
    b1_bar = z1_bar
    return loss, w1_bar, b1_bar, w2_bar, b2_bar
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-mlp-by-hand-test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
# mlp_loss_forward_backward: loss and four parameter gradients are right with ReLUs on and off
with autograd_off():  # by hand: minigrad's .backward() raises in here, as in grading
    _out = mlp_loss_forward_backward(2.0, 10.0, -1.0, 4.0, 3.0, 1.0)
assert len(_out) == 5, f"return (L, dL/dw1, dL/db1, dL/dw2, dL/db2): 5 numbers, got {len(_out)}"
assert abs(_out[0] - 9.0) < 1e-12, f"L_MLP(2, 10, -1, 4, 3, 1) must be 9, got {_out[0]}"
for _x, _y, _params in [(2.0, 10.0, (-1.0, 4.0, 3.0, 1.0)), (1.0, 0.0, (2.0, -3.0, 1.0, 0.5))]:
    with autograd_off():
        _loss, *_grads = mlp_loss_forward_backward(_x, _y, *_params)
    check_gradients(
        lambda w1, b1, w2, b2, x=_x, y=_y: (
            np.maximum(w2 * np.maximum(w1 * x + b1, 0.0) + b2, 0.0) - y
        ) ** 2,
        dict(zip(("w1", "b1", "w2", "b2"), _params)),
        dict(zip(("w1", "b1", "w2", "b2"), _grads)),
    ).assert_ok()
print("mlp_loss_forward_backward: visible tests passed")
### BEGIN HIDDEN TESTS
def mlp_ref(w1, b1, w2, b2, x, y):
    return (np.maximum(w2 * np.maximum(w1 * x + b1, 0.0) + b2, 0.0) - y) ** 2


names = ("L", "dL/dw1", "dL/db1", "dL/dw2", "dL/db2")
with student.autograd_off():
    # hand-picked points: both ReLUs on, the output ReLU off, the hidden ReLU off
    for point, want in [
        ((2.0, 10.0, -1.0, 4.0, 3.0, 1.0), (9.0, -36.0, -18.0, -12.0, -6.0)),
        ((1.0, 0.0, 2.0, -3.0, 1.0, 0.5), (0.25, 0.0, 0.0, 0.0, 1.0)),
        ((1.0, 2.0, 1.0, 0.0, -1.0, 0.5), (4.0, 0.0, 0.0, 0.0, 0.0)),
        ((-1.0, 1.0, -2.0, 1.0, 0.5, 2.0), (6.25, -2.5, 2.5, 15.0, 5.0)),
    ]:
        call = f"mlp_loss_forward_backward{point}"
        got = numbers(student.mlp_loss_forward_backward(*point), call, names)
        assert np.allclose(got, want, rtol=1e-12, atol=1e-12), (
            f"{call}: want ({', '.join(names)}) = {want}, got {got}")
    # random points, with both ReLU inputs away from their kink at 0
    rng = np.random.default_rng(seed)
    checked = 0
    while checked < 8:
        x, y, w1, b1, w2, b2 = (float(v) for v in rng.uniform(-2.0, 2.0, size=6))
        z1 = w1 * x + b1
        if abs(z1) < 0.1 or abs(w2 * max(z1, 0.0) + b2) < 0.1:
            continue
        checked += 1
        call = (f"mlp_loss_forward_backward at (x, y, w1, b1, w2, b2) = "
                f"({x:.6g}, {y:.6g}, {w1:.6g}, {b1:.6g}, {w2:.6g}, {b2:.6g})")
        loss, *grads = numbers(
            student.mlp_loss_forward_backward(x, y, w1, b1, w2, b2), call, names)
        want = mlp_ref(w1, b1, w2, b2, x, y)
        assert abs(loss - want) < 1e-10, f"{call}: L must be {want:.10g}, got {loss:.10g}"
        gradients_ok(
            f"{call}, gradients (dL/dw1, dL/db1, dL/dw2, dL/db2) = "
            f"({', '.join(f'{g:.6g}' for g in grads)})",
            lambda w1, b1, w2, b2, x=x, y=y: mlp_ref(w1, b1, w2, b2, x, y),
            {"w1": w1, "b1": b1, "w2": w2, "b2": b2},
            dict(zip(("w1", "b1", "w2", "b2"), grads)),
        )
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Fan-out, the sum over paths, and why backpropagation wins
#
# ### Fan-out
#
# So far every value was used once.
# In $w = x^2 + 3x$ the input $x$ is used three times:
# twice in $u = x \cdot x$ and once in $v = 3x$, and then $w = u + v$.
# There are three paths from $x$ to $w$,
# and the derivative is the *sum* of their path products:
#
# $$\frac{\partial w}{\partial x} = \underbrace{x \cdot 1}_{\text{first factor of } u}
#   + \underbrace{x \cdot 1}_{\text{second factor of } u}
#   + \underbrace{3 \cdot 1}_{\text{through } v} = 2x + 3.$$
#
# In backpropagation each use of $x$ sends its own contribution back,
# and the contributions must be *added* into $\bar x$.
# Overwriting instead of adding (`=` instead of `+=`) is the classic bug of a hand-written engine.

# %%
x = mg.Value(2.0, label="x")
w = x * x + 3 * x
w.label = "w"
w.backward()
print(f"w = {w.data}, dw/dx = {x.grad} (2x + 3 = {2 * x.data + 3})")
draw_graph(w)

# %% [markdown]
# ### The sum over paths
#
# The rule holds for any graph without cycles:
# $\partial\, \text{target} / \partial\, \text{source}$ is the sum,
# over all paths from source to target,
# of the product of the local derivatives along the path.
# (The derivative is linear, so the contributions of the paths superpose.)
#
# To try it on small graphs we store a graph as a dictionary `edges`:
# `edges[u]` is a list of pairs `(v, dv_du)`, one per edge from `u` to a node `v` computed from it,
# holding the local derivative at the current point.
# An input used twice by the same operation gets two edges.
# Here are the two graphs we have met, at $(x, y) = (0, 1)$ and at $x = 2$:

# %%
recip_edges = {
    "x": [("a", -1.0)],
    "a": [("b", 1.0)],  # e^a at a = 0
    "b": [("c", 1.0)],
    "y": [("c", 1.0)],
    "c": [("d", -0.25)],  # -1 / c^2 at c = 2
    "d": [],
}
fan_out_edges = {
    "x": [("u", 2.0), ("u", 2.0), ("v", 3.0)],  # u = x * x uses x twice; v = 3x
    "u": [("w", 1.0)],
    "v": [("w", 1.0)],
    "w": [],
}

# %% [markdown]
# ### Exercise 4 (3 points): the sum over paths
#
# Write `sum_over_paths(edges, source, target)`:
# enumerate every path from `source` to `target`,
# multiply the local derivatives along each path,
# and return the sum of these products as a float.
#
# * A path of length zero (`source == target`) has product $1$.
# * When no path exists the derivative is $0$.
# * Recursion is fine here (these graphs are small).
#   Every path from `source` starts with one of the edges leaving `source`:
#   work out what the paths that start with a given edge contribute, and add up over the edges.
# * Do not change `edges`.

# %% nbgrader={"grade": false, "grade_id": "a1-sum-over-paths", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sum_over_paths(edges, source, target):
    """d target / d source: the sum over all source-to-target paths of their products."""
    ### BEGIN SOLUTION
    if source == target:
        return 1.0
    total = 0.0
    for v, local_derivative in edges.get(source, ()):
        total += local_derivative * sum_over_paths(edges, v, target)
    return total
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-sum-over-paths-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# sum_over_paths: adds the products of all paths, with repeated edges and unreachable targets
_cases = [
    (recip_edges, "x", "d", 0.25),
    (recip_edges, "y", "d", -0.25),
    (recip_edges, "c", "c", 1.0),
    (recip_edges, "d", "x", 0.0),
    (fan_out_edges, "x", "w", 7.0),
]
for _edges, _source, _target, _want in _cases:
    _before = {_node: list(_out) for _node, _out in _edges.items()}
    _got = sum_over_paths(_edges, _source, _target)
    assert abs(_got - _want) < 1e-12, f"d{_target}/d{_source}: want {_want}, got {_got}"
    require("inplace", _edges == _before,
            f"sum_over_paths(edges, {_source!r}, {_target!r}) changed edges: leave the graph "
            "as it was passed")
print("sum_over_paths: visible tests passed")
### BEGIN HIDDEN TESTS
def number(got, call):
    """got as a float; fails with a message when the call returned something else."""
    ok = isinstance(got, (int, float, np.integer, np.floating)) and not isinstance(got, bool)
    ok = ok or (isinstance(got, np.ndarray) and got.shape == () and got.dtype.kind in "iuf")
    shown = repr(got) if len(repr(got)) <= 80 else repr(got)[:77] + "..."
    assert ok, f"{call} must return a number, got {shown}"
    return float(got)


def backprop_ref(edges, target):
    """d target / d node for every node of a DAG given as edges, by memoised recursion."""
    memo = {}

    def bar(node):
        if node not in memo:
            if node == target:
                memo[node] = 1.0
            else:
                memo[node] = float(sum(w * bar(c) for c, w in edges.get(node, ())))
        return memo[node]

    return bar


# a chain of three diamonds, each contributing a*b + c*d: literal answers
diamonds = {}
weights = [(2.0, 0.5, -1.0, 3.0), (1.0, 1.0, 1.0, 1.0), (0.5, 4.0, 2.0, -0.25)]
for i, (a, b, c, d) in enumerate(weights):
    diamonds[f"v{i}"] = [(f"t{i}", a), (f"b{i}", c)]
    diamonds[f"t{i}"] = [(f"v{i + 1}", b)]
    diamonds[f"b{i}"] = [(f"v{i + 1}", d)]
diamonds["v3"] = []
# edges as the kernel holds them after the call: sum_over_paths must not change them
got, (edges_after, *_) = student.sum_over_paths.inputs_after(diamonds, "v0", "v3")
got = number(got, "sum_over_paths(three diamonds, 'v0', 'v3')")
assert abs(got - (-6.0)) < 1e-12, (
    f"sum_over_paths on a chain of three diamonds, dv3/dv0: want -6.0 "
    f"(the product of a*b + c*d over the diamonds), got {got}")
changed = sorted(set(edges_after) ^ set(diamonds)) or [
    node for node in diamonds if edges_after.get(node) != diamonds[node]]
require("inplace", edges_after == diamonds,
        f"sum_over_paths(three diamonds, 'v0', 'v3') changed edges: after the call the "
        f"entries of {', '.join(map(repr, changed[:4])) or 'the dictionary'} differ from "
        f"what was passed; leave the graph as it was passed")
got = number(student.sum_over_paths(diamonds, "t1", "v3"),
             "sum_over_paths(three diamonds, 't1', 'v3')")
assert abs(got - 1.5) < 1e-12, (
    f"sum_over_paths on a chain of three diamonds, dv3/dt1 (a path starting mid-chain): "
    f"want 1.5, got {got}")
got = number(student.sum_over_paths(diamonds, "v3", "v0"),
             "sum_over_paths(three diamonds, 'v3', 'v0')")
assert got == 0.0, (
    f"sum_over_paths from v3 to v0 (no path, the edges point the other way): want 0.0, "
    f"got {got}")
# random DAGs with repeated edges, against a memoised backward sweep
rng = np.random.default_rng(seed)
for graph in range(5):
    n = 9
    edges = {f"n{i}": [] for i in range(n)}
    for i in range(n):
        for j in range(i + 1, n):
            for _ in range(int(rng.integers(0, 2)) + (1 if j == i + 1 else 0)):
                edges[f"n{i}"].append((f"n{j}", float(rng.uniform(-1.5, 1.5))))
    bar = backprop_ref(edges, f"n{n - 1}")
    n_edges = sum(len(out) for out in edges.values())
    for i in range(n):
        want = bar(f"n{i}")
        got = number(student.sum_over_paths(edges, f"n{i}", f"n{n - 1}"),
                     f"sum_over_paths(random DAG {graph + 1}, 'n{i}', 'n8')")
        assert abs(got - want) <= 1e-9 * (1.0 + abs(want)), (
            f"sum_over_paths on random DAG {graph + 1} (nodes n0..n8, {n_edges} edges, "
            f"some repeated), dn8/dn{i}: want {want:.10g}, got {got}")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Write $S(u)$ for the sum over paths from $u$ to the target.
# A path from $u$ is either empty ($u$ is the target: product 1)
# or an edge $u \to v$ followed by a path from $v$;
# its product is $\frac{\partial v}{\partial u}$ times the product of the rest.
# Grouping the paths by their first edge gives
#
# $$S(\text{target}) = 1, \qquad S(u) = \sum_{(v,\ \partial v/\partial u) \in \text{edges}[u]}
#   \frac{\partial v}{\partial u}\, S(v),$$
#
# and $S(u) = 0$ for any other $u$ that no edge leaves (the empty sum).
# Each repeated edge is a separate term, so an input used twice by one operation counts twice.
#
# ```python
# def sum_over_paths(edges, source, target):
#     if source == target:
#         return 1.0
#     total = 0.0
#     for v, local_derivative in edges.get(source, ()):
#         total += local_derivative * sum_over_paths(edges, v, target)
#     return total
# ```
#
# </details>

# %% [markdown]
# ### Sum over paths versus backpropagation on a chain of diamonds
#
# The sum over paths treats the graph as if it were a tree:
# a node reached by several paths is visited once per path.
# A chain of $n$ diamonds has $2^n$ paths from its first to its last node,
# so the sum over paths does $O(2^n)$ work.
#
# Backpropagation visits each node once.
# It sweeps the nodes so that every node comes after all the nodes computed from it,
# and gives each node the sum, over its outgoing edges,
# of the local derivative times the value already stored at the edge's end:
#
# $$\bar u = \sum_{(v,\ \partial v/\partial u) \in \text{edges}[u]}
#   \frac{\partial v}{\partial u}\, \bar v.$$
#
# This is the recursion of the sum over paths (the worked derivation of exercise 4), $\bar u = S(u)$,
# with each $S(v)$ computed once and stored instead of once per path through $v$,
# and it costs $O(\text{nodes} + \text{edges})$.
# Below it is written for our dictionary graphs;
# `reverse_sweep_order` finds the order with a recursive depth-first search.

# %%
def reverse_sweep_order(edges):
    """All nodes of `edges` such that each node comes after every node computed from it."""
    order, seen = [], set()

    def visit(node):
        # a depth-first search: list every node computed from `node` first, then `node`
        if node in seen:
            return
        seen.add(node)
        for v, _ in edges.get(node, ()):
            visit(v)
        order.append(node)

    for node in edges:
        visit(node)
    return order


def backprop_edges(edges, target):
    """d target / d node for every node of `edges`, in one sweep."""
    bar = {}
    for node in reverse_sweep_order(edges):
        if node == target:
            bar[node] = 1.0
        else:
            bar[node] = sum(local * bar[v] for v, local in edges.get(node, ()))
    return bar


print("recip:", backprop_edges(recip_edges, "d"))
print("fan-out:", backprop_edges(fan_out_edges, "w"))


# %% [markdown]
# Now we time both on chains of $n$ diamonds with random local derivatives.

# %%
def diamond_chain(n, seed=0):
    """A chain of n diamonds v_i -> (top_i, bottom_i) -> v_{i+1} with random local derivatives."""
    rng = np.random.default_rng(seed)
    edges = {}
    for i in range(n):
        a, b, c, e = rng.uniform(0.2, 0.8, size=4)
        edges[f"v{i}"] = [(f"top{i}", a), (f"bottom{i}", c)]
        edges[f"top{i}"] = [(f"v{i + 1}", b)]
        edges[f"bottom{i}"] = [(f"v{i + 1}", e)]
    edges[f"v{n}"] = []
    return edges


def best_time(fn, *args, repeats=3):
    """Shortest wall time of `repeats` calls of fn(*args), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


sizes = list(range(2, 17, 2))
paths_seconds, sweep_seconds = [], []
for n in sizes:
    chain = diamond_chain(n)
    by_paths = sum_over_paths(chain, "v0", f"v{n}")
    by_sweep = backprop_edges(chain, f"v{n}")["v0"]
    assert abs(by_paths - by_sweep) <= 1e-9 * abs(by_sweep)
    repeats = 1 if n > 10 else 3
    paths_seconds.append(best_time(sum_over_paths, chain, "v0", f"v{n}", repeats=repeats))
    sweep_seconds.append(best_time(backprop_edges, chain, f"v{n}", repeats=5))

fig, ax = plt.subplots(figsize=(6.5, 4))
ax.semilogy(sizes, paths_seconds, "o-", label="sum over paths")
ax.semilogy(sizes, sweep_seconds, "s-", label="backpropagation (one sweep)")
reference = [paths_seconds[-1] * 2.0 ** (n - sizes[-1]) for n in sizes]
ax.semilogy(sizes, reference, "k:", label=r"$\propto 2^n$")
ax.set_xlabel("number of diamonds $n$")
ax.set_ylabel("seconds (log scale)")
ax.set_title("d(last)/d(first) on a chain of diamonds")
ax.legend()
fig.tight_layout()
print(
    f"n = {sizes[-1]}: {2 ** sizes[-1]} paths, sum over paths {paths_seconds[-1] * 1e3:.1f} ms, "
    f"one sweep {sweep_seconds[-1] * 1e3:.3f} ms"
)
long_seconds = best_time(backprop_edges, diamond_chain(300), "v300")
print(f"one sweep over 300 diamonds: {long_seconds * 1e3:.1f} ms")
assert long_seconds < 0.1
try:
    backprop_edges(diamond_chain(1000), "v1000")
except RecursionError as error:
    print(f"one sweep over 1000 diamonds: RecursionError ({error})")

# %% [markdown]
# On a log scale the sum over paths is a straight line: the time doubles with every diamond.
# The sweep grows linearly and stays tiny:
# it handles 300 diamonds (about $10^{90}$ paths) in well under a tenth of a second
# (the cell prints the time, and its `assert` checks that bound).
#
# A thousand diamonds, though, stop it:
# `visit` calls itself once per node along the chain, 2001 calls deep,
# and Python refuses to nest more than about 1000 calls.
# Graphs from real programs are that deep and deeper;
# in exercise 7 we write the same search with an explicit stack instead of recursion.
#
# ## 4. Copying the chain rule into code: $O(k^2)$ versus $O(k)$
#
# For a chain $f_k(f_{k-1}(\cdots f_1(x)))$ the chain rule reads
#
# $$\frac{d}{dx} f_k(\cdots f_1(x))
#   = f_k'(f_{k-1}(\cdots f_1(x))) \cdot f_{k-1}'(f_{k-2}(\cdots f_1(x))) \cdots f_1'(x).$$
#
# Typed into code literally,
# every factor $f_i'(\cdot)$ evaluates its argument $f_{i-1}(\cdots f_1(x))$ from scratch.
# Factor $i$ costs $i - 1$ calls, so the whole derivative costs about $k^2/2$ calls,
# although the forward pass costs only $k$.

# %%
def chain_derivative_naive(fs, dfs, x):
    """Value and derivative of fs[-1](...fs[0](x)), each chain-rule factor computed from scratch."""
    derivative = 1.0
    for i in range(len(fs)):
        inner = x
        for f in fs[:i]:  # recompute f_i(...f_1(x)) for this factor alone
            inner = f(inner)
        derivative *= dfs[i](inner)
    value = x
    for f in fs:
        value = f(value)
    return value, derivative


steps = [lambda t: 3.0 * t, lambda t: t * t, lambda t: t + 1.0]
step_derivatives = [lambda t: 3.0, lambda t: 2.0 * t, lambda t: 1.0]
chain_derivative_naive(steps, step_derivatives, 2.0)  # 9x^2 + 1 at 2, and its derivative 18x

# %% [markdown]
# ### Exercise 5 (3 points): the chain rule in $O(k)$
#
# Write `chain_derivative(fs, dfs, x)` with the same result as `chain_derivative_naive`:
# the pair `(value, derivative)` of $f_k(\cdots f_1(x))$ at `x`,
# where `fs[i]` is $f_{i+1}$ and `dfs[i]` its derivative.
# Compute each intermediate value once and reuse it:
# the tests count calls and allow at most $4k$ in total (two per function).

# %% nbgrader={"grade": false, "grade_id": "a1-chain-derivative", "locked": false, "schema_version": 3, "solution": true, "task": false}
def chain_derivative(fs, dfs, x):
    """Value and derivative of fs[-1](...fs[0](x)), computing each intermediate value once."""
    ### BEGIN SOLUTION
    value, derivative = x, 1.0
    for f, df in zip(fs, dfs):
        derivative *= df(value)
        value = f(value)
    return value, derivative
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-chain-derivative-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# chain_derivative: right value and derivative, with O(k) calls of the steps and their derivatives
_value, _deriv = chain_derivative(steps, step_derivatives, 2.0)
assert abs(_value - 37.0) < 1e-12 and abs(_deriv - 36.0) < 1e-12, (
    f"9x^2 + 1 at x = 2: want (37, 36), got ({_value}, {_deriv})"
)
_calls = [0]


def _counted(g):
    def _wrapper(t):
        _calls[0] += 1
        return g(t)

    return _wrapper


_k = 60  # alternating steps t + 0.3 sin(t) + 0.5 and 0.98 t + 0.1
_fs = [
    _counted(lambda t: t + 0.3 * np.sin(t) + 0.5) if _i % 2 else _counted(lambda t: 0.98 * t + 0.1)
    for _i in range(_k)
]
_dfs = [
    _counted(lambda t: 1.0 + 0.3 * np.cos(t)) if _i % 2 else _counted(lambda t: 0.98)
    for _i in range(_k)
]
_value, _deriv = chain_derivative(_fs, _dfs, 0.3)
require("method", _calls[0] <= 4 * _k,
        f"chain_derivative on a chain of {_k} steps made {_calls[0]} calls of the steps and "
        f"their derivatives; at most {4 * _k} are allowed: compute each intermediate value "
        "once and reuse it")


def _composed(x):
    for _i in range(_k):
        x = x + 0.3 * np.sin(x) + 0.5 if _i % 2 else 0.98 * x + 0.1
    return x


assert abs(_value - _composed(0.3)) < 1e-10, f"value: want {_composed(0.3)}, got {_value}"
check_gradients(_composed, {"x": 0.3}, {"x": _deriv}).assert_ok()
print("chain_derivative: visible tests passed")
### BEGIN HIDDEN TESTS
# the steps are callables, so they are built in the kernel
literal_chain = student.kernel('''
def literal_chain(chain_derivative, x):
    fs = [lambda t: t * t, lambda t: t - 1.0, lambda t: 2.0 * t]
    dfs = [lambda t: 2.0 * t, lambda t: 1.0, lambda t: 2.0]
    return chain_derivative(fs, dfs, x)
''')
counted_chain = student.kernel('''
def counted_chain(chain_derivative, kinds, scales, x):
    # instrumentation in the kernel: an untrusted hint
    calls = [0]

    def make(kind, scale, derivative):
        def step(t):
            calls[0] += 1
            if kind == 0:
                return 1.0 + scale * np.cos(t) if derivative else t + scale * np.sin(t) + 0.5
            if kind == 1:
                if derivative:
                    return 1.0 + scale * (1.0 - np.tanh(t) ** 2)
                return t + scale * np.tanh(t)
            slope = 0.9 + scale / 2.5
            return slope if derivative else slope * t + 0.5

        return step

    fs = [make(kind, scale, False) for kind, scale in zip(kinds, scales)]
    dfs = [make(kind, scale, True) for kind, scale in zip(kinds, scales)]
    return chain_derivative(fs, dfs, x), calls[0]
''')


def chain_ref(x, kinds, scales):
    for kind, scale in zip(kinds, scales):
        if kind == 0:
            x = x + scale * np.sin(x) + 0.5
        elif kind == 1:
            x = x + scale * np.tanh(x)
        else:
            x = (0.9 + scale / 2.5) * x + 0.5
    return x


PAIR = ("value", "derivative")
# literal answers
call = "chain_derivative([t*t, t - 1, 2t], [2t, 1, 2], 3.0), that is 2(x^2 - 1) at x = 3,"
got = numbers(literal_chain(student.chain_derivative, 3.0), call, PAIR)
assert np.allclose(got, (16.0, 12.0), rtol=1e-12, atol=0), (
    f"{call} must return (16, 12), got {got}")
call = "chain_derivative([], [], 1.5) (an empty chain is the identity)"
got = numbers(student.chain_derivative([], [], 1.5), call, PAIR)
assert got == (1.5, 1.0), f"{call} must return (1.5, 1.0), got {got}"
# random chains of three kinds of step, each with a derivative near 1
rng = np.random.default_rng(seed)
for k in (1, 5, 300):
    kinds = [int(c) for c in rng.integers(0, 3, size=k)]
    scales = [float(s) for s in rng.uniform(0.1, 0.4, size=k)]
    x0 = float(rng.uniform(-1.0, 1.0))
    call = f"chain_derivative on a random chain of {k} step(s) at x = {x0:.6g}"
    result, n_calls = counted_chain(student.chain_derivative, kinds, scales, x0)
    value, deriv = numbers(result, call, PAIR)
    want = chain_ref(x0, kinds, scales)
    assert abs(value - want) <= 1e-10 * (1.0 + abs(want)), (
        f"{call}: the value must be {want:.12g}, got {value:.12g}")
    gradients_ok(f"{call}, derivative {deriv:.10g}",
                 lambda x, kinds=kinds, scales=scales: chain_ref(x, kinds, scales),
                 {"x": x0}, {"x": deriv})
    require("method", n_calls <= 4 * k,
            f"chain_derivative on a chain of {k} steps made {n_calls} calls of the steps "
            f"and their derivatives; at most {4 * k} are allowed: compute each "
            "intermediate value once and reuse it")
### END HIDDEN TESTS

# %% [markdown]
# We count calls and time both versions on chains of $k$ `tanh` steps.

# %%
def tanh_derivative(t):
    return 1.0 - math.tanh(t) ** 2


def counting(g, counter):
    """g, wrapped so that every call adds one to counter[0]."""

    def wrapped(t):
        counter[0] += 1
        return g(t)

    return wrapped


lengths = [8, 16, 32, 64, 128, 256]
naive_calls, linear_calls, naive_seconds, linear_seconds = [], [], [], []
for k in lengths:
    for method, calls in ((chain_derivative_naive, naive_calls), (chain_derivative, linear_calls)):
        counter = [0]
        method([counting(math.tanh, counter)] * k, [counting(tanh_derivative, counter)] * k, 0.5)
        calls.append(counter[0])
    fs, dfs = [math.tanh] * k, [tanh_derivative] * k
    naive_seconds.append(best_time(chain_derivative_naive, fs, dfs, 0.5))
    linear_seconds.append(best_time(chain_derivative, fs, dfs, 0.5))

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
left.loglog(lengths, naive_calls, "o-", label="chain rule copied into code")
left.loglog(lengths, linear_calls, "s-", label="each value computed once")
left.set_xlabel("chain length $k$")
left.set_ylabel("calls of $f_i$ and $f_i'$")
left.set_title("work counted")
left.legend()
right.loglog(lengths, naive_seconds, "o-", label="chain rule copied into code")
right.loglog(lengths, linear_seconds, "s-", label="each value computed once")
quadratic = [naive_seconds[-1] * (k / lengths[-1]) ** 2 for k in lengths]
linear = [linear_seconds[-1] * k / lengths[-1] for k in lengths]
right.loglog(lengths, quadratic, "k:", label=r"$\propto k^2$")
right.loglog(lengths, linear, "k--", label=r"$\propto k$")
right.set_xlabel("chain length $k$")
right.set_ylabel("seconds")
right.set_title("time measured")
right.legend()
fig.tight_layout()

# %% [markdown]
# On log-log axes a power law is a straight line whose slope is the exponent:
# slope 2 for the copied chain rule, slope 1 when every intermediate value is kept.
# Keeping the values of the forward pass is exactly what a computational graph does for us.
#
# ## 5. An engine: nodes that know their local derivatives
#
# We now automate section 2.
# A `Node` holds a float `data`, a float `grad` (the $\bar v$ of the output we will differentiate),
# the tuple `_prev` of nodes it was computed from, a short label `_op`,
# and a function `_backward` with no arguments.
# Each operation creates its output node and gives it a `_backward` *closure*:
# a small function that remembers the operation's inputs and its output
# and, when called, adds `local derivative * out.grad` into each input's `grad`.
#
# Backpropagation then needs two things:
# the closures (exercise 6) and an order to call them in (exercise 7).
#
# Only five operations have their own closure: `+`, `*`, `** number`, `exp` and `relu`.
# Negation, subtraction and division are built from them and need no closure of their own.
#
# ### Exercise 6 (5 points): the local derivatives
#
# Fill in the five `_backward` closures in the class below.
# Inside a closure, `self`, `other` and `out` are the nodes of that one operation.
#
# * Always *add* into `grad` (`+=`), never assign; exercise 8 asks you to explain why.
# * Multiply by `out.grad`, the gradient arriving from above.
# * For `relu`, use local derivative $0$ at $0$.
#
# Each closure is graded on its own, one part per operation.
# The tests build one operation, set `out.grad`,
# give the inputs a `grad` that already holds a contribution from another use,
# and call `out._backward()` once;
# so this exercise does not need exercise 7.
# `Node.backward` at the end of the class calls your `backpropagate` from exercise 7.

# %% nbgrader={"grade": false, "grade_id": "a1-node-local-derivatives", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Node:
    """A scalar in a computational graph: value, gradient, and how to pass gradients back."""

    def __init__(self, data, inputs=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(inputs)
        self._op = op
        self._backward = lambda: None  # a leaf has nothing to pass back

    def __repr__(self):
        return f"Node(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other):
        if not isinstance(other, (Node, int, float)):
            return NotImplemented
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data + other.data, (self, other), "+")

        def _backward():
            ### BEGIN SOLUTION
            self.grad += out.grad
            other.grad += out.grad
            ### END SOLUTION

        out._backward = _backward
        return out

    def __mul__(self, other):
        if not isinstance(other, (Node, int, float)):
            return NotImplemented
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data * other.data, (self, other), "*")

        def _backward():
            ### BEGIN SOLUTION
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad
            ### END SOLUTION

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(
                f"Node ** n: the exponent must be a Python number, got {type(exponent).__name__}"
            )
        out = Node(self.data**exponent, (self,), f"**{exponent}")

        def _backward():
            ### BEGIN SOLUTION
            self.grad += exponent * self.data ** (exponent - 1) * out.grad
            ### END SOLUTION

        out._backward = _backward
        return out

    def exp(self):
        out = Node(math.exp(self.data), (self,), "exp")

        def _backward():
            ### BEGIN SOLUTION
            self.grad += out.data * out.grad
            ### END SOLUTION

        out._backward = _backward
        return out

    def relu(self):
        out = Node(max(self.data, 0.0), (self,), "relu")

        def _backward():
            ### BEGIN SOLUTION
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad
            ### END SOLUTION

        out._backward = _backward
        return out

    # Compositions of the five operations above: no closures of their own.
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * (other if isinstance(other, Node) else Node(other)) ** -1

    def __rtruediv__(self, other):
        return self**-1 * other

    def backward(self):
        """Fill in .grad of every node this one depends on (uses your backpropagate)."""
        backpropagate(self)


# %% [markdown]
# The visible tests of the five parts use this helper.

# %% nbgrader={"grade": false, "grade_id": "a1-node-closure-check", "locked": true, "schema_version": 3, "solution": false, "task": false}
def check_closure(what, build, point, local, upstream=2.0, start=0.5):
    """Run the closure of one operation once and compare its inputs' grads.

    `build` makes the output Node from the input Nodes; `local` holds each input's local
    derivative (summed over its uses). Every input's grad already holds `start`, a
    contribution from another use, and out.grad is `upstream`, so each input must end with
    start + upstream * local.
    """
    leaves = [Node(value) for value in point]
    for leaf in leaves:
        leaf.grad = start
    out = build(*leaves)
    out.grad = upstream
    out._backward()
    got = [leaf.grad for leaf in leaves]
    hint = ""
    if any(np.allclose(got, [upstream * d * k for d in local]) for k in (1.0, 0.5)):
        hint = "The grad the inputs held was replaced: add into grad with +=, never assign with ="
    elif np.allclose(got, [start + d for d in local]):
        hint = "Multiply the local derivative by out.grad, the gradient arriving from above"
    where = (f"a = {point[0]:g}" if len(point) == 1
             else f"(a, b) = ({', '.join(f'{v:g}' for v in point)})")
    expect_close(got, [start + upstream * d for d in local],
                 f"the closure of {what} at {where}, with out.grad = {upstream:g} "
                 f"and the inputs' grad already {start:g}", hint=hint)


# %% nbgrader={"grade": true, "grade_id": "a1-node-local-derivatives-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: addition
# Node.__add__: the closure adds out.grad into both inputs, also when both are the same node
check_closure("a + b", lambda a, b: a + b, (1.5, -0.5), [1.0, 1.0])
check_closure("a + a", lambda a: a + a, (0.7,), [2.0])
check_closure("a + 2.5", lambda a: a + 2.5, (0.7,), [1.0])
print("Node.__add__: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Node, its closure run once
check = closure_check()
rng = np.random.default_rng(seed)
check("a + b", (1.5, -0.5), (1.0, 1.0))
check("a + a", (0.7,), (2.0,))
check("a + 2.5", (0.7,), (1.0,))
for _ in range(3):
    a, b = (float(v) for v in rng.uniform(-2.0, 2.0, size=2))
    start, upstream = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.5, 3.0))
    check("a + b", (a, b), (1.0, 1.0), start, upstream)
    check("a + a", (a,), (2.0,), start, upstream)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-node-mul-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: multiplication
# Node.__mul__: each input gets the other factor times out.grad; x * x gets both
check_closure("a * b", lambda a, b: a * b, (1.5, -0.5), [-0.5, 1.5])
check_closure("a * a", lambda a: a * a, (3.0,), [6.0])
check_closure("a * -1.5", lambda a: a * -1.5, (0.7,), [-1.5])
print("Node.__mul__: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Node, its closure run once
check = closure_check()
rng = np.random.default_rng(seed)
check("a * b", (1.5, -0.5), (-0.5, 1.5))
check("a * a", (3.0,), (6.0,))
check("a * -1.5", (0.7,), (-1.5,))
for _ in range(3):
    a, b = (float(v) for v in rng.uniform(-2.0, 2.0, size=2))
    start, upstream = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.5, 3.0))
    check("a * b", (a, b), (b, a), start, upstream)
    check("a * a", (a,), (2.0 * a,), start, upstream)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-node-pow-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: power
# Node.__pow__: n * a**(n - 1) times out.grad, for integer, negative and fractional n
check_closure("a ** 3", lambda a: a**3, (1.2,), [3 * 1.2**2])
check_closure("a ** -1", lambda a: a**-1, (0.8,), [-1 / 0.8**2])
check_closure("a ** 0.5", lambda a: a**0.5, (2.25,), [0.5 / 1.5])
print("Node.__pow__: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Node, its closure run once
check = closure_check()
rng = np.random.default_rng(seed)
check("a ** 3", (1.2,), (3 * 1.2**2,))
check("a ** -1", (0.8,), (-1 / 0.8**2,))
check("a ** 0.5", (2.25,), (0.5 / 1.5,))
for _ in range(3):
    a = float(rng.uniform(0.3, 2.0))
    n = float(rng.choice([2, 3, -1, -2, 0.5, 1.5]))
    start, upstream = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.5, 3.0))
    check(f"a ** {n:g}", (a,), (n * a ** (n - 1),), start, upstream)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-node-exp-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: exp
# Node.exp: e**a times out.grad
check_closure("a.exp()", lambda a: a.exp(), (0.3,), [math.exp(0.3)])
check_closure("a.exp()", lambda a: a.exp(), (-1.0,), [math.exp(-1.0)])
print("Node.exp: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Node, its closure run once
check = closure_check()
rng = np.random.default_rng(seed)
check("a.exp()", (0.3,), (math.exp(0.3),))
check("a.exp()", (-1.0,), (math.exp(-1.0),))
for _ in range(3):
    a = float(rng.uniform(-2.0, 2.0))
    start, upstream = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.5, 3.0))
    check("a.exp()", (a,), (math.exp(a),), start, upstream)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-node-relu-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: relu
# Node.relu: out.grad passes where a > 0 and nothing where a <= 0
check_closure("a.relu()", lambda a: a.relu(), (0.7,), [1.0])
check_closure("a.relu()", lambda a: a.relu(), (-0.7,), [0.0])
check_closure("a.relu()", lambda a: a.relu(), (0.0,), [0.0])
print("Node.relu: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Node, its closure run once
check = closure_check()
rng = np.random.default_rng(seed)
check("a.relu()", (0.7,), (1.0,))
check("a.relu()", (-0.7,), (0.0,))
check("a.relu()", (0.0,), (0.0,))
for _ in range(4):
    a = float(rng.uniform(-2.0, 2.0))
    start, upstream = float(rng.uniform(-1.0, 1.0)), float(rng.uniform(0.5, 3.0))
    check("a.relu()", (a,), (1.0 if a > 0 else 0.0,), start, upstream)
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 7 (4 points): the order of the backward pass
#
# A closure may only run once its output's `grad` is complete,
# that is, after the closures of *all* nodes computed from that output have run.
# A *topological order* lists every node after all the nodes it was computed from;
# running the closures in the *reverse* of such an order is therefore safe.
#
# Write two functions.
#
# * `topological_order(root)` returns a list with every node that `root` depends on
#   (and `root` itself),
#   each exactly once, every node after all nodes in its `_prev`, so `root` comes last.
#   It must be **iterative**: no recursion.
#   Graphs from real programs are deep, and Python stops recursing at about 1000 calls;
#   the grader runs a 10,000-step chain under Python's default recursion limit.
#
# Start from `reverse_sweep_order` of section 3, the recursive depth-first search,
# and derive its iterative form.
# Two things change: the search follows `_prev` (a node's inputs)
# instead of the edges to the nodes computed from it, so the list comes out in the opposite order;
# and the call stack that Python kept for `visit` becomes a list that you keep.
# Ask yourself what the recursive `visit` still had to do for a node
# when it returned from the visits of that node's inputs,
# and how an entry of your stack can remember it.
# Keep the visited nodes in a `set`
# (a list would make every membership test scan the whole list).
# * `backpropagate(root)` sets `root.grad = 1.0` and calls `_backward()` of every node
#   in reverse topological order.
#
# A node reached along several paths must appear once:
# a duplicate would run its closure twice and double its contribution.
# Like PyTorch and micrograd, gradients accumulate across calls,
# so build a fresh graph (or zero the `grad`s) before calling `backward()` again.
#
# The two functions are graded as two parts.
# Both are tested on graphs made with `Node`'s constructor only,
# whose closures add fixed numbers into their inputs' `grad`s (the helper `constant_graph` below),
# so a mistake in your closures of exercise 6 costs no points here.
# `backpropagate` is tested with a correct order standing in for your `topological_order`,
# so a mistake in the order costs points in its own part only.

# %% nbgrader={"grade": false, "grade_id": "a1-topological-order", "locked": false, "schema_version": 3, "solution": true, "task": false}
def topological_order(root):
    """Every node root depends on, once each, each after the nodes in its _prev; root is last."""
    ### BEGIN SOLUTION
    order, visited = [], set()
    stack = [(root, False)]
    while stack:
        node, inputs_done = stack.pop()
        if inputs_done:
            order.append(node)
        elif id(node) not in visited:
            visited.add(id(node))
            stack.append((node, True))
            for operand in node._prev:
                if id(operand) not in visited:
                    stack.append((operand, False))
    return order
    ### END SOLUTION


def backpropagate(root):
    """Set root.grad to 1 and run every node's _backward in reverse topological order."""
    ### BEGIN SOLUTION
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        node._backward()
    ### END SOLUTION


# %% [markdown]
# The tests of exercise 7 build their graphs with this helper.

# %% nbgrader={"grade": false, "grade_id": "a1-constant-graph", "locked": true, "schema_version": 3, "solution": false, "task": false}
def constant_graph(values, steps):
    """Nodes made with Node's constructor only, for testing the order of the backward pass.

    `values` are the leaves. Each step `(inputs, local)` adds a node computed from the nodes
    at the positions `inputs` (a position may repeat, as in x * x); its closure adds
    `local[i] * out.grad` into input i. Returns the nodes in the order they were made, which
    is a topological order; the last one is the root.
    """
    nodes = [Node(value) for value in values]
    for inputs, local in steps:
        out = Node(0.0, tuple(nodes[i] for i in inputs), "f")

        def _backward(out=out, local=tuple(local)):
            for operand, derivative in zip(out._prev, local):
                operand.grad += derivative * out.grad

        out._backward = _backward
        nodes.append(out)
    return nodes


# w = x*x + 3*x: nodes x, the constant 3, x*x (x in both slots), 3*x and w; local derivatives at x = 2
fan_out_steps = [((0, 0), (2.0, 2.0)), ((1, 0), (2.0, 3.0)), ((2, 3), (1.0, 1.0))]


# %% nbgrader={"grade": true, "grade_id": "a1-topological-order-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Part: topological_order
# topological_order: every node once, after its inputs, the root last; iterative on a deep chain
_nodes = constant_graph([2.0, 3.0], fan_out_steps)
_order = topological_order(_nodes[-1])
_distinct = len({id(_n) for _n in _order})
require("order", len(_order) == 5 and _distinct == 5,
        f"topological_order on x*x + 3*x: want its 5 nodes once each, got a list of "
        f"{len(_order)} with {_distinct} distinct")
require("order", _order[-1] is _nodes[-1],
        "topological_order on x*x + 3*x: the root must come last")
_position = {id(_n): _i for _i, _n in enumerate(_order)}
for _i, _n in enumerate(_order):
    for _c in _n._prev:
        require("order", _position.get(id(_c), len(_order)) < _i,
                f"topological_order on x*x + 3*x: entry {_i} comes before its input "
                "(each node must come after all nodes in its _prev)")
# a chain 3,000 nodes deep: y_1 = f(x), then y_k = f(y_(k-1), x)
_chain = constant_graph([1.5], [((0,), (1.0,))] + [((_k, 0), (0.5, 1.0)) for _k in range(1, 2999)])
try:
    _order, _recursed = topological_order(_chain[-1]), False
except RecursionError:
    _order, _recursed = [], True
require("iterative", not _recursed,
        "topological_order must be iterative: this chain is 3,000 nodes deep and Python stops "
        "recursing at about 1,000 calls; use an explicit stack instead of recursion")
require("order", len(_order) == 3000 and _order[-1] is _chain[-1],
        f"topological_order on a chain 3,000 nodes deep: want its 3000 nodes, the root last, "
        f"got {len(_order)} entries")
print("topological_order: visible tests passed")
### BEGIN HIDDEN TESTS
# graphs made with the student's Node constructor only (no arithmetic, no closure runs), so
# exercise 6 plays no part; topological_order runs under Python's default recursion limit
order_of = student.kernel('''
def order_of(Node, topological_order, values, steps, chain):
    import sys

    nodes = [Node(v) for v in values]
    for inputs in steps:
        nodes.append(Node(0.0, tuple(nodes[i] for i in inputs), "f"))
    for _ in range(chain):
        nodes.append(Node(0.0, (nodes[-1], nodes[0]), "f"))
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(1000)
    try:
        order = topological_order(nodes[-1])
    finally:
        sys.setrecursionlimit(limit)
    if not isinstance(order, (list, tuple)):
        return type(order).__name__
    position = {id(node): k for k, node in enumerate(nodes)}
    return [position.get(id(node), -1) for node in order]
''')


def check_order(what, values, steps, chain=0):
    """The order is every node the root depends on, once each, each after its inputs."""
    call = f"topological_order on {what}"
    prevs = [[] for _ in values] + [list(inputs) for inputs in steps]
    for _ in range(chain):
        prevs.append([len(prevs) - 1, 0])
    root = len(prevs) - 1
    try:
        got = order_of(student.Node, student.topological_order, list(values), steps, chain)
    except StudentError as exc:
        if exc.type_name != "RecursionError":
            raise
        got = None
    require("iterative", got is not None,
            f"topological_order must be iterative: {what} hit Python's recursion limit "
            "(about 1,000 calls); use an explicit stack instead of recursion")
    require("order", isinstance(got, list), f"{call} must return a list of nodes, got {got}")
    require("order", all(k >= 0 for k in got),
            f"{call}: {sum(k < 0 for k in got)} entries are not nodes of the graph")
    require("order", len(set(got)) == len(got),
            f"{call}: every node must appear once, got {len(got)} entries for "
            f"{len(set(got))} distinct nodes (a node listed twice runs its closure twice)")
    require("order", got and got[-1] == root, f"{call}: the root must come last")
    position = {node: k for k, node in enumerate(got)}
    for k, node in enumerate(got):
        for operand in prevs[node]:
            require("order", operand in position,
                    f"{call}: an input of entry {k} is missing (every node the root depends "
                    "on must be listed)")
            require("order", position[operand] < k,
                    f"{call}: entry {k} comes before its input at entry {position[operand]} "
                    "(each node must come after all nodes in its _prev)")
    reached, stack = {root}, [root]
    while stack:
        for operand in prevs[stack.pop()]:
            if operand not in reached:
                reached.add(operand)
                stack.append(operand)
    require("order", set(got) == reached,
            f"{call}: {len(set(got) - reached)} entries are nodes the root does not depend on")


check_order("a chain 10,000 nodes deep", [1.5], [], chain=9_999)
check_order("x*x + 3*x", [-1.25, 3.0], [(0, 0), (1, 0), (2, 3)])
# 20 levels of y <- (y + y) * c: 2**20 paths, 42 nodes
steps = []
for level in range(20):
    y = 0 if level == 0 else 1 + 2 * level
    steps += [(y, y), (2 + 2 * level, 1)]
check_order("20 levels of y <- (y + y) * c (2**20 paths, 42 nodes)", [0.75, 0.5], steps)
# a random graph of 40 nodes on 4 leaves, some of which the root does not depend on
rng = np.random.default_rng(seed)
steps = [tuple(int(i) for i in rng.integers(0, 4 + k, size=2)) for k in range(40)]
check_order("a random graph of 40 nodes with two inputs each, on 4 leaves", [1.0] * 4, steps)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-backpropagate-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: backpropagate
# backpropagate: root.grad = 1, then every closure once, in reverse order; fan-out adds up
# The order the graph was made in stands in for your topological_order here,
# so a mistake in the order costs points in its own part only.
_nodes = constant_graph([2.0, 3.0], fan_out_steps)


def _made_order(root):
    return list(_nodes)


_yours, topological_order = topological_order, _made_order
try:
    backpropagate(_nodes[-1])
finally:
    topological_order = _yours
expect_close(_nodes[-1].grad, 1.0, "backpropagate(w) on w = x*x + 3*x: w.grad, set to 1.0 first")
expect_close(_nodes[0].grad, 7.0, "backpropagate(w) on w = x*x + 3*x at x = 2: x.grad = 2x + 3")
print("backpropagate: visible tests passed")
### BEGIN HIDDEN TESTS
# graphs made with the student's Node constructor only, each closure adding fixed local
# derivatives (data); the order the nodes were made in stands in for the notebook's
# topological_order, so a mistake there costs points once
run_backprop = student.kernel('''
def run_backprop(Node, backpropagate, values, steps):
    nodes = [Node(v) for v in values]
    for inputs, local in steps:
        out = Node(0.0, tuple(nodes[i] for i in inputs), "f")

        def _backward(out=out, local=tuple(local)):
            for operand, derivative in zip(out._prev, local):
                operand.grad += derivative * out.grad

        out._backward = _backward
        nodes.append(out)
    names = getattr(backpropagate, "__globals__", {})
    saved = names.get("topological_order")
    names["topological_order"] = lambda root: list(nodes)
    try:
        backpropagate(nodes[-1])
    finally:
        if saved is not None:
            names["topological_order"] = saved
    return [float(node.grad) for node in nodes]
''')


def check_backprop(what, values, steps, leaves):
    """Every node's grad after backpropagate(root), against a sweep in the judge."""
    want = [0.0] * (len(values) + len(steps))
    want[-1] = 1.0
    for k in reversed(range(len(steps))):
        inputs, local = steps[k]
        for operand, derivative in zip(inputs, local):
            want[operand] += derivative * want[len(values) + k]
    got = run_backprop(student.Node, student.backpropagate, list(values), steps)
    require("value", isinstance(got, list) and len(got) == len(want),
            f"backpropagate on {what}: the graph came back broken")
    expect_close(got[-1], 1.0, f"backpropagate(root) on {what}: root.grad, set to 1.0 first")
    expect_close(got[:len(leaves)], want[:len(leaves)],
                 f"backpropagate on {what}: the grads of ({', '.join(leaves)})",
                 rtol=1e-10, atol=1e-12)
    expect_close(got, want, f"backpropagate on {what}: the grads of all {len(want)} nodes "
                 "(in the order they were made, the root last)", rtol=1e-10, atol=1e-12)


x = -1.25
check_backprop("w = x*x + 3*x at x = -1.25", [x, 3.0],
               [((0, 0), (x, x)), ((1, 0), (x, 3.0)), ((2, 3), (1.0, 1.0))], ["x", "3"])
steps = []
for level in range(20):
    y = 0 if level == 0 else 1 + 2 * level
    steps += [((y, y), (1.0, 1.0)), ((2 + 2 * level, 1), (0.5, 0.75))]
check_backprop("20 levels of y <- (y + y) * 0.5 (2**20 paths)", [0.75, 0.5], steps, ["x", "0.5"])
rng = np.random.default_rng(seed)
steps = []
for k in range(30):
    other = int(rng.integers(0, 4 + k))
    steps.append(((3 + k, other), tuple(float(v) for v in rng.uniform(-1.5, 1.5, size=2))))
check_backprop("a random graph of 30 nodes with fan-out, on 4 leaves", [1.0] * 4, steps,
               ["a", "b", "c", "d"])
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# The recursive `visit(node)` does two things for a node, with a pause between them:
# it *enters* the node (marks it seen and calls `visit` on each input),
# and, once all those calls have returned, it *leaves* the node (appends it to the order).
# Python's call stack remembers, for each unfinished call, that the leaving is still to come.
# An explicit stack has to remember the same thing, so each entry is a pair `(node, inputs_done)`:
#
# * pop `(node, False)`: if the node was seen, skip it;
#   otherwise mark it seen, push `(node, True)` (the leaving, to run later),
#   then push `(operand, False)` for each input not yet seen;
# * pop `(node, True)`: every input pushed after it has been popped and listed, so append the node.
#
# The stack is last in, first out, so `(node, True)` comes back only after all its inputs.
# The order is the same kind of depth-first order as the recursive search gives,
# and the memory it needs is a Python list, which can grow to millions of entries.
#
# ```python
# def topological_order(root):
#     order, visited = [], set()
#     stack = [(root, False)]
#     while stack:
#         node, inputs_done = stack.pop()
#         if inputs_done:
#             order.append(node)
#         elif id(node) not in visited:
#             visited.add(id(node))
#             stack.append((node, True))
#             for operand in node._prev:
#                 if id(operand) not in visited:
#                     stack.append((operand, False))
#     return order
# ```
#
# </details>

# %% [markdown]
# With exercises 6 and 7 in place, `Node` computes what we derived by hand in section 2.
# `minigrad.Value` is built the same way; we compare the two on the lecture network
# and draw minigrad's graph, with the gradient of every node after the backward pass.
# The drawing reads from the top, where the inputs and parameters are, down to the loss;
# the parameters' gradients are those of exercise 3 at the same point.

# %%
point = (2.0, 10.0, -1.0, 4.0, 3.0, 1.0)
names = ("x", "y", "w1", "b1", "w2", "b2")
ours = [Node(v) for v in point]
theirs = [mg.Value(v, label=name) for v, name in zip(point, names)]
loss_ours = mlp_loss_program(*ours)
loss_theirs = mlp_loss_program(*theirs)
loss_ours.backward()
loss_theirs.backward()
print(f"loss: Node {loss_ours.data}, minigrad {loss_theirs.data}")
for name, a, b in zip(names, ours, theirs):
    print(f"dL/d{name:<3}  Node {a.grad:7.2f}   minigrad {b.grad:7.2f}")
draw_graph(loss_theirs)

# %% [markdown]
# ### Exercise 8 (3 points): why `+=`, in writing
#
# Answer in a few sentences in the cell below; it is graded by hand.
# Take $w = x \cdot x + 3x$ at $x = 2$, built from `Node`s, and its backward pass.
#
# 1. Which closures send a contribution into `x.grad`, and how much does each send?
# 2. Suppose every closure assigned with `=` instead of adding with `+=`.
#    What could `x.grad` end up as, and why does the answer depend on the order
#    in which a reverse topological order happens to run the closures?
# 3. Why does `x * x` need `+=` even though a single closure handles it?

# %% [markdown] nbgrader={"grade": true, "grade_id": "a1-why-add-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false} rubric=[{"points": 1, "criterion": "Lists the three contributions: 2 and 2 from the two slots of x * x (each the other factor, x = 2, times out.grad = 1) and 3 from 3 * x, adding up to 7 = 2x + 3."}, {"points": 1, "criterion": "With = each closure overwrites what earlier ones wrote, so x.grad is the last contribution written: 3 if the closure of 3 * x runs last, 2 if that of x * x does. A reverse topological order only puts both after the closure of w; it does not fix which of the two runs first."}, {"points": 1, "criterion": "In x * x, self and other are the same node, so the closure's second line overwrites its first: x * x alone would give x instead of 2x."}]
# Three contributions reach `x.grad`:
# the closure of `x * x` sends `other.data * out.grad = 2` for its first slot
# and `self.data * out.grad = 2` for its second,
# and the closure of `3 * x` sends `3 * out.grad = 3`;
# their sum, 7, is $2x + 3$.
# With `=`, each closure replaces what the earlier ones wrote,
# so `x.grad` ends as the last contribution alone:
# 3 if the closure of `3 * x` runs last, 2 if that of `x * x` does.
# Both closures run after the closure of `w`, as any reverse topological order requires,
# but nothing fixes which of the two comes first, so the wrong answer even depends on the order.
# Inside `x * x`, `self` and `other` are the same node:
# the closure's second line would overwrite its first, and `x * x` alone would give $x$ instead of $2x$.

# %% [markdown]
# ## 6. Forward mode with dual numbers
#
# Backpropagation fixes one *output* and computes its derivative with respect to every node.
# Forward mode fixes one *input* $x_i$ and carries, next to every value $v$,
# its derivative $\dot v = \partial v / \partial x_i$, computed in the same pass as the value.
#
# A neat way to carry the pair is a *dual number* $v + \dot v\,\varepsilon$,
# where $\varepsilon$ is a symbol with the single rule $\varepsilon^2 = 0$.
# We compute with it as with any polynomial in $\varepsilon$ and drop every $\varepsilon^2$ term.
# The sum is the simplest case:
#
# $$(a + \dot a \varepsilon) + (b + \dot b \varepsilon) = (a + b) + (\dot a + \dot b)\,\varepsilon,$$
#
# and the $\varepsilon$ part of the result is the derivative of $a + b$.
# Arithmetic on dual numbers applies the chain rule by itself.
#
# To get $\partial f / \partial x_i$ we evaluate $f$ once with $x_i + 1\varepsilon$
# and every other input $x_j + 0\varepsilon$,
# and read the $\varepsilon$ part of the result.
# For a function with several outputs, that one pass gives $\partial f_k / \partial x_i$ for every output $k$:
# column $i$ of the Jacobian, the Jacobian times the unit vector $e_i$.
# Such a product of a Jacobian with a vector is a *Jacobian-vector product* (JVP),
# so forward mode with dual numbers computes one JVP per input.
# Assignment 2 computes JVPs of whole layers at once
# (see its [notation sheet](../a2_vectorized/a2_vectorized.ipynb#Notation)).
#
# ### Exercise 9 (4 points): dual numbers
#
# Derive the product, the quotient and $e^{a + \dot a \varepsilon}$ of dual numbers
# (expand, and use $\varepsilon^2 = 0$; for the quotient, multiply by the inverse of $b + \dot b \varepsilon$,
# and for `exp`, use the Taylor series of $e^x$ around $a$).
# Then complete `Dual` (multiplication, division, `exp`) and write `forward_partials(f, args)`,
# which returns `(value, partials)`:
# the float $f(\text{args})$ and the tuple of its partial derivatives,
# one forward pass per input.
# Addition, subtraction, powers and `relu` are given as examples.
# This exercise is graded with minigrad's autograd switched off, in two parts:
# `Dual`, and `forward_partials`.
# The functions that test `forward_partials` use only the operations given above,
# so a mistake in your multiplication, division or `exp` costs points in the `Dual` part only.

# %% nbgrader={"grade": false, "grade_id": "a1-dual-numbers", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Dual:
    """A dual number val + dot * eps with eps**2 = 0: a value and its derivative along one input."""

    def __init__(self, val, dot=0.0):
        self.val = float(val)
        self.dot = float(dot)

    def __repr__(self):
        return f"Dual(val={self.val:.6g}, dot={self.dot:.6g})"

    @staticmethod
    def lift(other):
        """A Python number c becomes the constant c + 0 eps."""
        return other if isinstance(other, Dual) else Dual(other, 0.0)

    def __add__(self, other):
        other = Dual.lift(other)
        return Dual(self.val + other.val, self.dot + other.dot)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.val, -self.dot)

    def __sub__(self, other):
        return self + (-Dual.lift(other))

    def __rsub__(self, other):
        return Dual.lift(other) - self

    def __pow__(self, n):
        return Dual(self.val**n, n * self.val ** (n - 1) * self.dot)

    def relu(self):
        return Dual(max(self.val, 0.0), self.dot if self.val > 0 else 0.0)

    def __mul__(self, other):
        other = Dual.lift(other)
        ### BEGIN SOLUTION
        return Dual(self.val * other.val, self.val * other.dot + self.dot * other.val)
        ### END SOLUTION

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Dual.lift(other)
        ### BEGIN SOLUTION
        dot = (self.dot * other.val - self.val * other.dot) / other.val**2
        return Dual(self.val / other.val, dot)
        ### END SOLUTION

    def __rtruediv__(self, other):
        return Dual.lift(other) / self

    def exp(self):
        ### BEGIN SOLUTION
        e = math.exp(self.val)
        return Dual(e, e * self.dot)
        ### END SOLUTION


def forward_partials(f, args):
    """f(*args) as a float and the tuple of its partials, by one forward pass per input."""
    ### BEGIN SOLUTION
    value, partials = None, []
    for i in range(len(args)):
        duals = [Dual(a, 1.0 if j == i else 0.0) for j, a in enumerate(args)]
        out = Dual.lift(f(*duals))
        value = out.val
        partials.append(out.dot)
    return value, tuple(partials)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a1-dual-numbers-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: Dual
# Dual: the eps parts follow the product, quotient and exp rules
with autograd_off():  # graded with minigrad's .backward() raising, as here
    _cases = [
        ("Dual(2, 1) * Dual(3, 0.5)", Dual(2.0, 1.0) * Dual(3.0, 0.5), (6.0, 4.0)),
        ("3 * Dual(2, 1)", 3 * Dual(2.0, 1.0), (6.0, 3.0)),
        ("Dual(1, 1) / Dual(2, 0)", Dual(1.0, 1.0) / Dual(2.0, 0.0), (0.5, 0.5)),
        ("Dual(1, 0) / Dual(2, 1)", Dual(1.0, 0.0) / Dual(2.0, 1.0), (0.5, -0.25)),
        ("Dual(0, 2).exp()", Dual(0.0, 2.0).exp(), (1.0, 2.0)),
    ]
for _what, _got, _want in _cases:
    require("value", isinstance(_got, Dual), f"{_what} must be a Dual, got {_got!r}")
    expect_close([_got.val, _got.dot], _want, f"{_what} as (val, dot)")
print("Dual: visible tests passed")
### BEGIN HIDDEN TESTS
# one operation on the student's Dual; the fixture only calls it
dual = student.kernel('''
def dual(Dual, expression, a, b):
    out = eval(expression, {}, {"a": Dual(*a), "b": Dual(*b)})
    if not isinstance(out, Dual):
        return type(out).__name__
    return [float(out.val), float(out.dot)]
''')


def check(expression, a, b, want):
    """`expression` on a = Dual(*a) and b = Dual(*b) must be Dual(*want)."""
    text = expression.replace("a", f"Dual({a[0]:.6g}, {a[1]:.6g})", 1)
    text = text.replace("b", f"Dual({b[0]:.6g}, {b[1]:.6g})", 1)
    got = dual(student.Dual, expression, list(a), list(b))
    require("value", isinstance(got, list), f"{text} must be a Dual, got {got}")
    expect_close(got, want, f"{text} as (val, dot)", rtol=1e-10, atol=1e-12)


def answers(a, b):
    """(expression, Dual(val, dot) it must give) for the operations of the exercise."""
    (u, du), (v, dv) = a, b
    return [
        ("a * b", (u * v, u * dv + du * v)),
        ("a * 3.0", (3.0 * u, 3.0 * du)),
        ("3.0 * a", (3.0 * u, 3.0 * du)),
        ("a / b", (u / v, (du * v - u * dv) / v**2)),
        ("a / 4.0", (u / 4.0, du / 4.0)),
        ("2.0 / a", (2.0 / u, -2.0 * du / u**2)),
        ("a.exp()", (math.exp(u), math.exp(u) * du)),
    ]


with student.autograd_off():
    for expression, want in answers((2.0, 1.0), (3.0, 0.5)):
        check(expression, (2.0, 1.0), (3.0, 0.5), want)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        a = tuple(float(v) for v in rng.uniform(0.5, 2.0, size=2) * rng.choice([-1, 1], 2))
        b = tuple(float(v) for v in rng.uniform(0.5, 2.0, size=2) * rng.choice([-1, 1], 2))
        for expression, want in answers(a, b):
            check(expression, a, b, want)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a1-forward-partials-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: forward_partials
# forward_partials: the value and one partial per input, from one forward pass per input
# (these functions use only the operations Dual is given, not your *, / or exp)
def _four_xy(x, y):
    return (x + y) ** 2 - (x - y) ** 2  # 4xy


def _cubic(x, y, z):
    return (x + y + y) ** 3 - z**2 + (x - z).relu()


for _f, _what, _point, _want_value, _want_partials in [
    (_four_xy, "(x + y)**2 - (x - y)**2", (0.5, 2.0), 4.0, (8.0, 2.0)),
    (_cubic, "(x + 2y)**3 - z**2 + relu(x - z)", (1.0, 0.5, -2.0), 7.0, (13.0, 24.0, 3.0)),
]:
    with autograd_off():
        _value, _partials = forward_partials(_f, _point)
    expect_close(_value, _want_value, f"forward_partials({_what}, {_point}): the value")
    expect_close(_partials, _want_partials, f"forward_partials({_what}, {_point}): the partials")
print("forward_partials: visible tests passed")
### BEGIN HIDDEN TESTS
# the functions handed to forward_partials are built in the kernel; they use only the
# operations Dual is given (+, -, ** number, relu), so the student's *, / and exp play no part
four_xy = student.kernel('''
def four_xy(x, y):
    return (x + y) ** 2 - (x - y) ** 2
''')
cubic = student.kernel('''
def cubic(x, y, z):
    return (x + y + y) ** 3 - z**2 + (x - z).relu()
''')
inverse = student.kernel('''
def inverse(x, y):
    return (y + x**2) ** -1
''')
square = student.kernel('''
def square(x, y):
    return x**2 + 1.0
''')
one_input = student.kernel('''
def one_input(x):
    return (x - 1.0) ** 2
''')
neighbours = student.kernel('''
def neighbours(a, b, c, d, e):
    return (a - b) ** 2 + (b - c) ** 2 + (c - d) ** 2 + (d - e) ** 2
''')


def cubic_ref(x, y, z):
    return (x + 2.0 * y) ** 3 - z**2 + np.maximum(x - z, 0.0)


def neighbours_ref(a, b, c, d, e):
    return (a - b) ** 2 + (b - c) ** 2 + (c - d) ** 2 + (d - e) ** 2


def value_and_partials(f, point, call):
    """forward_partials(f, point) as (float, tuple of floats); fails with a message if not."""
    want = f"{call} must return the pair (value, partials), a float and a tuple of floats"
    try:
        got = student.forward_partials(f, list(point))
    except StudentError as exc:  # e.g. a Dual left in the answer, named by the kernel
        if "not plain data" not in exc.message:
            raise
        raise AssertionError(f"{want}; it {exc.message}") from None
    ok = type(got) in (tuple, list) and len(got) == 2 and type(got[1]) in (tuple, list)
    ok = ok and all(isinstance(v, (int, float, np.integer, np.floating))
                    and not isinstance(v, bool) for v in (got[0], *got[1]))
    require("value", ok, f"{want}, got {' '.join(repr(got).split())[:120]}")
    return float(got[0]), tuple(float(p) for p in got[1])


with student.autograd_off():
    # literal answers, including an input the function does not use and a single input
    for f, what, point, want_value, want_partials in [
        (four_xy, "(x + y)**2 - (x - y)**2", (0.5, 2.0), 4.0, (8.0, 2.0)),
        (cubic, "(x + 2y)**3 - z**2 + relu(x - z)", (1.0, 0.5, -2.0), 7.0, (13.0, 24.0, 3.0)),
        (inverse, "(y + x**2)**-1", (1.0, 1.0), 0.5, (-0.5, -0.25)),
        (square, "x**2 + 1 (y unused)", (3.0, -1.0), 10.0, (6.0, 0.0)),
        (one_input, "(x - 1)**2", (2.5,), 2.25, (3.0,)),
    ]:
        call = f"forward_partials({what}, {point})"
        value, partials = value_and_partials(f, point, call)
        expect_close(value, want_value, f"{call}: the value", rtol=1e-12, atol=1e-12)
        expect_close(partials, want_partials, f"{call}: the partials (one per input)",
                     rtol=1e-12, atol=1e-12)
    # random points, against finite differences of judge-side references
    rng = np.random.default_rng(seed)
    for _ in range(3):
        p = [float(v) for v in rng.uniform(-1.0, 1.0, size=3)]
        if abs(p[0] - p[2]) < 0.1:
            p[0] += 0.3  # keep relu(x - z) away from its kink
        call = f"forward_partials((x + 2y)**3 - z**2 + relu(x - z), {tuple(round(v, 6) for v in p)})"
        value, partials = value_and_partials(cubic, p, call)
        expect_close(value, cubic_ref(*p), f"{call}: the value", rtol=1e-10, atol=1e-12)
        expect_close(len(partials), 3, f"{call}: the number of partials (one per input)")
        gradients_ok(f"{call}, partials {tuple(round(v, 10) for v in partials)}",
                     cubic_ref, dict(zip("xyz", p)), dict(zip("xyz", partials)))
        q = [float(v) for v in rng.uniform(-2.0, 2.0, size=5)]
        call = f"forward_partials of a sum of 4 squared differences at {tuple(round(v, 6) for v in q)}"
        value, partials = value_and_partials(neighbours, q, call)
        expect_close(value, neighbours_ref(*q), f"{call}: the value", rtol=1e-10, atol=1e-12)
        expect_close(len(partials), 5, f"{call}: the number of partials (one per input)")
        gradients_ok(f"{call}, partials {tuple(round(v, 10) for v in partials)}",
                     neighbours_ref, dict(zip("abcde", q)), dict(zip("abcde", partials)))
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Expanding and dropping $\varepsilon^2$:
#
# $$(a + \dot a \varepsilon)(b + \dot b \varepsilon) = ab + (a \dot b + \dot a b)\,\varepsilon + \dot a \dot b\,\varepsilon^2
#   = ab + (a \dot b + \dot a b)\,\varepsilon.$$
#
# The inverse of $b + \dot b \varepsilon$ is $\frac{1}{b} - \frac{\dot b}{b^2}\varepsilon$,
# since their product is $1 - \frac{\dot b^2}{b^2}\varepsilon^2 = 1$; multiplying by it gives
#
# $$\frac{a + \dot a \varepsilon}{b + \dot b \varepsilon} = \frac{a}{b} + \frac{\dot a b - a \dot b}{b^2}\,\varepsilon.$$
#
# The Taylor series of $e^x$ around $a$, at $x = a + \dot a \varepsilon$, keeps only its first two terms:
# $e^{a + \dot a \varepsilon} = e^a + e^a \dot a\,\varepsilon$.
# The same argument gives $\varphi(a + \dot a \varepsilon) = \varphi(a) + \varphi'(a)\,\dot a\,\varepsilon$ for any smooth $\varphi$:
# the chain rule, one step at a time.
#
# </details>

# %% [markdown]
# ### Exercise 10 (2 points): forward or reverse, counted
#
# Take a function $f: \mathbb{R}^{1000} \to \mathbb{R}^{10}$ made of the operations above,
# and suppose we want its whole $10 \times 1000$ Jacobian.
# How many forward-mode passes with dual numbers (as in `forward_partials`) does that take,
# and how many backward sweeps of reverse mode (each after its forward pass)?
# Assign the two whole numbers to `jacobian_forward_passes` and `jacobian_reverse_sweeps`.

# %% nbgrader={"grade": false, "grade_id": "a1-passes-answer", "locked": false, "schema_version": 3, "solution": true, "task": false}
# f: R^1000 -> R^10, its whole 10 x 1000 Jacobian: assign two whole numbers to
# jacobian_forward_passes and jacobian_reverse_sweeps
jacobian_forward_passes = jacobian_reverse_sweeps = None
### BEGIN SOLUTION
jacobian_forward_passes = 1000
jacobian_reverse_sweeps = 10
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a1-passes-answer-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# the number of forward-mode passes and of reverse-mode sweeps for the Jacobian of f: R^1000 -> R^10
for _name, _value in [("jacobian_forward_passes", jacobian_forward_passes),
                      ("jacobian_reverse_sweeps", jacobian_reverse_sweeps)]:
    require("value", isinstance(_value, int) and not isinstance(_value, bool) and _value > 0,
            f"{_name} must be a positive whole number, got {_value!r}")
print("passes: two numbers recorded (the grader checks their values)")
### BEGIN HIDDEN TESTS
names = ("jacobian_forward_passes", "jacobian_reverse_sweeps")
forward, reverse = numbers([getattr(student, name).value() for name in names],
                           "the two pass counts", names)
hint = ""
if (forward, reverse) == (10.0, 1000.0):
    hint = (": the two are swapped; a forward pass follows one input, a backward sweep "
            "starts from one output")
require("value", forward == 1000,
        f"jacobian_forward_passes for f: R^1000 -> R^10: one dual-number pass gives the "
        f"derivatives along one input (one column of the Jacobian); got {forward:g}{hint}")
require("value", reverse == 10,
        f"jacobian_reverse_sweeps for f: R^1000 -> R^10: one backward sweep gives the "
        f"derivatives of one output (one row of the Jacobian); got {reverse:g}{hint}")
### END HIDDEN TESTS

# %% [markdown]
# ### Forward or reverse?
#
# Forward mode needs one pass per *input*: each pass gives one column of the Jacobian.
# Reverse mode needs one backward sweep per *output*: each sweep gives one row.
# A training loss has one output and as many inputs as the model has parameters,
# which is why deep learning uses reverse mode.
# We measure it on $f(x_1, \dots, x_n) = \sum_i x_i x_{i+1}$ with $n = 100$ inputs,
# and we time the backward sweep against the forward pass it follows
# on a longer sum, $n = 2000$, where each takes long enough to time.
# (Forward mode pays off for functions with few inputs and many outputs.)

# %%
def neighbour_products(*xs):
    total = 0.0
    for a, b in zip(xs[:-1], xs[1:]):
        total = total + a * b
    return total


inputs = [float(v) for v in np.random.default_rng(0).uniform(-1.0, 1.0, size=100)]
start = time.perf_counter()
_, forward_grads = forward_partials(neighbour_products, inputs)
forward_seconds = time.perf_counter() - start

start = time.perf_counter()
leaves = [mg.Value(v) for v in inputs]
neighbour_products(*leaves).backward()
reverse_seconds = time.perf_counter() - start

assert np.allclose(forward_grads, [leaf.grad for leaf in leaves])
print(f"forward mode: {len(inputs)} passes, {forward_seconds * 1e3:.1f} ms")
print(f"reverse mode: 1 forward pass + 1 backward sweep, {reverse_seconds * 1e3:.1f} ms")

long_inputs = [float(v) for v in np.random.default_rng(1).uniform(-1.0, 1.0, size=2000)]
best_forward = best_backward = float("inf")
for _ in range(5):
    leaves = [mg.Value(v) for v in long_inputs]
    start = time.perf_counter()
    total = neighbour_products(*leaves)
    middle = time.perf_counter()
    total.backward()
    best_forward = min(best_forward, middle - start)
    best_backward = min(best_backward, time.perf_counter() - middle)
ratio = best_backward / best_forward
print(f"n = 2000: forward pass {best_forward * 1e3:.1f} ms, backward sweep {best_backward * 1e3:.1f} ms, "
      f"backward / forward = {ratio:.2f}")
assert 0.3 < ratio < 3.0

# %% [markdown]
# On minigrad's scalars the backward sweep costs about as much as the forward pass
# (the ratio printed above; the cell's `assert` keeps it between 0.3 and 3).
# Here the forward pass pays for building the graph, one Python object per node,
# and the sweep for one closure call per node.
# On matrix layers the balance differs:
# the backward pass of `x @ W` needs two matrix products, for the forward pass's one,
# and assignment 3 measures a backward pass of about two forward passes there.
# Either way the multiple is a constant, independent of the number of inputs.

# %% [markdown]
# ## 7. Numerical, symbolic and automatic differentiation
#
# There are three ways to get derivatives out of a computer.
#
# * **Numerical**: finite differences such as $\frac{f(x + h) - f(x - h)}{2h}$ (section 2).
#   It only needs a way to evaluate $f$,
#   but it is approximate and costs one or two evaluations of $f$ per input.
# * **Symbolic**: rewrite the formula with the rules of calculus.
#   The result is exact and readable,
#   but the formula can grow much faster than the program.
# * **Automatic**: apply the chain rule to the program's primitive steps.
#   It is exact up to rounding and costs a small multiple of evaluating $f$,
#   but it needs the program's steps (a graph or a trace).
#
# ### Numerical: the step size trade-off
#
# The one-sided difference $\frac{f(x+h) - f(x)}{h}$ has a truncation error of about $\frac{h}{2}|f''|$,
# and the central difference $\frac{f(x+h) - f(x-h)}{2h}$ one of about $\frac{h^2}{6}|f'''|$.
# Both also divide rounding errors of size about $\epsilon_\text{mach} |f|$ by $h$,
# where $\epsilon_\text{mach} \approx 10^{-16}$ is the rounding error of float64.
# A smaller step is therefore not always better.
# We measure the error on $\partial f / \partial x$ of $f(x, y) = 1 / (y + e^{-x})$ at $(0.5, 1)$,
# where the exact value is $e^{-x} / (y + e^{-x})^2$.

# %%
x0, y0 = 0.5, 1.0


def f_of_x(x):
    return 1.0 / (y0 + math.exp(-x))


exact = math.exp(-x0) / (y0 + math.exp(-x0)) ** 2
hs = np.logspace(-15, -1, 57)
one_sided_error = np.array([abs((f_of_x(x0 + h) - f_of_x(x0)) / h - exact) for h in hs])
central_error = np.array([abs((f_of_x(x0 + h) - f_of_x(x0 - h)) / (2 * h) - exact) for h in hs])
x_value = mg.Value(x0)
recip_program(x_value, mg.Value(y0)).backward()
autodiff_error = abs(x_value.grad - exact)

floor = 1e-17  # log axes cannot show an error of exactly zero: we draw it at this level
fig, ax = plt.subplots(figsize=(6.5, 4.2))
ax.loglog(hs, np.maximum(one_sided_error, floor), "o-", ms=3, label="one-sided difference")
ax.loglog(hs, np.maximum(central_error, floor), "s-", ms=3, label="central difference")
ax.axhline(
    max(autodiff_error, floor), color="tab:green", lw=2,
    label=f"automatic (backprop): error {autodiff_error:.0e}",
)
ax.loglog(hs, 1e-16 / hs, ":", color="gray", label=r"rounding $\approx \epsilon_\mathrm{mach} / h$")
ax.set_ylim(floor / 3, 1.0)
ax.set_xlabel("step $h$")
ax.set_ylabel("absolute error of df/dx")
ax.set_title("finite differences: error against step size")
ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
one_sided_digits = -math.log10(one_sided_error.min() / exact)
central_digits = -math.log10(central_error.min() / exact)
print(f"best one-sided step {hs[one_sided_error.argmin()]:.0e}: error {one_sided_error.min():.1e}, "
      f"{one_sided_digits:.1f} correct digits")
print(f"best central step {hs[central_error.argmin()]:.0e}: error {central_error.min():.1e}, "
      f"{central_digits:.1f} correct digits")
print(f"automatic differentiation error: {autodiff_error:.1e}")
assert 8 < one_sided_digits < 10 and 11 < central_digits < 13
assert autodiff_error <= 4 * np.finfo(float).eps * exact

# %% [markdown]
# Right of the minimum the truncation error dominates (slope 1 for one-sided, slope 2 for central);
# left of it the rounding error does (slope $-1$).
# At its best step the one-sided difference keeps 8 to 10 of float64's 16 digits,
# the central difference 11 to 13,
# and backpropagation is exact up to the rounding of its few operations:
# its error is at most a few units in the last digit
# (the cell prints the figures, and its `assert`s check these ranges).
# This is why we use finite differences only to *check* gradients,
# in float64 and with a carefully chosen step: that is what `check_gradients` does.
#
# ### Symbolic: expression swell
#
# Symbolic differentiation works on formulas, and a formula is a tree:
# a value used twice is written out twice.
# Programs are graphs and reuse values for free.
# Take the program $u_0 = x$, $u_{i+1} = 4 u_i (1 - u_i)$, which has $k$ lines for $u_k$.
# Written as one formula, $u_k$ contains $u_{k-1}$ twice, so its size doubles with every line;
# its derivative is larger still, because the product rule copies both factors.
# Below is a complete symbolic differentiator for formulas made of `x`, constants, `+` and `*`;
# we count the nodes of each formula written out as a tree.

# %%
def diff(expr):
    """d/dx of a formula built from ('x',), ('const', c), ('add', a, b) and ('mul', a, b)."""
    kind = expr[0]
    if kind == "x":
        return ("const", 1.0)
    if kind == "const":
        return ("const", 0.0)
    if kind == "add":
        return ("add", diff(expr[1]), diff(expr[2]))
    return ("add", ("mul", diff(expr[1]), expr[2]), ("mul", expr[1], diff(expr[2])))


def tree_size(expr, memo=None):
    """Number of nodes of expr written out as a tree (shared parts counted once per use)."""
    memo = {} if memo is None else memo
    key = id(expr)
    if key not in memo:
        memo[key] = 1 + sum(tree_size(part, memo) for part in expr[1:] if isinstance(part, tuple))
    return memo[key]


def evaluate(expr, x):
    kind = expr[0]
    if kind == "x":
        return x
    if kind == "const":
        return expr[1]
    a, b = evaluate(expr[1], x), evaluate(expr[2], x)
    return a + b if kind == "add" else a * b


u = ("x",)
print(f"{'k':>2} {'program lines':>14} {'formula size':>13} {'derivative size':>16}")
for k in range(1, 11):
    u = ("mul", ("mul", ("const", 4.0), u), ("add", ("const", 1.0), ("mul", ("const", -1.0), u)))
    print(f"{k:>2} {k:>14} {tree_size(u):>13} {tree_size(diff(u)):>16}")

x_value = mg.Value(0.3)
logistic = x_value
for _ in range(10):
    logistic = 4 * logistic * (1 - logistic)
logistic.backward()
print(f"\nd u_10 / dx at 0.3: symbolic {evaluate(diff(u), 0.3):.10g}, backprop {x_value.grad:.10g}")
assert (tree_size(u), tree_size(diff(u))) == (8185, 157703)

# %% [markdown]
# Ten lines of program become a formula of 8,185 nodes
# and a derivative of 157,703 (the last row of the table),
# while backpropagation over the program's graph costs a small multiple of its ten lines.
# Both give the same number.
# Automatic differentiation is what remains of symbolic differentiation
# when we keep the program's sharing instead of writing everything out as one formula.
#
# ## Summary
#
# * A program is a graph of primitive steps; the forward pass computes and keeps every value.
# * A derivative is a sum over paths of products of local derivatives.
# * Backpropagation computes it for every node in one reverse sweep,
#   adding contributions where a value fans out; it is linear in the size of the graph,
#   while enumerating paths can be exponential and copying the chain rule into code quadratic.
# * An engine needs only local derivatives (closures) and an iterative topological order.
# * Forward mode (dual numbers) costs one pass, one JVP, per input; reverse mode one sweep per output.
# * Finite differences are for checking, not for training;
#   a checker must allow for kinks and for the precision it checks.
#
# In assignment 2 every node holds an array instead of a number,
# and the local derivatives become Jacobians that we never build explicitly.
