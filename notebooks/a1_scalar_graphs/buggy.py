"""Sample submission with a typical bug for assignment 1 (scalar computational graphs).

The student's ``Node.__mul__`` closure assigns its contributions with ``=`` instead of
adding them with ``+=``. Every single-use product still gets the right gradient, but a
node used twice (``x * x``) or feeding several operations (fan-out) keeps only the last
contribution. The closure exercise and the engine exercise fail; everything else passes.
"""

BUGS = [
    {
        "mistake": 'Sample submission with a typical bug for assignment 1 (scalar computational graphs).',
        "cells": {
            'a1-node-local-derivatives': '''class Node:
    """A scalar in a computational graph: value, gradient, and how to pass gradients back."""

    def __init__(self, data, children=(), op=""):
        self.data = float(data)
        self.grad = 0.0
        self._prev = tuple(children)
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
        "loses": {'a1-node-local-derivatives-test': 4.0, 'a1-topological-order-test': 4.0},
    },
]
