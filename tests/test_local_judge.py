"""Tests for autograder.judge.local, the in-process judge for authoring hidden tests: its
command line on the fixture assignment, the cells of each variant, and how a cell's own
failure and IPython magics are handled."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.judge.local import lone_bug_problems, main, run_local, variant_cells
from autograder.samples import Bug

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
PY = FIXTURE_NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.py"


def _copy(tmp_path: Path, edit) -> Path:
    """The fixture assignment in tmp_path/notebooks, its notebook source passed through edit."""
    folder = tmp_path / "notebooks" / ASSIGNMENT
    shutil.copytree(PY.parent, folder)
    py = folder / PY.name
    py.write_text(edit(py.read_text()))
    return py


@pytest.mark.parametrize(("variant", "total"), [("solution", 5), ("blank", 0), ("buggy", 2)])
def test_main_prints_each_test_cell_and_the_total(variant, total, capsys):
    """One line per graded test cell with its points, the failure's message under it, and
    the total of the variant."""
    assert main([ASSIGNMENT, "--variant", variant,
                 "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"{variant}: {total} of 5 points"
    cells = [line.split()[:2] for line in lines if line.split()[1:2] and "-test" in line]
    want = {"solution": ["2/2", "3/3"], "blank": ["0/2", "0/3"], "buggy": ["2/2", "0/3"]}
    assert cells == [[want[variant][0], "f1-cube-test"], [want[variant][1], "f1-cube-grad-test"]]
    if variant == "buggy":
        assert "      " + "cube_grad(-2) must be 3 x**2 = 12, got -12.0" in lines


def test_the_module_runs_from_the_command_line():
    """python -m autograder.judge.local ASSIGNMENT gives the solution its points."""
    done = subprocess.run(
        [sys.executable, "-m", "autograder.judge.local", ASSIGNMENT,
         "--notebooks-dir", str(FIXTURE_NOTEBOOKS), "--student", "s1"],
        capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "solution: 5 of 5 points"


def test_variant_cells():
    """Each code cell with its grade id, points and hidden test; the blank variant has the
    release's stubs, the solution no markers, the buggy one buggy.py's cells."""
    solution = variant_cells(PY, "solution")
    assert [(gid, points, test is not None) for gid, _, test, points in solution] == [
        ("f1-setup", 0.0, False), ("f1-cube", 0.0, False), ("f1-cube-test", 2.0, True),
        ("f1-cube-grad", 0.0, False), ("f1-cube-grad-test", 3.0, True)]
    cube = {gid: source for gid, source, _, _ in solution}["f1-cube"]
    assert "return x * x * x" in cube and "### BEGIN SOLUTION" not in cube
    blank = {gid: source for gid, source, _, _ in variant_cells(PY, "blank")}["f1-cube"]
    assert "    # YOUR CODE HERE\n    raise NotImplementedError()\n" in blank
    assert "x * x * x" not in blank
    buggy = variant_cells(PY, "buggy", {"f1-cube": "def cube(x):\n    return 0\n"})
    assert {gid: source for gid, source, _, _ in buggy}["f1-cube"] == (
        "def cube(x):\n    return 0\n")


def test_a_failing_visible_test_costs_the_points_the_hidden_test_gave(tmp_path):
    """A test cell whose own (visible) assertion fails scores 0 even when its hidden test
    passes, and the verdict says it was the visible test."""
    py = _copy(tmp_path, lambda text: text.replace("assert cube(2) == 8", "assert cube(2) == 9"))
    lines: list[str] = []
    results = {gid: (points, verdict) for gid, points, verdict in
               run_local(py, "solution", say=lines.append)}
    points, verdict = results["f1-cube-test"]
    assert points == 0.0 and not verdict.passed
    assert verdict.message == "(visible test) AssertionError: cube(2) should be 8, got 8"
    assert results["f1-cube-grad-test"][0] == 3.0


def test_ipython_magics_are_skipped(tmp_path):
    """Lines starting with % or ! mean nothing in-process and do not break the cell."""
    py = _copy(tmp_path, lambda text: text.replace(
        "import math\n", "import math\n%matplotlib inline\n!echo hi\n"))
    assert sum(p for _, p, _ in run_local(py, "solution", say=lambda line: None)) == 5.0


# cube's mistake also breaks exercise 2 (it shadows the math module exercise 2's test uses);
# applied together with cube_grad's own mistake, that extra loss hides in exercise 2's 3 points
SPILLING = Bug("cube takes |x| for one factor, and its cell shadows math",
               {"f1-cube": "math = None\n\n\ndef cube(x):\n    return x * x * abs(x)\n"},
               {"f1-cube-test": 2})
OWN = Bug("cube_grad keeps the sign of x",
          {"f1-cube-grad": "def cube_grad(x):\n    return 3.0 * x * abs(x)\n"},
          {"f1-cube-grad-test": 3})


def test_a_mistake_alone_must_lose_exactly_its_points():
    """Applied one at a time, a mistake that also costs a later exercise is named with where
    its points go; a mistake that keeps to its exercise passes; together both would pass."""
    assert lone_bug_problems([PY], [OWN]) == []
    [problem] = lone_bug_problems([PY], [SPILLING, OWN])
    assert problem.startswith("buggy.py BUGS[0] (cube takes |x| for one factor, and its cell "
                              "shadows math), applied alone, loses 3 in f1-cube-grad-test, 2 in "
                              "f1-cube-test; buggy.py says 2 in f1-cube-test"), problem
    assert problem.endswith("(f1-cube-grad-test: (visible test) AttributeError: 'NoneType' "
                            "object has no attribute 'isclose')"), problem  # and why there
    together = {gid: points for gid, points, _ in run_local(
        PY, "buggy", buggy_cells={**SPILLING.cells, **OWN.cells}, say=lambda _: None)}
    assert together == {"f1-cube-test": 0.0, "f1-cube-grad-test": 0.0}  # 5 lost, as declared
