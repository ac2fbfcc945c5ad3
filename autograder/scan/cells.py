"""What a notebook cell is to nbgrader: its metadata, its role, and what its code defines."""

from __future__ import annotations

import ast

from ..records import TextEnum
from .tamper import strip_magics


class Role(TextEnum):
    """A cell's role, read from its nbgrader flags (solution wins, then grade, task, locked)."""

    PLAIN = "plain"
    ANSWER = "answer"
    TEST = "test"
    TASK = "task"
    LOCKED = "locked"

    @property
    def owned_by_release(self) -> bool:
        """Test, locked and task cells: the release's source is the one graded."""
        return self in (Role.TEST, Role.LOCKED, Role.TASK)

    @property
    def editable(self) -> bool:
        """Answer cells and cells without nbgrader metadata: the ones the scan reads."""
        return self in (Role.PLAIN, Role.ANSWER)


def nbgrader_meta(cell) -> dict | None:
    """The cell's nbgrader metadata, or None when it is missing or not a dict."""
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else None


def role_of(cell) -> Role:
    meta = nbgrader_meta(cell)
    if not meta:
        return Role.PLAIN
    if meta.get("solution"):
        return Role.ANSWER
    if meta.get("grade"):
        return Role.TEST
    if meta.get("task"):
        return Role.TASK
    if meta.get("locked"):
        return Role.LOCKED
    return Role.PLAIN


def grade_id(cell) -> str | None:
    return (nbgrader_meta(cell) or {}).get("grade_id")


def defined_names(source: str) -> set[str]:
    """The functions and classes a cell defines at its top level."""
    try:
        tree = ast.parse(strip_magics(source)[0])
    except (SyntaxError, ValueError, RecursionError):
        return set()
    return {n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def first_line(source: str) -> str:
    """The first line that is not blank, stripped."""
    for line in source.split("\n"):
        if line.strip():
            return line.strip()
    return ""
