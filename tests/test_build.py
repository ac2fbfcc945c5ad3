"""Tests for autograder.build: jupytext sources -> nbgrader source notebooks, deterministically."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import jupytext
import nbformat
import pytest

from autograder.build import build, build_notebook, is_notebook_source, notebook_sources
from autograder.cli import main

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
WRITTEN_NOTEBOOKS = ROOT / "tests" / "fixtures" / "written"  # a written answer graded by hand
HEADER = """# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---
"""
MARKERS = (
    "### BEGIN SOLUTION",
    "### END SOLUTION",
    "### BEGIN HIDDEN TESTS",
    "### END HIDDEN TESTS",
)


def _sources() -> list[Path]:
    found = []
    for folder in (FIXTURE_NOTEBOOKS, WRITTEN_NOTEBOOKS, ROOT / "notebooks"):
        for paths in notebook_sources(folder).values():
            found += paths
    return found


SOURCES = _sources()


def _header_metadata(text: str, key: str = "nbgrader") -> list:
    """The JSON of ``key`` in every '# %% nbgrader={...} [rubric=[...]]' header, in order."""
    out = []
    for line in text.splitlines():
        match = re.match(r"^# %%.*?\bnbgrader=(\{.*?\})(?: rubric=(\[.*\]))?\s*$", line)
        if match:
            out.append(json.loads(match.group(1 if key == "nbgrader" else 2) or "null"))
    return out



@pytest.mark.parametrize("py_path", SOURCES, ids=[p.stem for p in SOURCES])
def test_round_trip_keeps_nbgrader_metadata_and_markers(py_path):
    """Every header's nbgrader metadata and every solution marker reach the ipynb unchanged;
    hidden-test regions do not (they go to the judge)."""
    text = py_path.read_text(encoding="utf-8")
    nb = nbformat.reads(build_notebook(py_path), as_version=4)
    nbformat.validate(nb)
    built_meta = [c.metadata["nbgrader"] for c in nb.cells if "nbgrader" in c.metadata]
    assert built_meta == _header_metadata(text)
    rubrics = [c.metadata.get("rubric") for c in nb.cells if "nbgrader" in c.metadata]
    assert rubrics == _header_metadata(text, "rubric")
    joined = "\n".join(c.source for c in nb.cells)
    for marker in MARKERS:
        want = 0 if "HIDDEN" in marker else text.count(marker)
        assert joined.count(marker) == want, marker
    # ...and back: ipynb -> percent text -> notebook gives the same cells
    again = jupytext.reads(jupytext.writes(nb, fmt="py:percent"), fmt="py:percent")
    assert [c.source for c in again.cells] == [c.source for c in nb.cells]
    for key in ("nbgrader", "rubric"):
        assert [c.metadata.get(key) for c in again.cells] == [c.metadata.get(key)
                                                              for c in nb.cells]
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            assert cell.id == grade_id


@pytest.mark.parametrize("py_path", SOURCES, ids=[p.stem for p in SOURCES])
def test_two_builds_are_byte_identical(py_path, tmp_path):
    """Building the same source twice, in different folders, gives the same bytes."""
    first, second = tmp_path / "one", tmp_path / "two"
    assignment = py_path.parent.name
    build(py_path.parent.parent, first, [assignment])
    build(py_path.parent.parent, second, [assignment])
    name = py_path.stem + ".ipynb"
    data = (first / assignment / name).read_bytes()
    assert data == (second / assignment / name).read_bytes()
    assert data.endswith(b"\n") and b"jupytext" not in data and b"lines_to_next_cell" not in data


def test_fixture_ids_and_no_outputs():
    """Cells get ids from grade_id or position; code cells have no outputs or counts."""
    nb = nbformat.reads(build_notebook(FIXTURE_NOTEBOOKS / "f1_tiny" / "f1_tiny.py"), 4)
    ids = [c.id for c in nb.cells]
    assert ids == [
        "cell-000", "f1-setup", "f1-cube", "f1-cube-test", "cell-004", "f1-cube-grad",
        "f1-cube-grad-test",
    ]
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("a1.py", HEADER + "# %%\nx = 1\n", True),
        ("buggy.py", HEADER + "# %%\nx = 1\n", False),
        ("helpers.py", "def f():\n    return 1\n", False),
        ("notes.txt", HEADER, False),
    ],
)
def test_is_notebook_source(tmp_path, name, text, expected):
    """Only .py files with the jupytext header are notebooks; buggy.py never is."""
    path = tmp_path / name
    path.write_text(text)
    assert is_notebook_source(path) is expected




def _answer(grade_id: str) -> str:
    return (
        '# %% nbgrader={"grade": false, "grade_id": "' + grade_id + '", "locked": false, '
        '"schema_version": 3, "solution": true, "task": false}\n'
    )


def _written(points, rubric: str | None, kind: str = "[markdown] ") -> str:
    header = ('# %% ' + kind + 'nbgrader={"grade": true, "grade_id": "x-why-answer", '
              '"locked": false, "points": ' + str(points) + ', "schema_version": 3, '
              '"solution": true, "task": false}')
    return header + (f" rubric={rubric}" if rubric else "") + "\n# A model answer.\n"


def test_release_holds_neither_rubric_nor_model_answer(tmp_path):
    """The released written answer is nbgrader's stub: no rubric key, no criterion, no line
    of the model answer; the source notebook keeps all three."""
    from autograder.course import Course
    from autograder.release import release

    [path] = [p for paths in notebook_sources(WRITTEN_NOTEBOOKS).values() for p in paths]
    course = Course.create(tmp_path / "course", WRITTEN_NOTEBOOKS)
    build(WRITTEN_NOTEBOOKS, course.source_dir)
    assert release(course) == [("f2_written", "released")]
    source = nbformat.read(course.source_dir / "f2_written" / path.name.replace(".py", ".ipynb"),
                           as_version=4)
    [answer] = [c for c in source.cells if "rubric" in c.metadata]
    secrets = [item["criterion"] for item in answer.metadata["rubric"]]
    secrets += [line for line in answer.source.splitlines() if line.strip()]
    released = (course.release_dir / "f2_written" / "f2_written.ipynb").read_text()
    assert '"rubric"' not in released
    assert [s for s in secrets if s in released] == []
    [stub] = [c for c in nbformat.reads(released, as_version=4).cells
              if c.id == answer.id]
    assert stub.source == "YOUR ANSWER HERE"
    assert stub.metadata["nbgrader"]["points"] == answer.metadata["nbgrader"]["points"]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (_answer("x-a") + "x = 1\n\n" + _answer("x-a") + "y = 2\n",
         "share the id 'x-a'"),
        (_answer("x-b") + "### BEGIN SOLUTION\nx = 1\n", "never closed"),
        (_answer("x-c") + "### END SOLUTION\n", "without a '### BEGIN SOLUTION'"),
        (_answer("x c") + "x = 1\n", "grade_id 'x c'"),
        ('# %% nbgrader={"grade": false,\nx = 1\n', "not valid JSON"),
        # a written answer needs a rubric whose points sum to the cell's; no other cell has one
        (_written(2, None),
         "cell 0 (x-why-answer): a written answer needs a rubric in its cell metadata"),
        (_written(2, '[{"points": 1, "criterion": "names the axis"}]'),
         "the rubric's points must sum to the cell's 2 points (got 1)"),
        (_written(2, '[{"points": 2, "criterion": ""}]'), "must be a non-empty list of"),
        (_written(2, '{"points": 2}'), "must be a non-empty list of"),
        (_written(0, '[{"points": 1, "criterion": "c"}]'), "needs nbgrader points > 0 (got 0)"),
        ('# %% [markdown] rubric=[{"points": 1, "criterion": "c"}]\n# text\n',
         "a rubric belongs on a written answer"),
    ],
)
def test_build_rejects_malformed_sources(tmp_path, body, message):
    """A malformed source raises ValueError naming the file and the problem (what must hold
    and what was got)."""
    path = tmp_path / "x1" / "x1.py"
    path.parent.mkdir()
    path.write_text(HEADER + "\n" + body)
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        build_notebook(path)
    assert str(path) in str(info.value)


def test_build_removes_stale_and_skips_unchanged(tmp_path):
    """A rebuild deletes notebooks without a source and leaves unchanged files untouched."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    out = tmp_path / "source"
    (out / "f1_tiny").mkdir(parents=True)
    (out / "f1_tiny" / "old.ipynb").write_text("{}")
    [path] = build(notebooks, out)
    stamp = path.stat().st_mtime_ns
    build(notebooks, out)
    assert path.stat().st_mtime_ns == stamp
    assert not (out / "f1_tiny" / "old.ipynb").exists()
    assert sorted(p.name for p in (out / "f1_tiny").iterdir()) == ["f1_tiny.ipynb"]


@pytest.mark.parametrize(
    ("extra", "status", "text"),
    [
        ([], 0, "built "),
        (["nope"], 1, "no notebook sources for nope"),
    ],
)
def test_build_cli_exit_status(tmp_path, capsys, restore_environ, extra, status, text):
    """`build` exits 0 and lists what it wrote, 1 with a message naming what is missing."""
    code = main(["build", "--course-dir", str(tmp_path / "course"),
                 "--notebooks-dir", str(FIXTURE_NOTEBOOKS), *extra])
    captured = capsys.readouterr()
    assert code == status
    assert text in captured.out + captured.err
    if status == 0:
        assert (tmp_path / "course" / "source" / "f1_tiny" / "f1_tiny.ipynb").is_file()
        assert (tmp_path / "course" / "nbgrader_config.py").is_file()


PREAMBLES = sorted((ROOT / "notebooks").glob("*/hidden.py"))


@pytest.mark.parametrize("preamble", PREAMBLES, ids=[p.parent.name for p in PREAMBLES])
def test_the_hidden_preamble_reaches_the_judge_and_not_the_release(preamble, tmp_path):
    """An assignment's hidden.py goes whole into its judge file; the assignment's source
    folder, which nbgrader releases as it is, holds the notebooks only, and no statement of
    hidden.py is in any of their cells."""
    import ast

    assignment = preamble.parent.name
    build(ROOT / "notebooks", tmp_path / "source", [assignment])
    released = sorted((tmp_path / "source" / assignment).iterdir())
    assert [p.suffix for p in released] == [".ipynb"] * len(released)
    text = preamble.read_text(encoding="utf-8")
    statements = [ast.get_source_segment(text, node) for node in ast.parse(text).body
                  if not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant))]
    assert statements, f"{preamble} defines nothing"
    for path in released:
        cells = [cell.source for cell in nbformat.read(path, as_version=4).cells]
        leaked = [s.splitlines()[0] for s in statements if any(s in c for c in cells)]
        assert not leaked, f"{path.name} holds the hidden preamble's {leaked}"
        data = json.loads((tmp_path / "judge" / assignment / f"{path.stem}.json").read_text())
        assert data["preamble"] == text
