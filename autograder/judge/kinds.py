"""The kinds of requirement a block of test code checks, read from its syntax.

A hidden test that grades a requirement the visible tests never check (a dtype, an order, a
reset of the gradients, ...) takes points for something the student could not see coming.
:func:`kinds_of` lists what a block checks, so a test over the course can demand, per
graded cell, that every requirement kind of its hidden block is also in its visible block.

A kind is found from:

- the checks of :mod:`minigrad.expect` (``expect_dtype`` -> "dtype", ``require("order",
  ...)`` -> "order", ``calls_to`` -> "method", ``autograd_off`` -> "autograd-off", ...) and
  their judge counterparts (``student.counting`` -> "method", ``unchanged`` -> "inplace",
  ``arrays(..., dtype=...)`` -> "dtype");
- plain asserts: ``.dtype`` -> "dtype", ``.shape`` or ``np.shape`` -> "shape",
  ``isfinite``/``isnan``/``isinf`` -> "stability";
- gradient checks (``check_gradients``, ``gradcheck``, ``gradients_ok``) -> "gradient";
- calls of the functions of a hidden preamble: the kinds those functions check.
"""

from __future__ import annotations

import ast

from minigrad.expect import KINDS

__all__ = ["REQUIREMENTS", "kinds_of"]

REQUIREMENTS = frozenset(KINDS) - {"value", "gradient"}
"""Kinds that a visible test must check whenever a hidden test does."""

_CALLS = {
    "expect_close": "value", "expect_shape": "shape", "expect_dtype": "dtype",
    "expect_finite": "stability", "expect_accuracy": "accuracy",
    "expect_unchanged": "inplace", "unchanged": "inplace",
    "calls_to": "method", "counting": "method",
    "autograd_off": "autograd-off",
    "check_gradients": "gradient", "gradcheck": "gradient", "gradients_ok": "gradient",
}
_IN_ASSERTS = {"dtype": "dtype", "shape": "shape", "isfinite": "stability",
               "isnan": "stability", "isinf": "stability"}


def _name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


def _helper_kinds(helpers: str) -> dict[str, set[str]]:
    """name -> the kinds a function of ``helpers`` checks, through the helpers it calls."""
    functions = {node.name: node for node in ast.parse(helpers).body
                 if isinstance(node, ast.FunctionDef)}
    kinds = {name: _kinds(node, {}) for name, node in functions.items()}
    changed = True
    while changed:
        changed = False
        for name, node in functions.items():
            more = _kinds(node, kinds)
            if not more <= kinds[name]:
                kinds[name] |= more
                changed = True
    return kinds


def kinds_of(code: str, helpers: str = "") -> set[str]:
    """The requirement kinds ``code`` checks (see the module docstring), including those of
    the functions of ``helpers`` (a hidden preamble) that it calls."""
    return _kinds(ast.parse(code), _helper_kinds(helpers) if helpers else {})


def _kinds(tree: ast.AST, helpers: dict[str, set[str]]) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func)
            if isinstance(node.func, ast.Name) and name in helpers:
                found |= helpers[name]
            if name in _CALLS:
                found.add(_CALLS[name])
            if name == "require" and node.args and isinstance(node.args[0], ast.Constant):
                found.add(str(node.args[0].value))
            if name == "arrays":
                found |= {k.arg for k in node.keywords if k.arg in ("dtype",)}
                if any(k.arg == "shapes" for k in node.keywords):
                    found.add("shape")
        elif isinstance(node, ast.Assert):
            for inner in ast.walk(node.test):
                kind = _IN_ASSERTS.get(_name(inner))
                if kind:
                    found.add(kind)
    return found
