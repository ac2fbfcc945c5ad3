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
# 2. see why parameter gradients are sums, and write the batched affine backward,
# 3. compare mean and sum losses, and find the $-2/N$ of the lecture's training loop,
# 4. write the backward pass of the whole network for a batch,
# 5. write the lecture's per-example loop, check it against the batched code, and time both,
# 6. write a minibatch iterator,
# 7. train the network with minibatch SGD,
# 8. measure how the noise of a minibatch gradient falls with the batch size,
# 9. measure what a backward pass costs compared with a forward pass.
#
# **Grading.**
# The exercises and their points are in the table at the end of this cell.
# Each answer cell holds one or two functions with a fixed signature;
# replace `raise NotImplementedError()` with your code and keep the signature.
# The test cell under each exercise runs a few visible checks that tell you what is wrong;
# the grader runs more checks of the same kind.
# Exercises 2 to 5 ask for gradients **by hand, with numpy**:
# the grader runs your functions with minigrad's autograd switched off,
# so calling `.backward()` earns no points.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | points |
# |---|---|---|---|
# | 1 | forward pass and loss for a batch | one | 2 |
# | 2 | batched affine backward | one | 2 |
# | 3 | backward of the squared error | one | 2 |
# | 4 | backward pass of the MLP for a batch | one | 3 |
# | 5 | the lecture's per-example loop | one | 3 |
# | 6 | a minibatch iterator | one | 2 |
# | 7 | the training loop | one | 3 |
# | | **total** | 7 graded cells | **17** |
# <!-- end of points table -->

# %% nbgrader={"grade": false, "grade_id": "a3-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
# %matplotlib inline
import time

import matplotlib.pyplot as plt
import numpy as np
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from minigrad.gradcheck import check_gradients
from minigrad.viz import LossPlot


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
# with $W_1$ of shape $(D, H)$, $b_1$ of shape $(H,)$,
# $W_2$ of shape $(H, 1)$ and $b_2$ of shape $(1,)$.
# (If you prefer column vectors, $W_1^\top$ is the matrix that maps $x^\top$ to $z^\top$;
# rows make the batch version read more naturally.)
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
# * Keep the dtype: float32 inputs give a float32 $\hat Y$.
# * `mse_loss` raises `ValueError` when `Yhat.shape != Y.shape` (say both shapes in the message),
#   and when `reduction` is neither `"mean"` nor `"sum"`.

# %% nbgrader={"grade": false, "grade_id": "a3-batched-forward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_forward(X, params):
    """Forward pass of the two-layer MLP for a batch.

    X: array of shape (N, D).
    params: dict with W1 (D, H), b1 (H,), W2 (H, 1), b2 (1,).
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


# %% nbgrader={"grade": true, "grade_id": "a3-batched-forward-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: mlp_forward gives (N, 1) row by row; mse_loss takes the mean or sum, rejects bad shapes.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((5, 3))
_p = init_params(d_in=3, hidden=4, seed=1)
_Yhat = mlp_forward(_X, _p)
assert isinstance(_Yhat, np.ndarray), f"mlp_forward should return an array, got {type(_Yhat)}"
assert _Yhat.shape == (5, 1), f"mlp_forward: expected shape (N, 1) = (5, 1), got {_Yhat.shape}"
for _i in range(5):
    _row = mlp_forward(_X[_i:_i + 1], _p)
    assert np.allclose(_row, _Yhat[_i:_i + 1]), (
        f"row {_i} of the batch output differs from the output for example {_i} alone: "
        "examples must not mix in the forward pass"
    )
_X32 = _X.astype(np.float32)
_p32 = {_k: _v.astype(np.float32) for _k, _v in _p.items()}
assert mlp_forward(_X32, _p32).dtype == np.float32, "float32 inputs should give a float32 output"
_Y = np.ones((5, 1))
_mean = mse_loss(_Yhat, _Y)
_sum = mse_loss(_Yhat, _Y, reduction="sum")
assert isinstance(_mean, float), f"mse_loss should return a Python float, got {type(_mean)}"
assert np.isclose(_sum, np.sum((_Yhat - 1.0) ** 2)), f"sum reduction: got {_sum}"
assert np.isclose(_mean * 5, _sum), f"mean should be sum / N: got mean {_mean} and sum {_sum}"
try:
    mse_loss(_Yhat, np.ones(5))
except ValueError:
    pass
else:
    raise AssertionError("mse_loss should raise ValueError for shapes (5, 1) and (5,)")
try:
    mse_loss(_Yhat, _Y, reduction="average")
except ValueError:
    pass
else:
    raise AssertionError("mse_loss should raise ValueError for an unknown reduction")
### BEGIN HIDDEN TESTS
def rejects(what, call, *args):
    """Fail unless call(*args) raises ValueError in the kernel."""
    try:
        raises("ValueError", call, *args)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


X = np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]])
Y = np.array([[1.0], [0.0], [2.0]])
params = {
    "W1": np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]]),
    "b1": np.array([0.1, -0.2, 0.3]),
    "W2": np.array([[1.0], [-2.0], [0.5]]),
    "b2": np.array([0.25]),
}
Yhat = np.array([[1.9], [1.25], [-0.25]])  # worked out by hand
fixed = "the fixed batch of 3 (D=2, H=3)"
on_fixed = "on Yhat = [1.9, 1.25, -0.25], Y = [1, 0, 2] (columns)"
# the single-example network of assignment 1: prediction 7, L(2, 10, -1, 4, 3, 1) = 9
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
with student.autograd_off():
    out = np.asarray(student.mlp_forward(X, params))
    assert out.shape == (3, 1), f"mlp_forward on {fixed} must return shape (3, 1), got {out.shape}"
    assert np.allclose(out, Yhat, rtol=1e-12, atol=1e-12), (
        f"mlp_forward on {fixed}: want [1.9, 1.25, -0.25] (as a column), "
        f"got {out.ravel().tolist()}")
    for text, args, kwargs, want in [
        ("mse_loss(Yhat, Y)", (), {}, 2.478333333333333),
        ("mse_loss(Yhat, Y, reduction='sum')", (), {"reduction": "sum"}, 7.435),
        ("mse_loss(Yhat, Y, 'mean')", ("mean",), {}, 2.478333333333333),
    ]:
        got = student.mse_loss(Yhat, Y, *args, **kwargs)
        assert isinstance(got, float), (
            f"{text} must return a Python float, got {type(got).__name__}")
        assert abs(got - want) < 1e-12, f"{text} {on_fixed}: want {want!r}, got {got!r}"
    out = np.asarray(student.mlp_forward(np.array([[2.0]]), a1))
    assert out.shape == (1, 1), (
        f"mlp_forward on one example with D = H = 1 must return shape (1, 1), got {out.shape}")
    assert np.allclose(out, 7.0), (
        f"mlp_forward on assignment 1's network (x=2, W1=-1, b1=4, W2=3, b2=1): "
        f"want [[7.0]], got {out.tolist()}")
    got = student.mse_loss(np.array([[7.0]]), np.array([[10.0]]))
    assert got == 9.0, f"mse_loss([[7.0]], [[10.0]]) must be exactly 9.0, got {got!r}"
    params32 = {name: value.astype(np.float32) for name, value in params.items()}
    out = np.asarray(student.mlp_forward(X.astype(np.float32), params32))
    assert out.dtype == np.float32, (
        f"mlp_forward on float32 inputs and parameters must return float32, got {out.dtype}")
    assert out.shape == (3, 1), (
        f"mlp_forward on {fixed} in float32 must return shape (3, 1), got {out.shape}")
    assert np.allclose(out, Yhat, rtol=1e-6, atol=1e-6), (
        f"mlp_forward on {fixed} in float32: want [1.9, 1.25, -0.25], got {out.ravel().tolist()}")

    rng = np.random.default_rng(seed)
    n, d, h = int(rng.integers(30, 50)), int(rng.integers(3, 8)), int(rng.integers(4, 10))
    Xr = rng.standard_normal((n, d))
    pr = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
          "W2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(1)}
    want = np.maximum(Xr @ pr["W1"] + pr["b1"], 0.0) @ pr["W2"] + pr["b2"]
    out = np.asarray(student.mlp_forward(Xr, pr))
    case = f"a random batch of {n} (D={d}, H={h})"
    assert out.shape == (n, 1), f"mlp_forward on {case} must return shape ({n}, 1), got {out.shape}"
    assert np.allclose(out, want, rtol=1e-10, atol=1e-12), (
        f"mlp_forward on {case} is not relu(X @ W1 + b1) @ W2 + b2: {worst(out, want)}")

    for bad in [np.zeros(3), np.zeros((3, 2)), np.zeros((1, 3))]:
        rejects(f"mse_loss with a prediction of shape (3, 1) and a target of shape {bad.shape}",
                student.mse_loss, Yhat, bad)
    rejects("mse_loss with reduction='max'", student.mse_loss, Yhat, Y, "max")
### END HIDDEN TESTS

# %% [markdown]
# ## 2. Parameter gradients sum over the batch
#
# Take one affine layer $P = X W + b$ and suppose the loss has sent back
# $\bar P = \partial L / \partial P$, of shape $(N, M)$, one row $\bar p_i$ per example.
# For a single example, assignment 2 gave us
#
# $$\bar x_i = \bar p_i W^\top, \qquad
# \bar W^{(i)} = x_i^\top \bar p_i \;\text{(an outer product)}, \qquad
# \bar b^{(i)} = \bar p_i .$$
#
# In a batch, the input rows $x_i$ are separate nodes, one per example,
# so each gets its own gradient row: $\bar X = \bar P W^\top$, no sum.
# But $W$ and $b$ are single nodes used by all $N$ examples.
# This is fan-out, as in assignment 1 where $x$ fed both $x^2$ and $3x$:
# when a node feeds several consumers, the gradients from all of them add up.
# So
#
# $$\bar W = \sum_{i=1}^{N} x_i^\top \bar p_i = X^\top \bar P, \qquad
# \bar b = \sum_{i=1}^{N} \bar p_i = \bar P\text{.sum(axis=0)} .$$
#
# The matrix product $X^\top \bar P$ is exactly the sum of the $N$ outer products:
# entry $(j, k)$ is $\sum_i X_{ij} \bar P_{ik}$.
# A quick shape check catches most mistakes here:
# $\bar W$ must have the shape of $W$, and $\bar b$ the shape of $b$, whatever $N$ is.
#
# Let us confirm the identity numerically before using it.

# %%
rng_demo = np.random.default_rng(3)
X_demo = rng_demo.standard_normal((6, 3))
dP_demo = rng_demo.standard_normal((6, 2))
outer_sum = np.zeros((3, 2))
for i in range(6):
    outer_sum += np.outer(X_demo[i], dP_demo[i])
print("sum of outer products == X.T @ dP:", np.allclose(outer_sum, X_demo.T @ dP_demo))
print("bias gradient shape:", dP_demo.sum(axis=0).shape, "(the shape of b)")

# %% [markdown]
# ### Exercise 2 (2 points): batched affine backward
#
# Write `affine_backward(dout, X, W)` for $P = X W + b$.
# Given `dout` $= \bar P$ of shape $(N, M)$,
# the input $X$ of shape $(N, D)$ and $W$ of shape $(D, M)$,
# return the tuple `(dX, dW, db)` with shapes $(N, D)$, $(D, M)$ and $(M,)$.
# No loop over examples.
# Gradients are asked by hand: the grader switches minigrad's autograd off.

# %% nbgrader={"grade": false, "grade_id": "a3-affine-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def affine_backward(dout, X, W):
    """Backward pass of P = X @ W + b for a batch.

    dout: dL/dP, shape (N, M).  X: shape (N, D).  W: shape (D, M).
    Returns (dX, dW, db) with shapes (N, D), (D, M), (M,).
    """
    ### BEGIN SOLUTION
    dX = dout @ W.T
    dW = X.T @ dout
    db = dout.sum(axis=0)
    return dX, dW, db
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a3-affine-backward-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks: affine_backward gives dX = dout W^T, dW = X^T dout, db = dout summed over the batch.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((8, 3))
_W = _rng.standard_normal((3, 2))
_b = _rng.standard_normal(2)
_dX, _dW, _db = affine_backward(np.ones((8, 2)), _X, _W)
assert _dX.shape == (8, 3), f"dX should have the shape of X, (8, 3); got {_dX.shape}"
assert _dW.shape == (3, 2), f"dW should have the shape of W, (3, 2); got {_dW.shape}"
assert _db.shape == (2,), (
    f"db should have the shape of b, (2,); got {_db.shape} (did you sum over axis 0?)"
)
check_gradients(
    lambda X, W, b: X @ W + b,
    {"X": _X, "W": _W, "b": _b},
    lambda dout: affine_backward(dout, _X, _W),
).assert_ok()
### BEGIN HIDDEN TESTS
def affine(X, W, b):
    return X @ W + b


# literal values, by hand
X = np.array([[1.0, 2.0], [3.0, -1.0], [0.0, 1.0]])
W = np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.5]])
dout = np.array([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.0], [0.5, 0.5, 0.5]])
wanted = {"dX": np.array([[-1.0, 3.0], [-1.0, -1.0], [0.0, 1.75]]),
          "dW": np.array([[-2.0, 3.0, 2.0], [3.5, -0.5, 4.5]]),
          "db": np.array([0.5, 1.5, 2.5])}
rules = {"dX": "dout @ W.T", "dW": "X.T @ dout", "db": "dout.sum(axis=0)"}
fixed = "affine_backward on a fixed batch of 3 (D=2, M=3)"
rng = np.random.default_rng(seed)
with student.autograd_off():
    got = arrays(student.affine_backward(dout, X, W), fixed, list(wanted),
                 shapes=[want.shape for want in wanted.values()])
    for (name, want), value in zip(wanted.items(), got):
        hint = ""
        if name == "db" and times(want, value) == 3:
            hint = (" (3 times too small: b is shared by the 3 examples, so its gradient sums "
                    "over the batch; it does not average)")
        assert np.allclose(value, want), (
            f"{fixed}: {name} must be {rules[name]} = {want.tolist()}, got {value.tolist()}{hint}")

    n1, n2 = int(rng.integers(10, 30)), int(rng.integers(40, 80))
    cases = [(1, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float64),
             (n1, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float64),
             (n2, int(rng.integers(3, 7)), int(rng.integers(2, 5)), np.float32)]
    for n, d, m, dt in cases:
        Xr = rng.standard_normal((n, d)).astype(dt)
        Wr = rng.standard_normal((d, m)).astype(dt)
        br = rng.standard_normal(m).astype(dt)
        case = f"a random batch of {n} ({np.dtype(dt).name}, D={d}, M={m})"
        arrays(student.affine_backward(np.ones((n, m), dtype=dt), Xr, Wr),
               f"affine_backward on {case}", list(wanted), shapes=[(n, d), (d, m), (m,)],
               dtype=dt)
        gradients_ok(f"affine_backward on {case}", affine, {"X": Xr, "W": Wr, "b": br},
                     lambda dout, Xr=Xr, Wr=Wr: student.affine_backward(dout, Xr, Wr))

    # affine_backward must leave its arguments alone (checked in the kernel, on its own copies)
    n, d, m = n1, 4, 3
    args = [rng.standard_normal((n, m)), rng.standard_normal((n, d)), rng.standard_normal((d, m))]
    unchanged(student.affine_backward, *args, names=["dout", "X", "W"],
              hint=f"build new arrays instead (checked on a batch of {n}, D={d}, M={m})")
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Mean or sum, and the $-2/N$ of the lecture's loop
#
# The two common batch losses differ only by a constant:
#
# $$L_{\text{sum}} = \sum_{i=1}^{N} (\hat y_i - y_i)^2, \qquad
# L_{\text{mean}} = \frac{1}{N} L_{\text{sum}} .$$
#
# Their gradients with respect to one prediction are
#
# $$\frac{\partial L_{\text{sum}}}{\partial \hat y_i} = 2(\hat y_i - y_i), \qquad
# \frac{\partial L_{\text{mean}}}{\partial \hat y_i} = \frac{2}{N}(\hat y_i - y_i) .$$
#
# The factor $1/N$ enters once, at the top of the backward pass, and flows down to every parameter.
# A classic bug is to divide a second time,
# for example with `db = dout.mean(axis=0)` where a sum belongs:
# the bias gradient then comes out $N$ times too small.
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
# ### Exercise 3 (2 points): backward of the squared error
#
# Write `mse_backward(Yhat, Y, reduction)`, returning $\partial L / \partial \hat Y$
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
# Checks: mse_backward is 2 (Yhat - Y) / N for the mean and 2 (Yhat - Y) for the sum.
_rng = np.random.default_rng(0)
_Yhat = _rng.standard_normal((6, 1))
_Y = _rng.standard_normal((6, 1))
for _red in ["mean", "sum"]:
    _g = mse_backward(_Yhat, _Y, reduction=_red)
    assert _g.shape == _Yhat.shape, (
        f"{_red}: gradient shape should be {_Yhat.shape}, got {_g.shape}"
    )
    check_gradients(
        lambda Yhat, _red=_red: np.sum((Yhat - _Y) ** 2) / (6 if _red == "mean" else 1),
        {"Yhat": _Yhat},
        {"Yhat": _g},
    ).assert_ok()
try:
    mse_backward(_Yhat, _Y[:, 0])
except ValueError:
    pass
else:
    raise AssertionError("mse_backward should raise ValueError for shapes (6, 1) and (6,)")
### BEGIN HIDDEN TESTS
def rejects(what, call, *args):
    """Fail unless call(*args) raises ValueError in the kernel."""
    try:
        raises("ValueError", call, *args)
    except AssertionError as exc:
        raise AssertionError(f"{what}: {exc}") from None


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
            got = np.asarray(student.mse_backward(Yhat, Y, reduction))
            assert got.shape == (n, 1), (
                f"{case} must have the shape of Yhat, ({n}, 1); got {got.shape}")
            assert got.dtype == dt, (
                f"{case} must have the dtype of Yhat, {np.dtype(dt).name}; got {got.dtype}")
            gradients_ok(case, loss, {"Yhat": Yhat}, {"Yhat": got})

    Yhat = np.array([[1.0], [2.0], [-1.0], [0.5]])
    Y = np.array([[0.0], [2.0], [1.0], [1.5]])
    on_fixed = "on Yhat = [1, 2, -1, 0.5], Y = [0, 2, 1, 1.5] (columns)"
    for args, want in [((), [[0.5], [0.0], [-1.0], [-0.5]]),
                       (("sum",), [[2.0], [0.0], [-4.0], [-2.0]])]:
        text = f"mse_backward(Yhat, Y{''.join(f', {a!r}' for a in args)})"
        got = np.asarray(student.mse_backward(Yhat, Y, *args))
        assert got.shape == (4, 1), f"{text} {on_fixed} must have shape (4, 1), got {got.shape}"
        assert np.allclose(got, want), (
            f"{text} {on_fixed}: want {np.ravel(want).tolist()}, got {got.ravel().tolist()}")
    rejects("mse_backward with a prediction of shape (4, 1) and a target of shape (4,)",
            student.mse_backward, Yhat, Y[:, 0], "mean")
    rejects("mse_backward with reduction='max'", student.mse_backward, Yhat, Y, "max")
### END HIDDEN TESTS

# %% [markdown]
# ## 4. The whole network, for the whole batch
#
# Chaining the pieces gives the backward pass of the network.
# From the loss down, every line handles all $N$ examples at once;
# the two bias gradients and the two weight gradients are the only places where the batch is summed.
#
# * $\bar{\hat Y} = \tfrac{2}{N}(\hat Y - Y)$, shape $(N, 1)$;
# * $\bar W_2 = H^\top \bar{\hat Y}$, shape $(H, 1)$,
#   and $\bar b_2 = \sum_i \bar{\hat Y}_{i,:}$, shape $(1,)$;
# * $\bar H = \bar{\hat Y} W_2^\top$, shape $(N, H)$;
# * $\bar Z = \bar H \odot [Z > 0]$, shape $(N, H)$;
# * $\bar W_1 = X^\top \bar Z$, shape $(D, H)$,
#   and $\bar b_1 = \sum_i \bar Z_{i,:}$, shape $(H,)$.
#
# Put it next to the vector version of assignment 2, which handled one example $x$:
#
# | one example (assignment 2) | a batch (here) |
# |---|---|
# | `dy_hat = 2 * (y_hat - y)` | `dYhat = 2 * (Yhat - Y) / N` (mean loss) |
# | `dW2 = np.outer(h, dy_hat)` | `dW2 = H.T @ dYhat` |
# | `db2 = dy_hat` | `db2 = dYhat.sum(axis=0)` |
# | `dh = W2 @ dy_hat` | `dH = dYhat @ W2.T` |
# | `dz1 = dh * (z1 > 0)` | `dZ = dH * (Z > 0)` |
# | `dW1 = np.outer(x, dz1)` | `dW1 = X.T @ dZ` |
# | `db1 = dz1` | `db1 = dZ.sum(axis=0)` |
#
# Assignment 1 needed one statement per scalar,
# assignment 2 one statement per layer and per example.
# Here the same number of statements serves a batch of any size:
# outer products become matrix products, and the bias gradients gain a sum.
#
# ### Exercise 4 (3 points): backward pass of the MLP for a batch
#
# Write `mlp_loss_and_grads(X, Y, params, reduction="mean")`.
# It returns `(loss, grads)`: the loss as a Python float and a dict with the keys of `params`,
# each gradient with the shape and dtype of its parameter.
# You may call `affine_backward`, `mse_loss` and `mse_backward` from above.
# No loop over examples; no minigrad autograd (it is switched off when grading).

# %% nbgrader={"grade": false, "grade_id": "a3-mlp-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def mlp_loss_and_grads(X, Y, params, reduction="mean"):
    """Loss of the two-layer MLP on a batch and its gradient with respect to every parameter.

    X: (N, D), Y: (N, 1), params: dict with W1 (D, H), b1 (H,), W2 (H, 1), b2 (1,).
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
# Checks: mlp_loss_and_grads matches finite differences of the batch loss, for mean and sum.
_rng = np.random.default_rng(0)
_X = _rng.standard_normal((10, 2))
_Y = _rng.standard_normal((10, 1))
_p = init_params(d_in=2, hidden=5, seed=2)


def _batch_loss(W1, b1, W2, b2, scale):
    _out = np.maximum(_X @ W1 + b1, 0) @ W2 + b2
    return scale * np.sum((_out - _Y) ** 2)


for _red, _scale in [("mean", 0.1), ("sum", 1.0)]:
    _loss, _grads = mlp_loss_and_grads(_X, _Y, _p, reduction=_red)
    assert isinstance(_loss, float), f"the loss should be a Python float, got {type(_loss)}"
    assert np.isclose(_loss, _batch_loss(*_p.values(), _scale)), f"{_red} loss: got {_loss}"
    assert set(_grads) == set(_p), f"grads should have the keys {sorted(_p)}, got {sorted(_grads)}"
    for _k in _p:
        assert np.shape(_grads[_k]) == _p[_k].shape, (
            f"grads[{_k!r}] should have the shape of params[{_k!r}], {_p[_k].shape}; "
            f"got {np.shape(_grads[_k])}"
        )
    check_gradients(
        lambda W1, b1, W2, b2, _scale=_scale: _batch_loss(W1, b1, W2, b2, _scale),
        dict(_p),
        _grads,
    ).assert_ok()
### BEGIN HIDDEN TESTS
KEYS = ["W1", "b1", "W2", "b2"]


def unpack(result, what, params):
    """(loss, grads) from what mlp_loss_and_grads returned, after checking its form."""
    assert isinstance(result, (tuple, list)) and len(result) == 2, (
        f"{what} must return a pair (loss, grads), got {type(result).__name__}")
    loss, grads = result
    assert isinstance(loss, (float, np.floating)), (
        f"{what}: the loss must be a Python float, got {type(loss).__name__}")
    assert isinstance(grads, dict) and set(grads) == set(params), (
        f"{what}: grads must be a dict with the keys {sorted(params)}, got "
        + (f"the keys {sorted(map(str, grads))}" if isinstance(grads, dict)
           else type(grads).__name__))
    for name in params:
        assert np.shape(grads[name]) == params[name].shape, (
            f"{what}: grads[{name!r}] must have the shape of params[{name!r}], "
            f"{params[name].shape}; got {np.shape(grads[name])}")
    return loss, {name: np.asarray(value) for name, value in grads.items()}


# the single-example network of assignment 1: L = 9, gradients (-36, -18, -12, -6)
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
a1_grads = {"W1": -36.0, "b1": -18.0, "W2": -12.0, "b2": -6.0}
# a fixed batch of three, gradients of the mean loss worked out by hand
X = np.array([[1.0, -2.0], [0.5, 0.0], [-1.0, 3.0]])
Y = np.array([[1.0], [0.0], [2.0]])
params = {
    "W1": np.array([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]]),
    "b1": np.array([0.1, -0.2, 0.3]),
    "W2": np.array([[1.0], [-2.0], [0.5]]),
    "b2": np.array([0.25]),
}
fixed_grads = {"W1": [[23 / 12, -3.0, 61 / 120], [-4.5, 9.0, -0.6]],
               "b1": [-2 / 3, 3.0, 43 / 60],
               "W2": [[-433 / 120], [-2.325], [919 / 300]],
               "b2": [-1 / 15]}
with student.autograd_off():
    for reduction in ["mean", "sum"]:
        what = (f"mlp_loss_and_grads on assignment 1's network (x=2, y=10, W1=-1, b1=4, W2=3, "
                f"b2=1), reduction={reduction!r}")
        loss, grads = unpack(student.mlp_loss_and_grads(np.array([[2.0]]), np.array([[10.0]]),
                                                        a1, reduction), what, a1)
        assert loss == 9.0, f"{what}: the loss must be 9.0, got {loss!r}"
        for name in KEYS:
            assert np.allclose(grads[name], a1_grads[name]), (
                f"{what}: grads[{name!r}] must be {a1_grads[name]}, got {grads[name].tolist()}")

    for reduction, factor, want_loss in [("mean", 1, 2.478333333333333), ("sum", 3, 7.435)]:
        what = f"mlp_loss_and_grads on a fixed batch of 3 (D=2, H=3), reduction={reduction!r}"
        loss, grads = unpack(student.mlp_loss_and_grads(X, Y, params, reduction), what, params)
        assert abs(loss - want_loss) < 1e-12, f"{what}: the loss must be {want_loss!r}, got {loss!r}"
        for name in KEYS:
            want = factor * np.asarray(fixed_grads[name])
            hint = (" (3 times too small: a parameter is shared by the 3 examples, so its "
                    "gradient sums over the batch)") if times(want, grads[name]) == 3 else ""
            assert np.allclose(grads[name], want, rtol=1e-10), (
                f"{what}: grads[{name!r}]: want {show(want)}, got {show(grads[name])}{hint}")

    # random batches, float64 and float32, against a forward pass of our own
    rng = np.random.default_rng(seed)
    cases = [(1, int(rng.integers(2, 5)), int(rng.integers(3, 7)), np.float64),
             (int(rng.integers(20, 45)), int(rng.integers(2, 5)), int(rng.integers(4, 9)),
              np.float64),
             (int(rng.integers(50, 80)), 2, 8, np.float32)]
    for n, d, h, dt in cases:
        Xr = rng.standard_normal((n, d)).astype(dt)
        Yr = rng.standard_normal((n, 1)).astype(dt)
        pr = {"W1": rng.standard_normal((d, h)).astype(dt),
              "b1": rng.standard_normal(h).astype(dt),
              "W2": rng.standard_normal((h, 1)).astype(dt),
              "b2": rng.standard_normal(1).astype(dt)}

        def mean_loss(W1, b1, W2, b2, Xr=Xr, Yr=Yr, n=n):
            hidden = np.maximum(np.matmul(Xr, W1) + b1, 0.0)
            return np.sum(np.square(np.matmul(hidden, W2) + b2 - Yr)) / n

        what = f"mlp_loss_and_grads on a random batch of {n} ({np.dtype(dt).name}, D={d}, H={h})"
        loss, grads = unpack(student.mlp_loss_and_grads(Xr, Yr, pr), what, pr)
        want = float(mean_loss(*pr.values()))
        assert abs(loss - want) <= 1e-5 * max(1.0, abs(loss)), (
            f"{what}: the mean loss must be {want:.8g}, got {loss:.8g}")
        for name in KEYS:
            assert grads[name].dtype == dt, (
                f"{what}: grads[{name!r}] must be {np.dtype(dt).name}, got {grads[name].dtype}")
        gradients_ok(what, mean_loss, dict(pr), grads)
### END HIDDEN TESTS

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
# For one example $x$ of shape $(D,)$,
# the gradients of the output $r = \mathrm{relu}(x W_1 + b_1) W_2 + b_2$ are
#
# $$\frac{\partial r}{\partial W_2} = h^\top, \quad
# \frac{\partial r}{\partial b_2} = 1, \quad
# \bar z = W_2[:, 0] \odot [z > 0], \quad
# \frac{\partial r}{\partial W_1} = x^\top \bar z \ \text{(outer product)}, \quad
# \frac{\partial r}{\partial b_1} = \bar z .$$
#
# This is the vector code of assignment 2, with no batch axis anywhere.
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
# The grader compares your loop with a batched gradient of its own.
# By hand, numpy only, autograd off.

# %% nbgrader={"grade": false, "grade_id": "a3-per-sample-loop", "locked": false, "schema_version": 3, "solution": true, "task": false}
def output_grads_one(x, params):
    """Gradients of the network output r (a scalar) for ONE example x of shape (D,).

    Returns a dict with keys W1 (D, H), b1 (H,), W2 (H, 1), b2 (1,).
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


# %% nbgrader={"grade": true, "grade_id": "a3-per-sample-loop-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks: output_grads_one differentiates one example's output; the loop gives the batch gradient.
_rng = np.random.default_rng(0)
_p = init_params(d_in=2, hidden=4, seed=3)
_x = _rng.standard_normal(2)
_g1 = output_grads_one(_x, _p)
assert set(_g1) == set(_p), (
    f"output_grads_one should return the keys {sorted(_p)}, got {sorted(_g1)}"
)
for _k in _p:
    assert np.shape(_g1[_k]) == _p[_k].shape, (
        f"output_grads_one: {_k} should have shape {_p[_k].shape} (no batch axis); "
        f"got {np.shape(_g1[_k])}"
    )
check_gradients(
    lambda W1, b1, W2, b2: (np.maximum(_x @ W1 + b1, 0) @ W2 + b2)[0],
    dict(_p),
    _g1,
).assert_ok()
_X = _rng.standard_normal((12, 2))
_Y = _rng.standard_normal((12, 1))
_gl = lecture_loop_gradient(_X, _Y, _p)
check_gradients(
    lambda W1, b1, W2, b2: np.mean((np.maximum(_X @ W1 + b1, 0) @ W2 + b2 - _Y) ** 2),
    dict(_p),
    _gl,
).assert_ok()
### BEGIN HIDDEN TESTS
KEYS = ["W1", "b1", "W2", "b2"]


def grads_dict(got, what, params):
    """What the student returned, checked to be a dict of arrays shaped like params."""
    assert isinstance(got, dict) and set(got) == set(params), (
        f"{what} must return a dict with the keys {sorted(params)}, got "
        + (f"the keys {sorted(map(str, got))}" if isinstance(got, dict) else type(got).__name__))
    for name in params:
        assert np.shape(got[name]) == params[name].shape, (
            f"{what}: {name} must have the shape of params[{name!r}], {params[name].shape} "
            f"(no batch axis); got {np.shape(got[name])}")
    return {name: np.asarray(value) for name, value in got.items()}


def batch_grads(X, Y, params):
    """The batched gradient of the mean squared error."""
    z = X @ params["W1"] + params["b1"]
    hidden = np.maximum(z, 0.0)
    dy = 2.0 * (hidden @ params["W2"] + params["b2"] - Y) / X.shape[0]
    dz = (dy @ params["W2"].T) * (z > 0)
    return {"W1": X.T @ dz, "b1": dz.sum(0), "W2": hidden.T @ dy, "b2": dy.sum(0)}


# the single-example network of assignment 1: dr/dw = (6, 3, 2, 1), dL/dw = (-36, -18, -12, -6)
a1 = {"W1": np.array([[-1.0]]), "b1": np.array([4.0]),
      "W2": np.array([[3.0]]), "b2": np.array([1.0])}
a1_text = "assignment 1's network (W1=-1, b1=4, W2=3, b2=1)"
with student.autograd_off():
    what = f"output_grads_one([2.0], params) on {a1_text}"
    got = grads_dict(student.output_grads_one(np.array([2.0]), a1), what, a1)
    for name, want in [("W1", 6.0), ("b1", 3.0), ("W2", 2.0), ("b2", 1.0)]:
        assert np.allclose(got[name], want), (
            f"{what}: d r / d {name} must be {want}, got {got[name].tolist()}")
    what = f"lecture_loop_gradient on one example (x=2, y=10) of {a1_text}"
    got = grads_dict(student.lecture_loop_gradient(np.array([[2.0]]), np.array([[10.0]]), a1),
                     what, a1)
    for name, want in [("W1", -36.0), ("b1", -18.0), ("W2", -12.0), ("b2", -6.0)]:
        assert np.allclose(got[name], want), (
            f"{what}: dL/d{name} must be {want}, got {got[name].tolist()}")

    rng = np.random.default_rng(seed)
    cases = [(1, 3, 4), (int(rng.integers(15, 30)), 3, 5), (int(rng.integers(30, 50)), 1, 16)]
    for n, d, h in cases:
        X = rng.standard_normal((n, d))
        Y = rng.standard_normal((n, 1))
        params = {"W1": rng.standard_normal((d, h)), "b1": rng.standard_normal(h),
                  "W2": rng.standard_normal((h, 1)), "b2": rng.standard_normal(1)}
        case = f"a random batch of {n} (D={d}, H={h})"
        what = f"lecture_loop_gradient on {case}"
        loop = grads_dict(student.lecture_loop_gradient(X, Y, params), what, params)
        batch = batch_grads(X, Y, params)
        for name in KEYS:
            err = np.abs(loop[name] - batch[name])
            k = times(loop[name], batch[name])
            assert np.allclose(loop[name], batch[name], rtol=1e-9, atol=1e-12), (
                f"{what}: dL/d{name} differs from the batched gradient of the mean squared "
                f"error by up to {err.max():.3g} (largest entry {np.abs(batch[name]).max():.3g})"
                + (f"; it is {k} times that gradient: multiply the sum of "
                   "(t_i - R_i) dR_i/dw by -2/N once, at the end" if k else ""))

        x1 = X[0]

        def output(W1, b1, W2, b2, x1=x1):
            return float((np.maximum(np.matmul(x1, W1) + b1, 0.0) @ W2 + b2)[0])

        what = f"output_grads_one on the first example of {case}"
        one = grads_dict(student.output_grads_one(x1, params), what, params)
        gradients_ok(what, output, dict(params), one)
### END HIDDEN TESTS

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
# Checks: the iterator covers every index exactly once per epoch, in batches of the right sizes.
_batches = list(iterate_minibatches(10, 4))
assert [len(_b) for _b in _batches] == [4, 4, 2], (
    f"n=10, batch_size=4 should give batches of sizes [4, 4, 2], got {[len(_b) for _b in _batches]}"
)
assert np.array_equal(np.concatenate(_batches), np.arange(10)), (
    "without rng the order should be 0..n-1"
)
_rng = np.random.default_rng(0)
_epoch1 = list(iterate_minibatches(10, 3, _rng))
_epoch2 = list(iterate_minibatches(10, 3, _rng))
for _ep in (_epoch1, _epoch2):
    assert np.array_equal(np.sort(np.concatenate(_ep)), np.arange(10)), (
        "each epoch must use every index exactly once"
    )
    assert np.issubdtype(np.concatenate(_ep).dtype, np.integer), "indices should be integers"
assert not np.array_equal(np.concatenate(_epoch1), np.arange(10)), (
    "with an rng the order should be shuffled"
)
assert not np.array_equal(np.concatenate(_epoch1), np.concatenate(_epoch2)), (
    "two epochs with the same generator should be shuffled differently"
)
try:
    list(iterate_minibatches(10, 0))
except ValueError:
    pass
else:
    raise AssertionError("batch_size=0 should raise ValueError")
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
    assert got == want, (
        f"iterate_minibatches(10, 4, np.random.default_rng({gen_seed})) must cut "
        f"rng.permutation(10) into batches {want}, got {got}")
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
        assert np.array_equal(order, want), (
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
# Because the loss is a mean, the same $\eta$ works across a wide range of batch sizes.
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
# Checks: train_sgd steps once per minibatch, records the losses, leaves the caller's params alone.
import contextlib as _contextlib
import io as _io

_X, _Y = make_regression(64, seed=5)
_p = init_params(d_in=1, hidden=8, seed=5)
_p_before = {_k: _v.copy() for _k, _v in _p.items()}
with _contextlib.redirect_stderr(_io.StringIO()):
    _trained, _losses = train_sgd(
        _X, _Y, _p, lr=0.05, batch_size=16, epochs=2, seed=0, progress=False
    )
for _k in _p:
    assert np.array_equal(_p[_k], _p_before[_k]), f"train_sgd changed the caller's params[{_k!r}]"
assert len(_losses) == 8, f"64 examples, batch 16, 2 epochs: expected 8 losses, got {len(_losses)}"
_first = next(iterate_minibatches(64, 16, np.random.default_rng(0)))
_expected = mlp_loss_and_grads(_X[_first], _Y[_first], _p)[0]
assert np.isclose(_losses[0], _expected), (
    f"the first loss should be the loss of the first shuffled batch before any update: "
    f"expected {_expected:.6f}, got {_losses[0]:.6f}"
)
assert not all(np.array_equal(_trained[_k], _p[_k]) for _k in _p), "the parameters did not change"
### BEGIN HIDDEN TESTS
# The gradient function handed to train_sgd: an input of the test, so it runs in the kernel.
# The judge runs the same source for its own reference training run.
GRAD_FN = '''
def grad_fn(X, Y, p):
    z = X @ p["W1"] + p["b1"]
    hidden = np.maximum(z, 0.0)
    res = hidden @ p["W2"] + p["b2"] - Y
    dy = 2.0 * res / X.shape[0]
    dz = (dy @ p["W2"].T) * (z > 0)
    grads = {"W1": X.T @ dz, "b1": dz.sum(0), "W2": hidden.T @ dy, "b2": dy.sum(0)}
    return float(np.mean(res ** 2)), grads
'''
kernel_grad_fn = student.kernel(GRAD_FN)
reference_env = {"np": np}
exec(GRAD_FN, reference_env)
grad_fn = reference_env["grad_fn"]


def reference_sgd(X, Y, params, lr, batch_size, epochs, train_seed):
    rng = np.random.default_rng(train_seed)
    params = {name: value.copy() for name, value in params.items()}
    losses = []
    for _ in range(epochs):
        order = rng.permutation(X.shape[0])
        for start in range(0, X.shape[0], batch_size):
            idx = order[start:start + batch_size]
            loss, grads = grad_fn(X[idx], Y[idx], params)
            losses.append(loss)
            for name in params:
                params[name] = params[name] - lr * grads[name]
    return params, np.array(losses)


def run(what, X, Y, params, lr, batch_size, epochs, train_seed):
    """train_sgd in the kernel; (trained params, losses as a float array), checked for form."""
    out, after = student.train_sgd.inputs_after(X, Y, params, lr, batch_size, epochs,
                                                seed=train_seed, grad_fn=kernel_grad_fn,
                                                progress=False)
    for name in params:
        assert np.array_equal(after[2][name], params[name]), (
            f"{what}: train_sgd changed the caller's params[{name!r}]; work on copies")
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{what}: train_sgd must return a pair (params, losses), got {describe(out)}")
    trained, losses = out
    assert isinstance(trained, dict) and set(trained) == set(params), (
        f"{what}: the trained parameters must be a dict with the keys {sorted(params)}")
    for name in params:
        assert np.shape(trained[name]) == params[name].shape, (
            f"{what}: trained[{name!r}] must have shape {params[name].shape}, "
            f"got {np.shape(trained[name])}")
    losses = np.asarray(losses, dtype=float)
    assert losses.ndim == 1, f"{what}: losses must be a 1-d array, got shape {losses.shape}"
    return {name: np.asarray(value) for name, value in trained.items()}, losses


def regression(rng, n):
    x = rng.uniform(-1.0, 1.0, size=(n, 1))
    return x, np.sin(3.0 * x) + 0.5 * x + 0.1 * rng.standard_normal((n, 1))


def init(rng, hidden=32):
    return {"W1": rng.standard_normal((1, hidden)), "b1": rng.uniform(-1.0, 1.0, hidden),
            "W2": rng.standard_normal((hidden, 1)) / np.sqrt(hidden), "b2": np.zeros(1)}


with student.autograd_off():
    # the stated run: 512 points, lr 0.05, batch 32, 100 epochs, fixed data and seeds
    X, Y = regression(np.random.default_rng(11), 512)
    params = init(np.random.default_rng(12))
    what = "train_sgd on 512 points, lr=0.05, batch_size=32, epochs=100, seed=3"
    trained, losses = run(what, X, Y, params, 0.05, 32, 100, 3)
    assert losses.shape == (1600,), (
        f"{what}: want 1600 losses (16 steps per epoch), got {losses.size}")
    first = [0.7228103524279006, 0.2882562862345187, 0.13424018008904515]
    assert np.allclose(losses[:3], first, rtol=1e-9), (
        f"{what}: the first three minibatch losses must be {np.round(first, 6).tolist()}, "
        f"got {np.round(losses[:3], 6).tolist()}; record each batch's loss before its update, "
        "and take the batches from iterate_minibatches(N, batch_size, rng) with "
        "rng = np.random.default_rng(seed)")
    _, want_losses = reference_sgd(X, Y, params, 0.05, 32, 100, 3)
    off = np.flatnonzero(~np.isclose(losses, want_losses, rtol=1e-6))
    if off.size:
        k = int(off[0])
        raise AssertionError(
            f"{what}: the losses follow plain SGD up to step {k} (step {k % 16} of epoch "
            f"{k // 16}, counting from 0), where the loss must be {want_losses[k]:.6g}, got "
            f"{losses[k]:.6g}; make one generator before the epochs and walk "
            "iterate_minibatches(N, batch_size, rng) with it in every epoch")
    # the stated target: full-data mean squared error below 0.02 (the noise floor is about 0.01)
    final = grad_fn(X, Y, trained)[0]
    assert final < 0.02, f"{what}: the full-data loss must end below 0.02, got {final:.5f}"
    assert abs(final - 0.012768829035779156) < 1e-8, (
        f"{what}: the full-data loss after training must be 0.0127688, got {final:.7f}")
    _, again = run(what + ", run twice", X, Y, params, 0.05, 32, 100, 3)
    assert np.array_equal(again, losses), (
        f"{what}: a second run with the same seed must give the same losses; "
        f"{int(np.sum(again != losses))} of {losses.size} differ")

    # random data and seeds, a batch size that does not divide N
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 600))
    batch_size = int(rng.integers(20, 120))
    while n % batch_size == 0:
        batch_size += 1
    X, Y = regression(rng, n)
    params = init(rng, int(rng.integers(8, 32)))
    train_seed = int(rng.integers(2**31))
    what = f"train_sgd on {n} points, lr=0.05, batch_size={batch_size}, epochs=3, seed={train_seed}"
    trained, losses = run(what, X, Y, params, 0.05, batch_size, 3, train_seed)
    want_params, want_losses = reference_sgd(X, Y, params, 0.05, batch_size, 3, train_seed)
    assert losses.size == want_losses.size, (
        f"{what}: want {want_losses.size} losses ({want_losses.size // 3} steps per epoch, "
        f"the last batch shorter), got {losses.size}")
    worst = int(np.argmax(np.abs(losses - want_losses)))
    assert np.allclose(losses, want_losses, rtol=1e-9), (
        f"{what}: loss of step {worst} must be {want_losses[worst]:.8g}, got {losses[worst]:.8g}")
    for name in params:
        assert np.allclose(trained[name], want_params[name], rtol=1e-9, atol=1e-12), (
            f"{what}: the trained {name} differs from 3 epochs of SGD steps "
            f"params[name] - lr * grads[name] (off by up to "
            f"{np.abs(trained[name] - want_params[name]).max():.3g})")

    # float32 parameters stay float32
    params32 = {name: value.astype(np.float32) for name, value in params.items()}
    what = f"train_sgd on {n} float32 points with float32 parameters, batch_size=64, epochs=2"
    trained, _ = run(what, X.astype(np.float32), Y.astype(np.float32), params32, 0.05, 64, 2, 0)
    for name in params:
        assert trained[name].dtype == np.float32, (
            f"{what}: trained[{name!r}] must stay float32, got {trained[name].dtype}")
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
# The minibatch losses jump around their mean:
# each one is measured on 32 examples only, and each step follows a noisy gradient.
# The next section measures that noise.
#
# ## 8. Gradient noise and the batch size
#
# Write $g_i$ for the gradient of example $i$'s loss,
# and $\bar g = \frac{1}{N} \sum_i g_i$ for the full-batch gradient.
# A minibatch gradient is the average $g_{\mathcal{B}} = \frac{1}{B} \sum_{i \in \mathcal{B}} g_i$.
# It is unbiased: its expectation is $\bar g$.
# If the $B$ examples were drawn independently,
# the variance of an average of $B$ independent terms would give
#
# $$\mathbb{E}\, \lVert g_{\mathcal{B}} - \bar g \rVert^2 = \frac{\sigma^2}{B}, \qquad
# \sigma^2 = \frac{1}{N} \sum_i \lVert g_i - \bar g \rVert^2 .$$
#
# Drawing without replacement from a finite set, as our iterator does,
# multiplies this by $\frac{N - B}{N - 1}$,
# which is close to 1 while $B \ll N$.
# We check the $1/B$ law on a fresh sample of 8192 points:
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
# ## 9. A backward pass costs about two forward passes
#
# The lecture counts multiply-adds.
# For a layer with weight matrix $W$,
# the forward pass does one multiply-add per weight and per example ($X W$).
# The backward pass does two: one for the weight gradient ($X^\top \bar P$)
# and one to send the gradient on to the layer below ($\bar P W^\top$).
# So a backward pass should take about twice as long as a forward pass,
# once the matrix products dominate the cost.
#
# We time a deeper, wider MLP (layer widths 512, 512, 512, 512, 16, batch 256)
# with the `affine_backward` you wrote.
# The two passes run alternately, so that both see the same load on the machine,
# and numpy's matrix library uses a single thread, so that we measure work rather than scheduling.
# The median of the ratios is printed;
# it is a measurement, not a test, and it wobbles from run to run.

# %%
rng_cost = np.random.default_rng(0)
widths = [512, 512, 512, 512, 16]
Ws = [rng_cost.standard_normal((a, b)) / np.sqrt(a) for a, b in zip(widths[:-1], widths[1:])]
biases = [np.zeros(b) for b in widths[1:]]
X_cost = rng_cost.standard_normal((256, widths[0]))


def deep_forward(X):
    """Forward pass of the deep MLP; returns the output and what the backward pass needs."""
    cache = []
    h = X
    for layer, (W, b) in enumerate(zip(Ws, biases)):
        z = h @ W + b
        cache.append((h, z))
        h = np.maximum(z, 0) if layer < len(Ws) - 1 else z
    return h, cache


def deep_backward(dout, cache):
    """Backward pass of the deep MLP: the gradient of every weight and bias."""
    grads = []
    d = dout
    for layer in reversed(range(len(Ws))):
        h, z = cache[layer]
        if layer < len(Ws) - 1:
            d = d * (z > 0)
        d, dW, db = affine_backward(d, h, Ws[layer])
        grads.append((dW, db))
    return grads


out_cost, cache_cost = deep_forward(X_cost)
dout_cost = rng_cost.standard_normal(out_cost.shape)
t_forward, t_backward = [], []
with threadpool_limits(1):
    for _ in range(10):
        t0 = time.perf_counter()
        deep_forward(X_cost)
        t1 = time.perf_counter()
        deep_backward(dout_cost, cache_cost)
        t2 = time.perf_counter()
        t_forward.append(t1 - t0)
        t_backward.append(t2 - t1)
ratio = np.median(np.array(t_backward) / np.array(t_forward))
macs_forward = X_cost.shape[0] * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
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
# ## Summary
#
# * A batch is a leading axis; the forward pass never mixes examples.
# * A parameter is shared by every example, so its gradient sums over the batch:
#   $\bar W = X^\top \bar P$ and $\bar b = \bar P$ summed over axis 0.
#   Inputs get one gradient row per example and no sum.
# * With a mean loss, $1/N$ enters once, at the top of the backward pass;
#   the lecture's $-2/N$ is that factor times the derivative of $(t - R)^2$.
# * The per-example loop and the batched code compute the same gradient;
#   the batched one is about two orders of magnitude faster.
# * An epoch visits every example once, in shuffled minibatches;
#   minibatch SGD fits our curve in a fraction of a second.
# * The variance of a minibatch gradient falls like $1/B$.
# * A backward pass costs about two forward passes.
