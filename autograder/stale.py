"""Stale grades: students graded before their assignment's tests or points changed.

What grading an assignment depends on is summed up in its fingerprint (:func:`fingerprint`):
of every built notebook (``course/source/<assignment>/``), each graded cell's id and points
and the code of each locked code cell (the visible tests and the set-up, which autograde
puts back whatever the student did), and the judge's hidden tests
(``course/judge/<assignment>/*.json``, written by ``build``). ``grade`` records, per student
and assignment, the fingerprint it graded with, in the gradebook's table
``grade_fingerprints`` (so a PostgreSQL gradebook shared by several machines holds it too).
A grade is stale when its recorded fingerprint differs from the assignment's current one;
a grade with no record (made by ``check``, ``demo`` or before this table) is not known to
be stale and is not listed.

Autograde takes the points and visible tests from the gradebook, which ``release`` writes.
:func:`unreleased_changes` says where the built notebooks differ from them; ``grade``
refuses such an assignment, so it never grades with the points of an earlier release.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone

from .course import Course
from .sidetable import open_table

__all__ = [
    "fingerprint",
    "record_fingerprints",
    "recorded_fingerprints",
    "stale_lines",
    "stale_students",
    "unreleased_changes",
]

TABLE = "grade_fingerprints"

# notebook -> grade_id -> (points of a graded cell or None, code of a locked code cell or None)
Cells = dict[str, dict[str, tuple[float | None, str | None]]]


def _built_cells(course: Course, assignment: str) -> Cells:
    """What grading uses of the built notebooks of ``assignment`` (empty when not built)."""
    import nbformat

    out: Cells = {}
    for path in sorted((course.source_dir / assignment).glob("*.ipynb")):
        cells = out[path.stem] = {}
        for cell in nbformat.read(str(path), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            points = float(meta.get("points", 0)) if meta.get("grade") else None
            code = cell.source if meta.get("locked") and cell.cell_type == "code" else None
            if meta.get("grade_id") and (points is not None or code is not None):
                cells[meta["grade_id"]] = (points, code)
    return out


def _released_cells(gb, assignment: str) -> Cells:
    """The same as :func:`_built_cells`, from what ``release`` wrote to the gradebook."""
    out: Cells = {}
    for notebook in gb.find_assignment(assignment).notebooks:
        points = {c.name: float(c.max_score) for c in notebook.grade_cells}
        code = {c.name: c.source for c in notebook.source_cells
                if c.locked and c.cell_type == "code"}
        out[notebook.name] = {gid: (points.get(gid), code.get(gid))
                              for gid in sorted(set(points) | set(code))}
    return out


def fingerprint(course: Course, assignment: str) -> str | None:
    """A hash of what grading ``assignment`` depends on (None when it is not built)."""
    cells = _built_cells(course, assignment)
    if not cells:
        return None
    digest = hashlib.sha256(json.dumps(cells, sort_keys=True).encode("utf-8"))
    for path in sorted((course.judge_dir / assignment).glob("*.json")):
        digest.update(b"\0" + path.name.encode("utf-8") + b"\0" + path.read_bytes())
    return digest.hexdigest()


def unreleased_changes(course: Course, assignment: str) -> list[str]:
    """Where the built notebooks differ from the points and visible tests in the gradebook,
    one phrase each ("f1-cube-test: 4 points built, 2 released"); empty when they agree."""
    built = _built_cells(course, assignment)
    if not built:
        return []
    with course.gradebook() as gb:
        released = _released_cells(gb, assignment)
    changes = []
    for notebook in sorted(set(built) | set(released)):
        now, then = built.get(notebook, {}), released.get(notebook, {})
        for gid in sorted(set(now) | set(then)):
            if gid not in then:
                changes.append(f"{gid}: new, not released")
            elif gid not in now:
                changes.append(f"{gid}: released, no longer built")
            elif now[gid][0] != then[gid][0]:
                changes.append(f"{gid}: {now[gid][0]:g} points built, {then[gid][0]:g} released")
            elif now[gid][1] != then[gid][1]:
                changes.append(f"{gid}: its code differs from the released one")
    return changes


def _table(metadata):
    from sqlalchemy import Column, DateTime, String, Table

    return Table(
        TABLE, metadata,
        Column("student", String(128), primary_key=True),
        Column("assignment", String(128), primary_key=True),
        Column("fingerprint", String(64), nullable=False),
        Column("graded_at", DateTime, nullable=False),
    )


def record_fingerprints(db_url: str, assignment: str, students: list[str], value: str) -> None:
    """Record that ``students`` were graded on ``assignment`` with fingerprint ``value``."""
    if not students:
        return
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with open_table(db_url, _table) as (engine, table), engine.begin() as conn:
        conn.execute(table.delete().where(table.c.assignment == assignment,
                                          table.c.student.in_(students)))
        conn.execute(table.insert(), [
            {"student": s, "assignment": assignment, "fingerprint": value,
             "graded_at": now} for s in sorted(set(students))])


def recorded_fingerprints(db_url: str) -> dict[tuple[str, str], str]:
    """(assignment, student) -> the fingerprint of that student's last grade."""
    from sqlalchemy import select

    with open_table(db_url, _table, create=False) as (engine, table):
        if table is None:
            return {}
        with engine.connect() as conn:
            rows = conn.execute(select(table.c.assignment, table.c.student,
                                       table.c.fingerprint)).all()
    return {(a, s): f for a, s, f in rows}


def stale_students(course: Course, assignments: list[str] | None = None) -> dict[str, list[str]]:
    """assignment -> the students (sorted) whose grade was recorded with another fingerprint
    than the assignment's current one; assignments with none are left out."""
    recorded = recorded_fingerprints(course.db_url())
    current: dict[str, str | None] = {}
    out: dict[str, list[str]] = {}
    for (assignment, student), value in sorted(recorded.items()):
        if assignments and assignment not in assignments:
            continue
        if assignment not in current:
            current[assignment] = fingerprint(course, assignment)
        if current[assignment] is not None and value != current[assignment]:
            out.setdefault(assignment, []).append(student)
    return out


def stale_lines(stale: dict[str, list[str]], shown: int = 20) -> list[str]:
    """One line per assignment of :func:`stale_students`, naming at most ``shown`` students."""
    lines = []
    for assignment, students in sorted(stale.items()):
        names = ", ".join(students[:shown])
        if len(students) > shown:
            names += f" and {len(students) - shown} more"
        count = f"{len(students)} student" + ("s" if len(students) != 1 else "")
        lines.append(f"{assignment}: {count} graded before its tests or points changed: "
                     f"{names}; regrade with `grade --stale`")
    return lines
