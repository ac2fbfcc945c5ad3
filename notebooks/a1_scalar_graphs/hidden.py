"""Hidden preamble of a1: what the hidden tests of a1_scalar_graphs.py share.

`autograder build` writes this file into the judge's copy of the hidden tests, and the judge
runs it before each hidden block, in the block's namespace (student, seed, np, the checks).
It never enters the notebook, the release or the student's kernel.
"""


def closure_check():
    """check(expression, point, local, start=0.5, upstream=2.0) for the parts of exercise 6:
    one operation on the student's Node, its closure run once (the fixture, kept in the
    kernel, only calls it); each input must end at start + upstream * local."""
    closure = student.kernel('''
def closure(Node, expression, point, start, upstream):
    leaves = [Node(v) for v in point]
    for leaf in leaves:
        leaf.grad = start
    out = eval(expression, {}, dict(zip("ab", leaves)))
    out.grad = upstream
    out._backward()
    return [float(leaf.grad) for leaf in leaves]
''')

    def check(expression, point, local, start=0.5, upstream=2.0):
        got = closure(student.Node, expression, list(point), start, upstream)
        hint = ""
        if any(np.allclose(got, [upstream * d * k for d in local]) for k in (1.0, 0.5)):
            hint = ("The grad the inputs held was replaced: add into grad with +=, never "
                    "assign with =")
        elif np.allclose(got, [start + d for d in local]):
            hint = "Multiply the local derivative by out.grad, the gradient arriving from above"
        where = (f"a = {point[0]:.6g}" if len(point) == 1
                 else f"(a, b) = ({', '.join(f'{v:.6g}' for v in point)})")
        expect_close(got, [start + upstream * d for d in local],
                     f"the closure of {expression} at {where}, with out.grad = {upstream:.6g} "
                     f"and the inputs' grad already {start:.6g}", rtol=1e-10, atol=1e-12,
                     hint=hint)

    return check
