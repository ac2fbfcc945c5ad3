"""Sample submission with typical mistakes for assignment 1 (scalar computational graphs).

Each mistake sits in one exercise (or one part) and costs points there only:

1. exercise 1, numerical_gradient: the one-sided difference (f(x + h) - f(x)) / h;
2. exercise 1, relative_error: divides by |analytic| only, so an analytic 0 gives inf;
3. exercise 1, the kink: the slope right of the kink with the wrong sign;
4. exercise 3, mlp_loss_forward_backward: no gate on the hidden ReLU's gradient;
5. exercise 5, chain_derivative: the chain rule copied into code, O(k^2) calls (the method
   check fails, the values are right);
6. exercise 6, Node.__mul__: the closure assigns with = instead of adding with +=; only the
   multiplication part loses its point, and exercise 7 builds its graphs without Node's
   arithmetic;
7. exercise 7, topological_order: recursive, so a deep chain hits the recursion limit; the
   backpropagate part, judged with a correct order standing in, keeps its point;
8. exercise 9, Dual.__truediv__: the quotient rule with the wrong sign; the forward_partials
   part, tested with the operations Dual is given, keeps its points;
9. exercise 10: the forward and reverse pass counts swapped.
"""

BUGS = [
    {
        "mistake": "numerical_gradient uses the one-sided difference (f(x + h) - f(x)) / h instead of the central one, so its error is of order h instead of h**2.",
        "cells": {
            'a1-numerical-gradient': '''def numerical_gradient(f, inputs, h=1e-5):
    """Central differences of f(*inputs.values()) in every entry of every input, by name."""
    values = {name: np.array(value) for name, value in inputs.items()}
    grads = {}
    for name, x in values.items():
        grad = np.zeros(x.shape)
        base = f(*values.values())
        for index in np.ndindex(x.shape):
            old = x[index]
            x[index] = old + h
            up = f(*values.values())
            x[index] = old
            grad[index] = (up - base) / h
        grads[name] = grad
    return grads''',
        },
        "loses": {'a1-numerical-gradient-test': 2},
        "says": 'use the central difference (f(x + h) - f(x - h)) / (2h)',
    },
    {
        "mistake": "relative_error divides by |analytic| alone, so an entry whose analytic value is 0 gives inf (or nan) instead of 1.",
        "cells": {
            'a1-relative-error': '''def relative_error(analytic, numerical):
    """max over entries of |a - n| / max(|a|, |n|), an entry that is 0 in both counting 0."""
    a = np.asarray(analytic, dtype=float)
    n = np.asarray(numerical, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        errors = np.abs(a - n) / np.abs(a)
    return float(np.nan_to_num(errors, nan=0.0).max())''',
        },
        "loses": {'a1-relative-error-test': 1},
        "says": 'relative_error(0.0, 2.5 (an analytic 0 against a nonzero slope))',
    },
    {
        "mistake": "The slope right of g's kink is taken as +6 (the sign of r = 3x - y at y = 1 forgotten), and so the central difference as +3.",
        "cells": {
            'a1-kink-prediction': '''kink_left_slope = 0.0
kink_right_slope = 6.0
kink_central_difference = 3.0''',
        },
        "loses": {'a1-kink-prediction-test': 1},
        "says": 'kink_right_slope (right of x = 0',
    },
    {
        "mistake": "The pass counts are swapped: one forward pass per output and one backward sweep per input.",
        "cells": {
            'a1-passes-answer': '''jacobian_forward_passes = 10
jacobian_reverse_sweeps = 1000''',
        },
        "loses": {'a1-passes-answer-test': 2},
        "says": 'the two are swapped',
    },
    {
        "mistake": 'mlp_loss_forward_backward passes the gradient through the hidden ReLU without its gate: z1_bar = o1_bar instead of (1 if z1 > 0 else 0) * o1_bar, so w1 and b1 get a gradient where the hidden unit is off.',
        "cells": {
            'a1-mlp-by-hand': '''def mlp_loss_forward_backward(x, y, w1, b1, w2, b2):
    """L_MLP and its partials in the parameters, as (L, dL/dw1, dL/db1, dL/dw2, dL/db2)."""
    z1 = w1 * x + b1
    o1 = max(z1, 0.0)
    z2 = w2 * o1 + b2
    o2 = max(z2, 0.0)
    r = o2 - y
    loss = r**2
    r_bar = 2.0 * r
    o2_bar = r_bar
    z2_bar = (1.0 if z2 > 0 else 0.0) * o2_bar
    w2_bar = o1 * z2_bar
    b2_bar = z2_bar
    o1_bar = w2 * z2_bar
    z1_bar = o1_bar
    w1_bar = x * z1_bar
    b1_bar = z1_bar
    return loss, w1_bar, b1_bar, w2_bar, b2_bar''',
        },
        "loses": {'a1-mlp-by-hand-test': 4},
        "says": 'mlp_loss_forward_backward(1.0, 0.0, 2.0, -3.0, 1.0, 0.5): want',
    },
    {
        "mistake": 'chain_derivative copies the chain rule into code: every factor recomputes its argument from x, so the values are right but a chain of k steps costs about k^2/2 calls.',
        "cells": {
            'a1-chain-derivative': '''def chain_derivative(fs, dfs, x):
    """Value and derivative of fs[-1](...fs[0](x)), computing each intermediate value once."""
    derivative = 1.0
    for i in range(len(fs)):
        inner = x
        for f in fs[:i]:
            inner = f(inner)
        derivative *= dfs[i](inner)
    value = x
    for f in fs:
        value = f(value)
    return value, derivative''',
        },
        "loses": {'a1-chain-derivative-test': 3},
        "says": 'at most 1200 are allowed: compute each intermediate value once',
    },
    {
        "mistake": "The closure of Node.__mul__ assigns with = instead of adding with +=, so an input that already holds a contribution (fan-out, or x * x with the same node in both slots) keeps only the last one. Node.backward, which later exercises' demos use, calls it.",
        "cells": {
            'a1-node-local-derivatives': '''class Node:
    """A scalar in a computational graph: value, gradient, and how to pass gradients back."""

    def __init__(self, data, inputs=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(inputs)
        self._op = op
        self._backward = lambda: None  # a leaf has nothing to pass back

    def __repr__(self):
        return f"Node(data={self.data:.6g}, grad={self.grad:.6g})"

    def __add__(self, other):
        if not isinstance(other, (Node, int, float)):
            return NotImplemented
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other):
        if not isinstance(other, (Node, int, float)):
            return NotImplemented
        other = other if isinstance(other, Node) else Node(other)
        out = Node(self.data * other.data, (self, other), "*")

        def _backward():
            self.grad = other.data * out.grad
            other.grad = self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(
                f"Node ** n: the exponent must be a Python number, got {type(exponent).__name__}"
            )
        out = Node(self.data**exponent, (self,), f"**{exponent}")

        def _backward():
            self.grad += exponent * self.data ** (exponent - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self):
        out = Node(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def relu(self):
        out = Node(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (1.0 if self.data > 0 else 0.0) * out.grad

        out._backward = _backward
        return out

    # Compositions of the five operations above: no closures of their own.
    def __neg__(self):
        return self * -1.0

    def __sub__(self, other):
        return self + (-other)

    def __rsub__(self, other):
        return (-self) + other

    def __radd__(self, other):
        return self + other

    def __rmul__(self, other):
        return self * other

    def __truediv__(self, other):
        return self * (other if isinstance(other, Node) else Node(other)) ** -1

    def __rtruediv__(self, other):
        return self**-1 * other

    def backward(self):
        """Fill in .grad of every node this one depends on (uses your backpropagate)."""
        backpropagate(self)''',
        },
        "loses": {'a1-node-mul-test': 1},
        "says": 'The grad the inputs held was replaced: add into grad with +=',
    },
    {
        "mistake": "topological_order is a recursive depth-first search: right on small graphs, but deep chains hit Python's recursion limit. backpropagate calls it, yet its own part is judged with a correct order standing in.",
        "cells": {
            'a1-topological-order': '''def topological_order(root):
    """Every node root depends on, once each, each after the nodes in its _prev; root is last."""
    order, visited = [], set()

    def visit(node):
        if id(node) in visited:
            return
        visited.add(id(node))
        for operand in node._prev:
            visit(operand)
        order.append(node)

    visit(root)
    return order


def backpropagate(root):
    """Set root.grad to 1 and run every node's _backward in reverse topological order."""
    root.grad = 1.0
    for node in reversed(topological_order(root)):
        node._backward()''',
        },
        "loses": {'a1-topological-order-test': 3},
        "says": 'topological_order must be iterative',
    },
    {
        "mistake": "Dual.__truediv__ has the quotient rule's numerator the wrong way round (val * other.dot - dot * other.val), so every quotient's eps part has the wrong sign. forward_partials, which uses Dual, keeps its points: its tests use only the operations Dual is given.",
        "cells": {
            'a1-dual-numbers': '''class Dual:
    """A dual number val + dot * eps with eps**2 = 0: a value and its derivative along one input."""

    def __init__(self, val, dot=0.0):
        self.val = float(val)
        self.dot = float(dot)

    def __repr__(self):
        return f"Dual(val={self.val:.6g}, dot={self.dot:.6g})"

    @staticmethod
    def lift(other):
        """A Python number c becomes the constant c + 0 eps."""
        return other if isinstance(other, Dual) else Dual(other, 0.0)

    def __add__(self, other):
        other = Dual.lift(other)
        return Dual(self.val + other.val, self.dot + other.dot)

    __radd__ = __add__

    def __neg__(self):
        return Dual(-self.val, -self.dot)

    def __sub__(self, other):
        return self + (-Dual.lift(other))

    def __rsub__(self, other):
        return Dual.lift(other) - self

    def __pow__(self, n):
        return Dual(self.val**n, n * self.val ** (n - 1) * self.dot)

    def relu(self):
        return Dual(max(self.val, 0.0), self.dot if self.val > 0 else 0.0)

    def __mul__(self, other):
        other = Dual.lift(other)
        return Dual(self.val * other.val, self.val * other.dot + self.dot * other.val)

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = Dual.lift(other)
        dot = (self.val * other.dot - self.dot * other.val) / other.val**2
        return Dual(self.val / other.val, dot)

    def __rtruediv__(self, other):
        return Dual.lift(other) / self

    def exp(self):
        e = math.exp(self.val)
        return Dual(e, e * self.dot)


def forward_partials(f, args):
    """f(*args) as a float and the tuple of its partials, by one forward pass per input."""
    value, partials = None, []
    for i in range(len(args)):
        duals = [Dual(a, 1.0 if j == i else 0.0) for j, a in enumerate(args)]
        out = Dual.lift(f(*duals))
        value = out.val
        partials.append(out.dot)
    return value, tuple(partials)''',
        },
        "loses": {'a1-dual-numbers-test': 2},
        "says": 'Dual(2, 1) / Dual(3, 0.5) as (val, dot): wrong values',
    },
]
