"""The scalar autograd engine: ``Value``, one number in a computational graph.

Every op below computes its result and names its backward rule right next to it.
A backward rule ``rule(out, g)`` receives the output node ``out`` and its gradient
``g`` as arguments and adds ``g`` times each local derivative into the gradient of
the matching input (chain rule).
Because a rule gets the output node as an argument instead of capturing it, no
node refers back to itself: a dropped graph is freed by reference counting alone.
Because most rules are plain functions shared by every node of that op, a node
is one small object; only ``**`` builds a closure, over its exponent.
A node keeps the inputs of its op (at most two) in two fields, ``_a`` and ``_b``,
rather than in a tuple of their own: a graph is then one object per node for the
garbage collector to walk instead of two, which halves the collector's work while a
large graph is built. ``_prev`` gives them as a tuple.

``backward()`` orders the graph with an explicit stack (no recursion, so a chain
of a million nodes is fine), resets every interior gradient, and runs the rules
from the output back to the leaves.
Leaves accumulate across calls, as in PyTorch, until you set ``grad = 0.0``.
Only the standard library is used.
"""

from __future__ import annotations

import math
import sys
import weakref
from numbers import Integral, Real

__all__ = ["Value"]

# e ** x overflows a float above this input (about 709.78).
_EXP_LIMIT = math.log(sys.float_info.max)


class Value:
    """A scalar node: ``data``, ``grad``, and the op that produced it.

    ``_a`` and ``_b`` are the inputs of that op (None where it has fewer than two),
    ``_prev`` the same as a tuple, ``_op`` the op's label (``""`` for a leaf) and
    ``_backward`` its rule ``rule(out, g)``, or None.
    ``label`` is an optional name shown by ``minigrad.viz.draw_graph``.
    Python numbers mix with Values and become constant leaves.
    ``mg.no_grad()`` does not apply here: a Value always records its op, so that
    each op stays one object (``no_grad`` is for ``Tensor``).

    A new op is one line of forward and one rule::

        def cube(x):
            def rule(out, g):
                a = out._a
                a.grad += 3 * a.data**2 * g
            return Value(x.data**3, (x,), "cube", rule)
    """

    __slots__ = ("data", "grad", "_a", "_b", "_op", "_backward", "_mark", "__weakref__")

    def __init__(self, data, _prev=(), _op="", _backward=None, *, label=""):
        if type(data) is not float:
            data = _as_float(data)
        children = tuple(_prev)
        if len(children) > 2:
            raise ValueError(
                f"Value: a node takes at most two inputs, its op's operands (got {len(children)})"
            )
        self.data = data
        self.grad = 0.0
        if label:
            self.label = label
        self._a, self._b = (*children, None, None)[:2]  # None for each missing input
        self._op = _op
        self._backward = _backward
        self._mark = None  # set by backward() while it orders the graph

    @property
    def label(self):
        """An optional name shown by ``minigrad.viz.draw_graph``; ``""`` if none was given.

        Few nodes have one, so labels are kept in a table beside the nodes rather than
        in a field of every node.
        """
        return _labels.get(self, "")

    @label.setter
    def label(self, name):
        _labels[self] = name

    @property
    def _prev(self):
        """The inputs of the op that made this node: ``()`` for a leaf, ``(a,)`` or ``(a, b)``."""
        if self._a is None:
            return ()
        return (self._a,) if self._b is None else (self._a, self._b)

    def __repr__(self):
        extra = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data!r}, grad={self.grad!r}{extra})"

    # ------------------------------------------------------------------
    # Binary ops: a op b, with d/da and d/db in the rule beside each one.
    # ------------------------------------------------------------------

    def __add__(self, other):
        """``a + b``: d/da = 1, d/db = 1."""
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return NotImplemented
        return _node(self.data + other.data, self, other, "+", Value._add_backward)

    @staticmethod
    def _add_backward(out, g):
        out._a.grad += g
        out._b.grad += g

    def __sub__(self, other):
        """``a - b``: d/da = 1, d/db = -1."""
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return NotImplemented
        return _node(self.data - other.data, self, other, "-", Value._sub_backward)

    @staticmethod
    def _sub_backward(out, g):
        out._a.grad += g
        out._b.grad -= g

    def __mul__(self, other):
        """``a * b``: d/da = b, d/db = a."""
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return NotImplemented
        return _node(self.data * other.data, self, other, "*", Value._mul_backward)

    @staticmethod
    def _mul_backward(out, g):
        a, b = out._a, out._b
        a.grad += b.data * g
        b.grad += a.data * g

    def __truediv__(self, other):
        """``a / b``: d/da = 1 / b, d/db = -a / b**2 = -(a / b) / b."""
        if type(other) is not Value:
            other = _lift(other)
            if other is NotImplemented:
                return NotImplemented
        try:
            quotient = self.data / other.data
        except ZeroDivisionError:
            raise ZeroDivisionError(
                f"div: the divisor must be nonzero (got {self.data!r} / {other.data!r})"
            ) from None
        return _node(quotient, self, other, "/", Value._div_backward)

    @staticmethod
    def _div_backward(out, g):
        a, b = out._a, out._b
        a.grad += g / b.data
        b.grad -= g * out.data / b.data

    def __pow__(self, exponent, modulo=None):
        """``x ** p`` for a number ``p``: d/dx = p * x ** (p - 1)."""
        if modulo is not None:
            raise TypeError(f"pow: a modulo argument is not supported (got modulo={modulo!r})")
        if isinstance(exponent, Value):
            raise TypeError(
                "pow: the exponent must be a number such as 2 or 0.5, not a Value "
                "(got Value ** Value); for a ** b with both Values write (b * a.log()).exp()"
            )
        if not isinstance(exponent, Real):
            return NotImplemented
        if type(exponent) is not int and type(exponent) is not float:  # bool, numpy scalars
            exponent = int(exponent) if isinstance(exponent, Integral) else float(exponent)
        x = self.data
        if x < 0 and not float(exponent).is_integer():
            raise ValueError(
                f"pow: a negative base needs an integer exponent, the result would be "
                f"complex (got {x!r} ** {exponent!r})"
            )
        try:
            result = x**exponent
        except ZeroDivisionError:
            raise ZeroDivisionError(
                f"pow: the base must be nonzero for a negative exponent (got {x!r} ** {exponent!r})"
            ) from None
        except OverflowError:
            raise OverflowError(
                f"pow: the result is too large for a float (got {x!r} ** {exponent!r})"
            ) from None

        def _pow_backward(out, g):  # a closure over the exponent only, never over `out`
            a = out._a
            if exponent == 0:
                return  # x ** 0 is the constant 1
            if a.data == 0 and exponent < 1:
                local = math.inf  # the slope of x ** p at 0 is infinite for 0 < p < 1
            else:
                local = exponent * a.data ** (exponent - 1)
            a.grad += local * g

        return _node(result, self, None, f"**{exponent}", _pow_backward)

    # Reflected ops: a Python number on the left becomes a constant leaf.

    def __radd__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other + self

    def __rsub__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other - self

    def __rmul__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other * self

    def __rtruediv__(self, other):
        other = _lift(other)
        return other if other is NotImplemented else other / self

    def __rpow__(self, base):
        if not isinstance(base, Real):
            return NotImplemented
        raise TypeError(
            "pow: the exponent must be a number, not a Value "
            f"(got {base!r} ** Value); write (v * math.log({base!r})).exp() for {base!r} ** v"
        )

    # ------------------------------------------------------------------
    # Unary ops: y = f(x), with dy/dx in the rule beside each one.
    # ------------------------------------------------------------------

    def __neg__(self):
        """``-x``: d/dx = -1."""
        return _node(-self.data, self, None, "neg", Value._neg_backward)

    @staticmethod
    def _neg_backward(out, g):
        out._a.grad -= g

    def exp(self):
        """``e ** x``: d/dx = e ** x, the output itself."""
        try:
            y = math.exp(self.data)
        except OverflowError:
            raise OverflowError(
                f"exp: the input must be at most {_EXP_LIMIT:.2f} for e ** x to fit in a "
                f"float (got {self.data!r})"
            ) from None
        return _node(y, self, None, "exp", Value._exp_backward)

    @staticmethod
    def _exp_backward(out, g):
        out._a.grad += out.data * g

    def log(self):
        """Natural logarithm: d/dx = 1 / x."""
        x = self.data
        if x <= 0:
            raise ValueError(f"log: the input must be positive (got {x!r})")
        return _node(math.log(x), self, None, "log", Value._log_backward)

    @staticmethod
    def _log_backward(out, g):
        a = out._a
        a.grad += g / a.data

    def tanh(self):
        """Hyperbolic tangent t: d/dx = 1 - t ** 2."""
        return _node(math.tanh(self.data), self, None, "tanh", Value._tanh_backward)

    @staticmethod
    def _tanh_backward(out, g):
        t = out.data
        out._a.grad += (1.0 - t * t) * g

    def relu(self):
        """``max(x, 0)``: d/dx = 1 where x > 0, else 0 (also at the kink x = 0)."""
        x = self.data
        return _node(0.0 if x <= 0 else x, self, None, "relu", Value._relu_backward)

    @staticmethod
    def _relu_backward(out, g):
        if out.data > 0:
            out._a.grad += g

    def sigmoid(self):
        """Logistic s = 1 / (1 + e ** -x): d/dx = s * (1 - s)."""
        x = self.data
        if x >= 0:
            s = 1.0 / (1.0 + math.exp(-x))
        else:  # the same value, written so that e ** -x cannot overflow
            e = math.exp(x)
            s = e / (1.0 + e)
        return _node(s, self, None, "sigmoid", Value._sigmoid_backward)

    @staticmethod
    def _sigmoid_backward(out, g):
        s = out.data
        out._a.grad += s * (1.0 - s) * g

    # ------------------------------------------------------------------
    # Backpropagation
    # ------------------------------------------------------------------

    def backward(self):
        """Set ``node.grad`` to d(self)/d(node) for every node this one depends on.

        Interior gradients are reset first, so calling it twice adds exactly one more
        increment to each leaf (leaves accumulate until you set ``grad = 0.0``).
        """
        if self._a is None:  # a leaf: d(self)/d(self) = 1, accumulated like any leaf
            self.grad += 1.0
            return
        order = _interior_nodes(self)  # every grad reset to 0, self last
        self.grad = 1.0
        for node in reversed(order):
            rule = node._backward
            if rule is not None:
                rule(node, node.grad)


def _interior_nodes(root):
    """Every interior node reachable from ``root``, each after its interior children; root last.

    It is a topological order of the graph without its leaves, which have no rule to
    run and keep their gradients; each node's ``grad`` is reset to 0 as it is placed.
    Depth-first with an explicit stack instead of recursion.
    A node is marked "entered" when its children are pushed and "done" when it is
    placed; both marks are fresh objects, so marks left by an earlier call never match.
    """
    entered = object()
    done = object()
    order = []
    stack = [root]
    # `while True` rather than `while stack`: CPython 3.11 specialises a function after a
    # few calls or a few unconditional jumps back, and `while stack` jumps back
    # conditionally, so a program that calls backward() a few times ran it unspecialised.
    while True:
        node = stack[-1]
        mark = node._mark
        if mark is entered:  # every child is placed by now: place the node
            stack.pop()
            node._mark = done
            node.grad = 0.0
            order.append(node)
            if node is root:  # it was at the bottom of the stack: every node is placed
                return order
        elif mark is done:  # reached again through another parent: already placed
            stack.pop()
        else:  # first visit: push the inputs that are interior and not placed yet
            node._mark = entered
            a, b = node._a, node._b  # an interior node has an input a, and maybe b
            if a._a is not None and a._mark is not done:
                stack.append(a)
            if b is not None and b._a is not None and b._mark is not done:
                stack.append(b)


def _node(data, a, b, op, rule):
    """A node like ``Value(data, inputs, op, rule)``, built without calling ``__init__``.

    ``a`` and ``b`` are the op's inputs, None where it has fewer than two.

    Every op builds its output here: its ``data`` is a float already, and skipping the
    constructor's call and check makes a node about a fifth cheaper to build.
    It stores the same fields as ``__init__``.
    """
    out = _new_object(Value)
    out.data = data
    out.grad = 0.0
    out._a = a
    out._b = b
    out._op = op
    out._backward = rule
    out._mark = None
    return out


_new_object = object.__new__

# The label of each node that has one; an entry goes when its node is freed.
_labels = weakref.WeakKeyDictionary()


def _lift(x):
    """``x`` as a Value: numbers become constant leaves; other types give NotImplemented."""
    if type(x) is float:
        return _node(x, None, None, "", None)
    if isinstance(x, Value):
        return x
    if isinstance(x, Real):
        return _node(float(x), None, None, "", None)
    return NotImplemented


def _as_float(x):
    """The float behind a real number given as ``Value(data)``; a clear error otherwise."""
    if isinstance(x, Real):
        return float(x)
    hint = ": pass the Value itself, or its .data" if isinstance(x, Value) else ""
    raise TypeError(f"Value: data must be a real number such as 2.0 (got {type(x).__name__}{hint})")
