"""The course's feedback, read from the notebooks: labels, points tables, and visible tests
that check every kind of requirement their hidden tests grade."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest

from autograder.build import notebook_sources
from autograder.exercises import exercises_of, write_tables
from autograder.judge.kinds import REQUIREMENTS, kinds_of
from autograder.judge.tests import PREAMBLE_NAME, split_hidden

ROOT = Path(__file__).resolve().parent.parent
SOURCES = notebook_sources(ROOT / "notebooks")
GRADED = [
    pytest.param(path, id=path.stem)
    for paths in SOURCES.values() for path in paths
]


def _graded_cells(path: Path):
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="py:percent")
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
            yield meta["grade_id"], cell.source


def test_points_tables_and_headings_are_written_from_the_notebooks():
    """`autograder tables --check` finds nothing to rewrite: the tables are not typed by hand."""
    assert write_tables(ROOT / "notebooks", ROOT / "README.md", check=True) == []


@pytest.mark.parametrize("path", GRADED)
def test_every_graded_cell_belongs_to_a_labelled_exercise(path):
    """Each graded test cell sits under an exercise heading; multi-part exercises name parts."""
    nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="py:percent")
    exercises = exercises_of(nb, str(path))
    in_exercises = {p.grade_id for ex in exercises for p in ex.parts}
    assert {gid for gid, _ in _graded_cells(path)} == in_exercises
    assert [ex.number for ex in exercises] == list(range(1, len(exercises) + 1))


def test_kinds_of_a_block_include_the_preamble_helpers_it_calls():
    """A hidden block that calls a helper of the hidden preamble checks what the helper
    checks, through helpers the helper calls, and nothing of the helpers it does not call."""
    helpers = ("def dtype_ok(x):\n    expect_dtype(x, np.float32, 'x')\n"
               "def both(x):\n    dtype_ok(x)\n    require('order', True, 'm')\n"
               "def unused():\n    expect_finite(1.0, 'y')\n")
    assert kinds_of("both(got)\n", helpers) == {"dtype", "order"}
    assert kinds_of("dtype_ok(got)\n", helpers) == {"dtype"}
    assert kinds_of("both(got)\n") == set()


@pytest.mark.parametrize("path", GRADED)
def test_visible_tests_check_every_kind_the_hidden_tests_grade(path):
    """Per graded cell, the requirement kinds (dtype, shape, order, reset, stability,
    accuracy, method, autograd off, in place) of its hidden block, with the helpers of the
    hidden preamble it calls, are all in its visible block, so a student who passes the
    visible tests has met every kind of check."""
    preamble = path.parent / PREAMBLE_NAME
    helpers = preamble.read_text(encoding="utf-8") if preamble.is_file() else ""
    report, missing = [], []
    for gid, source in _graded_cells(path):
        visible, hidden = split_hidden(source)
        seen, graded = kinds_of(visible), kinds_of(hidden or "", helpers)
        only_hidden = sorted((graded - seen) & REQUIREMENTS)
        report.append(f"{gid}: hidden {sorted(graded)}, visible {sorted(seen)}")
        if only_hidden:
            missing.append(f"{gid}: only hidden: {', '.join(only_hidden)}")
    assert not missing, "\n".join(missing + ["", *report])


def test_the_a4_heat_maps_share_one_diverging_colour_map():
    """Both heat maps of a4 (the softmax Jacobian and the learned weights) use the same
    diverging colour map, with a range centred on 0 (the digit images and the confusion
    matrix show counts and intensities, which are not signed)."""
    import ast
    import re

    text = (ROOT / "notebooks" / "a4_softmax" / "a4_softmax.py").read_text(encoding="utf-8")
    calls = [node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.Call)
             and getattr(node.func, "attr", "") == "imshow"
             and any(kw.arg == "vmin" for kw in node.keywords)]  # signed values: heat maps
    assert len(calls) == 2
    maps = {kw.value.value for call in calls for kw in call.keywords if kw.arg == "cmap"}
    assert len(maps) == 1 and re.fullmatch(r"(RdBu|coolwarm|bwr|seismic|PuOr|BrBG)(_r)?",
                                           maps.pop())
    for call in calls:
        limits = {kw.arg: ast.unparse(kw.value) for kw in call.keywords}
        assert limits.get("vmin") == "-" + limits.get("vmax", "?").lstrip("-"), limits
