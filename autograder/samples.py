"""Sample students: a correct, a blank and a typically buggy submission per assignment.

- ``sample-solution``: the released notebook with every answer cell's source replaced by the
  source notebook's solution (the ``### BEGIN/END SOLUTION`` marker lines dropped);
- ``sample-blank``: the released notebook as is;
- ``sample-buggy``: the solution with the answer cells named in
  ``notebooks/<assignment>/buggy.py`` replaced.

``buggy.py`` is read with :mod:`ast`, never executed. It must assign two literals::

    CELLS = {"<grade_id of an answer cell>": '''<full source of that cell>''', ...}
    EXPECTED_POINTS = <number>   # what the buggy student scores: > 0 and < the total
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat

from .build import BUGGY_NAME

__all__ = [
    "SAMPLE_STUDENTS",
    "BuggySpec",
    "check_buggy",
    "expected_scores",
    "load_buggy",
    "solution_source",
    "write_samples",
]

SAMPLE_STUDENTS = ("sample-solution", "sample-blank", "sample-buggy")
_MARKER = re.compile(r"^\s*#{2,3} (BEGIN|END) SOLUTION\s*$")


@dataclass(frozen=True)
class BuggySpec:
    """The buggy sample of one assignment: replacement cells and the score it must get."""

    path: Path
    cells: dict[str, str]
    expected_points: float


def load_buggy(path: Path) -> BuggySpec:
    """Read CELLS and EXPECTED_POINTS from a buggy.py without running it."""
    if not path.is_file():
        raise ValueError(
            f"{path} is missing: each assignment needs a sample buggy submission "
            "(CELLS = {grade_id: source}, EXPECTED_POINTS = number)"
        )
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ValueError(f"{path}: not valid Python ({exc.msg}, line {exc.lineno})") from exc
    values = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id in ("CELLS", "EXPECTED_POINTS"):
                try:
                    values[target.id] = ast.literal_eval(node.value)
                except ValueError as exc:
                    raise ValueError(
                        f"{path}: {target.id} must be a literal (line {node.lineno})"
                    ) from exc
    for name in ("CELLS", "EXPECTED_POINTS"):
        if name not in values:
            raise ValueError(f"{path}: no top-level assignment to {name}")
    cells, points = values["CELLS"], values["EXPECTED_POINTS"]
    if not isinstance(cells, dict) or not cells:
        raise ValueError(f"{path}: CELLS must be a non-empty dict grade_id -> source")
    for key, source in cells.items():
        if not isinstance(key, str) or not isinstance(source, str):
            raise ValueError(f"{path}: CELLS must map str grade_id -> str source, got {key!r}")
    if isinstance(points, bool) or not isinstance(points, int | float):
        raise ValueError(f"{path}: EXPECTED_POINTS must be a number, got {points!r}")
    return BuggySpec(path, dict(cells), float(points))


def solution_source(source: str) -> str:
    """An answer cell's source with the solution marker lines removed."""
    lines = [line for line in source.split("\n") if not _MARKER.match(line)]
    return "\n".join(lines)


def _answer_cells(nb) -> dict[str, object]:
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id"):
            out[meta["grade_id"]] = cell
    return out


def _total_points(nb) -> float:
    total = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            total += float(meta.get("points", 0) or 0)
    return total


def expected_scores(source_dir: Path, buggy: BuggySpec) -> dict[str, float]:
    """Score each sample student must get: total, zero, EXPECTED_POINTS."""
    total = sum(
        _total_points(nbformat.read(str(p), as_version=4))
        for p in sorted(source_dir.glob("*.ipynb"))
    )
    return {
        "sample-solution": total,
        "sample-blank": 0.0,
        "sample-buggy": buggy.expected_points,
    }


def check_buggy(source_dir: Path, buggy: BuggySpec) -> None:
    """Raise ValueError unless buggy.py names answer cells of the assignment's source
    notebooks and its EXPECTED_POINTS lies strictly between 0 and their total."""
    assignment = source_dir.name
    answer_ids: set[str] = set()
    total = 0.0
    for path in sorted(source_dir.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        answer_ids |= set(_answer_cells(nb))
        total += _total_points(nb)
    unknown = sorted(set(buggy.cells) - answer_ids)
    if unknown:
        raise ValueError(
            f"{buggy.path}: CELLS names {', '.join(map(repr, unknown))}, which "
            f"{'is not an answer cell' if len(unknown) == 1 else 'are not answer cells'} "
            f"of {assignment} (answer cells: {', '.join(sorted(answer_ids)) or 'none'})"
        )
    if not 0 < buggy.expected_points < total:
        raise ValueError(
            f"{buggy.path}: EXPECTED_POINTS must be > 0 and < the total {total:g} "
            f"(got {buggy.expected_points:g})"
        )


def write_samples(
    source_dir: Path, release_dir: Path, submitted_dir: Path, buggy: BuggySpec
) -> dict[str, Path]:
    """Write the three sample students of one assignment under ``submitted_dir``.

    ``source_dir`` and ``release_dir`` are the assignment's folders under source/ and
    release/. Returns student -> assignment folder written. Raises ValueError when buggy.py
    names a cell that is not an answer cell, or its points are not strictly between 0 and
    the total.
    """
    assignment = source_dir.name
    released = sorted(release_dir.glob("*.ipynb"))
    if not released:
        raise ValueError(f"{release_dir} holds no notebooks: release {assignment} first")
    check_buggy(source_dir, buggy)
    notebooks = {}
    for release_path in released:
        source_path = source_dir / release_path.name
        if not source_path.is_file():
            raise ValueError(f"{release_path.name} is released but {source_path} is missing")
        notebooks[release_path.name] = (
            nbformat.read(str(source_path), as_version=4),
            nbformat.read(str(release_path), as_version=4),
        )

    written = {}
    for student in SAMPLE_STUDENTS:
        target = submitted_dir / student / assignment
        target.mkdir(parents=True, exist_ok=True)
        for stale in target.glob("*.ipynb"):
            stale.unlink()
        for name, (source_nb, release_nb) in notebooks.items():
            nb = nbformat.from_dict(release_nb)
            if student != "sample-blank":
                solutions = _answer_cells(source_nb)
                for grade_id, cell in _answer_cells(nb).items():
                    if grade_id in solutions:
                        cell.source = solution_source(solutions[grade_id].source)
                if student == "sample-buggy":
                    for grade_id, cell in _answer_cells(nb).items():
                        if grade_id in buggy.cells:
                            cell.source = buggy.cells[grade_id]
            nbformat.write(nb, str(target / name))
        written[student] = target
    return written


def buggy_path(notebooks_dir: Path, assignment: str) -> Path:
    return notebooks_dir / assignment / BUGGY_NAME
