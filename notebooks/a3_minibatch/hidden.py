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
