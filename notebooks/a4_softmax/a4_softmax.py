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
# # Assignment 4: softmax and cross-entropy
#
# Until now our models returned numbers that we compared with target numbers.
# Here the model has to choose one of $k$ classes,
# and we want it to say how sure it is.
# The usual recipe has three parts:
# a layer that produces one score (a *logit*) per class,
# the softmax, which turns the scores into probabilities,
# and the cross-entropy loss, which punishes a small probability on the right class.
#
# We work through the backward pass of each part by hand,
# make the forward pass safe for very large logits,
# package the loss as a custom `mg.Function`,
# and finally train two classifiers on images of handwritten digits.
#
# Plan:
# 1. softmax and log-softmax that never overflow;
# 2. the Jacobian of the softmax;
# 3. the gradient of the cross-entropy loss for one example, and why it does not saturate;
# 4. the gradients of a linear layer followed by the loss;
# 5. the same for a batch;
# 6. a fused `SoftmaxCrossEntropy` op for minigrad;
# 7. multiclass logistic regression and a small MLP on the 8x8 digits.
#
# Exercises 2, 3, 6 and 7 ask you to **derive** a gradient on paper
# and then code it **by hand, with numpy**.
# Each gives the forward pass and the shapes;
# the worked derivation follows the test cell, folded:
# open it once your own derivation passes, or when you are stuck.
# While grading these exercises, minigrad's autograd is switched off,
# in the visible tests as in the hidden ones:
# calling `.backward()` inside those functions raises an error and earns no points.
#
# We write vectors and layers as in the rest of the course
# (the [notation sheet](../a2_vectorized/a2_vectorized.ipynb#Notation)):
# an example is a row vector, a batch stacks examples as rows,
# and a linear layer computes `x @ W + b` with `W` of shape (inputs, outputs),
# as `mg.nn.Linear` stores it.
# As in assignment 2, $\bar{v} = \partial L / \partial v$ is the *error signal* of $v$
# (`dv` in code), shaped like $v$;
# $\delta_{ij}$ is only ever the Kronecker delta, $1$ when $i = j$ and $0$ otherwise.
#
# Later exercises may call your functions from earlier ones.
# Each exercise is still graded on its own:
# while a test checks exercise 3, say, your `softmax` and `log_softmax`
# answer its inputs correctly even if exercise 1 has a mistake,
# so one mistake costs points once.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | autograded | written | points |
# |---|---|---|---|---|---|
# | 1 | stable softmax and log-softmax | values (2), large logits (2) | 4 | - | 4 |
# | 2 | the softmax Jacobian by hand | one | 2 | - | 2 |
# | 3 | cross-entropy and its gradient for one example | one | 2 | - | 2 |
# | 4 | the long way, in writing | written answer | 0 | 2 | 2 |
# | 5 | a confident mistake | the limit (1), the reason (1) | 2 | - | 2 |
# | 6 | gradients of the logistic-regression layer | one | 3 | - | 3 |
# | 7 | batched cross-entropy | one | 2 | - | 2 |
# | 8 | a fused softmax cross-entropy op | one | 3 | - | 3 |
# | 9 | train with your op | one | 4 | - | 4 |
# | | **total** | 10 graded cells, 1 written | **22** | **2** | **24** |
# <!-- end of points table -->

# %% nbgrader={"grade": false, "grade_id": "a4-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Setup: run this cell first. Do not change it.
import numpy as np
import matplotlib.pyplot as plt
from tqdm.auto import tqdm

import minigrad as mg
from minigrad.expect import (autograd_off, calls_to, expect_accuracy, expect_close,
                             expect_dtype, expect_finite, expect_shape, expect_unchanged,
                             require)
from minigrad.gradcheck import check_gradients, gradcheck


# %% [markdown]
# ## 1. From scores to probabilities
#
# Let $z \in \mathbb{R}^k$ be the logits of one example.
# The softmax exponentiates each score and divides by the total:
#
# $$p_i = \frac{e^{z_i}}{\sum_{j=1}^{k} e^{z_j}}.$$
#
# Every $p_i$ is positive and they add up to one,
# so $p$ is a probability distribution over the classes.
# A larger logit gives a larger probability,
# and adding the same constant $c$ to every logit changes nothing:
# the factor $e^{c}$ appears above and below the fraction and cancels.
#
# That cancellation matters in practice.
# `np.exp` overflows to `inf` a little above 709 in float64 and above 88 in float32,
# and `inf / inf` is `nan`.
# Let us watch the formula, typed in as written, break down.

# %%
def naive_softmax(z):
    e = np.exp(z)
    return e / e.sum()


print("small logits:", naive_softmax(np.array([1.0, 2.0, 3.0])))
with np.errstate(over="ignore", invalid="ignore"):
    print("large logits:", naive_softmax(np.array([1000.0, 0.0])))

# %% [markdown]
# The fix follows from the shift rule.
# We subtract $m = \max_j z_j$ from every logit before exponentiating.
# Now the largest exponent is $e^0 = 1$,
# so nothing overflows and the sum is at least one.
# Some small entries may underflow to $0$, which is the right answer to many digits.
#
# Taking the logarithm of the softmax is a second trap.
# When a probability underflows to $0$, its log is $-\infty$,
# although the exact log-probability is a perfectly ordinary number such as $-1000$.
# We therefore compute the log directly:
#
# $$\log p_i = z_i - m - \log \sum_{j} e^{z_j - m}.$$
#
# The sum on the right lies between $1$ and $k$, so its log never misbehaves.
# The term $m + \log \sum_j e^{z_j - m}$ is the *log-sum-exp* of $z$,
# a smooth version of the maximum.

# %% [markdown]
# ### Exercise 1 (4 points): stable softmax and log-softmax
#
# Write `softmax(z)` and `log_softmax(z)`.
# Both work along the last axis of an array of any shape,
# so one row of a matrix is one example.
# Use the max-shift above:
# logits of $\pm 10^5$ must give finite, exact results,
# and `log_softmax` must not take the log of a softmax.
# Return an array of the input's shape and floating dtype (float32 stays float32),
# and leave the input array unchanged.

# %% nbgrader={"grade": false, "grade_id": "a4-softmax", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax(z):
    """Softmax of ``z`` along its last axis, safe for very large logits.

    z: float array of shape (..., k).
    Returns an array of the same shape and dtype whose last axis sums to 1.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=-1, keepdims=True)
    ### END SOLUTION


def log_softmax(z):
    """Logarithm of the softmax of ``z`` along its last axis, computed without log(softmax).

    z: float array of shape (..., k).
    Returns an array of the same shape and dtype.
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-softmax-values", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: values
# Checks: softmax and log_softmax give the right values, shapes and dtypes on ordinary logits,
# row by row, and leave their input unchanged.
z = np.array([1.0, 2.0, 3.0])
expect_close(softmax(z), np.exp(z) / np.exp(z).sum(), "softmax([1, 2, 3])")
Z = np.random.default_rng(0).normal(size=(4, 5))
Z_before = Z.copy()
P_want = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
expect_close(softmax(Z), P_want, "softmax of a (4, 5) batch, one example per row",
             hint="Normalise each row: max and sum along the last axis with keepdims=True")
expect_unchanged(Z_before, Z, "softmax(Z)")
expect_close(log_softmax(Z), np.log(P_want), "log_softmax of a (4, 5) batch, one example per row")
expect_unchanged(Z_before, Z, "log_softmax(Z)")
for f in (softmax, log_softmax):
    expect_dtype(f(Z.astype(np.float32)), np.float32,
                 f"{f.__name__}(float32 logits of shape (4, 5))")
print("softmax and log_softmax: values, shapes and dtypes look right")
### BEGIN HIDDEN TESTS
def axis_hint(got):
    """Say so when the columns of a batch's answer sum to 1 instead of its rows."""
    got = np.asarray(got, dtype=float)
    if got.ndim >= 2 and got.shape[-2] > 1:
        for probs in (got, np.exp(got)):
            if np.allclose(probs.sum(axis=-2), 1.0) and not np.allclose(probs.sum(axis=-1), 1.0):
                return ("The columns sum to 1, not the rows: each row is one example, so take "
                        "the max and the sum along the last axis (axis=-1, keepdims=True)")
    return "Each row is one example: max and sum along the last axis with keepdims=True"


P123 = np.array([0.09003057317038046, 0.24472847105479764, 0.6652409557748219])
LP123 = np.array([-2.4076059644443806, -1.4076059644443806, -0.4076059644443806])
p = expect_close(student.softmax(np.array([1.0, 2.0, 3.0])), P123, "softmax([1, 2, 3])",
                 rtol=1e-12, atol=0.0)
expect_dtype(p, np.float64, "softmax(float64 logits [1, 2, 3])")
expect_close(student.log_softmax(np.array([1.0, 2.0, 3.0])), LP123, "log_softmax([1, 2, 3])",
             rtol=1e-12, atol=0.0)

Z = np.array([[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0]])
want = np.array([[1 / 3, 1 / 3, 1 / 3], P123])
got = student.softmax(Z)
expect_close(got, want, "softmax of the batch [[0, 0, 0], [-1, 0, 1]]", rtol=1e-12, atol=0.0,
             hint=axis_hint(got))
got = student.log_softmax(Z)
expect_close(got, np.log(want), "log_softmax of the batch [[0, 0, 0], [-1, 0, 1]]",
             rtol=1e-12, atol=1e-15, hint=axis_hint(got))

# a random rank-3 batch against a reference computed here
rng = np.random.default_rng(seed)
shape = (2, int(rng.integers(2, 5)), int(rng.integers(3, 7)))
Z3 = rng.normal(size=shape) * 3.0
P3 = softmax_ref(Z3)
what = f"a random batch of shape {shape}, along the last axis"
got = student.softmax(Z3)
expect_close(got, P3, f"softmax of {what}", rtol=1e-12, atol=1e-15, hint=axis_hint(got))
got = student.log_softmax(Z3)
expect_close(got, np.log(P3), f"log_softmax of {what}", rtol=1e-12, atol=1e-12,
             hint=axis_hint(got))

# the input must come back unchanged
for name in ("softmax", "log_softmax"):
    unchanged(getattr(student, name), Z3, names=[f"z (a batch of shape {shape})"],
              hint="write z = z - z.max(...), not z -= ...")

Z32 = Z3.astype(np.float32)
for name, want, tol in (("softmax", P3, 1e-6), ("log_softmax", np.log(P3), 1e-5)):
    what = f"{name}(float32 logits of shape {shape})"
    got = expect_dtype(getattr(student, name)(Z32), np.float32, what)
    expect_close(got, want, what, rtol=1e-5, atol=tol)
### END HIDDEN TESTS


# %% nbgrader={"grade": true, "grade_id": "a4-softmax-stable", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: large logits
# Checks: softmax and log_softmax stay finite and exact for logits far beyond exp's range.
HINT = "exp(1000) overflows to inf, and inf / inf is nan: subtract the row maximum before exp"
LOG_HINT = ("exp(-1000) underflows to 0 and log(0) is -inf: compute z - max - log(sum(exp(z - max))), "
            "never np.log of the softmax")
with np.errstate(all="ignore"):
    p_big = softmax(np.array([1000.0, 0.0]))
    lp_big = log_softmax(np.array([0.0, -1000.0]))
    p32 = softmax(np.array([100.0, 0.0], dtype=np.float32))
expect_shape(p_big, (2,), "softmax([1000, 0])")
expect_finite(p_big, "softmax([1000, 0])", hint=HINT)
expect_close(p_big, [1.0, 0.0], "softmax([1000, 0])")
expect_finite(lp_big, "log_softmax([0, -1000])", hint=LOG_HINT)
expect_close(lp_big, [0.0, -1000.0], "log_softmax([0, -1000])")
expect_dtype(p32, np.float32, "softmax(float32 logits [100, 0])")
expect_finite(p32, "softmax(float32 logits [100, 0])",
              hint="float32 exp overflows above 88: subtract the row maximum before exp")
print("softmax and log_softmax are stable for large logits")
### BEGIN HIDDEN TESTS
HINT = ("np.exp overflows to inf above 709, and inf / inf is nan: subtract the row maximum "
        "before exp")
LOG_HINT = ("exp of a very negative logit underflows to 0 and log(0) is -inf: compute "
            "z - max - log(sum(exp(z - max))), never np.log of the softmax; subtract the row "
            "maximum before exp")

out = expect_finite(student.softmax(np.array([1e5, -1e5])), "softmax([1e5, -1e5])", hint=HINT)
expect_close(out, [1.0, 0.0], "softmax([1e5, -1e5])", rtol=0.0, atol=0.0)
out = expect_finite(student.softmax(np.array([1e5, 1e5])), "softmax([1e5, 1e5])", hint=HINT)
expect_close(out, [0.5, 0.5], "softmax([1e5, 1e5])", rtol=0.0, atol=0.0)
what = "softmax([[1e5, 1e5 + 1, 1e5 + 2], [-1e5, -1e5, -1e5]])"
out = expect_shape(student.softmax(np.array([[1e5, 1e5 + 1.0, 1e5 + 2.0],
                                             [-1e5, -1e5, -1e5]])), (2, 3), what)
expect_finite(out, what, hint=HINT + ", each row with its own maximum")
want = np.array([[0.09003057317038046, 0.24472847105479764, 0.6652409557748219],
                 [1 / 3, 1 / 3, 1 / 3]])
expect_close(out, want, what, rtol=1e-12, atol=0.0,
             hint="Each row is one example: take its max and sum along the last axis")

what = "log_softmax([1e5, 0, -1e5])"
out = expect_finite(student.log_softmax(np.array([1e5, 0.0, -1e5])), what, hint=LOG_HINT)
expect_close(out, [0.0, -1e5, -2e5], what, rtol=0.0, atol=1e-9)
what = "log_softmax of four logits of -1e5"
out = expect_finite(student.log_softmax(np.full(4, -1e5)), what, hint=LOG_HINT)
expect_close(out, np.full(4, -math.log(4)), what, rtol=1e-12, atol=0.0)
what = "log_softmax([[1e5, -1e5], [-1e5, 1e5]])"
out = expect_finite(student.log_softmax(np.array([[1e5, -1e5], [-1e5, 1e5]])), what,
                    hint=LOG_HINT)
expect_close(out, [[0.0, -2e5], [-2e5, 0.0]], what, rtol=0.0, atol=1e-9)

# float32 overflows already above 88
for name, want, tol, hint in (("softmax", [1.0, 0.0], 1e-6, HINT),
                              ("log_softmax", [0.0, -100.0], 1e-4, LOG_HINT)):
    what = f"{name}(float32 logits [100, 0])"
    out = getattr(student, name)(np.array([100.0, 0.0], dtype=np.float32))
    expect_dtype(out, np.float32, what)
    expect_finite(out, what, hint="float32 exp overflows above 88: " + hint)
    expect_close(out, want, what, rtol=0.0, atol=tol)

# a random batch whose rows sit far out, each at its own offset
rng = np.random.default_rng(seed)
offsets = rng.choice([-1.0, 1.0], size=(4, 1)) * rng.uniform(1e3, 1e5, size=(4, 1))
Z = rng.normal(size=(4, 6)) * 2.0 + offsets
S = Z - Z.max(axis=1, keepdims=True)
P = np.exp(S) / np.exp(S).sum(axis=1, keepdims=True)
LP = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
where = f"a (4, 6) batch whose rows are offset by {np.round(offsets[:, 0]).tolist()}"
out = expect_shape(student.softmax(Z), (4, 6), f"softmax of {where}")
expect_finite(out, f"softmax of {where}", hint=HINT + ", each row with its own maximum")
expect_close(out, P, f"softmax of {where}", rtol=1e-9, atol=1e-15)
out = expect_shape(student.log_softmax(Z), (4, 6), f"log_softmax of {where}")
expect_finite(out, f"log_softmax of {where}", hint=LOG_HINT)
expect_close(out, LP, f"log_softmax of {where}", rtol=1e-12, atol=1e-9)
### END HIDDEN TESTS


# %% nbgrader={"grade": false, "grade_id": "a4-exercise-1-stand-in", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Helpers of the tests of exercises 2 to 8. Do not change them.
import contextlib


def reference_log_softmax(z):
    """Log-softmax along the last axis, for the tests."""
    z = np.asarray(z)
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def exercise_1_works():
    """Whether your softmax and log_softmax pass a quick check: rows of a batch, logits of 1e5."""
    Z = np.array([[1e5, 1e5 + 1.0, 1e5 + 2.0], [-1.0, 0.0, 1.0]])
    try:
        with np.errstate(all="ignore"):
            return bool(np.allclose(softmax(Z), np.exp(reference_log_softmax(Z)))
                        and np.allclose(log_softmax(Z), reference_log_softmax(Z)))
    except Exception:
        return False


@contextlib.contextmanager
def exercise_1_stand_in():
    """Inside the block, reference versions stand in for your softmax and log_softmax
    while those do not work yet, so that the test of a later exercise grades that exercise
    alone (exercise 1 grades yours; the hidden tests do the same)."""
    yours = {name: globals().get(name) for name in ("softmax", "log_softmax")}
    if not exercise_1_works():
        print("Your softmax or log_softmax does not pass exercise 1's checks yet:\n"
              "this test uses reference versions in their place.")
        globals().update(softmax=lambda z: np.exp(reference_log_softmax(z)),
                         log_softmax=reference_log_softmax)
    try:
        yield
    finally:
        globals().update(yours)


# %% [markdown]
# ## 2. The Jacobian of the softmax
#
# The softmax maps $k$ numbers to $k$ numbers,
# so its derivative is a $k \times k$ Jacobian.
# We use the numerator layout of assignment 2:
# row $i$, column $j$ holds $\partial p_i / \partial z_j$.
#
# Two facts hold for the answer before we know it.
# Moving every logit by the same amount leaves $p$ unchanged,
# so the derivative along the direction $\mathbf{1}$ is zero: $J \mathbf{1} = 0$, each row sums to zero.
# And the entries of $p$ always add up to one,
# so no change of $z$ can move that total: $\mathbf{1}^\top J = 0$, each column sums to zero.
#
# Before deriving anything we can measure a Jacobian.
# Column $j$ is the change of $p$ when we nudge $z_j$,
# which central differences estimate.

# %%
def numerical_jacobian(f, z, h=1e-5):
    """Central-difference estimate of the Jacobian of f at z (numerator layout)."""
    z = np.asarray(z, dtype=np.float64)
    columns = []
    for j in range(z.size):
        step = np.zeros_like(z)
        step[j] = h
        columns.append((f(z + step) - f(z - step)) / (2 * h))
    return np.stack(columns, axis=1)


def reference_softmax(z):
    shifted = z - z.max()
    return np.exp(shifted) / np.exp(shifted).sum()


z_demo = np.array([2.0, 1.0, 0.1])
J_demo = numerical_jacobian(reference_softmax, z_demo)
print("p =", np.round(reference_softmax(z_demo), 4))
print("numerical Jacobian:\n", np.round(J_demo, 4))
print("largest |row sum|:", np.abs(J_demo.sum(axis=1)).max())

# %% [markdown]
# A picture helps to read $J$.
# When the logits are close, $p$ is spread out and every entry of $J$ is sizeable.
# When one logit dominates, $p$ is nearly one-hot and $J$ is nearly zero:
# the softmax *saturates*, and its gradient vanishes.
# Both pictures share one colour scale centred on zero:
# positive entries are red, negative ones blue.

# %%
fig, axes = plt.subplots(1, 2, figsize=(8, 3.2), layout="constrained")
for ax, logits in [
    (axes[0], np.array([0.5, 0.0, -0.5, 0.2])),
    (axes[1], np.array([4.0, 0.0, -0.5, 0.2])),
]:
    J = numerical_jacobian(reference_softmax, logits)
    # every entry of J lies in [-1/4, 1/4]: one range centred on 0, positive in red
    image = ax.imshow(J, cmap="RdBu_r", vmin=-0.25, vmax=0.25)
    ax.set_title(f"z = {logits}, max p = {reference_softmax(logits).max():.2f}", fontsize=10)
    ax.set_xticks(range(4))
    ax.set_yticks(range(4))
    ax.set_xlabel("$j$ (logit)")
    ax.set_ylabel("$i$ (probability)")
fig.colorbar(image, ax=axes, shrink=0.8, label="$J_{ij}$")
plt.show()

# %% [markdown]
# ### Exercise 2 (2 points): the softmax Jacobian by hand
#
# Forward pass: $p_i = e^{z_i} / S$ with $S = \sum_l e^{z_l}$,
# for one example $z$ of shape $(k,)$.
# Derive $J_{ij} = \partial p_i / \partial z_j$ on paper,
# the diagonal $i = j$ and the rest $i \ne j$ apart at first,
# then write both cases as one formula in $p$ and $\delta_{ij}$,
# and as a matrix built from $p$ alone.
# Check your result against the two facts above.
#
# Then write `softmax_jacobian(z)` for a 1-D array `z` of length $k$.
# Return the $k \times k$ matrix $J$ with numpy only
# (you may call your `softmax`), as a float64 array for a float64 `z`.
# The tests compare it with finite differences, with autograd off,
# and ask for a finite, all-zero matrix at $z = (10^5, 0, -10^5)$.

# %% nbgrader={"grade": false, "grade_id": "a4-softmax-jacobian", "locked": false, "schema_version": 3, "solution": true, "task": false}
def softmax_jacobian(z):
    """Jacobian of the softmax at ``z``: J[i, j] = d p_i / d z_j (numerator layout).

    z: float array of shape (k,).
    Returns an array of shape (k, k).
    """
    ### BEGIN SOLUTION
    p = softmax(z)
    return np.diag(p) - np.outer(p, p)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-softmax-jacobian-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: softmax_jacobian matches finite differences of the softmax, with autograd off.
z = np.array([0.3, -1.2, 2.0, 0.5])
with autograd_off(), exercise_1_stand_in(), np.errstate(all="ignore"):
    J = softmax_jacobian(z)
    J_big = softmax_jacobian(np.array([1e5, 0.0, -1e5]))
J = expect_shape(J, (4, 4), "softmax_jacobian(z of length 4)")
expect_dtype(J, np.float64, "softmax_jacobian(float64 z of length 4)")
expect_close(J.sum(axis=1), np.zeros(4), "the row sums of softmax_jacobian(z)", atol=1e-12)
check_gradients(
    lambda v: np.exp(v - v.max()) / np.exp(v - v.max()).sum(),
    {"z": z},
    lambda dout: (J.T @ dout,),
).assert_ok()
expect_finite(J_big, "softmax_jacobian([1e5, 0, -1e5])",
              hint="exp(1e5) overflows to inf: subtract the row maximum before exp")
print("softmax_jacobian agrees with finite differences")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
Z_RANDOM = [rng.normal(size=k) * 2.0 for k in (2, 5, 9)]
Z_ALL = [np.log(np.array([1.0, 2.0, 1.0])), np.array([0.0, 0.0]),
         np.array([1e5, 0.0, -1e5]), *Z_RANDOM]
# Exercise 2 is graded on its own: here softmax answers these logits correctly.
with student.autograd_off(), student.standin("softmax", [((z,), softmax_ref(z))
                                                         for z in Z_ALL]):
    what = "softmax_jacobian(log([1, 2, 1])), where p = [0.25, 0.5, 0.25],"
    J = student.softmax_jacobian(Z_ALL[0])
    want = np.array([[0.1875, -0.125, -0.0625],
                     [-0.125, 0.25, -0.125],
                     [-0.0625, -0.125, 0.1875]])
    expect_close(J, want, what, rtol=1e-12, atol=1e-15, hint="J = diag(p) - p p^T")
    expect_dtype(J, np.float64, "softmax_jacobian(float64 z of length 3)")
    J = student.softmax_jacobian(Z_ALL[1])
    expect_close(J, [[0.25, -0.25], [-0.25, 0.25]], "softmax_jacobian([0, 0])", rtol=1e-12,
                 atol=0.0, hint="J = diag(p) - p p^T")
    what = "softmax_jacobian([1e5, 0, -1e5])"
    J = expect_shape(student.softmax_jacobian(Z_ALL[2]), (3, 3), what)
    expect_finite(J, what, hint="exp(1e5) overflows to inf: subtract the row maximum before "
                                "exp (or call your softmax)")
    expect_close(J, np.zeros((3, 3)), what, rtol=0.0, atol=1e-12,
                 hint="the softmax saturates, so every entry is 0")
    for z in Z_RANDOM:
        k = len(z)
        J = expect_shape(student.softmax_jacobian(z), (k, k),
                         f"softmax_jacobian(a random z of length {k})")
        gradients_ok(f"softmax_jacobian at a random z of length {k}, used as the softmax's "
                     "backward J^T dout", softmax_ref, {"z": z}, lambda dout, J=J: (J.T @ dout,))
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Since $\partial S / \partial z_j = e^{z_j}$, the quotient rule gives
#
# $$\frac{\partial p_i}{\partial z_j}
#   = \frac{\delta_{ij} e^{z_i}}{S} - \frac{e^{z_i} e^{z_j}}{S^2}
#   = p_i(\delta_{ij} - p_j).$$
#
# On the diagonal that is $p_i(1 - p_i)$, off it $-p_i p_j$.
# As a matrix, $J = \operatorname{diag}(p) - p^\top p$ for the row vector $p$
# (`np.diag(p) - np.outer(p, p)`).
# It is symmetric, and row $i$ sums to $p_i(1 - \sum_j p_j) = 0$, as it must.
#
# </details>


# %% [markdown]
# ## 3. Cross-entropy for one example
#
# Let the true class be $y \in \{0, \dots, k-1\}$
# and let $e_y$ be the one-hot row vector with a $1$ in position $y$.
# The cross-entropy loss is the negative log-probability of the true class:
#
# $$L = -\log p_y = -z_y + \log \sum_j e^{z_j}.$$
#
# It is $0$ when the model puts all its mass on $y$,
# and it grows without bound as $p_y$ shrinks.
# The second form is exactly minus the log-softmax of exercise 1, so it is stable too.

# %% [markdown]
# ### Exercise 3 (2 points): cross-entropy and its gradient for one example
#
# Forward pass: $L = -z_y + \log \sum_j e^{z_j}$, a number, for logits $z$ of shape $(k,)$.
# Derive the error signal $\bar{z} = \partial L / \partial z$, of shape $(k,)$,
# by differentiating each of the two terms with respect to $z_j$,
# and write the result with $p$ and $e_y$.
#
# Then write `cross_entropy_single(z, y)`.
# It returns the loss $L$ as a Python float
# and the gradient $\bar{z}$ as an array shaped like `z`.
# Compute the loss from your stable `log_softmax`,
# so that logits of $\pm 10^5$ still give a finite loss.
# Numpy only: autograd is off while this is graded.

# %% nbgrader={"grade": false, "grade_id": "a4-xent-single", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cross_entropy_single(z, y):
    """Cross-entropy of one example and its gradient with respect to the logits.

    z: float array of shape (k,), the logits.
    y: int, the true class.
    Returns (loss, dz): loss = -log softmax(z)[y] as a float, dz = dL/dz of shape (k,).
    """
    ### BEGIN SOLUTION
    z = np.asarray(z)
    loss = -float(log_softmax(z)[y])
    dz = softmax(z)
    dz[y] -= 1.0
    return loss, dz
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-xent-single-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: cross_entropy_single returns -log p_y and its gradient dL/dz, with autograd off.
z = np.array([2.0, 1.0, 0.1, -0.7])
with autograd_off(), exercise_1_stand_in(), np.errstate(all="ignore"):
    loss, dz = cross_entropy_single(z, 2)
    loss_big, _ = cross_entropy_single(np.array([1e5, -1e5]), 1)
expected_loss = -np.log(np.exp(z[2]) / np.exp(z).sum())
expect_close(float(loss), expected_loss, "cross_entropy_single(z, y=2): the loss")
dz = expect_shape(dz, z.shape, "cross_entropy_single(z, y=2): dz")
expect_dtype(dz, np.float64, "cross_entropy_single(float64 z, y=2): dz")
check_gradients(
    lambda v: -(v[2] - v.max() - np.log(np.exp(v - v.max()).sum())),
    {"z": z},
    {"z": dz},
).assert_ok()
expect_finite(loss_big, "cross_entropy_single([1e5, -1e5], y=1): the loss",
              hint="compute it from your log_softmax: subtract the row maximum before exp")
print("cross_entropy_single: loss and gradient look right")
### BEGIN HIDDEN TESTS
def xent_ref(v, label):
    return -log_softmax_ref(v)[label]


def loss_and_grad(z, label, what):
    """student.cross_entropy_single(z, label) as (float, array)."""
    out = student.cross_entropy_single(z, label)
    loss, dz = arrays(out, what, ["loss", "dz"])
    require("value", loss.size == 1 and loss.dtype.kind in "iuf",
            f"{what} must return the loss as a float, got {describe(out[0])}")
    return float(loss.reshape(())), dz


rng = np.random.default_rng(seed)
RANDOM = [(rng.normal(size=k) * 2.0, label)
          for k, label in ((3, int(rng.integers(3))), (10, int(rng.integers(1, 10))), (10, 0))]
Z_ALL = [np.array([1.0, 2.0, 3.0]), np.array([1e5, -1e5])] + [z for z, _ in RANDOM]
# Exercise 3 is graded on its own: here softmax and log_softmax answer these logits correctly.
with student.autograd_off(), \
        student.standin("softmax", [((z,), np.exp(log_softmax_ref(z))) for z in Z_ALL]), \
        student.standin("log_softmax", [((z,), log_softmax_ref(z)) for z in Z_ALL]):
    what = "cross_entropy_single([1, 2, 3], y=0)"
    loss, dz = loss_and_grad(Z_ALL[0], 0, what)
    expect_close(loss, 2.4076059644443806, f"{what}: the loss -log p_0", rtol=1e-12, atol=0.0)
    expect_shape(dz, (3,), f"{what}: dz")
    expect_dtype(dz, np.float64, f"{what} with float64 z: dz")
    want = np.array([-0.9099694268296195, 0.24472847105479764, 0.6652409557748219])
    expect_close(dz, want, f"{what}: dz = p - e_0", rtol=1e-12, atol=0.0)
    what = "cross_entropy_single([1, 2, 3], y=2)"
    loss, dz = loss_and_grad(Z_ALL[0], 2, what)
    expect_close(loss, 0.4076059644443806, f"{what}: the loss -log p_2", rtol=1e-12, atol=0.0)
    want = np.array([0.09003057317038046, 0.24472847105479764, -0.3347590442251781])
    expect_close(dz, want, f"{what}: dz = p - e_2", rtol=1e-12, atol=0.0)
    what = "cross_entropy_single([1e5, -1e5], y=1)"
    loss, dz = loss_and_grad(Z_ALL[1], 1, what)
    expect_finite(loss, f"{what}: the loss", hint=OVERFLOW_HINT)
    expect_close(loss, 2e5, f"{what}: the loss", rtol=1e-12, atol=0.0)
    expect_finite(dz, f"{what}: dz", hint=OVERFLOW_HINT)
    expect_close(dz, [1.0, -1.0], f"{what}: dz", rtol=0.0, atol=1e-12)
    for z, label in RANDOM:
        what = f"cross_entropy_single(a random z of length {len(z)}, y={label})"
        loss, dz = loss_and_grad(z, label, what)
        expect_close(loss, xent_ref(z, label), f"{what}: the loss", rtol=1e-10, atol=0.0)
        gradients_ok(f"{what}: dz of the loss",
                     lambda v, label=label: xent_ref(v, label), {"z": z}, {"z": dz})
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# The first term gives $-\delta_{jy}$.
# The derivative of the log-sum-exp with respect to $z_j$ is $e^{z_j} / \sum_l e^{z_l} = p_j$.
# Together
#
# $$\bar{z} = \frac{\partial L}{\partial z} = p - e_y.$$
#
# The gradient pushes the logit of the true class up by $1 - p_y$
# and every other logit down by its own probability.
#
# </details>

# %% [markdown]
# ### Exercise 4 (2 points): the long way, in writing
#
# There is a second route to $\bar{z}$, through section 2.
# The loss depends on $z$ only through $p$, as $L = -\log p_y$,
# so the error signal of $p$ is $\bar{p} = -e_y / p_y$,
# and backpropagating through the softmax multiplies it by the Jacobian:
# $\bar{z} = \bar{p} J$ with row vectors, which is $J^\top \bar{p}$ in the notes' columns.
#
# Show in a few lines that $J^\top(-e_y / p_y) = p - e_y$,
# starting from your formula for $J_{ij}$ of exercise 2,
# and say which entries of $J$ the product uses.
# Write your answer in the cell below (maths in `$...$` is welcome);
# it is graded by hand.

# %% [markdown] nbgrader={"grade": true, "grade_id": "a4-long-way-answer", "locked": false, "points": 2, "schema_version": 3, "solution": true, "task": false} rubric=[{"points": 1, "criterion": "Says that the one-hot vector -e_y / p_y keeps a single row of J (row y, that is column y of J^T), scaled by -1/p_y; no other entry of J enters the product."}, {"points": 1, "criterion": "Writes that row with J_yj = p_y (delta_yj - p_j) = p_y (e_y - p)_j and lets p_y cancel against 1/p_y, reaching p - e_y with the right sign."}]
# The vector $-e_y / p_y$ has one nonzero entry, in position $y$,
# so $J^\top(-e_y / p_y)$ is $-1/p_y$ times column $y$ of $J^\top$, which is row $y$ of $J$;
# no other entry of $J$ is used.
# By exercise 2, $J_{yj} = p_y(\delta_{yj} - p_j)$, so row $y$ is $p_y(e_y - p)$.
# Hence $J^\top(-e_y / p_y) = -\frac{1}{p_y}\, p_y (e_y - p) = p - e_y$:
# the $p_y$ of the softmax cancels the $1/p_y$ of the logarithm.

# %% [markdown]
# Below we run the long way with the *measured* Jacobian of section 2.
# The short way never builds the $k \times k$ matrix, which is why frameworks fuse the two steps.

# %%
y_demo = 0
p_demo = reference_softmax(z_demo)
upstream = np.zeros(3)
upstream[y_demo] = -1.0 / p_demo[y_demo]
print("J^T (dL/dp), measured:", np.round(J_demo.T @ upstream, 6))
print("p - e_y              :", np.round(p_demo - np.eye(3)[y_demo], 6))


# %% [markdown]
# ### Exercise 5 (2 points): a confident mistake
#
# Section 2 showed the softmax saturating:
# when one logit dominates, every entry of $J$ is close to zero.
# Does the gradient of the cross-entropy vanish with it?
# Take $k = 3$ logits $z = (0, 0, s)$ for an example of class $y = 0$
# and let $s$ grow: the model grows ever more sure of class 2, and ever more wrong.
#
# **(a)** What does $\bar{z}$ tend to as $s \to \infty$?
# Work it out from your result of exercise 3, without running anything,
# and set `confident_mistake_limit` to the limit, a float array of shape $(3,)$.
#
# **(b)** Every entry of $J$ tends to zero here,
# yet $\bar{z} = \bar{p} J$ is computed through $J$.
# Which statement explains why $\bar{z}$ does not vanish?
# Set `saturation_reason` to its letter.
#
# - `"a"`: the stable `log_softmax` subtracts the maximum,
#   so it only ever sees logits near zero, where the softmax does not saturate.
# - `"b"`: float64 rounding: the exact gradient vanishes too,
#   but $\bar{p} J$ leaves a remainder of order one.
# - `"c"`: $\bar{p} = -e_y / p_y$ picks row $y$ of $J$, whose entries all carry the factor $p_y$;
#   the $1 / p_y$ cancels it, and what is left stays of order one while $p_y$ is small.
# - `"d"`: the gradient has nothing to do with $J$: the cross-entropy bypasses the softmax.
#
# Both answers are graded by the hidden tests only;
# the visible tests check their form.

# %% nbgrader={"grade": false, "grade_id": "a4-confident-mistake", "locked": false, "schema_version": 3, "solution": true, "task": false}
# (a) the limit of dL/dz at z = (0, 0, s), y = 0, as s grows without bound
confident_mistake_limit = None
### BEGIN SOLUTION
confident_mistake_limit = np.array([-1.0, 0.0, 1.0])
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a4-confident-mistake-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: the limit
# Checks: confident_mistake_limit is a finite float array of shape (3,)
# (the hidden test checks its values).
limit = expect_shape(confident_mistake_limit, (3,), "confident_mistake_limit")
expect_finite(limit, "confident_mistake_limit")
print("confident_mistake_limit has the right form")
### BEGIN HIDDEN TESTS
got = expect_shape(student.confident_mistake_limit.value(), (3,), "confident_mistake_limit")
expect_finite(got, "confident_mistake_limit")
hint = "dL/dz = p - e_y, and p tends to e_2 as s grows"
if np.allclose(got, [1.0, 0.0, -1.0]):
    hint = "The sign is flipped: dL/dz = p - e_y, the gradient of the loss, not of log p_y"
expect_close(got, [-1.0, 0.0, 1.0],
             "confident_mistake_limit, the limit of dL/dz at z = (0, 0, s), y = 0, as s grows",
             rtol=0.0, atol=1e-6, hint=hint)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "a4-saturation-reason", "locked": false, "schema_version": 3, "solution": true, "task": false}
# (b) one letter: "a", "b", "c" or "d"
saturation_reason = None
### BEGIN SOLUTION
saturation_reason = "c"
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a4-saturation-reason-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: the reason
# Checks: saturation_reason is one of the letters "a", "b", "c", "d"
# (the hidden test checks which).
require("value", saturation_reason in ("a", "b", "c", "d"),
        f'saturation_reason must be one of "a", "b", "c", "d", got {saturation_reason!r}')
print("saturation_reason has the right form")
### BEGIN HIDDEN TESTS
got = student.saturation_reason.value()
require("value", got in ("a", "b", "c", "d"),
        f'saturation_reason must be one of "a", "b", "c", "d", got {got!r}')
require("value", got == "c",
        f"saturation_reason: {got!r} does not explain it; compare the size of the entries of "
        "row y of J with the factor 1/p_y in the error signal of p")
### END HIDDEN TESTS


# %% [markdown]
# Now we measure both sides for growing $s$:
# the largest entry of the softmax Jacobian, and the gradient of the loss,
# each estimated by central differences, without any formula.

# %%
def loss_of_class_0(v):
    """-log softmax(v)[0], computed stably."""
    return -(v[0] - v.max() - np.log(np.exp(v - v.max()).sum()))


for s in (2.0, 5.0, 10.0, 20.0):
    z_s = np.array([0.0, 0.0, s])
    J_s = numerical_jacobian(reference_softmax, z_s)
    dz_s = numerical_jacobian(lambda v: np.array([loss_of_class_0(v)]), z_s)[0]
    print(f"s = {s:4.0f}: largest |J_ij| {np.abs(J_s).max():.1e}, measured dL/dz {np.round(dz_s, 4)}")
# what the text below says: J vanishes, the loss's gradient does not
assert np.abs(J_s).max() < 1e-6 and np.abs(dz_s).max() > 0.99

# %% [markdown]
# <details><summary>Worked answer</summary>
#
# As $s$ grows, $p \to e_2$, so $\bar{z} = p - e_0 \to (-1, 0, 1)$:
# the gradient stays as large as it can be, however sure the model is.
# Through the Jacobian, $\bar{z} = \bar{p} J$ with $\bar{p} = -e_0 / p_0$ keeps only row $0$ of $J$,
# $p_0(e_0 - p)$, times $-1/p_0$.
# Every entry of that row is tiny because of the factor $p_0$,
# and the $1/p_0$ that the logarithm contributes cancels it exactly (answer c).
# A loss on $p$ without the logarithm, such as $\lVert p - e_y \rVert^2$,
# keeps the small factor and learns slowly from exactly the examples it gets most wrong.
#
# </details>



# %% [markdown]
# ## 4. A linear layer in front: multiclass logistic regression
#
# Multiclass logistic regression computes the logits with one affine map
# and then applies the softmax and the cross-entropy.
# In the row convention of the course,
#
# $$z = x W + b, \qquad x: (d,), \quad W: (d, k), \quad b: (k,), \quad z: (k,),$$
#
# which is `x @ W + b` in numpy and what `mg.nn.Linear(d, k)` computes.
# The lecture notes write $z = W x + b$ with a $(k, d)$ matrix:
# their $W$ is the transpose of ours.
# Exercise 3 already gives the error signal $\bar{z}$ of the logits;
# what is left is the transfer through the affine map, as in assignment 2.
#
# ### Exercise 6 (3 points): gradients of the logistic-regression layer
#
# Forward pass: $z_j = \sum_i x_i W_{ij} + b_j$, then $L = -\log \operatorname{softmax}(z)_y$.
# Starting from $\bar{z}$, derive $\bar{b}$, $\bar{W}$ and $\bar{x}$ on paper:
# for each entry, ask which $z_j$ it reaches and with what weight,
# then write each result without indices, shaped like its variable.
# Logistic regression does not need $\bar{x}$ to learn,
# but a deeper network does:
# it is the error signal handed to the layer below.
#
# Then write `linear_softmax_backward(W, b, x, y)` for one example,
# with `W` of shape $(d, k)$.
# Return the gradients of $L$ with respect to $W$, $b$ and $x$, in that order,
# each shaped like its variable.
# You may call your `cross_entropy_single`.
# Numpy only: autograd is off while this is graded.

# %% nbgrader={"grade": false, "grade_id": "a4-linear-softmax-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def linear_softmax_backward(W, b, x, y):
    """Gradients of L = -log softmax(x @ W + b)[y] for one example.

    W: (d, k), b: (k,), x: (d,), y: int.
    Returns (dW, db, dx) with shapes (d, k), (k,), (d,).
    """
    ### BEGIN SOLUTION
    z = x @ W + b
    _, dz = cross_entropy_single(z, y)
    return np.outer(x, dz), dz, dz @ W.T
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-linear-softmax-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: the gradients with respect to W, b and x match finite differences of the loss,
# with autograd off.
rng = np.random.default_rng(7)
W, b, x, y = rng.normal(size=(5, 3)), rng.normal(size=3), rng.normal(size=5), 1
with autograd_off(), exercise_1_stand_in():
    dW, db, dx = linear_softmax_backward(W, b, x, y)
for name, grad, var in (("dW", dW, W), ("db", db, b), ("dx", dx, x)):
    expect_shape(grad, var.shape, f"linear_softmax_backward(W, b, x, y=1): {name}")
    expect_dtype(grad, np.float64, f"linear_softmax_backward(float64 W, b, x, y=1): {name}")


def loss_of(W_, b_, x_):
    z_ = x_ @ W_ + b_
    return -(z_[y] - z_.max() - np.log(np.exp(z_ - z_.max()).sum()))


check_gradients(loss_of, {"W": W, "b": b, "x": x},
                {"W": np.asarray(dW), "b": np.asarray(db), "x": np.asarray(dx)}).assert_ok()
print("linear_softmax_backward agrees with finite differences")
### BEGIN HIDDEN TESTS
def lr_loss_ref(W, b, x, label):
    return -log_softmax_ref(x @ W + b)[label]


rng = np.random.default_rng(seed)
CASES = [(np.array([[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0]]), np.array([0.1, -0.2, 0.0]),
          np.array([1.0, -0.5]), 1)]
for k, d, label in ((4, 6, int(rng.integers(4))), (10, 7, 0)):
    CASES.append((rng.normal(size=(d, k)), rng.normal(size=k), rng.normal(size=d), label))
ZS = [(x @ W + b, label) for W, b, x, label in CASES]
XENT = []
for z, label in ZS:
    dz = np.exp(log_softmax_ref(z))
    dz[label] -= 1.0
    XENT.append(((z, label), (float(-log_softmax_ref(z)[label]), dz)))
# Exercise 6 is graded on its own: here the functions of exercises 1 and 3 answer the
# logits z = x @ W + b of these cases correctly.
with student.autograd_off(), \
        student.standin("cross_entropy_single", XENT), \
        student.standin("softmax", [((z,), np.exp(log_softmax_ref(z))) for z, _ in ZS]), \
        student.standin("log_softmax", [((z,), log_softmax_ref(z)) for z, _ in ZS]):
    W, b, x, label = CASES[0]
    case = ("linear_softmax_backward(W=[[0.5, 1, 0], [-1, 0, 2]], b=[0.1, -0.2, 0], "
            "x=[1, -0.5], y=1)")
    out = student.linear_softmax_backward(W, b, x, label)
    if isinstance(out, (tuple, list)) and len(out) == 3:
        require("shape", np.shape(out[0]) != (3, 2),
                f"{case}: dW must have W's shape (d, k) = (2, 3), got (3, 2): W_ij reaches z_j "
                "through x_i W_ij, so dW = outer(x, dz), not the notes' outer(dz, x)")
    dW, db, dx = arrays(out, case, ["dW", "db", "dx"], shapes=[(2, 3), (3,), (2,)],
                        dtype=np.float64)
    want = np.array([0.5366895323626796, -0.6024106155765765, 0.06572108321389689])
    expect_close(db, want, f"{case}: db = dz = p - e_y", rtol=1e-10, atol=0.0)
    expect_close(dW, np.outer(x, want), f"{case}: dW = outer(x, dz), shaped like W (d, k)",
                 rtol=1e-10, atol=0.0)
    expect_close(dx, [-0.3340658493952367, -0.4052473659348858], f"{case}: dx = dz @ W.T",
                 rtol=1e-10, atol=0.0)
    for W, b, x, label in CASES[1:]:
        (d, k) = W.shape
        what = (f"linear_softmax_backward with random W ({d}, {k}), b ({k},), x ({d},) "
                f"and y={label}")
        dW, db, dx = arrays(student.linear_softmax_backward(W, b, x, label), what,
                            ["dW", "db", "dx"], shapes=[(d, k), (k,), (d,)])
        gradients_ok(f"{what}, (dW, db, dx) of the loss",
                     lambda W, b, x, label=label: lr_loss_ref(W, b, x, label),
                     {"W": W, "b": b, "x": x}, {"W": dW, "b": db, "x": dx})
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# - Bias: $z_j$ contains $b_j$ once, with weight $1$, so $\bar{b} = \bar{z}$.
# - Weights: $W_{ij}$ reaches only $z_j$, through the term $x_i W_{ij}$,
#   so $\bar{W}_{ij} = x_i \bar{z}_j$:
#   the outer product $\bar{W} = x^\top \bar{z}$ (`np.outer(x, dz)`), of shape $(d, k)$ like $W$.
# - Input: $x_i$ reaches every $z_j$ with weight $W_{ij}$, and the paths add:
#   $\bar{x}_i = \sum_j W_{ij} \bar{z}_j$, that is $\bar{x} = \bar{z} W^\top$ (`dz @ W.T`), of shape $(d,)$.
#
# Here $\bar{z} = p - e_y$, from exercise 3.
# In the notes' column convention the same results read
# $(p - e_y) x^\top$ for their $(k, d)$ matrix, which is our $\bar{W}$ transposed,
# and $W^\top (p - e_y)$ for the input.
#
# </details>


# %% [markdown]
# ## 5. A batch of examples
#
# With $N$ examples we stack the logits as rows of a matrix $Z$ of shape $(N, k)$,
# their softmax as the rows of $P$,
# and the one-hot targets as rows of $Y$.
# The loss we minimise is the **mean** over the batch,
# so that the size of a gradient step does not depend on the batch size.
#
# ### Exercise 7 (2 points): batched cross-entropy
#
# Forward pass: $L = \frac{1}{N} \sum_i -\log P_{i, y_i}$, a number, for $Z$ of shape $(N, k)$.
# Derive $\bar{Z} = \partial L / \partial Z$, of shape $(N, k)$, from exercise 3:
# which terms of the sum does row $i$ of $Z$ reach?
# Write the result with $P$, $Y$ and $N$.
#
# Then write `batched_cross_entropy(Z, y)` for logits `Z` of shape $(N, k)$ and integer labels `y`.
# Return the mean loss as a Python float and $\bar{Z}$,
# shaped and typed like `Z` (float32 stays float32).
# No Python loop over the examples; numpy only: autograd is off while this is graded.
# We never need $Y$ as a matrix:
# `A[np.arange(N), y] -= 1` subtracts a one-hot row from each row of `A` in place.

# %% nbgrader={"grade": false, "grade_id": "a4-batched-xent", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batched_cross_entropy(Z, y):
    """Mean cross-entropy of a batch and its gradient with respect to the logits.

    Z: float array of shape (N, k); y: int array of shape (N,).
    Returns (loss, dZ): the mean loss as a float and dZ = dL/dZ of shape (N, k).
    """
    ### BEGIN SOLUTION
    Z = np.asarray(Z)
    y = np.asarray(y)
    n = Z.shape[0]
    rows = np.arange(n)
    loss = -float(log_softmax(Z)[rows, y].mean())
    dZ = softmax(Z)
    dZ[rows, y] -= 1
    dZ /= n
    return loss, dZ
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-batched-xent-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: batched_cross_entropy returns the mean loss and its gradient dL/dZ, shaped and typed
# like Z, with autograd off.
rng = np.random.default_rng(3)
Z = rng.normal(size=(6, 4))
y = np.array([0, 3, 1, 1, 2, 0])
with autograd_off(), exercise_1_stand_in(), np.errstate(all="ignore"):
    loss, dZ = batched_cross_entropy(Z, y)
    loss32, dZ32 = batched_cross_entropy(Z.astype(np.float32), y)
    loss_big, _ = batched_cross_entropy(np.array([[1e5, -1e5], [-1e5, 1e5]]), np.array([0, 0]))
per_example = [-np.log(np.exp(Z[i, y[i]]) / np.exp(Z[i]).sum()) for i in range(6)]
expect_close(float(loss), np.mean(per_example), "batched_cross_entropy(Z, y): the mean loss",
             hint=f"The sum would be {np.sum(per_example):.6f}")
dZ = expect_shape(dZ, Z.shape, "batched_cross_entropy(Z of shape (6, 4), y): dZ")
expect_dtype(dZ32, np.float32, "batched_cross_entropy(float32 Z of shape (6, 4), y): dZ")


def mean_loss_of(Z_):
    shifted = Z_ - Z_.max(axis=1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean()


check_gradients(mean_loss_of, {"Z": Z}, {"Z": dZ}).assert_ok()
expect_finite(loss_big, "batched_cross_entropy([[1e5, -1e5], [-1e5, 1e5]], y=[0, 0]): the loss",
              hint="compute it from your log_softmax: subtract the row maximum before exp")
print("batched_cross_entropy agrees with finite differences")
### BEGIN HIDDEN TESTS
def loss_and_grad(Z, labels, what):
    """student.batched_cross_entropy(Z, labels) as (float, array), dZ shaped like Z."""
    out = student.batched_cross_entropy(Z, labels)
    loss, dZ = arrays(out, what, ["loss", "dZ"])
    require("value", loss.size == 1 and loss.dtype.kind in "iuf",
            f"{what} must return the loss as a float, got {describe(out[0])}")
    expect_shape(dZ, Z.shape, f"{what}: dZ")
    expect_dtype(dZ, Z.dtype, f"{what} with {Z.dtype} logits: dZ")
    return float(loss.reshape(())), dZ


LOSS = 1.2491765165898825
Z1 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
y1 = np.array([0, 2, 0])
BIG = np.array([[1e5, -1e5], [-1e5, 1e5]])
rng = np.random.default_rng(seed)
RANDOM = []
for n, k in ((5, 3), (32, 10)):
    RANDOM.append((rng.normal(size=(n, k)) * 2.0, rng.integers(0, k, size=n)))
Z_ALL = [Z1, np.vstack([Z1, Z1]), BIG, Z1.astype(np.float32)] + [Z for Z, _ in RANDOM]
ANSWERS = [((Z,), log_softmax_ref(Z.astype(np.float64)).astype(Z.dtype)) for Z in Z_ALL]
# Exercise 7 is graded on its own: here softmax and log_softmax answer these logits correctly.
with student.autograd_off(), \
        student.standin("softmax", [(args, np.exp(lp)) for args, lp in ANSWERS]), \
        student.standin("log_softmax", ANSWERS):
    case = "batched_cross_entropy(Z=[[1, 2, 3], [0, 0, 0], [2, -1, 0.5]], y=[0, 2, 0])"
    want = np.array([[-0.3033231422765398, 0.08157615701826588, 0.22174698525827396],
                     [0.1111111111111111, 0.1111111111111111, -0.2222222222222222],
                     [-0.07146765513690805, 0.01303752442356249, 0.05843013071334557]])
    loss, dZ = loss_and_grad(Z1, y1, case)
    expect_close(loss, LOSS, f"{case}: the mean loss", rtol=1e-12, atol=0.0,
                 hint="Average over the N = 3 rows" if np.isclose(loss, 3 * LOSS) else "")
    expect_close(dZ, want, f"{case}: dZ = (P - Y)/N", rtol=1e-10, atol=0.0,
                 hint="Divide P - Y by the batch size N = 3")
    # repeating the batch keeps the mean loss and halves each row's gradient
    case = "the batch of 3 above stacked twice (N = 6)"
    loss, dZ = loss_and_grad(Z_ALL[1], np.concatenate([y1, y1]), case)
    expect_close(loss, LOSS, f"{case}: the mean loss", rtol=1e-12, atol=0.0)
    expect_close(dZ, np.vstack([want, want]) / 2, f"{case}: dZ = (P - Y)/N", rtol=1e-10,
                 atol=0.0, hint="Divide P - Y by the batch size N = 6")
    case = "batched_cross_entropy(Z=[[1e5, -1e5], [-1e5, 1e5]], y=[0, 0])"
    loss, dZ = loss_and_grad(BIG, np.array([0, 0]), case)
    expect_finite(loss, f"{case}: the loss", hint=OVERFLOW_HINT)
    expect_close(loss, 1e5, f"{case}: the loss", rtol=1e-12, atol=0.0)
    expect_finite(dZ, f"{case}: dZ", hint=OVERFLOW_HINT)
    expect_close(dZ, [[0.0, 0.0], [-0.5, 0.5]], f"{case}: dZ", rtol=0.0, atol=1e-12)
    case = "batched_cross_entropy(Z=[[1, 2, 3], [0, 0, 0], [2, -1, 0.5]] in float32, y=[0, 2, 0])"
    loss, dZ = loss_and_grad(Z_ALL[3], y1, case)
    expect_close(loss, LOSS, f"{case}: the mean loss", rtol=1e-5, atol=0.0)
    expect_close(dZ, want, f"{case}: dZ = (P - Y)/N", rtol=1e-5, atol=1e-6)
    for Z, y in RANDOM:
        (n, k) = Z.shape
        case = f"batched_cross_entropy on a random batch of {n} with {k} classes"
        loss, dZ = loss_and_grad(Z, y, case)
        expect_close(loss, batch_loss_ref(Z, y), f"{case}: the mean loss", rtol=1e-10, atol=0.0)
        gradients_ok(f"{case}, dZ of the mean loss",
                     lambda Z, y=y: batch_loss_ref(Z, y), {"Z": Z}, {"Z": dZ})
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Row $i$ of $Z$ reaches only term $i$ of the sum,
# so row $i$ of $\bar{Z}$ is that example's $p - e_{y_i}$ from exercise 3,
# times the $\frac{1}{N}$ in front:
#
# $$\bar{Z} = \frac{1}{N}(P - Y).$$
#
# Forgetting the $\frac{1}{N}$ is the classic slip.
# It makes the gradient $N$ times too large,
# which plain SGD notices as a learning rate that depends on the batch size.
#
# </details>
#
# The engine agrees.
# Below, minigrad builds the mean cross-entropy from primitive ops only,
# in the stable order of exercise 1:
# a row maximum, a subtraction, `exp`, a row sum, `log`,
# the log-probability of each true class picked by indexing, and a mean.
# Backpropagating through that chain knows nothing of $(P - Y)/N$,
# yet it finds the same matrix as your function.

# %%
def chain_cross_entropy(Z, labels):
    """Mean cross-entropy of the rows of the Tensor Z, built from primitive Tensor ops."""
    shifted = Z - Z.max(axis=1, keepdims=True)
    log_p = shifted - shifted.exp().sum(axis=1, keepdims=True).log()
    return -log_p[np.arange(Z.shape[0]), labels].mean()


rng = np.random.default_rng(11)
Z_demo = rng.normal(size=(8, 5))
y_demo = rng.integers(0, 5, size=8)
Z_t = mg.Tensor(Z_demo, requires_grad=True)
loss_chain = chain_cross_entropy(Z_t, y_demo)
loss_chain.backward()
_, dZ_mine = batched_cross_entropy(Z_demo, y_demo)
print("largest difference from the engine's chain:", np.abs(Z_t.grad - dZ_mine).max())

# %% [markdown]
# Here is the graph the engine recorded: every ellipse is one op,
# every box a tensor with its shape, a summary of its values and of its gradient.
# The row maxima receive a gradient of zero up to rounding:
# the shift leaves the loss unchanged, as section 1 showed.

# %%
mg.viz.draw_graph(loss_chain, rankdir="TB")

# %% [markdown]
# ## 6. A custom op: `SoftmaxCrossEntropy`
#
# Each op of that chain is a node of the graph,
# each one stores arrays for its backward,
# and each one runs its own backward pass.
# The cell below counts them,
# and does the same for `mg.functional.cross_entropy`,
# which the engine implements as a single fused op.

# %%
def graph_cost(root):
    """The ops recorded behind `root` and the arrays they saved for backward."""
    ops, saved, seen, stack = [], [], set(), [root]
    while stack:
        node = stack.pop()
        if id(node) in seen or node._ctx is None:  # a leaf records no op
            continue
        seen.add(id(node))
        ops.append(node._ctx.op)
        saved.extend(node._ctx.saved_tensors)
        stack.extend(node._ctx.parents)
    return ops, saved


loss_fused = mg.functional.cross_entropy(mg.Tensor(Z_demo, requires_grad=True), y_demo)
costs = {}
for name, root in (("chain of primitives", loss_chain), ("fused op", loss_fused)):
    ops, saved = graph_cost(root)
    costs[name] = len(ops), len(saved), sum(a.shape == Z_demo.shape for a in saved)
    print(f"{name}: op nodes {len(ops)} ({', '.join(reversed(ops))}), "
          f"arrays saved for backward {len(saved)} ({sum(a.nbytes for a in saved)} bytes)")
# what the text below says
assert costs["chain of primitives"] == (10, 6, 2) and costs["fused op"] == (1, 1, 1)

# %% [markdown]
# The chain records ten ops and saves six arrays, two of them as large as the logits;
# the fused op records one and saves one, the log-probabilities.
# On the way back the chain runs ten small backward passes,
# the fused op one:
# since we know the whole backward in one line, $(P - Y)/N$,
# one op can replace the chain.
# This is what frameworks do, and what `mg.functional.cross_entropy` does:
# it saves memory and time,
# and it is stable because its forward pass uses the log-sum-exp.
#
# A minigrad op is a subclass of `mg.Function` with two static methods.
# `forward(ctx, *arrays)` receives plain numpy arrays and returns an array;
# it may keep what the backward needs with `ctx.save_for_backward(...)`.
# `backward(ctx, grad_output)` receives $\partial(\text{final loss}) / \partial(\text{output})$,
# reads `ctx.saved_tensors`,
# and returns one gradient per input of `forward`, `None` for inputs without one.
# We call the op as `MyOp.apply(tensor, ...)`.
#
# Here is a worked example: the log-sum-exp of each row, $s_i = \log \sum_j e^{Z_{ij}}$.
# Its gradient with respect to row $i$ is the softmax of that row,
# so the backward multiplies each softmax row by the upstream gradient of $s_i$.

# %%
class LogSumExp(mg.Function):
    """s[i] = log sum_j exp(Z[i, j]); ds[i]/dZ[i, j] = softmax(Z[i])[j]."""

    @staticmethod
    def forward(ctx, Z):
        m = Z.max(axis=1, keepdims=True)
        s = m + np.log(np.exp(Z - m).sum(axis=1, keepdims=True))
        ctx.save_for_backward(np.exp(Z - s))  # the softmax of each row
        return s[:, 0]

    @staticmethod
    def backward(ctx, grad_output):
        (P,) = ctx.saved_tensors
        return (grad_output[:, None] * P,)


Z_t = mg.Tensor(np.random.default_rng(5).normal(size=(4, 3)), requires_grad=True)
print("log-sum-exp of each row:", LogSumExp.apply(Z_t).data)
print(gradcheck(lambda t: LogSumExp.apply(t), Z_t))

# %% [markdown]
# Note the upstream gradient.
# The op rarely sits at the very end of the graph:
# the loss may be scaled, added to a penalty, or fed to another op,
# so the backward must multiply by `grad_output` even when it is often $1$.
# For a scalar output `grad_output` is a 0-d array and multiplies like a number.
#
# ### Exercise 8 (3 points): a fused softmax cross-entropy op
#
# Complete `SoftmaxCrossEntropy`.
# `forward(ctx, logits, labels)` gets logits of shape $(N, k)$ and integer labels of shape $(N,)$
# and returns the mean cross-entropy as a 0-d array of the logits' dtype
# (use `np.asarray(value, dtype=logits.dtype)`).
# `backward(ctx, grad_output)` returns `(dlogits, None)`:
# the labels get no gradient.
# Reuse your functions from exercises 1 and 7 if you like:
# this exercise is graded on its own, as the others are.

# %% nbgrader={"grade": false, "grade_id": "a4-softmax-ce-function", "locked": false, "schema_version": 3, "solution": true, "task": false}
class SoftmaxCrossEntropy(mg.Function):
    """Mean over the batch of -log softmax(logits)[i, labels[i]], as one op.

    Call as SoftmaxCrossEntropy.apply(logits_tensor, labels).
    The gradient with respect to the logits is grad_output * (P - Y) / N.
    """

    @staticmethod
    def forward(ctx, logits, labels):
        ### BEGIN SOLUTION
        labels = np.asarray(labels).astype(np.int64)
        n = logits.shape[0]
        rows = np.arange(n)
        logp = log_softmax(logits)
        P = np.exp(logp)
        P[rows, labels] -= 1
        ctx.save_for_backward(P / n)
        return np.asarray(-logp[rows, labels].mean(), dtype=logits.dtype)
        ### END SOLUTION

    @staticmethod
    def backward(ctx, grad_output):
        ### BEGIN SOLUTION
        (dlogits,) = ctx.saved_tensors
        return grad_output * dlogits, None
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a4-softmax-ce-function-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: SoftmaxCrossEntropy gives the mean loss in the logits' dtype
# and backpropagates (P - Y)/N times the upstream gradient.
rng = np.random.default_rng(21)
Z = rng.normal(size=(5, 4))
y = np.array([1, 0, 3, 3, 2])
Z_t = mg.Tensor(Z, requires_grad=True)
with exercise_1_stand_in(), np.errstate(all="ignore"):
    loss = SoftmaxCrossEntropy.apply(Z_t, y)
    require("value", isinstance(loss, mg.Tensor),
            f"SoftmaxCrossEntropy.apply must return a Tensor (got {type(loss).__name__})")
    expect_shape(loss, (), "SoftmaxCrossEntropy.apply(logits of shape (5, 4), y): the loss")
    expected_loss = mg.functional.cross_entropy(mg.Tensor(Z), y).item()
    expect_close(loss.item(), expected_loss,
                 "SoftmaxCrossEntropy.apply(logits of shape (5, 4), y): the mean loss")
    loss32 = SoftmaxCrossEntropy.apply(mg.Tensor(Z.astype(np.float32)), y)
    expect_dtype(loss32, np.float32, "SoftmaxCrossEntropy.apply(float32 logits, y): the loss")
    gradcheck(lambda t: SoftmaxCrossEntropy.apply(t, y), Z_t).assert_ok()
    gradcheck(lambda t: SoftmaxCrossEntropy.apply(t, y) * 3.0, Z_t).assert_ok()
    loss_big = SoftmaxCrossEntropy.apply(mg.Tensor(np.array([[1e5, -1e5], [-1e5, 1e5]])),
                                         np.array([0, 0]))
    expect_finite(loss_big, "SoftmaxCrossEntropy.apply([[1e5, -1e5], [-1e5, 1e5]], y=[0, 0])",
                  hint="compute it from your log_softmax: subtract the row maximum before exp")
print("SoftmaxCrossEntropy passes the gradient check")
### BEGIN HIDDEN TESTS
# fixtures: build the graph in the kernel, hand back plain arrays
run_op = student.kernel('''
def run_op(op, Z, y, scale):
    logits = mg.Tensor(Z, requires_grad=True)
    loss = op.apply(logits, y)
    value = loss.data
    (loss if scale == 1 else loss * scale).backward()
    return value, logits.grad
''')
through_linear = student.kernel('''
def through_linear(op, X, W, y):
    weights = mg.Tensor(W, requires_grad=True)
    op.apply(mg.Tensor(X) @ weights, y).backward()
    return weights.grad
''')


def loss_and_grad(Z, y, what, scale=1):
    """SoftmaxCrossEntropy.apply on a Tensor of Z, then backward of scale * loss."""
    loss, grad = run_op(student.SoftmaxCrossEntropy, Z, y, scale)
    expect_shape(loss, (), f"{what}: the loss")
    expect_dtype(loss, Z.dtype, f"{what} with {Z.dtype} logits: the loss")
    expect_shape(grad, Z.shape, f"{what}: after backward, the logits' gradient")
    return float(loss), grad


LOSS = 1.2491765165898825
Z1 = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0], [2.0, -1.0, 0.5]])
y1 = np.array([0, 2, 0])
BIG, y_big = np.array([[1e5, -1e5], [-1e5, 1e5]]), np.array([0, 0])
rng = np.random.default_rng(seed)
RANDOM = []
for n, k in ((4, 3), (16, 10)):
    RANDOM.append((rng.normal(size=(n, k)) * 2.0, rng.integers(0, k, size=n)))
X = rng.normal(size=(6, 4))
W = rng.normal(size=(4, 3))
y_lin = rng.integers(0, 3, size=6)
CASES = [(Z1, y1), (Z1.astype(np.float32), y1), (BIG, y_big), (X @ W, y_lin), *RANDOM]
LOGP = [((Z,), log_softmax_ref(Z.astype(np.float64)).astype(Z.dtype)) for Z, _ in CASES]
BATCHED = []
for Z, y in CASES:
    dZ = np.exp(log_softmax_ref(Z.astype(np.float64)))
    dZ[np.arange(len(y)), y] -= 1.0
    BATCHED.append(((Z, y), (float(batch_loss_ref(Z.astype(np.float64), y)),
                             (dZ / len(y)).astype(Z.dtype))))
# Exercise 8 is graded on its own: here the functions of exercises 1 and 7 answer these
# logits correctly.
with student.standin("softmax", [(args, np.exp(lp)) for args, lp in LOGP]), \
        student.standin("log_softmax", LOGP), \
        student.standin("batched_cross_entropy", BATCHED):
    case = "SoftmaxCrossEntropy.apply(Z=[[1, 2, 3], [0, 0, 0], [2, -1, 0.5]], y=[0, 2, 0])"
    want = np.array([[-0.3033231422765398, 0.08157615701826588, 0.22174698525827396],
                     [0.1111111111111111, 0.1111111111111111, -0.2222222222222222],
                     [-0.07146765513690805, 0.01303752442356249, 0.05843013071334557]])
    loss, grad = loss_and_grad(Z1, y1, case)
    expect_close(loss, LOSS, f"{case}: the mean loss", rtol=1e-12, atol=0.0)
    expect_close(grad, want, f"{case}: after backward, the gradient (P - Y)/N", rtol=1e-10,
                 atol=0.0, hint="Divide P - Y by the batch size N = 3")
    # the upstream gradient is used: d(2.5 L)/dZ = 2.5 dL/dZ
    loss, grad = loss_and_grad(Z1, y1, case, scale=2.5)
    expect_close(grad, 2.5 * want, f"{case}, then (loss * 2.5).backward(): the gradient",
                 rtol=1e-10, atol=0.0, hint="Multiply by grad_output in backward")
    loss, grad = loss_and_grad(Z1.astype(np.float32), y1, f"{case} in float32")
    expect_close(loss, LOSS, f"{case} in float32: the mean loss", rtol=1e-5, atol=0.0)
    case = "SoftmaxCrossEntropy.apply(Z=[[1e5, -1e5], [-1e5, 1e5]], y=[0, 0])"
    loss, grad = loss_and_grad(BIG, y_big, case)
    expect_finite(loss, f"{case}: the loss", hint=OVERFLOW_HINT)
    expect_close(loss, 1e5, f"{case}: the loss", rtol=1e-12, atol=0.0)
    expect_finite(grad, f"{case}: the gradient", hint=OVERFLOW_HINT)
    expect_close(grad, [[0.0, 0.0], [-0.5, 0.5]], f"{case}: the gradient", rtol=0.0, atol=1e-12)
    for Z, y in RANDOM:
        (n, k) = Z.shape
        case = f"SoftmaxCrossEntropy.apply on a random batch of {n} with {k} classes"
        loss, grad = loss_and_grad(Z, y, case)
        expect_close(loss, batch_loss_ref(Z, y), f"{case}: the mean loss", rtol=1e-10,
                     atol=0.0)
        gradients_ok(f"{case}, the gradient of the mean loss",
                     lambda Z, y=y: batch_loss_ref(Z, y), {"Z": Z}, {"Z": grad})
    # inside a graph: the gradient reaches the weights of a linear map in front
    case = "SoftmaxCrossEntropy.apply(X @ W, y) with X (6, 4) and W (4, 3)"
    dW = expect_shape(through_linear(student.SoftmaxCrossEntropy, X, W, y_lin), W.shape,
                      f"{case}: after backward, W's gradient")
    gradients_ok(f"{case}, the gradient that reaches W",
                 lambda W: batch_loss_ref(X @ W, y_lin), {"W": W}, {"W": dW})
### END HIDDEN TESTS


# %% [markdown]
# ## 7. Handwritten digits
#
# Time to train on real data.
# `mg.data.digits` loads 1,797 grey-scale images of the digits 0 to 9,
# each 8x8 pixels flattened to 64 numbers in $[0, 1]$,
# and splits them once, with a fixed seed, into a training set and a held-out test set.
# We fit on the training set only
# and report accuracy on the test set, which the training never sees.

# %%
X_train, y_train, X_test, y_test = mg.data.digits(test_fraction=0.25, seed=0)
print("train:", X_train.shape, "test:", X_test.shape)
print("examples per class in the training set:", np.bincount(y_train))

fig, axes = plt.subplots(2, 8, figsize=(8, 2.4))
for ax, image, label in zip(axes.ravel(), X_train[:16], y_train[:16]):
    ax.imshow(image.reshape(8, 8), cmap="gray_r")
    ax.set_title(str(label))
    ax.axis("off")
plt.show()

# %% [markdown]
# Two models will share one training loop.
# **Multiclass logistic regression** is a single `mg.nn.Linear(64, 10)`:
# the logits are an affine function of the pixels,
# exactly the model of exercise 6.
# The **MLP** adds one hidden layer of 128 ReLU units, `mg.nn.MLP([64, 128, 10])`,
# so the logits become a nonlinear function of the pixels.
#
# The loop below visits the training set in random minibatches for a number of *epochs*
# and updates the parameters with the optimiser it is given
# (`mg.optim.SGD` or `mg.optim.Adam`, built on `model.parameters()`).
# Everything around the update is given:
# the shuffling, the bookkeeping and the progress bar.
# A useful sanity check at the start:
# with small random weights every class gets probability close to $1/10$,
# so the first losses should be near $\log 10 \approx 2.30$.
#
# ### Exercise 9 (4 points): train with your op
#
# Fill in one training step inside `train_classifier`:
# compute the logits of the minibatch `xb` with `model`,
# the loss with **your** `SoftmaxCrossEntropy.apply(logits, yb)`,
# clear the old gradients, backpropagate, take an optimiser step,
# and append the loss as a Python float to `losses`.
# The tests count the calls:
# a loop that trains with `mg.functional.cross_entropy` instead of your op earns no points,
# and the gradients must be cleared before `loss.backward()`, not between it and the step.
# The visible test and the hidden tests then train the same two models the same way
# and grade the same targets:
# logistic regression, Adam with `lr=0.02` for 20 epochs, at least 90% test accuracy;
# the MLP, Adam with `lr=0.01` for 30 epochs, at least 95%.
# The visible test visits the examples in the order of `seed=2`,
# the hidden tests in an order drawn for you from a fixed list.
# While your op from exercise 8 does not work yet,
# the tests train with the engine's cross-entropy in its place,
# so this exercise grades the loop alone.

# %% nbgrader={"grade": false, "grade_id": "a4-accuracy", "locked": true, "schema_version": 3, "solution": false, "task": false}
def predict(model, X):
    """Predicted class of each row of X: the index of the largest logit."""
    with mg.no_grad():
        logits = model(mg.Tensor(X))
    return np.argmax(logits.data, axis=1)


def accuracy(model, X, y):
    """Fraction of rows of X whose predicted class equals y."""
    return float(np.mean(predict(model, X) == y))


# %% nbgrader={"grade": false, "grade_id": "a4-train-classifier", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_classifier(model, X, y, optimizer, epochs, batch_size=64, seed=0, progress=False):
    """Train ``model`` on shuffled minibatches of (X, y); return the loss of every step.

    ``optimizer`` updates ``model.parameters()``; ``seed`` fixes the order of the examples.
    """
    rng = np.random.default_rng(seed)
    losses = []
    bar = tqdm(range(epochs), desc=type(model).__name__, disable=not progress)
    for _ in bar:
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            batch = order[start:start + batch_size]
            xb, yb = mg.Tensor(X[batch]), y[batch]
            ### BEGIN SOLUTION
            loss = SoftmaxCrossEntropy.apply(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
            ### END SOLUTION
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
    return losses


# %% nbgrader={"grade": false, "grade_id": "a4-train-test-helpers", "locked": true, "schema_version": 3, "solution": false, "task": false}
# Helpers of the training test below. Do not change them.
import contextlib


def training_step_problem(events, steps):
    """What is wrong with the calls of `steps` training steps, in order, or "" when nothing is.

    `events` lists the calls as they happened: "backward", "zero_grad" and "step".
    """
    for name, call in (("step", "optimizer.step()"), ("backward", "loss.backward()")):
        count = events.count(name)
        if count != steps:
            return (f"train_classifier called {call} {count} times in {steps} steps: "
                    "call it once per minibatch")
    since_step, first = [], True
    for name in events:
        if name != "step":
            since_step.append(name)
            continue
        last_backward = len(since_step) - 1 - since_step[::-1].index("backward") \
            if "backward" in since_step else -1
        if last_backward < 0:
            return "train_classifier called optimizer.step() before loss.backward() in a step"
        if "zero_grad" in since_step[last_backward:]:
            return ("train_classifier cleared the gradients between loss.backward() and "
                    "optimizer.step(), so the step saw no gradient: call zero_grad() before "
                    "loss.backward()")
        if not first and "zero_grad" not in since_step[:since_step.index("backward")]:
            return ("train_classifier does not clear the gradients before loss.backward(), "
                    "so they add up over the steps: call optimizer.zero_grad() in every step")
        since_step, first = [], False
    return ""


@contextlib.contextmanager
def recording_steps(model, optimizer):
    """Inside the block, the calls of loss.backward(), zero_grad() and optimizer.step(), in order."""
    events, backward = [], mg.Tensor.backward

    def recorded(name, call):
        def wrapper(*args, **kwargs):
            events.append(name)
            return call(*args, **kwargs)
        return wrapper

    optimizer.step = recorded("step", optimizer.step)
    optimizer.zero_grad = recorded("zero_grad", optimizer.zero_grad)
    model.zero_grad = recorded("zero_grad", model.zero_grad)
    mg.Tensor.backward = recorded("backward", backward)
    try:
        yield events
    finally:
        mg.Tensor.backward = backward
        for owner in (optimizer, model):
            vars(owner).pop("step", None)
            vars(owner).pop("zero_grad", None)


class EngineCrossEntropy:
    """The mean cross-entropy from the engine's log_softmax: the training test uses it in place
    of your SoftmaxCrossEntropy while yours disagrees with it (exercise 8 grades your op)."""

    @staticmethod
    def apply(logits, labels):
        onehot = mg.Tensor(np.eye(logits.shape[1])[labels])
        return -(logits.log_softmax(axis=1) * onehot).sum() / logits.shape[0]


def op_agrees_with_engine(op):
    """Whether `op` gives EngineCrossEntropy's loss and gradient on a small batch."""
    Z = np.random.default_rng(1).normal(size=(5, 4))
    y = np.array([1, 0, 3, 3, 2])
    results = []
    try:
        for loss_op in (op, EngineCrossEntropy):
            logits = mg.Tensor(Z, requires_grad=True)
            loss = loss_op.apply(logits, y)
            loss.backward()
            results.append((float(loss.item()), np.asarray(logits.grad, dtype=float)))
    except Exception:
        return False
    (mine, my_grad), (want, grad) = results
    return bool(np.isclose(mine, want) and my_grad.shape == grad.shape
                and np.allclose(my_grad, grad))


# %% nbgrader={"grade": true, "grade_id": "a4-train-test", "locked": true, "points": 4, "schema_version": 3, "solution": false, "task": false}
# Checks: each step computes the loss with your SoftmaxCrossEntropy.apply (not the engine's
# cross_entropy), clears the old gradients before loss.backward(), then steps; logistic
# regression reaches 90% test accuracy and the MLP 95%, with the examples in the order of seed=2.
X_tr, y_tr, X_te, y_te = mg.data.digits(test_fraction=0.25, seed=0)
steps_per_epoch = -(-len(X_tr) // 64)
your_op, stand_in = SoftmaxCrossEntropy, ""
if not op_agrees_with_engine(your_op):
    print("Your SoftmaxCrossEntropy does not agree with the engine yet (exercise 8 grades it):\n"
          "this test trains with EngineCrossEntropy in its place.")
    SoftmaxCrossEntropy = EngineCrossEntropy
    stand_in = (" (a stand-in from the engine's log_softmax replaced your SoftmaxCrossEntropy, "
                "which exercise 8 grades)")
try:
    for name, hidden, lr, epochs, target in (("logistic regression", False, 0.02, 20, 0.90),
                                             ("the MLP [64, 128, 10]", True, 0.01, 30, 0.95)):
        model = mg.nn.MLP([64, 128, 10], seed=0) if hidden else mg.nn.Linear(64, 10, seed=0)
        optimizer = mg.optim.Adam(model.parameters(), lr=lr)
        steps = epochs * steps_per_epoch
        what = f"train_classifier on {name}, Adam lr={lr}, {epochs} epochs, seed=2{stand_in}"
        with recording_steps(model, optimizer) as events, \
                calls_to("SoftmaxCrossEntropy.apply") as own, \
                calls_to("minigrad.ops.CrossEntropy.apply") as engine:
            losses = train_classifier(model, X_tr, y_tr, optimizer, epochs=epochs, seed=2)
        require("method", engine.count == 0,
                f"{what}: train_classifier must compute the loss with your "
                f"SoftmaxCrossEntropy.apply, as exercise 9 asks, not with "
                f"mg.functional.cross_entropy (called {engine.count} times in {steps} steps)")
        require("method", own.count == steps,
                f"{what}: train_classifier must compute each minibatch's loss with your "
                f"SoftmaxCrossEntropy.apply: {own.count} calls in {steps} steps")
        problem = training_step_problem(events, steps)
        require("order", not problem, f"{what}: {problem}")
        require("value", isinstance(losses, list) and len(losses) == steps
                and all(isinstance(v, float) for v in losses),
                f"{what}: losses must be a list of {steps} Python floats (loss.item()), got "
                f"{len(losses) if isinstance(losses, list) else type(losses).__name__} entries")
        expect_finite(losses, f"{what}: the losses")
        test_accuracy = accuracy(model, X_te, y_te)
        expect_accuracy(test_accuracy, target, what)
        print(f"{name}: loss {losses[0]:.3f} -> {np.mean(losses[-10:]):.3f}, "
              f"test accuracy {test_accuracy:.3f}")
finally:
    SoftmaxCrossEntropy = your_op
### BEGIN HIDDEN TESTS
# Is the student's op right? Exercise 8 grades it; if not, a stand-in made of the engine's
# log_softmax takes its place here, so that exercise 9 grades the training loop alone.
probe = student.kernel('''
def probe(op, Z, y):
    logits = mg.Tensor(Z, requires_grad=True)
    loss = op.apply(logits, y)
    loss.backward()
    return loss.data, logits.grad
''')
Z = np.random.default_rng(seed).normal(size=(6, 10)) * 2.0
y = np.arange(6) % 10
want_grad = np.exp(log_softmax_ref(Z))
want_grad[np.arange(6), y] -= 1.0
try:
    loss, grad = probe(student.SoftmaxCrossEntropy, Z, y)
    op_ok = bool(np.shape(loss) in ((), (1,)) and np.shape(grad) == Z.shape
                 and np.allclose(loss, -log_softmax_ref(Z)[np.arange(6), y].mean())
                 and np.allclose(grad, want_grad / 6))
except (StudentError, TypeError, ValueError):
    op_ok = False

# one fixture trains a fresh model in the kernel and hands back plain data
train = student.kernel('''
def train(train_classifier, op, own_op, hidden, X, y, lr, epochs, order, X_test):
    model = mg.nn.MLP([64, 128, 10], seed=0) if hidden else mg.nn.Linear(64, 10, seed=0)
    optimizer = mg.optim.Adam(model.parameters(), lr=lr)
    events = []

    def engine_loss(logits, labels):
        onehot = mg.Tensor(np.eye(logits.shape[1])[labels])
        return -(logits.log_softmax(axis=1) * onehot).sum() / logits.shape[0]

    def recorded(name, call):
        def wrapper(*args, **kwargs):
            events.append(name)
            return call(*args, **kwargs)
        return wrapper

    saved = dict(vars(op))
    backward = mg.Tensor.backward
    op.apply = recorded("loss", op.apply if own_op else engine_loss)
    optimizer.step = recorded("step", optimizer.step)
    optimizer.zero_grad = recorded("zero_grad", optimizer.zero_grad)
    model.zero_grad = recorded("zero_grad", model.zero_grad)
    mg.Tensor.backward = recorded("backward", backward)
    try:
        losses = train_classifier(model, X, y, optimizer, epochs=epochs, seed=order)
    finally:
        mg.Tensor.backward = backward
        if "apply" in saved:
            op.apply = saved["apply"]
        else:
            del op.apply
    with mg.no_grad():
        logits = model(mg.Tensor(X_test)).data
    if not isinstance(losses, list):
        losses = []
    return [v if isinstance(v, float) else type(v).__name__ for v in losses], logits, events
''')

X_tr, y_tr, X_te, y_te = mg.data.digits(test_fraction=0.25, seed=0)
steps_per_epoch = -(-len(X_tr) // 64)
# Orders of the examples (seeds of train_classifier) after which the solution's models
# clear both targets with a margin (logistic regression >= 0.948, the MLP >= 0.966):
# some other orders leave the MLP just above 0.95, too close to grade on.
ORDERS = (2, 3, 5, 6, 7, 8, 10, 13, 14, 15, 16, 17, 18, 21, 22, 23)
order = ORDERS[np.random.default_rng(seed).integers(len(ORDERS))]
stand_in = "" if op_ok else (" (a stand-in from the engine's log_softmax replaced your "
                             "SoftmaxCrossEntropy, which exercise 8 grades)")
for name, hidden, lr, epochs, target in (("logistic regression", False, 0.02, 20, 0.90),
                                         ("the MLP [64, 128, 10]", True, 0.01, 30, 0.95)):
    steps = epochs * steps_per_epoch
    what = f"train_classifier on {name}, Adam lr={lr}, {epochs} epochs, seed={order}{stand_in}"
    with student.counting("minigrad.ops.CrossEntropy.apply") as engine:
        losses, logits, events = train(student.train_classifier, student.SoftmaxCrossEntropy,
                                       op_ok, hidden, X_tr, y_tr, lr, epochs, order, X_te)
    require("method", engine.calls == 0,
            f"{what}: train_classifier must compute the loss with your "
            f"SoftmaxCrossEntropy.apply, as exercise 9 asks, not with "
            f"mg.functional.cross_entropy (called {engine.calls} times in {steps} steps)")
    require("method", events.count("loss") == steps,
            f"{what}: train_classifier must compute each minibatch's loss with your "
            f"SoftmaxCrossEntropy.apply: {events.count('loss')} calls in {steps} steps")
    problem = training_step_problem(events, steps)
    require("order", not problem, f"{what}: {problem}")
    kinds = sorted({v for v in losses if isinstance(v, str)})
    require("value", len(losses) == steps and not kinds,
            f"{what}: losses must be a list of {steps} Python floats (loss.item()), got "
            f"{len(losses)} entries" + (f" holding {', '.join(kinds)}" if kinds else ""))
    expect_finite(losses, f"{what}: the losses")
    first, last = losses[0], float(np.mean(losses[-10:]))
    hint = f"the loss went from {first:.3f} to {last:.3f} (mean of the last ten steps)"
    if last > 0.8 * first:
        hint += (", so the parameters barely learned: compute the logits as model(xb) "
                 "and the loss against this minibatch's labels yb")
    expect_accuracy(float(np.mean(np.argmax(logits, axis=1) == y_te)), target, what, hint=hint)
### END HIDDEN TESTS


# %% [markdown]
# ## Training both models
#
# Now we train each model for longer and look at what it learned.
# This time we use SGD with momentum and a little *weight decay*:
# every step also shrinks each weight by a small fraction,
# the gradient of the L2 penalty $\lambda \Omega$,
# with $\Omega = \tfrac{1}{2}\lVert w \rVert^2$ and $\lambda = 10^{-3}$.
# Pixels that never carry ink then receive no gradient from the data
# and their weights decay towards zero,
# which makes the weight pictures further down much easier to read.
# The progress bars show the running loss.

# %%
logreg = mg.nn.Linear(64, 10, seed=0)
logreg_optimizer = mg.optim.SGD(logreg.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
logreg_losses = train_classifier(logreg, X_train, y_train, logreg_optimizer, epochs=40,
                                 progress=True)

mlp = mg.nn.MLP([64, 128, 10], seed=0)
mlp_optimizer = mg.optim.SGD(mlp.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
mlp_losses = train_classifier(mlp, X_train, y_train, mlp_optimizer, epochs=40, progress=True)

for name, model in (("logistic regression", logreg), ("MLP", mlp)):
    print(f"{name:20s} train accuracy {accuracy(model, X_train, y_train):.3f}, "
          f"test accuracy {accuracy(model, X_test, y_test):.3f}")

# %% [markdown]
# ### The loss curves
#
# Each point is the loss of one minibatch, so the raw curve is noisy;
# the thick line is a moving average over one epoch.
# Both models start at $\log 10$ and do most of their learning in the first few epochs.
# On the logarithmic axis the gap between them is easy to see:
# the hidden layer buys a training loss several times lower.

# %%
def moving_average(values, width):
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="valid")


steps_per_epoch = -(-len(X_train) // 64)
fig, ax = plt.subplots(figsize=(7, 3.5))
for name, curve, color in (("logistic regression", logreg_losses, "tab:blue"),
                           ("MLP", mlp_losses, "tab:orange")):
    ax.plot(curve, color=color, alpha=0.25, linewidth=0.8)
    smooth = moving_average(curve, steps_per_epoch)
    ax.plot(np.arange(len(smooth)) + steps_per_epoch - 1, smooth, color=color, label=name)
ax.axhline(np.log(10), color="gray", linestyle=":", label="log 10 (uniform guess)")
ax.set_yscale("log")
ax.set_ylim(1e-3, 4.0)
ax.set_xlabel("step (minibatch of 64)")
ax.set_ylabel("cross-entropy")
ax.legend(loc="lower left")
plt.show()

last_epoch = {name: np.mean(curve[-steps_per_epoch:])
              for name, curve in (("logistic regression", logreg_losses), ("MLP", mlp_losses))}
print("mean loss over the last epoch:",
      ", ".join(f"{name} {value:.4f}" for name, value in last_epoch.items()))
# what the text above says: the MLP's training loss is several times lower
assert last_epoch["logistic regression"] > 3 * last_epoch["MLP"]

# %% [markdown]
# ### What logistic regression looks at
#
# `mg.nn.Linear` works on rows, `x @ W + b`,
# so `logreg.W` is laid out as the $W$ of section 4, (inputs, outputs): shape (64, 10).
# Column $c$ holds one number per pixel,
# and the logit of class $c$ is the dot product of that column with the image.
# Drawn as an 8x8 picture, the column shows which pixels argue *for* class $c$ (red)
# and which argue *against* it (blue).
# Some columns look like a rough template of their digit:
# the 0 is a red ring around a blue centre, where a 0 has no ink,
# and the 2 has a red stroke along the bottom.
# Others are mostly blue spots where competing digits put their ink:
# the model learns whatever separates the classes, not an average picture.

# %%
W_learned = logreg.W.data
print("logreg.W has shape", W_learned.shape)
limit = np.abs(W_learned).max()  # one range centred on 0 for all ten columns
fig, axes = plt.subplots(2, 5, figsize=(8, 3.8), layout="constrained")
for digit, ax in enumerate(axes.flat):
    image = ax.imshow(W_learned[:, digit].reshape(8, 8), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.set_title(str(digit))
    ax.axis("off")
fig.colorbar(image, ax=axes, shrink=0.8, label="weight")
plt.show()

# %% [markdown]
# ### Where the mistakes are: the confusion matrix
#
# Entry $(i, j)$ counts the test images of digit $i$ that the model called $j$.
# A perfect classifier has all counts on the diagonal;
# every number off it is a mistake,
# and the position tells us which two digits were confused.

# %%
def confusion_matrix(true_labels, predicted, classes=10):
    counts = np.zeros((classes, classes), dtype=int)
    np.add.at(counts, (true_labels, predicted), 1)
    return counts


fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
for ax, (name, model) in zip(axes, (("logistic regression", logreg), ("MLP", mlp))):
    counts = confusion_matrix(y_test, predict(model, X_test))
    ax.imshow(counts, cmap="Blues")
    for i in range(10):
        for j in range(10):
            if counts[i, j]:
                ax.text(j, i, counts[i, j], ha="center", va="center", fontsize=8,
                        color="white" if counts[i, j] > counts.max() / 2 else "black")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_xlabel("predicted digit")
    ax.set_ylabel("true digit")
    ax.set_title(f"{name}: {np.trace(counts)} of {counts.sum()} right")
plt.show()

# %% [markdown]
# Finally, a few of the test images the MLP gets wrong.
# Several are hard for a person too at this resolution.

# %%
wrong = np.flatnonzero(predict(mlp, X_test) != y_test)[:8]
predicted = predict(mlp, X_test)
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(1.2 * max(len(wrong), 1), 1.8),
                         squeeze=False)
for ax, index in zip(axes[0], wrong):
    ax.imshow(X_test[index].reshape(8, 8), cmap="gray_r")
    ax.set_title(f"{y_test[index]} as {predicted[index]}", fontsize=9)
for ax in axes[0]:
    ax.axis("off")
plt.show()

# %% [markdown]
# ## Summary
#
# - The softmax turns logits into probabilities.
#   Subtracting the maximum first keeps it finite,
#   and the log-softmax is computed without taking the log of a softmax.
# - Its Jacobian is $\operatorname{diag}(p) - p^\top p$:
#   symmetric, rows summing to zero, nearly zero when the softmax saturates.
# - Through the cross-entropy the small factor $p_y$ of that Jacobian cancels against the log's $1/p_y$,
#   and the error signal is simply $\bar{z} = p - e_y$, which does not vanish on a confident mistake.
# - A linear layer `x @ W + b` turns $\bar{z}$ into
#   $x^\top \bar{z}$ for $W$, $\bar{z}$ for $b$ and $\bar{z} W^\top$ for $x$.
# - For a mean over a batch the signal is $(P - Y)/N$, one row per example.
# - Fusing softmax and cross-entropy into one `mg.Function` replaces a chain of ten ops by one,
#   gives a short, stable backward,
#   and it is all a classifier needs to learn the digits.
