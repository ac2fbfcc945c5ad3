"""Hidden preamble of a3: what the hidden tests of a3_minibatch.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""

KEYS = ["W1", "b1", "W2", "b2"]


def rejects(name, case, *args):
    """Fail unless the notebook's `name`(*args) raises ValueError in the kernel."""
    try:
        raises("ValueError", getattr(student, name), *args)
    except AssertionError:
        raise AssertionError(f"{name} with {case} must raise ValueError, and it "
                             "returned") from None


def grads_dict(got, what, params, shape_note=""):
    """What the student returned, checked to be a dict of arrays shaped like params."""
    assert isinstance(got, dict) and set(got) == set(params), (
        f"{what} must return a dict with the keys {sorted(params)}, got "
        + (f"the keys {sorted(map(str, got))}" if isinstance(got, dict) else describe(got)))
    for name in params:
        expect_shape(got[name], params[name].shape, f"{what}: {name}{shape_note}")
    return {name: np.asarray(value) for name, value in got.items()}


def activation_of(Z, name):
    """The notebook's activate, written again (same operations, so the same bits)."""
    if name == "relu":
        return np.maximum(Z, 0)
    if name == "tanh":
        return np.tanh(Z)
    if name == "sigmoid":
        return 1 / (1 + np.exp(-Z))
    return Z


def reference_forward(X, Ws, bs, acts):
    """(output, cache) as the notebook's deep_forward gives them."""
    cache, H = [], X
    for W, b, name in zip(Ws, bs, acts):
        Z = H @ W + b
        cache.append((H, Z))
        H = activation_of(Z, name)
    return H, cache


def student_affine(d, H, W):
    """The student's own affine_backward (exercise 2), for follow-through."""
    return arrays(student.affine_backward(d, H, W), "affine_backward", ["dX", "dW", "db"])


def reference_backward(dout, cache, Ws, acts, affine=None, pairs=False):
    """deep_backward's answer: [dX, dW_0, db_0, dW_1, ...], or (dX, [(dW, db), ...]) with
    pairs; `affine` does each layer's affine backward (numpy's by default)."""
    grads, d = [], dout
    for layer in reversed(range(len(Ws))):
        H, Z = cache[layer]
        name = acts[layer]
        if name == "relu":
            d = d * (Z > 0)
        elif name == "tanh":
            d = d * (1 - np.tanh(Z) ** 2)
        elif name == "sigmoid":
            S = 1 / (1 + np.exp(-Z))
            d = d * S * (1 - S)
        if affine is None:
            d, dW, db = d @ Ws[layer].T, H.T @ d, d.sum(axis=0)
        else:
            d, dW, db = affine(d, H, Ws[layer])
        grads.append((dW, db))
    grads.reverse()
    if pairs:
        return d, grads
    return [d] + [g for pair in grads for g in pair]


def deep_result(got, what, X, Ws, bs):
    """(dX, [(dW, db), ...]) from what deep_backward returned, its form and shapes checked."""
    assert isinstance(got, (tuple, list)) and len(got) == 2, (
        f"{what} must return the pair (dX, grads), got {describe(got)}")
    dX, grads = got
    assert isinstance(grads, (tuple, list)) and len(grads) == len(Ws), (
        f"{what}: grads must hold one (dW, db) per layer ({len(Ws)}), got {describe(grads)}")
    dX = expect_shape(np.asarray(dX), X.shape, f"{what}: dX")
    out = []
    for layer, (pair, W, b) in enumerate(zip(grads, Ws, bs)):
        dW, db = arrays(pair, f"{what}: layer {layer}", ["dW", "db"])
        expect_shape(dW, W.shape, f"{what}: dW of layer {layer} (layer 0 first)")
        expect_shape(db, b.shape, f"{what}: db of layer {layer} (layer 0 first)")
        out.append((dW, db))
    return dX, out


def close_all(got, want, rtol, atol):
    """Whether every array of got is close to the one of want."""
    return all(np.allclose(g, w, rtol=rtol, atol=atol) for g, w in zip(got, want))


def batchnorm(X, gamma, beta, eps=1e-5):
    """Batch normalisation of the columns of X over the batch (axis 0)."""
    return gamma * (X - X.mean(axis=0)) / np.sqrt(X.var(axis=0) + eps) + beta
