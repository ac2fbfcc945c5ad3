"""Hidden preamble of a2: what the hidden tests of a2_vectorized.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""


def no_finite_differences(name, seen):
    """Fail when `name` called numerical_jacobian (`seen`: the block's counting of it)."""
    require("method", seen.calls == 0,
            f"{name} called numerical_jacobian {seen.calls} time(s): this exercise asks for "
            "the exact rule, not finite differences")


def plain(d):
    """A 0-d upstream gradient as a numpy scalar (0-d arrays do not cross the protocol)."""
    return d[()] if np.ndim(d) == 0 else d


def check_activation_backward(name, arg, formula, forward, kept, slope, literal, hint):
    """The hidden test of one activation's backward `name(dout, arg)`, where `arg` is what
    the forward pass `formula` = forward(z) kept, kept(z): a literal case (dout, arg, arg as
    text, the answer), a gradient check on random z, the inputs left as they were, and
    float32 kept, where the answer for a dout of ones is slope(kept(z))."""
    backward = getattr(student, name)
    rng = np.random.default_rng(seed)
    # entries at least 0.1 away from ReLU's kink at 0
    z = rng.uniform(0.1, 2.0, size=(3, 4)) * rng.choice([-1.0, 1.0], size=(3, 4))
    dout = rng.normal(size=(3, 4))
    z32 = z.astype(np.float32)
    lit_dout, lit_kept, lit_shown, lit_want = literal
    lit_dout, lit_kept = np.array(lit_dout), np.array(lit_kept)
    with student.autograd_off():
        got = backward(lit_dout, lit_kept)
        expect_close(got, lit_want, f"{name}(dout={lit_dout.tolist()}, {arg}={lit_shown})",
                     hint=hint)
        gradients_ok(f"{name}(dout, {arg}) for {formula}, random z (3, 4)", forward, {"z": z},
                     lambda d: (backward(d, kept(z)),))
        result, after = backward.inputs_after(dout, kept(z))
        for what, before, now in zip(("dout", arg), (dout, kept(z)), after):
            expect_unchanged(before, now, f"{name} (argument {what})")
        what = f"{name}(float32 dout (3, 4), {arg} (3, 4))"
        got = backward(np.ones_like(z32), kept(z32))
        expect_dtype(got, np.float32, what)
        expect_close(got, slope(kept(z32)), what, rtol=1e-5, atol=1e-6)

