"""Hidden preamble of a5: what the hidden tests of a5_skip_connections.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""


def program_R_ref(W0, W1, W2, p, q):
    """The program of exercises 3 and 4: R = sum(sigmoid(W1 B) * tanh(W2 B)),
    B = tanh(W0 p + q)."""
    B = np.tanh(W0 @ p + q)
    return np.sum(1.0 / (1.0 + np.exp(-(W1 @ B))) * np.tanh(W2 @ B))
