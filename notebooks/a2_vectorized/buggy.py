"""The typical wrong submission of assignment 2: seven mistakes, each in its own exercise.

1. Exercise 1: `vjp_linear` goes through `numerical_jacobian` (finite differences) instead of
   the exact rule `v @ W.T`; only the vjp_linear part loses its point.
2. Exercise 2: any split of the tie that adds up to 1 is taken for a subgradient, the negative
   share of candidate c too.
3. Exercise 3: `tanh_layer_vjp` pulls v back through the linear node only and forgets the
   slope of tanh; only the VJP part loses its points.
4. Exercise 4: `affine_backward` accumulates into `np.zeros(...)` without a dtype, so float32
   inputs give float64 gradients. Exercises 8 and 10 call it and lose nothing: they are judged
   on their own.
5. Exercise 5: `sigmoid_backward` applies the sigmoid again to the forward output `s`; only
   the sigmoid part loses its point.
6. Exercise 6: `sum_backward` multiplies by a float64 `np.ones(x_shape)`, so a float32 `dout`
   gives a float64 gradient; only the sum_backward part loses its point.
7. Exercise 9: the spot-the-bug layer keeps `np.max(p, 0)` where `np.maximum(p, 0)` is meant.

Every other answer is the solution.
"""

BUGS = [
    {
        "mistake": 'vjp_linear builds the full Jacobian with numerical_jacobian and multiplies by v: finite differences instead of the exact rule A.T @ v.',
        "cells": {
            'a2-transfer-jacobians': '''def jacobian_map(g_prime, x):
    """Jacobian (n, n) of x -> g(x) applied elementwise; g_prime(x) gives g' at every entry."""
    return np.diag(g_prime(np.asarray(x)))


def jacobian_sum(x):
    """Jacobian (1, n) of x -> x.sum()."""
    x = np.asarray(x, dtype=float)
    return np.ones((1, x.size), dtype=x.dtype)


def jacobian_max(x):
    """Jacobian (1, n) of x -> x.max(); tied maxima share the derivative equally."""
    x = np.asarray(x, dtype=float)
    winners = (x == x.max()).astype(x.dtype)
    return (winners / winners.sum())[None, :]


def vjp_linear(W, v):
    """x-bar for y = x @ W, given v = y-bar of shape (m,); W has shape (n, m). Returns (n,)."""
    J = numerical_jacobian(lambda x: x @ W, np.zeros(W.shape[0]))
    return v @ J


def grad_weight_linear(x, v):
    """W-bar for y = x @ W, given the input x of shape (n,) and v = y-bar of shape (m,)."""
    return np.outer(x, v)
''',
        },
        "loses": {'a2-vjp-linear-test': 1.0},
        "says": 'vjp_linear called numerical_jacobian',
    },
    {
        "mistake": 'Any split of the tie that adds up to 1 is taken for a subgradient, so candidate c, with a negative share, is chosen too.',
        "cells": {
            'a2-subgradient-splits': '''# subgradient_splits: the set of letters of the candidates that are subgradients of the max
# at x = (1, 3, 3)
subgradient_splits = {"a", "b", "c"}
''',
        },
        "loses": {'a2-subgradient-splits-test': 2.0},
        "says": 'c gives x_3 a negative share',
    },
    {
        "mistake": 'tanh_layer_vjp pulls v back through the linear node only (v @ A.T) and forgets the slope 1 - y**2 of tanh.',
        "cells": {
            'a2-tanh-layer-modes': '''def tanh_layer_jvp(x, A, u):
    """(y, J u) for y = tanh(x @ A): the output and its change along the direction u."""
    y = np.tanh(x @ A)
    return y, (1.0 - y**2) * (u @ A)


def tanh_layer_vjp(y, A, v):
    """v J for y = tanh(x @ A), given the output y and the error signal v of y."""
    return v @ A.T
''',
        },
        "loses": {'a2-tanh-vjp-test': 2.0},
        "says": 'tanh_layer_vjp(',
    },
    {
        "mistake": 'affine_backward accumulates into np.zeros(...) without a dtype, so float32 inputs give float64 dx and dW; exercises 6 and 8 call it and are judged on their own.',
        "cells": {
            'a2-affine-backward': '''def affine_forward(x, W, b):
    """z = x @ W + b for x of shape (n_in,), W of shape (n_in, n_out), b of shape (n_out,)."""
    return x @ W + b


def affine_backward(dz, x, W):
    """Return (dx, dW, db) for z = x @ W + b, given dz = dL/dz of shape (n_out,)."""
    dx = np.zeros(W.shape[0])
    dW = np.zeros(W.shape)
    for j in range(dz.shape[0]):
        dx += W[:, j] * dz[j]
        dW[:, j] = x * dz[j]
    db = dz.copy()
    return dx, dW, db
''',
        },
        "loses": {'a2-affine-backward-test': 2.0},
        "says": 'must be a float32 array like its inputs, got float64',
    },
    {
        "mistake": 'sigmoid_backward applies the sigmoid again to its argument, which is already the forward output s.',
        "cells": {
            'a2-activation-backward': '''def relu_backward(dout, z):
    """dL/dz for h = relu(z), given dout = dL/dh and the input z."""
    return dout * (z > 0)


def sigmoid_backward(dout, s):
    """dL/dz for s = sigmoid(z), given dout = dL/ds and the output s."""
    sig = 1 / (1 + np.exp(-s))
    return dout * sig * (1 - sig)


def tanh_backward(dout, t):
    """dL/dz for t = tanh(z), given dout = dL/dt and the output t."""
    return dout * (1 - t**2)
''',
        },
        "loses": {'a2-sigmoid-backward-test': 1.0},
        "says": 'sigmoid_backward(dout=[2.0, -1.0, 0.5], s=[0.2, 0.5, 0.9]): wrong values',
    },
    {
        "mistake": 'sum_backward multiplies by np.ones(x_shape), a float64 array, so a float32 dout gives a float64 gradient.',
        "cells": {
            'a2-reduce-backward': '''def sum_backward(dout, x_shape, axis=None, keepdims=False):
    """dL/dx of shape x_shape for y = x.sum(axis=axis, keepdims=keepdims), given dout = dL/dy."""
    dout = np.asarray(dout)
    if axis is not None and not keepdims:
        dout = np.expand_dims(dout, axis)
    return np.ones(x_shape) * dout


def max_backward(dout, x, axis=None, keepdims=False):
    """dL/dx for y = x.max(axis=axis, keepdims=keepdims); tied maxima share the error equally."""
    x = np.asarray(x)
    dout = np.asarray(dout)
    winners = (x == x.max(axis=axis, keepdims=True)).astype(dout.dtype)
    winners /= winners.sum(axis=axis, keepdims=True)
    if axis is not None and not keepdims:
        dout = np.expand_dims(dout, axis)
    return winners * dout


def unbroadcast(grad, shape):
    """Sum grad (the gradient of a broadcast result) down to an operand of the given shape."""
    grad = np.asarray(grad)
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    ones = tuple(i for i, size in enumerate(shape) if size == 1 and grad.shape[i] != 1)
    if ones:
        grad = grad.sum(axis=ones, keepdims=True)
    return grad
''',
        },
        "loses": {'a2-reduce-backward-test': 1.0},
        "says": 'sum_backward(float32 dout',
    },
    {
        "mistake": 'layer_loss_and_grads keeps np.max(p, 0), one number, where the elementwise ReLU np.maximum(p, 0) is meant.',
        "cells": {
            'a2-spot-the-bug': '''def layer_loss_and_grads(x, W, y, z):
    """L = sum((relu(x @ W) - y)**2 + z) and the gradients for x, W, y, z (as a dict)."""
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
''',
        },
        "loses": {'a2-spot-the-bug-test': 2.0},
        "says": 'relu applies to each entry, so the loss must be 4.1',
    },
]
