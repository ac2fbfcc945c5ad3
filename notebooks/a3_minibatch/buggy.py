"""The buggy sample submission of assignment 3: typical mistakes, one or two per exercise.

1. mse_loss (exercise 1) always takes the mean: `reduction="sum"` is checked but never used.
   Only the mse_loss part of exercise 1 loses its point; mlp_forward keeps its point.
2. affine_backward (exercise 2) averages the bias gradient over the batch
   (`dout.mean(axis=0)`) where the batch sum belongs: db comes out N times too small.
3. mse_backward (exercise 3) forgets the 1/N of the mean loss.
4. lecture_loop_gradient (exercise 5) returns the batched gradient of mlp_loss_and_grads
   instead of looping over the examples with output_grads_one.
5. iterate_minibatches (exercise 6) shuffles with numpy's global generator
   (`np.random.permutation`) instead of the generator it is given.

6. slope_variance (exercise 8) is the slope of the standard deviation, -1/2, and slope_std
   half of that: the variance and its square root are confused.
7. deep_backward (exercise 10) writes the derivative of tanh as 1 - Z**2, with Z where tanh(Z)
   belongs.
8. cache_bytes (exercise 11) counts 8 bytes per entry whatever the dtype.
9. checkpointed_backward (exercise 12) keeps the checkpoints but then runs deep_forward and
   deep_backward on the whole network: nothing is saved.
10. best_every (exercise 13) forgets that the recomputed segment's cache is held too, and
    keeps a single input (s = 64).
11. batchnorm_forward (exercise 14) standardises each row over the features (axis 1).
12. batchnorm_backward (exercise 14) treats the batch mean and variance as constants.

mlp_loss_and_grads (exercise 4) calls mse_loss, mse_backward and affine_backward,
train_sgd (exercise 7) calls iterate_minibatches, deep_backward (exercise 10) calls
affine_backward, and checkpointed_backward (exercise 12) calls deep_backward: each keeps its
full marks, since each mistake costs points in its own exercise only.
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
    {
        "mistake": "the slope of the variance is taken for that of the standard deviation",
        "cells": {
            "a3-noise-slope": """slope_variance = -0.5
slope_std = -0.25
""",
        },
        "loses": {"a3-noise-slope-test": 1.0},
        "says": "slope_variance",
    },
    {
        "mistake": "deep_backward writes the derivative of tanh as 1 - Z**2 (Z where tanh(Z) "
                   "belongs); checkpointed_backward calls it and must not lose points for it",
        "cells": {
            "a3-deep-backward": '''def deep_backward(dout, cache, Ws, activations):
    """Backward pass of deep_forward: returns (dX, [(dW_0, db_0), (dW_1, db_1), ...])."""
    grads = []
    d = dout
    for l in reversed(range(len(Ws))):
        H, Z = cache[l]
        if activations[l] == "relu":
            d = d * (Z > 0)
        elif activations[l] == "tanh":
            d = d * (1 - Z ** 2)
        elif activations[l] == "sigmoid":
            S = 1 / (1 + np.exp(-Z))
            d = d * S * (1 - S)
        d, dW, db = affine_backward(d, H, Ws[l])
        grads.append((dW, db))
    return d, grads[::-1]
''',
        },
        "loses": {"a3-deep-backward-test": 3.0},
        "says": "with activations tanh, tanh, identity",
    },
    {
        "mistake": "cache_bytes counts 8 bytes per entry whatever the dtype",
        "cells": {
            "a3-cache-bytes": '''def cache_bytes(batch_size, widths, dtype=np.float64):
    """Bytes of the (H_l, Z_l) arrays deep_forward keeps for a batch, widths input first."""
    return batch_size * sum(a + b for a, b in zip(widths[:-1], widths[1:])) * 8
''',
        },
        "loses": {"a3-cache-bytes-test": 1.0},
        "says": "a float32 entry takes 4 bytes",
    },
    {
        "mistake": "checkpointed_backward keeps the checkpoints, then runs deep_forward and "
                   "deep_backward on the whole network, so nothing is saved",
        "cells": {
            "a3-checkpointed-backward": '''def checkpointed_backward(dout, X, Ws, bs, activations, every):
    """deep_forward then deep_backward, keeping the input of every `every`-th layer."""
    kept = []
    H = X
    for layer in range(len(Ws)):
        if layer % every == 0:
            kept.append(H)
        H, _ = layer_forward(H, Ws[layer], bs[layer], activations[layer])
    _, cache = deep_forward(X, Ws, bs, activations)
    dX, grads = deep_backward(dout, cache, Ws, activations)
    return dX, grads, kept
''',
        },
        "loses": {"a3-checkpointed-backward-test": 3.0},
        "says": "must call deep_backward once per segment",
    },
    {
        "mistake": "best_every forgets the cache of the segment being differentiated and keeps "
                   "a single input",
        "cells": {
            "a3-checkpoint-spacing": """best_every = 64
fewest_units = 1
""",
        },
        "loses": {"a3-checkpoint-spacing-test": 1.0},
        "says": "best_every: the spacing s that minimises",
    },
    {
        "mistake": "batchnorm_forward standardises each row (example) over the features",
        "cells": {
            "a3-batchnorm-forward": '''def batchnorm_forward(X, gamma, beta, eps=1e-5):
    """Batch normalisation of X, shape (N, D)."""
    mu = X.mean(axis=1, keepdims=True)
    var = X.var(axis=1, keepdims=True)
    return gamma * (X - mu) / np.sqrt(var + eps) + beta
''',
        },
        "loses": {"a3-batchnorm-forward-test": 1.0},
        "says": "standardises each column (feature) over the batch",
    },
    {
        "mistake": "batchnorm_backward treats the batch mean and variance as constants",
        "cells": {
            "a3-batchnorm-backward": '''def batchnorm_backward(dout, X, gamma, eps=1e-5):
    """Gradients of batchnorm_forward for dL/dY = dout."""
    inv_std = 1 / np.sqrt(X.var(axis=0) + eps)
    Xhat = (X - X.mean(axis=0)) * inv_std
    return dout * gamma * inv_std, (dout * Xhat).sum(axis=0), dout.sum(axis=0)
''',
        },
        "loses": {"a3-batchnorm-backward-test": 3.0},
        "says": "as if the batch mean and variance were constants",
    },
]
