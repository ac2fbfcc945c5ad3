"""A sample submission for assignment 5 with eight typical mistakes, one per exercise.

- Exercise 1: skip_block_backward drops the skip path's dy from dx.
- Exercise 2: shared_weight_backward overwrites the first use's gradient with the second.
- Exercise 4: program_R adds q after the first tanh instead of before it. train_program
  (exercise 5) calls program_R and is judged with what this program_R computes, so the
  mistake costs points in exercise 4 only.
- Exercise 5: train_program never resets the gradients, so each epoch's step also carries
  the gradients of every earlier epoch.
- Exercise 7: layer_grad_norms does not reset the network's gradients before backward, so a
  second call on the same network reports twice the norms.
- Exercise 9: the predictions forget that relu passes only half of the units.
- Exercise 10: per_layer_factor divides the other way round and reports 1/rho.
- Exercise 11: shrink takes its first step before testing the condition (a do-while loop).

Every other answer cell keeps the solution, so the submission scores between zero and full.
"""

BUGS = [
    {
        "mistake": "skip_block_backward returns dz W1^T for dx and forgets the skip path's dy",
        "cells": {
            "a5-skip-backward": '''def skip_block_backward(x, W1, W2, dy):
    """Gradients of y = relu(x W1) W2 + x given dy = dL/dy."""
    z = x @ W1
    a = np.maximum(z, 0)
    dW2 = np.outer(a, dy)
    dz = (dy @ W2.T) * (z > 0)
    dW1 = np.outer(x, dz)
    dx = dz @ W1.T
    return dx, dW1, dW2
''',
        },
        "loses": {"a5-skip-backward-test": 3.0},
        "says": "that is dz W1^T alone, add dy for the skip path",
    },
    {
        "mistake": "shared_weight_backward overwrites the gradient of the first use of W "
                   "with the second instead of adding them",
        "cells": {
            "a5-shared-weight": '''def shared_weight_backward(x, W, dy):
    """Gradients of y = relu(x W) W given dy = dL/dy."""
    z = x @ W
    a = np.maximum(z, 0)
    dW = np.outer(a, dy)
    dz = (dy @ W.T) * (z > 0)
    dW = np.outer(x, dz)
    dx = dz @ W.T
    return dx, dW
''',
        },
        "loses": {"a5-shared-weight-test": 2.0},
        "says": "that is only the message from z = x W; add the one from y = a W",
    },
    {
        "mistake": "program_R computes B = tanh(p W0) + q instead of tanh(p W0 + q); "
                   "train_program calls it and must not lose points for it",
        "cells": {
            "a5-program-graph": '''def program_R(W0, W1, W2, p, q):
    """The program R(p, q) as a minigrad graph: Tensors in, a 0-d Tensor R out."""
    B = (p @ W0).tanh() + q
    E = (B @ W1).sigmoid()
    F = (B @ W2).tanh()
    return (E * F).sum()
''',
        },
        "loses": {"a5-program-graph-test": 2.0},
        "says": "but the program's value is",
    },
    {
        "mistake": "train_program never resets the weights' gradients, so every epoch's step "
                   "also carries the gradients of all earlier epochs",
        "cells": {
            "a5-program-train": '''def train_program(weights, ps, qs, ts, lr, epochs, progress=True):
    """Full-batch gradient descent on the program, accumulating per-sample gradients."""
    Ws = [mg.Tensor(np.array(w, dtype=float), requires_grad=True) for w in weights]
    n = len(ts)
    losses = np.zeros(epochs)
    for epoch in trange(epochs, disable=not progress, desc="epochs"):
        squared = 0.0
        for p, q, t in zip(ps, qs, ts):
            R = program_R(*Ws, mg.Tensor(p), mg.Tensor(q))
            err = t - float(R.data)
            squared += err**2
            R.backward(np.array(err))
        losses[epoch] = squared / n
        for w in Ws:
            w.data = w.data - lr * (-2.0 / n) * w.grad
    return tuple(w.data.copy() for w in Ws), losses
''',
        },
        "loses": {"a5-program-train-test": 2.0},
        "says": "include epoch 1's: reset them (W.grad = None or zero_grad()) before each "
                "epoch's accumulation",
    },
    {
        "mistake": "layer_grad_norms does not reset the network's gradients before backward",
        "cells": {
            "a5-layer-grad-norms": '''def layer_grad_norms(net, x, y):
    """Frobenius norms of dL/dW for every layer in net.hidden_layers(), with L the MSE loss."""
    mg.functional.mse_loss(net(x), y).backward()
    return np.array([np.linalg.norm(layer.W.grad) for layer in net.hidden_layers()])
''',
        },
        "loses": {"a5-layer-grad-norms-test": 2.0},
        "says": "so the gradients of earlier calls are still in W.grad: reset them "
                "(net.zero_grad()) before the backward pass",
    },
    {
        "mistake": "the predictions for relu forget that its derivative is 0 on half the units",
        "cells": {
            "a5-predict-factor": '''predicted_factor = {"sigmoid": None, "tanh": None, "relu": None, "relu-he": None, "relu-skip": None}
predicted_factor["sigmoid"] = np.sqrt(1 / 3 * 0.25**2)
predicted_factor["tanh"] = np.sqrt(1 / 3)
predicted_factor["relu"] = np.sqrt(1 / 3)
predicted_factor["relu-he"] = np.sqrt(2)
predicted_factor["relu-skip"] = 1.0
''',
        },
        "loses": {"a5-predict-factor-test": 2.0},
        "says": "relu' is 1 on half the units",
    },
    {
        "mistake": "per_layer_factor divides norms[l + 1] by norms[l], the factor towards the "
                   "output",
        "cells": {
            "a5-per-layer-factor": '''def per_layer_factor(norms):
    """Geometric mean of the ratios of consecutive norms."""
    norms = np.asarray(norms, dtype=np.float64)
    return float(np.exp(np.mean(np.log(norms[1:] / norms[:-1]))))
''',
        },
        "loses": {"a5-per-layer-factor-test": 1.0},
        "says": "That is 1/rho, the factor towards the output",
    },
    {
        "mistake": "shrink takes its first step before it tests the condition",
        "cells": {
            "a5-shrink": '''def shrink(x, W, tol, max_steps):
    """Apply h <- tanh(h @ W) while mean(h**2) > tol, at most max_steps times."""
    h, steps = (x @ W).tanh(), 1
    while steps < max_steps and float(np.mean(h.data**2)) > tol:
        h = (h @ W).tanh()
        steps += 1
    return h, steps
''',
        },
        "loses": {"a5-shrink-test": 2.0},
        "says": "test the condition before each step",
    },
]
