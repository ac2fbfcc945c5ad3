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
# # Assignment 2: vectorized backprop
#
# In assignment 1 every node of a graph held one number.
# Here a node holds a whole vector,
# and one backward rule moves the error signal through a whole layer at once.
# First the notation of the whole course, on one page;
# the other assignments link back to it.

# %% [markdown]
# ## Notation
#
# Every assignment of the course writes vectors, layers and gradients this way.
#
# * **Rows.** One example is a row vector $x$, a 1-D array in code.
#   A batch stacks $N$ examples as the rows of a matrix $X$ of shape $(N, n)$.
# * **Layers.** A linear layer computes $z = x W + b$, in code `z = x @ W + b`,
#   with $W$ of shape (inputs, outputs), as `mg.nn.Linear` stores it;
#   for a batch, `Z = X @ W + b`.
# * **Jacobians** are in numerator layout:
#   for $f: \mathbb{R}^n \to \mathbb{R}^m$, $J_f$ has shape $m \times n$
#   and entry $(J_f)_{ij} = \partial f_i / \partial x_j$, outputs by inputs.
#   The layer $z = x W$ has $J = W^\top$.
# * **Error signals.** $\bar v = \partial \mathcal{L} / \partial v$ has the shape of $v$;
#   in code it is `dv`.
#   A node $y = f(x)$ passes back the vector-Jacobian product (VJP) $\bar x = \bar y\, J_f$,
#   a row times the Jacobian.
#   Forward mode carries a direction instead: $\dot x$ at the input,
#   and the Jacobian-vector product (JVP) $\dot y = J_f\, \dot x$ at the output.
# * **Graphs.** A node's *inputs* are the nodes it is computed from;
#   its *consumers* are the nodes computed from it.
#
# Some letters mean different things in different lecture notes.
# Here each has one meaning:
#
# | symbol | means in this course | written otherwise here |
# |---|---|---|
# | $\delta_{ij}$ | the Kronecker delta: $1$ when $i = j$, else $0$ | an error signal is $\bar y$, never $\delta_y$ |
# | $R$ | the output of Pingali's parameterized program, $R(w; p, q)$ | an L2 penalty is $\Omega$; the ReLU's slopes are the mask $\mathbb{1}[z > 0]$ |
# | $H$ | the hidden activations of a batch, one row $h$ per example | the number of hidden units is $K$ |
# | $P$ | the softmax probabilities of a batch, one row $p$ per example | a layer's pre-activation is $Z$ |
# | $N$ | the number of examples, the rows of $X$ | a minibatch has $B$ examples; a graph's nodes are counted in words |
# | inputs, consumers | as above | "children" means consumers in one note and inputs in micrograd; we say neither |
#
# **Bridge to the notes.**
# The lecture notes write column vectors and $z = W x + b$:
# their $W$ is our $W^\top$, and their column $x$ is our row stood upright.
# Pingali's transfer matrix ($v_\text{in} = J_f\, v_\text{out}$, with $J_f = W^\top$ for $y = W x$)
# is the transpose of our Jacobian, so his rule is our $\bar x = \bar y\, J$ written for columns.

# %% [markdown]
# ## What this assignment covers
#
# We go through the topics in this order:
#
# 1. Jacobians, written in numerator layout.
# 2. Transfer functions: what each primitive does to an error signal on the way back,
#    and what a max does at a tie.
# 3. Forward mode (JVPs) against reverse mode (VJPs) through a $\tanh$ layer,
#    checked against the dual numbers of assignment 1, and which mode builds a Jacobian cheaper.
# 4. Layers in code: affine, ReLU, sigmoid and tanh backward.
# 5. Reductions over an axis, and un-broadcasting a gradient to an operand's shape.
# 6. The univariate logistic least-squares model in error-signal notation, with L2 regularisation.
# 7. The two-layer network of assignment 1, now in vector form.
# 8. Spot the bug: `np.max` against `np.maximum`.
# 9. Registering a hand-written backward with minigrad as an `mg.Function`.
#
# **How grading works.**
# You edit the answer cells only: replace each `raise NotImplementedError()` with your code
# and keep the function signatures.
# The test cell after each answer gives immediate feedback;
# more tests, which you do not see, run when the notebook is graded.
# Most exercises ask you to derive a rule first:
# the forward pass and the shapes are given,
# and a worked derivation follows the test cell, folded,
# for when your own passes or when you are stuck.
# The exercises that ask for gradients by hand (all but 2 and 10)
# are graded with minigrad's autograd switched off
# (`Tensor.backward` raises inside the hidden tests, and the visible tests switch it off
# the same way with `autograd_off()`),
# so compute every gradient with numpy.
# Where an exercise asks for several functions, each is graded on its own.
# Exercise 2 asks for a choice: assign it to the variable the exercise names.
# Exercise 9 also asks for a short answer in words, in a markdown cell;
# it is graded by hand after the deadline, so the grade you see before then leaves it out.
# Exercise 10 is the one place where we plug a backward into the engine.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | autograded | written | points |
# |---|---|---|---|---|---|
# | 1 | Jacobians and VJPs of the primitives | jacobian_map (1), jacobian_sum (1), jacobian_max (1), vjp_linear (1), grad_weight_linear (1) | 5 | - | 5 |
# | 2 | which splits are subgradients? | one | 2 | - | 2 |
# | 3 | a JVP and a VJP through a $\tanh$ layer | tanh_layer_jvp (2), tanh_layer_vjp (2) | 4 | - | 4 |
# | 4 | affine forward and backward | affine_forward (1), affine_backward (2) | 3 | - | 3 |
# | 5 | activation backward | relu_backward (1), sigmoid_backward (1), tanh_backward (1) | 3 | - | 3 |
# | 6 | sum and max backward, and un-broadcasting | sum_backward (1), max_backward (1), unbroadcast (1) | 3 | - | 3 |
# | 7 | logistic least squares with L2 | one | 3 | - | 3 |
# | 8 | the two-layer network in vector form | one | 4 | - | 4 |
# | 9 | diagnose and fix the layer | one + written answer | 2 | 3 | 5 |
# | 10 | an affine op for minigrad | one | 3 | - | 3 |
# | | **total** | 20 graded cells, 1 written | **32** | **3** | **35** |
# <!-- end of points table -->

# %% nbgrader={"grade": false, "grade_id": "a2-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import ast
import contextlib
import inspect
import textwrap
import time

import matplotlib.pyplot as plt
import numpy as np

import minigrad as mg
from minigrad.expect import (AutogradDisabledError, autograd_off, calls_to, expect_close,
                             expect_dtype, expect_shape, expect_unchanged, require)
from minigrad.gradcheck import check_gradients

np.set_printoptions(precision=4, suppress=True)

passed = set()  # functions whose visible tests have passed in this session


@contextlib.contextmanager
def answering(what):
    """Inside the block, the usual failures of an answer become one line saying what to do."""
    try:
        yield
    except NotImplementedError:
        raise AssertionError(f"{what}: the answer cell still raises NotImplementedError; "
                             "write the function and run its cell again") from None
    except AutogradDisabledError as exc:
        raise AssertionError(f"{what}: {exc}") from None
    except (ValueError, IndexError) as exc:  # mostly numpy's shape errors
        raise AssertionError(f"{what} raised {type(exc).__name__}: {exc}; write down the "
                             "shape of every array and every product") from None


def check_on_its_own(check, *earlier):
    """Run the test function `check` and count the calls of the functions named in `earlier`;
    True when it passed.

    When `check` fails after the code under test called one of them whose own tests have not
    passed, print that instead of failing: the grader judges this exercise with correct
    answers in place of those functions, so a mistake there costs points only there.
    """
    with contextlib.ExitStack() as stack:
        seen = [stack.enter_context(calls_to(name, globals())) for name in earlier
                if name in globals()]
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - reported below or raised again
            failure = exc
        else:
            return True
    suspects = [c.name for c in seen if c.count and c.name not in passed]
    if not suspects:
        raise failure
    names = ", ".join(suspects)
    print(f"Not checked here: this code calls {names}, whose own tests have not passed "
          f"({type(failure).__name__}: {failure}).\n"
          f"Make that exercise pass first. The grader judges this exercise on its own, "
          f"with correct answers in place of {names}.")
    return False

# %% [markdown]
# ## 1. Jacobians in numerator layout
#
# Take a function $f:\mathbb{R}^n \to \mathbb{R}^m$.
# Its Jacobian at $x$ is the $m \times n$ matrix
#
# $$J_f(x)_{ij} = \frac{\partial f_i}{\partial x_j}.$$
#
# Row $i$ is the gradient of the output $f_i$;
# column $j$ says how every output moves when we nudge the input $x_j$.
# This is the *numerator layout*: rows follow the numerator (the outputs),
# so the shape reads like the function, outputs by inputs.
# Some texts use the transpose (denominator layout);
# we never do in this course.
#
# With this layout the chain rule keeps the order of composition.
# For $h = f \circ g$ with $g:\mathbb{R}^n \to \mathbb{R}^k$ and $f:\mathbb{R}^k \to \mathbb{R}^m$,
#
# $$J_h(x) = J_f(g(x))\, J_g(x), \qquad (m \times n) = (m \times k)(k \times n).$$
#
# Finite differences give us a Jacobian to compare against:
# perturb one input at a time and record the change of all outputs as one column.

# %%
def numerical_jacobian(f, x, eps=1e-6):
    """Jacobian of f at x in numerator layout, by central differences: shape (outputs, inputs)."""
    x = np.asarray(x, dtype=np.float64)
    columns = []
    for j in range(x.size):
        step = np.zeros_like(x)
        step.flat[j] = eps
        change = np.ravel(f(x + step)) - np.ravel(f(x - step))
        columns.append(change / (2 * eps))
    return np.stack(columns, axis=1)


W_demo = np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]])
x_demo = np.array([0.5, -1.0, 2.0])
J_demo = numerical_jacobian(lambda x: x @ W_demo, x_demo)
print("Jacobian of x -> x @ W, shape", J_demo.shape)
print(J_demo)
print("equal to W.T:", np.allclose(J_demo, W_demo.T))

# %% [markdown]
# For the layer $x \mapsto x W$ with $W$ of shape $(3, 2)$ the Jacobian is $W^\top$, shape $(2, 3)$:
# two outputs, three inputs.
# Output $i$ is $\sum_j x_j W_{ji}$, so $\partial z_i / \partial x_j = W_{ji}$.
#
# The picture below shows the Jacobians of the four kinds of node a network is made of:
# a linear map (dense), an elementwise map such as $\tanh$ (diagonal),
# a sum (a row of ones) and a max (a row with a single one at the winner).
# Blank cells are zeros.

# %%
rng = np.random.default_rng(0)
x6 = rng.normal(size=6)
W64 = rng.normal(size=(6, 4))
examples = [
    ("linear  x -> x W", lambda x: x @ W64),
    ("map  x -> tanh(x)", np.tanh),
    ("reduce  x -> sum(x)", np.sum),
    ("reduce  x -> max(x)", np.max),
]
fig, axes = plt.subplots(1, 4, figsize=(13, 3.2))
for ax, (title, fn) in zip(axes, examples):
    J = numerical_jacobian(fn, x6)
    shown = np.where(np.abs(J) < 1e-9, np.nan, J)
    ax.imshow(shown, cmap="coolwarm", vmin=-2.5, vmax=2.5)
    ax.set_title(f"{title}\nJacobian {J.shape[0]} x {J.shape[1]}", fontsize=10)
    ax.set_xlabel("input index j")
    ax.set_xticks(range(J.shape[1]))
    ax.set_yticks(range(J.shape[0]))
axes[0].set_ylabel("output index i")
fig.tight_layout()

# %% [markdown]
# ## 2. Transfer functions
#
# A loss $\mathcal{L}$ is a scalar.
# For every node $y$ we write its *error signal* $\bar{y} = \partial \mathcal{L} / \partial y$,
# an array with the same shape as $y$.
# If $y = f(x)$, the loss depends on $x$ only through $y$, and the chain rule reads
#
# $$\frac{\partial \mathcal{L}}{\partial x_j}
# = \sum_i \frac{\partial \mathcal{L}}{\partial y_i} \frac{\partial y_i}{\partial x_j},
# \qquad \text{that is} \qquad \bar{x} = \bar{y}\, J_f ,$$
#
# a row times the Jacobian: a *vector-Jacobian product* (VJP).
# The map $\bar{y} \mapsto \bar{x}$ is the node's *transfer function*:
# every node needs only this rule and its own inputs to take part in backprop.
# In code, with 1-D arrays, it is `dy @ J`;
# a good rule gives the same numbers without ever building `J`.
#
# A network is made of four kinds of node; $x$ has $n$ entries.
#
# * **Linear**, $y = x W$ with $W$ of shape $(n, m)$: $m$ outputs.
# * **The weights of a linear node**: the same $y = x W$, seen as a function of $W$;
#   $\bar{W}$ has the shape $(n, m)$ of $W$.
# * **Map**, $y_i = g(x_i)$ for a scalar function $g$, such as $\tanh$.
# * **Reduce-sum**, $s = \sum_i x_i$.
# * **Reduce-max**, $s = \max_i x_i$.
#   When one entry $x_k$ is larger than all others, $s$ moves with $x_k$ alone.
#   At a tie, two or more entries share the maximum and the max has no derivative;
#   we then split the derivative equally among the tied entries
#   (exercise 2 asks which other splits would do).
#
# ### Exercise 1 (5 points): Jacobians and VJPs of the primitives
#
# Derive the Jacobian of each node on paper from its definition,
# $J_{ij} = \partial y_i / \partial x_j$:
# write one output as a formula in the inputs, and differentiate.
# Then write the Jacobians of the map, sum and max nodes as full matrices,
# of shapes $(n, n)$, $(1, n)$ and $(1, n)$,
# and the two VJPs of the linear node without building its Jacobian:
# `vjp_linear(W, v)` returns $\bar{x}$, shape $(n,)$, for $y = x W$ and $\bar{y} = v$;
# `grad_weight_linear(x, v)` returns $\bar{W}$, shape $(n, m)$
# (write $y_i$ as a sum and ask which entries of $W$ it depends on).
# Inputs are 1-D float arrays.
# Each function is graded on its own.
# A transposed matrix, or a $(n,)$ array where $(1, n)$ is asked, fails.
# Do not call `numerical_jacobian`:
# the tests count its calls,
# and compare your values with exact ones at a tolerance finite differences do not reach.
# The worked derivation follows the last test cell of the exercise.

# %% nbgrader={"grade": false, "grade_id": "a2-transfer-jacobians", "locked": false, "schema_version": 3, "solution": true, "task": false}
def jacobian_map(g_prime, x):
    """Jacobian (n, n) of x -> g(x) applied elementwise; g_prime(x) gives g' at every entry."""
    ### BEGIN SOLUTION
    return np.diag(g_prime(np.asarray(x)))
    ### END SOLUTION


def jacobian_sum(x):
    """Jacobian (1, n) of x -> x.sum()."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    return np.ones((1, x.size), dtype=x.dtype)
    ### END SOLUTION


def jacobian_max(x):
    """Jacobian (1, n) of x -> x.max(); tied maxima share the derivative equally."""
    ### BEGIN SOLUTION
    x = np.asarray(x, dtype=float)
    winners = (x == x.max()).astype(x.dtype)
    return (winners / winners.sum())[None, :]
    ### END SOLUTION


def vjp_linear(W, v):
    """x-bar for y = x @ W, given v = y-bar of shape (m,); W has shape (n, m). Returns (n,)."""
    ### BEGIN SOLUTION
    return v @ W.T
    ### END SOLUTION


def grad_weight_linear(x, v):
    """W-bar for y = x @ W, given the input x of shape (n,) and v = y-bar of shape (m,)."""
    ### BEGIN SOLUTION
    return np.outer(x, v)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-transfer-jacobians-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: jacobian_map
# Checks: jacobian_map gives the (n, n) Jacobian of an elementwise map, as finite differences do.
_x = np.random.default_rng(1).normal(size=5)
with answering("jacobian_map"), autograd_off():
    _J = jacobian_map(lambda u: 1 - np.tanh(u) ** 2, _x)
expect_close(_J, numerical_jacobian(np.tanh, _x), "jacobian_map(tanh', x of 5 entries)",
             atol=1e-6, hint="Compare with numerical_jacobian(np.tanh, x)")
print("jacobian_map: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
v = rng.normal(size=7)
primes = {name: student.kernel(f"def {name}_prime(u):\n    return {rule}\n")
          for name, rule in [("tanh", "1 - np.tanh(u) ** 2"), ("sin", "np.cos(u)"),
                             ("exp", "np.exp(u)")]}
with student.autograd_off():
    J = student.jacobian_map(primes["tanh"], np.array([0.5, -1.0, 2.0, 2.0]))
    J7 = {name: student.jacobian_map(primes[name], v) for name in ("sin", "exp")}
expect_close(J, np.diag(1 - np.tanh([0.5, -1.0, 2.0, 2.0]) ** 2),
             "jacobian_map(tanh', x=[0.5, -1, 2, 2])",
             hint="The Jacobian of an elementwise map is diag(g'(x)), of shape (n, n)")
for name, want in [("sin", np.diag(np.cos(v))), ("exp", np.diag(np.exp(v)))]:
    expect_close(J7[name], want, f"jacobian_map({name}', 7 random entries)",
                 hint="The Jacobian of an elementwise map is diag(g'(x)), of shape (n, n)")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-jacobian-sum-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: jacobian_sum
# Checks: jacobian_sum is the (1, n) Jacobian of a sum, from its rule, not finite differences.
_x = np.random.default_rng(1).normal(size=5)
with answering("jacobian_sum"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    _J = jacobian_sum(_x)
require("method", _fd.count == 0,
        f"jacobian_sum called numerical_jacobian {_fd.count} time(s): this exercise asks for "
        "the exact rule, not finite differences")
expect_close(_J, numerical_jacobian(np.sum, _x), "jacobian_sum(x of 5 entries)", atol=1e-6)
print("jacobian_sum: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
v = rng.normal(size=7)
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    J4 = student.jacobian_sum(np.array([0.5, -1.0, 2.0, 2.0]))
    J7 = student.jacobian_sum(v)
no_finite_differences("jacobian_sum", seen)
expect_close(J4, np.ones((1, 4)), "jacobian_sum(x=[0.5, -1, 2, 2])", rtol=0.0, atol=1e-12,
             hint="The Jacobian of a sum is a (1, n) row of ones")
expect_close(J7, np.ones((1, 7)), "jacobian_sum(7 random entries)", rtol=0.0, atol=1e-12,
             hint="The exact rule gives exactly 1 everywhere, finite differences do not")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-jacobian-max-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: jacobian_max
# Checks: jacobian_max is the (1, n) Jacobian of a max; tied maxima share it equally.
_x = np.random.default_rng(1).normal(size=5)
with answering("jacobian_max"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    _J = jacobian_max(_x)
    _tie = jacobian_max(np.array([1.0, 3.0, 3.0]))
require("method", _fd.count == 0,
        f"jacobian_max called numerical_jacobian {_fd.count} time(s): this exercise asks for "
        "the exact rule, not finite differences")
expect_close(_J, numerical_jacobian(np.max, _x), "jacobian_max(x of 5 entries)", atol=1e-6)
expect_close(_tie, [[0.0, 0.5, 0.5]], "jacobian_max([1, 3, 3]), a tie of two",
             hint="Tied maxima share the derivative equally")
print("jacobian_max: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
v = rng.normal(size=7)
cases = [
    ("jacobian_max(x=[0.5, -1, 2, 2]), a tie of two", [0.5, -1.0, 2.0, 2.0],
     [[0.0, 0.0, 0.5, 0.5]]),
    ("jacobian_max(x=[-3, -1, -2]), all negative", [-3.0, -1.0, -2.0], [[0.0, 1.0, 0.0]]),
    ("jacobian_max(x=[1, 4, 4, 4]), a tie of three", [1.0, 4.0, 4.0, 4.0],
     [[0.0, 1 / 3, 1 / 3, 1 / 3]]),
    ("jacobian_max(7 distinct random entries)", v, np.eye(7)[None, int(np.argmax(v))]),
]
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    got = [student.jacobian_max(np.array(x, dtype=float)) for _, x, _ in cases]
no_finite_differences("jacobian_max", seen)
for (what, _, want), J in zip(cases, got):
    expect_close(J, want, what, rtol=0.0, atol=1e-12,
                 hint="A one at the maximum, zeros elsewhere; k tied maxima get 1/k each")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-vjp-linear-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: vjp_linear
# Checks: vjp_linear gives x-bar for y = x @ W, by its rule (not by finite differences).
_rng = np.random.default_rng(1)
_W, _xa = _rng.normal(size=(4, 3)), _rng.normal(size=4)
with answering("vjp_linear"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    expect_shape(vjp_linear(_W, np.ones(3)), (4,), "vjp_linear(W (4, 3), v (3,))")
    check_gradients(lambda x: x @ _W, {"x": _xa},
                    lambda dout: {"x": vjp_linear(_W, dout)}).assert_ok()
require("method", _fd.count == 0,
        f"vjp_linear called numerical_jacobian {_fd.count} time(s): this exercise asks for "
        "the exact rule, not finite differences")
print("vjp_linear: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
W, v = rng.normal(size=(7, 5)), rng.normal(size=5)
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    got = student.vjp_linear(np.array([[1.0, 0.0], [2.0, -1.0], [0.0, 3.0]]),
                             np.array([1.0, -2.0]))
    got7 = student.vjp_linear(W, v)
no_finite_differences("vjp_linear", seen)
expect_close(got, [1.0, 4.0, -6.0], "vjp_linear(W=[[1, 0], [2, -1], [0, 3]], v=[1, -2])",
             hint="x-bar has the shape (n,) of x; each entry x_j meets the row W[j] of the weights")
expect_close(got7, v @ W.T, "vjp_linear(random W (7, 5), v (5,))", rtol=1e-12, atol=1e-12,
             hint="The exact rule, not finite differences")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-grad-weight-linear-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: grad_weight_linear
# Checks: grad_weight_linear gives W-bar for y = x @ W, by its rule (not finite differences).
_rng = np.random.default_rng(1)
_W, _xa = _rng.normal(size=(4, 3)), _rng.normal(size=4)
with answering("grad_weight_linear"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    expect_shape(grad_weight_linear(_xa, np.ones(3)), (4, 3),
                 "grad_weight_linear(x (4,), v (3,))")
    check_gradients(lambda W: _xa @ W, {"W": _W},
                    lambda dout: {"W": grad_weight_linear(_xa, dout)}).assert_ok()
require("method", _fd.count == 0,
        f"grad_weight_linear called numerical_jacobian {_fd.count} time(s): this exercise "
        "asks for the exact rule, not finite differences")
print("grad_weight_linear: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
x, v = rng.normal(size=7), rng.normal(size=5)
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    got = student.grad_weight_linear(np.array([1.0, 2.0, 3.0]), np.array([1.0, -2.0]))
    got7 = student.grad_weight_linear(x, v)
no_finite_differences("grad_weight_linear", seen)
expect_close(got, [[1.0, -2.0], [2.0, -4.0], [3.0, -6.0]],
             "grad_weight_linear(x=[1, 2, 3], v=[1, -2])",
             hint="W-bar has the shape (n, m) of W; entry (j, i) pairs x_j with v_i")
expect_close(got7, np.outer(x, v), "grad_weight_linear(random x (7,), v (5,))",
             rtol=1e-12, atol=1e-12, hint="Entry (j, i) of W-bar pairs x_j with v_i")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# * **Linear**, $y = x W$: $y_i = \sum_j x_j W_{ji}$, so $J_{ij} = W_{ji}$ and $J = W^\top$ ($m \times n$).
#   The VJP is $\bar{x} = \bar{y}\, W^\top$: `v @ W.T`, the same numbers as `W @ v`.
# * **Weights**: $y_i$ depends on $W_{ji}$ through the one term $x_j W_{ji}$,
#   so $\partial \mathcal{L} / \partial W_{ji} = \bar{y}_i x_j$.
#   Together, $\bar{W} = x^\top \bar{y}$, an outer product (`np.outer(x, v)`) with the shape of $W$.
# * **Map**: $y_i$ depends on $x_i$ alone, so $J = \operatorname{diag}(g'(x))$
#   and $\bar{x} = \bar{y} \circ g'(x)$, an elementwise product; the $n \times n$ matrix is never built.
# * **Reduce-sum**: $\partial s / \partial x_j = 1$ for every $j$,
#   so $J = \mathbf{1}^\top$, a $1 \times n$ row of ones, and $\bar{x} = \bar{s}\, \mathbf{1}$:
#   the error is copied to every input.
# * **Reduce-max** with the maximum at $k$ alone: $J = e_k^\top$, an indicator row,
#   so only the winner receives the error.
#   At a tie of $k$ entries, each gets $1/k$ of it.
#
# </details>
#
# Compare these rules with the numerical Jacobians of section 1.
#
# ### Exercise 2 (2 points): which splits are subgradients?
#
# At a tie the max has no derivative, but it is a convex function,
# and a convex function has *subgradients* where it has a kink.
# A row $g$ is a subgradient of the max at $x$ when
#
# $$\max(x') \ge \max(x) + g \cdot (x' - x) \qquad \text{for every } x' :$$
#
# the linear function through $x$ with slope $g$ never rises above the max.
# At a tie, backprop may pass back any subgradient times $\bar{s}$, and still be right.
# Take $x = (1, 3, 3)$, where $x_2$ and $x_3$ tie, and these candidates:
#
# | | $g$ |
# |---|---|
# | a | $(0, 0.5, 0.5)$ |
# | b | $(0, 1, 0)$ |
# | c | $(0, 1.5, -0.5)$ |
# | d | $(0.2, 0.4, 0.4)$ |
# | e | $(0, 0.5, 0.25)$ |
#
# Which of them are subgradients?
# Try, for each, a few points $x'$ near $x$: move one entry, or two together, up or down.
# Assign the set of their letters to `subgradient_splits`, for example `{"a", "e"}`.

# %% nbgrader={"grade": false, "grade_id": "a2-subgradient-splits", "locked": false, "schema_version": 3, "solution": true, "task": false}
# subgradient_splits: the set of letters of the candidates that are subgradients of the max
# at x = (1, 3, 3)
subgradient_splits = None
### BEGIN SOLUTION
subgradient_splits = {"a", "b"}
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a2-subgradient-splits-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: subgradient_splits names the subgradients of the max at (1, 3, 3) among a to e.
require("value", isinstance(subgradient_splits, (set, frozenset, list, tuple))
        and set(subgradient_splits) <= set("abcde"),
        f"subgradient_splits must be a set of letters from a to e, got {subgradient_splits!r}")
print("subgradient_splits: a set of letters recorded (the grader checks which)")
### BEGIN HIDDEN TESTS
# a set is not plain data: the kernel sends its letters as a sorted list
letters_of = student.kernel(
    "def letters_of(value):\n"
    "    if not isinstance(value, (set, frozenset, list, tuple)):\n"
    "        return repr(value)[:60]\n"
    "    return sorted(str(v) for v in value)\n")
letters = letters_of(student.subgradient_splits)
require("value", isinstance(letters, list) and set(letters) <= set("abcde"),
        f"subgradient_splits must be a set of letters from a to e, got {letters}")
why = {"c": "c gives x_3 a negative share: lowering x_3 leaves the max at 3, but the line "
            "through x with slope c rises above it",
       "d": "d gives a share to x_1, which is not a maximum: raising x_1 a little leaves the "
            "max at 3, but the line rises",
       "e": "e adds up to 0.75, not 1: lowering x_2 and x_3 together by t lowers the max by t "
            "and the line by 0.75 t only",
       "a": "a, equal shares, is a subgradient",
       "b": "b, all to one of the tied entries, is a subgradient"}
wrong = sorted(set(letters) ^ {"a", "b"})
require("value", not wrong,
        f"subgradient_splits = {set(letters) or 'set()'}: a subgradient of the max at a tie "
        "gives non-negative shares to the tied entries only, adding up to 1; "
        + "; ".join(why[k] for k in wrong))
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked answer</summary>
#
# a and b.
# At a tie, the subgradients of the max are the splits that give
# non-negative shares to the tied entries only, adding up to 1:
# the convex combinations of their indicator rows, here $e_2$ and $e_3$.
#
# * c gives $x_3$ a negative share: lowering $x_3$ by $t$ leaves the max at 3,
#   but the line predicts $3 + 0.5 t$.
# * d gives a share to $x_1$, which is not a maximum:
#   raising $x_1$ by $t < 2$ leaves the max at 3, but the line predicts $3 + 0.2 t$.
# * e adds up to 0.75: lowering $x_2$ and $x_3$ together by $t$ lowers the max by $t$
#   and the line by only $0.75 t$.
#
# Equal shares (a) are the choice of exercise 1 because they treat the tied entries alike;
# sending everything to one winner (b) is just as valid.
#
# </details>

# %% [markdown]
# The definition can be checked by sampling:
# for each candidate, we count the random points $x'$ near $x$
# where the line through $x$ with slope $g$ rises above the max.

# %%
x_tie = np.array([1.0, 3.0, 3.0])
candidates = {"a": [0.0, 0.5, 0.5], "b": [0.0, 1.0, 0.0], "c": [0.0, 1.5, -0.5],
              "d": [0.2, 0.4, 0.4], "e": [0.0, 0.5, 0.25]}
probes = x_tie + np.random.default_rng(12).uniform(-1.0, 1.0, size=(1000, 3))
for letter, g in candidates.items():
    above = probes.max(axis=1) < x_tie.max() + (probes - x_tie) @ np.array(g) - 1e-12
    print(f"{letter}: g = {g}, the line is above the max at {above.sum():4d} of 1000 points")

# %% [markdown]
# ## 3. Forward mode or reverse mode: which builds the Jacobian cheaper?
#
# Take a chain of $S$ layers $x_{k+1} = f_k(x_k)$, $k = 1, \dots, S$,
# from an input $x \in \mathbb{R}^n$ to an output $o \in \mathbb{R}^m$,
# with widths $n = n_0, n_1, \dots, n_S = m$.
# The chain rule writes the whole Jacobian as a product,
#
# $$J = J_S J_{S-1} \cdots J_1, \qquad J_k \text{ of shape } n_k \times n_{k-1}.$$
#
# There are two ways to evaluate it one vector at a time.
#
# * **Forward mode, Jacobian-vector products (JVPs).**
#   Start from a direction $u \in \mathbb{R}^n$ at the input and push it through,
#   $u \leftarrow J_1 u$, then $u \leftarrow J_2 u$, and so on.
#   The result is $J u$; with $u = e_j$ it is column $j$ of $J$.
#   The full Jacobian takes $n$ passes.
#   This is what the dual numbers of assignment 1 compute:
#   seeding input $j$ with $\dot x_j = 1$ and every other input with 0
#   carries one JVP, $J e_j$, through the program.
# * **Reverse mode, vector-Jacobian products (VJPs).**
#   Start from an error signal $v \in \mathbb{R}^m$ at the output and pull it back,
#   $v \leftarrow v J_S$, then $v \leftarrow v J_{S-1}$, and so on.
#   The result is $v J$; with $v = e_i$ it is row $i$ of $J$.
#   The full Jacobian takes $m$ passes.
#
# > **Errata to the notes.** The discussion notes on autodiff write the chain rule with
# > $\partial x_2 / \partial x_2$ where $\partial x_3 / \partial x_2$ is meant,
# > and call the $n$ JVPs "a gradient of $o$": for $m > 1$ they give the whole Jacobian.
#
# Here each layer is $x_{k+1} = \tanh(x_k A_k)$ with $A_k$ of shape $(n_{k-1}, n_k)$,
# a linear node followed by a map.
# First one layer, by hand, and then the chain.
#
# Assignment 1's dual numbers, reduced to what such a layer needs, give us columns to compare with.
# `forward_partials(f, args)` is assignment 1's function for a program with several outputs:
# one pass per input, seeded with $\dot x_j = 1$, whose dual parts form column $j$.

# %%
class Dual:
    """val + dot * eps with eps**2 = 0 (assignment 1): a value and its derivative along one input."""

    def __init__(self, val, dot=0.0):
        self.val, self.dot = float(val), float(dot)

    @staticmethod
    def lift(other):
        return other if isinstance(other, Dual) else Dual(other)

    def __add__(self, other):
        other = Dual.lift(other)
        return Dual(self.val + other.val, self.dot + other.dot)

    __radd__ = __add__

    def __sub__(self, other):
        other = Dual.lift(other)
        return Dual(self.val - other.val, self.dot - other.dot)

    def __mul__(self, other):
        other = Dual.lift(other)
        return Dual(self.val * other.val, self.val * other.dot + self.dot * other.val)

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Dual.lift(other)
        return Dual(self.val / other.val,
                    (self.dot * other.val - self.val * other.dot) / other.val**2)

    def exp(self):
        e = np.exp(self.val)
        return Dual(e, e * self.dot)


def forward_partials(f, args):
    """Values of f(*args) and its partials by forward mode, one dual-number pass per input.

    f returns a list of outputs; partials[:, j] holds the derivatives of all of them along
    input j: column j of the Jacobian.
    """
    columns = []
    for j in range(len(args)):
        outputs = f(*[Dual(a, 1.0 if i == j else 0.0) for i, a in enumerate(args)])
        columns.append([out.dot for out in outputs])
    return np.array([out.val for out in outputs]), np.array(columns).T


def tanh_layer_scalars(A):
    """x -> tanh(x @ A) one scalar operation at a time, so that it runs on dual numbers."""
    n, m = A.shape

    def layer(*x):
        outputs = []
        for i in range(m):
            z = sum((x[j] * float(A[j, i]) for j in range(n)), Dual(0.0))
            e = (2 * z).exp()
            outputs.append((e - 1) / (e + 1))  # tanh(z), written with exp
        return outputs

    return layer


A_53 = np.random.default_rng(1).normal(size=(5, 3))
x_5 = np.random.default_rng(2).normal(size=5)
y_dual, J_dual = forward_partials(tanh_layer_scalars(A_53), x_5)
print("tanh(x @ A) by dual numbers:", y_dual, " Jacobian", J_dual.shape)
print("same as finite differences:",
      np.allclose(J_dual, numerical_jacobian(lambda x: np.tanh(x @ A_53), x_5), atol=1e-7))

# %% [markdown]
# ### Exercise 3 (4 points): a JVP and a VJP through a $\tanh$ layer
#
# The layer is $y = \tanh(x A)$, with $x$ of shape $(n,)$, $A$ of shape $(n, m)$ and $y$ of shape $(m,)$.
# Derive its Jacobian $J$ ($m \times n$) from $J_{ij} = \partial y_i / \partial x_j$
# (the layer is a linear node followed by a map: section 2 has both),
# then write its two products without building $J$:
#
# * `tanh_layer_jvp(x, A, u)` returns the pair `(y, y_dot)`:
#   the output and the JVP $\dot y = J u$ for a direction `u` of shape $(n,)$,
#   in one pass, as a dual number carries a value and its derivative together;
# * `tanh_layer_vjp(y, A, v)` returns $\bar x = v J$, shape $(n,)$,
#   from the output `y` that the forward pass kept and an error signal `v` of shape $(m,)$.
#
# The tests stack your $n$ JVPs with $u = e_1, \dots, e_n$ as columns
# and your $m$ VJPs with $v = e_1, \dots, e_m$ as rows,
# and compare both with `forward_partials` above, the Jacobian by dual numbers.
# They are graded with autograd off, and must not call `numerical_jacobian`.
# Building $J$ and multiplying gives the right numbers,
# but it costs $m n$ numbers per layer: the timing below would show it.

# %% nbgrader={"grade": false, "grade_id": "a2-tanh-layer-modes", "locked": false, "schema_version": 3, "solution": true, "task": false}
def tanh_layer_jvp(x, A, u):
    """(y, J u) for y = tanh(x @ A): the output and its change along the direction u."""
    ### BEGIN SOLUTION
    y = np.tanh(x @ A)
    return y, (1.0 - y**2) * (u @ A)
    ### END SOLUTION


def tanh_layer_vjp(y, A, v):
    """v J for y = tanh(x @ A), given the output y and the error signal v of y."""
    ### BEGIN SOLUTION
    return ((1.0 - y**2) * v) @ A.T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-tanh-jvp-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: tanh_layer_jvp
# Checks: n JVPs of tanh(x @ A), stacked as columns, are the Jacobian from dual numbers.
with answering("tanh_layer_jvp"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    _y, _ = tanh_layer_jvp(x_5, A_53, np.zeros(5))
    expect_shape(_y, (3,), "tanh_layer_jvp(x (5,), A (5, 3), u (5,)): y")
    expect_close(_y, y_dual, "tanh_layer_jvp(x (5,), A (5, 3), u (5,)): y = tanh(x @ A)")
    _cols = [tanh_layer_jvp(x_5, A_53, _e)[1] for _e in np.eye(5)]
    for _j, _c in enumerate(_cols):
        expect_shape(_c, (3,), f"tanh_layer_jvp(x (5,), A (5, 3), u = e_{_j + 1}): y_dot")
    expect_close(np.stack(_cols, axis=1), J_dual,
                 "the 5 JVPs tanh_layer_jvp(x, A, e_j) stacked as columns, against the "
                 "Jacobian by dual numbers (forward_partials)", atol=1e-10)
    _u = np.random.default_rng(3).normal(size=5)
    expect_close(tanh_layer_jvp(x_5, A_53, _u)[1], J_dual @ _u,
                 "tanh_layer_jvp(x (5,), A (5, 3), random u): y_dot = J u", atol=1e-10)
require("method", _fd.count == 0,
        f"tanh_layer_jvp called numerical_jacobian {_fd.count} time(s): this exercise asks "
        "for the exact rule, not finite differences")
print("tanh_layer_jvp: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
n, m = 6, 4
A, x, u = rng.normal(size=(n, m)), rng.normal(size=n), rng.normal(size=n)
y = np.tanh(x @ A)
J = (1 - y**2)[:, None] * A.T
shown = "x (6,), A (6, 4)"
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    lit = arrays(student.tanh_layer_jvp(np.array([1.0, -1.0]), np.array([[0.5, 0.0, 1.0],
                                                                           [0.5, 1.0, 0.0]]),
                                        np.array([2.0, 1.0])),
                 "tanh_layer_jvp(x=[1, -1], A=[[0.5, 0, 1], [0.5, 1, 0]], u=[2, 1])",
                 ("y", "y_dot"), shapes=[(3,), (3,)])
    outs = [arrays(student.tanh_layer_jvp(x, A, e), f"tanh_layer_jvp({shown}, u = e_{j + 1})",
                   ("y", "y_dot"), shapes=[(m,), (m,)]) for j, e in enumerate(np.eye(n))]
    y_u = arrays(student.tanh_layer_jvp(x, A, u), f"tanh_layer_jvp({shown}, random u)",
                 ("y", "y_dot"), shapes=[(m,), (m,)])
no_finite_differences("tanh_layer_jvp", seen)
t = np.tanh([0.0, -1.0, 1.0])
expect_close(lit[0], t, "tanh_layer_jvp(x=[1, -1], A=[[0.5, 0, 1], [0.5, 1, 0]], u=[2, 1]): y",
             hint="y = tanh(x @ A)")
expect_close(lit[1], (1 - t**2) * np.array([1.5, 1.0, 2.0]),
             "tanh_layer_jvp(x=[1, -1], A=[[0.5, 0, 1], [0.5, 1, 0]], u=[2, 1]): y_dot",
             hint="The direction goes through the linear node (u @ A), then is scaled by the "
                  "slope of tanh at each output")
expect_close(outs[0][0], y, f"tanh_layer_jvp({shown}, u = e_1): y", hint="y = tanh(x @ A)")
expect_close(np.stack([o[1] for o in outs], axis=1), J,
             f"the {n} JVPs tanh_layer_jvp({shown}, e_j) stacked as columns, against the "
             "Jacobian (forward mode with dual numbers gives the same columns)", rtol=1e-9,
             atol=1e-12, hint="Column j of J is the change of y along x_j")
expect_close(y_u[1], J @ u, f"tanh_layer_jvp({shown}, random u): y_dot = J u", rtol=1e-9,
             atol=1e-12)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-tanh-vjp-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: tanh_layer_vjp
# Checks: m VJPs of tanh(x @ A), stacked as rows, are the Jacobian from dual numbers; gradcheck.
with answering("tanh_layer_vjp"), autograd_off(), calls_to("numerical_jacobian") as _fd:
    _rows = [tanh_layer_vjp(y_dual, A_53, _e) for _e in np.eye(3)]
    for _i, _r in enumerate(_rows):
        expect_shape(_r, (5,), f"tanh_layer_vjp(y (3,), A (5, 3), v = e_{_i + 1})")
    expect_close(np.stack(_rows, axis=0), J_dual,
                 "the 3 VJPs tanh_layer_vjp(y, A, e_i) stacked as rows, against the Jacobian "
                 "by dual numbers (forward_partials)", atol=1e-10)
    check_gradients(lambda x: np.tanh(x @ A_53), {"x": x_5},
                    lambda v: (tanh_layer_vjp(np.tanh(x_5 @ A_53), A_53, v),)).assert_ok()
require("method", _fd.count == 0,
        f"tanh_layer_vjp called numerical_jacobian {_fd.count} time(s): this exercise asks "
        "for the exact rule, not finite differences")
print("tanh_layer_vjp: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
n, m = 6, 4
A, x = rng.normal(size=(n, m)), rng.normal(size=n)
y = np.tanh(x @ A)
J = (1 - y**2)[:, None] * A.T
shown = "y (4,), A (6, 4)"
t = np.tanh([0.0, -1.0, 1.0])
with student.autograd_off(), student.counting("numerical_jacobian", missing_ok=True) as seen:
    lit = student.tanh_layer_vjp(t, np.array([[0.5, 0.0, 1.0], [0.5, 1.0, 0.0]]),
                                 np.array([1.0, 2.0, -1.0]))
    expect_close(lit, ((1 - t**2) * np.array([1.0, 2.0, -1.0]))
                 @ np.array([[0.5, 0.0, 1.0], [0.5, 1.0, 0.0]]).T,
                 "tanh_layer_vjp(y=tanh([0, -1, 1]), A=[[0.5, 0, 1], [0.5, 1, 0]], v=[1, 2, -1])",
                 hint="Scale v by the slope of tanh at each output, 1 - y**2, then pull it back "
                      "through the linear node")
    rows = [student.tanh_layer_vjp(y, A, e) for e in np.eye(m)]
    for i, r in enumerate(rows):
        expect_shape(r, (n,), f"tanh_layer_vjp({shown}, v = e_{i + 1})")
    gradients_ok(f"tanh_layer_vjp({shown}) for y = tanh(x @ A)", lambda x: np.tanh(x @ A),
                 {"x": x}, lambda v: (student.tanh_layer_vjp(y, A, v),))
no_finite_differences("tanh_layer_vjp", seen)
expect_close(np.stack(rows, axis=0), J,
             f"the {m} VJPs tanh_layer_vjp({shown}, e_i) stacked as rows, against the Jacobian",
             rtol=1e-9, atol=1e-12, hint="Row i of J is the gradient of y_i")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# With $z = x A$, output $i$ is $y_i = \tanh(z_i)$ and $z_i = \sum_j x_j A_{ji}$, so
#
# $$J_{ij} = \frac{\partial y_i}{\partial x_j} = (1 - y_i^2)\, A_{ji},
# \qquad J = \operatorname{diag}(1 - y^2)\, A^\top .$$
#
# * JVP: $J u = (1 - y^2) \circ (u A)$, in code `(1 - y**2) * (u @ A)`:
#   the direction goes through the linear node, then the map scales each output by its slope.
# * VJP: $v J = \big(v \circ (1 - y^2)\big) A^\top$, in code `((1 - y**2) * v) @ A.T`:
#   the same two nodes in the opposite order, each with its transfer function from section 2.
#
# The slope $1 - y^2$ needs only the output, which is why the VJP takes `y` and not `x`.
#
# </details>
#
# Now the chain.
# Forward mode carries the value and the direction together, layer by layer, as dual numbers do,
# and forgets each layer once it is through.
# Reverse mode must first run the whole forward pass and keep every layer's output,
# because the VJPs visit the layers in the opposite order.
# That memory is the price of reverse mode.

# %%
def make_chain(sizes, seed=0):
    """Random weight matrices A_k of shape (n_{k-1}, n_k) for a chain with the given widths."""
    chain_rng = np.random.default_rng(seed)
    return [chain_rng.normal(size=(n_in, n_out)) / np.sqrt(n_in)
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def chain_forward(mats, x):
    """Run x through the layers tanh(x @ A); return every layer's output, kept for the VJPs."""
    outputs = []
    for A in mats:
        x = np.tanh(x @ A)
        outputs.append(x)
    return outputs


def jvp(mats, x, u):
    """J u: carry the value and the direction through every layer together."""
    for A in mats:
        x, u = tanh_layer_jvp(x, A, u)
    return u


def vjp(mats, outputs, v):
    """v J: pull an error signal at the output back through every layer, last layer first."""
    for A, y in zip(reversed(mats), reversed(outputs)):
        v = tanh_layer_vjp(y, A, v)
    return v


def jacobian_by_jvps(mats, x, n):
    """The full Jacobian, one column per JVP: n passes."""
    return np.stack([jvp(mats, x, e) for e in np.eye(n)], axis=1)


def jacobian_by_vjps(mats, outputs, m):
    """The full Jacobian, one row per VJP: m passes after one forward pass."""
    return np.stack([vjp(mats, outputs, e) for e in np.eye(m)], axis=0)


sizes = [5, 8, 8, 3]
mats = make_chain(sizes)
x_in = np.random.default_rng(1).normal(size=sizes[0])
J_fwd = jacobian_by_jvps(mats, x_in, sizes[0])
J_rev = jacobian_by_vjps(mats, chain_forward(mats, x_in), sizes[-1])
J_num = numerical_jacobian(lambda x: chain_forward(mats, x)[-1], x_in)
print("shapes:", J_fwd.shape, J_rev.shape, J_num.shape)
print("JVPs == VJPs:", np.allclose(J_fwd, J_rev), "  == finite differences:",
      np.allclose(J_fwd, J_num, atol=1e-6))

# %% [markdown]
# Both modes give the same matrix.
#
# One JVP or one VJP costs about $C = \sum_k n_k n_{k-1}$ multiply-adds,
# a small multiple of one forward evaluation,
# so forward mode builds the Jacobian for about $nC$ and reverse mode for about $mC$.
# ($C$ itself grows with $n$ and $m$ through the first and last layers,
# so the expensive mode grows faster than linearly in the plot below.)
# A training loss is a scalar, $m = 1$, with millions of inputs (the parameters):
# reverse mode gives the whole gradient in one pass, forward mode needs one pass per parameter.
#
# We time both on a chain with three hidden layers of width 64,
# first with many inputs and one output ($n \gg m$, the shape of a training loss),
# then with one input and many outputs ($m \gg n$).
# Reverse mode's time includes its one forward pass.

# %%
def best_time(fn, *args, repeats=3):
    """Shortest wall time of a few calls fn(*args), in seconds."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def reverse_mode_jacobian(mats, x, m):
    """One forward pass that keeps every output, then m VJPs."""
    return jacobian_by_vjps(mats, chain_forward(mats, x), m)

# %%
big = [1, 4, 16, 64, 256, 1024]
timings = {"n >> m": {"JVPs": [], "VJPs": []}, "m >> n": {"JVPs": [], "VJPs": []}}
for wide in big:
    for case, (n, m) in [("n >> m", (wide, 1)), ("m >> n", (1, wide))]:
        mats = make_chain([n, 64, 64, 64, m])
        x_ones = np.ones(n)
        timings[case]["JVPs"].append(best_time(jacobian_by_jvps, mats, x_ones, n))
        timings[case]["VJPs"].append(best_time(reverse_mode_jacobian, mats, x_ones, m))

fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for ax, case, label in [(axes[0], "n >> m", "inputs n (outputs m = 1)"),
                        (axes[1], "m >> n", "outputs m (inputs n = 1)")]:
    for mode, style in [("JVPs", "o-"), ("VJPs", "s-")]:
        name = {"JVPs": "forward mode (JVPs)", "VJPs": "reverse mode (VJPs)"}[mode]
        ax.loglog(big, timings[case][mode], style, label=name)
    ax.set_xlabel(label)
    ax.set_title(f"full Jacobian, {case}")
    ax.grid(True, which="both", alpha=0.3)
axes[0].set_ylabel("seconds")
axes[0].legend()
fig.tight_layout()
for case in timings:
    t_fwd, t_rev = timings[case]["JVPs"][-1], timings[case]["VJPs"][-1]
    print(f"{case}, size 1024: forward mode {t_fwd * 1e3:6.2f} ms, reverse {t_rev * 1e3:6.2f} ms;"
          f" the cheaper mode is {max(t_fwd, t_rev) / min(t_fwd, t_rev):.0f} times faster")

# %% [markdown]
# The cost of each mode grows with the number of passes it needs:
# forward mode with the number of inputs, reverse mode with the number of outputs.
# For a scalar loss the right-hand picture never happens, and reverse mode,
# which is backprop, wins by the factor printed above, which grows with the number of inputs.
#
# ## 4. Layers in code: affine and activations
#
# A layer with a bias, for one example stored as a 1-D array:
#
# $$z = x W + b, \qquad x \in \mathbb{R}^{n_\text{in}},\;
# W \in \mathbb{R}^{n_\text{in} \times n_\text{out}},\; b, z \in \mathbb{R}^{n_\text{out}},$$
#
# that is `z = x @ W + b`.
# Why store $W$ as inputs by outputs?
# In assignment 3 the single row $x$ becomes a batch of rows $X$,
# and `X @ W + b` works without a change.
#
# We write `dz` in code for $\bar{z}$, the error signal of `z`.
# A quick check that catches most slips: every gradient has the shape of its variable.

# %% [markdown]
# ### Exercise 4 (3 points): affine forward and backward
#
# Derive $\bar{x}$, $\bar{W}$ and $\bar{b}$ from $\bar{z}$:
# $z$ is a linear node in $x$, a linear node in $W$, and a sum with $b$;
# write $z_i$ out as a sum if in doubt, and check each result's shape.
# Then write them.
# `affine_forward(x, W, b)` returns `x @ W + b`.
# `affine_backward(dz, x, W)` returns the tuple `(dx, dW, db)`,
# of shapes $(n_\text{in},)$, $(n_\text{in}, n_\text{out})$ and $(n_\text{out},)$,
# given the error signal `dz` of the output,
# and leaves its arguments unchanged.
# Keep the dtype of the inputs: float32 in gives float32 out,
# so no accumulator made with `np.zeros(...)` without a dtype, which is float64.
# Both functions are graded, on float32 inputs too.

# %% nbgrader={"grade": false, "grade_id": "a2-affine-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def affine_forward(x, W, b):
    """z = x @ W + b for x of shape (n_in,), W of shape (n_in, n_out), b of shape (n_out,)."""
    ### BEGIN SOLUTION
    return x @ W + b
    ### END SOLUTION


def affine_backward(dz, x, W):
    """Return (dx, dW, db) for z = x @ W + b, given dz = dL/dz of shape (n_out,)."""
    ### BEGIN SOLUTION
    dx = W @ dz
    dW = np.outer(x, dz)
    db = dz.copy()
    return dx, dW, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-affine-forward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: affine_forward
# Checks: affine_forward computes x @ W + b and keeps float32 inputs float32.
passed.discard("affine_forward")
_rng = np.random.default_rng(2)
_x, _W, _b = _rng.normal(size=4), _rng.normal(size=(4, 3)), _rng.normal(size=3)
with answering("affine_forward"), autograd_off():
    _z = affine_forward(_x, _W, _b)
    _z32 = affine_forward(_x.astype(np.float32), _W.astype(np.float32), _b.astype(np.float32))
expect_close(_z, _x @ _W + _b, "affine_forward(x (4,), W (4, 3), b (3,))")
expect_dtype(_z32, np.float32, "affine_forward(float32 x (4,), W (4, 3), b (3,))")
passed.add("affine_forward")
print("affine_forward: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
x, W, b = rng.normal(size=5), rng.normal(size=(5, 4)), rng.normal(size=4)
x32, W32, b32 = x.astype(np.float32), W.astype(np.float32), b.astype(np.float32)
with student.autograd_off():
    z = student.affine_forward(np.array([1.0, -2.0]),
                               np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]]),
                               np.array([0.5, 0.0, -1.0]))
    z5 = student.affine_forward(x, W, b)
    z32 = student.affine_forward(x32, W32, b32)
expect_close(z, [3.5, -6.0, 0.0],
             "affine_forward(x=[1, -2], W=[[1, 0, 2], [-1, 3, 0.5]], b=[0.5, 0, -1])",
             hint="The output z = x @ W + b has shape (n_out,)")
expect_close(z5, x @ W + b, "affine_forward(random x (5,), W (5, 4), b (4,))")
expect_dtype(z32, np.float32, "affine_forward(float32 x (5,), W (5, 4), b (4,))")
expect_close(z32, x32 @ W32 + b32, "affine_forward(float32 x (5,), W (5, 4), b (4,))",
             rtol=1e-5, atol=1e-6)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-affine-backward-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: affine_backward
# Checks: dx, dW, db pass gradcheck, keep their shapes and float32, and leave the inputs alone.
passed.discard("affine_backward")
_rng = np.random.default_rng(2)
_x, _W, _b = _rng.normal(size=4), _rng.normal(size=(4, 3)), _rng.normal(size=3)
_dz = _rng.normal(size=3)
_args = (_dz.copy(), _x.copy(), _W.copy())
with answering("affine_backward"), autograd_off():
    _dx, _dW, _db = affine_backward(*_args)
    _grads32 = affine_backward(_dz.astype(np.float32), _x.astype(np.float32),
                               _W.astype(np.float32))
    for _name, _g, _v in [("dx", _dx, _x), ("dW", _dW, _W), ("db", _db, _b)]:
        expect_shape(_g, _v.shape, f"affine_backward(dz (3,), x (4,), W (4, 3)): {_name}")
    for _name, _before, _after in zip(("dz", "x", "W"), (_dz, _x, _W), _args):
        expect_unchanged(_before, _after, f"affine_backward (argument {_name})")
    for _name, _g in zip(("dx", "dW", "db"), _grads32):
        expect_dtype(_g, np.float32, f"affine_backward(float32 dz, x, W): {_name}")
    check_gradients(lambda x, W, b: x @ W + b, {"x": _x, "W": _W, "b": _b},
                    lambda dz: affine_backward(dz, _x, _W)).assert_ok()
passed.add("affine_backward")
print("affine_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
NAMES = ("dx", "dW", "db")
x = np.array([1.0, -2.0])
W = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]])
call = "affine_backward(dz=[1, 2, -1], x=[1, -2], W=[[1, 0, 2], [-1, 3, 0.5]])"
wants = [[-1.0, 4.5], [[1.0, 2.0, -1.0], [-2.0, -4.0, 2.0]], [1.0, 2.0, -1.0]]
rng = np.random.default_rng(seed)
x5, W5 = rng.normal(size=5), rng.normal(size=(5, 4))
dz5 = rng.normal(size=4)
x32, W32, dz32 = x5.astype(np.float32), W5.astype(np.float32), dz5.astype(np.float32)
with student.autograd_off():
    out = arrays(student.affine_backward(np.array([1.0, 2.0, -1.0]), x, W), call, NAMES)
    for name, got, want in zip(NAMES, out, wants):
        expect_close(got, want, f"{call}: {name}")
    gradients_ok("affine_backward(dz, x, W) for random x (5,), W (5, 4), b (4,)",
                 lambda x, W, b: x @ W + b, {"x": x5, "W": W5, "b": rng.normal(size=4)},
                 lambda dz: student.affine_backward(dz, x5, W5))
    result, after = student.affine_backward.inputs_after(dz5, x5, W5)
    for name, before, now in zip(("dz", "x", "W"), (dz5, x5, W5), after):
        expect_unchanged(before, now, f"affine_backward (argument {name})")
    what = "affine_backward(float32 dz (4,), x (5,), W (5, 4))"
    out = arrays(student.affine_backward(dz32, x32, W32), what, NAMES)
    for name, got in zip(NAMES, out):
        expect_dtype(got, np.float32, f"{what}: {name}")
    for name, got, want in zip(NAMES, out, (W32 @ dz32, np.outer(x32, dz32), dz32)):
        expect_close(got, want, f"{what}: {name}", rtol=1e-5, atol=1e-6)
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# $z_i = \sum_j x_j W_{ji} + b_i$. Section 2's two linear rules give
# $\bar{x} = \bar{z}\, W^\top$ and $\bar{W} = x^\top \bar{z}$, an outer product;
# $\partial z_i / \partial b_k$ is 1 when $i = k$ and 0 otherwise, so $\bar{b} = \bar{z}$.
# In numpy: `dx = dz @ W.T` (the same numbers as `W @ dz`), `dW = np.outer(x, dz)`,
# `db = dz.copy()`; all three keep the dtype of their inputs.
#
# </details>

# %% [markdown]
# Activations are maps, so their transfer function is an elementwise product with $g'$.
# What the backward needs decides what the forward pass keeps:
#
# | activation | forward | the backward receives |
# |---|---|---|
# | ReLU | $h = \max(z, 0)$ | the input $z$ |
# | sigmoid | $s = 1 / (1 + e^{-z})$ | the output $s$ |
# | tanh | $t = \tanh z$ | the output $t$ |
#
# ReLU has a kink at $z = 0$; we take the slope there to be 0, as most libraries do.
#
# ### Exercise 5 (3 points): activation backward
#
# Derive $g'(z)$ for each activation and write it with what the backward receives:
# for sigmoid and tanh, differentiate and then express the result in the output alone
# ($e^{-z}$ can be written with $s$).
# Each function receives the upstream error signal `dout` and the array named in its signature.
# Note that `sigmoid_backward` and `tanh_backward` receive the forward *outputs*.
# Each function is graded on its own;
# each must keep the dtype of its inputs and leave them unchanged.

# %% nbgrader={"grade": false, "grade_id": "a2-activation-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def relu_backward(dout, z):
    """dL/dz for h = relu(z), given dout = dL/dh and the input z."""
    ### BEGIN SOLUTION
    return dout * (z > 0)
    ### END SOLUTION


def sigmoid_backward(dout, s):
    """dL/dz for s = sigmoid(z), given dout = dL/ds and the output s."""
    ### BEGIN SOLUTION
    return dout * s * (1 - s)
    ### END SOLUTION


def tanh_backward(dout, t):
    """dL/dz for t = tanh(z), given dout = dL/dt and the output t."""
    ### BEGIN SOLUTION
    return dout * (1 - t**2)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-activation-backward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: relu_backward
# Checks: relu_backward passes gradcheck, keeps float32 and leaves its inputs alone.
passed.discard("relu_backward")
_z = np.random.default_rng(3).normal(size=6)
_kept = _z
_d = np.ones(6)
_args = (_d.copy(), _kept.copy())
with answering("relu_backward"), autograd_off():
    _g = relu_backward(*_args)
    _g32 = relu_backward(_d.astype(np.float32), _kept.astype(np.float32))
    expect_shape(_g, (6,), "relu_backward(dout (6,), z (6,))")
    for _name, _before, _after in zip(("dout", "z"), (_d, _kept), _args):
        expect_unchanged(_before, _after, f"relu_backward (argument {_name})")
    expect_dtype(_g32, np.float32, "relu_backward(float32 dout (6,), z (6,))")
    _report = check_gradients(lambda z: np.maximum(z, 0), {"z": _z},
                              lambda dout: (relu_backward(dout, _kept),))
require("gradient", _report.passed,
        f"relu_backward(dout, z) for h = relu(z), z (6,): the gradient does not match finite "
        f"differences\n{_report}")
passed.add("relu_backward")
print("relu_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
check_activation_backward(
    "relu_backward", "z", "h = relu(z)", lambda z: np.where(z > 0, z, 0.0),
    kept=lambda z: z, slope=lambda z: (z > 0).astype(np.float32),
    literal=([2.0, -1.0, 0.5, 3.0], [-1.5, 0.0, 0.3, 2.0], "[-1.5, 0, 0.3, 2]",
             [0.0, 0.0, 0.5, 3.0]),
    hint="The slope is 1 where z > 0 and 0 elsewhere, also at z = 0")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-sigmoid-backward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: sigmoid_backward
# Checks: sigmoid_backward passes gradcheck, keeps float32 and leaves its inputs alone.
passed.discard("sigmoid_backward")
_z = np.random.default_rng(3).normal(size=6)
_kept = 1 / (1 + np.exp(-_z))
_d = np.ones(6)
_args = (_d.copy(), _kept.copy())
with answering("sigmoid_backward"), autograd_off():
    _g = sigmoid_backward(*_args)
    _g32 = sigmoid_backward(_d.astype(np.float32), _kept.astype(np.float32))
    expect_shape(_g, (6,), "sigmoid_backward(dout (6,), s (6,))")
    for _name, _before, _after in zip(("dout", "s"), (_d, _kept), _args):
        expect_unchanged(_before, _after, f"sigmoid_backward (argument {_name})")
    expect_dtype(_g32, np.float32, "sigmoid_backward(float32 dout (6,), s (6,))")
    _report = check_gradients(lambda z: 1 / (1 + np.exp(-z)), {"z": _z},
                              lambda dout: (sigmoid_backward(dout, _kept),))
require("gradient", _report.passed,
        f"sigmoid_backward(dout, s) for s = sigmoid(z), z (6,): the gradient does not match "
        f"finite differences\n{_report}")
passed.add("sigmoid_backward")
print("sigmoid_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


check_activation_backward(
    "sigmoid_backward", "s", "s = sigmoid(z)", sigmoid, kept=sigmoid,
    slope=lambda s: s * (1 - s),
    literal=([2.0, -1.0, 0.5], [0.2, 0.5, 0.9], "[0.2, 0.5, 0.9]", [0.32, -0.25, 0.045]),
    hint="The argument s is the forward output: the slope is s * (1 - s), with no second sigmoid")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-tanh-backward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: tanh_backward
# Checks: tanh_backward passes gradcheck, keeps float32 and leaves its inputs alone.
passed.discard("tanh_backward")
_z = np.random.default_rng(3).normal(size=6)
_kept = np.tanh(_z)
_d = np.ones(6)
_args = (_d.copy(), _kept.copy())
with answering("tanh_backward"), autograd_off():
    _g = tanh_backward(*_args)
    _g32 = tanh_backward(_d.astype(np.float32), _kept.astype(np.float32))
    expect_shape(_g, (6,), "tanh_backward(dout (6,), t (6,))")
    for _name, _before, _after in zip(("dout", "t"), (_d, _kept), _args):
        expect_unchanged(_before, _after, f"tanh_backward (argument {_name})")
    expect_dtype(_g32, np.float32, "tanh_backward(float32 dout (6,), t (6,))")
    _report = check_gradients(lambda z: np.tanh(z), {"z": _z},
                              lambda dout: (tanh_backward(dout, _kept),))
require("gradient", _report.passed,
        f"tanh_backward(dout, t) for t = tanh(z), z (6,): the gradient does not match finite "
        f"differences\n{_report}")
passed.add("tanh_backward")
print("tanh_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
check_activation_backward(
    "tanh_backward", "t", "t = tanh(z)", np.tanh, kept=np.tanh, slope=lambda t: 1 - t**2,
    literal=([2.0, -1.0, 0.5], [-0.5, 0.0, 0.8], "[-0.5, 0, 0.8]", [1.5, -1.0, 0.18]),
    hint="The argument t is the forward output: the slope is 1 - t**2, with no second tanh")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# | activation | $g'(z)$ | with what we keep |
# |---|---|---|
# | ReLU | $1$ for $z > 0$, $0$ for $z < 0$ (and $0$ at the kink, by our choice) | $\mathbb{1}[z > 0]$ |
# | sigmoid | $\dfrac{e^{-z}}{(1 + e^{-z})^2} = \dfrac{1}{1 + e^{-z}} \cdot \dfrac{e^{-z}}{1 + e^{-z}}$ | $s(1 - s)$ |
# | tanh | $1 - \tanh^2 z$ | $1 - t^2$ |
#
# For sigmoid, $e^{-z} / (1 + e^{-z}) = 1 - s$.
# So `relu_backward` returns `dout * (z > 0)`, `sigmoid_backward` returns `dout * s * (1 - s)`
# and `tanh_backward` returns `dout * (1 - t**2)`:
# for sigmoid and tanh the output is all we need, with no exponential to recompute.
#
# </details>

# %% [markdown]
# ## 5. Reductions over an axis, and un-broadcasting
#
# Arrays of more than one axis reduce along one axis at a time,
# and the transfer rules of section 2 apply along that axis.
#
# * `y = x.sum(axis=a)`: every entry of `x` on a line along axis `a` feeds one entry of `y`
#   with slope 1, so `dx` is `dy` copied back along that axis
#   (mind `keepdims=False`, which drops the axis from `dy`).
# * `y = x.max(axis=a)`: along each line only the maximum receives the error;
#   tied maxima share it equally.
#
# Broadcasting is a hidden fan-out.
# In `z = x + b` with `x` of shape `(4, 3)` and `b` of shape `(3,)`,
# numpy uses each `b[j]` in four places, once per row.
# Fan-out adds error signals, so `db[j]` is the sum of `dz[:, j]`.
# The finite-difference gradient below shows it:
# each entry of $\bar{b}$ is 4 when $\bar{z}$ is all ones.

# %%
x43 = np.arange(12.0).reshape(4, 3)
b3 = np.array([0.1, 0.2, 0.3])
print("d sum(x + b) / db =", numerical_jacobian(lambda b: np.sum(x43 + b), b3).ravel())

# %% [markdown]
# minigrad sums every gradient back to its operand's shape in one place for every op;
# here we write that step ourselves.
# Broadcasting can add leading axes (`(3,)` against `(2, 4, 3)`)
# and stretch axes of size 1 (`(4, 1)` against `(2, 4, 3)`).
#
# ### Exercise 6 (3 points): sum and max backward, and un-broadcasting
#
# Work out the rule for `unbroadcast(grad, shape)` first:
# for each way broadcasting reuses an entry of the operand, which entries of `grad` must add up?
# Try `grad` of shape `(2, 4, 3)` against operands of shapes `(3,)`, `(4, 1)` and `(1, 3)`.
# `axis` is an int (possibly negative) or `None` (reduce over everything).
# Return arrays with the shape of `x` (or `shape`) and the dtype of the incoming gradient
# (a float32 `dout` gives a float32 result, so no `np.ones(...)` or `np.zeros(...)` without a dtype),
# and leave the arguments unchanged.
# Each function is graded on its own.

# %% nbgrader={"grade": false, "grade_id": "a2-reduce-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def sum_backward(dout, x_shape, axis=None, keepdims=False):
    """dL/dx of shape x_shape for y = x.sum(axis=axis, keepdims=keepdims), given dout = dL/dy."""
    ### BEGIN SOLUTION
    dout = np.asarray(dout)
    if axis is not None and not keepdims:
        dout = np.expand_dims(dout, axis)
    return np.broadcast_to(dout, x_shape).copy()
    ### END SOLUTION


def max_backward(dout, x, axis=None, keepdims=False):
    """dL/dx for y = x.max(axis=axis, keepdims=keepdims); tied maxima share the error equally."""
    ### BEGIN SOLUTION
    x = np.asarray(x)
    dout = np.asarray(dout)
    winners = (x == x.max(axis=axis, keepdims=True)).astype(dout.dtype)
    winners /= winners.sum(axis=axis, keepdims=True)
    if axis is not None and not keepdims:
        dout = np.expand_dims(dout, axis)
    return winners * dout
    ### END SOLUTION


def unbroadcast(grad, shape):
    """Sum grad (the gradient of a broadcast result) down to an operand of the given shape."""
    ### BEGIN SOLUTION
    grad = np.asarray(grad)
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-reduce-backward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: sum_backward
# Checks: sum_backward over every axis passes gradcheck, keeps shape and float32, leaves dout alone.
_x = np.random.default_rng(4).normal(size=(4, 3))
with answering("sum_backward"), autograd_off():
    for _axis in [0, 1, -1, None]:
        for _keep in [False, True]:
            _what = f"sum_backward(dout, (4, 3), axis={_axis}, keepdims={_keep})"
            _d = np.ones_like(_x.sum(axis=_axis, keepdims=_keep))
            _g = sum_backward(_d, _x.shape, _axis, _keep)
            expect_shape(_g, _x.shape, _what)
            check_gradients(lambda x, a=_axis, k=_keep: x.sum(axis=a, keepdims=k), {"x": _x},
                            lambda d, a=_axis, k=_keep: (sum_backward(d, _x.shape, a, k),)
                            ).assert_ok()
    _d = np.array([1.0, 2.0, 3.0])
    _g32 = sum_backward(_d.astype(np.float32), (4, 3), axis=0)
    expect_dtype(_g32, np.float32, "sum_backward(float32 dout (3,), (4, 3), axis=0)")
    _g = sum_backward(_d, (4, 3), axis=0)
expect_unchanged([1.0, 2.0, 3.0], _d, "sum_backward (argument dout)")
print("sum_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
x3 = rng.normal(size=(3, 4, 2))
axis = [0, 1, 2, -1, -2, None][int(rng.integers(6))]
keep = bool(rng.integers(2))
dout = plain(rng.normal(size=x3.sum(axis=axis, keepdims=keep).shape))
cases = [
    ("sum_backward(dout=[1, 2], x_shape=(2, 3), axis=1)",
     (np.array([1.0, 2.0]), (2, 3)), {"axis": 1}, [[1, 1, 1], [2, 2, 2]]),
    ("sum_backward(dout=[[1, 2, 3]], x_shape=(2, 3), axis=-2, keepdims=True)",
     (np.array([[1.0, 2.0, 3.0]]), (2, 3)), {"axis": -2, "keepdims": True},
     [[1, 2, 3], [1, 2, 3]]),
    ("sum_backward(dout=1.5 (a numpy scalar), x_shape=(2, 2)) over all entries",
     (np.float64(1.5), (2, 2)), {}, np.full((2, 2), 1.5)),
]
with student.autograd_off():
    for what, args, kwargs, want in cases:
        expect_close(student.sum_backward(*args, **kwargs), want, what,
                     hint="Copy dout back along the summed axis (np.expand_dims, then "
                          "np.broadcast_to the shape of x)")
    gradients_ok(f"sum_backward(dout, (3, 4, 2), axis={axis}, keepdims={keep})",
                 lambda x: x.sum(axis=axis, keepdims=keep), {"x": x3},
                 lambda d: (student.sum_backward(plain(d), x3.shape, axis, keep),))
    result, after = student.sum_backward.inputs_after(dout, x3.shape, axis, keep)
    expect_unchanged(dout, after[0], "sum_backward (argument dout)")
    what = "sum_backward(float32 dout (2,), x_shape=(2, 3), axis=1)"
    got = student.sum_backward(np.array([1.0, 2.0], np.float32), (2, 3), axis=1)
    expect_dtype(got, np.float32, what)
    expect_close(got, [[1, 1, 1], [2, 2, 2]], what)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-max-backward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: max_backward
# Checks: max_backward passes gradcheck, splits ties, keeps shape and float32, leaves x alone.
_x = np.random.default_rng(4).normal(size=(4, 3))
with answering("max_backward"), autograd_off():
    for _axis in [0, 1, -1, None]:
        for _keep in [False, True]:
            _what = f"max_backward(dout, x (4, 3), axis={_axis}, keepdims={_keep})"
            _d = np.ones_like(_x.max(axis=_axis, keepdims=_keep))
            expect_shape(max_backward(_d, _x, _axis, _keep), _x.shape, _what)
            check_gradients(lambda x, a=_axis, k=_keep: x.max(axis=a, keepdims=k), {"x": _x},
                            lambda d, a=_axis, k=_keep: (max_backward(d, _x, a, k),)
                            ).assert_ok()
    _xt = np.array([[1.0, 4.0, 4.0], [0.0, 2.0, -1.0]])
    _tie = max_backward(np.array([1.0, 2.0]), _xt, axis=1)
    _g32 = max_backward(np.ones(2, np.float32), _xt.astype(np.float32), axis=1)
expect_close(_tie, [[0, 0.5, 0.5], [0, 2, 0]], "max_backward([1, 2], [[1, 4, 4], [0, 2, -1]], axis=1)",
             hint="Tied maxima share the error equally")
expect_unchanged([[1.0, 4.0, 4.0], [0.0, 2.0, -1.0]], _xt, "max_backward (argument x)")
expect_dtype(_g32, np.float32, "max_backward(float32 dout (2,), x (2, 3), axis=1)")
print("max_backward: visible tests passed.")
### BEGIN HIDDEN TESTS
def distinct(shape, rng):
    """Random entries at least 0.1 apart, so that no max is near a tie."""
    n = math.prod(shape)
    values = np.linspace(-0.25 * n, 0.25 * n, n) + rng.uniform(-0.05, 0.05, size=n)
    return rng.permutation(values).reshape(shape)


x = np.array([[1.0, 5.0, 5.0], [2.0, 0.0, -1.0]])
shown = "x = [[1, 5, 5], [2, 0, -1]]"
cases = [
    (f"max_backward(dout=[1, 3], {shown}, axis=1), the tied 5s share the error",
     (np.array([1.0, 3.0]), x), {"axis": 1}, [[0.0, 0.5, 0.5], [3.0, 0.0, 0.0]]),
    (f"max_backward(dout=[[1, 2, 4]], {shown}, axis=0, keepdims=True)",
     (np.array([[1.0, 2.0, 4.0]]), x), {"axis": 0, "keepdims": True},
     [[0.0, 2.0, 4.0], [1.0, 0.0, 0.0]]),
    (f"max_backward(dout=2.0, {shown}) over all entries (axis=None), a tie of two 5s",
     (2.0, x), {}, [[0.0, 1.0, 1.0], [0.0, 0.0, 0.0]]),
    (f"max_backward(dout=[1, 3], {shown}, axis=-1)",
     (np.array([1.0, 3.0]), x), {"axis": -1}, [[0.0, 0.5, 0.5], [3.0, 0.0, 0.0]]),
]
rng = np.random.default_rng(seed)
xm = distinct((5, 4), rng)
x3 = distinct((3, 4, 2), rng)
axis = [0, 1, 2, -1, -2, None][int(rng.integers(6))]
keep = bool(rng.integers(2))
with student.autograd_off():
    for what, args, kwargs, want in cases:
        expect_close(student.max_backward(*args, **kwargs), want, what,
                     hint="Only the maximum of each line gets the error; k tied maxima get "
                          "1/k of it each")
    gradients_ok("max_backward(dout, x, axis=0) for random x (5, 4)",
                 lambda x: np.max(x, axis=0), {"x": xm},
                 lambda d: (student.max_backward(d, xm, axis=0),))
    gradients_ok(f"max_backward(dout, x, axis={axis}, keepdims={keep}) for random x (3, 4, 2)",
                 lambda x: x.max(axis=axis, keepdims=keep), {"x": x3},
                 lambda d: (student.max_backward(plain(d), x3, axis, keep),))
    dout = rng.normal(size=4)
    result, after = student.max_backward.inputs_after(dout, xm, 0)
    for name, before, now in zip(("dout", "x"), (dout, xm), after):
        expect_unchanged(before, now, f"max_backward (argument {name})")
    what = f"max_backward(float32 dout (2,), float32 {shown}, axis=1)"
    got = student.max_backward(np.array([1.0, 3.0], np.float32), x.astype(np.float32), axis=1)
    expect_dtype(got, np.float32, what)
    expect_close(got, [[0.0, 0.5, 0.5], [3.0, 0.0, 0.0]], what)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a2-unbroadcast-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: unbroadcast
# Checks: unbroadcast sums a gradient back to its operand's shape (gradcheck) and keeps float32.
_rng = np.random.default_rng(4)
_x, _b, _c = _rng.normal(size=(4, 3)), _rng.normal(size=(3,)), _rng.normal(size=(4, 1))
with answering("unbroadcast"), autograd_off():
    check_gradients(lambda x, b: x * b, {"x": _x, "b": _b},
                    lambda d: (d * _b, unbroadcast(d * _x, _b.shape))).assert_ok()
    check_gradients(lambda x, c: x + c, {"x": _x, "c": _c},
                    lambda d: (unbroadcast(d, _x.shape), unbroadcast(d, _c.shape))).assert_ok()
    _G = np.ones((2, 4, 3))
    _g32 = unbroadcast(_G.astype(np.float32), (4, 1))
    _g = unbroadcast(_G, (4, 1))
expect_shape(_g, (4, 1), "unbroadcast(G (2, 4, 3), shape=(4, 1))")
expect_unchanged(np.ones((2, 4, 3)), _G, "unbroadcast (argument grad)")
expect_dtype(_g32, np.float32, "unbroadcast(float32 G (2, 4, 3), shape=(4, 1))")
print("unbroadcast: visible tests passed.")
### BEGIN HIDDEN TESTS
# a 0-d array crosses the protocol as shape (1,): the kernel reports such shapes itself
shape_of = student.kernel(
    "def shape_of(fn, *args):\n    return list(np.shape(fn(*args)))\n")
G = np.arange(24.0).reshape(2, 4, 3)
rng = np.random.default_rng(seed)
x, b, c = rng.normal(size=(5, 4)), rng.normal(size=(4,)), rng.normal(size=(5, 1))
with student.autograd_off():
    for shape, want in [
        ((4, 1), [[42.0], [60.0], [78.0], [96.0]]),
        ((3,), [84.0, 92.0, 100.0]),
        ((1, 3), [[84.0, 92.0, 100.0]]),
        ((2, 1, 3), [[[18.0, 22.0, 26.0]], [[66.0, 70.0, 74.0]]]),
        ((2, 4, 3), G),
    ]:
        expect_close(student.unbroadcast(G, shape), want,
                     f"unbroadcast(G = np.arange(24.0).reshape(2, 4, 3), shape={shape})",
                     hint="Sum over the added leading axes, then with keepdims over the "
                          "axes where shape has size 1")
    what = "unbroadcast(G = np.arange(24.0).reshape(2, 4, 3), shape=())"
    expect_shape(np.empty(shape_of(student.unbroadcast, G, ())), (), what)
    expect_close(np.ravel(student.unbroadcast(G, ()))[:1], [276.0], what)

    def analytic(d):
        e = 2 * (x * b - c) * d
        return e * b, student.unbroadcast(e * x, (4,)), -np.asarray(student.unbroadcast(e, (5, 1)))

    gradients_ok("unbroadcast, for (x * b - c)**2 with x (5, 4), b (4,) and c (5, 1)",
                 lambda x, b, c: (x * b - c) ** 2, {"x": x, "b": b, "c": c}, analytic)
    grad = rng.normal(size=(5, 4))
    result, after = student.unbroadcast.inputs_after(grad, (4,))
    expect_unchanged(grad, after[0], "unbroadcast (argument grad)")
    what = "unbroadcast(float32 G (2, 4, 3), shape=(4, 1))"
    got = student.unbroadcast(G.astype(np.float32), (4, 1))
    expect_dtype(got, np.float32, what)
    expect_close(got, [[42.0], [60.0], [78.0], [96.0]], what)
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# For an operand of shape `shape` whose gradient arrived with the broadcast shape:
#
# 1. sum over the leading axes that broadcasting added
#    (the gradient has more axes than the operand);
# 2. sum, keeping the axis, over every axis where the operand has size 1
#    and the gradient does not.
#
# After both steps the gradient has exactly the operand's shape.
# For `sum_backward`, put a dropped axis back with `np.expand_dims` and `np.broadcast_to` the
# shape of `x`; for `max_backward`, divide the indicator of the maxima along the axis by their
# count, so tied maxima share the error equally.
#
# </details>

# %% [markdown]
# ## 6. Univariate logistic least squares, in error-signal notation
#
# A one-input, one-output model:
#
# $$z = wx + b, \qquad y = \sigma(z), \qquad \mathcal{L} = \tfrac{1}{2}(y - t)^2.$$
#
# Expanding $\partial \mathcal{L} / \partial w$ by hand repeats $\sigma(wx + b)$ in every term.
# Instead we compute one error signal per node, from the loss backwards,
# each from the one after it, starting from $\bar{\mathcal{L}} = 1$.
# Each is a value the program stores, not a formula to simplify.
#
# **L2 regularisation** adds a penalty on the weight:
#
# $$\Omega = \tfrac{1}{2} w^2, \qquad
# \mathcal{L}_\text{reg} = \mathcal{L} + \lambda \Omega.$$
#
# (The lecture calls the penalty $\mathcal{R}$; we keep $R$ for the output of a program,
# see the [notation sheet](#Notation).)
# Now $w$ feeds two nodes, $z$ and $\Omega$.
# The bias is usually left out of the penalty, and we do the same.
#
# ### Exercise 7 (3 points): logistic least squares with L2
#
# Derive the error signals $\bar{y}$, $\bar{z}$, $\bar{w}$ and $\bar{b}$ of the regularised loss,
# one node at a time from $\bar{\mathcal{L}}_\text{reg} = 1$ backwards,
# each written with the signal of the node after it and the values of the forward pass
# (use exercise 5 for $\sigma'$; where a node feeds two others, what happens to their signals?).
# Then return the regularised loss as a Python float,
# and a dict of the error signals with keys `"y"`, `"z"`, `"w"`, `"b"`, also floats.
# With `lam=0` you get the plain model.

# %% nbgrader={"grade": false, "grade_id": "a2-logistic-ls", "locked": false, "schema_version": 3, "solution": true, "task": false}
def logistic_least_squares(w, b, x, t, lam=0.0):
    """Loss 0.5 * (sigmoid(w x + b) - t)**2 + lam * 0.5 * w**2 and the error signals y, z, w, b."""
    ### BEGIN SOLUTION
    z = w * x + b
    y = 1.0 / (1.0 + np.exp(-z))
    loss = 0.5 * (y - t) ** 2
    reg = 0.5 * w**2
    loss_reg = loss + lam * reg
    loss_reg_bar = 1.0
    reg_bar = lam * loss_reg_bar
    loss_bar = loss_reg_bar
    y_bar = loss_bar * (y - t)
    z_bar = y_bar * y * (1.0 - y)
    w_bar = z_bar * x + reg_bar * w
    b_bar = z_bar
    bars = {"y": float(y_bar), "z": float(z_bar), "w": float(w_bar), "b": float(b_bar)}
    return float(loss_reg), bars
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-logistic-ls-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: logistic least-squares loss and error signals, with and without L2, pass gradcheck.
def _logistic_ref(w, b, x, t, lam):
    y = 1 / (1 + np.exp(-(w * x + b)))
    return 0.5 * (y - t) ** 2 + lam * 0.5 * w**2


for _w, _b, _x, _t, _lam in [(0.5, -0.2, 1.5, 1.0, 0.0), (-1.0, 0.3, 2.0, 0.0, 0.1)]:
    with answering("logistic_least_squares"), autograd_off():
        _loss, _bars = logistic_least_squares(_w, _b, _x, _t, _lam)
    assert isinstance(_loss, float), f"the loss must be a Python float, got {type(_loss).__name__}"
    assert set(_bars) == {"y", "z", "w", "b"}, f"keys must be y, z, w, b; got {sorted(_bars)}"
    assert np.isclose(_loss, _logistic_ref(_w, _b, _x, _t, _lam)), f"loss: got {_loss}"
    _z = _w * _x + _b
    _y = 1 / (1 + np.exp(-_z))
    assert np.isclose(_bars["y"], _y - _t), f"y-bar should be y - t = {_y - _t}, got {_bars['y']}"
    check_gradients(
        lambda w, b, x=_x, t=_t, lam=_lam: _logistic_ref(w[0], b[0], x, t, lam),
        {"w": np.array([_w]), "b": np.array([_b])},
        {"w": np.array([_bars["w"]]), "b": np.array([_bars["b"]])},
    ).assert_ok()
print("Exercise 7: visible tests passed.")
### BEGIN HIDDEN TESTS
def answer(w, b, x, t, lam=None):
    """The student's loss and error signals, with the types and keys checked."""
    shown = f"w={w:.4g}, b={b:.4g}, x={x:.4g}, t={t:.4g}"
    if lam is None:
        out = student.logistic_least_squares(w, b, x, t)
    else:
        out = student.logistic_least_squares(w, b, x, t, lam)
        shown += f", lam={lam:.4g}"
    shown = f"logistic_least_squares({shown})"
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{shown} must return (loss, bars), got {describe(out)}")
    loss, bars = out
    assert isinstance(loss, float), (
        f"{shown}: the loss must be a Python float, got {type(loss).__name__}")
    assert isinstance(bars, dict) and set(bars) == {"y", "z", "w", "b"}, (
        f"{shown}: the error signals must be a dict with keys y, z, w, b, got "
        f"{sorted(map(str, bars)) if isinstance(bars, dict) else type(bars).__name__}")
    assert all(isinstance(v, float) for v in bars.values()), (
        f"{shown}: every error signal must be a Python float, got "
        f"{ {k: type(v).__name__ for k, v in bars.items()} }")
    return shown, loss, [bars["y"], bars["z"], bars["w"], bars["b"]]


with student.autograd_off():
    for args, want_loss, want_bars in [
        ((0.5, -0.2, 1.5, 1.0), 0.0669284, [-0.3658644, -0.0848833, -0.1273250, -0.0848833]),
        ((0.5, -0.2, 1.5, 1.0, 0.2), 0.0919284, [-0.3658644, -0.0848833, -0.0273250, -0.0848833]),
        ((-1.0, 0.3, 2.0, 0.0, 0.1), 0.0619298, [0.1544653, 0.0201741, -0.0596519, 0.0201741]),
    ]:
        shown, loss, got = answer(*args)
        assert np.isclose(loss, want_loss, atol=1e-6), (
            f"{shown}: the loss must be {want_loss:.7f}, got {loss:.7f}")
        assert np.allclose(got, want_bars, atol=1e-6), (
            f"{shown}: the error signals (y, z, w, b) must be {want_bars}, "
            f"got {[round(v, 7) for v in got]}")

    rng = np.random.default_rng(seed)
    for _ in range(3):
        w, b, x, t = (float(v) for v in rng.normal(size=4))
        lam = float(rng.uniform(0.0, 1.0))

        def loss_ref(w, b, x=x, t=t, lam=lam):
            y = 1 / (1 + np.exp(-(w[0] * x + b[0])))
            return 0.5 * (y - t) ** 2 + 0.5 * lam * w[0] ** 2

        shown, loss, got = answer(w, b, x, t, lam)
        want = loss_ref(np.array([w]), np.array([b]))
        assert np.isclose(loss, want), f"{shown}: the loss must be {want:.6g}, got {loss:.6g}"
        y = 1 / (1 + np.exp(-(w * x + b)))
        assert np.isclose(got[0], y - t), (
            f"{shown}: y-bar must be y - t = {y - t:.6g}, got {got[0]:.6g}")
        assert np.isclose(got[1], (y - t) * y * (1 - y)), (
            f"{shown}: z-bar must be y-bar * y * (1 - y) = {(y - t) * y * (1 - y):.6g}, "
            f"got {got[1]:.6g}")
        gradients_ok(f"{shown}, the error signals of w and b", loss_ref,
                     {"w": np.array([w]), "b": np.array([b])},
                     {"w": np.array([got[2]]), "b": np.array([got[3]])})
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# $$\bar{\mathcal{L}}_\text{reg} = 1, \quad
# \bar{\Omega} = \lambda \bar{\mathcal{L}}_\text{reg}, \quad
# \bar{\mathcal{L}} = \bar{\mathcal{L}}_\text{reg}, \quad
# \bar{y} = \bar{\mathcal{L}}\,(y - t), \quad
# \bar{z} = \bar{y}\, \sigma'(z) = \bar{y}\, y(1 - y),$$
#
# $$\bar{w} = \bar{z}\, x + \bar{\Omega}\, w, \quad \bar{b} = \bar{z}.$$
#
# $w$ feeds $z$ and $\Omega$, so its error signal is the sum of the two paths' messages;
# with $\lambda = 0$ the second one vanishes.
#
# </details>

# %% [markdown]
# With one training pair $(x, t) = (2, 1)$ the plain model can always lower its loss
# by making $w$ larger, since $\sigma(wx + b)$ only approaches 1.
# The penalty $\lambda \Omega$ stops that growth.
# Below we keep $b = 0$ and run gradient descent on $w$ with your $\bar{w}$,
# for three values of $\lambda$; the dots mark where each run ends.

# %%
fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
w_grid = np.linspace(-2, 6, 120)
for lam, colour in [(0.0, "C0"), (0.01, "C1"), (0.05, "C2")]:
    w = 0.0
    path = []
    for _step in range(300):
        loss, bars = logistic_least_squares(w, 0.0, 2.0, 1.0, lam)
        path.append(w)
        w -= 2.0 * bars["w"]
    axes[0].plot(path, color=colour, label=f"lambda = {lam}")
    curve = [logistic_least_squares(wg, 0.0, 2.0, 1.0, lam)[0] for wg in w_grid]
    axes[1].plot(w_grid, curve, color=colour, label=f"lambda = {lam}")
    axes[1].plot([w], [logistic_least_squares(w, 0.0, 2.0, 1.0, lam)[0]], "o", color=colour)
axes[0].set_xlabel("gradient descent step")
axes[0].set_ylabel("w")
axes[0].set_title("the weight during training")
axes[1].set_xlabel("w (with b = 0)")
axes[1].set_ylabel("regularised loss")
axes[1].set_title("the loss the weight descends")
axes[1].set_ylim(0, 0.2)
for ax in axes:
    ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 7. The two-layer network, now in vector form
#
# In assignment 1 we differentiated
# $\mathcal{L} = [\max(\max(w_1 x + b_1, 0)\, w_2 + b_2, 0) - y]^2$ with one number per weight,
# and at $(x, y, w_1, b_1, w_2, b_2) = (2, 10, -1, 4, 3, 1)$ found
# $\mathcal{L} = 9$ and $\partial \mathcal{L}/\partial(w_1, b_1, w_2, b_2) = (-36, -18, -12, -6)$.
# Now every weight becomes a matrix, every unit a vector:
#
# $$z_1 = x W_1 + b_1, \quad h = \operatorname{relu}(z_1), \quad
# \hat{y} = h W_2 + b_2, \quad \mathcal{L} = \lVert \hat{y} - y \rVert^2,$$
#
# with $x \in \mathbb{R}^{d}$, $W_1 \in \mathbb{R}^{d \times K}$, $W_2 \in \mathbb{R}^{K \times c}$ ($K$ hidden units).
# We drop the outer ReLU of the lecture's version:
# a regression output should be able to go negative,
# and at the lecture's point its input is $7 > 0$,
# so it changes neither the loss nor the gradients there.
#
# First the way assignment 1 would write it:
# one Python expression per scalar, loops over the units.

# %%
def mlp_loops(x, y, W1, b1, W2, b2):
    """Loss and gradients of the two-layer network, one scalar at a time."""
    n_in, n_hid = W1.shape
    n_out = W2.shape[1]
    z1 = [0.0] * n_hid
    h = [0.0] * n_hid
    for j in range(n_hid):
        z1[j] = b1[j]
        for i in range(n_in):
            z1[j] += x[i] * W1[i, j]
        h[j] = z1[j] if z1[j] > 0 else 0.0
    y_hat = [0.0] * n_out
    loss = 0.0
    for k in range(n_out):
        y_hat[k] = b2[k]
        for j in range(n_hid):
            y_hat[k] += h[j] * W2[j, k]
        loss += (y_hat[k] - y[k]) ** 2
    dW1, db1 = np.zeros_like(W1), np.zeros_like(b1)
    dW2, db2 = np.zeros_like(W2), np.zeros_like(b2)
    dh = [0.0] * n_hid
    for k in range(n_out):
        dy_hat = 2 * (y_hat[k] - y[k])
        db2[k] = dy_hat
        for j in range(n_hid):
            dW2[j, k] = h[j] * dy_hat
            dh[j] += W2[j, k] * dy_hat
    for j in range(n_hid):
        dz1 = dh[j] if z1[j] > 0 else 0.0
        db1[j] = dz1
        for i in range(n_in):
            dW1[i, j] = x[i] * dz1
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


point = [np.array([2.0]), np.array([10.0]), np.array([[-1.0]]), np.array([4.0]),
         np.array([[3.0]]), np.array([1.0])]
loss, grads = mlp_loops(*point)
print("loss", loss, " grads", {name: g.ravel() for name, g in grads.items()})

# %% [markdown]
# It reproduces assignment 1, and it works for any widths,
# but every loop is a place to put an index wrong, and Python loops are slow.
# In vector form each loop becomes one line.
#
# ### Exercise 8 (4 points): the two-layer network in vector form
#
# Derive the error signals of the network, from $\bar{\mathcal{L}} = 1$ back to $\bar{W}_1$:
# $\bar{\hat{y}}$ (shape $(c,)$), then $\bar{W}_2$, $\bar{b}_2$ and $\bar{h}$ (shape $(K,)$),
# then $\bar{z}_1$, $\bar{W}_1$ and $\bar{b}_1$;
# each step is a node of sections 2 and 4, and each result has the shape of its variable.
# Then write the loss and all four parameter gradients with array operations only (no Python loops).
# Return the loss as a Python float and the gradients in a dict with keys
# `"W1"`, `"b1"`, `"W2"`, `"b2"`, each with its parameter's shape and dtype.
# You may call your `affine_forward`, `affine_backward` and `relu_backward`
# from exercises 4 and 5, or write the lines out.
# This exercise is graded on its own:
# the hidden tests answer those calls with the right values for their inputs,
# so a mistake in exercise 4 or 5 costs points there only.
# The visible test below runs your own functions;
# when it fails after calling one whose own tests have not passed, it says so and does not fail.

# %% nbgrader={"grade": false, "grade_id": "a2-mlp-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_loss_and_grads(x, y, W1, b1, W2, b2):
    """Loss ||relu(x @ W1 + b1) @ W2 + b2 - y||^2 and its gradients W1, b1, W2, b2."""
    ### BEGIN SOLUTION
    z1 = affine_forward(x, W1, b1)
    h = np.maximum(z1, 0)
    y_hat = affine_forward(h, W2, b2)
    loss = float(np.sum((y_hat - y) ** 2))
    dy_hat = 2 * (y_hat - y)
    dh, dW2, db2 = affine_backward(dy_hat, h, W2)
    dz1 = relu_backward(dh, z1)
    _, dW1, db1 = affine_backward(dz1, x, W1)
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-mlp-backward-test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
# Checks: the vector two-layer network reproduces assignment 1, passes gradcheck, keeps float32.
def _check_mlp():
    """The visible checks of exercise 8 (check_on_its_own runs them, see the setup cell)."""
    with answering("mlp_loss_and_grads"), autograd_off():
        loss, grads = mlp_loss_and_grads(*point)
        assert isinstance(loss, float), (
            f"mlp_loss_and_grads: the loss must be a Python float, got {type(loss).__name__}")
        expect_close(loss, 9.0, "mlp_loss_and_grads at the lecture's point: the loss")
        expect_close([float(np.ravel(grads[k])[0]) for k in ("W1", "b1", "W2", "b2")],
                     [-36, -18, -12, -6],
                     "mlp_loss_and_grads at the lecture's point: the gradients (W1, b1, W2, b2)")
        rng = np.random.default_rng(6)
        params = {"W1": rng.normal(size=(3, 5)), "b1": rng.normal(size=5),
                  "W2": rng.normal(size=(5, 2)), "b2": rng.normal(size=2)}
        x, y = rng.normal(size=3), rng.normal(size=2)
        loss, grads = mlp_loss_and_grads(x, y, *params.values())
        for k, v in params.items():
            expect_shape(grads[k], v.shape, f"mlp_loss_and_grads (3 inputs, 5 hidden units, "
                                            f"2 outputs): grads['{k}']")
        check_gradients(lambda W1, b1, W2, b2: np.sum((np.maximum(x @ W1 + b1, 0) @ W2 + b2
                                                       - y) ** 2),
                        params, grads).assert_ok()
        p32 = [v.astype(np.float32) for v in params.values()]
        loss, grads = mlp_loss_and_grads(x.astype(np.float32), y.astype(np.float32), *p32)
        for k in params:
            expect_dtype(grads[k], np.float32, f"mlp_loss_and_grads(float32 inputs): grads['{k}']")


if check_on_its_own(_check_mlp, "affine_forward", "affine_backward", "relu_backward"):
    print("Exercise 8: visible tests passed.")
### BEGIN HIDDEN TESTS
NAMES = ("W1", "b1", "W2", "b2")


def earlier_answers(x, y, W1, b1, W2, b2, into):
    """Add to `into` what affine_forward, affine_backward and relu_backward must return for
    the calls a correct mlp_loss_and_grads makes on these inputs (the stand-ins' answers)."""
    z1 = x @ W1 + b1
    into["affine_forward"].append(((x, W1, b1), z1))
    for h in (np.maximum(z1, 0), z1 * (z1 > 0)):  # 0.0 or -0.0 where a unit is off
        y_hat = h @ W2 + b2
        dy = 2 * (y_hat - y)
        dh = W2 @ dy
        dz1 = dh * (z1 > 0)
        into["affine_forward"].append(((h, W2, b2), y_hat))
        into["affine_backward"] += [((dy, h, W2), (dh, np.outer(h, dy), dy.copy())),
                                    ((dz1, x, W1), (W1 @ dz1, np.outer(x, dz1), dz1.copy()))]
        into["relu_backward"] += [((dh, z1), dz1), ((dh, h), dz1)]


def answer(shown, out):
    """The student's loss and gradient dict, with the types and keys checked."""
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"mlp_loss_and_grads {shown} must return (loss, grads), got {describe(out)}")
    loss, grads = out
    assert isinstance(loss, float), (
        f"mlp_loss_and_grads {shown}: the loss must be a Python float, "
        f"got {type(loss).__name__}")
    assert isinstance(grads, dict) and set(NAMES) <= set(grads), (
        f"mlp_loss_and_grads {shown}: the gradients must be a dict with keys W1, b1, W2, b2, "
        f"got {sorted(map(str, grads)) if isinstance(grads, dict) else type(grads).__name__}")
    return loss, {k: np.asarray(grads[k]) for k in NAMES}


def mlp_ref(x, y):
    def loss(W1, b1, W2, b2):
        return np.sum((np.maximum(x @ W1 + b1, 0.0) @ W2 + b2 - y) ** 2)
    return loss


lecture = (np.array([2.0]), np.array([10.0]), np.array([[-1.0]]), np.array([4.0]),
           np.array([[3.0]]), np.array([1.0]))
small = (np.array([1.0, -1.0]), np.array([0.5, -0.5]),
         np.array([[1.0, -2.0, 0.5], [0.5, 1.0, -1.0]]), np.array([0.0, 0.5, 0.25]),
         np.array([[1.0, 0.0], [2.0, -1.0], [-1.0, 1.0]]), np.array([0.1, -0.2]))
rng = np.random.default_rng(seed)
while True:  # every hidden unit at least 0.1 away from ReLU's kink
    p = {"W1": rng.normal(size=(4, 6)), "b1": rng.normal(size=6),
         "W2": rng.normal(size=(6, 3)), "b2": rng.normal(size=3)}
    x, y = rng.normal(size=4), rng.normal(size=3)
    if np.min(np.abs(x @ p["W1"] + p["b1"])) > 0.1:
        break
rand = (x, y, *p.values())
rand32 = tuple(a.astype(np.float32) for a in rand)
stand_ins = {"affine_forward": [], "affine_backward": [], "relu_backward": []}
for args in (lecture, small, rand, rand32):
    earlier_answers(*args, stand_ins)
with student.autograd_off(), student.standins(stand_ins):
    outs = [student.mlp_loss_and_grads(*args) for args in (lecture, small, rand, rand32)]

shown = "at the lecture's point (x, y, W1, b1, W2, b2) = (2, 10, -1, 4, 3, 1)"
loss, g = answer(shown, outs[0])
expect_close(loss, 9.0, f"mlp_loss_and_grads {shown}: the loss")
expect_close([float(np.ravel(g[k])[0]) if g[k].size else np.nan for k in NAMES],
             [-36, -18, -12, -6], f"mlp_loss_and_grads {shown}: the gradients (W1, b1, W2, b2)")

shown = ("with 2 inputs, 3 hidden units (the second one inactive, z1 = [0.5, -2.5, 1.75]) "
         "and 2 outputs")
loss, g = answer(shown, outs[1])
expect_close(loss, 6.925, f"mlp_loss_and_grads {shown}: the loss")
for k, want in [("b2", [-3.3, 4.1]),
                ("W2", [[-1.65, 2.05], [0.0, 0.0], [-5.775, 7.175]]),
                ("b1", [-3.3, 0.0, 7.4]),
                ("W1", [[-3.3, 0.0, 7.4], [3.3, 0.0, -7.4]])]:
    expect_close(g[k], want, f"mlp_loss_and_grads {shown}: grads['{k}']")

shown = "for random x (4,), y (3,), W1 (4, 6), b1 (6,), W2 (6, 3), b2 (3,)"
loss, g = answer(shown, outs[2])
want = mlp_ref(x, y)(*p.values())
expect_close(loss, want, f"mlp_loss_and_grads {shown}: the loss")
for k in NAMES:
    expect_shape(g[k], p[k].shape, f"mlp_loss_and_grads {shown}: grads['{k}']")
gradients_ok(f"mlp_loss_and_grads {shown}", mlp_ref(x, y), p, g)

shown = "on float32 inputs of the same shapes"
loss, g = answer(shown, outs[3])
for k in NAMES:
    expect_dtype(g[k], np.float32, f"mlp_loss_and_grads({shown}): grads['{k}']")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# $$\bar{\hat{y}} = 2(\hat{y} - y), \quad
# \bar{W}_2 = h^\top \bar{\hat{y}}, \quad \bar{b}_2 = \bar{\hat{y}}, \quad
# \bar{h} = \bar{\hat{y}}\, W_2^\top,$$
#
# $$\bar{z}_1 = \bar{h} \circ \mathbb{1}[z_1 > 0], \quad
# \bar{W}_1 = x^\top \bar{z}_1, \quad \bar{b}_1 = \bar{z}_1 .$$
#
# The outer products $h^\top \bar{\hat{y}}$ and $x^\top \bar{z}_1$ are `np.outer(h, dy_hat)`
# and `np.outer(x, dz1)`: exercise 4's `affine_backward` twice, with `relu_backward` between.
#
# </details>

# %% [markdown]
# The two versions agree, and the vector one is much shorter and faster.
# We count statements (not comments or docstrings) and time both at width 64.

# %%
def statements(fn):
    """Number of statements in a function's body, leaving out its docstring."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    body = tree.body[0].body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return sum(1 for node in ast.walk(ast.Module(body=body, type_ignores=[]))
               if isinstance(node, ast.stmt))


wide_rng = np.random.default_rng(7)
wide = [wide_rng.normal(size=8), wide_rng.normal(size=3), wide_rng.normal(size=(8, 64)),
        wide_rng.normal(size=64), wide_rng.normal(size=(64, 3)), wide_rng.normal(size=3)]
loss_loops, grads_loops = mlp_loops(*wide)
loss_vec, grads_vec = mlp_loss_and_grads(*wide)
print("same loss:", np.isclose(loss_loops, loss_vec),
      " same gradients:", all(np.allclose(grads_loops[k], grads_vec[k]) for k in grads_loops))
t_loops = best_time(mlp_loops, *wide)
t_vec = best_time(mlp_loss_and_grads, *wide)
print(f"scalar loops: {statements(mlp_loops):3d} statements, {t_loops * 1e3:7.3f} ms")
print(f"vector form:  {statements(mlp_loss_and_grads):3d} statements, {t_vec * 1e3:7.3f} ms")

# %% [markdown]
# To see the network learn, we fit $y = \sin(x)$ on 32 points with 16 hidden units,
# one example at a time with plain gradient descent steps.
# In assignment 3 one call handles the whole batch.

# %%
def mlp_predict(x, W1, b1, W2, b2):
    """The network's output; x may also hold one example per row, as in assignment 3."""
    return np.maximum(x @ W1 + b1, 0) @ W2 + b2


data_rng = np.random.default_rng(8)
xs = np.linspace(-3, 3, 32)
ts = np.sin(xs) + 0.1 * data_rng.normal(size=32)
net = {"W1": data_rng.normal(size=(1, 16)), "b1": data_rng.normal(size=16),
       "W2": data_rng.normal(size=(16, 1)) / 4, "b2": np.zeros(1)}
epoch_losses = []
for _epoch in range(150):
    total = 0.0
    for i in data_rng.permutation(32):
        loss, grads = mlp_loss_and_grads(xs[i : i + 1], ts[i : i + 1], *net.values())
        total += loss
        for name in net:
            net[name] -= 0.01 * grads[name]
    epoch_losses.append(total / 32)

fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
axes[0].plot(epoch_losses)
axes[0].set_yscale("log")
axes[0].set_xlabel("epoch")
axes[0].set_ylabel("mean squared error")
axes[0].set_title("training loss")
grid = np.linspace(-3.5, 3.5, 200)
fit = mlp_predict(grid[:, None], *net.values())[:, 0]
axes[1].plot(xs, ts, "o", label="data")
axes[1].plot(grid, fit, label="network")
axes[1].plot(grid, np.sin(grid), "--", label="sin(x)")
axes[1].set_title("the fitted function")
axes[1].legend()
fig.tight_layout()
print(f"mean squared error after {len(epoch_losses)} epochs: {epoch_losses[-1]:.4f}")

# %% [markdown]
# ## 8. Spot the bug: `np.max` against `np.maximum`
#
# Here is one layer of the network with a loss, written the way a lecture slide writes it:
#
# $$p = x W, \quad q = \operatorname{relu}(p), \quad r = q - y, \quad s = r^2, \quad
# t = s + z, \quad \mathcal{L} = \textstyle\sum_i t_i,$$
#
# followed by its backward pass, one error signal per line.
# It runs without an error, the shapes of all gradients are right,
# and on a one-unit example with positive $p$ it gives the right numbers.
# It is still wrong.

# %% nbgrader={"grade": false, "grade_id": "a2-buggy-layer", "locked": true, "schema_version": 3, "solution": false, "task": false}
def layer_loss_and_grads_buggy(x, W, y, z):
    """L = sum((relu(x @ W) - y)**2 + z) and the gradients for x, W, y, z. Contains one bug."""
    p = x @ W
    q = np.max(p, 0)
    r = q - y
    s = r**2
    t = s + z
    loss = float(t.sum())
    dt = np.ones_like(t)
    ds, dz = dt, dt
    dr = 2 * r * ds
    dq, dy = dr, -dr
    dp = (p > 0) * dq
    dx, dW = W @ dp, np.outer(x, dp)
    return loss, {"x": dx, "W": dW, "y": dy, "z": dz}


# %% [markdown]
# A gradient check compares the backward pass with finite differences of the *forward* code,
# so it notices when the two disagree.

# %%
bug_rng = np.random.default_rng(11)
bx, bW, by, bz = (bug_rng.normal(size=3), bug_rng.normal(size=(3, 4)),
                  bug_rng.normal(size=4), bug_rng.normal(size=4))
_, bug_grads = layer_loss_and_grads_buggy(bx, bW, by, bz)
report = check_gradients(lambda x, W, y, z: layer_loss_and_grads_buggy(x, W, y, z)[0],
                         {"x": bx, "W": bW, "y": by, "z": bz}, bug_grads)
print("gradient check passed:", bool(report))
report

# %% [markdown]
# Read the report: the inputs whose gradients fail tell us where to look.
# Then print `p` and `q` for these inputs and compare the shapes.
#
# ### Exercise 9 (5 points): diagnose and fix the layer
#
# First in words: this part is graded by hand, after the deadline.
# In the markdown cell below, in three or four sentences of your own, answer:
# what does `np.max(p, 0)` compute for the `p` of this layer,
# why does the example with one unit and $p > 0$ hide the bug,
# and why does the gradient check above still catch it?
# Double-click the cell and replace its text with your answer.

# %% [markdown] nbgrader={"grade": true, "grade_id": "a2-spot-the-bug-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false} rubric=[{"points": 1, "criterion": "np.max(p, 0) reduces p over axis 0: one number, the largest entry of p, where the layer needs the entrywise ReLU np.maximum(p, 0); broadcasting spreads that number over y without an error."}, {"points": 1, "criterion": "With one unit, p has a single entry, so its maximum is p itself, and for p > 0 the ReLU also returns p: both forward passes give the same loss, so the small example cannot tell them apart."}, {"points": 1, "criterion": "The backward pass is the ReLU's, so it no longer matches the forward code that runs; the gradient check compares it with finite differences of that code on several units and finds the mismatch (a test with several units or a negative p would too)."}]
# `np.max(p, 0)` is a reduction along axis 0: it returns a single number, the largest entry of `p`,
# while the layer needs `np.maximum(p, 0)`, which compares each entry with 0.
# Broadcasting spreads that one number over `y`, so nothing fails and the shapes look right.
# With one unit, `p` has one entry, so its maximum is `p` itself, and for $p > 0$ the ReLU returns `p` too:
# both versions give the same loss, and the small example cannot tell them apart.
# The backward pass is written for the ReLU, not for the maximum that the forward code computes,
# so on several units the gradient check's finite differences of the forward code disagree with it.

# %% [markdown]
# Then in code: write `layer_loss_and_grads`, the corrected version of the function above,
# with the same signature and the same return values.

# %% nbgrader={"grade": false, "grade_id": "a2-spot-the-bug", "locked": false, "schema_version": 3, "solution": true, "task": false}
def layer_loss_and_grads(x, W, y, z):
    """L = sum((relu(x @ W) - y)**2 + z) and the gradients for x, W, y, z (as a dict)."""
    ### BEGIN SOLUTION
    p = x @ W
    q = np.maximum(p, 0)
    r = q - y
    s = r**2
    t = s + z
    loss = float(t.sum())
    dt = np.ones_like(t)
    ds, dz = dt, dt
    dr = 2 * r * ds
    dq, dy = dr, -dr
    dp = (p > 0) * dq
    dx, dW = W @ dp, np.outer(x, dp)
    return loss, {"x": dx, "W": dW, "y": dy, "z": dz}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-spot-the-bug-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: the fixed layer applies relu elementwise, keeps the shapes and passes gradcheck.
def _layer_ref(x, W, y, z):
    return np.sum((np.maximum(x @ W, 0) - y) ** 2 + z)


with answering("layer_loss_and_grads"), autograd_off():
    _loss, _g = layer_loss_and_grads(np.array([1.0]), np.array([[-2.0]]),
                                     np.array([0.5]), np.array([0.25]))
    expect_close(_loss, 0.5, "layer_loss_and_grads(x=[1], W=[[-2]], y=[0.5], z=[0.25]): "
                             "relu gives 0, so the loss")
    _loss, _g = layer_loss_and_grads(bx, bW, by, bz)
    expect_close(_loss, _layer_ref(bx, bW, by, bz),
                 "layer_loss_and_grads(x (3,), W (3, 4), y (4,), z (4,)): the loss")
    for _k, _v in {"x": bx, "W": bW, "y": by, "z": bz}.items():
        expect_shape(_g[_k], _v.shape, f"layer_loss_and_grads(x (3,), W (3, 4), y (4,), z (4,)): "
                                       f"grads['{_k}']")
check_gradients(_layer_ref, {"x": bx, "W": bW, "y": by, "z": bz}, _g).assert_ok()
print("Exercise 9: visible tests passed.")
### BEGIN HIDDEN TESTS
NAMES = ("x", "W", "y", "z")


def answer(shown, *args):
    """The student's loss and gradient dict, with the keys checked."""
    out = student.layer_loss_and_grads(*args)
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"layer_loss_and_grads {shown} must return (loss, grads), got {describe(out)}")
    loss, grads = out
    assert isinstance(grads, dict) and set(NAMES) <= set(grads), (
        f"layer_loss_and_grads {shown}: the gradients must be a dict with keys x, W, y, z, "
        f"got {sorted(map(str, grads)) if isinstance(grads, dict) else type(grads).__name__}")
    return loss, {k: np.asarray(grads[k]) for k in NAMES}


def layer_ref(x, W, y, z):
    return np.sum((np.maximum(x @ W, 0.0) - y) ** 2 + z)


with student.autograd_off():
    x = np.array([1.0, 2.0])
    W = np.array([[1.0, -1.0, 0.5], [-2.0, 0.25, 1.0]])
    y = np.array([0.5, -1.0, 1.0])
    z = np.array([0.1, 0.2, 0.3])
    shown = ("with x = [1, 2], W = [[1, -1, 0.5], [-2, 0.25, 1]] (so x @ W = [-3, -0.5, 2.5]), "
             "y = [0.5, -1, 1], z = [0.1, 0.2, 0.3]")
    loss, g = answer(shown, x, W, y, z)
    assert np.isclose(loss, 4.1), (
        f"layer_loss_and_grads {shown}: relu applies to each entry, so the loss must be 4.1, "
        f"got {show(loss)}")
    for k, want in [("x", [1.5, 3.0]), ("W", [[0, 0, 3.0], [0, 0, 6.0]]),
                    ("y", [1.0, -2.0, -3.0]), ("z", [1.0, 1.0, 1.0])]:
        want = np.array(want, dtype=float)
        assert g[k].shape == want.shape and np.allclose(g[k], want), (
            f"layer_loss_and_grads {shown}: grads['{k}'] must be {want.tolist()}, "
            f"got {show(g[k])}")

    rng = np.random.default_rng(seed)
    while True:  # every unit at least 0.1 away from ReLU's kink
        p = {"x": rng.normal(size=4), "W": rng.normal(size=(4, 5)),
             "y": rng.normal(size=5), "z": rng.normal(size=5)}
        if np.min(np.abs(p["x"] @ p["W"])) > 0.1:
            break
    shown = "for random x (4,), W (4, 5), y (5,), z (5,)"
    loss, g = answer(shown, *p.values())
    want = layer_ref(*p.values())
    assert np.isclose(loss, want), (
        f"layer_loss_and_grads {shown}: the loss must be {want:.6g}, got {show(loss)}")
    gradients_ok(f"layer_loss_and_grads {shown}", layer_ref, p, g)
### END HIDDEN TESTS

# %% [markdown]
# The lessons: test with more than one unit and with negative pre-activations,
# and let a gradient check compare the backward pass with the forward code.
#
# ## 9. Registering a backward with the engine: `mg.Function`
#
# minigrad's `Tensor` records every op in a graph and runs the transfer rules for us.
# We can add our own op by subclassing `mg.Function`:
#
# * `forward(ctx, *arrays)` receives plain numpy arrays and returns the output array;
#   it stores what the backward needs with `ctx.save_for_backward(...)`.
# * `backward(ctx, grad_output)` receives the error signal of the output
#   and returns one gradient per input, in order, as a tuple;
#   the saved arrays are in `ctx.saved_tensors`.
# * `MyOp.apply(t1, t2, ...)` calls it on Tensors and records it in the graph.
#
# `mg.gradcheck.gradcheck(fn, *tensors)` then compares the engine's gradients
# of a function of Tensors (or of a `Function` subclass) with finite differences;
# like `check_gradients` it returns a report, and `.assert_ok()` raises when it failed.
#
# ### Exercise 10 (3 points): an affine op for minigrad
#
# Make `Affine` compute `x @ W + b` for one example, with your backward from exercise 4.
# Here the engine is on: the hidden tests run your op inside minigrad's graph.
# If the op calls your `affine_forward` and `affine_backward`, it is graded on its own,
# as in exercise 8: the hidden tests answer those calls with the right values.

# %% nbgrader={"grade": false, "grade_id": "a2-affine-function", "locked": false, "schema_version": 3, "solution": true, "task": false}
class Affine(mg.Function):
    """z = x @ W + b for x of shape (n_in,), W of shape (n_in, n_out), b of shape (n_out,)."""

    @staticmethod
    def forward(ctx, x, W, b):
        ### BEGIN SOLUTION
        ctx.save_for_backward(x, W)
        return affine_forward(x, W, b)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        x, W = ctx.saved_tensors
        return affine_backward(grad_output, x, W)
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a2-affine-function-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: Affine.apply computes x @ W + b as a minigrad Tensor and its gradients pass gradcheck.
def _check_affine_op():
    """The visible checks of exercise 10 (check_on_its_own runs them, see the setup cell)."""
    rng = np.random.default_rng(10)
    x = mg.Tensor(rng.normal(size=4), requires_grad=True)
    W = mg.Tensor(rng.normal(size=(4, 3)), requires_grad=True)
    b = mg.Tensor(rng.normal(size=3), requires_grad=True)
    z = Affine.apply(x, W, b)
    assert isinstance(z, mg.Tensor), f"Affine.apply must return a Tensor, got {type(z).__name__}"
    expect_shape(z.data, (3,), "Affine.apply(x (4,), W (4, 3), b (3,))")
    expect_close(z.data, x.data @ W.data + b.data, "Affine.apply(x (4,), W (4, 3), b (3,))")
    mg.gradcheck.gradcheck(Affine, x, W, b).assert_ok()


if check_on_its_own(_check_affine_op, "affine_forward", "affine_backward"):
    print("Exercise 10: visible tests passed.")
### BEGIN HIDDEN TESTS
bases = student.kernel(
    "def bases(cls):\n"
    "    return [f'{c.__module__}.{c.__qualname__}' for c in getattr(cls, '__mro__', ())]\n")
engine = student.kernel('''def engine(Affine, x, W, b, douts):
    """Affine.apply on fresh leaves that require grad: what came out, and the leaves' grads
    after each backward(dout), all on the same graph (so the second one accumulates)."""
    leaves = [mg.Tensor(np.array(a, copy=True), requires_grad=True) for a in (x, W, b)]
    out = Affine.apply(*leaves)
    seen = {"type": type(out).__name__, "tensor": isinstance(out, mg.Tensor)}
    if not seen["tensor"]:
        return seen
    seen["data"] = np.array(out.data, copy=True)
    seen["recorded"] = out._ctx is not None
    seen["grads"] = []
    for dout in douts:
        out.backward(np.asarray(dout, dtype=out.data.dtype).reshape(out.data.shape))
        seen["grads"].append(
            [None if t.grad is None else np.array(t.grad, copy=True) for t in leaves])
    return seen
''')


def run(shown, x, W, b, douts=()):
    """Affine.apply on leaves x, W, b (then backward() once per dout), in the kernel."""
    try:
        seen = engine(student.Affine, x, W, b, list(douts))
    except StudentError as exc:
        if not exc.type_name:
            raise
        then = ", then backward() on its output" if douts else ""
        where = f" ({exc.where})" if exc.where else ""
        said = f": {exc.message}" if exc.message else ""
        raise AssertionError(f"Affine.apply {shown}{then} raised {exc.type_name}{said}{where}") \
            from None
    assert seen["tensor"], f"Affine.apply {shown} must return a minigrad Tensor, got a {seen['type']}"
    assert seen["recorded"] or not douts, (
        f"Affine.apply {shown} on tensors that require grad must record the op in the graph "
        f"(the output has no ctx): call it as Affine.apply(x, W, b)")
    for grads in seen["grads"]:
        for name, g in zip(("x", "W", "b"), grads):
            assert g is not None, (
                f"Affine {shown}: after backward() the leaf {name} has no gradient; backward "
                f"must return one gradient per input, in the order (x, W, b)")
    return seen


function = f"{mg.Function.__module__}.{mg.Function.__qualname__}"
assert function in bases(student.Affine), (
    f"Affine must be a subclass of mg.Function, its classes are {bases(student.Affine)}")
x = np.array([1.0, -2.0])
W = np.array([[1.0, 0.0, 2.0], [-1.0, 3.0, 0.5]])
b = np.array([0.5, 0.0, -1.0])
shown = "on x=[1, -2], W=[[1, 0, 2], [-1, 3, 0.5]], b=[0.5, 0, -1]"
rng = np.random.default_rng(seed)
x5, W5, b5 = rng.normal(size=5), rng.normal(size=(5, 2)), rng.normal(size=2)
shown5 = "on random x (5,), W (5, 2), b (2,)"
d1, d2 = rng.normal(size=2), rng.normal(size=2)
# the answers of exercise 4's functions for the calls a correct Affine makes: judged on its own
forward_answers = [((x, W, b), x @ W + b), ((x5, W5, b5), x5 @ W5 + b5)]
backward_answers = [((d, x5, W5), (W5 @ d, np.outer(x5, d), d.copy()))
                    for d in (d1, d2, d1 + 2.0 * d2)]
with student.standins({"affine_forward": forward_answers,
                       "affine_backward": backward_answers}):
    z = run(shown, x, W, b)["data"]
    z5 = run(shown5, x5, W5, b5)["data"]
    first, second = run(shown5, x5, W5, b5, [d1, d1])["grads"]
    g2 = run(shown5, x5, W5, b5, [d2])["grads"][0]
    g12 = run(shown5, x5, W5, b5, [d1 + 2.0 * d2])["grads"][0]

expect_close(z, [3.5, -6.0, 0.0], f"Affine.apply {shown}", hint="The forward pass returns x @ W + b")
expect_close(z5, x5 @ W5 + b5, f"Affine.apply {shown5}", hint="The forward pass returns x @ W + b")
for name, got, want in zip(("x", "W", "b"), first, (W5 @ d1, np.outer(x5, d1), d1)):
    expect_close(got, want, f"Affine {shown5}, after backward(d) through the engine: {name}.grad",
                 hint="The backward pass returns (dx, dW, db) in the order of forward's inputs")

# what gradcheck(Affine, ...) adds: leaf gradients accumulate, backward is linear in dout
for name, a, a2, c2, c12 in zip(("x", "W", "b"), first, second, g2, g12):
    scale = max(float(np.max(np.abs(a))), 1e-300)
    assert a2.shape == a.shape and np.all(np.abs(a2 - 2.0 * a) <= 1e-5 * 2.0 * scale), (
        f"Affine {shown5}: a second backward() on the same graph must add the same gradient "
        f"again ({name}.grad must double), got {name}.grad = "
        f"{float(np.sum(a2 * a) / max(float(np.sum(a * a)), 1e-300)):.4g} x the first")
    want = a + 2.0 * c2
    scale = max(float(np.max(np.abs(want))), 1e-300)
    assert c12.shape == want.shape and np.all(np.abs(c12 - want) <= 1e-5 * scale), (
        f"Affine {shown5}: backward must be linear in grad_output, but the gradient of {name} "
        f"for d1 + 2 d2 is not grad(d1) + 2 grad(d2); multiply by grad_output instead of "
        f"ignoring or transforming it")
### END HIDDEN TESTS

# %% [markdown]
# With the op registered, the two-layer network needs only its forward pass;
# the engine calls our backward and the ReLU's for us.
# We check it against exercise 8 on the wide example.

# %%
def mlp_engine(x, y, W1, b1, W2, b2):
    """Loss and gradients of the two-layer network through minigrad, using Affine."""
    params = [mg.Tensor(p.copy(), requires_grad=True) for p in (W1, b1, W2, b2)]
    h = Affine.apply(mg.Tensor(x), params[0], params[1]).relu()
    loss = ((Affine.apply(h, params[2], params[3]) - mg.Tensor(y)) ** 2).sum()
    loss.backward()
    return float(loss.data), dict(zip(("W1", "b1", "W2", "b2"), (p.grad for p in params)))


loss_eng, grads_eng = mlp_engine(*wide)
print("engine == vector form:", np.isclose(loss_eng, loss_vec),
      all(np.allclose(grads_eng[k], grads_vec[k]) for k in grads_vec))
print("statements per example:")
for label, fn in [("scalar loops (assignment 1 style)", mlp_loops),
                  ("vector form, by hand", mlp_loss_and_grads),
                  ("vector form, engine + Affine", mlp_engine)]:
    print(f"  {label:35s} {statements(fn):3d}")

# %% [markdown]
# ## Summary
#
# * A Jacobian in numerator layout has one row per output and one column per input,
#   and the chain rule multiplies Jacobians in the order the functions compose.
# * Backprop never builds a Jacobian.
#   Each node applies its transfer function $\bar{x} = \bar{y}\, J$:
#   $v W^\top$ for a linear map $x W$, an outer product for its weights,
#   an elementwise product for a map, a copy for a sum, an indicator for a max.
# * At a tie the max has no derivative;
#   any split into non-negative shares of the tied entries that add up to 1 is a subgradient.
# * A full Jacobian costs $n$ JVPs or $m$ VJPs.
#   Forward mode is assignment 1's dual numbers, one JVP per input;
#   a scalar loss has $m = 1$, which is why we train with reverse mode,
#   and pay for it by keeping every layer's output until the VJP reaches it.
# * Broadcasting is fan-out, so the gradient of a broadcast operand is summed back to its shape.
# * The same two-layer network took one statement per scalar weight in assignment 1,
#   one statement per layer here, and only its forward pass once the op is registered.
#   Assignment 3 feeds it a whole batch: the forward lines stay as they are,
#   and the parameter gradients gain a sum over the batch.
