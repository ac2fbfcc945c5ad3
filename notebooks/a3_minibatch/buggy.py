"""A sample submission for assignment 3 with a typical bug: a mean where the batch sum belongs.

The student averages the upstream gradient over the batch for the bias (`dout.mean(axis=0)`),
although the mean loss has already divided by N: the bias gradient comes out N times too small.
The network's backward pass calls this affine_backward, so it inherits the bug; the per-example
loop, the iterator and the training loop are the solution.
"""

BUGS = [
    {
        "mistake": 'A sample submission for assignment 3 with a typical bug: a mean where the batch sum belongs.',
        "cells": {
            'a3-affine-backward': '''def affine_backward(dout, X, W):
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
        "loses": {'a3-affine-backward-test': 2.0, 'a3-mlp-backward-test': 3.0},
    },
]
