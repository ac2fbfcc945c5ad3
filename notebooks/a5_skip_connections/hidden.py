"""Hidden preamble of a5: what the hidden tests of a5_skip_connections.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""


def program_R_ref(W0, W1, W2, p, q):
    """The program of exercises 3 and 4: R = sum(sigmoid(B W1) * tanh(B W2)),
    B = tanh(p W0 + q), in the row convention."""
    B = np.tanh(p @ W0 + q)
    return np.sum(1.0 / (1.0 + np.exp(-(B @ W1))) * np.tanh(B @ W2))
