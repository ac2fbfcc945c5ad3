"""The exercises of a notebook: headings, their graded parts and points, and the tables.

An exercise starts at a markdown heading ``### Exercise N (P points): Title`` and runs to
the next exercise heading (or a heading of level 1 or 2). Its answer cells and graded test
cells are the nbgrader cells in between. An exercise with several graded test cells grades
in parts: each of those test cells starts with a comment ``# Part: <what it grades>``, and
the points of the heading are the sum of the parts. A written answer graded by hand (a
markdown answer cell with nbgrader grade and solution, :mod:`autograder.rubric`) in the
exercise adds its points to the heading's; the tables show them apart from the autograded.

The labels a student reads in feedback ("Exercise 3: activation backward, part
sigmoid_backward") and the points tables of the notebooks and of the README are made here,
from the notebooks, so they are never typed by hand: ``autograder tables`` rewrites them and
``autograder tables --check`` fails when a committed copy differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from .rubric import is_written

__all__ = [
    "TABLE_BEGIN",
    "TABLE_END",
    "Exercise",
    "Part",
    "exercises_of",
    "exercises_of_source",
    "label_of",
    "notebook_table",
    "points_text",
    "readme_table",
    "rewrite_notebook_source",
    "rewrite_readme",
    "title_of",
    "write_tables",
]

_HEADING = re.compile(
    r"^###\s+Exercise\s+(?P<n>\d+)\s*(?:\((?P<p1>[\d.]+)\s+points?\))?\s*:?\s*"
    r"(?P<title>.*?)\s*(?:\((?P<p2>[\d.]+)\s+points?\))?\s*$")
_STOP = re.compile(r"^#{1,2}\s")
_PART = re.compile(r"^#\s*Part:\s*(?P<part>\S.*?)\s*$")
TABLE_BEGIN = "<!-- points table: written by `autograder tables` from the exercises -->"
TABLE_END = "<!-- end of points table -->"


@dataclass(frozen=True)
class Part:
    """One graded test cell of an exercise."""

    grade_id: str
    points: float
    name: str = ""


@dataclass
class Exercise:
    """One ``### Exercise`` section of a notebook."""

    number: int
    title: str
    heading_points: float | None
    answers: list[str] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)
    written: list[Part] = field(default_factory=list)  # answers graded by hand

    @property
    def auto_points(self) -> float:
        return sum(p.points for p in self.parts)

    @property
    def written_points(self) -> float:
        return sum(p.points for p in self.written)

    @property
    def points(self) -> float:
        return self.auto_points + self.written_points

    def label(self, part: Part | None = None) -> str:
        text = f"Exercise {self.number}: {self.title}"
        if part is not None and len(self.parts) > 1 and part.name:
            text += f", part {part.name}"
        return text


def points_text(value: float) -> str:
    """'3 points', '1 point', '1.5 points'."""
    shown = f"{value:g}"
    return f"{shown} point" if shown == "1" else f"{shown} points"


def _heading_match(source: str):
    for line in source.splitlines():
        found = _HEADING.match(line.strip())
        if found:
            return found
    return None


def exercises_of(nb, where: str = "notebook") -> list[Exercise]:
    """The exercises of an nbformat notebook; ValueError naming the cell on a bad layout."""
    found: list[Exercise] = []
    current: Exercise | None = None
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if is_written(cell):
            points = float(meta.get("points", 0) or 0)
            if current is None:
                raise ValueError(f"{where}, written answer {meta.get('grade_id')} "
                                 f"({points:g} points) is not under an '### Exercise N "
                                 "(P points): Title' heading")
            current.written.append(Part(meta.get("grade_id", ""), points))
            continue
        if cell.cell_type == "markdown":
            heading = _heading_match(cell.source)
            if heading:
                points = heading["p1"] or heading["p2"]
                current = Exercise(int(heading["n"]), heading["title"].strip(" :"),
                                   float(points) if points else None)
                found.append(current)
                continue
            if any(_STOP.match(line) for line in cell.source.splitlines()):
                current = None
            continue
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        if meta.get("solution") and current is not None:
            current.answers.append(grade_id)
        if meta.get("grade") and not meta.get("solution"):
            points = float(meta.get("points", 0) or 0)
            if current is None:
                if points:
                    raise ValueError(f"{where}, test cell {grade_id} ({points:g} points) is not "
                                     "under an '### Exercise N (P points): Title' heading")
                continue
            first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
            part = _PART.match(first)
            current.parts.append(Part(grade_id, points, part["part"] if part else ""))
    for ex in found:
        if len(ex.parts) > 1:
            unnamed = [p.grade_id for p in ex.parts if not p.name]
            if unnamed:
                raise ValueError(
                    f"{where}, exercise {ex.number}: it grades in {len(ex.parts)} test cells, "
                    f"so each must start with '# Part: <what it grades>' ({', '.join(unnamed)} "
                    "does not)")
    return found


def exercises_of_source(py_path: Path) -> list[Exercise]:
    """The exercises of a jupytext notebook source (notebooks/<a>/<a>.py)."""
    import jupytext

    nb = jupytext.reads(Path(py_path).read_text(encoding="utf-8"), fmt="py:percent")
    return exercises_of(nb, str(py_path))


def label_of(exercises: list[Exercise]) -> dict[str, str]:
    """grade_id -> the label a student reads, for every graded test cell and answer cell."""
    labels = {}
    for ex in exercises:
        for part in ex.parts:
            labels[part.grade_id] = ex.label(part)
        for part in ex.written:
            labels[part.grade_id] = ex.label() + ", written answer"
        for grade_id in ex.answers:
            labels.setdefault(grade_id, ex.label())
    return labels


# --- the tables ---------------------------------------------------------------------------

def notebook_table(exercises: list[Exercise]) -> list[str]:
    """The markdown rows of one notebook's exercise table (exercise, graded parts, points);
    with written answers, the points autograded and written apart, then in all."""
    written = any(ex.written for ex in exercises)
    auto_total, written_total = _sums(exercises)
    cells = f"{sum(len(ex.parts) for ex in exercises)} graded cells"
    if not written:
        rows = ["| # | exercise | graded parts | points |", "|---|---|---|---|"]
        rows += [f"| {ex.number} | {ex.title} | {_parts(ex)} | {ex.points:g} |"
                 for ex in exercises]
        return rows + [f"| | **total** | {cells} | **{auto_total:g}** |"]
    rows = ["| # | exercise | graded parts | autograded | written | points |",
            "|---|---|---|---|---|---|"]
    rows += [f"| {ex.number} | {ex.title} | {_parts(ex)} | {ex.auto_points:g} | "
             f"{_or_dash(ex.written_points)} | {ex.points:g} |" for ex in exercises]
    cells += f", {sum(len(ex.written) for ex in exercises)} written"
    return rows + [f"| | **total** | {cells} | **{auto_total:g}** | **{written_total:g}** | "
                   f"**{auto_total + written_total:g}** |"]


def _parts(ex: Exercise) -> str:
    parts = ", ".join(f"{p.name} ({p.points:g})" for p in ex.parts) \
        if len(ex.parts) > 1 else "one" if ex.parts else ""
    if ex.written:
        parts += (" + " if parts else "") + (
            "written answer" if len(ex.written) == 1 else f"{len(ex.written)} written answers")
    return parts


def _or_dash(value: float) -> str:
    return f"{value:g}" if value else "-"


def _sums(exercises: list[Exercise]) -> tuple[float, float]:
    """(autograded points, written points) of some exercises."""
    return (sum(ex.auto_points for ex in exercises),
            sum(ex.written_points for ex in exercises))


def _fix_heading(line: str, ex: Exercise) -> str:
    found = _HEADING.match(line.strip())
    if not found:
        return line
    prefix = line[: len(line) - len(line.lstrip())]
    return f"{prefix}### Exercise {ex.number} ({points_text(ex.points)}): {ex.title}"


def rewrite_notebook_source(text: str, exercises: list[Exercise]) -> str:
    """The jupytext source with every exercise heading's points and the points table (between
    the table markers, in a markdown cell) written from ``exercises``."""
    by_number = {ex.number: ex for ex in exercises}
    lines = text.split("\n")
    out: list[str] = []
    skipping = False
    for line in lines:
        body = line[2:] if line.startswith("# ") else line.lstrip("#")
        if body.strip() == TABLE_BEGIN:
            out.append(line)
            out.extend("# " + row for row in notebook_table(exercises))
            skipping = True
            continue
        if skipping:
            if body.strip() == TABLE_END:
                out.append(line)
                skipping = False
            continue
        heading = _HEADING.match(body.strip()) if line.startswith("# ###") else None
        if heading and int(heading["n"]) in by_number:
            out.append("# " + _fix_heading(body, by_number[int(heading["n"])]))
            continue
        out.append(line)
    if skipping:
        raise ValueError(f"'{TABLE_BEGIN}' has no '{TABLE_END}' after it")
    return "\n".join(out)


def readme_table(assignments: dict[str, tuple[str, list[Exercise]]]) -> list[str]:
    """The README's table: assignment, topic (the notebook's title), exercises, graded cells,
    points; once the course has written answers, the points autograded and written apart,
    then in all, and a total row."""
    every = [ex for _, exercises in assignments.values() for ex in exercises]
    if not any(ex.written for ex in every):
        rows = ["| assignment | topic | graded exercises | graded cells | points |",
                "| --- | --- | --- | --- | --- |"]
        return rows + [f"| {name} | {topic} | {len(exercises)} | "
                       f"{sum(len(ex.parts) for ex in exercises)} | "
                       f"{sum(ex.points for ex in exercises):g} |"
                       for name, (topic, exercises) in assignments.items()]
    rows = ["| assignment | topic | graded exercises | graded cells | autograded | written "
            "| points |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, (topic, exercises) in assignments.items():
        auto, written = _sums(exercises)
        rows.append(f"| {name} | {topic} | {len(exercises)} | "
                    f"{sum(len(ex.parts) for ex in exercises)} | {auto:g} | "
                    f"{_or_dash(written)} | {auto + written:g} |")
    auto, written = _sums(every)
    rows.append(f"| **total** | | {len(every)} | {sum(len(ex.parts) for ex in every)} | "
                f"**{auto:g}** | **{written:g}** | **{auto + written:g}** |")
    return rows


def rewrite_readme(text: str, rows: list[str]) -> str:
    lines = text.split("\n")
    try:
        begin = lines.index(TABLE_BEGIN)
        end = lines.index(TABLE_END, begin)
    except ValueError:
        raise ValueError(f"README.md needs the lines '{TABLE_BEGIN}' and '{TABLE_END}' around "
                         "its points table") from None
    return "\n".join(lines[: begin + 1] + rows + lines[end:])


def title_of(nb) -> str:
    """The topic of a notebook: its '# Assignment N: topic' heading, without the prefix."""
    for cell in nb.cells:
        if cell.cell_type != "markdown":
            continue
        for line in cell.source.splitlines():
            if line.startswith("# "):
                return re.sub(r"^Assignment\s+\d+\s*:\s*", "", line[2:].strip())
    return ""


def write_tables(notebooks_dir: Path, readme: Path | None, check: bool = False) -> list[str]:
    """Rewrite the points tables and exercise headings of every notebook source and the
    README's table from the exercises; with ``check``, write nothing. The files that
    differ(ed)."""
    import jupytext

    from .build import notebook_sources

    changed = []
    overview: dict[str, tuple[str, list[Exercise]]] = {}
    for assignment, paths in notebook_sources(Path(notebooks_dir)).items():
        topic, exercises = "", []
        for path in paths:
            text = path.read_text(encoding="utf-8")
            nb = jupytext.reads(text, fmt="py:percent")
            found = exercises_of(nb, str(path))
            topic = topic or title_of(nb)
            exercises.extend(found)
            new = rewrite_notebook_source(text, found)
            if new != text:
                changed.append(str(path))
                if not check:
                    path.write_text(new, encoding="utf-8")
        overview[assignment] = (topic, exercises)
    if readme is not None:
        text = Path(readme).read_text(encoding="utf-8")
        new = rewrite_readme(text, readme_table(overview))
        if new != text:
            changed.append(str(readme))
            if not check:
                Path(readme).write_text(new, encoding="utf-8")
    return changed
