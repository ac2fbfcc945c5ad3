"""A sample submission for assignment 4 with a typical bug: the batch mean loses its 1/N.

The student averages the loss over the batch but returns the gradient of the sum,
P - Y instead of (P - Y) / N, both in ``batched_cross_entropy`` and in the
``SoftmaxCrossEntropy`` op. Everything else is the solution.
The gradient checks of exercises 5 and 6 catch it (2 + 3 points lost);
training with Adam still works, because Adam divides out a constant gradient scale.
"""

BUGS = [
    {
        "mistake": 'A sample submission for assignment 4 with a typical bug: the batch mean loses its 1/N.',
        "cells": {
            'a4-batched-xent': '''def batched_cross_entropy(Z, y):
    """Mean cross-entropy of a batch and its gradient with respect to the logits."""
    Z = np.asarray(Z)
    rows = np.arange(Z.shape[0])
    loss = -float(log_softmax(Z)[rows, y].mean())
    dZ = softmax(Z)
    dZ[rows, y] -= 1
    return loss, dZ
''',
        },
        "loses": {'a4-batched-xent-test': 2.0},
    },
    {
        "mistake": 'A sample submission for assignment 4 with a typical bug: the batch mean loses its 1/N.',
        "cells": {
            'a4-softmax-ce-function': '''class SoftmaxCrossEntropy(mg.Function):
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
        "loses": {'a4-softmax-ce-function-test': 3.0},
    },
]
