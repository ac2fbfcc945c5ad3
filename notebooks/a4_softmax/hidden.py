"""Hidden preamble of a4: what the hidden tests of a4_softmax.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""

OVERFLOW_HINT = ("exp(1e5) overflows to inf and log(0) is -inf: compute the loss from your "
                 "log_softmax (subtract the row maximum before exp)")


def log_softmax_ref(Z):
    """log softmax along the last axis, stable for any logits."""
    s = Z - Z.max(axis=-1, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=-1, keepdims=True))


def softmax_ref(Z):
    """softmax along the last axis, stable for any logits."""
    e = np.exp(Z - Z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def batch_loss_ref(Z, labels):
    """The mean cross-entropy of the rows of Z against their labels."""
    return -log_softmax_ref(Z)[np.arange(len(labels)), labels].mean()


def training_step_problem(events, steps):
    """What is wrong with the calls of `steps` training steps, in order, or "" (as visible)."""
    for name, call in (("step", "optimizer.step()"), ("backward", "loss.backward()")):
        count = events.count(name)
        if count != steps:
            return (f"train_classifier called {call} {count} times in {steps} steps: "
                    "call it once per minibatch")
    since_step, first = [], True
    for name in events:
        if name != "step":
            since_step.append(name)
            continue
        last_backward = len(since_step) - 1 - since_step[::-1].index("backward") \
            if "backward" in since_step else -1
        if last_backward < 0:
            return "train_classifier called optimizer.step() before loss.backward() in a step"
        if "zero_grad" in since_step[last_backward:]:
            return ("train_classifier cleared the gradients between loss.backward() and "
                    "optimizer.step(), so the step saw no gradient: call zero_grad() before "
                    "loss.backward()")
        if not first and "zero_grad" not in since_step[:since_step.index("backward")]:
            return ("train_classifier does not clear the gradients before loss.backward(), "
                    "so they add up over the steps: call optimizer.zero_grad() in every step")
        since_step, first = [], False
    return ""
