"""Overrides: an instructor sets the points of one exercise of one student, with a record.

The points go where nbgrader keeps a grader's score, ``Grade.manual_score`` of the graded
cell (the exercise is named by its grade id, e.g. ``f1-cube-test``); nbgrader totals it into
the submission's score, so ``report``, ``export`` and ``feedback`` show it (``export``'s note
and the feedback page also give the reason). Autograding again
(``grade A --student S``) replaces ``auto_score`` but keeps ``manual_score``: the override
stays until another override replaces it.

Every override is logged in the gradebook's table ``grade_overrides`` (so a PostgreSQL
gradebook shared by several machines holds it too): who (the OS user), when (UTC), the old
and new points, and why.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from datetime import datetime, timezone

from .course import Course, PipelineError
from .sidetable import ensure_table, open_table

__all__ = ["Override", "override", "overrides"]

TABLE = "grade_overrides"


@dataclass(frozen=True)
class Override:
    """One logged change of one exercise's points."""

    student: str
    assignment: str
    grade_id: str
    old: float
    new: float
    max_score: float
    reason: str
    who: str
    at: datetime

    def line(self) -> str:
        return (f"{self.at:%Y-%m-%d %H:%M:%S} UTC  {self.who}  {self.student}  {self.assignment}"
                f"  {self.grade_id}  {self.old:g} -> {self.new:g}/{self.max_score:g}"
                f"  {self.reason}")


def _table(metadata):
    from sqlalchemy import Column, DateTime, Float, Integer, String, Table, Text

    return Table(
        TABLE, metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("student", String(128), nullable=False),
        Column("assignment", String(128), nullable=False),
        Column("grade_id", String(128), nullable=False),
        Column("old", Float, nullable=False),
        Column("new", Float, nullable=False),
        Column("max_score", Float, nullable=False),
        Column("reason", Text, nullable=False),
        Column("who", String(128), nullable=False),
        Column("at", DateTime, nullable=False),
    )


def _find_grade(gb, student: str, grade_id: str, assignment: str | None):
    """The gradebook's Grade of ``grade_id`` for ``student``; PipelineError when the student,
    the exercise or the assignment is not there, or the grade id is in several assignments."""
    from nbgrader.api import MissingEntry

    if student not in {s.id for s in gb.students}:
        raise PipelineError(f"override: student {student!r} is not in the gradebook")
    found = []
    for a in gb.assignments:
        if assignment and a.name != assignment:
            continue
        for notebook in a.notebooks:
            if any(c.name == grade_id for c in notebook.grade_cells):
                found.append((a.name, notebook.name))
    if not found:
        where = f"assignment {assignment!r}" if assignment else "any assignment"
        known = sorted(c.name for a in gb.assignments if not assignment or a.name == assignment
                       for nb in a.notebooks for c in nb.grade_cells)
        raise PipelineError(f"override: exercise must be a graded cell's grade id of {where} "
                            f"(got {grade_id!r}; known: {', '.join(known) or 'none'})")
    if len(found) > 1:
        raise PipelineError(f"override: {grade_id!r} is in {', '.join(a for a, _ in found)}: "
                            "name one with --assignment")
    (assignment_name, notebook_name), = found
    try:
        return gb.find_grade(grade_id, notebook_name, assignment_name, student)
    except MissingEntry:
        raise PipelineError(f"override: {student} has no grade for {grade_id} of "
                            f"{assignment_name}: grade the submission first") from None


def override(course: Course, student: str, grade_id: str, points: float, reason: str,
             assignment: str | None = None) -> Override:
    """Set ``student``'s points of ``grade_id`` to ``points`` and log it; nothing is written
    when anything is wrong (PipelineError)."""
    from sqlalchemy import MetaData

    if not reason.strip():
        raise PipelineError("override: --reason must say why the points change (got nothing)")
    with course.gradebook() as gb:
        grade = _find_grade(gb, student, grade_id, assignment)
        top = float(grade.max_score)
        if not 0 <= points <= top:
            raise PipelineError(f"override: points must be between 0 and {top:g} for {grade_id} "
                                f"(got {points:g})")
        record = Override(student, grade.assignment.name, grade_id, float(grade.score or 0.0),
                          float(points), top, reason.strip(), getpass.getuser(),
                          datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0))
        table = _table(MetaData())
        ensure_table(gb.db.connection(), table)
        grade.manual_score = float(points)
        grade.needs_manual_grade = False
        gb.db.execute(table.insert().values(
            student=record.student, assignment=record.assignment, grade_id=grade_id,
            old=record.old, new=record.new, max_score=top, reason=record.reason,
            who=record.who, at=record.at))
        gb.db.commit()
    return record


def overrides(db_url: str, student: str | None = None,
              assignment: str | None = None) -> list[Override]:
    """The log of the gradebook at ``db_url``, oldest first; only ``student``'s and
    ``assignment``'s when given."""
    from sqlalchemy import select

    with open_table(db_url, _table, create=False) as (engine, table):
        if table is None:
            return []
        query = select(table).order_by(table.c.id)
        if student:
            query = query.where(table.c.student == student)
        if assignment:
            query = query.where(table.c.assignment == assignment)
        with engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
    return [Override(**{k: v for k, v in row.items() if k != "id"}) for row in rows]
