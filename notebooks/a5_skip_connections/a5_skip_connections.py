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
# A program with branches computes one value and hands it to two consumers.
#
# One rule covers all three cases.
# Backpropagation visits the nodes in reverse topological order;
# each node adds up the messages it receives from the nodes that consumed its value,
# and then sends one message to each of its own inputs.
# Nothing else changes.
#
# | # | exercise | points |
# |---|---|---|
# | 1 | gradient of a skip-connection block, by hand | 3 |
# | 2 | gradient of a shared weight, by hand | 2 |
# | 3 | backward pass of a program with branches, by hand | 3 |
# | 4 | the same program as a minigrad graph | 2 |
# | 5 | training the program with the per-sample loop | 2 |
# | 6 | a residual block as an `mg.nn.Module` | 2 |
# | 7 | per-layer gradient norms of a deep network | 2 |
#
# Exercises 1, 2 and 3 ask for gradients by hand, with numpy.
# The grader runs them with minigrad's autograd switched off,
# so a solution that calls `.backward()` there earns no points.
# In exercises 4 to 7 we use the engine.
#
# Every exercise has a cell of visible tests right below it.
# When a gradient is wrong, the checker says which input and which entry are off,
# and what the likely mistake is.

# %% nbgrader={"grade": false, "grade_id": "a5-setup", "locked": true, "schema_version": 3, "solution": false, "task": false}
import matplotlib.pyplot as plt
import numpy as np
from tqdm.auto import trange

import minigrad as mg
from minigrad.gradcheck import check_gradients, gradcheck

np.set_printoptions(precision=4, suppress=True)

# %% [markdown]
# ## 1. Backpropagation as message passing
#
# Write the computation as a graph whose nodes are values and whose edges say
# "this value was computed from that one".
# Call the values a node was computed from its *parents*,
# and the values computed from it its *children*.
# For a scalar loss $L$ write $\bar v = \partial L / \partial v$ for the error signal of node $v$.
#
# The multivariable chain rule says that $L$ depends on $v$ only through $v$'s children, so
#
# $$
# \bar v = \sum_{c \in \mathrm{children}(v)}
#   \left(\frac{\partial c}{\partial v}\right)^{\!\top} \bar c .
# $$
#
# Read the right-hand side as a conversation.
# Each child $c$ knows its own error signal $\bar c$
# and its local Jacobian $\partial c / \partial v$,
# so it can compute the term $(\partial c / \partial v)^\top \bar c$ and *send* it to $v$.
# Node $v$ does not need to know anything else about the graph:
# it waits until all its children have reported, adds the messages, and has $\bar v$.
# Then it plays the child's role for its own parents.
#
# Three consequences matter for this assignment.
#
# * Order. A node may only send once all its messages have arrived,
#   so we visit nodes in reverse topological order.
# * Fan-out means addition. A value with two children receives two messages and sums them.
#   That is the whole story for skip connections, shared weights and branching programs.
# * Locality. Each kind of node only needs its own transfer rule:
#   a linear map $W$ sends $W^\top \bar c$, an elementwise map $g$ sends $g'(v) \odot \bar c$,
#   a sum sends $\bar c$ to every input.
#
# The picture below is a minigrad graph for $y = W_2\,\mathrm{relu}(W_1 x) + x$
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
z_demo = W1_demo @ x_demo
a_demo = z_demo.relu()
u_demo = W2_demo @ a_demo
y_demo = u_demo + x_demo
loss_demo = (y_demo * y_demo).sum()
for t, label in [(z_demo, "z"), (a_demo, "a"), (u_demo, "W2 a"), (y_demo, "y"), (loss_demo, "L")]:
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
# $$z = W_1 x, \qquad a = \mathrm{relu}(z), \qquad y = W_2 a + x ,$$
#
# with $x \in \mathbb{R}^d$, $W_1 \in \mathbb{R}^{h \times d}$
# and $W_2 \in \mathbb{R}^{d \times h}$.
# The last line is the skip connection: $x$ is added to the output unchanged.
# We get the error signal $\delta = \bar y$ from whatever comes after the block.
#
# Walking backwards:
#
# * $y = W_2 a + x$ is a sum of two terms, so both receive $\delta$ unchanged.
#   The term $W_2 a$ is linear in $W_2$ and in $a$:
#   $\bar W_2 = \delta\, a^\top$ (an outer product) and $\bar a = W_2^\top \delta$.
# * The relu is elementwise.
#   Let $R$ be the diagonal matrix with $R_{ii} = 1$ where $z_i > 0$ and $0$ elsewhere.
#   Then $\bar z = R\, \bar a = R\, W_2^\top \delta$.
# * $z = W_1 x$ gives $\bar W_1 = \bar z\, x^\top$ and a message $W_1^\top \bar z$ for $x$.
# * $x$ has two children, the product $W_1 x$ and the final sum. It adds both messages:
#
# $$\bar x = W_1^\top R\, W_2^\top \delta + \delta .$$
#
# Without the skip connection only the first term would remain.
# The second term is the reason skip connections help deep networks:
# whatever happens inside the block, $\delta$ reaches $x$ untouched.
#
# The forward pass, written out, is below.
# In code we never build $R$ as a matrix:
# multiplying by a diagonal matrix is an elementwise product with its diagonal.

# %%
def skip_block_forward(x, W1, W2):
    """y = W2 relu(W1 x) + x for a single vector x."""
    return W2 @ np.maximum(W1 @ x, 0.0) + x


# %% [markdown]
# ### Exercise 1 (3 points): the gradient of the skip block
#
# Write `skip_block_backward(x, W1, W2, delta)`.
# It gets the inputs of the block
# and the upstream error signal $\delta = \partial L / \partial y$ (shape `(d,)`),
# and returns the tuple `(dx, dW1, dW2)`
# of $\partial L / \partial x$, $\partial L / \partial W_1$ and $\partial L / \partial W_2$,
# each with the shape and dtype of the matching input.
# Use numpy only: the grader switches minigrad's autograd off for this exercise.

# %% nbgrader={"grade": false, "grade_id": "a5-skip-backward", "locked": false, "schema_version": 3, "solution": true, "task": false}
def skip_block_backward(x, W1, W2, delta):
    """Gradients of y = W2 relu(W1 x) + x given delta = dL/dy.

    x: (d,), W1: (h, d), W2: (d, h), delta: (d,).
    Returns (dx, dW1, dW2) with the shapes of x, W1, W2.
    """
    ### BEGIN SOLUTION
    z = W1 @ x
    a = np.maximum(z, 0)
    dW2 = np.outer(delta, a)
    dz = (W2.T @ delta) * (z > 0)
    dW1 = np.outer(dz, x)
    dx = W1.T @ dz + delta
    return dx, dW1, dW2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-skip-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks that skip_block_backward returns dL/dx, dL/dW1, dL/dW2, including the skip path's delta.
rng = np.random.default_rng(5)
x = rng.normal(size=4)
W1 = rng.normal(size=(6, 4))
W2 = rng.normal(size=(4, 6))

grads = skip_block_backward(x, W1, W2, rng.normal(size=4))
assert isinstance(grads, tuple) and len(grads) == 3, "return the tuple (dx, dW1, dW2)"

# With W2 = 0 nothing flows through the layers: only the skip path is left, so dx must equal delta.
delta = rng.normal(size=4)
dx_only_skip = skip_block_backward(x, W1, np.zeros_like(W2), delta)[0]
assert np.allclose(dx_only_skip, delta), (
    "with W2 = 0 the only path from x to y is the skip connection, so dx must equal delta; "
    f"got {dx_only_skip} for delta {delta}. Did you forget to add delta for the skip path?"
)

check_gradients(
    skip_block_forward,
    {"x": x, "W1": W1, "W2": W2},
    lambda dout: skip_block_backward(x, W1, W2, dout),
).assert_ok()
print("skip_block_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
import numpy as _np
from autograder.hidden import engine_off as _engine_off, fresh_module as _fresh, quiet as _quiet

_gc = _fresh("minigrad.gradcheck")
with _quiet(), _engine_off():
    _x = _np.array([1.0, -2.0, 0.5])
    _W1 = _np.array([[1.0, 0.5, 2.0], [-1.0, -1.0, 0.0], [0.5, 0.0, -3.0]])
    _W2 = _np.array([[1.0, -1.0, 2.0], [0.0, 2.0, 1.0], [0.5, 1.0, -1.0]])
    _delta = _np.array([1.0, 0.5, -1.0])
    _dx, _dW1, _dW2 = skip_block_backward(_x, _W1, _W2, _delta)
    assert _np.allclose(_dx, [2.5, 1.75, 0.0], rtol=0, atol=1e-12)
    _want_dW1 = [[0.5, -1.0, 0.25], [-1.0, 2.0, -0.5], [0.0, 0.0, 0.0]]
    _want_dW2 = [[1.0, 1.0, 0.0], [0.5, 0.5, 0.0], [-1.0, -1.0, 0.0]]
    assert _np.allclose(_dW1, _want_dW1, rtol=0, atol=1e-12)
    assert _np.allclose(_dW2, _want_dW2, rtol=0, atol=1e-12)

    def _f_ref(x, W1, W2):
        return W2 @ _np.maximum(W1 @ x, 0.0) + x

    _rng = _np.random.default_rng(1234)
    for _d, _h, _dt in [(5, 7, _np.float64), (8, 3, _np.float64), (4, 6, _np.float32)]:
        _x = _rng.normal(size=_d).astype(_dt)
        _W1 = _rng.normal(size=(_h, _d)).astype(_dt)
        _W2 = _rng.normal(size=(_d, _h)).astype(_dt)
        _delta = _rng.normal(size=_d).astype(_dt)
        _out = skip_block_backward(_x, _W1, _W2, _delta)
        assert [_np.shape(_g) for _g in _out] == [(_d,), (_h, _d), (_d, _h)]
        assert all(_np.asarray(_g).dtype == _dt for _g in _out)
        _gc.check_gradients(
            _f_ref,
            {"x": _x, "W1": _W1, "W2": _W2},
            lambda _dout, _x=_x, _W1=_W1, _W2=_W2: skip_block_backward(_x, _W1, _W2, _dout),
            seed=7,
        ).assert_ok()
### END HIDDEN TESTS

# %% [markdown]
# ## 3. Weight sharing
#
# Now let one square matrix $W \in \mathbb{R}^{d \times d}$ play both roles:
#
# $$h = W x, \qquad a = \mathrm{relu}(h), \qquad y = W a .$$
#
# The graph has a single leaf $W$ with two children, the product $W x$ and the product $W a$.
# By the message-passing rule, $\bar W$ is the sum of the two messages:
#
# $$
# \bar W = \underbrace{\delta\, a^\top}_{\text{from } y = W a}
#   \; + \; \underbrace{\bar h\, x^\top}_{\text{from } h = W x},
# \qquad \bar h = R\, W^\top \delta .
# $$
#
# A useful way to see this is to give the two uses different names, $W_a$ and $W_b$,
# compute the two gradients as if the weights were independent, and then add them.
# The lecture's "small tweak to handle weight sharing" is exactly this sum.
# A common bug is to write the gradient of the second use over the first instead of adding to it.

# %%
def shared_weight_forward(x, W):
    """y = W relu(W x): the same matrix W is used twice."""
    return W @ np.maximum(W @ x, 0.0)


# %% [markdown]
# ### Exercise 2 (2 points): the gradient of a shared weight
#
# Write `shared_weight_backward(x, W, delta)` returning `(dx, dW)` for $y = W\,\mathrm{relu}(W x)$
# and upstream $\delta = \partial L / \partial y$.
# Numpy only, autograd is switched off in grading.

# %% nbgrader={"grade": false, "grade_id": "a5-shared-weight", "locked": false, "schema_version": 3, "solution": true, "task": false}
def shared_weight_backward(x, W, delta):
    """Gradients of y = W relu(W x) given delta = dL/dy.

    x: (d,), W: (d, d), delta: (d,). Returns (dx, dW); dW adds both uses of W.
    """
    ### BEGIN SOLUTION
    h = W @ x
    a = np.maximum(h, 0)
    dW = np.outer(delta, a)
    dh = (W.T @ delta) * (h > 0)
    dW = dW + np.outer(dh, x)
    dx = W.T @ dh
    return dx, dW
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-shared-weight-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that shared_weight_backward sums the gradient contributions of both uses of W.
rng = np.random.default_rng(6)
x = rng.normal(size=5)
W = rng.normal(size=(5, 5))
grads = shared_weight_backward(x, W, rng.normal(size=5))
assert isinstance(grads, tuple) and len(grads) == 2, "return the tuple (dx, dW)"

check_gradients(
    shared_weight_forward, {"x": x, "W": W}, lambda dout: shared_weight_backward(x, W, dout)
).assert_ok()
print("shared_weight_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
import numpy as _np
from autograder.hidden import engine_off as _engine_off, fresh_module as _fresh, quiet as _quiet

_gc = _fresh("minigrad.gradcheck")
with _quiet(), _engine_off():
    _x = _np.array([0.5, -1.0])
    _W = _np.array([[2.0, -1.0], [-1.0, 1.5]])
    _dx, _dW = shared_weight_backward(_x, _W, _np.array([1.0, -2.0]))
    assert _np.allclose(_dx, [8.0, -4.0], rtol=0, atol=1e-12)
    assert _np.allclose(_dW, [[4.0, -4.0], [-4.0, 0.0]], rtol=0, atol=1e-12)

    def _f_ref(x, W):
        return W @ _np.maximum(W @ x, 0.0)

    _rng = _np.random.default_rng(4321)
    for _d, _dt in [(3, _np.float64), (7, _np.float64), (6, _np.float32)]:
        _x = _rng.normal(size=_d).astype(_dt)
        _W = _rng.normal(size=(_d, _d)).astype(_dt)
        _delta = _rng.normal(size=_d).astype(_dt)
        _out = shared_weight_backward(_x, _W, _delta)
        assert [_np.shape(_g) for _g in _out] == [(_d,), (_d, _d)]
        assert all(_np.asarray(_g).dtype == _dt for _g in _out)
        _gc.check_gradients(
            _f_ref,
            {"x": _x, "W": _W},
            lambda _dout, _x=_x, _W=_W: shared_weight_backward(_x, _W, _dout),
            seed=3,
        ).assert_ok()
### END HIDDEN TESTS

# %% [markdown]
# minigrad does the same sum for us.
# When a leaf tensor is used twice, `backward()` accumulates both messages into its `.grad`.
# Here we check that against our hand-written answer.

# %%
rng = np.random.default_rng(13)
x_np, W_np, delta_np = rng.normal(size=4), rng.normal(size=(4, 4)), rng.normal(size=4)
W_t = mg.Tensor(W_np, requires_grad=True)
y_t = W_t @ (W_t @ mg.Tensor(x_np)).relu()
y_t.backward(delta_np)
print("autograd dW:\n", W_t.grad)
print("by hand dW:\n", shared_weight_backward(x_np, W_np, delta_np)[1])

# %% [markdown]
# ## 4. A parameterized program with branches
#
# The lecture describes a neural network as a *parameterized program*:
# a fixed program built from base functions $f_i$,
# with weights that gradient descent is allowed to change.
# The running example maps two inputs $P$ and $Q$ to one number:
#
# ```
# A = W0 * P
# B = f0(A, Q)
# C = W1 * B
# D = W2 * B
# E = f1(C)
# F = f2(D)
# R = f3(E, F)
# ```
#
# We use the vector version of it: $p \in \mathbb{R}^2$, $q \in \mathbb{R}^3$,
# $W_0 \in \mathbb{R}^{3 \times 2}$, $W_1, W_2 \in \mathbb{R}^{2 \times 3}$, and the base functions
#
# $$
# f_0(A, Q) = \tanh(A + Q), \quad f_1(C) = \sigma(C), \quad f_2(D) = \tanh(D),
# \quad f_3(E, F) = \textstyle\sum_k E_k F_k ,
# $$
#
# where $\sigma$ is the logistic sigmoid and $f_0, f_1, f_2$ act elementwise.
# The output $R$ is a scalar.
#
# The graph is not a chain.
# $B$ has two children, $C$ and $D$, and the two branches meet again in $f_3$.
# So there are two paths from $W_0$ to $R$,
# and $\partial R / \partial W_0$ is a sum over both paths,
# while $W_1$ and $W_2$ each have a single path.
# Summing over paths by enumeration would cost time exponential in the number of such diamonds;
# the backward sweep collects the sum at $B$ once and passes it on.
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
    A = W0 @ p
    B = np.tanh(A + q)
    C = W1 @ B
    D = W2 @ B
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
# for one sample.
# Call `program_forward` for the stored values, start from $\bar R = 1$,
# and visit $F, E, D, C, B, A$ in that order (a reverse topological order).
# At $B$ two messages arrive, one from $C$ and one from $D$.
# Numpy only: autograd is switched off in grading.

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
    dW1 = np.outer(dC, v["B"])
    dW2 = np.outer(dD, v["B"])
    dB = W1.T @ dC + W2.T @ dD
    dA = dB * (1 - v["B"] ** 2)
    dW0 = np.outer(dA, p)
    return dW0, dW1, dW2
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-program-backward-test", "locked": true, "points": 3, "schema_version": 3, "solution": false, "task": false}
# Checks program_backward against finite differences of program_value.
rng = np.random.default_rng(7)
W0, W1, W2 = rng.normal(size=(3, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))
p, q = rng.normal(size=2), rng.normal(size=3)
grads = program_backward(W0, W1, W2, p, q)
assert isinstance(grads, tuple) and len(grads) == 3, "return the tuple (dW0, dW1, dW2)"

check_gradients(
    lambda W0, W1, W2: program_value(W0, W1, W2, p, q),
    {"W0": W0, "W1": W1, "W2": W2},
    dict(zip(["W0", "W1", "W2"], grads)),
).assert_ok()
print("program_backward agrees with finite differences")

### BEGIN HIDDEN TESTS
import numpy as _np
from autograder.hidden import engine_off as _engine_off, fresh_module as _fresh, quiet as _quiet

_gc = _fresh("minigrad.gradcheck")


def _R_ref(W0, W1, W2, p, q):
    _B = _np.tanh(W0 @ p + q)
    return _np.sum(1.0 / (1.0 + _np.exp(-(W1 @ _B))) * _np.tanh(W2 @ _B))


with _quiet(), _engine_off():
    _W0 = _np.array([[0.5, -1.0], [1.0, 0.0], [0.0, 2.0]])
    _W1 = _np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])
    _W2 = _np.array([[-0.5, 1.0, 1.0], [1.5, 0.0, -2.0]])
    _p = _np.array([1.0, -0.5])
    _q = _np.array([0.0, 0.5, -1.0])
    _dW0, _dW1, _dW2 = program_backward(_W0, _W1, _W2, _p, _q)
    assert _np.allclose(_dW0, [
        [-0.0950115846018866, 0.0475057923009433],
        [0.0890706848194328, -0.0445353424097164],
        [0.012070603308382973, -0.006035301654191486],
    ], rtol=1e-9, atol=1e-12)
    assert _np.allclose(_dW1, [
        [-0.07148182476455349, -0.08495554797395528, 0.09048185310809893],
        [0.041918969836812876, 0.04982034334909841, -0.053061125449866305],
    ], rtol=1e-9, atol=1e-12)
    assert _np.allclose(_dW2, [
        [0.22007160706599457, 0.26155325543776115, -0.27856713072723377],
        [0.006147167371903875, 0.007305856758523593, -0.007781098160372058],
    ], rtol=1e-9, atol=1e-12)

    _rng = _np.random.default_rng(99)
    for _dt in (_np.float64, _np.float64, _np.float32):
        _W0 = _rng.normal(size=(3, 2)).astype(_dt)
        _W1 = _rng.normal(size=(2, 3)).astype(_dt)
        _W2 = _rng.normal(size=(2, 3)).astype(_dt)
        _p = _rng.normal(size=2).astype(_dt)
        _q = _rng.normal(size=3).astype(_dt)
        _out = program_backward(_W0, _W1, _W2, _p, _q)
        assert [_np.shape(_g) for _g in _out] == [(3, 2), (2, 3), (2, 3)]
        assert all(_np.asarray(_g).dtype == _dt for _g in _out)
        _gc.check_gradients(
            lambda W0, W1, W2, _p=_p, _q=_q: _R_ref(W0, W1, W2, _p, _q),
            {"W0": _W0, "W1": _W1, "W2": _W2},
            dict(zip(["W0", "W1", "W2"], _out)),
        ).assert_ok()
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
    B = (W0 @ p + q).tanh()
    E = (W1 @ B).sigmoid()
    F = (W2 @ B).tanh()
    return (E * F).sum()
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-program-graph-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks that program_R computes the program's value as a differentiable minigrad graph.
rng = np.random.default_rng(8)
arrays = [rng.normal(size=(3, 2)), rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
p, q = rng.normal(size=2), rng.normal(size=3)
tensors = [mg.Tensor(a, requires_grad=True) for a in arrays]
R = program_R(*tensors, mg.Tensor(p), mg.Tensor(q))
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
import numpy as _np
from autograder.hidden import fresh_module as _fresh, quiet as _quiet

_gc = _fresh("minigrad.gradcheck")


def _R_ref(W0, W1, W2, p, q):
    _B = _np.tanh(W0 @ p + q)
    return _np.sum(1.0 / (1.0 + _np.exp(-(W1 @ _B))) * _np.tanh(W2 @ _B))


with _quiet():
    _W0 = _np.array([[0.5, -1.0], [1.0, 0.0], [0.0, 2.0]])
    _W1 = _np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -1.0]])
    _W2 = _np.array([[-0.5, 1.0, 1.0], [1.5, 0.0, -2.0]])
    _p = _np.array([1.0, -0.5])
    _q = _np.array([0.0, 0.5, -1.0])
    _ts = [mg.Tensor(_a.copy(), requires_grad=True) for _a in (_W0, _W1, _W2)]
    _R = program_R(*_ts, mg.Tensor(_p), mg.Tensor(_q))
    assert _np.shape(_R.data) == ()
    assert _np.isclose(float(_R.data), 0.7931597716912473, rtol=1e-12, atol=1e-12)
    _R.backward()
    _gc.check_gradients(
        lambda W0, W1, W2: _R_ref(W0, W1, W2, _p, _q),
        {"W0": _W0, "W1": _W1, "W2": _W2},
        {"W0": _ts[0].grad, "W1": _ts[1].grad, "W2": _ts[2].grad},
    ).assert_ok()
    _rng = _np.random.default_rng(2024)
    _ts = [mg.Tensor(_rng.normal(size=_s), requires_grad=True) for _s in ((3, 2), (2, 3), (2, 3))]
    _pq = (mg.Tensor(_rng.normal(size=2)), mg.Tensor(_rng.normal(size=3)))
    _gc.gradcheck(lambda W0, W1, W2: program_R(W0, W1, W2, *_pq), *_ts).assert_ok()
### END HIDDEN TESTS

# %% [markdown]
# Here is the graph minigrad built for one sample, drawn after `backward()`.
# The node for $B$ (the output of the first `tanh`) has two outgoing edges, one into each branch;
# its gradient is the sum of the messages that came back along them.

# %%
rng = np.random.default_rng(3)
W_show = [
    mg.Tensor(rng.normal(size=shape), requires_grad=True, name=f"W{i}")
    for i, shape in enumerate([(3, 2), (2, 3), (2, 3)])
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
    """Samples (P, Q, T) from the program with fixed teacher weights plus noise of std 0.01."""
    teacher = np.random.default_rng(2718)
    W0 = teacher.normal(size=(3, 2))
    W1 = teacher.normal(size=(2, 3))
    W2 = teacher.normal(size=(2, 3))
    rng = np.random.default_rng(seed)
    P = rng.normal(size=(n, 2))
    Q = 0.5 * rng.normal(size=(n, 3))
    T = np.array([program_value(W0, W1, W2, p, q) for p, q in zip(P, Q)])
    return P, Q, T + 0.01 * rng.normal(size=n)


def init_program_weights(seed):
    """Small random starting weights (W0, W1, W2)."""
    rng = np.random.default_rng(seed)
    return (
        0.5 * rng.normal(size=(3, 2)),
        0.5 * rng.normal(size=(2, 3)),
        0.5 * rng.normal(size=(2, 3)),
    )


P_train, Q_train, T_train = make_program_data(64, seed=0)
print(P_train.shape, Q_train.shape, T_train.shape)

# %% [markdown]
# ### Exercise 5 (2 points): the per-sample training loop
#
# Write `train_program(weights, P, Q, T, lr, epochs, progress=True)`.
# `weights` is a tuple of three arrays `(W0, W1, W2)`; do not modify them, work on copies.
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

# %% nbgrader={"grade": false, "grade_id": "a5-program-train", "locked": false, "schema_version": 3, "solution": true, "task": false}
def train_program(weights, P, Q, T, lr, epochs, progress=True):
    """Full-batch gradient descent on the program, accumulating per-sample gradients.

    Returns (new_weights, losses): a tuple of three arrays and an array of shape (epochs,).
    """
    ### BEGIN SOLUTION
    Ws = [mg.Tensor(np.array(w, dtype=float), requires_grad=True) for w in weights]
    n = len(T)
    losses = np.zeros(epochs)
    for epoch in trange(epochs, disable=not progress, desc="epochs"):
        for w in Ws:
            w.grad = None
        squared = 0.0
        for p, q, t in zip(P, Q, T):
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
# Checks that train_program takes the lecture's gradient-descent steps and reports the losses.
start = init_program_weights(seed=1)
start_copy = [w.copy() for w in start]
P_small, Q_small, T_small = P_train[:16], Q_train[:16], T_train[:16]
new_weights, losses = train_program(
    start, P_small, Q_small, T_small, lr=0.3, epochs=3, progress=False
)
assert all(np.array_equal(a, b) for a, b in zip(start, start_copy)), (
    "train_program changed its input weights: work on copies"
)
assert len(new_weights) == 3, "return the weights as a tuple (W0, W1, W2)"
assert np.shape(losses) == (3,), f"losses must have shape (epochs,) = (3,), got {np.shape(losses)}"

# The first loss is the mean squared error at the starting weights.
mse_start = np.mean(
    [(t - program_value(*start, p, q)) ** 2 for p, q, t in zip(P_small, Q_small, T_small)]
)
assert np.isclose(losses[0], mse_start), (
    f"losses[0] = {losses[0]}, but the MSE at the starting weights is {mse_start}"
)

# One epoch must be one step along the mean gradient of the squared error.
one_step, _ = train_program(start, P_small, Q_small, T_small, lr=0.3, epochs=1, progress=False)
Ws = [mg.Tensor(w, requires_grad=True) for w in start]
total = None
for p, q, t in zip(P_small, Q_small, T_small):
    diff = program_R(*Ws, mg.Tensor(p), mg.Tensor(q)) - t
    total = diff * diff if total is None else total + diff * diff
(total * (1.0 / len(T_small))).backward()
for name, w, w_new in zip(["W0", "W1", "W2"], Ws, one_step):
    expected = w.data - 0.3 * w.grad
    assert np.allclose(w_new, expected), (
        f"after one epoch {name} is not W - lr * dLoss/dW; "
        f"largest difference {np.max(np.abs(w_new - expected)):.3g}. "
        "Check the -2/N scaling and that gradients are reset at the start of each epoch."
    )
print("train_program takes the right steps")

### BEGIN HIDDEN TESTS
import numpy as _np
from autograder.hidden import quiet as _quiet


def _ref_train(weights, P, Q, T, lr, epochs):
    _Ws = [_np.array(_w, dtype=float) for _w in weights]
    _losses = []
    for _ in range(epochs):
        _G = [_np.zeros_like(_w) for _w in _Ws]
        _sq = 0.0
        for _p, _q, _t in zip(P, Q, T):
            _B = _np.tanh(_Ws[0] @ _p + _q)
            _E = 1.0 / (1.0 + _np.exp(-(_Ws[1] @ _B)))
            _F = _np.tanh(_Ws[2] @ _B)
            _err = _t - _np.sum(_E * _F)
            _sq += _err**2
            _dC = _F * _E * (1 - _E)
            _dD = _E * (1 - _F**2)
            _dA = (_Ws[1].T @ _dC + _Ws[2].T @ _dD) * (1 - _B**2)
            _G[0] += _err * _np.outer(_dA, _p)
            _G[1] += _err * _np.outer(_dC, _B)
            _G[2] += _err * _np.outer(_dD, _B)
        _losses.append(_sq / len(T))
        _Ws = [_w - lr * (-2.0 / len(T)) * _g for _w, _g in zip(_Ws, _G)]
    return _Ws, _np.array(_losses)


with _quiet():
    _rng = _np.random.default_rng(77)
    _P = _rng.normal(size=(12, 2))
    _Q = 0.5 * _rng.normal(size=(12, 3))
    _T = _rng.uniform(-0.5, 0.5, size=12)
    _start = tuple(0.4 * _rng.normal(size=_s) for _s in ((3, 2), (2, 3), (2, 3)))
    _got_w, _got_losses = train_program(_start, _P, _Q, _T, lr=0.2, epochs=15, progress=False)
    _ref_w, _ref_losses = _ref_train(_start, _P, _Q, _T, lr=0.2, epochs=15)
    assert _np.shape(_got_losses) == (15,)
    assert _np.asarray(_got_losses).dtype == _np.float64
    assert _np.isclose(_got_losses[0], 0.10604243126167895, rtol=1e-10, atol=0)
    assert _np.isclose(_got_losses[-1], 0.07738017269469331, rtol=1e-8, atol=0)
    assert _np.allclose(_got_losses, _ref_losses, rtol=1e-8, atol=1e-12)
    assert len(_got_w) == 3
    for _g, _r in zip(_got_w, _ref_w):
        assert _np.shape(_g) == _np.shape(_r)
        assert _np.asarray(_g).dtype == _np.float64
        assert _np.allclose(_g, _r, rtol=1e-8, atol=1e-12)
    assert _got_losses[-1] < _got_losses[0]
### END HIDDEN TESTS

# %% [markdown]
# Now we train on all 64 samples and watch the loss.

# %%
weights_fit, losses_fit = train_program(
    init_program_weights(seed=6), P_train, Q_train, T_train, lr=1.0, epochs=150
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
# A residual block wraps a small network $g$ and adds its input back: $y = x + g(x)$.
# Its Jacobian is $I + \partial g / \partial x$, so a message passing backwards through it is
# $\bar x = \bar y + (\partial g / \partial x)^\top \bar y$.
# Stack $L$ blocks and the message reaching the first one contains the term $\bar y$ itself,
# plus corrections; in a plain network it is only the product of $L$ layer Jacobians,
# which can shrink or grow geometrically with depth.
#
# ### Exercise 6 (2 points): a residual block as a module
#
# Write the class `ResidualBlock(dim, hidden, seed=None)`, a subclass of `mg.nn.Module`,
# with two attributes:
# `fc1 = mg.nn.Linear(dim, hidden, seed=seed)` and
# `fc2 = mg.nn.Linear(hidden, dim, seed=None if seed is None else seed + 1)`.
# Its `forward(x)` takes a batch `x` of shape `(n, dim)` and returns `x + fc2(relu(fc1(x)))`.
# (A `mg.nn.Linear` layer computes `x @ W + b`; its parameters are the attributes `W` and `b`.)
# `parameters()` then finds the four parameters of the two layers by itself.
# minigrad also ships `mg.nn.Residual(module)`, which wraps any module the same way;
# here we write the block out so that its two layers have names we can inspect.

# %% nbgrader={"grade": false, "grade_id": "a5-residual-block", "locked": false, "schema_version": 3, "solution": true, "task": false}
class ResidualBlock(mg.nn.Module):
    """y = x + fc2(relu(fc1(x))) on a batch x of shape (n, dim)."""

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
block = ResidualBlock(4, 6, seed=0)
assert isinstance(block, mg.nn.Module), "ResidualBlock must subclass mg.nn.Module"
params = block.parameters()
assert len(params) == 4, f"expected 4 parameters (two weights, two biases), got {len(params)}"

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
import numpy as _np
from autograder.hidden import fresh_module as _fresh, quiet as _quiet

_gc = _fresh("minigrad.gradcheck")
with _quiet():
    _blk = ResidualBlock(3, 2, seed=5)
    _b2 = ResidualBlock(3, 2, seed=5)
    for _a, _b in zip(_blk.parameters(), _b2.parameters()):
        assert _np.array_equal(_a.data, _b.data)
    assert _blk.fc1.W.shape == (3, 2)
    assert _blk.fc2.W.shape == (2, 3)
    _vals = {
        "W1": _np.array([[0.5, -1.0], [1.0, 0.25], [-0.5, 0.75]]),
        "b1": _np.array([0.1, -0.2]),
        "W2": _np.array([[1.0, -0.5, 0.25], [-0.75, 0.5, 1.5]]),
        "b2": _np.array([0.05, 0.0, -0.1]),
    }
    _x = _np.array([[1.0, -1.0, 0.5], [0.0, 2.0, -0.5], [-1.5, 0.25, 1.0], [0.3, 0.3, -2.0]])

    def _f_ref(x, W1, b1, W2, b2):
        return x + _np.maximum(x @ W1 + b1, 0.0) @ W2 + b2

    def _analytic(dout):
        _blk.fc1.W.data = _vals["W1"].copy()
        _blk.fc1.b.data = _vals["b1"].copy()
        _blk.fc2.W.data = _vals["W2"].copy()
        _blk.fc2.b.data = _vals["b2"].copy()
        for _t in _blk.parameters():
            _t.grad = None
        _xt = mg.Tensor(_x.copy(), requires_grad=True)
        _blk(_xt).backward(_np.asarray(dout))
        return (_xt.grad, _blk.fc1.W.grad, _blk.fc1.b.grad, _blk.fc2.W.grad, _blk.fc2.b.grad)

    _analytic(_np.zeros((4, 3)))
    _y = _blk(mg.Tensor(_x)).data
    assert _np.shape(_y) == (4, 3)
    _want = [
        [1.05, -1.0, 0.4],
        [2.4, 0.825, -0.0125],
        [-3.034375, 1.30625, 4.06875],
        [1.9, -0.475, -1.7125],
    ]
    assert _np.allclose(_y, _want, rtol=0, atol=1e-12)
    assert _np.allclose(_y, _f_ref(_x, **_vals), rtol=1e-12, atol=1e-12)
    _gc.check_gradients(_f_ref, {"x": _x, **_vals}, _analytic).assert_ok()
### END HIDDEN TESTS

# %% [markdown]
# ### Plain against residual: gradients at initialisation
#
# We build two networks with the same number of weight layers.
# Both map a scalar input to a scalar output:
# a linear layer from 1 to 32 units, a body of 20 linear layers of width 32,
# and a linear layer back to 1.
# In the plain network each body layer is followed by a relu.
# In the residual network the body layers come in pairs, as 10 `ResidualBlock`s.
# `hidden_layers()` lists the 20 body layers from the input side to the output side.

# %% nbgrader={"grade": false, "grade_id": "a5-deepnet", "locked": true, "schema_version": 3, "solution": false, "task": false}
class DeepNet(mg.nn.Module):
    """Scalar-in, scalar-out network with a body of `depth` linear layers, plain or residual."""

    def __init__(self, depth=20, width=32, residual=False, seed=0):
        self.residual = residual
        self.inp = mg.nn.Linear(1, width, seed=seed)
        if residual:
            self.body = [
                ResidualBlock(width, width, seed=seed + 10 + 2 * i) for i in range(depth // 2)
            ]
        else:
            self.body = [mg.nn.Linear(width, width, seed=seed + 10 + i) for i in range(depth)]
        self.out = mg.nn.Linear(width, 1, seed=seed + 1)

    def hidden_layers(self):
        if self.residual:
            return [layer for block in self.body for layer in (block.fc1, block.fc2)]
        return list(self.body)

    def forward(self, x):
        h = self.inp(x).relu()
        for layer in self.body:
            h = layer(h) if self.residual else layer(h).relu()
        return self.out(h)


# %% [markdown]
# ### Exercise 7 (2 points): per-layer gradient norms
#
# Write `layer_grad_norms(net, x, y)`.
# It resets the gradients of `net`, computes the loss `mg.functional.mse_loss(net(x), y)`,
# backpropagates it once, and returns a float numpy array
# with one entry per layer in `net.hidden_layers()`:
# the Frobenius norm $\lVert \partial L / \partial W \rVert$
# of that layer's weight gradient `layer.W.grad`.
# Calling it twice on the same network must give the same numbers.

# %% nbgrader={"grade": false, "grade_id": "a5-layer-grad-norms", "locked": false, "schema_version": 3, "solution": true, "task": false}
def layer_grad_norms(net, x, y):
    """Frobenius norms of dL/dW for every layer in net.hidden_layers(), with L the MSE loss."""
    ### BEGIN SOLUTION
    net.zero_grad()
    mg.functional.mse_loss(net(x), y).backward()
    return np.array([np.linalg.norm(layer.W.grad) for layer in net.hidden_layers()])
    ### END SOLUTION


# %% nbgrader={"grade": true, "grade_id": "a5-layer-grad-norms-test", "locked": true, "points": 2, "schema_version": 3, "solution": false, "task": false}
# Checks layer_grad_norms on a small plain network: one norm per layer, grads reset each call.
rng = np.random.default_rng(12)
small = DeepNet(depth=4, width=5, residual=False, seed=3)
xs, ys = mg.Tensor(rng.normal(size=(8, 1))), mg.Tensor(rng.normal(size=(8, 1)))
norms = layer_grad_norms(small, xs, ys)
assert np.shape(norms) == (4,), (
    f"expected one norm per hidden layer, shape (4,), got {np.shape(norms)}"
)
small.zero_grad()
mg.functional.mse_loss(small(xs), ys).backward()
expected = [np.sqrt(np.sum(layer.W.grad ** 2)) for layer in small.hidden_layers()]
assert np.allclose(norms, expected), f"got {norms}, expected {np.array(expected)}"
again = layer_grad_norms(small, xs, ys)
assert np.allclose(again, norms), "a second call gave different norms: reset the gradients first"
print("layer_grad_norms works")

### BEGIN HIDDEN TESTS
import numpy as _np
from autograder.hidden import quiet as _quiet


class _Net(mg.nn.Module):
    def __init__(self):
        self.layers = [
            mg.nn.Linear(2, 3, seed=40),
            mg.nn.Linear(3, 3, seed=41),
            mg.nn.Linear(3, 1, seed=42),
        ]

    def hidden_layers(self):
        return self.layers[:2]

    def forward(self, x):
        h = self.layers[0](x).tanh()
        h = self.layers[1](h).tanh()
        return self.layers[2](h)


def _ref_norms(net, x, y):
    _Ws = [_l.W.data for _l in net.layers]
    _bs = [_l.b.data for _l in net.layers]
    _h1 = _np.tanh(x @ _Ws[0] + _bs[0])
    _h2 = _np.tanh(_h1 @ _Ws[1] + _bs[1])
    _out = _h2 @ _Ws[2] + _bs[2]
    _dout = 2.0 * (_out - y) / _out.size
    _dh2 = (_dout @ _Ws[2].T) * (1 - _h2**2)
    _dW1 = _h1.T @ _dh2
    _dh1 = (_dh2 @ _Ws[1].T) * (1 - _h1**2)
    _dW0 = x.T @ _dh1
    return _np.array([_np.linalg.norm(_dW0), _np.linalg.norm(_dW1)])


with _quiet():
    _rng = _np.random.default_rng(55)
    _net = _Net()
    _x = _rng.normal(size=(6, 2))
    _y = _rng.normal(size=(6, 1))
    _want = _ref_norms(_net, _x, _y)
    for _ in range(3):
        _got = layer_grad_norms(_net, mg.Tensor(_x), mg.Tensor(_y))
        assert _np.shape(_got) == (2,)
        assert _np.asarray(_got).dtype == _np.float64
        assert _np.allclose(_got, _want, rtol=1e-9, atol=1e-12)
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
    per_layer = np.exp(np.mean(np.log(runs[:, 10:] / runs[:, 9:-1])))
    print(
        f"{name:>8}: last/first layer norm ratio {np.mean(runs[:, -1] / runs[:, 0]):9.3g}, "
        f"factor per layer over layers 10-20: {per_layer:.2f}"
    )

# %% [markdown]
# The plain network's gradient shrinks by a roughly constant factor at every layer on its way down,
# so the first layers receive a gradient millions of times smaller than the last ones.
# That is the product of 20 Jacobians at work.
# minigrad's `Linear` draws its weights uniformly
# from $[-1/\sqrt{n_\text{in}}, 1/\sqrt{n_\text{in}}]$, a variance of $1/(3 n_\text{in})$,
# and a relu passes on about half of the signal,
# so each layer multiplies the squared norm of a message by about $1/6$,
# and its norm by about $\sqrt{1/6} \approx 0.41$, close to the factor we measured.
# Initialisation schemes such as He's pick the weight scale so that this factor is near one;
# the skip connection removes the dependence on that choice.
#
# In the residual network every block hands $\bar y$ to its input unchanged and adds a correction,
# so the norms stay of the same order from the last layer to the first.

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

# %% [markdown]
# The plain network does not learn:
# its loss settles at the variance of the targets, the loss of predicting their mean,
# because the only parameters that receive a usable gradient sit next to the output.
# The residual network, with the same depth, the same initialisation and the same optimizer,
# fits the curve down to about the noise level of the data ($0.1^2 = 0.01$).

# %% [markdown]
# ## Summary
#
# * Backpropagation is message passing: each node sums what its children send it and forwards
#   its local transfer of that sum to its parents, in reverse topological order.
# * A skip connection adds $\delta$ to the input's gradient:
#   $\bar x = W_1^\top R\, W_2^\top \delta + \delta$.
# * A weight used twice receives two messages; its gradient is their sum.
# * A program with branches needs nothing new: the value that fans out adds its messages,
#   and the lecture's loop accumulates per-sample gradients, which `backward()` does for us.
# * In deep plain networks the gradient reaching early layers is a long product of Jacobians;
#   residual blocks add an identity path,
#   so early layers receive a gradient of the same size as late ones,
#   and the network trains.
