"""The buggy sample submission of assignment 3: five typical mistakes, one per exercise.

1. mse_loss (exercise 1) always takes the mean: `reduction="sum"` is checked but never used.
   Only the mse_loss part of exercise 1 loses its point; mlp_forward keeps its point.
2. affine_backward (exercise 2) averages the bias gradient over the batch
   (`dout.mean(axis=0)`) where the batch sum belongs: db comes out N times too small.
3. mse_backward (exercise 3) forgets the 1/N of the mean loss.
4. lecture_loop_gradient (exercise 5) returns the batched gradient of mlp_loss_and_grads
   instead of looping over the examples with output_grads_one.
5. iterate_minibatches (exercise 6) shuffles with numpy's global generator
   (`np.random.permutation`) instead of the generator it is given.

mlp_loss_and_grads (exercise 4) calls mse_loss, mse_backward and affine_backward, and
train_sgd (exercise 7) calls iterate_minibatches: both keep their full marks, since each
mistake costs points in its own exercise only.
"""

BUGS = [
    {
        "mistake": "mse_loss always takes the mean: the reduction 'sum' is never applied",
        "cells": {
            "a3-batched-forward": '''def mlp_forward(X, params):
    """Forward pass of the two-layer MLP for a batch."""
    Z = X @ params["W1"] + params["b1"]
    H = np.maximum(Z, 0)
    return H @ params["W2"] + params["b2"]


def mse_loss(Yhat, Y, reduction="mean"):
    """Squared error between Yhat and Y (same shape), as a Python float."""
    if Yhat.shape != Y.shape:
        raise ValueError(f"mse_loss: shapes {Yhat.shape} and {Y.shape} differ")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"mse_loss: unknown reduction {reduction!r}")
    return float(np.mean((Yhat - Y) ** 2))
''',
        },
        "loses": {"a3-mse-loss-test": 1.0},
        "says": "mse_loss(Yhat, Y, reduction='sum')",
    },
    {
        "mistake": "affine_backward averages the bias gradient over the batch "
                   "(dout.mean(axis=0)) where the batch sum belongs; mlp_loss_and_grads calls "
                   "it and must not lose points for it",
        "cells": {
            "a3-affine-backward": '''def affine_backward(dout, X, W):
    """Backward pass of P = X @ W + b for a batch.

    dout: dL/dP, shape (N, M).  X: shape (N, D).  W: shape (D, M).
    Returns (dX, dW, db) with shapes (N, D), (D, M), (M,).
    """
    dX = dout @ W.T
    dW = X.T @ dout
    db = dout.mean(axis=0)
    return dX, dW, db
''',
        },
        "loses": {"a3-affine-backward-test": 2.0},
        "says": "b is shared by the 3 examples, so its gradient sums over the batch",
    },
    {
        "mistake": "mse_backward forgets the 1/N of the mean loss; mlp_loss_and_grads calls it "
                   "and must not lose points for it",
        "cells": {
            "a3-mse-backward": '''def mse_backward(Yhat, Y, reduction="mean"):
    """Gradient of mse_loss(Yhat, Y, reduction) with respect to Yhat."""
    if Yhat.shape != Y.shape:
        raise ValueError(f"mse_backward: shapes {Yhat.shape} and {Y.shape} differ")
    if reduction not in ("mean", "sum"):
        raise ValueError(f"mse_backward: unknown reduction {reduction!r}")
    return 2 * (Yhat - Y)
''',
        },
        "loses": {"a3-mse-backward-test": 2.0},
        "says": "mse_backward(Yhat, Y, 'mean') on a random batch of",
    },
    {
        "mistake": "lecture_loop_gradient returns the batched gradient instead of the "
                   "per-example loop the exercise asks for",
        "cells": {
            "a3-per-sample-loop": '''def output_grads_one(x, params):
    """Gradients of the network output r (a scalar) for ONE example x of shape (D,)."""
    z = x @ params["W1"] + params["b1"]
    h = np.maximum(z, 0)
    dz = params["W2"][:, 0] * (z > 0)
    return {"W1": np.outer(x, dz), "b1": dz, "W2": h[:, None],
            "b2": np.ones_like(params["b2"])}


def lecture_loop_gradient(X, Y, params):
    """Gradient of the mean squared error (the batched code does the same, faster)."""
    return mlp_loss_and_grads(X, Y, params)[1]
''',
        },
        "loses": {"a3-per-sample-loop-test": 2.0},
        "says": "must call output_grads_one once per example",
    },
    {
        "mistake": "iterate_minibatches shuffles with np.random.permutation (numpy's global "
                   "generator) instead of the generator it is given; train_sgd calls it and "
                   "must not lose points for it",
        "cells": {
            "a3-minibatch-iterator": '''def iterate_minibatches(n, batch_size, rng=None):
    """Yield index arrays covering range(n) once, in batches of batch_size."""
    if batch_size < 1:
        raise ValueError(f"iterate_minibatches: batch_size must be at least 1 (got {batch_size})")
    order = np.arange(n) if rng is None else np.random.permutation(n)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
''',
        },
        "loses": {"a3-minibatch-iterator-test": 2.0},
        "says": "the order must be rng.permutation(10) of the generator",
    },
]
