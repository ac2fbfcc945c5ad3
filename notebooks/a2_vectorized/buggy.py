"""A sample submission for assignment 2 with a typical bug: `np.max` where `np.maximum` is meant.

The student writes the ReLU of the two-layer network as `np.max(z1, 0)`, which returns one
number (the largest entry) instead of an elementwise ReLU, and, making the same mistake,
leaves the spot-the-bug layer unchanged. Every other answer is the solution.
"""

BUGS = [
    {
        "mistake": 'A sample submission for assignment 2 with a typical bug: `np.max` where `np.maximum` is meant.',
        "cells": {
            'a2-mlp-backward': '''def mlp_loss_and_grads(x, y, W1, b1, W2, b2):
    """Loss ||relu(x @ W1 + b1) @ W2 + b2 - y||^2 and its gradients W1, b1, W2, b2."""
    z1 = x @ W1 + b1
    h = np.max(z1, 0)
    y_hat = h @ W2 + b2
    loss = float(np.sum((y_hat - y) ** 2))
    dy_hat = 2 * (y_hat - y)
    dW2 = np.outer(h, dy_hat)
    db2 = dy_hat
    dh = W2 @ dy_hat
    dz1 = dh * (z1 > 0)
    dW1 = np.outer(x, dz1)
    db1 = dz1
    return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}
''',
        },
        "loses": {'a2-mlp-backward-test': 4.0},
    },
    {
        "mistake": 'A sample submission for assignment 2 with a typical bug: `np.max` where `np.maximum` is meant.',
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
    },
]
