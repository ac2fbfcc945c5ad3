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
# # Assignment 5: skip connections and irregular graphs
#
# Until now most of our graphs were chains: each value fed exactly one later value.
# Real networks are not chains.
# A skip connection sends its input both into a layer and around it.
# A shared weight enters the computation in two places.
# A program whose value is used twice *fans out*: one node feeds two consumers.
#
# One rule covers all three cases.
# Backpropagation visits the nodes in reverse topological order;
# each node adds up the messages it receives from the nodes that consumed its value,
# and then sends one message to each of its own inputs.
# Nothing else changes.
#
# We then ask why a deep plain network fails to train where a residual one succeeds,
# predict how fast its gradient shrinks, and measure it;
# and we end with a program whose graph depends on its input.
#
# <!-- points table: written by `autograder tables` from the exercises -->
# | # | exercise | graded parts | autograded | written | points |
# |---|---|---|---|---|---|
# | 1 | the gradient of the skip block | one | 3 | - | 3 |
# | 2 | the gradient of a shared weight | one | 2 | - | 2 |
# | 3 | the backward pass of the program, by hand | one | 3 | - | 3 |
# | 4 | the program as a minigrad graph | one | 2 | - | 2 |
# | 5 | the per-sample training loop | one | 2 | - | 2 |
# | 6 | a residual block as a module | one | 2 | - | 2 |
# | 7 | per-layer gradient norms | one | 2 | - | 2 |
# | 8 | why the plain network fails, in writing | written answer | 0 | 3 | 3 |
# | 9 | predict the per-layer factor | one | 2 | - | 2 |
# | 10 | measure the per-layer factor | one | 1 | - | 1 |
# | 11 | a loop that decides when to stop | one | 2 | - | 2 |
# | | **total** | 10 graded cells, 1 written | **21** | **3** | **24** |
# <!-- end of points table -->
#
# Exercises 1, 2 and 3 ask for gradients by hand, with numpy.
# The grader runs them with minigrad's autograd switched off,
# so a solution that calls `.backward()` there earns no points;
# their visible tests switch it off too, so you meet the same error here first.
# Their gradients keep the dtype of the inputs: float32 in, float32 out.
# Exercises 4 to 7, 10 and 11 use the engine;
# exercise 8 is a written answer, graded by hand, and exercise 9 a numerical prediction.
#
# Every exercise has a cell of visible tests right below it.
# When a gradient is wrong, the checker says which input and which entry are off,
# and what the likely mistake is.
#
# Notation is that of the [notation sheet](../a2_vectorized/a2_vectorized.ipynb#Notation):
# vectors are rows, a layer computes `x @ W + b` with `W` of shape (inputs, outputs),
# as `mg.nn.Linear` stores it,
# and $\bar v = \partial L / \partial v$ has the shape of $v$.

# %% nbgrader={"grade": false, "grade_id": "a5-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import traceback

from IPython.display import display
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import trange

import minigrad as mg
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
from minigrad.gradcheck import check_gradients, gradcheck

np.set_printoptions(precision=4, suppress=True)


def attempt(what, answer, *args, **kwargs):
    """Call an answer from a test cell; its usual failures become one line saying what to do."""
    try:
        return answer(*args, **kwargs)
    except NotImplementedError as exc:
        stub = traceback.extract_tb(exc.__traceback__)[-1].name
        raise AssertionError(f"{what}: {stub} still raises NotImplementedError; write it and "
                             "run its cell again") from None
    except AutogradDisabledError as exc:
        raise AssertionError(f"{what}: {exc}") from None
    except ValueError as exc:  # mostly numpy's shape errors
        ours = [f for f in traceback.extract_tb(exc.__traceback__)
                if "site-packages" not in f.filename and "minigrad" not in f.filename]
        where = f" at `{ours[-1].line}`" if ours and ours[-1].line else ""
        hint = ("; write down the shape of every product (np.outer makes an outer product)"
                if "shape" in str(exc) or "dimension" in str(exc) else "")
        raise AssertionError(f"{what} raised ValueError{where}: {exc}{hint}") from None

# %% [markdown]
# ## 1. Backpropagation as message passing
#
# Write the computation as a graph whose nodes are values and whose edges say
# "this value was computed from that one".
# Call the values a node was computed from its *inputs*,
# and the nodes computed from it its *consumers*.
# For a scalar loss $L$ write $\bar v = \partial L / \partial v$ for the error signal of node $v$.
#
# The multivariable chain rule says that $L$ depends on $v$ only through $v$'s consumers, so
#
# $$
# \bar v = \sum_{c \in \mathrm{consumers}(v)} \bar c\, \frac{\partial c}{\partial v} ,
# $$
#
# a row vector times a Jacobian, one term per consumer.
# Read the right-hand side as a conversation.
# Each consumer $c$ knows its own error signal $\bar c$
# and its local Jacobian $\partial c / \partial v$,
# so it can compute the term $\bar c\, \partial c / \partial v$ and *send* it to $v$.
# Node $v$ does not need to know anything else about the graph:
# it waits until all its consumers have reported, adds the messages, and has $\bar v$.
# Then it plays the consumer's role for its own inputs.
#
# Three consequences matter for this assignment.
#
# * Order. A node may only send once all its messages have arrived,
#   so we visit nodes in reverse topological order.
# * Fan-out means addition. A value with two consumers receives two messages and sums them.
#   That is the whole story for skip connections, shared weights and values used twice.
# * Locality. Each kind of node only needs its own transfer rule:
#   $c = v W$ sends $\bar c\, W^\top$, an elementwise map $c = g(v)$ sends $\bar c \odot g'(v)$,
#   a sum sends $\bar c$ to every input.
#
# The lecture notes (Pingali) use column vectors: they write $W x$
# and the transfer rule $v_\text{in} = J_f\, v_\text{out}$ with $J_f = W^\top$ for a linear map.
# Their $W$ is the transpose of ours and their $J_f$ is our Jacobian transposed;
# the messages are the same numbers.
#
# The picture below is a minigrad graph for $y = \mathrm{relu}(x W_1) W_2 + x$
# followed by $L = \sum_i y_i^2$,
# drawn after `backward()`, so every node shows its value and the error signal it collected.
# Follow the input $x$: it has two outgoing edges,
# one into the matrix product and one into the final addition.
# Its gradient is therefore the sum of two messages.
# The same happens lower down, where $y$ enters the product $y \cdot y$ twice:
# each edge brings back $y$, and the node adds them to $2y$.

# %%
rng_demo = np.random.default_rng(0)
x_demo = mg.Tensor(rng_demo.normal(size=2), requires_grad=True, name="x")
W1_demo = mg.Tensor(rng_demo.normal(size=(2, 2)), requires_grad=True, name="W1")
W2_demo = mg.Tensor(rng_demo.normal(size=(2, 2)), requires_grad=True, name="W2")
z_demo = x_demo @ W1_demo
a_demo = z_demo.relu()
u_demo = a_demo @ W2_demo
y_demo = u_demo + x_demo
loss_demo = (y_demo * y_demo).sum()
for t, label in [(z_demo, "z"), (a_demo, "a"), (u_demo, "a W2"), (y_demo, "y"), (loss_demo, "L")]:
    t.name = label  # labels for the drawing
loss_demo.backward()
mg.viz.draw_graph(loss_demo, rankdir="TB")

# %% [markdown]
# minigrad keeps the error signal of every node of the last backward pass in `.grad`,
# so we can read the messages off.
# The edge from $x$ into the final addition carries $\bar y$ unchanged;
# the edge into the matrix product carries the rest of $\bar x$.
# Exercise 1 computes that second message by hand.

# %%
print("error signal of y (message along the skip edge):", y_demo.grad)
print("error signal of x (sum of both messages):       ", x_demo.grad)
print("message that came through the two layers:       ", x_demo.grad - y_demo.grad)

# %% [markdown]
# ## 2. A skip connection
#
# The block we study is
#
# $$z = x W_1, \qquad a = \mathrm{relu}(z), \qquad y = a W_2 + x ,$$
#
# with a row $x \in \mathbb{R}^{1 \times d}$, $W_1 \in \mathbb{R}^{d \times K}$
# and $W_2 \in \mathbb{R}^{K \times d}$.
# These are the shapes `mg.nn.Linear` uses, so in section 5 the block's `fc1.W` is this $W_1$
# and `fc2.W` is this $W_2$ (without the biases).
# The last term is the skip connection: $x$ is added to the output unchanged.
# We get the error signal $\bar y$ (shape $1 \times d$) from whatever comes after the block.
# In code, $x$ and $\bar y$ (`dy`) are 1-d arrays of length $d$, and `x @ W1` is the same product.

# %%
def skip_block_forward(x, W1, W2):
    """y = relu(x W1) W2 + x for a single row vector x."""
    return np.maximum(x @ W1, 0.0) @ W2 + x


# %% [markdown]
# ### Exercise 1 (3 points): the gradient of the skip block
#
# Derive $\bar x$, $\bar W_1$ and $\bar W_2$ from the forward pass above,
# walking backwards from $y$ with the three transfer rules of section 1,
# then write `skip_block_backward(x, W1, W2, dy)`.
# Write each product with its shapes first:
# $\bar W_1$ must come out $d \times K$ and $\bar W_2$ must come out $K \times d$.
# Mind which nodes have two consumers.
# Never build the relu's Jacobian as a matrix:
# it is diagonal, so multiplying by it is an elementwise product.
#
# The function gets the inputs of the block
# and the upstream error signal $\bar y = \partial L / \partial y$ (`dy`, shape `(d,)`),
# and returns the tuple `(dx, dW1, dW2)`
# of $\partial L / \partial x$, $\partial L / \partial W_1$ and $\partial L / \partial W_2$,
# each with the shape and dtype of the matching input.
# Use numpy only: the tests and the grader switch minigrad's autograd off for this exercise.
# The worked derivation is below the test cell; try it first.

# %% nbgrader={"grade": false, "grade_id": "a5-skip-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def skip_block_backward(x, W1, W2, dy):
    """Gradients of y = relu(x W1) W2 + x given dy = dL/dy.

    x: (d,), W1: (d, K), W2: (K, d), dy: (d,).
    Returns (dx, dW1, dW2) with the shapes of x, W1, W2.
    """
    ### BEGIN SOLUTION
    z = x @ W1
    a = np.maximum(z, 0)
    dW2 = np.outer(a, dy)
    dz = (dy @ W2.T) * (z > 0)
    dW1 = np.outer(x, dz)
    dx = dz @ W1.T + dy
    return dx, dW1, dW2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-skip-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks that skip_block_backward returns dL/dx, dL/dW1, dL/dW2, including the skip path's dy,
# with their inputs' shapes and dtype. Autograd is off here, as in grading.
rng = np.random.default_rng(5)
x = rng.normal(size=4)
W1 = rng.normal(size=(4, 6))
W2 = rng.normal(size=(6, 4))
names = ("dx", "dW1", "dW2")
call = "skip_block_backward with d = 4, K = 6"

with autograd_off():
    grads = attempt(call, skip_block_backward, x, W1, W2, rng.normal(size=4))
    assert isinstance(grads, tuple) and len(grads) == 3, (
        f"{call} must return the tuple (dx, dW1, dW2), got {type(grads).__name__}")
    for name, got, like in zip(names, grads, (x, W1, W2)):
        expect_shape(got, like.shape, f"{call}: {name}")

    # With W2 = 0 nothing flows through the layers: only the skip path is left, so dx = dy.
    dy = rng.normal(size=4)
    dx_only_skip = skip_block_backward(x, W1, np.zeros_like(W2), dy)[0]
    expect_close(dx_only_skip, dy, f"{call} and W2 = 0: dx",
                 hint="With W2 = 0 the only path from x to y is the skip connection, so dx "
                      "must equal dy. Did you forget to add dy for the skip path?")

    check_gradients(
        skip_block_forward,
        {"x": x, "W1": W1, "W2": W2},
        lambda dout: skip_block_backward(x, W1, W2, dout),
    ).assert_ok()

    # float32 inputs give float32 gradients.
    x32, W1_32, W2_32 = (a.astype(np.float32) for a in (x, W1, W2))
    grads32 = skip_block_backward(x32, W1_32, W2_32, np.ones(4, dtype=np.float32))
    for name, got in zip(names, grads32):
        expect_dtype(got, np.float32, f"{call} and float32 inputs: {name}")
print("skip_block_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
def skip_forward(x, W1, W2):
    return np.maximum(x @ W1, 0.0) @ W2 + x


names = ("dx", "dW1", "dW2")
with student.autograd_off():
    x = np.array([1.0, -2.0, 0.5])
    W1 = np.array([[1.0, -1.0, 0.5], [0.5, -1.0, 0.0], [2.0, 0.0, -3.0]])
    W2 = np.array([[1.0, 0.0, 0.5], [-1.0, 2.0, 1.0], [2.0, 1.0, -1.0]])
    dy = np.array([1.0, 0.5, -1.0])
    call = "skip_block_backward at x = [1, -2, 0.5], dy = [1, 0.5, -1] with 3x3 weights"
    dx, dW1, dW2 = arrays(student.skip_block_backward(x, W1, W2, dy), call, names)
    for name, got in zip(names, (dx, dW1, dW2)):
        expect_shape(got, (3,) if name == "dx" else (3, 3), f"{call}: {name}")
    want_dx = np.array([2.5, 1.75, 0.0])
    hint = (": that is dz W1^T alone, add dy for the skip path"
            if np.allclose(dx, want_dx - dy, rtol=0, atol=1e-9) else "")
    assert np.allclose(dx, want_dx, rtol=0, atol=1e-12), (
        f"{call}: dx must be [2.5, 1.75, 0], got {show(dx)}{hint}")
    want_dW1 = np.array([[0.5, -1.0, 0.0], [-1.0, 2.0, 0.0], [0.25, -0.5, 0.0]])
    want_dW2 = np.array([[1.0, 0.5, -1.0], [1.0, 0.5, -1.0], [0.0, 0.0, 0.0]])
    for name, got, want in (("dW1", dW1, want_dW1), ("dW2", dW2, want_dW2)):
        assert np.allclose(got, want, rtol=0, atol=1e-12), (
            f"{call}: {name} must be {want.tolist()}, got {show(got)} ({worst(got, want)})")

    rng = np.random.default_rng(seed)
    for d, K, dt in [(5, 7, np.float64), (8, 3, np.float64), (4, 6, np.float32)]:
        while True:  # keep every pre-activation away from relu's kink at 0
            x = rng.normal(size=d).astype(dt)
            W1 = rng.normal(size=(d, K)).astype(dt)
            if np.min(np.abs(x @ W1)) > 0.1:
                break
        W2 = rng.normal(size=(K, d)).astype(dt)
        dy = rng.normal(size=d).astype(dt)
        call = f"skip_block_backward with d = {d}, K = {K} and {np.dtype(dt).name} inputs"
        out = arrays(student.skip_block_backward(x, W1, W2, dy), call, names)
        for name, got, like in zip(names, out, (x, W1, W2)):
            expect_shape(got, like.shape, f"{call}: {name}")
            expect_dtype(got, dt, f"{call}: {name}")
        gradients_ok(call, skip_forward, {"x": x, "W1": W1, "W2": W2},
                     lambda dout, x=x, W1=W1, W2=W2: student.skip_block_backward(x, W1, W2, dout),
                     seed=seed)
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# Walk backwards from $y = a W_2 + x$, writing $m = \mathbb{1}[z > 0]$ for the relu's mask.
#
# * $y$ is a sum of two terms, so both receive $\bar y$ unchanged.
# * $a W_2$ is linear in $W_2$ and in $a$:
#   $\bar W_2 = a^\top \bar y$ ($K \times 1$ times $1 \times d$, an outer product)
#   and $\bar a = \bar y\, W_2^\top$ ($1 \times K$).
# * The relu is elementwise: $\bar z = \bar a \odot m = (\bar y\, W_2^\top) \odot m$.
# * $z = x W_1$ gives $\bar W_1 = x^\top \bar z$ ($d \times K$) and the message $\bar z\, W_1^\top$ for $x$.
# * $x$ has two consumers, the product $x W_1$ and the final sum. It adds both messages:
#
# $$\bar x = \big((\bar y\, W_2^\top) \odot m\big)\, W_1^\top + \bar y .$$
#
# In numpy: `dW2 = np.outer(a, dy)`, `dz = (dy @ W2.T) * (z > 0)`,
# `dW1 = np.outer(x, dz)`, `dx = dz @ W1.T + dy`.
#
# </details>
#
# Without the skip connection only the first term of $\bar x$ would remain.
# The second term is the reason skip connections help deep networks:
# whatever happens inside the block, $\bar y$ reaches $x$ untouched.

# %% [markdown]
# ## 3. Weight sharing
#
# Now let one square matrix $W \in \mathbb{R}^{d \times d}$ play both roles:
#
# $$z = x W, \qquad a = \mathrm{relu}(z), \qquad y = a W .$$
#
# The graph has a single leaf $W$ with two consumers, the product $x W$ and the product $a W$,
# so by the message-passing rule $\bar W$ is the sum of two messages.
# A useful way to find them is to give the two uses different names,
# $z = x W_b$ and $y = a W_a$,
# compute the two gradients as if the weights were independent, and then add them.
# The lecture's "small tweak to handle weight sharing" is exactly this sum.

# %%
def shared_weight_forward(x, W):
    """y = relu(x W) W: the same matrix W is used twice."""
    return np.maximum(x @ W, 0.0) @ W


# %% [markdown]
# ### Exercise 2 (2 points): the gradient of a shared weight
#
# Derive $\bar x$ and $\bar W$ for $y = \mathrm{relu}(x W)\, W$
# with the rules of section 1 and the two names $W_a$, $W_b$ (shapes: $x$ is $1 \times d$, $W$ is $d \times d$),
# then write `shared_weight_backward(x, W, dy)` returning `(dx, dW)`
# for the upstream $\bar y = \partial L / \partial y$ (`dy`),
# with the shapes and dtype of `x` and `W`.
# Numpy only: autograd is switched off in the tests and in grading.
# The worked derivation is below the test cell.

# %% nbgrader={"grade": false, "grade_id": "a5-shared-weight", "locked": false, "schema_version": 3, "solution": true, "task": false}
def shared_weight_backward(x, W, dy):
    """Gradients of y = relu(x W) W given dy = dL/dy.

    x: (d,), W: (d, d), dy: (d,). Returns (dx, dW); dW adds both uses of W.
    """
    ### BEGIN SOLUTION
    z = x @ W
    a = np.maximum(z, 0)
    dW = np.outer(a, dy)
    dz = (dy @ W.T) * (z > 0)
    dW = dW + np.outer(x, dz)
    dx = dz @ W.T
    return dx, dW
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-shared-weight-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that shared_weight_backward sums the gradient contributions of both uses of W,
# with its inputs' shapes and dtype. Autograd is off here, as in grading.
rng = np.random.default_rng(6)
x = rng.normal(size=5)
W = rng.normal(size=(5, 5))
names = ("dx", "dW")
call = "shared_weight_backward with d = 5"

with autograd_off():
    grads = attempt(call, shared_weight_backward, x, W, rng.normal(size=5))
    assert isinstance(grads, tuple) and len(grads) == 2, (
        f"{call} must return the tuple (dx, dW), got {type(grads).__name__}")
    for name, got, like in zip(names, grads, (x, W)):
        expect_shape(got, like.shape, f"{call}: {name}")

    # `shared` gives the checker f with one argument per use of W (the outer one first),
    # so that it can tell a dW holding only one use's contribution from another mistake.
    check_gradients(
        shared_weight_forward, {"x": x, "W": W}, lambda dout: shared_weight_backward(x, W, dout),
        name="shared_weight_backward",
        shared={"W": lambda x, W_out, W_in: np.maximum(x @ W_in, 0.0) @ W_out},
    ).assert_ok()

    # float32 inputs give float32 gradients.
    grads32 = shared_weight_backward(x.astype(np.float32), W.astype(np.float32),
                                     np.ones(5, dtype=np.float32))
    for name, got in zip(names, grads32):
        expect_dtype(got, np.float32, f"{call} and float32 inputs: {name}")
print("shared_weight_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
def shared_forward(x, W):
    return np.maximum(x @ W, 0.0) @ W


names = ("dx", "dW")
with student.autograd_off():
    x = np.array([0.5, -1.0])
    W = np.array([[2.0, -1.0], [-1.0, 1.5]])
    dy = np.array([1.0, -2.0])
    call = "shared_weight_backward at x = [0.5, -1], W = [[2, -1], [-1, 1.5]], dy = [1, -2]"
    dx, dW = arrays(student.shared_weight_backward(x, W, dy), call, names)
    expect_shape(dx, (2,), f"{call}: dx")
    expect_shape(dW, (2, 2), f"{call}: dW")
    assert np.allclose(dx, [8.0, -4.0], rtol=0, atol=1e-12), (
        f"{call}: dx must be [8, -4], got {show(dx)}")
    z = x @ W
    outer_use = np.outer(np.maximum(z, 0.0), dy)  # the message from y = a W
    inner_use = np.outer(x, (dy @ W.T) * (z > 0))  # the message from z = x W
    hint = ""
    if np.allclose(dW, inner_use, rtol=0, atol=1e-9):
        hint = ": that is only the message from z = x W; add the one from y = a W"
    elif np.allclose(dW, outer_use, rtol=0, atol=1e-9):
        hint = ": that is only the message from y = a W; add the one from z = x W"
    assert np.allclose(dW, [[4.0, -4.0], [-4.0, 0.0]], rtol=0, atol=1e-12), (
        f"{call}: dW must be [[4, -4], [-4, 0]], the sum of the messages from both uses of W, "
        f"got {show(dW)}{hint}")

    rng = np.random.default_rng(seed)
    for d, dt in [(3, np.float64), (7, np.float64), (6, np.float32)]:
        while True:  # keep every pre-activation away from relu's kink at 0
            x = rng.normal(size=d).astype(dt)
            W = rng.normal(size=(d, d)).astype(dt)
            if np.min(np.abs(x @ W)) > 0.1:
                break
        dy = rng.normal(size=d).astype(dt)
        call = f"shared_weight_backward with d = {d} and {np.dtype(dt).name} inputs"
        out = arrays(student.shared_weight_backward(x, W, dy), call, names)
        for name, got, like in zip(names, out, (x, W)):
            expect_shape(got, like.shape, f"{call}: {name}")
            expect_dtype(got, dt, f"{call}: {name}")
        gradients_ok(call, shared_forward, {"x": x, "W": W},
                     lambda dout, x=x, W=W: student.shared_weight_backward(x, W, dout),
                     seed=seed)
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked derivation</summary>
#
# From $y = a W_a$: the message $a^\top \bar y$ for $W_a$ and $\bar a = \bar y\, W^\top$.
# Through the relu: $\bar z = (\bar y\, W^\top) \odot \mathbb{1}[z > 0]$.
# From $z = x W_b$: the message $x^\top \bar z$ for $W_b$ and $\bar x = \bar z\, W^\top$.
# $W$ is both, so it adds the two messages:
#
# $$
# \bar W = \underbrace{a^\top \bar y}_{\text{from } y = a W}
#   \; + \; \underbrace{x^\top \bar z}_{\text{from } z = x W} .
# $$
#
# A common bug is to write the gradient of the second use over the first instead of adding to it.
#
# </details>

# %% [markdown]
# minigrad does the same sum for us.
# When a leaf tensor is used twice, `backward()` accumulates both messages into its `.grad`.
# Here we check that against our hand-written answer.

# %%
rng = np.random.default_rng(13)
x_np, W_np, dy_np = rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)
W_t = mg.Tensor(W_np, requires_grad=True)
y_t = (mg.Tensor(x_np) @ W_t).relu() @ W_t
y_t.backward(dy_np)
print("autograd dW:\n", W_t.grad)
print("by hand dW:\n", shared_weight_backward(x_np, W_np, dy_np)[1])

# %% [markdown]
# ## 4. A parameterized program that fans out
#
# The lecture describes a neural network as a *parameterized program*:
# a fixed program built from base functions $f_i$,
# with weights that gradient descent is allowed to change.
# The running example maps two inputs $p$ and $q$ to one number:
#
# ```
# A = W0 * p
# B = f0(A, q)
# C = W1 * B
# D = W2 * B
# E = f1(C)
# F = f2(D)
# R = f3(E, F)
# ```
#
# > **Errata to the notes.**
# > The first listing of this program on the slides assigns `F` twice (`F = f1(C)`, `F = f2(D)`);
# > the first line is `E = f1(C)`, as the later listing has it.
# > The slides write a sample's square error as $(t_i\ R(w; p_i, q_i))^2$;
# > it is $(t_i - R(w; p_i, q_i))^2$, as in their gradient formula.
#
# We use the vector version of it, in our row convention:
# $A = p W_0$, $C = B W_1$, $D = B W_2$
# with rows $p \in \mathbb{R}^{1 \times 2}$, $q \in \mathbb{R}^{1 \times 3}$,
# $W_0 \in \mathbb{R}^{2 \times 3}$, $W_1, W_2 \in \mathbb{R}^{3 \times 2}$
# (the notes write `W0 * P` with a column $P$: their matrix is our $W_0^\top$, and so on),
# and the base functions
#
# $$
# f_0(A, q) = \tanh(A + q), \quad f_1(C) = \sigma(C), \quad f_2(D) = \tanh(D),
# \quad f_3(E, F) = \textstyle\sum_k E_k F_k ,
# $$
#
# where $\sigma$ is the logistic sigmoid and $f_0, f_1, f_2$ act elementwise.
# The output $R$ is a scalar.
#
# The graph is not a chain.
# $B$ has two consumers, $C$ and $D$, and the two branches meet again in $f_3$.
# So there are two paths from $W_0$ to $R$,
# and $\partial R / \partial W_0$ is a sum over both paths,
# while $W_1$ and $W_2$ each have a single path.
# Summing over paths by enumeration would cost time exponential in the number of such diamonds;
# the backward sweep collects the sum at $B$ once and passes it on.
#
# "Branch" here means fan-out, not an `if`:
# every line of the program runs for every input, and the graph has the same shape each time.
# Section 7 has a program with real control flow, a loop whose test reads the data,
# and its graph depends on the input.
#
# The forward pass stores every intermediate value, as the lecture says it must:
# the backward pass needs them.
# The derivatives we need are $\sigma'(c) = \sigma(c)(1 - \sigma(c))$
# and $\tanh'(u) = 1 - \tanh(u)^2$,
# both of which can be written with the stored outputs $E$, $F$ and $B$.

# %%
def sigmoid_np(u):
    return 1.0 / (1.0 + np.exp(-u))


def program_forward(W0, W1, W2, p, q):
    """Run the program on one sample; return every intermediate value by name."""
    A = p @ W0
    B = np.tanh(A + q)
    C = B @ W1
    D = B @ W2
    E = sigmoid_np(C)
    F = np.tanh(D)
    R = np.sum(E * F)
    return {"A": A, "B": B, "C": C, "D": D, "E": E, "F": F, "R": R}


def program_value(W0, W1, W2, p, q):
    """The output R of the program for one sample."""
    return program_forward(W0, W1, W2, p, q)["R"]


# %% [markdown]
# ### Exercise 3 (3 points): the backward pass of the program, by hand
#
# Write `program_backward(W0, W1, W2, p, q)` returning the tuple
# $(\partial R / \partial W_0, \partial R / \partial W_1, \partial R / \partial W_2)$
# for one sample, with the shapes and dtype of the weights.
# Call `program_forward` for the stored values, start from $\bar R = 1$,
# and visit $F, E, D, C, B, A$ in that order (a reverse topological order).
# At $B$ two messages arrive, one from $C$ and one from $D$.
# Numpy only: autograd is switched off in the tests and in grading.

# %% nbgrader={"grade": false, "grade_id": "a5-program-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def program_backward(W0, W1, W2, p, q):
    """Gradients of the program output R with respect to W0, W1, W2 for one sample (p, q).

    Returns (dW0, dW1, dW2) with the shapes of W0, W1, W2.
    """
    ### BEGIN SOLUTION
    v = program_forward(W0, W1, W2, p, q)
    dE = v["F"]
    dF = v["E"]
    dD = dF * (1 - v["F"] ** 2)
    dC = dE * v["E"] * (1 - v["E"])
    dW1 = np.outer(v["B"], dC)
    dW2 = np.outer(v["B"], dD)
    dB = dC @ W1.T + dD @ W2.T
    dA = dB * (1 - v["B"] ** 2)
    dW0 = np.outer(p, dA)
    return dW0, dW1, dW2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-program-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks program_backward against finite differences of program_value, and that the gradients
# keep the weights' shapes and dtype. Autograd is off here, as in grading.
rng = np.random.default_rng(7)
W0, W1, W2 = rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))
p, q = rng.normal(size=2), rng.normal(size=3)
names = ("dW0", "dW1", "dW2")
call = "program_backward with random weights"

with autograd_off():
    grads = attempt(call, program_backward, W0, W1, W2, p, q)
    assert isinstance(grads, tuple) and len(grads) == 3, (
        f"{call} must return the tuple (dW0, dW1, dW2), got {type(grads).__name__}")
    for name, got, like in zip(names, grads, (W0, W1, W2)):
        expect_shape(got, like.shape, f"{call}: {name}")

    check_gradients(
        lambda W0, W1, W2: program_value(W0, W1, W2, p, q),
        {"W0": W0, "W1": W1, "W2": W2},
        dict(zip(["W0", "W1", "W2"], grads)),
    ).assert_ok()

    # float32 weights and inputs give float32 gradients.
    grads32 = program_backward(*(a.astype(np.float32) for a in (W0, W1, W2, p, q)))
    for name, got in zip(names, grads32):
        expect_dtype(got, np.float32, f"{call} and float32 inputs: {name}")
print("program_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
names = ("dW0", "dW1", "dW2")
shapes = [(2, 3), (3, 2), (3, 2)]
with student.autograd_off():
    W0 = np.array([[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0]])
    W1 = np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, -1.0]])
    W2 = np.array([[-0.5, 1.5], [1.0, 0.0], [1.0, -2.0]])
    p = np.array([1.0, -0.5])
    q = np.array([0.0, 0.5, -1.0])
    call = "program_backward at p = [1, -0.5], q = [0, 0.5, -1] with small integer-and-half weights"
    out = arrays(student.program_backward(W0, W1, W2, p, q), call, names)
    for name, got, shape in zip(names, out, shapes):
        expect_shape(got, shape, f"{call}: {name}")
    wants = [
        [
            [-0.0950115846018866, 0.0890706848194328, 0.012070603308382973],
            [0.0475057923009433, -0.0445353424097164, -0.006035301654191486],
        ],
        [
            [-0.07148182476455349, 0.041918969836812876],
            [-0.08495554797395528, 0.04982034334909841],
            [0.09048185310809893, -0.053061125449866305],
        ],
        [
            [0.22007160706599457, 0.006147167371903875],
            [0.26155325543776115, 0.007305856758523593],
            [-0.27856713072723377, -0.007781098160372058],
        ],
    ]
    for name, got, want in zip(names, out, wants):
        assert np.allclose(got, want, rtol=1e-9, atol=1e-12), (
            f"{call}: {name} is off, {worst(got, want)}")

    rng = np.random.default_rng(seed)
    for dt in (np.float64, np.float64, np.float32):
        W0, W1, W2 = (rng.normal(size=s).astype(dt) for s in shapes)
        p = rng.normal(size=2).astype(dt)
        q = rng.normal(size=3).astype(dt)
        call = f"program_backward with random {np.dtype(dt).name} weights and inputs"
        out = arrays(student.program_backward(W0, W1, W2, p, q), call, names)
        for name, got, shape in zip(names, out, shapes):
            expect_shape(got, shape, f"{call}: {name}")
            expect_dtype(got, dt, f"{call}: {name}")
        gradients_ok(call, lambda W0, W1, W2, p=p, q=q: program_R_ref(W0, W1, W2, p, q),
                     {"W0": W0, "W1": W1, "W2": W2}, dict(zip(["W0", "W1", "W2"], out)))
### END HIDDEN TESTS

# %% [markdown]
# ### Exercise 4 (2 points): the program as a minigrad graph
#
# Write `program_R(W0, W1, W2, p, q)` that takes minigrad Tensors and returns the scalar Tensor $R$,
# built from Tensor operations only (`@`, `+`, `*`, `.tanh()`, `.sigmoid()`, `.sum()`),
# so that `R.backward()` fills `W0.grad`, `W1.grad` and `W2.grad`.
# The numbers must be those of `program_forward`.

# %% nbgrader={"grade": false, "grade_id": "a5-program-graph", "locked": false, "schema_version": 3, "solution": true, "task": false}
def program_R(W0, W1, W2, p, q):
    """The program R(p, q) as a minigrad graph: Tensors in, a 0-d Tensor R out."""
    ### BEGIN SOLUTION
    B = (p @ W0 + q).tanh()
    E = (B @ W1).sigmoid()
    F = (B @ W2).tanh()
    return (E * F).sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-program-graph-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that program_R computes the program's value as a differentiable minigrad graph.
rng = np.random.default_rng(8)
arrays = [rng.normal(size=(2, 3)), rng.normal(size=(3, 2)), rng.normal(size=(3, 2))]
p, q = rng.normal(size=2), rng.normal(size=3)
tensors = [mg.Tensor(a, requires_grad=True) for a in arrays]
R = attempt("program_R with random weights", program_R, *tensors, mg.Tensor(p), mg.Tensor(q))
assert isinstance(R, mg.Tensor), f"program_R must return a minigrad Tensor, got {type(R).__name__}"
assert R.shape == (), f"R must be a scalar (shape ()), got shape {R.shape}"
expected = program_value(*arrays, p, q)
assert np.isclose(R.data, expected), f"R = {R.data} but program_forward gives {expected}"
R.backward()
for name, t in zip(["W0", "W1", "W2"], tensors):
    assert t.grad is not None, (
        f"{name}.grad is None after R.backward(): build R from Tensor operations only"
    )
gradcheck(
    lambda W0, W1, W2: program_R(W0, W1, W2, mg.Tensor(p), mg.Tensor(q)), *tensors
).assert_ok()
print("program_R builds a correct graph")

### BEGIN HIDDEN TESTS
run = student.kernel('''
def run_program_R(program_R, W0, W1, W2, p, q, dout):
    """Build R from fresh Tensors; its shape and value, and (unless dout is None) the
    gradients after one and after a second R.backward(dout)."""
    Ws = [mg.Tensor(w, requires_grad=True) for w in (W0, W1, W2)]
    R = program_R(*Ws, mg.Tensor(p), mg.Tensor(q))
    if not isinstance(R, mg.Tensor):
        return type(R).__name__, None, None, None
    value = (tuple(np.shape(R.data)), np.array(R.data).ravel())
    if dout is None:
        return "Tensor", value, None, None
    R.backward(np.array(dout))
    first = [None if w.grad is None else np.array(w.grad) for w in Ws]
    R.backward(np.array(dout))
    second = [None if w.grad is None else np.array(w.grad) for w in Ws]
    return "Tensor", value, first, second
''')


def check_case(W0, W1, W2, p, q, case, want_value=None):
    """Value, gradients against finite differences, and accumulation of a second backward."""
    kind, value, _, _ = run(student.program_R, W0, W1, W2, p, q, None)
    assert kind == "Tensor", (
        f"program_R {case} must return a minigrad Tensor, got {kind}: "
        "build R from Tensor operations only")
    shape, data = value
    assert tuple(shape) == (), f"program_R {case}: R must be a scalar, got shape {tuple(shape)}"
    want = program_R_ref(W0, W1, W2, p, q) if want_value is None else want_value
    assert np.isclose(data[0], want, rtol=1e-12, atol=1e-12), (
        f"program_R {case}: R = {float(data[0])!r}, but the program's value is {want!r}")
    calls = []

    def analytic(dout):
        _, _, first, second = run(student.program_R, W0, W1, W2, p, q, float(dout))
        calls.append((first, second))
        missing = [f"W{i}" for i, g in enumerate(first) if g is None]
        assert not missing, (
            f"program_R {case}: {', '.join(missing)}.grad is None after R.backward(); "
            "build R from Tensor operations only, so that the graph reaches every weight")
        return {"W0": first[0], "W1": first[1], "W2": first[2]}

    gradients_ok(f"program_R {case}", lambda W0, W1, W2: program_R_ref(W0, W1, W2, p, q),
                 {"W0": W0, "W1": W1, "W2": W2}, analytic, seed=seed)
    first, second = calls[-1]
    for i, (g1, g2) in enumerate(zip(first, second)):
        assert np.allclose(g2, 2 * g1, rtol=1e-9, atol=1e-12), (
            f"program_R {case}: a second R.backward() on the same graph must add the same "
            f"gradient to W{i}.grad again (twice the first); W{i}.grad after it is off "
            f"{worst(g2, 2 * g1)}")


W0 = np.array([[0.5, 1.0, 0.0], [-1.0, 0.0, 2.0]])
W1 = np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, -1.0]])
W2 = np.array([[-0.5, 1.5], [1.0, 0.0], [1.0, -2.0]])
p = np.array([1.0, -0.5])
q = np.array([0.0, 0.5, -1.0])
check_case(W0, W1, W2, p, q, "at p = [1, -0.5], q = [0, 0.5, -1] with small integer-and-half "
           "weights", want_value=0.7931597716912473)

rng = np.random.default_rng(seed)
Ws = [rng.normal(size=s) for s in ((2, 3), (3, 2), (3, 2))]
check_case(*Ws, rng.normal(size=2), rng.normal(size=3), "with random weights and inputs")
### END HIDDEN TESTS

# %% [markdown]
# Here is the graph minigrad built for one sample, drawn after `backward()`.
# The node for $B$ (the output of the first `tanh`) has two outgoing edges, one into each branch;
# its gradient is the sum of the messages that came back along them.

# %%
rng = np.random.default_rng(3)
W_show = [
    mg.Tensor(rng.normal(size=shape), requires_grad=True, name=f"W{i}")
    for i, shape in enumerate([(2, 3), (3, 2), (3, 2)])
]
p_show = mg.Tensor(rng.normal(size=2), name="p")
q_show = mg.Tensor(rng.normal(size=3), name="q")
R_show = program_R(*W_show, p_show, q_show)
R_show.backward()
mg.viz.draw_graph(R_show, rankdir="TB")

# %% [markdown]
# ### Training the program: the lecture's loop
#
# We fit the weights to $N$ samples $(p_i, q_i, t_i)$ by minimising the mean squared error
#
# $$\mathrm{Loss}(W) = \frac{1}{N} \sum_{i=1}^N \big(t_i - R(W; p_i, q_i)\big)^2 ,
# \qquad
# \frac{\partial\, \mathrm{Loss}}{\partial W_j}
#   = -\frac{2}{N} \sum_{i=1}^N \big(t_i - R(W; p_i, q_i)\big)\,
#     \frac{\partial R}{\partial W_j}(W; p_i, q_i) .
# $$
#
# The lecture's loop computes this one sample at a time:
#
# ```
# for each epoch:
#     G = 0                                        (one accumulator per weight)
#     for each sample (p_i, q_i, t_i):
#         forward pass, backward pass
#         G += (t_i - r_i) * dR/dW                 (for every weight)
#     G *= -2 / N
#     W -= lr * G
# ```
#
# minigrad can do the accumulation for us.
# `R.backward(g)` with an upstream gradient `g` *adds* `g * dR/dW` to `W.grad`,
# and leaves keep accumulating until we reset them.
# So if we call `R.backward(t_i - r_i)` for every sample without resetting,
# `W.grad` ends the epoch holding exactly the accumulator $G$ before scaling.
#
# The data come from a "teacher": the same program with fixed weights, plus a little noise.

# %% nbgrader={"grade": false, "grade_id": "a5-program-data", "locked": true, "schema_version": 3, "solution": false, "task": false}
def make_program_data(n, seed):
    """Samples (ps, qs, ts) from the program with fixed teacher weights plus noise of std 0.01."""
    teacher = np.random.default_rng(2718)
    W0 = teacher.normal(size=(2, 3))
    W1 = teacher.normal(size=(3, 2))
    W2 = teacher.normal(size=(3, 2))
    rng = np.random.default_rng(seed)
    ps = rng.normal(size=(n, 2))
    qs = 0.5 * rng.normal(size=(n, 3))
    ts = np.array([program_value(W0, W1, W2, p, q) for p, q in zip(ps, qs)])
    return ps, qs, ts + 0.01 * rng.normal(size=n)


def init_program_weights(seed):
    """Small random starting weights (W0, W1, W2)."""
    rng = np.random.default_rng(seed)
    return (
        0.5 * rng.normal(size=(2, 3)),
        0.5 * rng.normal(size=(3, 2)),
        0.5 * rng.normal(size=(3, 2)),
    )


ps_train, qs_train, ts_train = make_program_data(64, seed=0)
print(ps_train.shape, qs_train.shape, ts_train.shape)

# %% [markdown]
# ### Exercise 5 (2 points): the per-sample training loop
#
# Write `train_program(weights, ps, qs, ts, lr, epochs, progress=True)`.
# `weights` is a tuple of three arrays `(W0, W1, W2)`; do not modify them, work on copies.
# `ps` and `qs` hold the samples' $p_i$ and $q_i$ as rows, and `ts` their targets $t_i$.
# Each epoch runs the lecture's loop once over all samples, in order,
# with `program_R` as the forward pass,
# then takes one gradient-descent step
# $W_j \leftarrow W_j - \mathrm{lr}\, \partial\, \mathrm{Loss} / \partial W_j$.
# Return `(new_weights, losses)`:
# `new_weights` a tuple of three numpy arrays,
# and `losses` a float array of shape `(epochs,)` whose entry `e` is the mean squared error
# measured during epoch `e`, that is, at the weights *before* that epoch's step.
# Show a `tqdm` progress bar over the epochs when `progress` is true
# (`trange(epochs, disable=not progress)` does it).
#
# Two things are graded besides the numbers.
# The method: one forward pass and one `R.backward(...)` per sample,
# as in the lecture's loop; the tests count the `backward()` calls,
# so one summed graph per epoch with a single `backward()` does not count.
# The reset: minigrad keeps adding to `.grad`,
# so set `W.grad = None` for every weight at the start of each epoch.
#
# `train_program` builds on your `program_R` from exercise 4.
# It is graded against what your own `program_R` computes,
# so a mistake there costs points in exercise 4 only,
# as long as `program_R` returns a Tensor that `backward()` works on.

# %% nbgrader={"grade": false, "grade_id": "a5-program-train", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_program(weights, ps, qs, ts, lr, epochs, progress=True):
    """Full-batch gradient descent on the program, accumulating per-sample gradients.

    Returns (new_weights, losses): a tuple of three arrays and an array of shape (epochs,).
    """
    ### BEGIN SOLUTION
    Ws = [mg.Tensor(np.array(w, dtype=float), requires_grad=True) for w in weights]
    n = len(ts)
    losses = np.zeros(epochs)
    for epoch in trange(epochs, disable=not progress, desc="epochs"):
        for w in Ws:
            w.grad = None
        squared = 0.0
        for p, q, t in zip(ps, qs, ts):
            R = program_R(*Ws, mg.Tensor(p), mg.Tensor(q))
            err = t - float(R.data)
            squared += err**2
            R.backward(np.array(err))
        losses[epoch] = squared / n
        for w in Ws:
            w.data = w.data - lr * (-2.0 / n) * w.grad
    return tuple(w.data.copy() for w in Ws), losses
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-program-train-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that train_program runs the lecture's loop (one backward() per sample and epoch),
# resets the gradients every epoch, takes the right steps and reports the losses.
start = init_program_weights(seed=1)
start_copy = [w.copy() for w in start]
ps_small, qs_small, ts_small = ps_train[:16], qs_train[:16], ts_train[:16]
call = "train_program on 16 samples with lr=0.3 for 2 epochs"

with calls_to("minigrad.Tensor.backward") as seen:
    out = attempt(call, train_program, start, ps_small, qs_small, ts_small, lr=0.3, epochs=2,
                  progress=False)
require("method", seen.count == 2 * 16, (
    f"{call} called backward() {seen.count} times; the exercise asks for the lecture's "
    "per-sample loop: one R.backward(t_i - r_i) per sample and epoch, 32 calls in all"))
for i, (before, after) in enumerate(zip(start_copy, start)):
    expect_unchanged(before, after, f"{call} (W{i} of weights)")
assert isinstance(out, tuple) and len(out) == 2 and len(out[0]) == 3, (
    f"{call} must return (new_weights, losses) with new_weights = (W0, W1, W2)")
new_weights, losses = out
expect_shape(losses, (2,), f"{call}: losses")
expect_dtype(losses, np.float64, f"{call}: losses")
for i, (got, like) in enumerate(zip(new_weights, start)):
    expect_shape(got, like.shape, f"{call}: W{i}")
    expect_dtype(got, np.float64, f"{call}: W{i}")


def loss_and_grads(weights):
    """The MSE of program_R over the samples and its gradients, from one summed graph."""
    Ws = [mg.Tensor(w, requires_grad=True) for w in weights]
    total = None
    for p, q, t in zip(ps_small, qs_small, ts_small):
        diff = program_R(*Ws, mg.Tensor(p), mg.Tensor(q)) - t
        total = diff * diff if total is None else total + diff * diff
    loss = total * (1.0 / len(ts_small))
    loss.backward()
    return float(loss.data), [w.grad for w in Ws]


# Each epoch is one step along the gradient of the mean squared error at that epoch's weights.
loss0, g0 = loss_and_grads(start)
after1 = [w - 0.3 * g for w, g in zip(start, g0)]
loss1, g1 = loss_and_grads(after1)
after2 = [w - 0.3 * g for w, g in zip(after1, g1)]
kept = [w - 0.3 * (a + b) for w, a, b in zip(after1, g0, g1)]  # epoch 1's gradients kept
require("reset", not all(np.allclose(got, k) for got, k in zip(new_weights, kept)), (
    f"{call}: the gradients of W0, W1, W2 in epoch 2 include epoch 1's: reset them "
    "(W.grad = None or zero_grad()) before each epoch's accumulation"))
expect_close(losses[0], loss0, f"{call}: losses[0]",
             hint="It is the MSE at the starting weights")
for i, (got, want) in enumerate(zip(new_weights, after2)):
    expect_close(got, want, f"{call}: W{i} after 2 epochs",
                 hint="Each epoch takes one step W <- W - lr * (-2/N) * sum_i (t_i - r_i) dR/dW, "
                      "summed over all N samples")
expect_close(losses, [loss0, loss1], f"{call}: losses",
             hint="Entry e is the MSE at the weights before epoch e's step")
print("train_program takes the right steps")

### BEGIN HIDDEN TESTS
def own_grads(Ws, ps, qs):
    """Each sample's R and (dR/dW0, dR/dW1, dR/dW2), by hand."""
    out = []
    for p, q in zip(ps, qs):
        B = np.tanh(p @ Ws[0] + q)
        E = 1.0 / (1.0 + np.exp(-(B @ Ws[1])))
        F = np.tanh(B @ Ws[2])
        dC = F * E * (1 - E)
        dD = E * (1 - F**2)
        dA = (dC @ Ws[1].T + dD @ Ws[2].T) * (1 - B**2)
        out.append((np.sum(E * F), [np.outer(p, dA), np.outer(B, dC), np.outer(B, dD)]))
    return out


per_sample = student.kernel('''
def per_sample(program_R, Ws, ps, qs):
    """Each sample's R and the gradients of R.backward() at the weights Ws, fresh Tensors."""
    out = []
    for p, q in zip(ps, qs):
        ts = [mg.Tensor(np.array(w), requires_grad=True) for w in Ws]
        R = program_R(*ts, mg.Tensor(np.array(p)), mg.Tensor(np.array(q)))
        R.backward()
        out.append((float(np.asarray(R.data).reshape(-1)[0]), [np.array(t.grad) for t in ts]))
    return out
''')


def their_grads(Ws, ps, qs):
    """Follow-through: each sample's R and dR/dW from the student's own program_R."""
    return per_sample(student.program_R, [np.asarray(w) for w in Ws], ps, qs)


def train_ref(weights, ps, qs, ts, lr, epochs, grads=own_grads, reset=True):
    """The lecture's loop: per-sample gradients accumulated, one step per epoch."""
    Ws = [np.array(w, dtype=float) for w in weights]
    G = [np.zeros_like(w) for w in Ws]
    losses = []
    for _ in range(epochs):
        if reset:
            G = [np.zeros_like(w) for w in Ws]
        squared = 0.0
        for (r, dR), t in zip(grads(Ws, ps, qs), ts):
            err = t - r
            squared += err**2
            G = [g + err * np.asarray(d) for g, d in zip(G, dR)]
        losses.append(squared / len(ts))
        Ws = [w - lr * (-2.0 / len(ts)) * g for w, g in zip(Ws, G)]
    return Ws, np.array(losses)


def make_case(rng):
    ps = rng.normal(size=(12, 2))
    qs = 0.5 * rng.normal(size=(12, 3))
    ts = rng.uniform(-0.5, 0.5, size=12)
    start = tuple(0.4 * rng.normal(size=s) for s in ((2, 3), (3, 2), (3, 2)))
    return start, ps, qs, ts


def check_run(start, ps, qs, ts, lr, epochs, case):
    """train_program's method, weights and losses; whether the judge's own program was the
    reference (else the student's program_R, followed through)."""
    call = f"train_program {case}"
    try:
        with student.counting("minigrad.Tensor.backward") as seen:
            out = student.train_program(start, ps, qs, ts, lr=lr, epochs=epochs, progress=False)
    except StudentError as exc:
        if exc.type_name == "NotImplementedError" and "program_R" not in exc.where:
            raise  # train_program itself is not written yet
        try:  # is it the program_R of exercise 4 that cannot be used?
            their_grads(start, ps[:1], qs[:1])
        except StudentError as why:
            got = ": ".join(t for t in (why.type_name, why.message) if t) or str(why)
            if why.type_name == "NotImplementedError":
                got = "NotImplementedError: program_R is not written yet"
            raise AssertionError(
                f"{call} raised {exc.type_name or 'an error'}: it builds on your program_R from "
                "exercise 4, which must return a scalar Tensor that backward() works on; with "
                f"it, program_R(...).backward() gives {got}") from None
        raise
    n = epochs * len(ts)
    require("method", seen.calls == n, (
        f"{call} called backward() {seen.calls} times; the exercise asks for the lecture's "
        f"per-sample loop: one R.backward(t_i - r_i) per sample and epoch, {n} calls in all"))
    assert isinstance(out, (tuple, list)) and len(out) == 2, (
        f"{call} must return the pair (new_weights, losses), got {describe(out)}")
    got_w = arrays(out[0], f"{call} (new_weights)", ("W0", "W1", "W2"))
    got_losses = np.asarray(out[1])
    expect_shape(got_losses, (epochs,), f"{call}: losses")
    expect_dtype(got_losses, np.float64, f"{call}: losses")
    for i, (got, like) in enumerate(zip(got_w, start)):
        expect_shape(got, like.shape, f"{call}: W{i}")
        expect_dtype(got, np.float64, f"{call}: W{i}")

    def matches(ref):
        ref_w, ref_losses = ref
        return np.allclose(got_losses, ref_losses, rtol=1e-8, atol=1e-12) and all(
            np.allclose(g, r, rtol=1e-8, atol=1e-12) for g, r in zip(got_w, ref_w))

    mine = train_ref(start, ps, qs, ts, lr, epochs)
    if matches(mine):
        return got_losses, True
    try:  # follow-through: the steps that the student's own program_R gives
        theirs = train_ref(start, ps, qs, ts, lr, epochs, grads=their_grads)
    except StudentError:
        theirs = None
    if theirs is not None and matches(theirs):
        return got_losses, False
    grads, ref_w, ref_losses, note = own_grads, mine[0], mine[1], ""
    if theirs is not None and not np.allclose(theirs[1], mine[1], rtol=1e-8, atol=1e-12):
        grads, ref_w, ref_losses = their_grads, theirs[0], theirs[1]
        note = " (with what your program_R from exercise 4 computes)"
    kept = train_ref(start, ps, qs, ts, lr, epochs, grads=grads, reset=False)
    require("reset", not matches(kept), (
        f"{call}: the gradients of W0, W1, W2 in epoch 2 include epoch 1's: reset them "
        "(W.grad = None or zero_grad()) before each epoch's accumulation"))
    expect_close(got_losses[0], ref_losses[0], f"{call}: losses[0]{note}", rtol=1e-8,
                 atol=1e-12, hint="It is the MSE at the starting weights")
    for i, (got, want) in enumerate(zip(got_w, ref_w)):
        expect_close(got, want, f"{call}: W{i} after {epochs} epochs{note}", rtol=1e-8,
                     atol=1e-12, hint="Each epoch takes one step "
                     "W <- W - lr * (-2/N) * sum_i (t_i - r_i) dR/dW, summed over all N samples")
    expect_close(got_losses, ref_losses, f"{call}: losses{note}", rtol=1e-8, atol=1e-12,
                 hint="Entry e is the MSE at the weights before epoch e's step")
    raise AssertionError(f"{call}: the weights or losses are off")  # not reached


case = "on 12 fixed samples with lr=0.2 for 15 epochs"
losses, own = check_run(*make_case(np.random.default_rng(77)), lr=0.2, epochs=15, case=case)
if own:  # the judge's reference, pinned
    assert np.isclose(losses[0], 0.11326452493418115, rtol=1e-10, atol=0), (
        f"train_program {case}: losses[0] must be 0.11326452493418115, got {float(losses[0])!r}")
    assert np.isclose(losses[-1], 0.08059926393187755, rtol=1e-8, atol=0), (
        f"train_program {case}: losses[-1] must be 0.08059926393187755, got "
        f"{float(losses[-1])!r}")

start, ps, qs, ts = make_case(np.random.default_rng(seed))
check_run(start, ps, qs, ts, lr=0.5, epochs=4, case="on 12 random samples with lr=0.5 for 4 epochs")

# the weights handed to train_program, read back after the call
_, (after, *_) = student.train_program.inputs_after(start, ps, qs, ts, lr=0.5, epochs=2,
                                                     progress=False)
for i, (before, now) in enumerate(zip(start, after)):
    expect_unchanged(before, now, f"train_program on 12 random samples (W{i} of weights)")
### END HIDDEN TESTS

# %% [markdown]
# Now we train on all 64 samples and watch the loss.

# %%
weights_fit, losses_fit = train_program(
    init_program_weights(seed=6), ps_train, qs_train, ts_train, lr=1.0, epochs=150
)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(losses_fit)
ax.set_xlabel("epoch")
ax.set_ylabel("mean squared error")
ax.set_title("Training the parameterized program")
fig.tight_layout()
print(f"loss: {losses_fit[0]:.4f} at the start, {losses_fit[-1]:.5f} after 150 epochs")

# %% [markdown]
# ## 5. Residual networks
#
# A residual block wraps a small network $\mathcal{F}$, its branch,
# and adds its input back: $y = x + \mathcal{F}(x)$.
# Its Jacobian is $I + \partial \mathcal{F} / \partial x$, so a message passing backwards through it is
# $\bar x = \bar y + \bar y\, \partial \mathcal{F} / \partial x$.
# Stack $S$ blocks and the message reaching the first one contains the term $\bar y$ itself,
# plus corrections; in a plain network it is only the product of $S$ layer Jacobians,
# which can shrink or grow geometrically with depth.
#
# ### Exercise 6 (2 points): a residual block as a module
#
# Write the class `ResidualBlock(dim, hidden, seed=None)`, a subclass of `mg.nn.Module`,
# with two attributes:
# `fc1 = mg.nn.Linear(dim, hidden, seed=seed)` and
# `fc2 = mg.nn.Linear(hidden, dim, seed=None if seed is None else seed + 1)`.
# Its `forward(x)` takes a batch `x` of shape `(N, dim)` and returns `x + fc2(relu(fc1(x)))`.
# (A `mg.nn.Linear` layer computes `x @ W + b`; its parameters are the attributes `W` and `b`.)
# So `fc1.W` has shape `(dim, hidden)`: it is the $W_1$ of section 2, and `fc2.W` is its $W_2$;
# the block of section 2 is this one for a single row and without the biases.
# `parameters()` then finds the four parameters of the two layers by itself.
# minigrad also ships `mg.nn.Residual(module)`, which wraps any module the same way;
# here we write the block out so that its two layers have names we can inspect.

# %% nbgrader={"grade": false, "grade_id": "a5-residual-block", "locked": false, "schema_version": 3, "solution": true, "task": false}
class ResidualBlock(mg.nn.Module):
    """y = x + fc2(relu(fc1(x))) on a batch x of shape (N, dim)."""

    def __init__(self, dim, hidden, seed=None):
        ### BEGIN SOLUTION
        self.fc1 = mg.nn.Linear(dim, hidden, seed=seed)
        self.fc2 = mg.nn.Linear(hidden, dim, seed=None if seed is None else seed + 1)
        ### END SOLUTION

    def forward(self, x):
        ### BEGIN SOLUTION
        return x + self.fc2(self.fc1(x).relu())
        ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-residual-block-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that ResidualBlock computes x + fc2(relu(fc1(x))) and hands the upstream gradient to x.
block = attempt("ResidualBlock(4, 6, seed=0)", ResidualBlock, 4, 6, seed=0)
assert isinstance(block, mg.nn.Module), "ResidualBlock must subclass mg.nn.Module"
params = block.parameters()
assert len(params) == 4, f"expected 4 parameters (two weights, two biases), got {len(params)}"
# fc1 gets the seed and fc2 gets seed + 1, so two blocks with one seed are the same block.
expect_close(block.fc2.W.data, mg.nn.Linear(6, 4, seed=1).W.data,
             "ResidualBlock(4, 6, seed=0).fc2.W",
             hint="It must be the W of mg.nn.Linear(6, 4, seed=1): fc2 gets seed + 1")

rng = np.random.default_rng(9)
x = mg.Tensor(rng.normal(size=(5, 4)), requires_grad=True)
y = block(x)
assert y.shape == (5, 4), f"output shape must equal the input's (5, 4), got {y.shape}"
expected = x.data + block.fc2(block.fc1(mg.Tensor(x.data)).relu()).data
assert np.allclose(y.data, expected), "forward must return x + fc2(relu(fc1(x)))"

# With fc2's parameters at zero the block is the identity and the gradient passes unchanged.
for t in block.fc2.parameters():
    t.data = np.zeros_like(t.data)
upstream = rng.normal(size=(5, 4))
x.grad = None
y = block(x)
assert np.allclose(y.data, x.data), "with fc2 = 0 the block must return its input"
y.backward(upstream)
assert np.allclose(x.grad, upstream), (
    "with fc2 = 0 the gradient reaching x must equal the upstream gradient (the skip path)"
)

block = ResidualBlock(3, 5, seed=1)
gradcheck(lambda x: block(x), mg.Tensor(rng.normal(size=(2, 3)), requires_grad=True)).assert_ok()
print("ResidualBlock works")

### BEGIN HIDDEN TESTS
layers_of = student.kernel('''
def layers_of(ResidualBlock, dim, hidden, seed):
    """A new block's parameter count and the data of its two layers."""
    blk = ResidualBlock(dim, hidden, seed=seed)
    out = {"module": isinstance(blk, mg.nn.Module), "n_params": len(blk.parameters())}
    for name in ("fc1", "fc2"):
        layer = getattr(blk, name)
        out[name + ".W"] = np.array(layer.W.data)
        out[name + ".b"] = np.array(layer.b.data)
    return out
''')
run_block = student.kernel('''
def run_block(ResidualBlock, values, x, dout):
    """A block with the given parameters: y = block(x) and the gradients of backward(dout)."""
    blk = ResidualBlock(x.shape[1], values["W1"].shape[1], seed=0)
    blk.fc1.W.data = np.array(values["W1"])
    blk.fc1.b.data = np.array(values["b1"])
    blk.fc2.W.data = np.array(values["W2"])
    blk.fc2.b.data = np.array(values["b2"])
    for t in blk.parameters():
        t.grad = None
    xt = mg.Tensor(np.array(x), requires_grad=True)
    y = blk(xt)
    y.backward(np.array(dout))
    grads = {"x": xt.grad, "W1": blk.fc1.W.grad, "b1": blk.fc1.b.grad,
             "W2": blk.fc2.W.grad, "b2": blk.fc2.b.grad}
    return np.array(y.data), {k: None if g is None else np.array(g) for k, g in grads.items()}
''')


def block_ref(x, W1, b1, W2, b2):
    return x + np.maximum(x @ W1 + b1, 0.0) @ W2 + b2


first = layers_of(student.ResidualBlock, 3, 2, 5)
again = layers_of(student.ResidualBlock, 3, 2, 5)
assert first["module"], "ResidualBlock(3, 2, seed=5) must be an mg.nn.Module"
assert first["n_params"] == 4, (
    f"ResidualBlock(3, 2, seed=5).parameters() must find 4 parameters (fc1.W, fc1.b, fc2.W, "
    f"fc2.b), got {first['n_params']}")
for name, shape in (("fc1.W", (3, 2)), ("fc1.b", (2,)), ("fc2.W", (2, 3)), ("fc2.b", (3,))):
    assert first[name].shape == shape, (
        f"ResidualBlock(3, 2, seed=5): {name} must have shape {shape}, got {first[name].shape}")
    assert np.array_equal(first[name], again[name]), (
        f"two ResidualBlock(3, 2, seed=5) have different {name}: pass the seed to the layers")
for name, linear in (("fc1", mg.nn.Linear(3, 2, seed=5)), ("fc2", mg.nn.Linear(2, 3, seed=6))):
    for p in ("W", "b"):
        assert np.allclose(first[f"{name}.{p}"], getattr(linear, p).data, rtol=0, atol=1e-15), (
            f"ResidualBlock(3, 2, seed=5): {name}.{p} is not the one of "
            f"{'mg.nn.Linear(3, 2, seed=5)' if name == 'fc1' else 'mg.nn.Linear(2, 3, seed=6)'}"
            " (fc1 gets seed, fc2 gets seed + 1)")


def check_case(values, x, case, want_y=None):
    y, _ = run_block(student.ResidualBlock, values, x, np.zeros_like(x))
    assert y.shape == x.shape, (
        f"ResidualBlock {case}: the output must have the input's shape {x.shape}, got {y.shape}")
    want = block_ref(x, **values) if want_y is None else np.array(want_y)
    assert np.allclose(y, want, rtol=1e-12, atol=1e-12), (
        f"ResidualBlock {case}: forward must return x + fc2(relu(fc1(x))); the output is off "
        f"{worst(y, want)}")

    def analytic(dout):
        _, grads = run_block(student.ResidualBlock, values, x, dout)
        missing = [k for k, g in grads.items() if g is None]
        assert not missing, (
            f"ResidualBlock {case}: after block(x).backward() the gradient of "
            f"{', '.join(missing)} is None; build the output from Tensor operations")
        return grads

    gradients_ok(f"ResidualBlock {case}", block_ref, {"x": x, **values}, analytic, seed=seed)


values = {
    "W1": np.array([[0.5, -1.0], [1.0, 0.25], [-0.5, 0.75]]),
    "b1": np.array([0.1, -0.2]),
    "W2": np.array([[1.0, -0.5, 0.25], [-0.75, 0.5, 1.5]]),
    "b2": np.array([0.05, 0.0, -0.1]),
}
x = np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5], [-1.5, 0.25, 1.0], [0.3, 0.3, -2.0]])
want_y = [
    [1.05, -1.0, 0.4],
    [2.4, 0.825, -0.0125],
    [-3.034375, 1.30625, 4.06875],
    [1.9, -0.475, -1.7125],
]
check_case(values, x, "with dim 3, hidden 2 and hand-picked parameters on a batch of 4",
           want_y=want_y)

rng = np.random.default_rng(seed)
while True:  # keep every pre-activation away from relu's kink at 0
    values = {"W1": 0.7 * rng.normal(size=(4, 5)), "b1": 0.3 * rng.normal(size=5),
              "W2": 0.7 * rng.normal(size=(5, 4)), "b2": 0.3 * rng.normal(size=4)}
    x = rng.normal(size=(6, 4))
    if np.min(np.abs(x @ values["W1"] + values["b1"])) > 0.05:
        break
check_case(values, x, "with dim 4, hidden 5 and random parameters on a batch of 6")
### END HIDDEN TESTS

# %% [markdown]
# ### Plain against residual: gradients at initialisation
#
# We build two networks with the same number of weight layers.
# Both map a scalar input to a scalar output:
# a linear layer from 1 to 32 units, a body of 20 linear layers of width 32,
# and a linear layer back to 1.
# In the plain network each body layer is followed by an activation (relu unless we say otherwise).
# In the residual network the body layers come in pairs, as 10 `ResidualBlock`s.
# `hidden_layers()` lists the 20 body layers from the input side to the output side,
# and `last_hidden(x)` returns the output of the body, the last hidden layer.
# With `init="he"` the body's weights are drawn with He's scale instead of `Linear`'s default;
# section 6 explains both.

# %% nbgrader={"grade": false, "grade_id": "a5-deepnet", "locked": true, "schema_version": 3, "solution": false, "task": false}
class DeepNet(mg.nn.Module):
    """Scalar-in, scalar-out network with a body of `depth` linear layers, plain or residual.

    activation: "relu", "tanh" or "sigmoid" after the input layer and each plain body layer
    (residual blocks use relu inside). init: "default" keeps Linear's uniform weights of variance 1/(3 n_in);
    "he" scales the body's weights by sqrt(6), to variance 2/n_in.
    """

    def __init__(self, depth=20, width=32, residual=False, seed=0, activation="relu",
                 init="default"):
        self.residual = residual
        self.activation = activation
        self.inp = mg.nn.Linear(1, width, seed=seed)
        if residual:
            self.body = [
                ResidualBlock(width, width, seed=seed + 10 + 2 * i) for i in range(depth // 2)
            ]
        else:
            self.body = [mg.nn.Linear(width, width, seed=seed + 10 + i) for i in range(depth)]
        self.out = mg.nn.Linear(width, 1, seed=seed + 1)
        if init == "he":
            for layer in self.hidden_layers():
                layer.W.data = layer.W.data * np.sqrt(6.0)

    def hidden_layers(self):
        if self.residual:
            return [layer for block in self.body for layer in (block.fc1, block.fc2)]
        return list(self.body)

    def act(self, z):
        return getattr(z, self.activation)()

    def last_hidden(self, x):
        h = self.act(self.inp(x))
        for layer in self.body:
            h = layer(h) if self.residual else self.act(layer(h))
        return h

    def forward(self, x):
        return self.out(self.last_hidden(x))


# %% [markdown]
# ### Exercise 7 (2 points): per-layer gradient norms
#
# Write `layer_grad_norms(net, x, y)`.
# It resets the gradients of `net`, computes the loss `mg.functional.mse_loss(net(x), y)`,
# backpropagates it once, and returns a float64 numpy array
# with one entry per layer in `net.hidden_layers()`:
# the Frobenius norm $\lVert \partial L / \partial W \rVert$
# of that layer's weight gradient `layer.W.grad`.
# Calling it twice on the same network must give the same numbers,
# so reset the gradients first (`net.zero_grad()`): minigrad adds to `.grad`.

# %% nbgrader={"grade": false, "grade_id": "a5-layer-grad-norms", "locked": false, "schema_version": 3, "solution": true, "task": false}
def layer_grad_norms(net, x, y):
    """Frobenius norms of dL/dW for every layer in net.hidden_layers(), with L the MSE loss."""
    ### BEGIN SOLUTION
    net.zero_grad()
    mg.functional.mse_loss(net(x), y).backward()
    return np.array([np.linalg.norm(layer.W.grad) for layer in net.hidden_layers()])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-layer-grad-norms-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks layer_grad_norms on a small plain network: one float64 norm per hidden layer,
# and the gradients reset on every call.
rng = np.random.default_rng(12)
small = DeepNet(depth=4, width=5, residual=False, seed=3)
xs, ys = mg.Tensor(rng.normal(size=(8, 1))), mg.Tensor(rng.normal(size=(8, 1)))
call = "layer_grad_norms on a plain DeepNet(depth=4, width=5), batch of 8"
norms = attempt(call, layer_grad_norms, small, xs, ys)
expect_shape(norms, (4,), f"{call}: the norms (one per hidden layer)")
expect_dtype(norms, np.float64, f"{call}: the norms")
small.zero_grad()
mg.functional.mse_loss(small(xs), ys).backward()
expected = [np.sqrt(np.sum(layer.W.grad ** 2)) for layer in small.hidden_layers()]
expect_close(norms, expected, f"{call}, first call")
again = layer_grad_norms(small, xs, ys)
require("reset", not np.allclose(again, 2 * np.asarray(expected)), (
    f"{call}, second call on the same network: the norms are 2 times the right ones, so the "
    "gradients of earlier calls are still in W.grad: reset them (net.zero_grad()) before the "
    "backward pass"))
expect_close(again, expected, f"{call}, second call on the same network")
print("layer_grad_norms works")

### BEGIN HIDDEN TESTS
make_net = student.kernel('''
def make_net():
    """A network of three tanh layers (2 -> 3 -> 3 -> 1); hidden_layers() are the first 2."""

    class Net(mg.nn.Module):
        def __init__(self):
            self.layers = [mg.nn.Linear(2, 3), mg.nn.Linear(3, 3), mg.nn.Linear(3, 1)]

        def hidden_layers(self):
            return self.layers[:2]

        def forward(self, x):
            h = self.layers[0](x).tanh()
            h = self.layers[1](h).tanh()
            return self.layers[2](h)

    return Net()
''')
set_weights = student.kernel('''
def set_weights(net, Ws, bs):
    for layer, W, b in zip(net.layers, Ws, bs):
        layer.W.data = np.array(W)
        layer.b.data = np.array(b)
''')
tensor = student.kernel("def tensor(a):\n    return mg.Tensor(np.array(a))\n")


def norms_ref(Ws, bs, x, y):
    h1 = np.tanh(x @ Ws[0] + bs[0])
    h2 = np.tanh(h1 @ Ws[1] + bs[1])
    out = h2 @ Ws[2] + bs[2]
    dout = 2.0 * (out - y) / out.size
    dh2 = (dout @ Ws[2].T) * (1 - h2**2)
    dh1 = (dh2 @ Ws[1].T) * (1 - h1**2)
    return np.array([np.linalg.norm(x.T @ dh1), np.linalg.norm(h1.T @ dh2)])


rng = np.random.default_rng(seed)
Ws = [rng.uniform(-1, 1, size=s) for s in ((2, 3), (3, 3), (3, 1))]
bs = [rng.uniform(-0.5, 0.5, size=n) for n in (3, 3, 1)]
x = rng.normal(size=(6, 2))
y = rng.normal(size=(6, 1))
want = norms_ref(Ws, bs, x, y)
net = make_net.keep()
set_weights(net, Ws, bs)
xt, yt = tensor.keep(x), tensor.keep(y)
case = "on a 3-layer tanh network whose hidden_layers() are its first 2 layers, batch of 6"
for which in ("first", "second", "third"):
    what = f"layer_grad_norms {case}, {which} call on the same network"
    got = expect_shape(student.layer_grad_norms(net, xt, yt), (2,),
                       f"{what}: the norms (one per hidden layer)")
    expect_dtype(got, np.float64, f"{what}: the norms")
    k = times(got, want)
    require("reset", which == "first" or k not in (2, 3), (
        f"{what}: the norms are {k} times the right ones, so the gradients of earlier calls "
        "are still in W.grad: reset them (net.zero_grad()) before the backward pass"))
    expect_close(got, want, what, rtol=1e-9, atol=1e-12,
                 hint="Want the Frobenius norms of dL/dW for the MSE loss")
### END HIDDEN TESTS

# %% [markdown]
# Now the measurement.
# We take a regression task from `mg.data` (128 noisy samples of a wiggly function of one variable),
# build both networks, and record the gradient norm of every body layer at initialisation.
# To see the spread and not one lucky draw, we repeat it for three seeds and plot each one.

# %%
X_reg, Y_reg = mg.data.regression_1d(n=128, seed=0)
x_reg, y_reg = mg.Tensor(X_reg), mg.Tensor(Y_reg)

layers = np.arange(1, 21)
init_norms = {"plain": [], "residual": []}
for seed in range(3):
    for residual in (False, True):
        net = DeepNet(depth=20, width=32, residual=residual, seed=seed)
        init_norms["residual" if residual else "plain"].append(layer_grad_norms(net, x_reg, y_reg))

fig, ax = plt.subplots(figsize=(7, 4))
for name, color in [("plain", "tab:red"), ("residual", "tab:blue")]:
    for i, norms in enumerate(init_norms[name]):
        ax.semilogy(layers, norms, "o-", color=color, alpha=0.7, label=name if i == 0 else None)
ax.set_xticks(layers)
ax.set_xlabel("body layer (1 = nearest the input)")
ax.set_ylabel(r"$\|\partial L / \partial W\|$ at initialisation")
ax.set_title("Per-layer gradient norms of two 20-layer networks")
ax.legend()
fig.tight_layout()

for name, runs in init_norms.items():
    runs = np.array(runs)
    print(f"{name:>8}: gradient norm of body layer 1 / that of layer 20, mean over 3 seeds: "
          f"{np.mean(runs[:, 0] / runs[:, -1]):.2g}")

# %% [markdown]
# The plain network's gradient shrinks by a roughly constant factor at every layer on its way down
# (a straight line on the log scale),
# so the first body layer gets the tiny fraction of the last one's gradient printed above.
# In the residual network every block hands $\bar y$ to its input unchanged and adds a correction,
# so the norms stay of the same order from the last layer to the first.
# Section 6 predicts the slope of the red lines.

# %% [markdown]
# ### Plain against residual: training
#
# Both networks now train on the same data
# with the same optimizer (full-batch SGD with momentum 0.9), learning rate and number of steps.
# The training curves are drawn while the networks train.

# %%
def train_deep(net, x, y, steps, lr, plot):
    """Full-batch SGD with momentum on the MSE loss; returns the loss at every step."""
    name = "residual" if net.residual else "plain"
    opt = mg.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    history = np.zeros(steps)
    for step in trange(steps, desc=name):
        opt.zero_grad()
        loss = mg.functional.mse_loss(net(x), y)
        loss.backward()
        opt.step()
        history[step] = float(loss.data)
        plot.add(history[step], name)
    return history


nets, curves = {}, {}
with mg.viz.LossPlot("Training curves, 20-layer networks", ylabel="training MSE",
                     logy=True) as plot:
    for residual in (False, True):
        name = "residual" if residual else "plain"
        nets[name] = DeepNet(depth=20, width=32, residual=residual, seed=0)
        curves[name] = train_deep(nets[name], x_reg, y_reg, steps=300, lr=0.03, plot=plot)

fig, ax = plt.subplots(figsize=(6, 4))
x_grid = np.linspace(-2, 2, 200).reshape(-1, 1)
ax.plot(X_reg[:, 0], Y_reg[:, 0], ".", color="gray", label="data")
for name in ("plain", "residual"):
    with mg.no_grad():
        ax.plot(x_grid[:, 0], nets[name](mg.Tensor(x_grid)).data[:, 0], label=name)
ax.set_xlabel("x")
ax.set_ylabel("y")
ax.set_title("Predictions after training")
ax.legend()
fig.tight_layout()
for name, history in curves.items():
    print(f"{name:>8}: loss {history[0]:.4f} -> {history[-1]:.4f}")
print(f"variance of the targets: {Y_reg.var():.4f}")
# what the text below says: the plain net stays near the variance, the residual one near 0.01
assert curves["plain"][-1] > 0.9 * Y_reg.var() and curves["residual"][-1] < 0.03, (
    "the losses disagree with the text below: check ResidualBlock (exercise 6) first")

# %% [markdown]
# The plain network does not learn:
# its loss stays at about the variance of the targets, the loss of predicting their mean.
# The residual network, with the same depth, the same initialisation and the same optimizer,
# fits the curve down to about the noise level of the data ($0.1^2 = 0.01$).
# The next section shows why the plain network fails, and that it fails twice:
# on the way forward and on the way back.

# %% [markdown]
# ## 6. Why the plain network fails: one product, two directions
#
# First the forward pass.
# The cell below feeds the 128 inputs to a fresh plain network and measures,
# for the input layer's output, the last hidden layer and the network's output,
# how much each unit varies across the inputs
# (its standard deviation over the batch, averaged over the units).

# %%
net_plain = DeepNet(depth=20, width=32, residual=False, seed=0)
with mg.no_grad():
    spread_first = net_plain.act(net_plain.inp(x_reg)).data.std(axis=0).mean()
    spread_last = net_plain.last_hidden(x_reg).data.std(axis=0).mean()
    spread_out = net_plain(x_reg).data.std()
print(f"spread across the 128 inputs, input layer's output: {spread_first:.3g}")
print(f"spread across the 128 inputs, last hidden layer:    {spread_last:.3g}")
print(f"spread across the 128 inputs, network output:       {spread_out:.3g}")
assert 1e-11 < spread_last < 1e-7  # "about 1e-9" in the text below

# %% [markdown]
# ### Exercise 8 (3 points): why the plain network fails, in writing
#
# Answer in a few sentences in the cell below; it is graded by hand.
# Use what the notebook has printed so far:
# the gradient norms at initialisation and the training curves of section 5,
# and the spreads just above.
#
# 1. What goes wrong on the way forward,
#    and why does that alone keep the plain network's loss at the variance of the targets?
# 2. What goes wrong on the way back?
# 3. Why are the two one and the same failure, and what does a skip connection change?

# %% [markdown] nbgrader={"grade": true, "grade_id": "a5-plain-fails-answer", "locked": false, "points": 3, "schema_version": 3, "solution": true, "task": false} rubric=[{"points": 1, "criterion": "Forward: every layer shrinks the differences between inputs, so after 20 layers the last hidden layer is nearly the same vector for every input (a spread of about 1e-9 where the input layer's is about 0.3); the output is then one number for every x, and the best constant is the targets' mean, whose loss is their variance."}, {"points": 1, "criterion": "Backward: the message also shrinks at every layer on its way down, so the first layers get a gradient about a millionth of the last layer's; the layers that could restore the differences between inputs barely move, and the last layers cannot fit a function of x from a constant."}, {"points": 1, "criterion": "Both are the same product of layer Jacobians (W_l and g'(z_l)): forwards it acts on a difference, backwards (transposed) on a message, and at this scale each layer multiplies the size by a factor below 1. A skip connection adds the identity to a block's Jacobian, so there is a path with no such factor, in both directions."}]
# Forwards, each layer shrinks the differences between inputs:
# the input layer's outputs vary across the 128 inputs by about 0.3,
# the last hidden layer by about $10^{-9}$.
# The network has forgotten $x$ and outputs one number for every input;
# the best a constant can do is the mean of the targets, whose loss is their variance,
# which is where the plain network's loss stays.
# Backwards, the message shrinks the same way at every layer on its way down,
# so the first layers receive a few millionths of the last layer's gradient.
# The layers that could restore the differences between inputs barely move,
# and the last layers, which do get a gradient, cannot make a function of $x$ out of a constant.
# Both are one product of layer Jacobians, $W_l$ and $g'(z_l)$:
# forwards it acts on a difference between inputs, backwards (transposed) on a message,
# and at this weight scale every layer multiplies the size by a factor below 1.
# A skip connection adds the identity to each block's Jacobian,
# so a difference and a message can cross the block unchanged: that path has no such factor.

# %% [markdown]
# After 20 layers every input gives the same last hidden layer, up to about $10^{-9}$:
# the network has forgotten its input, and its output is one number for every $x$.
# No change to the last layers can fit a function of $x$ from a constant;
# only the first layers could restore the differences between inputs,
# and they receive almost no gradient (the plot of section 5).
# So the plain network fails in both directions.
#
# Both failures come from the same product.
# Write one plain layer as $z_l = h_{l-1} W_l + b_l$, $h_l = g(z_l)$, with width $n$.
# Forwards, two inputs that differ by a small row $\Delta h_{l-1}$ give outputs that differ by
# about $(\Delta h_{l-1} W_l) \odot g'(z_l)$.
# Backwards, the message is $\bar h_{l-1} = (\bar h_l \odot g'(z_l))\, W_l^\top$.
# Each is a row times $W_l$ (or $W_l^\top$) and an elementwise factor $g'(z_l)$.
# For a weight matrix whose entries are independent with mean 0 and variance $s^2$,
# a row $v$ of length $n$ gives $\mathbb{E}\,\lVert v W \rVert^2 = n s^2 \lVert v \rVert^2$,
# and the elementwise factor multiplies the squared norm by about $\mathbb{E}[g'(z)^2]$.
# So every layer multiplies the size of a difference going forwards,
# and of a message going backwards, by about
#
# $$\rho = \sqrt{n\, s^2\, \mathbb{E}[g'(z)^2]} ,$$
#
# and 20 layers by $\rho^{20}$.
# The weight gradient $\bar W_l = h_{l-1}^\top \bar z_l$ inherits the size of the message
# (the biases keep $h_{l-1}$ itself from vanishing, only its differences between inputs vanish),
# so in the plot of section 5 the norms shrink by about $\rho$ per layer towards the input.
#
# ### Exercise 9 (2 points): predict the per-layer factor
#
# Predict $\rho$, the factor by which one body layer multiplies the gradient norm
# on its way from the output towards the input, at initialisation, for five networks.
# Fill in a number (a float) for each key of `predicted_factor`:
#
# | key | network |
# |---|---|
# | `"sigmoid"` | plain, sigmoid, `Linear`'s default weights |
# | `"tanh"` | plain, tanh, default weights |
# | `"relu"` | plain, relu, default weights |
# | `"relu-he"` | plain, relu, He's weights |
# | `"relu-skip"` | residual (relu inside the blocks), default weights |
#
# What you need:
# `mg.nn.Linear(n, m)` draws its weights uniformly from $[-1/\sqrt n, 1/\sqrt n]$,
# and the uniform distribution on $[-a, a]$ has variance $a^2 / 3$;
# He's initialisation uses the variance $s^2 = 2/n$;
# at initialisation the pre-activations $z$ of these plain networks are close to 0
# (the forward signal has collapsed, and the biases are below $1/\sqrt{32} \approx 0.18$),
# so take $g'(0)$ for sigmoid and tanh;
# relu's derivative is 1 on about half of the units and 0 on the others.
# For the residual network, go back to what a block does to a message in section 5.
# Write your numbers as the arithmetic that gives them (`np.sqrt(...)`), not as measured values:
# the next exercise measures them.

# %% nbgrader={"grade": false, "grade_id": "a5-predict-factor", "locked": false, "schema_version": 3, "solution": true, "task": false}
predicted_factor = {"sigmoid": None, "tanh": None, "relu": None, "relu-he": None, "relu-skip": None}
### BEGIN SOLUTION
predicted_factor["sigmoid"] = np.sqrt(1 / 3 * 0.25**2)  # n s^2 = n (1/sqrt(n))^2 / 3 = 1/3
predicted_factor["tanh"] = np.sqrt(1 / 3 * 1.0)  # tanh'(0) = 1
predicted_factor["relu"] = np.sqrt(1 / 3 * 0.5)  # half the units pass, with derivative 1
predicted_factor["relu-he"] = np.sqrt(2 * 0.5)  # He: n s^2 = 2
predicted_factor["relu-skip"] = 1.0  # the identity path hands the message on unchanged
### END SOLUTION

# %% nbgrader={"grade": true, "grade_id": "a5-predict-factor-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that predicted_factor holds a positive number for each of the five networks;
# the hidden tests compare each with the prediction from rho = sqrt(n s^2 E[g'(z)^2]).
keys = ("sigmoid", "tanh", "relu", "relu-he", "relu-skip")
assert isinstance(predicted_factor, dict) and sorted(predicted_factor) == sorted(keys), (
    f"predicted_factor must be a dict with the keys {list(keys)}, got {predicted_factor!r}")
for key in keys:
    value = predicted_factor[key]
    assert isinstance(value, (int, float, np.floating)) and value > 0, (
        f"predicted_factor[{key!r}] must be a positive number (your prediction of rho), "
        f"got {value!r}")
print("predicted_factor holds five predictions; the hidden tests grade them")

### BEGIN HIDDEN TESTS
keys = ("sigmoid", "tanh", "relu", "relu-he", "relu-skip")
assert student.has("predicted_factor"), (
    "predicted_factor is not defined: run its cell once you have filled in your predictions")
got = student.predicted_factor.value()
assert isinstance(got, dict) and sorted(got) == sorted(keys), (
    f"predicted_factor must be a dict with the keys {list(keys)}, got {describe(got)}")
why = {
    "sigmoid": "n s^2 = 1/3 with Linear's default weights, and sigmoid'(0) = 1/4",
    "tanh": "n s^2 = 1/3 with Linear's default weights, and tanh'(0) = 1",
    "relu": "n s^2 = 1/3 with Linear's default weights, and relu' is 1 on half the units",
    "relu-he": "n s^2 = 2 with He's weights, and relu' is 1 on half the units",
    "relu-skip": "a block hands its output's message to its input unchanged, plus a correction",
}
want = {"sigmoid": np.sqrt(1 / 48), "tanh": np.sqrt(1 / 3), "relu": np.sqrt(1 / 6),
        "relu-he": 1.0, "relu-skip": 1.0}
for key in keys:
    value = got[key]
    assert isinstance(value, (int, float)) and not isinstance(value, bool), (
        f"predicted_factor[{key!r}] must be a number, your prediction, got {describe(value)}")
    inverse = abs(value * want[key] - 1) < 0.15 and want[key] < 0.9
    hint = (": that is 1/rho, the factor by which the norm grows towards the output"
            if inverse else f"; use {why[key]}")
    assert abs(value / want[key] - 1) <= 0.15, (
        f"predicted_factor[{key!r}] = {value:.3g} is more than 15% away from the prediction "
        f"of rho = sqrt(n s^2 E[g'(z)^2]){hint}")
### END HIDDEN TESTS

# %% [markdown]
# <details><summary>Worked prediction</summary>
#
# With `Linear`'s default weights $s^2 = (1/\sqrt n)^2 / 3$, so $n s^2 = 1/3$;
# with He's, $n s^2 = 2$.
#
# * sigmoid: $\sigma'(0) = 1/4$, so $\rho = \sqrt{1/3 \cdot 1/16} \approx 0.14$.
# * tanh: $\tanh'(0) = 1$, so $\rho = \sqrt{1/3} \approx 0.58$.
# * relu: $\mathbb{E}[\mathrm{relu}'(z)^2] = 1/2$, so $\rho = \sqrt{1/6} \approx 0.41$.
# * relu with He's weights: $\rho = \sqrt{2 \cdot 1/2} = 1$; that is how He chose the scale.
# * residual: the message into a block's input is $\bar y + \bar y\, \partial \mathcal{F} / \partial x$,
#   the upstream message itself plus a correction, so $\rho \approx 1$.
#
# </details>

# %% [markdown]
# ### Exercise 10 (1 point): measure the per-layer factor
#
# Write `per_layer_factor(norms)`.
# `norms` holds the gradient norms of consecutive layers, from the input side to the output side,
# as `layer_grad_norms` returns them.
# Return, as a float, the factor by which one layer multiplies the norm
# on the way from the output towards the input:
# the geometric mean of the ratios `norms[l] / norms[l + 1]`.
# (The geometric mean, because the ratios multiply: across $S$ layers their product is $\rho^{S}$.)

# %% nbgrader={"grade": false, "grade_id": "a5-per-layer-factor", "locked": false, "schema_version": 3, "solution": true, "task": false}
def per_layer_factor(norms):
    """Geometric mean of norms[l] / norms[l + 1]: rho, measured towards the input."""
    ### BEGIN SOLUTION
    norms = np.asarray(norms, dtype=np.float64)
    return float(np.exp(np.mean(np.log(norms[:-1] / norms[1:]))))
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-per-layer-factor-test", "locked": true, "points": 1, "schema_version": 3, "solution": false, "task": false}
# Checks per_layer_factor: the geometric mean of norms[l] / norms[l + 1] (towards the input).
call = "per_layer_factor([1, 2, 4, 8])"
got = expect_shape(attempt(call, per_layer_factor, np.array([1.0, 2.0, 4.0, 8.0])), (),
                   f"{call}: the factor (one number)")
expect_close(got, 0.5, call, hint=(
    "Each layer halves the norm on the way towards the input; 2 would be the factor towards "
    "the output" if np.isclose(got, 2.0) else "Want the geometric mean of norms[l] / norms[l + 1]"))
call = "per_layer_factor([1, 4, 8])"
expect_close(per_layer_factor(np.array([1.0, 4.0, 8.0])), np.sqrt(0.25 * 0.5), call,
             hint="The ratios are 1/4 and 1/2: want their geometric mean, sqrt(1/4 * 1/2)")
print("per_layer_factor works")

### BEGIN HIDDEN TESTS
rng = np.random.default_rng(seed)
for n, rho in ((6, 0.3), (12, 1.7), (20, 0.8)):
    ratios = rho * np.exp(0.4 * rng.normal(size=n - 1))
    norms = np.concatenate([[1.0], np.cumprod(1 / ratios)]) * rng.uniform(0.5, 2.0)
    want = float(np.exp(np.mean(np.log(ratios))))
    call = f"per_layer_factor of {n} norms whose ratios norms[l] / norms[l + 1] scatter around {rho}"
    got = expect_shape(student.per_layer_factor(norms), (), call)
    hint = "Want the geometric mean of norms[l] / norms[l + 1]"
    if np.isclose(float(got), 1 / want, rtol=1e-6):
        hint = ("That is 1/rho, the factor towards the output: divide norms[l] by norms[l + 1], "
                "not the other way round")
    elif np.isclose(float(got), np.mean(ratios), rtol=1e-6):
        hint = ("That is the arithmetic mean of the ratios; the ratios multiply, so take their "
                "geometric mean")
    expect_close(got, want, call, rtol=1e-9, atol=0, hint=hint)
### END HIDDEN TESTS

# %% [markdown]
# Now the measurement, next to your predictions.
# For each network we take three seeds, measure $\rho$ with your two functions,
# and also print the spread of the last hidden layer across the inputs, as above.
# Two rows are new: the residual network with He's weights, and nothing to predict for it.

# %%
cases = [("sigmoid", "sigmoid", "default", False), ("tanh", "tanh", "default", False),
         ("relu", "relu", "default", False), ("relu-he", "relu", "he", False),
         ("relu-skip", "relu", "default", True), ("relu-skip, He", "relu", "he", True)]
measured, spread = {}, {}
print(f"{'network':>14} {'predicted':>10} {'measured':>9} {'spread of the last hidden layer':>32}")
for key, activation, init, residual in cases:
    factors, spreads = [], []
    for seed in range(3):
        net = DeepNet(depth=20, width=32, residual=residual, seed=seed, activation=activation,
                      init=init)
        factors.append(per_layer_factor(layer_grad_norms(net, x_reg, y_reg)))
        with mg.no_grad():
            spreads.append(net.last_hidden(x_reg).data.std(axis=0).mean())
    measured[key], spread[key] = np.mean(factors), np.mean(spreads)
    guess = f"{predicted_factor[key]:.3f}" if key in predicted_factor else "-"
    print(f"{key:>14} {guess:>10} {measured[key]:9.3f} {spread[key]:32.2g}")
# what the text below says, against the worked prediction above
rho = {"sigmoid": np.sqrt(1 / 48), "tanh": np.sqrt(1 / 3), "relu": np.sqrt(1 / 6),
       "relu-he": 1.0, "relu-skip": 1.0, "relu-skip, He": 1.0}
assert all(abs(measured[k] / rho[k] - 1) < 0.25 for k in rho), (
    "the measured factors disagree with the text below: check per_layer_factor (exercise 10) "
    "and layer_grad_norms (exercise 7) first")
assert spread["relu"] < 1e-7 < spread["relu-he"] and spread["relu-skip, He"] > 10 * spread["relu-skip"]

# %% [markdown]
# The theory ranks the networks right and gets each factor within 25%
# (the cell checks it against the worked prediction).
# It treats the units and the weights as independent of each other,
# which holds only roughly for 32 units.
# Row by row:
#
# * sigmoid is the worst: its derivative is at most $1/4$,
#   so every layer loses most of the message whatever the weights.
# * tanh's derivative is 1 at 0, so it loses only what the weight scale loses.
# * relu with the default weights sits in between.
#   He's scale brings $\rho$ near 1,
#   and the forward spread survives the 20 layers instead of collapsing.
# * With skip connections $\rho$ is near 1 at the default scale too.
#
# Skip connections do not make the initialisation irrelevant, though.
# With He's scale inside every block, the spread of the last hidden layer
# is many times that of the default scale (the last row against the one above):
# each block adds its branch's output to its input, so the signal grows block after block.
# Residual networks in practice keep the branches small at the start for this reason
# (for example the last layer of each block starts at or near zero, or a normalisation layer
# sits in the branch).
# What the skip connection removes is the product: a message, and a difference between inputs,
# now reach the far end through a path with no factor $\rho$ on it.

# %% [markdown]
# ## 7. Control flow: the graph is what ran
#
# So far each graph had the same shape for every input;
# even the "branches" of section 4 were fan-out, with every line running every time.
# Programs also have `if`s and loops whose path depends on the data.
# Reverse mode needs no new rule for them,
# because minigrad does not analyse the program:
# it records each operation as it runs, on a *tape*, and `backward()` replays the tape.
# A Python `if` that reads a number (`.data`) decides which operations run,
# and only those enter the graph.
# A loop that runs $k$ times records its body $k$ times;
# a weight used in the body then has $k$ consumers, and its gradient is the sum of $k$ messages,
# as for the shared weight of section 3.
# The gradient we get is that of the path that ran:
# near an input where the decision flips, the function can jump,
# and the derivative of one path says nothing about that jump.
#
# ### Exercise 11 (2 points): a loop that decides when to stop
#
# Write `shrink(x, W, tol, max_steps)`.
# Starting from `h = x` (a Tensor of shape `(d,)`),
# repeat `h = (h @ W).tanh()` while the mean of the squares of `h`, read from `h.data`,
# is above `tol`, and at most `max_steps` times.
# Return `(h, steps)`: the final Tensor, built from Tensor operations so that `backward()` reaches `W`,
# and the number of steps that ran, an `int`
# (0 when `x` is already small: then `h` is `x` itself, and `W` is not in the graph).

# %% nbgrader={"grade": false, "grade_id": "a5-shrink", "locked": false, "schema_version": 3, "solution": true, "task": false}
def shrink(x, W, tol, max_steps):
    """Apply h <- tanh(h @ W) from h = x while mean(h**2) > tol, at most max_steps times.

    Returns (h, steps): the final Tensor and the number of steps that ran.
    """
    ### BEGIN SOLUTION
    h, steps = x, 0
    while steps < max_steps and float(np.mean(h.data**2)) > tol:
        h = (h @ W).tanh()
        steps += 1
    return h, steps
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-shrink-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks shrink: the number of steps that ran, the final value, and that the gradient of W is
# that of the steps that ran (none when no step ran).
def shrink_ref(x, W, tol, max_steps):
    """The loop in numpy: the final h and the number of steps."""
    h, steps = x, 0
    while steps < max_steps and np.mean(h**2) > tol:
        h, steps = np.tanh(h @ W), steps + 1
    return h, steps


rng = np.random.default_rng(14)
W_np = 0.8 * np.linalg.qr(rng.normal(size=(4, 4)))[0]
for scale, tol, max_steps in ((0.2, 0.1, 10), (1.5, 0.1, 10), (1.5, 0.0, 3)):
    x_np = scale * np.array([1.0, -1.0, 0.5, -0.5])
    want_h, want_steps = shrink_ref(x_np, W_np, tol, max_steps)
    call = (f"shrink(x with mean(x**2) = {np.mean(x_np**2):.3g}, tol={tol}, "
            f"max_steps={max_steps})")
    x_t, W_t = mg.Tensor(x_np, requires_grad=True), mg.Tensor(W_np, requires_grad=True)
    out = attempt(call, shrink, x_t, W_t, tol, max_steps)
    assert isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], mg.Tensor), (
        f"{call} must return the pair (h, steps) with h a minigrad Tensor, got {out!r}")
    h, steps = out
    assert isinstance(steps, (int, np.integer)), f"{call}: steps must be an int, got {steps!r}"
    assert steps == want_steps, (
        f"{call} must run {want_steps} steps, got {steps}: test the condition before each step, "
        "and stop after max_steps")
    expect_close(h.data, want_h, f"{call}: h")
    h.sum().backward()
    if want_steps == 0:
        assert W_t.grad is None, (
            f"{call}: no step ran, so W must not be in the graph (W.grad stays None), got a "
            "gradient")
    else:
        def summed(W, x=x_np, tol=tol, max_steps=max_steps):
            return shrink(mg.Tensor(x), W, tol, max_steps)[0].sum()

        gradcheck(summed, mg.Tensor(W_np, requires_grad=True)).assert_ok()
print("shrink records the steps that ran")

### BEGIN HIDDEN TESTS
run_shrink = student.kernel('''
def run_shrink(shrink, x, W, tol, max_steps):
    """Call shrink on fresh Tensors; h, steps and W.grad after h.sum().backward()."""
    xt = mg.Tensor(np.array(x), requires_grad=True)
    Wt = mg.Tensor(np.array(W), requires_grad=True)
    out = shrink(xt, Wt, tol, max_steps)
    if not (isinstance(out, tuple) and len(out) == 2 and isinstance(out[0], mg.Tensor)):
        return "got " + type(out).__name__, None, None, None
    h, steps = out
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)):
        return "steps must be an int, got " + repr(steps), None, None, None
    h.sum().backward()
    grad = None if Wt.grad is None else np.array(Wt.grad)
    return "ok", np.array(h.data), int(steps), grad
''')


def unrolled(x, W, k):
    """h after k steps of the loop, whatever the data: the path the loop took."""
    for _ in range(k):
        x = np.tanh(x @ W)
    return x


rng = np.random.default_rng(seed)
d = 5
W = 0.85 * np.linalg.qr(rng.normal(size=(d, d)))[0]
cases = []  # (x, tol, max_steps) with the stopping decision far from the threshold
for scale, max_steps in ((0.1, 8), (0.5, 8), (1.5, 8), (3.0, 8), (3.0, 2)):
    while True:
        x = scale * rng.normal(size=d)
        tol = 0.05
        seen, h = [], x
        for _ in range(max_steps + 1):
            seen.append(np.mean(h**2))
            h = np.tanh(h @ W)
        if all(abs(m / tol - 1) > 0.05 for m in seen):
            break
    cases.append((x, tol, max_steps))
for x, tol, max_steps in cases:
    want_steps = next((k for k in range(max_steps) if np.mean(unrolled(x, W, k)**2) <= tol),
                      max_steps)
    call = (f"shrink(x with mean(x**2) = {np.mean(x**2):.3g}, tol={tol}, max_steps={max_steps}) "
            f"with a {d}x{d} W")
    status, h, steps, grad = run_shrink(student.shrink, x, W, tol, max_steps)
    assert status == "ok", f"{call} must return the pair (h, steps) with h a Tensor: {status}"
    assert steps == want_steps, (
        f"{call} must run {want_steps} steps, got {steps}: test the condition before each step, "
        "and stop after max_steps")
    expect_close(h, unrolled(x, W, want_steps), f"{call}: h", rtol=1e-9, atol=1e-12)
    if want_steps == 0:
        assert grad is None, (
            f"{call}: no step ran, so W must not be in the graph (W.grad stays None), got a "
            "gradient")
    else:
        assert grad is not None, (
            f"{call}: W.grad is None after h.sum().backward(); build h from Tensor operations")
        gradients_ok(f"{call}: W.grad", lambda W, x=x, k=want_steps: np.sum(unrolled(x, W, k)),
                     {"W": W}, {"W": grad}, seed=seed)
### END HIDDEN TESTS

# %% [markdown]
# Here are the graphs of two calls with the same `W` and `tol = 0.1`:
# a small input and a larger one, which need different numbers of steps (printed).
# The second graph repeats the product and the `tanh` once per step, every product fed by the same `W`;
# nothing in either graph records the `while` itself, only what it let run.

# %%
rng = np.random.default_rng(15)
W_demo = mg.Tensor(0.8 * np.linalg.qr(rng.normal(size=(3, 3)))[0], requires_grad=True, name="W")
for scale in (0.5, 1.5):
    x_t = mg.Tensor(scale * np.array([1.0, -1.0, 0.5]), name="x")
    h_t, steps = shrink(x_t, W_demo, 0.1, 10)
    out_t = h_t.sum()
    out_t.name = f"sum after {steps} steps"
    W_demo.grad = None
    out_t.backward()
    print(f"scale {scale}: {steps} step(s), dL/dW summed over them:\n{W_demo.grad}")
    display(mg.viz.draw_graph(out_t, rankdir="LR"))

# %% [markdown]
# ## Summary
#
# * Backpropagation is message passing: each node sums what its consumers send it and forwards
#   its local transfer of that sum to its inputs, in reverse topological order.
# * A skip connection adds the output's error signal $\bar y$ to the input's gradient:
#   $\bar x = \big((\bar y\, W_2^\top) \odot \mathbb{1}[z > 0]\big)\, W_1^\top + \bar y$.
# * A weight used twice receives two messages; its gradient is their sum.
#   A value that fans out adds its messages the same way,
#   and the lecture's loop accumulates per-sample gradients, which `backward()` does for us.
# * In a deep plain network every layer multiplies a forward difference and a backward message
#   by about $\rho = \sqrt{n s^2\, \mathbb{E}[g'(z)^2]}$:
#   with $\rho < 1$ the input is forgotten on the way forward and the gradient on the way back.
#   He's scale makes $\rho \approx 1$ for relu;
#   residual blocks add an identity path, so early layers receive a gradient
#   of the same size as late ones, but the weight scale still matters.
# * Control flow needs no new rule: the tape records what ran, and a loop's weight is shared
#   by every step that ran.
