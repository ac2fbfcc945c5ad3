"""A sample submission for assignment 4 with typical mistakes, one or more
for each autograded exercise (exercise 4 is written and graded by hand).

1. Exercise 1: a naive softmax, ``exp(z) / sum(exp(z))`` without subtracting the row
   maximum, and ``log_softmax`` as ``log(softmax(z))``. Logits of 1e5 overflow, so the
   "large logits" part loses its 2 points. Exercises 2, 3, 7 and 8 call these functions on
   logits of 1e5 too; they lose nothing, because their hidden tests stand in for softmax and
   log_softmax (and their visible tests use reference versions while exercise 1 fails).
2. Exercise 2: the softmax Jacobian with ``p * p`` (a vector, broadcast along the rows)
   where the outer product ``p p`` belongs (2 points).
3. Exercise 5: the limit of the gradient with its sign flipped, ``e_y - p`` (1 point), and
   the choice "the cross-entropy bypasses the softmax" (1 point).
4. Exercise 6: ``dW`` in the notes' column layout, ``np.outer(dz, x)`` of shape (k, d),
   where the course's ``W`` has shape (d, k) (3 points).
5. Exercise 7: ``batched_cross_entropy`` returns the gradient of the summed loss, P - Y
   instead of (P - Y) / N (2 points).
6. Exercise 8: the same slip inside ``SoftmaxCrossEntropy``, which saves P - Y for its
   backward (3 points). Exercise 9 still earns its points: the training test finds that the
   op disagrees with the engine and trains with the engine's cross-entropy in its place.
7. Exercise 9: ``train_classifier`` computes the loss with ``mg.functional.cross_entropy``
   instead of the student's own op, which the exercise asks for; it trains well, but the
   call count gives it away (4 points).
"""

BUGS = [
    {
        "mistake": "softmax and log_softmax without the max shift: exp overflows for large "
                   "logits",
        "cells": {
            "a4-softmax": '''def softmax(z):
    """Softmax of ``z`` along its last axis."""
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z):
    """Logarithm of the softmax of ``z`` along its last axis."""
    return np.log(softmax(z))
''',
        },
        "loses": {"a4-softmax-stable": 2.0},
        "says": "subtract the row maximum before exp",
    },
    {
        "mistake": "softmax_jacobian subtracts p * p, a vector, where the outer product of p "
                   "with itself belongs",
        "cells": {
            "a4-softmax-jacobian": '''def softmax_jacobian(z):
    """Jacobian of the softmax at ``z``."""
    p = softmax(z)
    return np.diag(p) - p * p
''',
        },
        "loses": {"a4-softmax-jacobian-test": 2.0},
        "says": "wrong values",
    },
    {
        "mistake": "the limit of the gradient with its sign flipped: e_y - p, the gradient of "
                   "log p_y rather than of the loss",
        "cells": {
            "a4-confident-mistake": '''confident_mistake_limit = np.array([1.0, 0.0, -1.0])
''',
        },
        "loses": {"a4-confident-mistake-test": 1.0},
        "says": "The sign is flipped: dL/dz = p - e_y",
    },
    {
        "mistake": "the choice that the cross-entropy's gradient bypasses the softmax's Jacobian",
        "cells": {
            "a4-saturation-reason": '''saturation_reason = "d"
''',
        },
        "loses": {"a4-saturation-reason-test": 1.0},
        "says": "saturation_reason: 'd' does not explain it",
    },
    {
        "mistake": "linear_softmax_backward returns dW in the notes' column layout, "
                   "outer(dz, x) of shape (k, d), not shaped like the course's W (d, k)",
        "cells": {
            "a4-linear-softmax-backward": '''def linear_softmax_backward(W, b, x, y):
    """Gradients of L = -log softmax(x @ W + b)[y] for one example."""
    z = x @ W + b
    _, dz = cross_entropy_single(z, y)
    return np.outer(dz, x), dz, dz @ W.T
''',
        },
        "loses": {"a4-linear-softmax-backward-test": 3.0},
        "says": "dW must have W's shape (d, k) = (2, 3), got (3, 2)",
    },
    {
        "mistake": "batched_cross_entropy forgets the 1/N of the mean in its gradient",
        "cells": {
            "a4-batched-xent": '''def batched_cross_entropy(Z, y):
    """Mean cross-entropy of a batch and its gradient with respect to the logits."""
    Z = np.asarray(Z)
    rows = np.arange(Z.shape[0])
    loss = -float(log_softmax(Z)[rows, y].mean())
    dZ = softmax(Z)
    dZ[rows, y] -= 1
    return loss, dZ
''',
        },
        "loses": {"a4-batched-xent-test": 2.0},
        "says": "dZ = (P - Y)/N: wrong values, at index [0, 0] got -0.9099694268, "
                "want -0.3033231423; every entry is 3 times the right value",
    },
    {
        "mistake": "SoftmaxCrossEntropy saves P - Y for its backward, without the 1/N",
        "cells": {
            "a4-softmax-ce-function": '''class SoftmaxCrossEntropy(mg.Function):
    """Mean over the batch of -log softmax(logits)[i, labels[i]], as one op."""

    @staticmethod
    def forward(ctx, logits, labels):
        rows = np.arange(logits.shape[0])
        logp = log_softmax(logits)
        P = np.exp(logp)
        P[rows, labels] -= 1
        ctx.save_for_backward(P)
        return np.asarray(-logp[rows, labels].mean(), dtype=logits.dtype)

    @staticmethod
    def backward(ctx, grad_output):
        (P,) = ctx.saved_tensors
        return grad_output * P, None
''',
        },
        "loses": {"a4-softmax-ce-function-test": 3.0},
        "says": "after backward, the gradient (P - Y)/N: wrong values",
    },
    {
        "mistake": "train_classifier trains with mg.functional.cross_entropy, not with the "
                   "student's SoftmaxCrossEntropy",
        "cells": {
            "a4-train-classifier": '''def train_classifier(model, X, y, optimizer, epochs, batch_size=64, seed=0, progress=False):
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
            loss = mg.functional.cross_entropy(model(xb), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
        bar.set_postfix(loss=f"{np.mean(losses[-10:]):.3f}")
    return losses
''',
        },
        "loses": {"a4-train-test": 4.0},
        "says": "must compute the loss with your SoftmaxCrossEntropy.apply, as exercise 9 asks, "
                "not with mg.functional.cross_entropy",
    },
]
