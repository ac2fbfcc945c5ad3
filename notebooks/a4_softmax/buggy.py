"""A sample submission for assignment 4 with four typical mistakes, one per exercise.

1. Exercise 1: a naive softmax, ``exp(z) / sum(exp(z))`` without subtracting the row
   maximum, and ``log_softmax`` as ``log(softmax(z))``. Logits of 1e5 overflow, so the
   "large logits" part loses its 2 points. Exercises 2, 3, 5 and 6 call these functions on
   logits of 1e5 too; they lose nothing, because their hidden tests stand in for softmax and
   log_softmax (and their visible tests use reference versions while exercise 1 fails).
2. Exercise 5: ``batched_cross_entropy`` returns the gradient of the summed loss, P - Y
   instead of (P - Y) / N (2 points).
3. Exercise 6: the same slip inside ``SoftmaxCrossEntropy``, which saves P - Y for its
   backward (3 points). Exercise 7 still earns its points: the training test finds that the
   op disagrees with the engine and trains with the engine's cross-entropy in its place.
4. Exercise 7: ``train_classifier`` computes the loss with ``mg.functional.cross_entropy``
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
    """Mean over the batch of -log softmax(logits)[n, labels[n]], as one op."""

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
        "says": "must compute the loss with your SoftmaxCrossEntropy.apply, as exercise 7 asks, "
                "not with mg.functional.cross_entropy",
    },
]
