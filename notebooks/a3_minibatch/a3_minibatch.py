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
# # Assignment 3: minibatches
#
# In assignment 1 every number in the network was its own node in a graph.
# In assignment 2 we grouped those numbers into vectors and matrices,
# but we still pushed one example through the network at a time.
# Here we push a whole batch of examples through at once.
#
# The network does not change:
# one hidden layer with a ReLU, one linear output, and the squared error.
# What changes is that every array gains a leading axis that counts examples.
# The forward pass hardly notices.
# The backward pass notices in one place that matters:
# a parameter is shared by all examples of the batch,
# so its gradient is a sum over the batch.
#
# We will
#
# 1. write the forward pass and the loss for a batch,
# 2. derive why parameter gradients are sums, and write the batched affine backward,
# 3. compare mean and sum losses, and find the $-2/N$ of the lecture's training loop,
# 4. derive and write the backward pass of the whole network for a batch,
# 5. write the lecture's per-example loop, check it against the batched code, and time both,
# 6. write a minibatch iterator,
# 7. train the network with minibatch SGD, and see what the batch size does to the learning rate,
# 8. predict, then measure, how the noise of a minibatch gradient falls with the batch size,
# 9. write the backward pass of a network of any depth,
# 10. measure what a backward pass costs compared with a forward pass,
# 11. measure the memory a backward pass needs, and trade some of it for recomputation,
# 12. write batch normalisation, the layer where the examples of a batch meet.
#
# Where an exercise asks for a gradient, the notebook gives the forward pass and the shapes;
# the derivation is yours.
# A worked derivation follows each such exercise, folded, below its test cell:
# open it once your answer passes, or when you are stuck.
#
# **Grading.**
# The exercises and their points are in the table at the end of this cell.
# Each answer cell holds a function or two with a fixed signature, or a short numeric answer;
# replace `raise NotImplementedError()` with your code and keep the signature.
# The test cell under each exercise runs a few visible checks that tell you what is wrong;
# the grader runs more checks of the same kinds (values, shapes, dtypes, order, method).
# An exercise with two functions is graded in two parts, one test cell each.
# Exercise 9 is answered in writing, in a markdown cell, and graded by hand.
# Exercises 2 to 5, 10, 12 and 14 ask for gradients **by hand, with numpy**:
# the grader runs your functions with minigrad's autograd switched off,
# and so do their test cells, so calling `.backward()` earns no points.
# Where a function calls one from an earlier exercise,
# the grader answers those calls with correct values,
# or accepts what your own earlier function leads to:
# a mistake costs points in its own exercise only.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | autograded | written | points |
# |---|---|---|---|---|---|
# | 1 | forward pass and loss for a batch | mlp_forward (1), mse_loss (1) | 2 | - | 2 |
# | 2 | batched affine backward | one | 2 | - | 2 |
# | 3 | backward of the squared error | one | 2 | - | 2 |
# | 4 | backward pass of the MLP for a batch | one | 3 | - | 3 |
# | 5 | the lecture's per-example loop | output_grads_one (1), lecture_loop_gradient (2) | 3 | - | 3 |
# | 6 | a minibatch iterator | one | 2 | - | 2 |
# | 7 | the training loop | one | 3 | - | 3 |
# | 8 | predict the slope | one | 1 | - | 1 |
# | 9 | the batch size and the learning rate, in writing | written answer | 0 | 3 | 3 |
# | 10 | the backward pass for any depth | one | 3 | - | 3 |
# | 11 | the bytes of the cache | one | 1 | - | 1 |
# | 12 | checkpointed backward | one | 3 | - | 3 |
# | 13 | the best spacing | one | 1 | - | 1 |
# | 14 | batch normalisation, forward and backward | batchnorm_forward (1), batchnorm_backward (3) | 4 | - | 4 |
# | | **total** | 16 graded cells, 1 written | **30** | **3** | **33** |
# <!-- end of points table -->

# %% nbgrader={"grade": false, "grade_id": "a3-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import time
import tracemalloc

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from minigrad.expect import (
    AutogradDisabledError,
    autograd_off,
    calls_to,
    expect_close,
    expect_dtype,
    expect_shape,
    expect_unchanged,
    require,
)
from minigrad.gradcheck import check_gradients
from minigrad.viz import LossPlot


class NotAnsweredError(AssertionError):
    """A function that still raises NotImplementedError; `function` is its name."""

    def __init__(self, what, function):
        super().__init__(f"{what}: {function} still raises NotImplementedError; "
                         "write it and run its cell again")
        self.function = function


def attempt(what, answer, *args, **kwargs):
    """Call an answer from a test cell; its usual failures become one line saying what to do."""
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as exc:
        tb = exc.__traceback__
        while tb.tb_next is not None:
            tb = tb.tb_next
        raise NotAnsweredError(what, tb.tb_frame.f_code.co_name) from None
    except AutogradDisabledError as exc:
        raise AssertionError(f"{what}: {exc}") from None
    except (ValueError, IndexError) as exc:  # numpy's shape errors
        raise AssertionError(f"{what} raised {type(exc).__name__} ({exc}): write down the "
                             "shape of every array in the products; X is (N, D), W1 (D, K), "
                             "W2 (K, 1), and a gradient has the shape of its variable") from None


def make_regression(n, seed):
    """Return (X, Y), both of shape (n, 1): noisy samples of a smooth curve on [-1, 1]."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    y = np.sin(3.0 * x) + 0.5 * x + 0.1 * rng.standard_normal((n, 1))
    return x, y


def init_params(d_in=1, hidden=32, seed=0, dtype=np.float64):
    """Return the parameters of the two-layer MLP as a dict of arrays.

    W1 has shape (d_in, hidden), b1 (hidden,), W2 (hidden, 1), b2 (1,).
    """
    rng = np.random.default_rng(seed)
    params = {
        "W1": rng.standard_normal((d_in, hidden)),
        "b1": rng.uniform(-1.0, 1.0, size=hidden),
        "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden),
        "b2": np.zeros(1),
    }
    return {name: value.astype(dtype) for name, value in params.items()}


# %% [markdown]
# ## 1. The batch dimension
#
# We store one example as a row vector $x \in \mathbb{R}^{D}$.
# The network is
#
# $$z = x W_1 + b_1, \qquad h = \mathrm{relu}(z), \qquad \hat y = h W_2 + b_2,$$
#
# with $K$ hidden units,
# $W_1$ of shape $(D, K)$, $b_1$ of shape $(K,)$,
# $W_2$ of shape $(K, 1)$ and $b_2$ of shape $(1,)$.
# This is the row convention of the whole course, the one `mg.nn.Linear` stores;
# the symbols are those of the [notation sheet](../a2_vectorized/a2_vectorized.ipynb#Notation).
# The lecture on frameworks writes a layer for a column vector, $a_l = W_l\, o_{l-1} + b_l$:
# its $W_l$ is our $W^\top$, and its $o_{l-1}$ is our row $x$ stood upright.
#
# Now stack $N$ examples as the rows of a matrix $X$ of shape $(N, D)$.
# The same three lines compute all $N$ outputs at once:
#
# $$Z = X W_1 + b_1, \qquad H = \mathrm{relu}(Z), \qquad \hat Y = H W_2 + b_2.$$
#
# Row $i$ of $Z$ is $x_i W_1 + b_1$, which is exactly what example $i$ alone would give.
# The bias $b_1$ is added to every row by broadcasting.
# Nothing in the forward pass mixes two examples:
# the batch axis is bookkeeping, and a matrix product does the loop for us.
#
# The loss is the only place where the examples meet.
# With targets $Y$ of shape $(N, 1)$, the mean squared error is
#
# $$L = \frac{1}{N} \sum_{i=1}^{N} (\hat y_i - y_i)^2 .$$
#
# Our dataset is a noisy curve in one dimension, so $D = 1$.
# Notice that the targets have shape $(N, 1)$, not $(N,)$.

# %%
X_train, Y_train = make_regression(512, seed=0)
params0 = init_params(d_in=1, hidden=32, seed=0)
print("X_train", X_train.shape, "Y_train", Y_train.shape)
print({name: value.shape for name, value in params0.items()})

fig, ax = plt.subplots(figsize=(5, 3))
ax.scatter(X_train[:, 0], Y_train[:, 0], s=6, alpha=0.6)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("training set: 512 noisy samples")
fig.tight_layout()

# %% [markdown]
# The shape of the targets matters more than it seems.
# A prediction of shape $(N, 1)$ minus a target of shape $(N,)$ does not fail:
# numpy broadcasts both to $(N, N)$ and subtracts every target from every prediction.
# The "loss" is then a number, just the wrong one, and training quietly fits the mean of the data.
# This is the most common batch bug there is, so our loss function will refuse mismatched shapes.

# %%
pred = np.arange(4.0).reshape(4, 1) + 0.5  # four predictions, each off by 0.5
target_col = np.arange(4.0).reshape(4, 1)  # targets stored as a column, shape (4, 1)
target_flat = np.arange(4.0)  # the same targets stored flat, shape (4,)
for target in (target_col, target_flat):
    diff = pred - target
    print(f"(4, 1) - {target.shape}: difference of shape {diff.shape}, "
          f"mean square {np.mean(diff ** 2):.3f}")

# %% [markdown]
# ### Exercise 1 (2 points): forward pass and loss for a batch
#
# Write `mlp_forward(X, params)`,
# which returns $\hat Y$ of shape $(N, 1)$ for $X$ of shape $(N, D)$,
# and `mse_loss(Yhat, Y, reduction)`, which returns the squared error as a Python float:
# the mean over the batch when `reduction="mean"`, the sum when `reduction="sum"`.
#
# * No loop over examples: three lines of numpy.
# * Keep the dtype: float32 inputs give a float32 $\hat Y$ (checked).
# * `mse_loss` raises `ValueError` when `Yhat.shape != Y.shape` (say both shapes in the message),
#   and when `reduction` is neither `"mean"` nor `"sum"`.

# %% nbgrader={"grade": false, "grade_id": "a3-batched-forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_forward(X, params):
    """Forward pass of the two-layer MLP for a batch.

    X: array of shape (N, D).
    params: dict with W1 (D, K), b1 (K,), W2 (K, 1), b2 (1,).
    Returns Yhat = relu(X @ W1 + b1) @ W2 + b2, shape (N, 1), same dtype as X.
    """
    ### BEGIN SOLUTION
    Z = X @ params["W1"] + params["b1"]
    H = np.maximum(Z, 0)
    return H @ params["W2"] + params["b2"]
    ### END SOLUTION


def mse_loss(Yhat, Y, reduction="mean"):
    """Squared error between Yhat and Y (same shape), as a Python float.

    reduction="mean": sum of squares divided by N = Yhat.shape[0].
    reduction="sum": sum of squares.
    Raises ValueError when the shapes differ or the reduction is unknown.
    """
    ### BEGIN SOLUTION
    if Yhat.shape != Y.shape:
        raise ValueError(
            f"mse_loss: prediction and target must have the same shape "
            f"(got {Yhat.shape} and {Y.shape})"
        )
    total = np.sum((Yhat - Y) ** 2)
    if reduction == "sum":
        return float(total)
    if reduction == "mean":
        return float(total / Yhat.shape[0])
    raise ValueError(f"mse_loss: reduction must be 'mean' or 'sum' (got {reduction!r})")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-batched-forward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: mlp_forward
# Checks: mlp_forward gives one row per example, shape (N, 1), and keeps float32 float32.
_a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
       "W2": np.array([[3.0]]), "b2": np.array([1.0])}
_out = attempt("mlp_forward([[2.0]], params)", mlp_forward, np.array([[2.0]]), _a1)
expect_close(_out, [[7.0]], "mlp_forward on assignment 1's network (x=2, W1=-1, b1=4, W2=3, b2=1)")
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((5, 3))
_p = init_params(d_in=3, hidden=4, seed=1)
_Yhat = expect_shape(mlp_forward(_X, _p), (5, 1), "mlp_forward on a batch of 5 (D=3, K=4)")
for _i in range(5):
    expect_close(mlp_forward(_X[_i:_i + 1], _p), _Yhat[_i:_i + 1],
                 f"mlp_forward on example {_i} alone, against row {_i} of the batch output",
                 hint="Examples must not mix in the forward pass")
_p32 = {_k: _v.astype(np.float32) for _k, _v in _p.items()}
expect_dtype(mlp_forward(_X.astype(np.float32), _p32), np.float32,
             "mlp_forward on float32 inputs and parameters")
print("mlp_forward: right shape, rows independent, dtype kept")
### BEGIN HIDDEN TESTS
X = np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]])
params = {
    "W1": np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]]),
    "b1": np.array([0.1, -0.2, 0.3]),
    "W2": np.array([[1.0], [-2.0], [0.5]]),
    "b2": np.array([0.25]),
}
Yhat = np.array([[1.9], [1.25], [-0.25]])  # worked out by hand
fixed = "mlp_forward on the fixed batch of 3 (D=2, K=3)"
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}

out = expect_shape(student.mlp_forward(X, params), (3, 1), fixed)
expect_close(out, Yhat, fixed, rtol=1e-12, atol=1e-12)
expect_close(student.mlp_forward(np.array([[2.0]]), a1), [[7.0]],
             "mlp_forward on assignment 1's network (x=2, W1=-1, b1=4, W2=3, b2=1)")

params32 = {name: value.astype(np.float32) for name, value in params.items()}
out = student.mlp_forward(X.astype(np.float32), params32)
expect_dtype(out, np.float32, "mlp_forward on float32 inputs and parameters")
expect_close(out, Yhat, fixed + " in float32", rtol=1e-6, atol=1e-6)

rng = np.random.default_rng(seed)
n, d, h = int(rng.integers(30, 50)), int(rng.integers(3, 8)), int(rng.integers(4, 10))
Xr = rng.standard_normal((n, d))
pr = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
      "W2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(1)}
want = np.maximum(Xr @ pr["W1"] + pr["b1"], 0.0) @ pr["W2"] + pr["b2"]
case = f"mlp_forward on a random batch of {n} (D={d}, K={h})"
out = expect_shape(student.mlp_forward(Xr, pr), (n, 1), case)
expect_close(out, want, case, rtol=1e-10, atol=1e-12,
             hint="It must be relu(X @ W1 + b1) @ W2 + b2")
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a3-mse-loss-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: mse_loss
# Checks: mse_loss gives the mean or the sum as a Python float and rejects mismatched shapes.
_Yhat = np.array([[1.9], [1.25], [-0.25]])
_Y = np.array([[1.0], [0.0], [2.0]])
_on = "on Yhat = [1.9, 1.25, -0.25], Y = [1, 0, 2] (columns)"
_mean = attempt("mse_loss(Yhat, Y)", mse_loss, _Yhat, _Y)
assert isinstance(_mean, float), (
    f"mse_loss(Yhat, Y) must return a Python float, got {type(_mean).__name__}")
expect_close(_mean, 2.478333333333333, f"mse_loss(Yhat, Y) {_on}")
expect_close(mse_loss(_Yhat, _Y, reduction="sum"), 7.435,
             f"mse_loss(Yhat, Y, reduction='sum') {_on}")
for _args, _case in [((_Yhat, np.ones(3)), "a prediction of shape (3, 1) and a target of shape (3,)"),
                     ((_Yhat, _Y, "max"), "reduction='max'")]:
    try:
        mse_loss(*_args)
    except ValueError:
        pass
    else:
        raise AssertionError(f"mse_loss with {_case} must raise ValueError, and it returned")
print("mse_loss: mean, sum and both errors as asked")
### BEGIN HIDDEN TESTS
Yhat = np.array([[1.9], [1.25], [-0.25]])
Y = np.array([[1.0], [0.0], [2.0]])
on_fixed = "on Yhat = [1.9, 1.25, -0.25], Y = [1, 0, 2] (columns)"
for text, args, kwargs, want in [
    ("mse_loss(Yhat, Y)", (), {}, 2.478333333333333),
    ("mse_loss(Yhat, Y, reduction='sum')", (), {"reduction": "sum"}, 7.435),
    ("mse_loss(Yhat, Y, 'mean')", ("mean",), {}, 2.478333333333333),
]:
    got = student.mse_loss(Yhat, Y, *args, **kwargs)
    assert isinstance(got, float), f"{text} must return a Python float, got {describe(got)}"
    expect_close(got, want, f"{text} {on_fixed}", rtol=1e-12, atol=1e-12)
got = student.mse_loss(np.array([[7.0]]), np.array([[10.0]]))
assert got == 9.0, f"mse_loss([[7.0]], [[10.0]]) must be exactly 9.0, got {got!r}"

rng = np.random.default_rng(seed)
n = int(rng.integers(20, 60))
Yr, Tr = rng.standard_normal((n, 1)), rng.standard_normal((n, 1))
for reduction, want in [("mean", np.mean((Yr - Tr) ** 2)), ("sum", np.sum((Yr - Tr) ** 2))]:
    expect_close(student.mse_loss(Yr, Tr, reduction), want,
                 f"mse_loss(Yhat, Y, {reduction!r}) on a random batch of {n}", rtol=1e-10)

for bad in [np.zeros(3), np.zeros((3, 2)), np.zeros((1, 3))]:
    rejects("mse_loss", f"a prediction of shape (3, 1) and a target of shape {bad.shape}",
            Yhat, bad)
rejects("mse_loss", "reduction='max'", Yhat, Y, "max")
### END HIDDEN TESTS


# %% [markdown]
# ## 2. Parameter gradients sum over the batch
#
# Take one affine layer $Z = X W + b$ and suppose the loss has sent back
# $\bar Z = \partial L / \partial Z$, of shape $(N, M)$, one row $\bar z_i$ per example.
# For a single example, assignment 2 gave us
#
# $$\bar x_i = \bar z_i W^\top, \qquad
# \bar W^{(i)} = x_i^\top \bar z_i \;\text{(an outer product)}, \qquad
# \bar b^{(i)} = \bar z_i .$$
#
# In a batch, the input rows $x_i$ are separate nodes, one per example,
# so each gets its own gradient row.
# But $W$ and $b$ are single nodes used by all $N$ examples.
# This is fan-out, as in assignment 1 where $x$ fed both $x^2$ and $3x$:
# when a node feeds several consumers, the gradients from all of them add up.
#
# Derive $\bar X$, $\bar W$ and $\bar b$ for the batch from these two facts,
# as matrix expressions with no loop over examples.
# A shape check catches most mistakes:
# $\bar W$ must have the shape of $W$, and $\bar b$ the shape of $b$, whatever $N$ is.
# (Hint: write entry $(j, k)$ of the sum of the $N$ outer products $x_i^\top \bar z_i$,
# and look for a matrix product.)

# %% [markdown]
# ### Exercise 2 (2 points): batched affine backward
#
# Write `affine_backward(dout, X, W)` for $Z = X W + b$.
# Given `dout` $= \bar Z$ of shape $(N, M)$,
# the input $X$ of shape $(N, D)$ and $W$ of shape $(D, M)$,
# return the tuple `(dX, dW, db)` with shapes $(N, D)$, $(D, M)$ and $(M,)$.
# No loop over examples.
# Gradients are asked by hand: the grader switches minigrad's autograd off.

# %% nbgrader={"grade": false, "grade_id": "a3-affine-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def affine_backward(dout, X, W):
    """Backward pass of Z = X @ W + b for a batch.

    dout: dL/dZ, shape (N, M).  X: shape (N, D).  W: shape (D, M).
    Returns (dX, dW, db) with shapes (N, D), (D, M), (M,).
    """
    ### BEGIN SOLUTION
    dX = dout @ W.T
    dW = X.T @ dout
    db = dout.sum(axis=0)
    return dX, dW, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-affine-backward-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: affine_backward agrees with finite differences, gives dX, dW, db the shapes and dtype
# of X, W and b, and leaves its inputs alone. Autograd is off, as in grading.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((8, 3))
_W = _rng.standard_normal((3, 2))
_b = _rng.standard_normal(2)
_dout = _rng.standard_normal((8, 2))
_call = "affine_backward on a batch of 8 (D=3, M=2)"
_args = (_dout, _X, _W)
_copies = [_a.copy() for _a in _args]
with autograd_off():
    _grads = attempt(_call, affine_backward, *_args)
    assert isinstance(_grads, tuple) and len(_grads) == 3, (
        f"{_call} must return the tuple (dX, dW, db), got {type(_grads).__name__}")
    for _name, _got, _like in zip(("dX", "dW", "db"), _grads, (_X, _W, _b)):
        expect_shape(_got, _like.shape, f"{_call}: {_name}")
    for _name, _before, _after in zip(("dout", "X", "W"), _copies, _args):
        expect_unchanged(_before, _after, f"{_call} (argument {_name})")
    check_gradients(
        lambda X, W, b: X @ W + b,
        {"X": _X, "W": _W, "b": _b},
        lambda dout: affine_backward(dout, _X, _W),
    ).assert_ok()
    _grads32 = affine_backward(*(_a.astype(np.float32) for _a in _args))
    for _name, _got in zip(("dX", "dW", "db"), _grads32):
        expect_dtype(_got, np.float32, f"affine_backward on float32 inputs: {_name}")
print("affine_backward agrees with finite differences")
### BEGIN HIDDEN TESTS
NAMES = ["dX", "dW", "db"]


def affine(X, W, b):
    return X @ W + b


# literal values, by hand
X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
dout = np.array([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.0], [0.5, 0.5, 0.5]])
wanted = [np.array([[-1.0, 3.0], [-1.0, -1.0], [0.0, 1.75]]),
          np.array([[-2.0, 3.0, 2.0], [3.5, -0.5, 4.5]]),
          np.array([0.5, 1.5, 2.5])]
rules = {"dX": "dout @ W.T", "dW": "X.T @ dout", "db": "dout.sum(axis=0)"}
fixed = "affine_backward on a fixed batch of 3 (D=2, M=3)"
rng = np.random.default_rng(seed)
with student.autograd_off():
    got = arrays(student.affine_backward(dout, X, W), fixed, NAMES)
    for name, value, want in zip(NAMES, got, wanted):
        expect_shape(value, want.shape, f"{fixed}: {name}")
        hint = f"It must be {rules[name]}"
        if name == "db" and (times(value, want) or 0) * 3 == 1:
            hint = ("b is shared by the 3 examples, so its gradient sums over the batch: "
                    "dout.sum(axis=0), not a mean")
        expect_close(value, want, f"{fixed}: {name}", hint=hint)

    n1, n2 = int(rng.integers(10, 30)), int(rng.integers(40, 80))
    cases = [(1, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float64),
             (n1, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float64),
             (n2, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float32)]
    for n, d, m, dt in cases:
        Xr = rng.standard_normal((n, d)).astype(dt)
        Wr = rng.standard_normal((d, m)).astype(dt)
        br = rng.standard_normal(m).astype(dt)
        dname = np.dtype(dt).name
        case = f"affine_backward on a random batch of {n} ({dname}, D={d}, M={m})"
        out = arrays(student.affine_backward(np.ones((n, m), dtype=dt), Xr, Wr), case, NAMES)
        for name, value, like in zip(NAMES, out, (Xr, Wr, br)):
            expect_shape(value, like.shape, f"{case}: {name}")
            if dt == np.float32:
                expect_dtype(value, np.float32, f"affine_backward on float32 inputs: {name}")
        gradients_ok(case, affine, {"X": Xr, "W": Wr, "b": br},
                     lambda dout, Xr=Xr, Wr=Wr: student.affine_backward(dout, Xr, Wr))

    # affine_backward must leave its arguments alone (checked in the kernel, on its own copies)
    n, d, m = n1, 4, 3
    args = [rng.standard_normal((n, m)), rng.standard_normal((n, d)), rng.standard_normal((d, m))]
    _, after = student.affine_backward.inputs_after(*args)
    for name, before, now in zip(["dout", "X", "W"], args, after):
        expect_unchanged(before, now, f"affine_backward on a batch of {n} (D={d}, M={m}) "
                                      f"(argument {name})")
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Each row gets its own gradient, $\bar x_i = \bar z_i W^\top$; stacked, $\bar X = \bar Z W^\top$,
# with no sum.
# The shared parameters add the contributions of all examples:
#
# $$\bar W = \sum_{i=1}^{N} x_i^\top \bar z_i = X^\top \bar Z, \qquad
# \bar b = \sum_{i=1}^{N} \bar z_i = \bar Z\text{.sum(axis=0)} .$$
#
# The matrix product $X^\top \bar Z$ is exactly the sum of the $N$ outer products:
# entry $(j, k)$ of both is $\sum_i X_{ij} \bar P_{ik}$.
# Shapes: $(D, N)(N, M) = (D, M)$, the shape of $W$.
#
# </details>
#
# The cell below confirms the identity on random numbers.

# %%
rng_demo = np.random.default_rng(3)
X_demo = rng_demo.standard_normal((6, 3))
dZ_demo = rng_demo.standard_normal((6, 2))
outer_sum = np.zeros((3, 2))
for i in range(6):
    outer_sum += np.outer(X_demo[i], dZ_demo[i])
print("sum of outer products == X.T @ dZ:", np.allclose(outer_sum, X_demo.T @ dZ_demo))
print("bias gradient shape:", dZ_demo.sum(axis=0).shape, "(the shape of b)")


# %% [markdown]
# ## 3. Mean or sum, and the $-2/N$ of the lecture's loop
#
# The two common batch losses differ only by a constant:
#
# $$L_{\text{sum}} = \sum_{i=1}^{N} (\hat y_i - y_i)^2, \qquad
# L_{\text{mean}} = \frac{1}{N} L_{\text{sum}} .$$
#
# Derive $\partial L / \partial \hat y_i$ for each of them,
# then stack the $N$ results into $\partial L / \partial \hat Y$, of shape $(N, 1)$.
# Ask yourself where the factor $1/N$ goes, and how many times it appears.

# %% [markdown]
# ### Exercise 3 (2 points): backward of the squared error
#
# Write `mse_backward(Yhat, Y, reduction)`, returning the $\partial L / \partial \hat Y$ you derived
# for `reduction="mean"` or `"sum"`, with the shape and dtype of `Yhat`.
# Raise `ValueError` on mismatched shapes or an unknown reduction, as in exercise 1.

# %% nbgrader={"grade": false, "grade_id": "a3-mse-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mse_backward(Yhat, Y, reduction="mean"):
    """Gradient of mse_loss(Yhat, Y, reduction) with respect to Yhat.

    Returns an array with the shape and dtype of Yhat.
    Raises ValueError when the shapes differ or the reduction is unknown.
    """
    ### BEGIN SOLUTION
    if Yhat.shape != Y.shape:
        raise ValueError(
            f"mse_backward: prediction and target must have the same shape "
            f"(got {Yhat.shape} and {Y.shape})"
        )
    if reduction == "sum":
        return 2 * (Yhat - Y)
    if reduction == "mean":
        return 2 * (Yhat - Y) / Yhat.shape[0]
    raise ValueError(f"mse_backward: reduction must be 'mean' or 'sum' (got {reduction!r})")
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-mse-backward-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: mse_backward agrees with finite differences of the mean and of the sum,
# with the shape and dtype of Yhat. Autograd is off, as in grading.
_rng = np.random.default_rng(0)
_Yhat = _rng.standard_normal((6, 1))
_Y = _rng.standard_normal((6, 1))
with autograd_off():
    for _red in ["mean", "sum"]:
        _call = f"mse_backward(Yhat, Y, {_red!r}) on a batch of 6"
        _g = expect_shape(attempt(_call, mse_backward, _Yhat, _Y, reduction=_red), (6, 1), _call)
        check_gradients(
            lambda Yhat, _red=_red: np.sum((Yhat - _Y) ** 2) / (6 if _red == "mean" else 1),
            {"Yhat": _Yhat},
            {"Yhat": _g},
        ).assert_ok()
    expect_dtype(mse_backward(_Yhat.astype(np.float32), _Y.astype(np.float32)), np.float32,
                 "mse_backward(Yhat, Y, 'mean') on float32 inputs")
try:
    mse_backward(_Yhat, _Y[:, 0])
except ValueError:
    pass
else:
    raise AssertionError("mse_backward with a prediction of shape (6, 1) and a target of "
                         "shape (6,) must raise ValueError, and it returned")
print("mse_backward agrees with finite differences")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
with student.autograd_off():
    sizes = [(1, np.float64), (int(rng.integers(8, 30)), np.float64),
             (int(rng.integers(40, 80)), np.float32)]
    for n, dt in sizes:
        Yhat = rng.standard_normal((n, 1)).astype(dt)
        Y = rng.standard_normal((n, 1)).astype(dt)
        for reduction, scale in [("mean", 1.0 / n), ("sum", 1.0)]:

            def loss(Yhat, Y=Y, scale=scale):
                return scale * np.sum(np.square(Yhat - Y))

            case = (f"mse_backward(Yhat, Y, {reduction!r}) on a random batch of {n} "
                    f"({np.dtype(dt).name})")
            got = expect_shape(student.mse_backward(Yhat, Y, reduction), (n, 1), case)
            if dt == np.float32:
                expect_dtype(got, np.float32, f"mse_backward(Yhat, Y, {reduction!r}) on "
                                              "float32 inputs")
            gradients_ok(case, loss, {"Yhat": Yhat}, {"Yhat": got})

    Yhat = np.array([[1.0], [2.0], [-1.0], [0.5]])
    Y = np.array([[0.0], [2.0], [1.0], [1.5]])
    on_fixed = "on Yhat = [1, 2, -1, 0.5], Y = [0, 2, 1, 1.5] (columns)"
    for args, want in [((), [[0.5], [0.0], [-1.0], [-0.5]]),
                       (("sum",), [[2.0], [0.0], [-4.0], [-2.0]])]:
        text = f"mse_backward(Yhat, Y{''.join(f', {a!r}' for a in args)}) {on_fixed}"
        got = expect_shape(student.mse_backward(Yhat, Y, *args), (4, 1), text)
        expect_close(got, want, text)
    rejects("mse_backward", "a prediction of shape (4, 1) and a target of shape (4,)",
            Yhat, Y[:, 0], "mean")
    rejects("mse_backward", "reduction='max'", Yhat, Y, "max")
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# The gradients with respect to one prediction are
#
# $$\frac{\partial L_{\text{sum}}}{\partial \hat y_i} = 2(\hat y_i - y_i), \qquad
# \frac{\partial L_{\text{mean}}}{\partial \hat y_i} = \frac{2}{N}(\hat y_i - y_i) .$$
#
# The factor $1/N$ enters once, at the top of the backward pass, and flows down to every parameter.
# A classic bug is to divide a second time,
# for example with `db = dout.mean(axis=0)` where a sum belongs:
# the bias gradient then comes out $N$ times too small.
#
# Stacked, $\partial L_{\text{mean}} / \partial \hat Y = \tfrac{2}{N}(\hat Y - Y)$, of shape $(N, 1)$.
#
# </details>
#
# The lecture on parameterized programs writes the same gradient
# with the residual the other way round.
# For a model $R(w; x)$ and targets $t_i$,
#
# $$\frac{\partial}{\partial w} \frac{1}{N} \sum_{i=1}^{N} \big(t_i - R(w; x_i)\big)^2
# = -\frac{2}{N} \sum_{i=1}^{N} \big(t_i - R(w; x_i)\big) \frac{\partial R}{\partial w}(w; x_i) .$$
#
# The $2$ comes from the square, the minus sign from differentiating $t_i - R$ with respect to $R$,
# and the $1/N$ from the mean.
# Its training loop adds up $(t_i - R_i)\,\partial R / \partial w$ over the examples
# and multiplies the total by $-2/N$ once, at the end.
# We will write that loop in section 5.
#
# Why do most libraries use the mean?
# With the sum, the gradient grows in proportion to the batch size,
# so a learning rate that works for 8 examples overshoots for 512.
# With the mean, the gradient is an average and its size does not depend on $N$.
# Take the gradient of the output bias,
# $\partial L / \partial b_2 = \sum_i \partial L / \partial \hat y_i$,
# for a model that predicts $1$ everywhere:

# %%
for n_demo in [8, 64, 512]:
    db2_sum = np.sum(2 * (1.0 - Y_train[:n_demo]))
    db2_mean = db2_sum / n_demo
    print(f"N = {n_demo:4d}   sum loss: dL/db2 = {db2_sum:8.1f}   "
          f"mean loss: dL/db2 = {db2_mean:5.2f}")

# %% [markdown]
# ## 4. The whole network, for the whole batch
#
# Here is the forward pass again, with the shape of every array:
#
# | step | shape |
# |---|---|
# | $Z = X W_1 + b_1$ | $(N, K)$ |
# | $H = \mathrm{relu}(Z)$ | $(N, K)$ |
# | $\hat Y = H W_2 + b_2$ | $(N, 1)$ |
# | $L = \frac{1}{N} \sum_i (\hat y_i - y_i)^2$ | a number |
#
# Derive the backward pass, from the loss down:
# $\bar{\hat Y}$, then $\bar W_2$, $\bar b_2$ and $\bar H$, then $\bar Z$, then $\bar W_1$ and $\bar b_1$.
# Every gradient has the shape of its variable;
# write the shapes next to your formulas before writing code.
# Two facts do all the work:
# the affine layer of section 2 (a product, and a sum over the batch for a shared parameter),
# and the derivative of relu from assignment 2, applied entry by entry.
# Then put your batch formulas next to the one-example code of assignment 2:
# which lines change, and how?
#
# ### Exercise 4 (3 points): backward pass of the MLP for a batch
#
# Write `mlp_loss_and_grads(X, Y, params, reduction="mean")`.
# It returns `(loss, grads)`: the loss as a Python float and a dict with the keys of `params`,
# each gradient with the shape and dtype of its parameter.
# You may call `affine_backward`, `mse_loss` and `mse_backward` from above:
# the grader answers those calls with correct values, so this exercise is graded on its own.
# Keep the dtype: float32 inputs give float32 gradients (checked),
# so multiply by a boolean mask rather than a float64 one (numpy keeps float32 then).
# No loop over examples; no minigrad autograd (it is switched off when grading).

# %% nbgrader={"grade": false, "grade_id": "a3-mlp-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_loss_and_grads(X, Y, params, reduction="mean"):
    """Loss of the two-layer MLP on a batch and its gradient with respect to every parameter.

    X: (N, D), Y: (N, 1), params: dict with W1 (D, K), b1 (K,), W2 (K, 1), b2 (1,).
    Returns (loss, grads): the loss as a float,
    grads a dict with the same keys, shapes and dtypes as params.
    """
    ### BEGIN SOLUTION
    Z = X @ params["W1"] + params["b1"]
    H = np.maximum(Z, 0)
    Yhat = H @ params["W2"] + params["b2"]
    loss = mse_loss(Yhat, Y, reduction)
    dYhat = mse_backward(Yhat, Y, reduction)
    dH, dW2, db2 = affine_backward(dYhat, H, params["W2"])
    dZ = dH * (Z > 0)
    _, dW1, db1 = affine_backward(dZ, X, params["W1"])
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-mlp-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: mlp_loss_and_grads matches finite differences of the batch loss, for mean and sum,
# and float32 inputs give float32 gradients. Autograd is off, as in grading.
# The grader answers your calls of mse_loss, mse_backward and affine_backward correctly;
# here your own versions answer, so when one of them fails a check of its own below,
# this cell says so instead of failing.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((10, 2))
_Y = _rng.standard_normal((10, 1))
_p = init_params(d_in=2, hidden=5, seed=2)


def _batch_loss(W1, b1, W2, b2, scale):
    _out = np.maximum(_X @ W1 + b1, 0) @ W2 + b2
    return scale * np.sum((_out - _Y) ** 2)


def _earlier_broken():
    """The earlier answers that fail a check of their own (finite differences, float32)."""
    _A, _B = _rng.standard_normal((4, 3)), _rng.standard_normal((4, 1))
    _W, _b = _rng.standard_normal((2, 3)), _rng.standard_normal(3)
    _A32, _B32 = _A.astype(np.float32), _B.astype(np.float32)
    _checks = {
        "mse_loss (exercise 1)": lambda: np.isclose(
            mse_loss(_A[:, :1], _B, "sum"), np.sum((_A[:, :1] - _B) ** 2)) and np.isclose(
            mse_loss(_A[:, :1], _B), np.mean((_A[:, :1] - _B) ** 2)),
        "affine_backward (exercise 2)": lambda: check_gradients(
            lambda X, W, b: X @ W + b, {"X": _A[:, :2], "W": _W, "b": _b},
            lambda dout: affine_backward(dout, _A[:, :2], _W)).passed and all(
            _g.dtype == np.float32 for _g in affine_backward(_A32, _A32, _A32[:3])),
        "mse_backward (exercise 3)": lambda: all(check_gradients(
            lambda Yhat, _s=_s: _s * np.sum((Yhat - _B) ** 2), {"Yhat": _A[:, :1]},
            {"Yhat": mse_backward(_A[:, :1], _B, _red)}).passed
            for _red, _s in [("mean", 0.25), ("sum", 1.0)])
            and mse_backward(_A32[:, :1], _B32).dtype == np.float32,
    }
    _broken = []
    for _name, _check in _checks.items():
        try:
            _ok = bool(_check())
        except Exception:  # noqa: BLE001 - a stub or an error counts as failing
            _ok = False
        if not _ok:
            _broken.append(_name)
    return _broken


try:
    with autograd_off():
        for _red, _scale in [("mean", 0.1), ("sum", 1.0)]:
            _call = f"mlp_loss_and_grads(X, Y, params, {_red!r}) on a batch of 10 (D=2, K=5)"
            _out = attempt(_call, mlp_loss_and_grads, _X, _Y, _p, reduction=_red)
            assert isinstance(_out, tuple) and len(_out) == 2, (
                f"{_call} must return the pair (loss, grads), got {type(_out).__name__}")
            _loss, _grads = _out
            assert isinstance(_loss, float), (
                f"{_call}: the loss must be a Python float, got {type(_loss).__name__}")
            expect_close(_loss, _batch_loss(*_p.values(), _scale), f"{_call}: the loss")
            assert isinstance(_grads, dict) and set(_grads) == set(_p), (
                f"{_call}: grads must be a dict with the keys {sorted(_p)}")
            for _k in _p:
                expect_shape(_grads[_k], _p[_k].shape, f"{_call}: grads[{_k!r}]")
            check_gradients(
                lambda W1, b1, W2, b2, _scale=_scale: _batch_loss(W1, b1, W2, b2, _scale),
                dict(_p),
                _grads,
            ).assert_ok()
        _p32 = {_k: _v.astype(np.float32) for _k, _v in _p.items()}
        _grads32 = mlp_loss_and_grads(_X.astype(np.float32), _Y.astype(np.float32), _p32)[1]
        for _k in _p32:
            expect_dtype(_grads32[_k], np.float32,
                         f"mlp_loss_and_grads on float32 inputs and parameters: grads[{_k!r}]")
except AssertionError as _exc:
    _broken = _earlier_broken()
    if not _broken or getattr(_exc, "function", "") == "mlp_loss_and_grads":
        raise
    _verb = "fails its own check" if len(_broken) == 1 else "fail their own checks"
    _names = ", ".join(_broken[:-1]) + (" and " if len(_broken) > 1 else "") + _broken[-1]
    print(f"mlp_loss_and_grads is not checked here, because {_names} {_verb}: "
          "fix that first and run this cell again. "
          "(The grader checks this exercise with correct answers from the earlier ones.)")
else:
    print("mlp_loss_and_grads agrees with finite differences")
### BEGIN HIDDEN TESTS
# Exercise 4 is graded on its own: while mlp_loss_and_grads runs, mse_loss, mse_backward and
# affine_backward (exercises 1 to 3) answer this test's intermediate values with the values
# computed here. The inputs are multiples of 1/4 and the batch sizes powers of 2, so every
# intermediate value is exact and any correct order of operations gives the same bits.


def unpack(result, what, params):
    """(loss, grads) from what mlp_loss_and_grads returned, after checking its form."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"{what} must return the pair (loss, grads), got {describe(result)}")
    loss, grads = result
    assert isinstance(loss, (float, np.floating)), (
        f"{what}: the loss must be a Python float, got {describe(loss)}")
    assert isinstance(grads, dict) and set(grads) == set(params), (
        f"{what}: grads must be a dict with the keys {sorted(params)}, got "
        + (f"the keys {sorted(map(str, grads))}" if isinstance(grads, dict)
           else describe(grads)))
    for name in params:
        expect_shape(grads[name], params[name].shape, f"{what}: grads[{name!r}]")
    return float(loss), {name: np.asarray(value) for name, value in grads.items()}


def reference(X, Y, p, reduction):
    """The loss, the gradients, and the answers of the earlier exercises' functions."""
    n = X.shape[0]
    Z = X @ p["W1"] + p["b1"]
    H = np.maximum(Z, 0)
    Yhat = H @ p["W2"] + p["b2"]
    total = np.sum((Yhat - Y) ** 2)
    loss = float(total / n) if reduction == "mean" else float(total)
    dYhat = 2 * (Yhat - Y) / n if reduction == "mean" else 2 * (Yhat - Y)
    dH, dW2, db2 = dYhat @ p["W2"].T, H.T @ dYhat, dYhat.sum(axis=0)
    dZ = dH * (Z > 0)
    dX, dW1, db1 = dZ @ p["W1"].T, X.T @ dZ, dZ.sum(axis=0)
    # relu and its mask written either way: only the sign of the zeros differs
    layer2 = [((dYhat, h, p["W2"]), (dH, dW2, db2)) for h in (H, Z * (Z > 0))]
    layer1 = [((dz, X, p["W1"]), (dX, dW1, db1)) for dz in (dZ, np.where(Z > 0, dH, 0))]
    standins = {"mse_loss": [((Yhat, Y, reduction), loss)],
                "mse_backward": [((Yhat, Y, reduction), dYhat)],
                "affine_backward": layer2 + layer1}
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}, standins


def judged(what, X, Y, p, reduction):
    """The student's (loss, grads), with the earlier functions answering correctly; a note
    when the student's code called them with other values (their own version answered)."""
    loss, grads, standins = reference(X, Y, p, reduction)
    with student.standin("mse_loss", standins["mse_loss"]) as s1, \
            student.standin("mse_backward", standins["mse_backward"]) as s2, \
            student.standin("affine_backward", standins["affine_backward"]) as s3:
        result = student.mlp_loss_and_grads(X, Y, p, reduction)
    missed = [s.path for s in (s1, s2, s3) if s.misses]
    note = (f"(Your code called {' and '.join(missed)} with arguments other than this case's "
            "right intermediate values, so your own version answered.)" if missed else "")
    return unpack(result, what, p), (loss, grads), note


def grid(rng, shape, dt):
    """Random multiples of 1/4 in [-2, 2]."""
    return (rng.integers(-8, 9, size=shape) / 4).astype(dt)


# the single-example network of assignment 1: L = 9, gradients (-36, -18, -12, -6)
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
a1_grads = {"W1": [[-36.0]], "b1": [-18.0], "W2": [[-12.0]], "b2": [-6.0]}
rng = np.random.default_rng(seed)
cases = [(4, 2, 3, np.float64), (1, int(rng.integers(2, 5)), int(rng.integers(3, 7)), np.float64),
         (int(rng.choice([16, 32])), int(rng.integers(2, 5)), int(rng.integers(4, 9)), np.float64),
         (64, 2, 8, np.float32)]
with student.autograd_off():
    for reduction in ["mean", "sum"]:
        what = (f"mlp_loss_and_grads on assignment 1's network (x=2, y=10, W1=-1, b1=4, W2=3, "
                f"b2=1), reduction={reduction!r}")
        (loss, grads), _, note = judged(what, np.array([[2.0]]), np.array([[10.0]]), a1,
                                        reduction)
        expect_close(loss, 9.0, f"{what}: the loss", hint=note)
        for name in KEYS:
            expect_close(grads[name], a1_grads[name], f"{what}: grads[{name!r}]", hint=note)

    for n, d, h, dt in cases:
        X, Y = grid(rng, (n, d), dt), grid(rng, (n, 1), dt)
        p = {"W1": grid(rng, (d, h), dt), "b1": grid(rng, h, dt),
             "W2": grid(rng, (h, 1), dt), "b2": grid(rng, 1, dt)}
        tol = {"rtol": 1e-10, "atol": 1e-12} if dt == np.float64 else {"rtol": 1e-5, "atol": 1e-6}
        for reduction in ["mean", "sum"]:
            what = (f"mlp_loss_and_grads on a batch of {n} ({np.dtype(dt).name}, D={d}, K={h}), "
                    f"reduction={reduction!r}")
            (loss, grads), (want_loss, want), note = judged(what, X, Y, p, reduction)
            if dt == np.float32:
                for name in KEYS:
                    expect_dtype(grads[name], np.float32, "mlp_loss_and_grads on float32 inputs "
                                                          f"and parameters: grads[{name!r}]")
            expect_close(loss, want_loss, f"{what}: the loss", hint=note, **tol)
            for name in KEYS:
                k = times(grads[name], want[name])
                hint = (f"{n} times too small: a parameter is shared by the {n} examples, so its "
                        "gradient sums over the batch. " if n > 1 and k and k * n == 1 else "")
                expect_close(grads[name], want[name], f"{what}: grads[{name!r}]",
                             hint=(hint + note).strip(), **tol)
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# From the loss down, every line handles all $N$ examples at once;
# the two bias gradients and the two weight gradients are the only places where the batch is summed.
#
# * $\bar{\hat Y} = \tfrac{2}{N}(\hat Y - Y)$, shape $(N, 1)$;
# * $\bar W_2 = H^\top \bar{\hat Y}$, shape $(K, 1)$,
#   and $\bar b_2 = \sum_i \bar{\hat Y}_{i,:}$, shape $(1,)$;
# * $\bar H = \bar{\hat Y} W_2^\top$, shape $(N, K)$;
# * $\bar Z = \bar H \odot \mathbb{1}[Z > 0]$, shape $(N, K)$;
# * $\bar W_1 = X^\top \bar Z$, shape $(D, K)$,
#   and $\bar b_1 = \sum_i \bar Z_{i,:}$, shape $(K,)$.
#
# Next to the one-example code of assignment 2:
#
# | one example (assignment 2) | a batch (here) |
# |---|---|
# | `dy_hat = 2 * (y_hat - y)` | `dYhat = 2 * (Yhat - Y) / N` (mean loss) |
# | `dW2 = np.outer(h, dy_hat)` | `dW2 = H.T @ dYhat` |
# | `db2 = dy_hat` | `db2 = dYhat.sum(axis=0)` |
# | `dh = dy_hat @ W2.T` | `dH = dYhat @ W2.T` |
# | `dz1 = dh * (z1 > 0)` | `dZ = dH * (Z > 0)` |
# | `dW1 = np.outer(x, dz1)` | `dW1 = X.T @ dZ` |
# | `db1 = dz1` | `db1 = dZ.sum(axis=0)` |
#
# Assignment 1 needed one statement per scalar,
# assignment 2 one statement per layer and per example.
# Here the same number of statements serves a batch of any size:
# outer products become matrix products, and the bias gradients gain a sum.
#
# </details>

# %% [markdown]
# A check that ties the three assignments together:
# with one example, one input and one hidden unit,
# our batched code is the scalar network of assignment 1,
# $L = [\mathrm{relu}(w_1 x + b_1)\, w_2 + b_2 - y]^2$
# at $(x, y, w_1, b_1, w_2, b_2) = (2, 10, -1, 4, 3, 1)$.
# There we found $L = 9$ and gradients $(-36, -18, -12, -6)$ by hand, node by node.

# %%
params_a1 = {
    "W1": np.array([[-1.0]]), "b1": np.array([4.0]), "W2": np.array([[3.0]]), "b2": np.array([1.0])
}
loss_a1, grads_a1 = mlp_loss_and_grads(np.array([[2.0]]), np.array([[10.0]]), params_a1)
print("loss", loss_a1)
print({name: float(g.squeeze()) for name, g in grads_a1.items()})

# %% [markdown]
# ## 5. One example at a time
#
# The lecture's training loop computes the same gradient differently.
# In our own words:
#
# ```
# total = 0 for every parameter
# for each example (x_i, t_i):
#     run the network forward on x_i alone, giving R_i
#     run it backward from R_i alone, giving dR_i/dw for every parameter w
#     total += (t_i - R_i) * dR_i/dw
# gradient = (-2 / N) * total
# ```
#
# The backward pass inside the loop differentiates the **output** $R_i$, not the loss,
# so it starts from $\partial R_i / \partial R_i = 1$.
# The loss enters only through the weights $(t_i - R_i)$ and the final factor $-2/N$.
# For one example $x$ of shape $(D,)$ the output is a number,
# $r = \mathrm{relu}(x W_1 + b_1) W_2 + b_2$, through $z = x W_1 + b_1$ and $h = \mathrm{relu}(z)$, both of shape $(K,)$.
# Derive $\partial r / \partial W_2$, $\partial r / \partial b_2$, $\partial r / \partial W_1$
# and $\partial r / \partial b_1$, each with the shape of its parameter.
# It is the vector calculus of assignment 2, with no batch axis anywhere,
# and with the backward pass started from $1$ instead of from the loss.
#
# ### Exercise 5 (3 points): the lecture's per-example loop
#
# Write
#
# * `output_grads_one(x, params)`: for one example `x` of shape $(D,)$,
#   the gradients of the scalar output $r$, as a dict with the keys of `params` and their shapes
#   ($\partial r / \partial b_2$ has shape $(1,)$);
# * `lecture_loop_gradient(X, Y, params)`: the gradient of the **mean** squared error,
#   computed by the loop above with a Python `for` over the examples,
#   the weights $(t_i - R_i)$, and one multiplication by $-2/N$ at the end.
#
# `lecture_loop_gradient` must call `output_grads_one` once per example:
# the grader counts the calls (the exercise is the loop, not the batched gradient)
# and answers them with correct values, so each part is graded on its own.
# It compares your loop with a batched gradient of its own.
# By hand, numpy only, autograd off.

# %% nbgrader={"grade": false, "grade_id": "a3-per-sample-loop", "locked": false, "schema_version": 3, "solution": true, "task": false}
def output_grads_one(x, params):
    """Gradients of the network output r (a scalar) for ONE example x of shape (D,).

    Returns a dict with keys W1 (D, K), b1 (K,), W2 (K, 1), b2 (1,).
    """
    ### BEGIN SOLUTION
    z = x @ params["W1"] + params["b1"]
    h = np.maximum(z, 0)
    dz = params["W2"][:, 0] * (z > 0)
    return {
        "W1": np.outer(x, dz),
        "b1": dz,
        "W2": h[:, None],
        "b2": np.ones_like(params["b2"]),
    }
    ### END SOLUTION


def lecture_loop_gradient(X, Y, params):
    """Gradient of the mean squared error, one example at a time, as in the lecture's loop.

    Accumulates (t_i - R_i) * dR_i/dw over the rows of X, then multiplies by -2/N.
    Returns a dict with the keys, shapes and dtypes of params.
    """
    ### BEGIN SOLUTION
    n = X.shape[0]
    total = {name: np.zeros_like(value) for name, value in params.items()}
    for i in range(n):
        x, t = X[i], Y[i, 0]
        r = (np.maximum(x @ params["W1"] + params["b1"], 0) @ params["W2"] + params["b2"])[0]
        grads_r = output_grads_one(x, params)
        for name in total:
            total[name] += (t - r) * grads_r[name]
    return {name: (-2.0 / n) * value for name, value in total.items()}
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-output-grads-one-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: output_grads_one
# Checks: output_grads_one differentiates one example's output, with no batch axis.
# Autograd is off, as in grading.
_p = init_params(d_in=2, hidden=4, seed=3)
_x = np.random.default_rng(0).standard_normal(2)
_call = "output_grads_one(x, params) for one example (D=2, K=4)"
with autograd_off():
    _g1 = attempt(_call, output_grads_one, _x, _p)
    assert isinstance(_g1, dict) and set(_g1) == set(_p), (
        f"{_call} must return a dict with the keys {sorted(_p)}")
    for _k in _p:
        expect_shape(_g1[_k], _p[_k].shape, f"{_call}: {_k} (no batch axis)")
    check_gradients(
        lambda W1, b1, W2, b2: (np.maximum(_x @ W1 + b1, 0) @ W2 + b2)[0],
        dict(_p),
        _g1,
    ).assert_ok()
print("output_grads_one agrees with finite differences")
### BEGIN HIDDEN TESTS
# the single-example network of assignment 1: dr/dw = (6, 3, 2, 1)
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
with student.autograd_off():
    what = "output_grads_one([2.0], params) on assignment 1's network (W1=-1, b1=4, W2=3, b2=1)"
    got = grads_dict(student.output_grads_one(np.array([2.0]), a1), what, a1,
                     " (no batch axis)")
    for name, want in [("W1", [[6.0]]), ("b1", [3.0]), ("W2", [[2.0]]), ("b2", [1.0])]:
        expect_close(got[name], want, f"{what}: d r / d {name}")

    rng = np.random.default_rng(seed)
    for d, h in [(3, 4), (int(rng.integers(2, 5)), int(rng.integers(5, 12))), (1, 16)]:
        x = rng.standard_normal(d)
        params = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
                  "W2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(1)}

        def output(W1, b1, W2, b2, x=x):
            return float((np.maximum(np.matmul(x, W1) + b1, 0.0) @ W2 + b2)[0])

        what = f"output_grads_one on a random example (D={d}, K={h})"
        one = grads_dict(student.output_grads_one(x, params), what, params, " (no batch axis)")
        gradients_ok(what, output, dict(params), one)
### END HIDDEN TESTS

# %% nbgrader={"grade": true, "grade_id": "a3-per-sample-loop-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Part: lecture_loop_gradient
# Checks: lecture_loop_gradient calls output_grads_one once per example and gives the gradient
# of the mean squared error. Autograd is off, as in grading.
_rng = np.random.default_rng(1)
_p = init_params(d_in=2, hidden=4, seed=3)
_X = _rng.standard_normal((12, 2))
_Y = _rng.standard_normal((12, 1))
_call = "lecture_loop_gradient on a batch of 12 (D=2, K=4)"
_note = ("lecture_loop_gradient is not checked against finite differences here, because "
         "output_grads_one {}: fix it and run this cell again. (The grader checks this part "
         "with correct answers from output_grads_one.)")
try:
    with autograd_off(), calls_to("output_grads_one") as _calls:
        _gl = attempt(_call, lecture_loop_gradient, _X, _Y, _p)
except NotAnsweredError as _exc:
    if _exc.function != "output_grads_one":
        raise
    _gl = None
    print(_note.format("still raises NotImplementedError"))
if _gl is not None:
    require("method", _calls.count == 12,
            f"{_call} must call output_grads_one once per example (12 times): the exercise "
            f"asks for the lecture's per-example loop; it called it {_calls.count} "
            f"time{'s' * (_calls.count != 1)}")
    assert isinstance(_gl, dict) and set(_gl) == set(_p), (
        f"{_call} must return a dict with the keys {sorted(_p)}")
    for _k in _p:
        expect_shape(_gl[_k], _p[_k].shape, f"{_call}: {_k}")
    _result = check_gradients(
        lambda W1, b1, W2, b2: np.mean((np.maximum(_X @ W1 + b1, 0) @ W2 + b2 - _Y) ** 2),
        dict(_p),
        _gl,
    )
    # The grader answers the calls of output_grads_one correctly; here your own version does.
    _one_ok = _result.passed
    if not _one_ok:
        try:
            with autograd_off():
                _one_ok = check_gradients(
                    lambda W1, b1, W2, b2: (np.maximum(_X[0] @ W1 + b1, 0) @ W2 + b2)[0],
                    dict(_p),
                    output_grads_one(_X[0], _p),
                ).passed
        except Exception:  # noqa: BLE001 - an error counts as failing
            _one_ok = False
        if _one_ok:
            _result.assert_ok()
        print(_note.format("fails its own check"))
    else:
        print("lecture_loop_gradient loops over the examples and agrees with finite differences")
### BEGIN HIDDEN TESTS
# Graded on its own: while lecture_loop_gradient runs, output_grads_one (and mlp_forward, if
# the loop uses it for R_i) answer each example with values computed here. The calls of
# output_grads_one are counted: the exercise asks for the per-example loop.


def one_example(x, p):
    """(output r, the gradients of r) for one example, as exercise 5 defines them."""
    z = x @ p["W1"] + p["b1"]
    dz = p["W2"][:, 0] * (z > 0)
    r = np.maximum(z, 0.0) @ p["W2"] + p["b2"]
    return r, {"W1": np.outer(x, dz), "b1": dz, "W2": np.maximum(z, 0.0)[:, None],
               "b2": np.ones_like(p["b2"])}


def looped(what, X, Y, p):
    """The student's loop, with output_grads_one and mlp_forward answering correctly; the
    loop must call output_grads_one once per example."""
    n = X.shape[0]
    rows = [one_example(X[i], p) for i in range(n)]
    grads_one = [((X[i], p), rows[i][1]) for i in range(n)]
    forward = [((X[i:i + 1], p), rows[i][0][None, :]) for i in range(n)]
    with student.standin("output_grads_one", grads_one) as seen, \
            student.standin("mlp_forward", forward):
        got = student.lecture_loop_gradient(X, Y, p)
    require("method", seen.calls == n,
            f"{what} must call output_grads_one once per example ({n} "
            f"time{'s' * (n != 1)}): the exercise asks for the lecture's per-example loop; "
            f"it called it {seen.calls} time{'s' * (seen.calls != 1)}")
    got = grads_dict(got, what, p)
    dy = 2.0 * (np.maximum(X @ p["W1"] + p["b1"], 0.0) @ p["W2"] + p["b2"] - Y) / n
    want = {name: sum(dy[i, 0] * rows[i][1][name] for i in range(n)) for name in KEYS}
    for name in KEYS:
        k = times(got[name], want[name])
        expect_close(got[name], want[name], f"{what}: dL/d{name}", rtol=1e-9, atol=1e-12,
                     hint=f"It is {k} times the gradient of the mean squared error: multiply "
                          "the sum of (t_i - R_i) dR_i/dw by -2/N once, at the end" if k else "")


# the single-example network of assignment 1: dL/dw = (-36, -18, -12, -6)
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
with student.autograd_off():
    looped("lecture_loop_gradient on one example (x=2, y=10) of assignment 1's network",
           np.array([[2.0]]), np.array([[10.0]]), a1)
    rng = np.random.default_rng(seed)
    for n, d, h in [(1, 3, 4), (int(rng.integers(15, 30)), 3, 5), (int(rng.integers(30, 50)), 1, 16)]:
        X = rng.standard_normal((n, d))
        Y = rng.standard_normal((n, 1))
        params = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
                  "W2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(1)}
        looped(f"lecture_loop_gradient on a random batch of {n} (D={d}, K={h})", X, Y, params)
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Start from $\partial r / \partial r = 1$ and walk down:
#
# $$\frac{\partial r}{\partial W_2} = h^\top \ \text{(shape } (K, 1)\text{)}, \quad
# \frac{\partial r}{\partial b_2} = 1, \quad
# \bar z = W_2[:, 0] \odot \mathbb{1}[z > 0], \quad
# \frac{\partial r}{\partial W_1} = x^\top \bar z \ \text{(an outer product)}, \quad
# \frac{\partial r}{\partial b_1} = \bar z .$$
#
# The loop then weights each example's gradients by $t_i - R_i$ and multiplies the total by $-2/N$.
#
# </details>

# %% [markdown]
# Both ways give the same numbers; the batched one gives them much sooner.
# The loop pays Python's overhead and a handful of tiny numpy calls for every example,
# while the batched code makes a few large calls whose inner loops run in compiled code.
# We time both on growing batches (the ratio depends on the machine; it is not part of any test).

# %%
def best_time(fn, repeats=5):
    """Smallest wall time of `repeats` calls of fn(), in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


sizes = [16, 64, 256, 1024]
t_loop, t_batch = [], []
for n in sizes:
    Xn, Yn = X_train[:n], Y_train[:n]
    if n > X_train.shape[0]:
        Xn, Yn = make_regression(n, seed=1)
    t_loop.append(best_time(lambda Xn=Xn, Yn=Yn: lecture_loop_gradient(Xn, Yn, params0), repeats=3))
    t_batch.append(best_time(lambda Xn=Xn, Yn=Yn: mlp_loss_and_grads(Xn, Yn, params0)))
for n, a, b in zip(sizes, t_loop, t_batch):
    print(f"N = {n:5d}   loop {1e3 * a:8.2f} ms   batched {1e3 * b:6.3f} ms   "
          f"speed-up {a / b:6.0f}x")

fig, ax = plt.subplots(figsize=(5, 3.2))
ax.loglog(sizes, t_loop, "o-", label="per-example loop")
ax.loglog(sizes, t_batch, "s-", label="batched")
ax.set_xlabel("batch size N")
ax.set_ylabel("seconds per gradient")
ax.set_title("one gradient of the mean squared error")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 6. Minibatches and epochs
#
# The full-batch gradient averages over every training example.
# For a large dataset one step then costs a pass over all of it.
# Stochastic gradient descent instead estimates the gradient
# on a small random subset, a **minibatch**,
# takes a step, and moves on to the next subset.
#
# The usual way to pick the subsets is to shuffle the indices once per **epoch**
# and cut the shuffled list into consecutive pieces of size $B$.
# Every example is then used exactly once per epoch,
# and the last piece is shorter when $B$ does not divide $N$.
# Shuffling again in every epoch keeps the batches from repeating in the same order.
#
# ### Exercise 6 (2 points): a minibatch iterator
#
# Write the generator `iterate_minibatches(n, batch_size, rng=None)`.
# It yields integer index arrays whose concatenation is a permutation of `range(n)`.
#
# * If `rng` is `None`, the order is `0, 1, ..., n-1` (no shuffling).
# * Otherwise call `rng.permutation(n)` **once** per call of the generator
#   and cut that order into pieces.
#   (The grader fixes the seed and checks the exact batches, so use the generator exactly this way.)
# * Every batch has `batch_size` entries except possibly the last, which holds the rest.
# * Raise `ValueError` if `batch_size < 1`.

# %% nbgrader={"grade": false, "grade_id": "a3-minibatch-iterator", "locked": false, "schema_version": 3, "solution": true, "task": false}
def iterate_minibatches(n, batch_size, rng=None):
    """Yield index arrays covering range(n) once, in batches of batch_size (the last may be short).

    rng: None for the order 0..n-1, or a numpy Generator; then the order is rng.permutation(n).
    Raises ValueError if batch_size < 1.
    """
    ### BEGIN SOLUTION
    if batch_size < 1:
        raise ValueError(f"iterate_minibatches: batch_size must be at least 1 (got {batch_size})")
    order = np.arange(n) if rng is None else rng.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-minibatch-iterator-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: the iterator covers every index once per epoch, in batches of the right sizes,
# in the order rng.permutation(n) gives (one call per epoch).
_batches = attempt("iterate_minibatches(10, 4)", lambda: list(iterate_minibatches(10, 4)))
assert [len(_b) for _b in _batches] == [4, 4, 2], (
    f"iterate_minibatches(10, 4) must give batches of sizes [4, 4, 2], "
    f"got {[len(_b) for _b in _batches]}")
assert np.array_equal(np.concatenate(_batches), np.arange(10)), (
    f"iterate_minibatches(10, 4) without rng must keep the order 0..9, "
    f"got {np.concatenate(_batches).tolist()}")
_rng, _reference = np.random.default_rng(0), np.random.default_rng(0)
for _epoch in (1, 2):
    _call = f"iterate_minibatches(10, 3, np.random.default_rng(0)), epoch {_epoch}"
    _order = np.concatenate(list(iterate_minibatches(10, 3, _rng)))
    assert np.issubdtype(_order.dtype, np.integer), (
        f"{_call} must yield integer index arrays, got {_order.dtype}")
    _want = _reference.permutation(10)
    require("order", np.array_equal(_order, _want),
            f"{_call}: the order must be rng.permutation(10) of the generator (one call per "
            f"epoch), cut into consecutive pieces; it starts {_want[:5].tolist()}, "
            f"got {_order[:5].tolist()}")
try:
    list(iterate_minibatches(10, 0))
except ValueError:
    pass
else:
    raise AssertionError("iterate_minibatches(10, 0) must raise ValueError (batch_size < 1), "
                         "and it yielded its batches")
print("iterate_minibatches: sizes, coverage and order as asked")
### BEGIN HIDDEN TESTS
batches = student.kernel("""
def batches(iterate_minibatches, n, batch_size, seed=None, epochs=1):
    rng = None if seed is None else np.random.default_rng(seed)
    return [list(iterate_minibatches(n, batch_size, rng)) for _ in range(epochs)]
""")


def one_epoch(n, batch_size, gen_seed=None):
    """The batches of one call of the student's iterator, checked to be integer arrays."""
    return epochs(n, batch_size, gen_seed, 1)[0]


def epochs(n, batch_size, gen_seed, count):
    rng_text = "None" if gen_seed is None else f"np.random.default_rng({gen_seed})"
    got = batches(student.iterate_minibatches, n, batch_size, gen_seed, count)
    for epoch in got:
        for b in epoch:
            assert isinstance(b, np.ndarray) and b.dtype.kind in "iu", (
                f"iterate_minibatches({n}, {batch_size}, {rng_text}) must yield integer index "
                f"arrays, got {describe(b)}")
    return got


def sizes(n, batch_size):
    return [min(batch_size, n - start) for start in range(0, n, batch_size)]


for gen_seed, want in [(0, [[4, 6, 2, 7], [3, 5, 9, 0], [8, 1]]),
                       (7, [[8, 0, 7, 1], [3, 6, 2, 4], [5, 9]])]:
    got = [b.tolist() for b in one_epoch(10, 4, gen_seed)]
    require("order", got == want,
            f"iterate_minibatches(10, 4, np.random.default_rng({gen_seed})), epoch 1: the order "
            "must be rng.permutation(10) of the generator (one call per epoch), cut into "
            f"consecutive pieces: the batches {want}; got {got}")
for n, batch_size in [(5, 8), (12, 4), (7, 1)]:
    got = one_epoch(n, batch_size)
    lengths = [len(b) for b in got]
    assert lengths == sizes(n, batch_size), (
        f"iterate_minibatches({n}, {batch_size}) must give batches of sizes "
        f"{sizes(n, batch_size)}, got {lengths}")
    got = np.concatenate(got).tolist()
    assert got == list(range(n)), (
        f"iterate_minibatches({n}, {batch_size}) without rng must keep the order 0..{n - 1}, "
        f"got {got}")

rng = np.random.default_rng(seed)
for n, batch_size in [(int(rng.integers(500, 1500)), int(rng.integers(16, 128))),
                      (int(rng.integers(20, 60)), int(rng.integers(3, 9)))]:
    gen_seed = int(rng.integers(2**31))
    call = f"iterate_minibatches({n}, {batch_size}, np.random.default_rng({gen_seed}))"
    reference = np.random.default_rng(gen_seed)
    for number, epoch in enumerate(epochs(n, batch_size, gen_seed, 2), start=1):
        lengths = [len(b) for b in epoch]
        assert lengths == sizes(n, batch_size), (
            f"{call}, epoch {number}: batches must have {batch_size} entries except the last, "
            f"which holds the rest ({len(sizes(n, batch_size))} batches); got "
            f"{len(lengths)} batches, of sizes {sorted(set(lengths))}")
        order = np.concatenate(epoch)
        assert np.array_equal(np.sort(order), np.arange(n)), (
            f"{call}, epoch {number}: every index in range({n}) must appear exactly once, "
            f"got {len(np.unique(order))} distinct indices among {order.size}")
        want = reference.permutation(n)
        require("order", np.array_equal(order, want),
                f"{call}, epoch {number}: the order must be rng.permutation({n}) of the generator "
                f"(one call per epoch), cut into consecutive pieces; it starts "
                f"{want[:5].tolist()}, got {order[:5].tolist()}")

for bad in [0, -3]:
    try:
        batches(student.iterate_minibatches, 10, bad)
    except StudentError as exc:
        assert exc.type_name == "ValueError", (
            f"iterate_minibatches(10, {bad}) must raise ValueError; instead {exc}")
    else:
        raise AssertionError(f"iterate_minibatches(10, {bad}) must raise ValueError "
                             "(batch_size < 1), and it yielded its batches")
### END HIDDEN TESTS


# %% [markdown]
# ## 7. Minibatch SGD
#
# One SGD step on a minibatch $\mathcal{B}$ of size $B$ is
#
# $$w \leftarrow w - \eta \, \nabla_w \frac{1}{B} \sum_{i \in \mathcal{B}} (\hat y_i - y_i)^2 ,$$
#
# where $\eta$ is the learning rate.
# Because the loss is a mean, the size of the gradient does not grow with $B$,
# so a larger batch alone does not make a step overshoot.
# Whether one $\eta$ suits every batch size is another matter: we measure it after training.
#
# ### Exercise 7 (3 points): the training loop
#
# Write `train_sgd(X, Y, params, lr, batch_size, epochs, seed=0, grad_fn=None, progress=True)`.
#
# * Work on copies: the caller's `params` must not change.
# * Make one generator `rng = np.random.default_rng(seed)` and,
#   in every epoch, walk through `iterate_minibatches(N, batch_size, rng)`.
# * For each batch call `loss, grads = grad_fn(X[idx], Y[idx], params)`
#   (`grad_fn` defaults to your `mlp_loss_and_grads`), record `loss`,
#   and update every parameter: `params[name] = params[name] - lr * grads[name]`.
# * Show a progress bar over the epochs when `progress` is true
#   (`tqdm` is imported in the setup cell; `tqdm(range(epochs), disable=not progress)` does it).
# * Return `(params, losses)`: the trained parameters (a new dict)
#   and a float array with one minibatch loss per step, recorded before that step's update.
# * Keep the dtype: float32 parameters stay float32 (checked).
#
# The tests pass a toy `grad_fn` of their own, so this exercise does not depend on exercise 4.
# They check that `iterate_minibatches` is called once per epoch and that the steps use its batches,
# in order; if your iterator yields wrong batches, the steps are checked against the batches
# it gave, so the mistake costs points in exercise 6 only.

# %% nbgrader={"grade": false, "grade_id": "a3-train-sgd", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_sgd(X, Y, params, lr, batch_size, epochs, seed=0, grad_fn=None, progress=True):
    """Minibatch SGD on the mean squared error.

    Returns (trained_params, losses):
    a new dict of arrays, and an array of minibatch losses, one per step.
    """
    ### BEGIN SOLUTION
    if grad_fn is None:
        grad_fn = mlp_loss_and_grads
    rng = np.random.default_rng(seed)
    params = {name: value.copy() for name, value in params.items()}
    losses = []
    for _ in tqdm(range(epochs), desc="epochs", disable=not progress):
        for idx in iterate_minibatches(X.shape[0], batch_size, rng):
            loss, grads = grad_fn(X[idx], Y[idx], params)
            losses.append(loss)
            for name in params:
                params[name] = params[name] - lr * grads[name]
    return params, np.array(losses, dtype=float)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-train-sgd-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: train_sgd leaves the caller's params alone, calls iterate_minibatches once per epoch,
# takes one step per batch in the iterator's order, records each loss before its step, and
# keeps float32 parameters float32. A toy gradient function stands in for mlp_loss_and_grads,
# so this test does not depend on exercise 4: it pulls every parameter towards the batch's
# mean target, and the data's only feature is the example's index, so the batches show.
_X = np.arange(64, dtype=float).reshape(64, 1)
_Y = np.random.default_rng(5).standard_normal((64, 1))
_p = init_params(d_in=1, hidden=8, seed=5)
_copies = {_k: _v.copy() for _k, _v in _p.items()}
_used = []


def _toy_loss_and_grads(Xb, Yb, p):
    _t = np.mean(Yb)
    _loss = sum(0.5 * float(np.sum((_v - _t) ** 2)) for _v in p.values())
    return _loss, {_k: _v - _t for _k, _v in p.items()}


def _recording(Xb, Yb, p):
    _used.append(Xb[:, 0].astype(int))
    return _toy_loss_and_grads(Xb, Yb, p)


_call = "train_sgd on 64 points, lr=0.05, batch_size=16, epochs=2, seed=0"
with calls_to("iterate_minibatches") as _calls:
    _out = attempt(_call, train_sgd, _X, _Y, _p, lr=0.05, batch_size=16, epochs=2, seed=0,
                   grad_fn=_recording, progress=False)
for _k in _p:
    expect_unchanged(_copies[_k], _p[_k], f"{_call} (params[{_k!r}])")
require("method", _calls.count == 2,
        f"{_call} must call iterate_minibatches(N, batch_size, rng) once per epoch (2 times); "
        f"it called it {_calls.count} time{'s' * (_calls.count != 1)}")
# the batches of your iterator with one generator; an iterator that ignores the generator
# (exercise 6) gives other batches on every run, and then only the steps are checked here
_runs = []
for _ in range(2):
    _gen = np.random.default_rng(0)
    _runs.append([_b for _ in range(2) for _b in iterate_minibatches(64, 16, _gen)])
if all(np.array_equal(_a, _b) for _a, _b in zip(*_runs)):
    require("order", len(_used) == len(_runs[0])
            and all(np.array_equal(_u, _b) for _u, _b in zip(_used, _runs[0])),
            f"{_call}: the batches must be those of iterate_minibatches(N, batch_size, rng), "
            "in order, with one rng = np.random.default_rng(seed) made before the epochs")
assert isinstance(_out, tuple) and len(_out) == 2, (
    f"{_call} must return the pair (params, losses), got {type(_out).__name__}")
_trained, _losses = _out
_q, _want = dict(_copies), []
for _idx in _used:
    _loss, _grads = _toy_loss_and_grads(_X[_idx], _Y[_idx], _q)
    _want.append(_loss)
    _q = {_k: _q[_k] - 0.05 * _grads[_k] for _k in _q}
expect_close(_losses, _want, f"{_call}: the losses (one per step, each before its step)")
for _k in _p:
    expect_shape(_trained[_k], _p[_k].shape, f"{_call}: trained[{_k!r}]")
    expect_close(_trained[_k], _q[_k], f"{_call}: trained[{_k!r}]",
                 hint="Each step is params[name] - lr * grads[name]")
_p32 = {_k: _v.astype(np.float32) for _k, _v in _p.items()}
_trained32 = train_sgd(_X.astype(np.float32), _Y.astype(np.float32), _p32, lr=0.05,
                       batch_size=16, epochs=1, seed=0, grad_fn=_toy_loss_and_grads,
                       progress=False)[0]
for _k in _p32:
    expect_dtype(_trained32[_k], np.float32, f"train_sgd with float32 parameters: trained[{_k!r}]")
print("train_sgd: one step per batch, in the iterator's order, losses before each step")
### BEGIN HIDDEN TESTS
# Graded on its own: train_sgd runs with a toy gradient function (not exercise 4's), and the
# data's only feature is the example's index, so the toy function records the batches used.
# When the student's iterator (exercise 6) is wrong, the steps are checked against the batches
# it gave (follow-through); train_sgd must call it once per epoch.
TOY = '''
def toy_grad_fn():
    seen = []

    def grad_fn(X, Y, p):
        seen.append(X[:, 0].astype(np.int64))
        t = np.mean(Y)
        loss = sum(0.5 * float(np.sum((v - t) ** 2)) for v in p.values())
        return loss, {k: v - t for k, v in p.items()}

    grad_fn.seen = seen
    return grad_fn
'''
toy_grad_fn = student.kernel(TOY)
iterator_batches = student.kernel('''
def iterator_batches(iterate_minibatches, n, batch_size, seed, epochs):
    rng = np.random.default_rng(seed)
    return [b for _ in range(epochs) for b in iterate_minibatches(n, batch_size, rng)]
''')


def toy(X, Y, p):
    t = np.mean(Y)
    loss = sum(0.5 * float(np.sum((v - t) ** 2)) for v in p.values())
    return loss, {k: v - t for k, v in p.items()}


def same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b))


def expected_batches(n, batch_size, epochs, train_seed):
    """The batches train_sgd must use: the right ones when the student's iterator gives them,
    else the student's iterator's own (when it is reproducible), else None (not checked)."""
    rng = np.random.default_rng(train_seed)
    right = []
    for _ in range(epochs):
        order = rng.permutation(n)
        right += [order[s:s + batch_size] for s in range(0, n, batch_size)]
    try:
        own = iterator_batches(student.iterate_minibatches, n, batch_size, train_seed, epochs)
        again = iterator_batches(student.iterate_minibatches, n, batch_size, train_seed, epochs)
    except StudentError:
        return right
    if same(own, right):
        return right
    return own if same(own, again) else None


def run(what, X, Y, params, lr, batch_size, epochs, train_seed):
    """train_sgd in the kernel, checked step by step; the trained parameters."""
    n = X.shape[0]
    want_batches = expected_batches(n, batch_size, epochs, train_seed)
    grad_fn = toy_grad_fn.keep()
    with student.counting("iterate_minibatches") as calls:
        out, after = student.train_sgd.inputs_after(X, Y, params, lr, batch_size, epochs,
                                                    seed=train_seed, grad_fn=grad_fn,
                                                    progress=False)
    for name in params:
        expect_unchanged(params[name], after[2][name], f"{what} (params[{name!r}])")
    require("method", calls.calls == epochs,
            f"{what} must call iterate_minibatches(N, batch_size, rng) once per epoch "
            f"({epochs} times); it called it {calls.calls} time{'s' * (calls.calls != 1)}")
    used = [np.asarray(b) for b in grad_fn.seen.value()]
    if want_batches is not None:
        first = next((k for k, (u, b) in enumerate(zip(used, want_batches))
                      if not np.array_equal(u, b)), min(len(used), len(want_batches)))
        per = -(-n // batch_size)
        require("order", same(used, want_batches),
                f"{what}: the batches must be those of iterate_minibatches(N, batch_size, rng), "
                "in order, with one rng = np.random.default_rng(seed) made before the epochs; "
                f"want {len(want_batches)} steps, got {len(used)}, and step {first} (step "
                f"{first % per} of epoch {first // per + 1}, counting steps from 0) differs")
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{what} must return the pair (params, losses), got {describe(out)}")
    trained, losses = out
    assert isinstance(trained, dict) and set(trained) == set(params), (
        f"{what}: the trained parameters must be a dict with the keys {sorted(params)}")
    q, want_losses = {k: v.copy() for k, v in params.items()}, []
    for idx in used:
        loss, grads = toy(X[idx], Y[idx], q)
        want_losses.append(loss)
        q = {k: q[k] - lr * grads[k] for k in q}
    expect_close(losses, want_losses, f"{what}: the losses (one per step, each before its step)",
                 rtol=1e-9)
    for name in params:
        expect_shape(trained[name], params[name].shape, f"{what}: trained[{name!r}]")
        expect_close(trained[name], q[name], f"{what}: trained[{name!r}]", rtol=1e-6,
                     atol=1e-9, hint="Each step is params[name] - lr * grads[name]")
    return {name: np.asarray(value) for name, value in trained.items()}


def init(rng, hidden):
    return {"W1": rng.standard_normal((1, hidden)), "b1": rng.uniform(-1.0, 1.0, hidden),
            "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden), "b2": np.zeros(1)}


rng = np.random.default_rng(seed)
# the notebook's setting (512 points, lr 0.05, batch 32), for 10 epochs
X = np.arange(512, dtype=float).reshape(512, 1)
Y = rng.standard_normal((512, 1))
run("train_sgd on 512 points, lr=0.05, batch_size=32, epochs=10, seed=3", X, Y,
    init(rng, 32), 0.05, 32, 10, 3)

# a batch size that does not divide N, a random seed
n = int(rng.integers(200, 600))
batch_size = int(rng.integers(20, 120))
while n % batch_size == 0:
    batch_size += 1
train_seed = int(rng.integers(2**31))
X = np.arange(n, dtype=float).reshape(n, 1)
Y = rng.standard_normal((n, 1))
params = init(rng, int(rng.integers(8, 32)))
run(f"train_sgd on {n} points, lr=0.05, batch_size={batch_size}, epochs=3, seed={train_seed}",
    X, Y, params, 0.05, batch_size, 3, train_seed)

# float32 parameters stay float32
params32 = {name: value.astype(np.float32) for name, value in params.items()}
trained = run(f"train_sgd on {n} float32 points with float32 parameters, batch_size=64, "
              "epochs=2, seed=0", X.astype(np.float32), Y.astype(np.float32), params32,
              0.05, 64, 2, 0)
for name in params32:
    expect_dtype(trained[name], np.float32, f"train_sgd with float32 parameters: trained[{name!r}]")
### END HIDDEN TESTS


# %% [markdown]
# Now we train on the 512 training points with $\eta = 0.05$, $B = 32$ and 100 epochs,
# that is $16$ steps per epoch and $1600$ steps in all.
# The goal: a mean squared error below $0.02$ on the whole training set.
# The noise we added has variance $0.01$, so no model can go much below that.
# The loss curve below is drawn while training runs and redrawn every second,
# so a slow or diverging run shows itself before it ends.
# We pass `train_sgd` our gradient function wrapped by `plot.track`,
# which records the loss of every call before handing the result on.

# %%
TARGET = 0.02
steps_per_epoch = int(np.ceil(X_train.shape[0] / 32))
plot = LossPlot("training loss", ylabel="mean squared error", logy=True,
                smooth=steps_per_epoch, reference={f"target {TARGET}": TARGET})
start = time.perf_counter()
params_trained, losses = train_sgd(
    X_train, Y_train, params0, lr=0.05, batch_size=32, epochs=100, seed=0,
    grad_fn=plot.track(mlp_loss_and_grads, name="minibatch loss"),
)
elapsed = time.perf_counter() - start
plot.close()
final_loss = mse_loss(mlp_forward(X_train, params_trained), Y_train)
print(f"{len(losses)} steps in {elapsed:.2f} s")
initial_loss = mse_loss(mlp_forward(X_train, params0), Y_train)
print(f"full-data MSE: {initial_loss:.3f} before, {final_loss:.4f} after")
print("target reached" if final_loss < TARGET else "target NOT reached", f"(target {TARGET})")

# %% [markdown]
# The faint line is the loss of each minibatch, the thick one its mean over the last epoch
# (16 steps).
# The trained network follows the curve under the noise:

# %%
grid = np.linspace(-1, 1, 200).reshape(-1, 1)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.scatter(X_train[:, 0], Y_train[:, 0], s=5, alpha=0.4, label="data")
ax.plot(grid[:, 0], mlp_forward(grid, params0)[:, 0], label="before training")
ax.plot(grid[:, 0], mlp_forward(grid, params_trained)[:, 0], lw=2, label="after training")
ax.set_xlabel("x")
ax.set_title("the fitted curve")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ### One learning rate for every batch size?
#
# We train for 20 epochs with each of five learning rates and three batch sizes,
# and print the mean squared error on the whole training set at the end
# (it was 1.387 before training, as printed above).
# One epoch is 128 steps for $B = 4$, 16 for $B = 32$ and a single step for $B = 512$.

# %%
eta_grid = [0.025, 0.05, 0.1, 0.2, 0.4]
grid_batches = [4, 32, 512]
final_mse = np.array([
    [mse_loss(mlp_forward(X_train, train_sgd(X_train, Y_train, params0, lr=eta, batch_size=bs,
                                             epochs=20, progress=False)[0]), Y_train)
     for eta in eta_grid]
    for bs in grid_batches
])
print("full-data MSE after 20 epochs")
print("        " + "".join(f"eta={eta:<7}" for eta in eta_grid) + "  best eta")
for bs, row in zip(grid_batches, final_mse):
    print(f"B = {bs:3d}  " + "".join(f"{v:<11.4f}" for v in row)
          + f"  {eta_grid[int(np.argmin(row))]}")
# what the text below says: the best eta grows with B, and eta = 0.4 fails for B = 4 only
best_eta = [eta_grid[int(np.argmin(row))] for row in final_mse]
assert best_eta[0] < best_eta[-1], best_eta
assert final_mse[0, -1] > 0.5 * initial_loss > final_mse[-1, -1], final_mse[:, -1]

# %% [markdown]
# No single $\eta$ is best for all three rows: the best one (last column) grows with the batch size.
# And at $\eta = 0.4$ the run with $B = 4$ ends no better than half its starting loss,
# while with $B = 512$ the same $\eta$ still learns.
# So the mean keeps the size of the gradient independent of $B$,
# but it does not make one learning rate fit every batch size:
# the learning rate has to be tuned with the batch size.
# Exercise 9 asks why, once we have measured the noise of a minibatch gradient.
#
# The minibatch losses of the training curve jump around their mean:
# each one is measured on 32 examples only, and each step follows a noisy gradient.
# The next section measures that noise.
#
# ## 8. Gradient noise and the batch size
#
# Write $g_i$ for the gradient of example $i$'s loss,
# and $\bar g = \frac{1}{N} \sum_i g_i$ for the full-batch gradient.
# A minibatch gradient is the average $g_{\mathcal{B}} = \frac{1}{B} \sum_{i \in \mathcal{B}} g_i$.
# It is unbiased: its expectation is $\bar g$.
# How far from $\bar g$ is it, typically?
# We will draw many minibatches of each size $B$, at fixed parameters,
# measure the mean squared distance $\mathbb{E}\, \lVert g_{\mathcal{B}} - \bar g \rVert^2$ (the variance),
# and plot it against $B$ on log-log axes.
#
# ### Exercise 8 (1 point): predict the slope
#
# Before measuring, predict the slope of that plot.
# Set `slope_variance` to the slope of $\log \mathbb{E}\, \lVert g_{\mathcal{B}} - \bar g \rVert^2$
# against $\log B$,
# and `slope_std` to the slope of the log of its square root (the typical size of the noise).
# Treat the $B$ examples as drawn independently, and $B$ as much smaller than $N$.

# %% nbgrader={"grade": false, "grade_id": "a3-noise-slope", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
slope_variance = -1.0
slope_std = -0.5
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a3-noise-slope-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Checks: slope_variance and slope_std are numbers (the hidden test checks their values).
for _name in ("slope_variance", "slope_std"):
    _v = globals().get(_name)
    require("value", isinstance(_v, (int, float)) and not isinstance(_v, bool),
            f"{_name} must be a number (set it in the cell above), got {_v!r}")
print("slope_variance and slope_std are numbers")
### BEGIN HIDDEN TESTS
for name, want, hint in [
    ("slope_variance", -1.0, "the variance of an average of B independent terms is the "
                             "variance of one term divided by B"),
    ("slope_std", -0.5, "the standard deviation is the square root of the variance, so its "
                        "log is half the log of the variance"),
]:
    got = getattr(student, name).value() if student.has(name) else None
    require("value", isinstance(got, (int, float)) and not isinstance(got, bool),
            f"{name} must be a number, got {got!r}")
    expect_close(got, want, f"{name}, the slope of the log of the noise against log B",
                 rtol=0.0, atol=0.05, hint=hint)
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked answer</summary>
#
# The variance of an average of $B$ independent terms is the variance of one term divided by $B$:
#
# $$\mathbb{E}\, \lVert g_{\mathcal{B}} - \bar g \rVert^2 = \frac{\sigma^2}{B}, \qquad
# \sigma^2 = \frac{1}{N} \sum_i \lVert g_i - \bar g \rVert^2 ,$$
#
# so on log-log axes the variance falls along a line of slope $-1$,
# and its square root along a line of slope $-1/2$.
# Drawing without replacement from a finite set, as our iterator does,
# multiplies the variance by $\frac{N - B}{N - 1}$,
# which is close to 1 while $B \ll N$.
#
# </details>
#
# We check on a fresh sample of 8192 points:
# for each batch size we draw 200 random minibatches, at the initial parameters,
# and average the squared distance of their gradient from the full gradient
# (all parameters stacked into one vector).

# %%
def flat(grads):
    """All gradient arrays of a dict, concatenated into one vector."""
    return np.concatenate([np.ravel(grads[name]) for name in sorted(grads)])


X_big, Y_big = make_regression(8192, seed=2)
g_full = flat(mlp_loss_and_grads(X_big, Y_big, params0)[1])
rng_noise = np.random.default_rng(0)
batch_sizes = [1, 2, 4, 8, 16, 32, 64, 128, 256]
variances = []
for bs in batch_sizes:
    sq = []
    for _ in range(200):
        idx = rng_noise.choice(X_big.shape[0], size=bs, replace=False)
        g_batch = flat(mlp_loss_and_grads(X_big[idx], Y_big[idx], params0)[1])
        sq.append(np.sum((g_batch - g_full) ** 2))
    variances.append(np.mean(sq))
variances = np.array(variances)

slope = np.polyfit(np.log(batch_sizes), np.log(variances), 1)[0]
print(f"fitted slope of log(variance) against log(B): {slope:.2f}   (1/B predicts -1)")
for bs, v in zip(batch_sizes, variances):
    print(f"B = {bs:4d}   variance {v:.4g}   B * variance {bs * v:.3g}")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.loglog(batch_sizes, variances, "o", label="measured (200 minibatches each)")
ax.loglog(batch_sizes, variances[0] / np.array(batch_sizes), "k--", lw=1,
          label="1/B through the B = 1 point")
ax.set_xlabel("batch size B")
ax.set_ylabel(r"$E\,\|g_B - \bar g\|^2$")
ax.set_title("minibatch gradient noise")
ax.legend()
fig.tight_layout()

# %% [markdown]
# The points fall on a line of slope about $-1$: the variance is about $\sigma^2 / B$.
# The standard deviation therefore falls only like $1/\sqrt{B}$.
# Halving the noise costs four times the examples per step,
# which is why moderate batches and more steps usually beat huge batches
# for the same amount of compute.
#
# ### Exercise 9 (3 points): the batch size and the learning rate, in writing
#
# Answer in a few sentences in the cell below; it is graded by hand.
# Use the table of section 7 (the full-data error after 20 epochs for each $\eta$ and $B$)
# and the measurement just above.
#
# 1. With a mean loss, what does a larger batch change in a step of SGD, and what does it not?
# 2. Why does $\eta = 0.4$ fail with $B = 4$ and not with $B = 512$?
# 3. Why is the best $\eta$ of the table larger for large batches than for $B = 4$?

# %% [markdown] nbgrader={"grade": true, "grade_id": "a3-batch-size-eta-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false} rubric=[{"points": 1, "criterion": "With a mean loss the expected gradient does not depend on B (so a larger batch does not make the steps larger on average); what B changes is the noise, whose variance falls like 1/B (slope -1 in section 8), and the number of steps per epoch, N/B (128 for B = 4, 1 for B = 512)."}, {"points": 1, "criterion": "At B = 4 the gradient is noisy (its variance is about 128 times that of B = 512), and a step of 0.4 times a noisy gradient is a large random jump: the run ends no better than half its starting error. At B = 512 the gradient is close to the full one, and 0.4 is still a stable step on the full-data loss."}, {"points": 1, "criterion": "In 20 epochs a large batch takes few steps (20 for B = 512, 2560 for B = 4), each with little noise, so a larger eta makes more progress per step without adding much noise; a small batch takes many noisy steps and does best with a small eta, which averages the noise over many steps. Hence the best eta grows with B (0.025 for B = 4, 0.2 for B = 32 and 512 in the table)."}]
# With a mean loss a larger batch does not make a step larger on average:
# the expected gradient is the full-data gradient whatever $B$ is.
# What $B$ changes is the noise around it, whose variance falls like $1/B$ (the slope of $-1$ above),
# and the number of steps in an epoch, $N / B$: 128 for $B = 4$, a single one for $B = 512$.
# At $B = 4$ the noise is large, and $\eta = 0.4$ turns it into large random jumps,
# so the run ends no better than half its starting error;
# at $B = 512$ the gradient is close to the full one and the same step stays stable.
# In 20 epochs a large batch takes few steps, each nearly noise-free,
# so a larger $\eta$ buys more progress per step;
# a small batch takes many noisy steps, and a small $\eta$ averages their noise away.
# So the best $\eta$ grows with the batch size.
#
# ## 9. Any depth
#
# Exercise 4 wrote out the two layers of our network one by one.
# A deeper network repeats one layer:
# layer $l$ takes its input $H_l$ of shape $(N, d_l)$ and computes
#
# $$Z_l = H_l W_l + b_l, \qquad H_{l+1} = \phi_l(Z_l),$$
#
# with $W_l$ of shape $(d_l, d_{l+1})$, $b_l$ of shape $(d_{l+1},)$,
# and an activation $\phi_l$ applied entry by entry:
# $\mathrm{relu}$, $\tanh$, the sigmoid $1 / (1 + e^{-z})$, or the identity (for an output layer).
# The input is $H_0 = X$ and the output is the last $H$.
# The code below runs the forward pass of any depth
# and keeps, for every layer, what its backward pass will need: its input $H_l$ and $Z_l$.

# %%
def activate(Z, name):
    """The activation `name` ("relu", "tanh", "sigmoid" or "identity") applied to Z."""
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    if name == "identity":
        return Z
    raise ValueError(f"activate: unknown activation {name!r} (relu, tanh, sigmoid or identity)")


def layer_forward(H, W, b, activation):
    """One layer: returns (activate(Z, activation), Z) for Z = H @ W + b."""
    Z = H @ W + b
    return activate(Z, activation), Z


def deep_forward(X, Ws, bs, activations):
    """Forward pass of a network of len(Ws) layers.

    Returns (output, cache), where cache[l] = (H_l, Z_l): the input of layer l and its Z.
    """
    cache = []
    H = X
    for W, b, activation in zip(Ws, bs, activations):
        H_next, Z = layer_forward(H, W, b, activation)
        cache.append((H, Z))
        H = H_next
    return H, cache


def random_net(widths, activations, seed=0, dtype=np.float64):
    """Weights (scaled by 1/sqrt(fan-in)) and biases for the given widths, input width first."""
    rng = np.random.default_rng(seed)
    Ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dtype)
          for a, b in zip(widths[:-1], widths[1:])]
    bs = [(0.1 * rng.standard_normal(b)).astype(dtype) for b in widths[1:]]
    return Ws, bs, list(activations)


# %% [markdown]
# ### Exercise 10 (3 points): the backward pass for any depth
#
# Write `deep_backward(dout, cache, Ws, activations)`.
# Given `dout` $= \partial L / \partial H_{\text{out}}$ for the network's output
# and the `cache` of `deep_forward`,
# return `(dX, grads)`: $\partial L / \partial X$, and a list holding `(dW, db)` for every layer,
# **in layer order** (layer 0 first), each with the shape and dtype of its parameter.
#
# * Derive the derivative of each of the four activations,
#   written with what the cache holds ($Z_l$);
#   for tanh and the sigmoid, express it through the activation's own value.
# * Walk the layers from the last to the first; you may call your `affine_backward`.
# * Use `activations[l]` for layer `l`: the grader mixes them.
# * By hand, numpy only, autograd off.
#
# If your code calls `affine_backward`, the grader also accepts the gradients
# that your own `affine_backward` leads to, so a mistake there costs points in exercise 2 only.

# %% nbgrader={"grade": false, "grade_id": "a3-deep-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def deep_backward(dout, cache, Ws, activations):
    """Backward pass of deep_forward: returns (dX, [(dW_0, db_0), (dW_1, db_1), ...]).

    dout: dL/d(output), shape (N, d_last).  cache: from deep_forward, cache[l] = (H_l, Z_l).
    """
    ### BEGIN SOLUTION
    grads = []
    d = dout
    for l in reversed(range(len(Ws))):
        H, Z = cache[l]
        name = activations[l]
        if name == "relu":
            d = d * (Z > 0)
        elif name == "tanh":
            d = d * (1 - np.tanh(Z) ** 2)
        elif name == "sigmoid":
            S = 1 / (1 + np.exp(-Z))
            d = d * S * (1 - S)
        elif name != "identity":
            raise ValueError(f"deep_backward: unknown activation {name!r}")
        d, dW, db = affine_backward(d, H, Ws[l])
        grads.append((dW, db))
    return d, grads[::-1]
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-deep-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: deep_backward agrees with finite differences on a 4-layer net that uses all four
# activations, returns one (dW, db) per layer in layer order with the shapes of W and b,
# and keeps float32 float32. Autograd is off, as in grading.
_widths, _acts = [3, 5, 4, 4, 2], ["tanh", "relu", "sigmoid", "identity"]
_Ws, _bs, _ = random_net(_widths, _acts, seed=4)
_X = np.random.default_rng(5).standard_normal((6, 3))
_call = "deep_backward on a batch of 6, widths [3, 5, 4, 4, 2], activations tanh, relu, sigmoid, identity"


def _net(X, *flat):
    return deep_forward(X, list(flat[0::2]), list(flat[1::2]), _acts)[0]


def _analytic(dout):
    _out = attempt(_call, deep_backward, dout, deep_forward(_X, _Ws, _bs, _acts)[1], _Ws, _acts)
    assert isinstance(_out, tuple) and len(_out) == 2, (
        f"{_call} must return the pair (dX, grads), got {type(_out).__name__}")
    _dX, _grads = _out
    assert len(_grads) == 4, f"{_call}: grads must hold one (dW, db) per layer (4), got {len(_grads)}"
    for _l, (_dW, _db) in enumerate(_grads):
        expect_shape(_dW, _Ws[_l].shape, f"{_call}: dW of layer {_l} (layer 0 first)")
        expect_shape(_db, _bs[_l].shape, f"{_call}: db of layer {_l} (layer 0 first)")
    return {"X": _dX, **{f"{_p}{_l}": _g for _l, (_dW, _db) in enumerate(_grads)
                         for _p, _g in (("W", _dW), ("b", _db))}}


try:
    with autograd_off():
        check_gradients(_net, {"X": _X, **{f"{_p}{_l}": _v for _l in range(4)
                                           for _p, _v in (("W", _Ws[_l]), ("b", _bs[_l]))}},
                        _analytic).assert_ok()
        _W32 = [_W.astype(np.float32) for _W in _Ws]
        _b32 = [_b.astype(np.float32) for _b in _bs]
        _out32, _cache32 = deep_forward(_X.astype(np.float32), _W32, _b32, _acts)
        _dX32, _grads32 = deep_backward(np.ones_like(_out32), _cache32, _W32, _acts)
        for _l, (_dW, _db) in enumerate(_grads32):
            expect_dtype(_dW, np.float32, f"deep_backward on float32 inputs: dW of layer {_l}")
            expect_dtype(_db, np.float32, f"deep_backward on float32 inputs: db of layer {_l}")
except AssertionError as _exc:
    # your deep_backward may call your affine_backward: when that one fails its own check,
    # this cell says so instead of failing (the grader follows your affine_backward through)
    _broken = [_n for _n in _earlier_broken() if _n.startswith("affine_backward")]
    if not _broken or getattr(_exc, "function", "") == "deep_backward":
        raise
    print("deep_backward is not checked here, because affine_backward (exercise 2) fails its "
          "own check: fix that first and run this cell again.")
else:
    print("deep_backward agrees with finite differences")
### BEGIN HIDDEN TESTS
# Graded on its own: when the student's code calls affine_backward (exercise 2), the expected
# values are also worked out with the student's own affine_backward (follow-through), and
# either answer is accepted.
with student.autograd_off():
    rng = np.random.default_rng(seed)
    cases = [(["relu", "relu", "identity"], np.float64), (["tanh", "tanh", "identity"], np.float64),
             (["sigmoid", "sigmoid", "identity"], np.float64)]
    names = ["relu", "tanh", "sigmoid", "identity"]
    cases.append(([str(a) for a in rng.choice(names, size=int(rng.integers(5, 8)))], np.float64))
    cases.append((["tanh", "relu", "sigmoid", "identity"], np.float32))
    for acts, dt in cases:
        n = int(rng.integers(4, 9))
        widths = [int(w) for w in rng.integers(2, 6, size=len(acts) + 1)]
        X = rng.standard_normal((n, widths[0])).astype(dt)
        Ws = [(rng.standard_normal((a, b)) / np.sqrt(a)).astype(dt)
              for a, b in zip(widths[:-1], widths[1:])]
        bs = [(0.1 * rng.standard_normal(b)).astype(dt) for b in widths[1:]]
        _, cache = reference_forward(X, Ws, bs, acts)
        dout = rng.standard_normal((n, widths[-1])).astype(dt)
        what = (f"deep_backward with activations {', '.join(acts)} ({np.dtype(dt).name}, "
                f"batch {n}, widths {widths})")
        dX, grads = deep_result(student.deep_backward(dout, cache, Ws, acts), what, X, Ws, bs)
        if dt == np.float32:
            for l, (dW, db) in enumerate(grads):
                expect_dtype(dW, np.float32, f"deep_backward on float32 inputs: dW of layer {l}")
                expect_dtype(db, np.float32, f"deep_backward on float32 inputs: db of layer {l}")
        got = [dX] + [g for pair in grads for g in pair]
        tol = {"rtol": 1e-7, "atol": 1e-9} if dt == np.float64 else {"rtol": 2e-3, "atol": 1e-4}
        if close_all(got, reference_backward(dout, cache, Ws, acts), **tol):
            continue
        own = reference_backward(dout, cache, Ws, acts, affine=student_affine)
        if close_all(got, own, **tol):
            continue
        if dt == np.float64:
            inputs = {"X": X, **{f"{p}{l}": v for l in range(len(Ws))
                                 for p, v in (("W", Ws[l]), ("b", bs[l]))}}

            def net(X, *flat, acts=acts, dout=dout):
                return np.sum(reference_forward(X, list(flat[0::2]), list(flat[1::2]), acts)[0]
                              * dout)

            gradients_ok(what, net, inputs, dict(zip(inputs, got)))
        want = reference_backward(dout, cache, Ws, acts)
        expect_close(got[0], want[0], f"{what}: dX", **tol)
        for l in range(len(Ws)):
            expect_close(got[1 + 2 * l], want[1 + 2 * l], f"{what}: dW of layer {l}", **tol)
            expect_close(got[2 + 2 * l], want[2 + 2 * l], f"{what}: db of layer {l}", **tol)
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# For one layer, given $\bar H_{l+1} = \partial L / \partial H_{l+1}$:
#
# $$\bar Z_l = \bar H_{l+1} \odot \phi_l'(Z_l), \qquad
# \bar W_l = H_l^\top \bar Z_l, \qquad \bar b_l = \bar Z_l\text{.sum(axis=0)}, \qquad
# \bar H_l = \bar Z_l W_l^\top ,$$
#
# starting from $\bar H_{\text{out}}$ = `dout` and ending with $\bar X = \bar H_0$.
# The derivatives, entry by entry:
# $\mathrm{relu}'(z) = \mathbb{1}[z > 0]$;
# $\tanh'(z) = 1 - \tanh^2 z$;
# $\mathrm{sigmoid}'(z) = \mathrm{sigmoid}(z)\,(1 - \mathrm{sigmoid}(z))$;
# the identity's is $1$.
# The last three lines are `affine_backward`.
# The list is built from the last layer down, so it is reversed before it is returned.
#
# </details>
#
# ## 10. A backward pass costs about two forward passes
#
# The lecture counts multiply-adds.
# For a layer with weight matrix $W$,
# the forward pass does one multiply-add per weight and per example ($H W$).
# The backward pass does two: one for the weight gradient ($H^\top \bar Z$)
# and one to send the gradient on to the layer below ($\bar Z W^\top$).
# So a backward pass should take about twice as long as a forward pass,
# once the matrix products dominate the cost.
#
# We time a deeper, wider MLP (layer widths 512, 512, 512, 512, 16, batch 256)
# with `deep_forward` and your `deep_backward`.
# The two passes run alternately, so that both see the same load on the machine,
# and numpy's matrix library uses a single thread, so that we measure work rather than scheduling.
# The median of the ratios is printed;
# it is a measurement, not a test, and it wobbles from run to run.

# %%
widths_cost = [512, 512, 512, 512, 16]
Ws_cost, bs_cost, acts_cost = random_net(widths_cost, ["relu", "relu", "relu", "identity"])
X_cost = np.random.default_rng(0).standard_normal((256, widths_cost[0]))
out_cost, cache_cost = deep_forward(X_cost, Ws_cost, bs_cost, acts_cost)
dout_cost = np.random.default_rng(1).standard_normal(out_cost.shape)
t_forward, t_backward = [], []
with threadpool_limits(1):
    for _ in range(10):
        t0 = time.perf_counter()
        deep_forward(X_cost, Ws_cost, bs_cost, acts_cost)
        t1 = time.perf_counter()
        deep_backward(dout_cost, cache_cost, Ws_cost, acts_cost)
        t2 = time.perf_counter()
        t_forward.append(t1 - t0)
        t_backward.append(t2 - t1)
ratio = np.median(np.array(t_backward) / np.array(t_forward))
macs_forward = X_cost.shape[0] * sum(a * b for a, b in zip(widths_cost[:-1], widths_cost[1:]))
print(f"multiply-adds: forward {macs_forward / 1e6:.0f} M, backward {2 * macs_forward / 1e6:.0f} M")
print(f"median times: forward {1e3 * np.median(t_forward):.1f} ms, "
      f"backward {1e3 * np.median(t_backward):.1f} ms")
print(f"measured backward / forward time: {ratio:.2f}  (counting predicts 2)")

# %% [markdown]
# Together with a forward pass, one gradient costs about three forward passes,
# whatever the number of parameters:
# this is what makes reverse mode the method of choice for training.
# In practice the ratio lands a bit below or above 2:
# the element-wise work (bias, ReLU, its mask) is cheap next to the matrix products,
# and how well each product uses the processor depends on its shapes.
#
# ## 11. What a backward pass keeps in memory
#
# Time is half the story.
# The backward pass of layer $l$ needs $H_l$ and $Z_l$,
# which the forward pass computed long before:
# `deep_forward` keeps them all in its cache until the backward pass is done.
# The cache holds two arrays per layer, and each has one row per example.
#
# ### Exercise 11 (1 point): the bytes of the cache
#
# Write `cache_bytes(batch_size, widths, dtype=np.float64)`:
# the number of bytes of the arrays that `deep_forward` keeps in its cache
# for a batch of `batch_size` rows through layers of the given `widths` (input width first),
# in the given dtype (a numpy dtype such as `np.float32`, or its name, `"float32"`), as a Python `int`.
# Count every array of the cache once, as if no two were the same object.

# %% nbgrader={"grade": false, "grade_id": "a3-cache-bytes", "locked": false, "schema_version": 3, "solution": true, "task": false}
def cache_bytes(batch_size, widths, dtype=np.float64):
    """Bytes of the (H_l, Z_l) arrays deep_forward keeps for a batch, widths input first."""
    ### BEGIN SOLUTION
    per_row = sum(d_in + d_out for d_in, d_out in zip(widths[:-1], widths[1:]))
    return int(batch_size * per_row * np.dtype(dtype).itemsize)
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-cache-bytes-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Checks: cache_bytes gives, as an int, the bytes of a real cache of deep_forward,
# in float64 and in float32.
for _dt in (np.float64, np.float32):
    _Ws, _bs, _acts = random_net([3, 7, 5, 2], ["relu", "tanh", "identity"], dtype=_dt)
    _cache = deep_forward(np.ones((10, 3), dtype=_dt), _Ws, _bs, _acts)[1]
    _want = sum(_a.nbytes for _pair in _cache for _a in _pair)
    _call = f"cache_bytes(10, [3, 7, 5, 2], np.{np.dtype(_dt).name})"
    _got = attempt(_call, cache_bytes, 10, [3, 7, 5, 2], _dt)
    require("value", isinstance(_got, int) and _got == _want,
            f"{_call} must be the int {_want}, the bytes of the cache deep_forward keeps; "
            f"got {_got!r}")
print("cache_bytes counts the bytes of the cache")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
for dt in ("float64", "float32", "float64"):
    n = int(rng.integers(1, 500))
    widths = [int(w) for w in rng.integers(1, 300, size=int(rng.integers(2, 9)))]
    want = n * sum(a + b for a, b in zip(widths[:-1], widths[1:])) * np.dtype(dt).itemsize
    call = f"cache_bytes({n}, {widths}, {dt!r})"
    got = student.cache_bytes(n, widths, dt)
    require("value", isinstance(got, int) and not isinstance(got, bool),
            f"{call} must return a Python int, got {describe(got)}")
    hint = ""
    if got * np.dtype(dt).itemsize == want * 8:
        hint = f"; a {np.dtype(dt).name} entry takes {np.dtype(dt).itemsize} bytes"
    require("value", got == want,
            f"{call} must be {want} bytes (one (H_l, Z_l) pair per layer, N rows each), "
            f"got {got}{hint}")
### END HIDDEN TESTS


# %% [markdown]
# How does the cache compare with the parameters?
# We run networks of 256 units per layer, with a batch of 256, at three depths,
# and measure the cache that `deep_forward` actually keeps.

# %%
print(" depth   cache (MB)   cache_bytes (MB)   parameters (MB)   cache / parameters")
for depth in (2, 8, 32):
    Ws_mem, bs_mem, acts_mem = random_net([256] * (depth + 1), ["relu"] * depth)
    cache_mem = deep_forward(np.ones((256, 256)), Ws_mem, bs_mem, acts_mem)[1]
    kept_bytes = sum(a.nbytes for pair in cache_mem for a in pair)
    param_bytes = sum(W.nbytes + b.nbytes for W, b in zip(Ws_mem, bs_mem))
    print(f"{depth:6d}   {kept_bytes / 1e6:10.1f}   {cache_bytes(256, [256] * (depth + 1)) / 1e6:16.1f}"
          f"   {param_bytes / 1e6:15.1f}   {kept_bytes / param_bytes:18.2f}")

# %% [markdown]
# The cache grows in proportion to the depth, as the parameters do,
# but also in proportion to the batch size, which the parameters do not:
# at this batch size it is already about twice their size.
# On a GPU this, not the parameters, is usually what limits the batch size and the depth.
#
# > **Errata to the notes.** The slides on backpropagation and computational graphs
# > say that backpropagation takes time in proportion to the number of nodes of the graph
# > and constant ($O(1)$) space.
# > The time is right; the space is not.
# > The backward pass needs values that the forward pass computed,
# > so reverse mode keeps them until it has used them:
# > space in proportion to the number of nodes, as measured above.
# > Forward mode (the dual numbers of assignment 1) can drop each value once the next one is computed,
# > but needs one pass per input.
#
# Reverse mode can also trade memory for time.
# **Checkpointing** keeps the input of every $s$-th layer only.
# The backward pass then handles the network in segments of $s$ layers, from the last to the first:
# it runs the forward pass of the segment again from its kept input, this time with a cache,
# and runs the segment's backward pass, which hands $\partial L / \partial (\text{segment input})$
# on to the segment below.
#
# ### Exercise 12 (3 points): checkpointed backward
#
# Write `checkpointed_backward(dout, X, Ws, bs, activations, every)`,
# which returns `(dX, grads, kept)`:
# the same `dX` and `grads` as `deep_forward` followed by `deep_backward`,
# and `kept`, the list of the layer inputs it kept: $H_0 = X$, $H_s$, $H_{2s}$, ... for $s$ = `every`.
#
# * Run the forward pass once with `layer_forward`, keeping only the inputs of layers `0, every, 2 * every, ...`.
# * Then, for each segment of at most `every` layers, from the last segment to the first,
#   call `deep_forward` on the segment (from its kept input, with `Ws[start:stop]` and so on)
#   and `deep_backward` on the segment's cache.
#   Call `deep_backward` once per segment and `deep_forward` on one segment at a time (both checked).
# * The last segment is shorter when `every` does not divide the depth.
#
# The grader answers your calls of `deep_forward` and `deep_backward` with correct values,
# so this exercise is graded on its own.

# %% nbgrader={"grade": false, "grade_id": "a3-checkpointed-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def checkpointed_backward(dout, X, Ws, bs, activations, every):
    """deep_forward then deep_backward, keeping only the input of every `every`-th layer.

    Returns (dX, grads, kept): grads as deep_backward gives them, kept = [H_0, H_every, ...].
    """
    ### BEGIN SOLUTION
    depth = len(Ws)
    kept = []
    H = X
    for layer in range(depth):
        if layer % every == 0:
            kept.append(H)
        H, _ = layer_forward(H, Ws[layer], bs[layer], activations[layer])
    d = dout
    grads = [None] * depth
    for start in reversed(range(0, depth, every)):
        stop = min(start + every, depth)
        part = slice(start, stop)
        _, cache = deep_forward(kept[start // every], Ws[part], bs[part], activations[part])
        d, grads[part] = deep_backward(d, cache, Ws[part], activations[part])
    return d, grads, kept
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-checkpointed-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: checkpointed_backward gives the gradients of deep_forward and your deep_backward,
# keeps H_0, H_3, H_6 of a 7-layer net with every=3, and calls deep_backward once per segment
# (3 times). Autograd is off, as in grading.
_acts = ["relu", "tanh", "relu", "sigmoid", "relu", "tanh", "identity"]
_Ws, _bs, _ = random_net([4, 6, 5, 6, 5, 6, 5, 3], _acts, seed=6)
_X = np.random.default_rng(7).standard_normal((8, 4))
_out, _cache = deep_forward(_X, _Ws, _bs, _acts)
_dout = np.random.default_rng(8).standard_normal(_out.shape)
_call = "checkpointed_backward on a 7-layer net with every=3"
with autograd_off():
    _dX, _grads = attempt(_call + " (deep_backward alone)", deep_backward, _dout, _cache, _Ws, _acts)
    with calls_to("deep_backward") as _calls:
        _res = attempt(_call, checkpointed_backward, _dout, _X, _Ws, _bs, _acts, 3)
require("method", _calls.count == 3,
        f"{_call} must call deep_backward once per segment (3 times: layers 6, 3-5, 0-2); "
        f"it called it {_calls.count} time{'s' * (_calls.count != 1)}")
assert isinstance(_res, tuple) and len(_res) == 3, (
    f"{_call} must return (dX, grads, kept), got {type(_res).__name__}")
require("value", isinstance(_res[2], list) and len(_res[2]) == 3,
        f"{_call}: kept must be the list [H_0, H_3, H_6], got {len(_res[2])} entries")
for _i, _l in enumerate((0, 3, 6)):
    expect_close(expect_shape(_res[2][_i], _cache[_l][0].shape, f"{_call}: kept[{_i}]"),
                 _cache[_l][0], f"{_call}: kept[{_i}], the input of layer {_l}")
expect_close(_res[0], _dX, f"{_call}: dX, against deep_backward's")
for _l in range(7):
    expect_close(_res[1][_l][0], _grads[_l][0], f"{_call}: dW of layer {_l}, against deep_backward's")
    expect_close(_res[1][_l][1], _grads[_l][1], f"{_call}: db of layer {_l}, against deep_backward's")
print("checkpointed_backward gives the gradients of deep_backward, segment by segment")
### BEGIN HIDDEN TESTS
# Graded on its own: deep_forward and deep_backward answer every segment with values computed
# here. The nets use relu and identity and weights that are multiples of 1/2, so every value
# is exact and any correct order of operations gives the same bits.
rng = np.random.default_rng(seed)
cases = [(7, 3), (6, 2), (int(rng.integers(8, 13)), int(rng.integers(2, 5))), (5, 5), (4, 1)]
for depth, every in cases:
    acts = ["relu"] * (depth - 1) + ["identity"]
    widths = [int(w) for w in rng.integers(2, 4, size=depth + 1)]
    n = int(rng.integers(2, 5))
    half = lambda shape: rng.integers(-2, 3, size=shape) / 2  # noqa: E731
    X = half((n, widths[0]))
    Ws = [half((a, b)) for a, b in zip(widths[:-1], widths[1:])]
    bs = [half(b) for b in widths[1:]]
    dout = half((n, widths[-1]))
    what = f"checkpointed_backward on a {depth}-layer net (widths {widths}) with every={every}"
    parts = [(s, min(s + every, depth)) for s in range(0, depth, every)]
    kept = [reference_forward(X, Ws[:s], bs[:s], acts[:s])[0] for s, _ in parts]
    forward_answers, backward_answers = [], []
    d, want = dout, [None] * depth
    for (s, e), H in reversed(list(zip(parts, kept))):
        out, cache = reference_forward(H, Ws[s:e], bs[s:e], acts[s:e])
        forward_answers.append(((H, Ws[s:e], bs[s:e], acts[s:e]), (out, cache)))
        d_in, seg = reference_backward(d, cache, Ws[s:e], acts[s:e], pairs=True)
        backward_answers.append(((d, cache, Ws[s:e], acts[s:e]), (d_in, seg)))
        want[s:e] = seg
        d = d_in
    with student.autograd_off(), student.standin("deep_forward", forward_answers) as fwd, \
            student.standin("deep_backward", backward_answers) as bwd:
        got = student.checkpointed_backward(dout, X, Ws, bs, acts, every)
    require("method", bwd.calls == len(parts),
            f"{what} must call deep_backward once per segment ({len(parts)} times); it called "
            f"it {bwd.calls} time{'s' * (bwd.calls != 1)}")
    require("method", fwd.misses == 0,
            f"{what} must call deep_forward on one segment at a time, from the segment's kept "
            f"input with Ws[start:stop], bs[start:stop], activations[start:stop]; "
            f"{fwd.misses} of its {fwd.calls} calls had other arguments (the whole network?)")
    require("method", bwd.misses == 0,
            f"{what} must call deep_backward on each segment's cache with the gradient coming "
            f"from the segment above (dout for the last segment); {bwd.misses} of its calls "
            "had other arguments")
    assert isinstance(got, (tuple, list)) and len(got) == 3, (
        f"{what} must return (dX, grads, kept), got {describe(got)}")
    dX, grads, got_kept = got
    require("value", isinstance(got_kept, (list, tuple)) and len(got_kept) == len(parts),
            f"{what}: kept must hold the inputs of layers {[s for s, _ in parts]}, "
            f"{len(parts)} arrays; got {describe(got_kept)}")
    for (s, _), H, G in zip(parts, kept, got_kept):
        expect_close(expect_shape(G, H.shape, f"{what}: kept input of layer {s}"), H,
                     f"{what}: kept input of layer {s}")
    expect_close(expect_shape(dX, X.shape, f"{what}: dX"), d, f"{what}: dX")
    assert isinstance(grads, (list, tuple)) and len(grads) == depth, (
        f"{what}: grads must hold one (dW, db) per layer ({depth}), got {describe(grads)}")
    for l in range(depth):
        expect_close(grads[l][0], want[l][0], f"{what}: dW of layer {l}")
        expect_close(grads[l][1], want[l][1], f"{what}: db of layer {l}")
### END HIDDEN TESTS


# %% [markdown]
# How far apart should the kept inputs be?
# Count the arrays held at the worst moment of the backward pass, layer inputs and caches alike,
# as one unit per layer:
# the kept inputs, $\lceil \text{depth} / s \rceil$ of them,
# plus the cache of the segment being differentiated, one unit for each of its (at most) $s$ layers.
#
# ### Exercise 13 (1 point): the best spacing
#
# For a network of depth 64, set `best_every` to the spacing $s$ that makes this count smallest,
# and `fewest_units` to that smallest count.
# (Plain checkpoint-free backprop holds 64 units in this count.)

# %% nbgrader={"grade": false, "grade_id": "a3-checkpoint-spacing", "locked": false, "schema_version": 3, "solution": true, "task": false}
### BEGIN SOLUTION
best_every = 8
fewest_units = 16
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a3-checkpoint-spacing-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Checks: best_every and fewest_units are whole numbers between 1 and 65
# (the hidden test checks their values).
for _name in ("best_every", "fewest_units"):
    _v = globals().get(_name)
    require("value", isinstance(_v, (int, np.integer)) and not isinstance(_v, bool)
            and 1 <= _v <= 65, f"{_name} must be a whole number from 1 to 65, got {_v!r}")
print("best_every and fewest_units are whole numbers")
### BEGIN HIDDEN TESTS
got = {name: (getattr(student, name).value() if student.has(name) else None)
       for name in ("best_every", "fewest_units")}
for name, value in got.items():
    require("value", isinstance(value, int) and not isinstance(value, bool),
            f"{name} must be a whole number, got {value!r}")
require("value", got["best_every"] == 8,
        f"best_every: the spacing s that minimises ceil(64 / s) + s is not {got['best_every']}: "
        "fewer kept inputs mean longer segments, whose caches are held too")
require("value", got["fewest_units"] == 16,
        f"fewest_units: the smallest value of ceil(64 / s) + s is not {got['fewest_units']}")
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked answer</summary>
#
# $\lceil 64 / s \rceil + s$ is 65 for $s = 1$ and for $s = 64$, and smallest at $s = 8$: $8 + 8 = 16$.
# In general the best spacing is about $\sqrt{\text{depth}}$,
# and the memory falls from order depth to order $\sqrt{\text{depth}}$.
#
# </details>
#
# Now we measure.
# For a network of depth 64 (32 units per layer, batch 512),
# we run the plain backward pass and the checkpointed one for several spacings.
# `tracemalloc` records the largest amount of memory numpy held during each run,
# and we count the calls of `layer_forward` and the time spent in them, the forward work
# (the best of three runs, on one thread).

# %%
depth_ck = 64
Ws_ck, bs_ck, acts_ck = random_net([32] * (depth_ck + 1), ["relu"] * (depth_ck - 1) + ["identity"])
X_ck = np.random.default_rng(9).standard_normal((512, 32))
dout_ck = np.ones((512, 32))


def plain_backward(dout, X, Ws, bs, activations):
    """deep_forward then deep_backward: every layer's cache is kept."""
    return deep_backward(dout, deep_forward(X, Ws, bs, activations)[1], Ws, activations)


def forward_seconds(fn, *args):
    """Seconds spent inside layer_forward while fn(*args) runs."""
    global layer_forward
    original, spent = layer_forward, []

    def timed(*layer_args):
        start = time.perf_counter()
        out = original(*layer_args)
        spent.append(time.perf_counter() - start)
        return out

    layer_forward = timed
    try:
        fn(*args)
    finally:
        layer_forward = original
    return sum(spent)


def measured(fn, *args):
    """(result, peak MB numpy held during fn, calls of layer_forward, seconds in them)."""
    tracemalloc.start()
    with calls_to("layer_forward") as seen:
        result = fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak / 1e6, seen.count, min(forward_seconds(fn, *args) for _ in range(3))


with threadpool_limits(1):
    (dX_plain, grads_plain), peak_plain, calls_plain, t_plain = measured(
        plain_backward, dout_ck, X_ck, Ws_ck, bs_ck, acts_ck)
    print(f"plain backward: peak {peak_plain:5.1f} MB   layer forwards {calls_plain:3d} "
          f"taking {1e3 * t_plain:4.1f} ms")
    peaks = {}
    for every in (1, 2, 4, 8, 16, 32, 64):
        (dX_ck, grads_ck, kept_ck), peak, calls, seconds = measured(
            checkpointed_backward, dout_ck, X_ck, Ws_ck, bs_ck, acts_ck, every)
        same = np.allclose(dX_ck, dX_plain) and all(
            np.allclose(a, b) for pa, pb in zip(grads_ck, grads_plain) for a, b in zip(pa, pb))
        peaks[every] = peak
        print(f"every = {every:2d}:     peak {peak:5.1f} MB   layer forwards {calls:3d} "
              f"taking {1e3 * seconds:4.1f} ms   kept {len(kept_ck):2d}   same gradients: {same}")
# what the text below says: the least memory at spacing 4 or 8, under half of the plain pass
lowest = min(peaks, key=peaks.get)
assert lowest in (4, 8) and peaks[lowest] < 0.5 * peak_plain, peaks

# %% [markdown]
# The gradients are the same for every spacing.
# The memory follows the count of exercise 13:
# high at both ends, where either the kept inputs or one long segment fill it,
# and lowest in the middle, at under half of what the plain backward pass holds.
# The lowest point is at $s = 4$ or $8$ (the cell prints which):
# the cache of a layer holds two arrays, $H_l$ and $Z_l$, not one,
# which pulls the best spacing a little below the count's 8.
# The price is the forward work: every layer's forward pass runs twice,
# 128 layer forwards instead of 64, and more time spent in them
# (the printed times are measured, and wobble from run to run).
# A plain step costs about three forward passes (section 10),
# so checkpointing adds about a third to the time of a step.
#
# ## 12. Batch normalisation: where the examples of a batch meet
#
# Until now, nothing in the network mixed two examples:
# row $i$ of every array depended on row $i$ of $X$ alone,
# and only parameter gradients summed over the batch.
# Batch normalisation breaks that rule on purpose.
# For $X$ of shape $(N, D)$ it standardises every column over the batch,
# then scales and shifts it with learned $\gamma$ and $\beta$ of shape $(D,)$:
#
# $$\mu = \frac{1}{N} \sum_i x_i, \qquad
# v = \frac{1}{N} \sum_i (x_i - \mu)^2, \qquad
# \hat x_i = \frac{x_i - \mu}{\sqrt{v + \epsilon}}, \qquad
# y_i = \gamma \odot \hat x_i + \beta ,$$
#
# with every operation on rows taken entry by entry, and $\epsilon = 10^{-5}$.
# Now $y_i$ depends on every row of $X$, through $\mu$ and $v$.
#
# ### Exercise 14 (4 points): batch normalisation, forward and backward
#
# Write
#
# * `batchnorm_forward(X, gamma, beta, eps=1e-5)`: $Y$, of the shape of `X`;
# * `batchnorm_backward(dout, X, gamma, eps=1e-5)`: `(dX, dgamma, dbeta)` for `dout` $= \bar Y$,
#   with the shapes of `X`, `gamma` and `gamma`.
#   It recomputes what it needs from `X`.
#
# Derive $\bar X$ before you write it: $\mu$ and $v$ depend on every row of $X$,
# so $\bar x_i$ collects a contribution from every $\bar y_j$, not only from $\bar y_i$.
# Tip: first write $\bar{\hat x}_i$, then find $\partial L / \partial v$ and $\partial L / \partial \mu$,
# then add up the three paths from $x_i$ to the loss.
# No loop over examples; by hand, autograd off.

# %% nbgrader={"grade": false, "grade_id": "a3-batchnorm-forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_forward(X, gamma, beta, eps=1e-5):
    """Batch normalisation of X, shape (N, D): every column standardised over the batch,
    then scaled by gamma and shifted by beta (both of shape (D,))."""
    ### BEGIN SOLUTION
    mu = X.mean(axis=0)
    var = X.var(axis=0)
    return gamma * (X - mu) / np.sqrt(var + eps) + beta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-batchnorm-forward-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Part: batchnorm_forward
# Checks: with gamma = 1 and beta = 0 every column of the output has mean 0 and standard
# deviation close to 1 over the batch; gamma and beta scale and shift it.
_X = np.random.default_rng(10).normal(3.0, 2.0, size=(16, 3))
_call = "batchnorm_forward on a batch of 16 with 3 features"
_Y = expect_shape(attempt(_call, batchnorm_forward, _X, np.ones(3), np.zeros(3)), (16, 3), _call)
expect_close(_Y.mean(axis=0), np.zeros(3), f"{_call} (gamma=1, beta=0): the mean of each column",
             atol=1e-9, hint="Standardise every column over the batch: mean and variance over axis 0")
expect_close(_Y.std(axis=0), np.ones(3), f"{_call} (gamma=1, beta=0): the std of each column",
             rtol=1e-4, hint="Use the variance over the batch, divided by N")
_Y2 = batchnorm_forward(_X, np.array([1.0, 2.0, 3.0]), np.array([0.0, -1.0, 1.0]))
expect_close(_Y2, _Y * [1.0, 2.0, 3.0] + [0.0, -1.0, 1.0],
             f"{_call}, gamma = [1, 2, 3], beta = [0, -1, 1]")
print("batchnorm_forward standardises each column over the batch")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
for n, d in [(int(rng.integers(4, 40)), int(rng.integers(2, 6))), (2, 3), (64, 1)]:
    X = rng.normal(rng.normal(0, 3, size=d), rng.uniform(0.5, 3, size=d), size=(n, d))
    gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
    what = f"batchnorm_forward on a random batch of {n} with {d} features"
    got = expect_shape(student.batchnorm_forward(X, gamma, beta), (n, d), what)
    want = batchnorm(X, gamma, beta)
    hint = ""
    if n > 1 and d > 1 and np.allclose(got, batchnorm(X.T, 1.0, 0.0).T * gamma + beta):
        hint = ("it standardises each row (example) over the features; batch normalisation "
                "standardises each column (feature) over the batch, axis 0")
    expect_close(got, want, what, rtol=1e-7, atol=1e-9, hint=hint)
### END HIDDEN TESTS

# %% nbgrader={"grade": false, "grade_id": "a3-batchnorm-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def batchnorm_backward(dout, X, gamma, eps=1e-5):
    """Gradients of batchnorm_forward(X, gamma, beta, eps) for dL/dY = dout.

    Returns (dX, dgamma, dbeta) with the shapes of X, gamma and gamma.
    """
    ### BEGIN SOLUTION
    n = X.shape[0]
    inv_std = 1 / np.sqrt(X.var(axis=0) + eps)
    Xhat = (X - X.mean(axis=0)) * inv_std
    dbeta = dout.sum(axis=0)
    dgamma = (dout * Xhat).sum(axis=0)
    dXhat = dout * gamma
    dX = inv_std / n * (n * dXhat - dXhat.sum(axis=0) - Xhat * (dXhat * Xhat).sum(axis=0))
    return dX, dgamma, dbeta
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-batchnorm-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Part: batchnorm_backward
# Checks: batchnorm_backward agrees with finite differences of batch normalisation
# (written out here from its definition above), with the shapes of X, gamma and gamma.
# Autograd is off, as in grading.
_rng = np.random.default_rng(11)
_X = _rng.normal(1.0, 2.0, size=(8, 3))
_gamma, _beta = _rng.uniform(0.5, 2.0, size=3), _rng.normal(size=3)
_call = "batchnorm_backward on a batch of 8 with 3 features"


def _bn(X, gamma, beta):
    return gamma * (X - X.mean(axis=0)) / np.sqrt(X.var(axis=0) + 1e-5) + beta


def _bn_analytic(dout):
    _out = attempt(_call, batchnorm_backward, dout, _X, _gamma)
    assert isinstance(_out, tuple) and len(_out) == 3, (
        f"{_call} must return (dX, dgamma, dbeta), got {type(_out).__name__}")
    for _name, _g, _like in zip(("dX", "dgamma", "dbeta"), _out, (_X, _gamma, _gamma)):
        expect_shape(_g, _like.shape, f"{_call}: {_name}")
    return _out


with autograd_off():
    check_gradients(_bn, {"X": _X, "gamma": _gamma, "beta": _beta}, _bn_analytic).assert_ok()
print("batchnorm_backward agrees with finite differences")
### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
with student.autograd_off():
    for n, d in [(int(rng.integers(4, 20)), int(rng.integers(2, 5))), (3, 2),
                 (int(rng.integers(30, 60)), 1)]:
        X = rng.normal(rng.normal(0, 3, size=d), rng.uniform(0.5, 3, size=d), size=(n, d))
        gamma, beta = rng.uniform(0.5, 2, size=d), rng.normal(size=d)
        dout = rng.standard_normal((n, d))
        what = f"batchnorm_backward on a random batch of {n} with {d} features"
        dX, dgamma, dbeta = arrays(student.batchnorm_backward(dout, X, gamma), what,
                                   ["dX", "dgamma", "dbeta"], [(n, d), (d,), (d,)])
        constant = dout * gamma / np.sqrt(X.var(axis=0) + 1e-5)
        require("value", not np.allclose(dX, constant),
                f"{what}: dX is dout * gamma / sqrt(v + eps), as if the batch mean and variance "
                "were constants; they depend on every row of X, so dX has two more terms")
        gradients_ok(what, lambda X, gamma, beta, dout=dout: np.sum(batchnorm(X, gamma, beta) * dout),
                     {"X": X, "gamma": gamma, "beta": beta},
                     {"X": dX, "gamma": dgamma, "beta": dbeta})
### END HIDDEN TESTS


# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Write $\tau = \sqrt{v + \epsilon}$ and $\bar{\hat x}_i = \bar y_i \odot \gamma$.
# The parameters: $\bar\beta = \sum_i \bar y_i$ and $\bar\gamma = \sum_i \bar y_i \odot \hat x_i$.
# Through $\hat x_i = (x_i - \mu) / \tau$, the input $x_i$ reaches the loss three ways:
# directly, through $v$ and through $\mu$.
#
# $$\bar v = -\frac{1}{2 \tau^3} \sum_j \bar{\hat x}_j \odot (x_j - \mu), \qquad
# \bar \mu = -\frac{1}{\tau} \sum_j \bar{\hat x}_j
# \quad (\text{the path through } v \text{ adds } \textstyle\sum_j (x_j - \mu) = 0),$$
#
# $$\bar x_i = \frac{\bar{\hat x}_i}{\tau} + \bar v \odot \frac{2 (x_i - \mu)}{N} + \frac{\bar \mu}{N}
# = \frac{1}{N \tau} \Big( N \bar{\hat x}_i - \sum_j \bar{\hat x}_j
# - \hat x_i \odot \sum_j \bar{\hat x}_j \odot \hat x_j \Big) .$$
#
# The first term alone is the gradient with $\mu$ and $v$ held constant;
# the two sums are how every other example of the batch pushes back.
#
# </details>
#
# The batch couples the examples: the gradient of one example's output
# with respect to another example's input is not zero.
# We check it on a batch of 4, two features, with finite differences of our own:
# nudging $x_1$ moves $y_0$.
# The same coupling makes $\bar X$ sum to zero over the batch, whatever $\bar Y$ is,
# because shifting every example by the same amount leaves the output unchanged.

# %%
X_bn = np.random.default_rng(12).standard_normal((4, 2))
ones_bn, zeros_bn = np.ones(2), np.zeros(2)
nudge = np.zeros_like(X_bn)
nudge[1, 0] = 1e-6
moved = (batchnorm_forward(X_bn + nudge, ones_bn, zeros_bn)
         - batchnorm_forward(X_bn - nudge, ones_bn, zeros_bn)) / 2e-6
print("d y_0 / d x_1 (feature 0), by finite differences:", np.round(moved[0], 4))
dX_bn = batchnorm_backward(np.random.default_rng(13).standard_normal((4, 2)), X_bn, ones_bn)[0]
print("dX summed over the batch:", np.round(dX_bn.sum(axis=0), 12))

# %% [markdown]
# The first line shows a non-zero effect of example 1 on example 0's output, in the column nudged;
# the second, a sum of zero up to rounding.
# This coupling is why a network with batch normalisation behaves differently
# at batch size 1, and why it keeps running averages of $\mu$ and $v$ for use at test time.
#
# ## Summary
#
# * A batch is a leading axis; the forward pass never mixes examples, except in batch normalisation.
# * A parameter is shared by every example, so its gradient sums over the batch:
#   $\bar W = X^\top \bar Z$ and $\bar b = \bar Z$ summed over axis 0.
#   Inputs get one gradient row per example and no sum.
# * With a mean loss, $1/N$ enters once, at the top of the backward pass;
#   the lecture's $-2/N$ is that factor times the derivative of $(t - R)^2$.
# * The per-example loop and the batched code compute the same gradient;
#   the batched one is many times faster, and the gap grows with the batch (section 5's table).
# * An epoch visits every example once, in shuffled minibatches;
#   minibatch SGD fits our curve in a fraction of a second.
# * The mean keeps the gradient's scale independent of the batch size,
#   but the best learning rate still changes with it.
# * The variance of a minibatch gradient falls like $1/B$.
# * One layer's backward pass, repeated, serves a network of any depth;
#   a backward pass costs about two forward passes.
# * Reverse mode keeps what the forward pass computed, memory that grows with depth and batch size;
#   checkpointing keeps every $s$-th layer input and recomputes the rest,
#   for about one extra forward pass.
# * Batch normalisation couples the examples of a batch, in the forward pass and in the backward pass.
