"""Build: jupytext percent-format sources in notebooks/ -> nbgrader source notebooks.

``notebooks/<assignment>/<name>.py`` becomes ``course/source/<assignment>/<name>.ipynb``.
The output depends on the input text only: cell ids come from the nbgrader ``grade_id`` (or
the cell's position), keys are sorted, and nothing records a time or a random number, so two
builds are byte-identical. nbgrader's cell metadata and the solution / hidden-test markers
pass through unchanged; only jupytext's own layout hints are dropped. A written answer (a
markdown cell graded by hand) must carry a rubric that sums to its points
(:func:`autograder.rubric.check_written`).

Hidden tests leave the notebook here: each test cell's ``### BEGIN HIDDEN TESTS`` region is
cut out of the source notebook and written, with the other regions of its notebook, to
``course/judge/<assignment>/<name>.json`` (:mod:`autograder.judge.tests`), which only the
grading process reads. Every graded test cell must have one; every assert in it a message.
The assignment's hidden preamble, ``notebooks/<assignment>/hidden.py``, goes there too, once
per notebook: instructor code the hidden tests share, which the judge runs before each block.

A ``.py`` file is a notebook when it opens with the jupytext header (``# ---`` then
``# jupyter:``); ``buggy.py`` (the sample buggy submission) and helper modules are skipped.
"""

from __future__ import annotations

import re
from pathlib import Path

from .exercises import exercises_of, label_of
from .judge.seeds import course_secret
from .judge.tests import PREAMBLE_NAME, HiddenTest, check_hidden_code, split_hidden, write_tests
from .rubric import check_written

__all__ = [
    "BUGGY_NAME",
    "build",
    "build_notebook",
    "build_with_tests",
    "is_notebook_source",
    "notebook_sources",
]

BUGGY_NAME = "buggy.py"
_CELL_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
# cell metadata jupytext adds to reproduce the text layout; nbgrader never reads them
_JUPYTEXT_CELL_KEYS = (
    "lines_to_next_cell",
    "lines_to_end_of_cell_marker",
    "cell_marker",
    "region_name",
    "cell_depth",
)
_MARKER_PAIRS = (
    ("### BEGIN SOLUTION", "### END SOLUTION"),
    ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"),
)
_TESTS_KEY = "_hidden_tests"


def is_notebook_source(path: Path) -> bool:
    """True when ``path`` is a jupytext percent notebook (not buggy.py, not a helper)."""
    if path.suffix != ".py" or path.name == BUGGY_NAME:
        return False
    try:
        head = path.read_text(encoding="utf-8")[:200].splitlines()
    except (OSError, UnicodeDecodeError):
        return False
    return len(head) >= 2 and head[0].strip() == "# ---" and head[1].strip() == "# jupyter:"


def notebook_sources(notebooks_dir: Path) -> dict[str, list[Path]]:
    """Map assignment name -> its notebook sources, for every folder of ``notebooks_dir``."""
    found: dict[str, list[Path]] = {}
    if not notebooks_dir.is_dir():
        return found
    for folder in sorted(p for p in notebooks_dir.iterdir() if p.is_dir()):
        if folder.name.startswith((".", "_")):
            continue
        sources = sorted(p for p in folder.glob("*.py") if is_notebook_source(p))
        if sources:
            found[folder.name] = sources
    return found


def _check_markers(where: str, source: str) -> None:
    for begin, end in _MARKER_PAIRS:
        depth = 0
        for line in source.splitlines():
            if begin in line:
                depth += 1
                if depth > 1:
                    raise ValueError(f"{where}: nested '{begin}'")
            elif end in line:
                depth -= 1
                if depth < 0:
                    raise ValueError(f"{where}: '{end}' without a '{begin}' before it")
        if depth:
            raise ValueError(f"{where}: '{begin}' is never closed by '{end}'")


def _cell_ids(cells, where: str) -> list[str]:
    ids: list[str] = []
    for index, cell in enumerate(cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is None:
            ids.append(f"cell-{index:03d}")
            continue
        if not isinstance(grade_id, str) or not _CELL_ID.match(grade_id):
            raise ValueError(
                f"{where}: cell {index} has grade_id {grade_id!r}; a grade_id must be 1 to 64 "
                "letters, digits, '-' or '_' (kebab-case such as 'a1-forward')"
            )
        ids.append(grade_id)
    seen: dict[str, int] = {}
    for index, cell_id in enumerate(ids):
        if cell_id in seen:
            raise ValueError(
                f"{where}: cells {seen[cell_id]} and {index} share the id {cell_id!r}; "
                "grade_ids must be unique and must not look like 'cell-NNN'"
            )
        seen[cell_id] = index
    return ids


def build_notebook(py_path: Path) -> str:
    """The nbgrader source notebook (ipynb JSON text) for one jupytext source file."""
    return build_with_tests(py_path)[0]


def _hidden_line(text: str, code: str) -> int:
    """The line of the .py source where a hidden region's code starts (0 when not found)."""
    first = next((ln for ln in code.splitlines() if ln.strip()), "")
    at = text.find("### BEGIN HIDDEN TESTS\n" + first)
    return text.count("\n", 0, at) + 2 if at >= 0 else 0


def _hidden_preamble(py_path: Path) -> str:
    """The hidden preamble of a notebook's assignment ('' when its folder has none),
    checked as hidden-test code."""
    path = py_path.parent / PREAMBLE_NAME
    if not path.is_file():
        return ""
    code = path.read_text(encoding="utf-8")
    check_hidden_code(code, str(path))
    return code


def build_with_tests(py_path: Path) -> tuple[str, list[HiddenTest]]:
    """(notebook JSON text, the hidden tests taken out of it, each with the assignment's
    hidden preamble) for one jupytext source."""
    import jupytext
    import nbformat

    where = str(py_path)
    text = py_path.read_text(encoding="utf-8")
    nb = jupytext.reads(text, fmt="py:percent")
    nb.nbformat, nb.nbformat_minor = 4, 5
    nb.metadata.pop("jupytext", None)
    nb.metadata.setdefault(
        "kernelspec",
        {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"},
    )
    for index, cell in enumerate(nb.cells):
        cell_where = f"{where}, cell {index}"
        if "incorrectly_encoded_metadata" in cell.metadata:
            raise ValueError(
                f"{cell_where}: the '# %%' header metadata is not valid JSON: "
                f"{cell.metadata['incorrectly_encoded_metadata']}"
            )
        for key in _JUPYTEXT_CELL_KEYS:
            cell.metadata.pop(key, None)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
        _check_markers(cell_where, cell.source)
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        check_written(cell, f"{cell_where} ({grade_id})" if grade_id else cell_where)
    hidden = []
    for cell, cell_id in zip(nb.cells, _cell_ids(nb.cells, where)):
        cell.id = cell_id
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code":
            continue
        try:
            cell.source, code = split_hidden(cell.source)
        except ValueError as exc:
            raise ValueError(f"{where}, cell {cell_id}: {exc}") from exc
        graded = meta.get("grade") and not meta.get("solution")
        if code is None:
            if graded and float(meta.get("points", 0) or 0) > 0:
                raise ValueError(
                    f"{where}, test cell {cell_id}: no '### BEGIN HIDDEN TESTS' region; the "
                    "judge grades every test cell from its hidden tests")
            continue
        if not graded:
            raise ValueError(f"{where}, cell {cell_id}: hidden tests belong in a graded "
                             "test cell")
        line = _hidden_line(text, code)
        check_hidden_code(code, where, line - 1 if line else 0)
        hidden.append(HiddenTest(cell_id, code, line, py_path.name))
    labels = label_of(exercises_of(nb, where))
    preamble = _hidden_preamble(py_path)
    hidden = [HiddenTest(t.grade_id, t.code, t.line, t.source, labels.get(t.grade_id, ""),
                         preamble) for t in hidden]
    nbformat.validate(nb)
    out = nbformat.writes(nb, version=4)
    return (out if out.endswith("\n") else out + "\n"), hidden


def build(
    notebooks_dir: Path, source_dir: Path, assignments: list[str] | None = None,
    judge_dir: Path | None = None,
) -> list[Path]:
    """Write ``source_dir/<assignment>/<name>.ipynb`` for each source; return the paths written.

    The hidden tests go to ``judge_dir`` (default: ``judge/`` beside ``source_dir``).

    Files whose bytes would not change are left alone; stale notebooks in a rebuilt
    assignment folder are removed. Raises ValueError naming the file on a malformed source.
    """
    sources = notebook_sources(notebooks_dir)
    if assignments:
        missing = [a for a in assignments if a not in sources]
        if missing:
            raise ValueError(
                f"no notebook sources for {', '.join(missing)} in {notebooks_dir} "
                f"(found: {', '.join(sources) or 'none'})"
            )
        sources = {a: sources[a] for a in assignments}
    judge_dir = Path(judge_dir) if judge_dir is not None else Path(source_dir).parent / "judge"
    course_secret(judge_dir, create=True)
    outputs: list[Path] = []
    for assignment, py_paths in sources.items():
        target_dir = source_dir / assignment
        target_dir.mkdir(parents=True, exist_ok=True)
        wanted = set()
        for py_path in py_paths:
            target = target_dir / (py_path.stem + ".ipynb")
            wanted.add(target.name)
            text, hidden = build_with_tests(py_path)
            data = text.encode("utf-8")
            if not target.is_file() or target.read_bytes() != data:
                target.write_bytes(data)
            write_tests(judge_dir, assignment, py_path.stem, py_path.name, hidden,
                        _hidden_preamble(py_path))
            outputs.append(target)
        for stale in target_dir.glob("*.ipynb"):
            if stale.name not in wanted:
                stale.unlink()
        for stale in (judge_dir / assignment).glob("*.json"):
            if stale.stem + ".ipynb" not in wanted:
                stale.unlink()
    return outputs
