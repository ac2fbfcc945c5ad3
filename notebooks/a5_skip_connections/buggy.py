"""A sample submission for assignment 5 with two typical bugs.

The skip-connection backward drops the skip path's delta from dx, and the shared-weight
backward overwrites the first use's gradient with the second instead of adding them.
Every other answer cell keeps the solution, so the submission scores between zero and full.
"""

BUGS = [
    {
        "mistake": 'A sample submission for assignment 5 with two typical bugs.',
        "cells": {
            'a5-skip-backward': '''def skip_block_backward(x, W1, W2, delta):
    """Gradients of y = W2 relu(W1 x) + x given delta = dL/dy."""
    z = W1 @ x
    a = np.maximum(z, 0)
    dW2 = np.outer(delta, a)
    dz = (W2.T @ delta) * (z > 0)
    dW1 = np.outer(dz, x)
    dx = W1.T @ dz
    return dx, dW1, dW2
''',
        },
        "loses": {'a5-skip-backward-test': 3.0},
    },
    {
        "mistake": 'A sample submission for assignment 5 with two typical bugs.',
        "cells": {
            'a5-shared-weight': '''def shared_weight_backward(x, W, delta):
    """Gradients of y = W relu(W x) given delta = dL/dy."""
    h = W @ x
    a = np.maximum(h, 0)
    dW = np.outer(delta, a)
    dh = (W.T @ delta) * (h > 0)
    dW = np.outer(dh, x)
    dx = W.T @ dh
    return dx, dW
''',
        },
        "loses": {'a5-shared-weight-test': 2.0},
    },
]
