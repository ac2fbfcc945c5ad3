"""Hidden tests as the judge's files: taken out of the notebooks at build, read at grading.

``autograder build`` takes each ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS``
region out of its test cell (the source notebook, and so the release, the gradebook and
the autograded notebook, never hold it) and writes the regions of one notebook to
``course/judge/<assignment>/<notebook>.json``::

    {"notebook": "a2_vectorized", "source": "a2_vectorized.py", "preamble": "...",
     "tests": {"<grade_id>": {"code": "...", "line": 233, "label": "Exercise 1: ..."}}}

``line`` is where the region starts in the jupytext source, for messages; ``label`` is the
exercise (and part) the cell grades, shown with its score in feedback. Every graded test
cell must have exactly one region, and every ``assert`` in it must carry a message: a
student who loses points reads why.

``preamble`` is the assignment's hidden preamble, ``notebooks/<assignment>/hidden.py``
(:data:`PREAMBLE_NAME`): instructor code shared by the hidden tests of the assignment's
notebooks (references, checks, fixtures built on demand). It is written here once per
notebook, and the runner executes it into each block's namespace before the block, so it
defines functions and constants and leaves calls of ``student`` to them; it never enters a
notebook, the release or the student's kernel.
"""

from __future__ import annotations

import ast
import json
import os
from dataclasses import dataclass
from pathlib import Path

__all__ = ["BEGIN", "END", "PREAMBLE_NAME", "HiddenTest", "check_hidden_code", "judge_path",
           "load_tests", "split_hidden", "write_tests"]

BEGIN = "### BEGIN HIDDEN TESTS"
END = "### END HIDDEN TESTS"
PREAMBLE_NAME = "hidden.py"


@dataclass(frozen=True)
class HiddenTest:
    """One test cell's hidden block."""

    grade_id: str
    code: str
    line: int = 0
    source: str = ""
    label: str = ""
    preamble: str = ""

    @property
    def filename(self) -> str:
        return f"{self.source or 'hidden tests'}:{self.line}" if self.line else self.source


def split_hidden(source: str) -> tuple[str, str | None]:
    """(the cell without its hidden region, the region's code or None)."""
    lines = source.split("\n")
    starts = [i for i, ln in enumerate(lines) if ln.strip() == BEGIN]
    if not starts:
        return source, None
    begin = starts[0]
    ends = [i for i, ln in enumerate(lines) if ln.strip() == END and i > begin]
    if len(starts) > 1 or not ends:
        raise ValueError(f"a test cell must hold one '{BEGIN}' ... '{END}' region")
    end = ends[0]
    hidden = "\n".join(lines[begin + 1:end])
    kept = lines[:begin] + lines[end + 1:]
    while kept and not kept[-1].strip():
        kept.pop()
    return "\n".join(kept), hidden + "\n"


def check_hidden_code(code: str, where: str, first_line: int = 0) -> None:
    """ValueError naming file and line unless ``code`` parses and every assert has a message."""
    try:
        tree = ast.parse(code)
    except SyntaxError as exc:
        raise ValueError(f"{where}:{first_line + (exc.lineno or 0)}: hidden tests are not "
                         f"valid Python ({exc.msg})") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert) and node.msg is None:
            raise ValueError(
                f"{where}:{first_line + node.lineno}: this assert in the hidden tests has no "
                "message; write `assert cond, f\"what must hold (got ...)\"` so a student "
                "who fails it reads why")


def judge_path(judge_dir: Path, assignment: str, notebook: str) -> Path:
    return Path(judge_dir) / assignment / f"{notebook}.json"


def write_tests(judge_dir: Path, assignment: str, notebook: str, source_name: str,
                tests: list[HiddenTest], preamble: str = "") -> Path:
    """Write one notebook's hidden tests and the assignment's hidden preamble (only when the
    bytes change); the path."""
    path = judge_path(judge_dir, assignment, notebook)
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent.parent, 0o700)
    data = {"notebook": notebook, "source": source_name, "preamble": preamble,
            "tests": {t.grade_id: {"code": t.code, "line": t.line, "label": t.label}
                      for t in tests}}
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    return path


def load_tests(judge_dir: Path, assignment: str, notebook: str) -> dict[str, HiddenTest]:
    """grade_id -> HiddenTest for one notebook; {} when the notebook has none."""
    path = judge_path(judge_dir, assignment, notebook)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    preamble = str(data.get("preamble", ""))
    return {gid: HiddenTest(gid, t["code"], int(t.get("line", 0)), data.get("source", ""),
                            str(t.get("label", "")), preamble)
            for gid, t in data.get("tests", {}).items()}
