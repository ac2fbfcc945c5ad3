"""Sample students: a correct, a blank and a typically buggy submission per assignment.

- ``sample-solution``: the released notebook with every answer cell's source replaced by the
  source notebook's solution (the ``### BEGIN/END SOLUTION`` marker lines dropped);
- ``sample-blank``: the released notebook as is;
- ``sample-buggy``: the solution with the answer cells of every bug in
  ``notebooks/<assignment>/buggy.py`` replaced.

``buggy.py`` is read with :mod:`ast`, never executed. It assigns one literal, a list of the
typical mistakes of the assignment::

    BUGS = [
        {"mistake": "what the student got wrong, in a sentence",
         "cells": {"<grade_id of an answer cell>": \'\'\'<full source of that cell>\'\'\', ...},
         "loses": {"<grade_id of a test cell>": <points lost>, ...},
         "says": "<text the verdict of each losing cell must contain>"},
        ...
    ]

``check`` grades the buggy student and demands, cell by cell, that every test cell in some
``loses`` scores its points minus the loss and every other test cell full marks; that each
losing cell's verdict contains ``says``; and, before grading, that a bug loses points only in
the exercise(s) of its own answer cells: one mistake costs points once.

A written answer (:mod:`autograder.rubric`) is graded by hand, never by ``check``: the
solution and the buggy student hand in the model answer, which nbgrader leaves to grade by
hand (it scores nothing until then); the blank one's is unchanged, which nbgrader scores 0.
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
    "Bug",
    "BuggySpec",
    "check_buggy",
    "expected_cell_scores",
    "expected_scores",
    "load_buggy",
    "solution_source",
    "write_samples",
    "written_points",
]

SAMPLE_STUDENTS = ("sample-solution", "sample-blank", "sample-buggy")
_MARKER = re.compile(r"^\s*#{2,3} (BEGIN|END) SOLUTION\s*$")
_KEYS = {"mistake", "cells", "loses", "says"}


@dataclass(frozen=True)
class Bug:
    """One typical mistake: the answer cells it replaces and the points each test cell loses."""

    mistake: str
    cells: dict[str, str]
    loses: dict[str, float]
    says: str = ""


@dataclass(frozen=True)
class BuggySpec:
    """The buggy sample of one assignment: its bugs, applied together."""

    path: Path
    bugs: tuple[Bug, ...]

    @property
    def cells(self) -> dict[str, str]:
        return {k: v for bug in self.bugs for k, v in bug.cells.items()}

    @property
    def loses(self) -> dict[str, float]:
        return {k: v for bug in self.bugs for k, v in bug.loses.items()}

    @property
    def expected_points(self) -> float:
        """The points the buggy student loses in all (kept for the summary tables)."""
        return sum(self.loses.values())


def _bug(path: Path, index: int, item) -> Bug:
    where = f"{path}: BUGS[{index}]"
    if not isinstance(item, dict) or not {"mistake", "cells", "loses"} <= set(item):
        raise ValueError(f"{where} must be a dict with 'mistake', 'cells' and 'loses' "
                         "(and optionally 'says')")
    unknown = set(item) - _KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)} (allowed: "
                         f"{sorted(_KEYS)})")
    cells, loses = item["cells"], item["loses"]
    if not isinstance(cells, dict) or not cells or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in cells.items()):
        raise ValueError(f"{where}: 'cells' must be a non-empty dict grade_id -> source")
    if not isinstance(loses, dict) or not loses or not all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            and v > 0 for k, v in loses.items()):
        raise ValueError(f"{where}: 'loses' must be a non-empty dict test grade_id -> "
                         "points lost (> 0)")
    says = item.get("says", "")
    if not isinstance(says, str) or not isinstance(item["mistake"], str):
        raise ValueError(f"{where}: 'mistake' and 'says' must be strings")
    return Bug(item["mistake"], dict(cells), {k: float(v) for k, v in loses.items()}, says)


def load_buggy(path: Path) -> BuggySpec:
    """Read BUGS from a buggy.py without running it."""
    if not path.is_file():
        raise ValueError(
            f"{path} is missing: each assignment needs a sample buggy submission "
            "(BUGS = [{'mistake': ..., 'cells': {grade_id: source}, 'loses': {test grade_id: "
            "points}}])"
        )
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise ValueError(f"{path}: not valid Python ({exc.msg}, line {exc.lineno})") from exc
    bugs = None
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target = node.targets[0]
            if isinstance(target, ast.Name) and target.id == "BUGS":
                try:
                    bugs = ast.literal_eval(node.value)
                except ValueError as exc:
                    raise ValueError(
                        f"{path}: BUGS must be a literal (line {node.lineno})") from exc
    if bugs is None:
        raise ValueError(f"{path}: no top-level assignment to BUGS")
    if not isinstance(bugs, list) or not bugs:
        raise ValueError(f"{path}: BUGS must be a non-empty list of dicts")
    parsed = tuple(_bug(path, i, item) for i, item in enumerate(bugs))
    seen: dict[str, int] = {}
    for i, bug in enumerate(parsed):
        for key in list(bug.cells) + list(bug.loses):
            if key in seen and seen[key] != i:
                raise ValueError(f"{path}: BUGS[{seen[key]}] and BUGS[{i}] both name {key}: "
                                 "give each mistake its own cells")
            seen[key] = i
    return BuggySpec(path, parsed)


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


def _total_points(nb, written: bool = False) -> float:
    """The points of the autograded cells (``written``: of the written answers)."""
    from .rubric import is_written

    total = 0.0
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and is_written(cell) == written:
            total += float(meta.get("points", 0) or 0)
    return total


def _test_points(nb) -> dict[str, float]:
    out = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution") and meta.get("grade_id"):
            out[meta["grade_id"]] = float(meta.get("points", 0) or 0)
    return out


def _source_notebooks(source_dir: Path) -> list:
    return [nbformat.read(str(p), as_version=4) for p in sorted(source_dir.glob("*.ipynb"))]


def expected_cell_scores(source_dir: Path, buggy: BuggySpec) -> dict[str, float]:
    """Test cell grade_id -> the points the buggy student must score there."""
    points = {k: v for nb in _source_notebooks(source_dir) for k, v in _test_points(nb).items()}
    return {gid: p - buggy.loses.get(gid, 0.0) for gid, p in points.items()}


def written_points(source_dir: Path) -> float:
    """The points of an assignment's written answers, graded by hand."""
    return sum(_total_points(nb, written=True) for nb in _source_notebooks(source_dir))


def expected_scores(source_dir: Path, buggy: BuggySpec) -> dict[str, float]:
    """Score each sample student must get before grading by hand: the autograded total,
    zero, the autograded total minus the bugs' losses."""
    total = sum(_total_points(nb) for nb in _source_notebooks(source_dir))
    return {
        "sample-solution": total,
        "sample-blank": 0.0,
        "sample-buggy": total - buggy.expected_points,
    }


def check_buggy(source_dir: Path, buggy: BuggySpec) -> None:
    """Raise ValueError unless every bug in buggy.py names answer cells and test cells of the
    assignment, loses no more than a cell's points, and loses them only in the exercises of
    its own answer cells."""
    from .exercises import exercises_of

    assignment = source_dir.name
    answer_ids: set[str] = set()
    points: dict[str, float] = {}
    exercise_of: dict[str, str] = {}
    for index, nb in enumerate(_source_notebooks(source_dir)):
        answer_ids |= set(_answer_cells(nb))
        points.update(_test_points(nb))
        for ex in exercises_of(nb, f"{assignment} notebook {index + 1}"):
            for gid in ex.answers + [p.grade_id for p in ex.parts]:
                exercise_of[gid] = ex.label()
    for i, bug in enumerate(buggy.bugs):
        where = f"{buggy.path}: BUGS[{i}] ({bug.mistake[:60]})"
        unknown = sorted(set(bug.cells) - answer_ids)
        if unknown:
            raise ValueError(
                f"{where}: 'cells' names {', '.join(map(repr, unknown))}, not an answer cell of "
                f"{assignment} (answer cells: {', '.join(sorted(answer_ids)) or 'none'})")
        for gid, lost in bug.loses.items():
            if gid not in points:
                raise ValueError(f"{where}: 'loses' names {gid!r}, not a graded test cell of "
                                 f"{assignment} (test cells: {', '.join(sorted(points))})")
            if lost > points[gid]:
                raise ValueError(f"{where}: {gid} is worth {points[gid]:g} points, it cannot "
                                 f"lose {lost:g}")
        own = {exercise_of.get(gid) for gid in bug.cells}
        elsewhere = sorted(gid for gid in bug.loses if exercise_of.get(gid) not in own)
        if elsewhere:
            raise ValueError(
                f"{where}: loses points in {', '.join(elsewhere)}, outside its own exercise "
                f"({', '.join(sorted(x for x in own if x))}): one mistake must cost points "
                "once; judge the later exercise on its own (a stand-in for the earlier "
                "function, or follow-through marking)")
    total = sum(points.values())
    if not 0 < buggy.expected_points < total:
        raise ValueError(f"{buggy.path}: the bugs lose {buggy.expected_points:g} points; it "
                         f"must be more than 0 and less than the total {total:g}")


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
