"""Similarity of the students' answers to one assignment, for a person to review.

Only answer cells count: the code cells nbgrader marks ``solution: true`` in each of a
student's notebooks (``course/submitted/<student>/<assignment>/*.ipynb``; every code cell
of a notebook stripped of its nbgrader metadata), joined into one Python text per student.
copydetect fingerprints each text the way MOSS does (the code is tokenized, names become
placeholders, comments and layout drop out, and k-grams of the tokens are hashed and
winnowed); the code cells of the released notebooks are its boilerplate, so the stubs
every student was given match nothing.

A pair's score is the larger of two shares: the share of one student's answer code that is
also in the other's. A high score is a reason to read both notebooks side by side, not a
verdict. Students with no submission (in the gradebook, or with a folder in course/submitted
for other assignments) or with an unreadable notebook are listed, not compared.
"""

from __future__ import annotations

import html
import io
from dataclasses import dataclass
from pathlib import Path

from copydetect import CodeFingerprint, compare_files, defaults
from copydetect.utils import highlight_overlap

from .collect import LmsRecord
from .course import Course, PipelineError, pick_assignments
from .scan.staging import read_submission

__all__ = ["Pair", "Similarity", "answer_code", "compare", "write_html"]

_K = defaults.NOISE_THRESHOLD  # characters of tokenized code a match spans (copydetect default)
_WINDOW = defaults.GUARANTEE_THRESHOLD - defaults.NOISE_THRESHOLD + 1


@dataclass(frozen=True)
class Pair:
    """Two students and how much of each one's answer code is also in the other's.

    ``first_html``/``second_html`` are their answer code, escaped, with the matching parts
    in ``<mark>``."""

    first: str
    second: str
    first_share: float
    second_share: float
    first_html: str
    second_html: str

    @property
    def score(self) -> float:
        return max(self.first_share, self.second_share)

    def line(self) -> str:
        return (f"{self.score:4.0%}  {self.first} and {self.second}  ({self.first_share:.0%} "
                f"of {self.first}'s answer code, {self.second_share:.0%} of {self.second}'s)")


@dataclass(frozen=True)
class Similarity:
    """The outcome for one assignment: the most similar ``pairs`` (highest score first),
    the students ``compared`` and those ``skipped`` (student, why)."""

    assignment: str
    compared: list[str]
    skipped: list[tuple[str, str]]
    pairs: list[Pair]


def answer_code(notebook: dict, name: str, cells: str = "answers") -> str:
    """The code cells of a notebook's JSON, each headed by a comment naming the notebook
    and the cell: the answer cells (nbgrader ``solution: true``), or every code cell with
    ``cells="all"`` or when no cell has nbgrader metadata left (stripping it hides no
    answer). Malformed cells are left out."""
    code = []
    for cell in notebook.get("cells") or []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata")
        nbgrader = meta.get("nbgrader") if isinstance(meta, dict) else None
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(s for s in source if isinstance(s, str))
        if isinstance(source, str) and source.strip():
            code.append((nbgrader if isinstance(nbgrader, dict) else {}, source.rstrip()))
    if cells == "answers" and any(nbgrader for nbgrader, _ in code):
        code = [(nbgrader, source) for nbgrader, source in code
                if nbgrader.get("solution") is True]
    return "\n".join(f"# {name}: {nbgrader.get('grade_id', 'cell')}\n{source}\n"
                     for nbgrader, source in code)


def _code(folder: Path, cells: str = "answers") -> tuple[str, str]:
    """The code of the notebooks in ``folder`` (see :func:`answer_code`), or "" and why
    not."""
    notebooks = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if not notebooks:
        return "", "no submission"
    parts = []
    for path in notebooks:
        notebook, why = read_submission(path)
        if notebook is None:
            return "", f"{path.name}: {why}"
        parts.append(answer_code(notebook, path.stem, cells))
    return "\n".join(parts), ""


def _fingerprint(name: str, code: str, boilerplate=None, window: int = _WINDOW
                 ) -> CodeFingerprint:
    return CodeFingerprint(f"{name}.py", _K, window, boilerplate, language="python",
                           fp=io.StringIO(code))


def compare(course: Course, assignment: str, top: int = 10) -> Similarity:
    """Score every pair of students who submitted ``assignment``; keep the ``top`` pairs
    with any code in common (0: all of them), highest score first."""
    pick_assignments([assignment], course.released_assignments(), "released notebooks",
                     course.release_dir, fix="python -m autograder release")
    # every k-gram of the released code (window 1, as copydetect takes boilerplate): its
    # answer cells joined as a student's are, so that no k-gram spanning two stubs is left,
    # and all its code cells
    boilerplate = set()
    for cells in ("answers", "all"):
        code, why = _code(course.release_dir / assignment, cells)
        if why:
            raise PipelineError(f"the released notebooks of {assignment} must be readable "
                                f"(got: {why})")
        boilerplate |= _fingerprint("release", code, window=1).hashes
    boilerplate = sorted(boilerplate)

    prints, skipped = {}, []
    for student in _students(course):
        folder = course.submitted_dir / student / assignment
        code, why = _code(folder)
        if why:
            skipped.append((_label(student, folder), why))
        else:
            prints[_label(student, folder)] = _fingerprint(student, code, boilerplate)

    scored = []
    names = list(prints)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            overlap, shares, slices = compare_files(prints[first], prints[second])
            if overlap:
                scored.append((max(shares), overlap, first, second, shares, slices))
    scored.sort(key=lambda s: (-s[0], -s[1], s[2], s[3]))  # equal scores: more shared first
    pairs = [Pair(first, second, float(shares[0]), float(shares[1]),
                  _highlight(prints[first], slices[0]), _highlight(prints[second], slices[1]))
             for _, _, first, second, shares, slices in scored[:top or None]]
    return Similarity(assignment, names, skipped, pairs)


def _label(student: str, folder: Path) -> str:
    """The student's id, with the name the LMS gave when collect recorded one."""
    try:
        record = LmsRecord.read(folder)
    except (OSError, ValueError, TypeError):
        record = None
    name = record.name if record else ""
    return f"{student} ({name})" if name and name != student else student


def _students(course: Course) -> list[str]:
    """The students with a folder in course/submitted and, when the gradebook exists, the
    students in it."""
    found = set()
    if course.submitted_dir.is_dir():
        found = {p.name for p in course.submitted_dir.iterdir()
                 if p.is_dir() and not p.name.startswith(".")}
    url = course.db_url()
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file():
        with course.gradebook() as gb:
            found |= {student.id for student in gb.students}
    return sorted(found)


def _highlight(fingerprint: CodeFingerprint, slices) -> str:
    marked, _ = highlight_overlap(fingerprint.raw_code, slices, "<mark>", "</mark>",
                                  escape_html=True)
    return marked


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; }
table.pairs td, table.pairs th { padding: 0.2em 1em; text-align: left; }
.side { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
mark { background: #ffd27f; }
"""


def write_html(result: Similarity, path: Path) -> Path:
    """A page with no script and no network: the pairs' scores in a table, then each pair's
    answer code side by side with the matching code marked."""
    e = html.escape
    rows = "".join(
        f"<tr><td><a href='#pair-{n}'>{p.score:.0%}</a></td><td>{e(p.first)}</td>"
        f"<td>{p.first_share:.0%}</td><td>{e(p.second)}</td><td>{p.second_share:.0%}</td></tr>"
        for n, p in enumerate(result.pairs, 1))
    sections = "".join(
        f"<h2 id='pair-{n}'>{n}. {e(p.first)} and {e(p.second)}: {p.score:.0%}</h2>"
        f"<div class='side'><div><h3>{e(p.first)} ({p.first_share:.0%} matched)</h3>"
        f"<pre>{p.first_html}</pre></div><div><h3>{e(p.second)} ({p.second_share:.0%} "
        f"matched)</h3><pre>{p.second_html}</pre></div></div>"
        for n, p in enumerate(result.pairs, 1))
    skipped = "".join(f"<li>{e(s)}: {e(why)}</li>" for s, why in result.skipped)
    page = (
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Similarity of {e(result.assignment)}</title><style>{_STYLE}</style></head>"
        f"<body><h1>Similarity of the answers to {e(result.assignment)}</h1>"
        f"<p>{len(result.compared)} students compared on their answer cells, the released "
        "code left out. A pair's score is the larger share of one student's answer code "
        "found in the other's (names, comments and layout ignored); a high score is a "
        "reason to read both notebooks, not a verdict.</p>"
        + (f"<p>Not compared:</p><ul>{skipped}</ul>" if skipped else "")
        + (f"<table class='pairs'><tr><th>score</th><th>student</th><th>matched</th>"
           f"<th>student</th><th>matched</th></tr>{rows}</table>{sections}"
           if result.pairs else "<p>No two students have answer code in common.</p>")
        + "</body></html>\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
