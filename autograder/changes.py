"""Grade changes after grading: overrides, regrades, and the one log of both.

- An override (:func:`override`) sets the points of one exercise of one student (the
  exercise is named by its graded cell's grade id, e.g. ``f1-cube-test``). The points go
  where nbgrader keeps a grader's score, ``Grade.manual_score``; nbgrader totals it into the
  submission's score, so ``report``, ``export`` and ``feedback`` show it. Autograding again
  replaces ``auto_score`` but keeps ``manual_score``: the override stays until another
  override replaces it.
- A regrade is ``grade`` of a submission the gradebook already holds a grade of, with the
  same answers (a new submission's new points are not a change of a grade). ``grade`` reads
  each graded cell's points and the answers autograded before (:func:`grades_of`) and
  logs every cell whose points a regrade changed (:func:`log_regrades`). ``grade
  --exercise`` regrades chosen exercises only: the notebooks run again (the judge needs the
  kernel), and :class:`SaveChosenGrades` takes the place of nbgrader's SaveAutoGrades, so
  only the chosen cells get a new auto score.

Every change is a row of the gradebook's table ``grade_changes`` (so a PostgreSQL gradebook
shared by several machines holds it too): its kind, who (the OS user), when (UTC), the old
and new points, and why. The export's note and the feedback page show each one. Rows of the
table ``grade_overrides``, where overrides were logged before regrades were, are read as
overrides; nothing is written there any more.
"""

from __future__ import annotations

import getpass
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from nbgrader import utils
from nbgrader.preprocessors import SaveAutoGrades
from traitlets import Dict, List, Unicode

from .course import Course, PipelineError
from .records import TextEnum
from .sidetable import ensure_table, open_table, read_rows

__all__ = ["Change", "ChangeKind", "Graded", "SaveChosenGrades", "changes", "grades_of",
           "graded_cells", "log_regrades", "override", "pick_exercises"]

TABLE = "grade_changes"
OLD_TABLE = "grade_overrides"  # the overrides logged before regrades were


class ChangeKind(TextEnum):
    OVERRIDE = "override"  # the instructor set the points
    REGRADE = "regrade"  # grading again gave other points


@dataclass(frozen=True)
class Change:
    """One logged change of one exercise's points."""

    kind: ChangeKind
    student: str
    assignment: str
    grade_id: str
    old: float
    new: float
    max_score: float
    reason: str
    who: str
    at: datetime

    def __post_init__(self):
        object.__setattr__(self, "kind", ChangeKind(self.kind))

    def line(self) -> str:
        """The log's line: when, who, what, old -> new, why."""
        return (f"{self.at:%Y-%m-%d %H:%M:%S} UTC  {self.who}  {self.kind:<8}  {self.student}"
                f"  {self.assignment}  {self.grade_id}  {self.old:g} -> {self.new:g}/"
                f"{self.max_score:g}  {self.reason}")

    def note(self) -> str:
        """The export's note of this change."""
        if self.kind is ChangeKind.OVERRIDE:
            return f"override {self.grade_id} {self.new:g}/{self.max_score:g}: {self.reason}"
        return (f"regrade {self.grade_id} {self.old:g} -> {self.new:g}/{self.max_score:g}: "
                f"{self.reason}")


def _columns():
    from sqlalchemy import Column, DateTime, Float, Integer, String, Text

    return [
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
    ]


def _table(metadata):
    from sqlalchemy import Column, String, Table

    return Table(TABLE, metadata, *_columns(), Column("kind", String(16), nullable=False))


def _old_table(metadata):
    from sqlalchemy import Table

    return Table(OLD_TABLE, metadata, *_columns())


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _row(change: Change) -> dict:
    return {name: getattr(change, name) for name in Change.__dataclass_fields__}


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
             assignment: str | None = None) -> Change:
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
        record = Change(ChangeKind.OVERRIDE, student, grade.assignment.name, grade_id,
                        float(grade.score or 0.0), float(points), top, reason.strip(),
                        getpass.getuser(), _now())
        table = _table(MetaData())
        ensure_table(gb.db.connection(), table)
        grade.manual_score = float(points)
        grade.needs_manual_grade = False
        gb.db.execute(table.insert().values(**_row(record)))
        gb.db.commit()
    return record


def changes(db_url: str, student: str | None = None,
            assignment: str | None = None) -> list[Change]:
    """The log of the gradebook at ``db_url``, oldest first; only ``student``'s and
    ``assignment``'s when given."""
    found = [Change(**{"kind": ChangeKind.OVERRIDE, **row})
             for make_table in (_old_table, _table)
             for row in read_rows(db_url, make_table, student=student, assignment=assignment)]
    return sorted(found, key=lambda c: c.at)


# --- regrades ------------------------------------------------------------------------------


def pick_exercises(course: Course, assignments: list[str],
                   wanted: list[str]) -> dict[str, list[str]]:
    """assignment -> the grade ids of ``wanted`` that are graded cells of it, for each of
    ``assignments`` that has one; PipelineError naming every assignment's grade ids when one
    of ``wanted`` is a graded cell of none."""
    with course.gradebook() as gb:
        known = {a: [c.name for nb in gb.find_assignment(a).notebooks for c in nb.grade_cells]
                 for a in assignments}
    for grade_id in wanted:
        if not any(grade_id in ids for ids in known.values()):
            listed = "; ".join(f"{a}: {', '.join(ids) or 'none'}" for a, ids in known.items())
            raise PipelineError(f"--exercise must be the grade id of a graded cell of "
                                f"{', '.join(assignments)} (got {grade_id!r}; known: {listed})")
    return {a: [g for g in ids if g in wanted] for a, ids in known.items()
            if any(g in wanted for g in ids)}


@dataclass(frozen=True)
class Graded:
    """One graded submission: each graded cell's points and maximum, and a digest of the
    answer cells of its autograded notebooks (None when there is none)."""

    points: dict[str, tuple[float, float]]
    answers: str | None


def _answers(folder: Path) -> str | None:
    import nbformat

    paths = sorted(folder.glob("*.ipynb"))
    if not paths:
        return None
    cells = [(path.stem, c.metadata.nbgrader.get("grade_id"), c.source) for path in paths
             for c in nbformat.read(str(path), as_version=4).cells if utils.is_solution(c)]
    return hashlib.sha256(json.dumps(cells).encode("utf-8")).hexdigest()


def grades_of(course: Course, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Graded]:
    """(assignment, student) -> :class:`Graded` as it is now, for each of ``pairs`` whose
    submission the gradebook holds (the others are left out)."""
    from nbgrader.api import MissingEntry

    out = {}
    with course.gradebook() as gb:
        for assignment, student in pairs:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                continue
            # a cell never scored (the row nbgrader made with the submission, e.g. when
            # `extend` or `grade` recorded a due date before the first grade) is no old grade
            points = {g.name: (float(g.score), float(g.max_score))
                      for nb in submission.notebooks for g in nb.grades
                      if g.auto_score is not None or g.manual_score is not None}
            folder = course.autograded_dir / student / assignment
            out[(assignment, student)] = Graded(points, _answers(folder))
    return out


def log_regrades(course: Course, before: dict[tuple[str, str], Graded],
                 reason: str) -> list[Change]:
    """Log, as regrades with ``reason``, the graded cells of ``before`` whose points differ
    now; return them. A submission whose answers changed (a new one) is left out."""
    at, who = _now(), getpass.getuser()
    after = grades_of(course, list(before))
    logged = []
    for (assignment, student), then in sorted(before.items()):
        now = after.get((assignment, student))
        if now is None or (then.answers and now.answers != then.answers):
            continue
        for grade_id, (old, _) in sorted(then.points.items()):
            if grade_id in now.points and now.points[grade_id][0] != old:
                new, top = now.points[grade_id]
                logged.append(Change(ChangeKind.REGRADE, student, assignment, grade_id, old,
                                     new, top, reason, who, at))
    if logged:
        with open_table(course.db_url(), _table) as (engine, table), engine.begin() as conn:
            conn.execute(table.insert(), [_row(c) for c in logged])
    return logged


def graded_cells(folder: Path) -> dict[str, dict[str, dict]]:
    """notebook name -> grade id -> the graded cell, of the notebooks in ``folder`` (an
    autograded submission; empty when there is none)."""
    import nbformat

    out: dict[str, dict[str, dict]] = {}
    for path in sorted(folder.glob("*.ipynb")):
        nb = nbformat.read(str(path), as_version=4)
        out[path.stem] = {c.metadata.nbgrader["grade_id"]: c for c in nb.cells
                          if utils.is_grade(c)}
    return out


class SaveChosenGrades(SaveAutoGrades):
    """nbgrader's SaveAutoGrades for a regrade of some exercises: only the graded cells named
    in ``grade_ids`` get a new auto score. Every other graded cell keeps its score in the
    gradebook and, in the autograded notebook, the cell it was given that score for
    (``kept_cells``, from :func:`graded_cells` of the earlier autograded notebooks), so the
    feedback page shows the output that goes with the score."""

    grade_ids = List(Unicode(), help="the grade ids that are regraded").tag(config=True)
    kept_cells = Dict(help="notebook -> grade id -> the earlier autograded cell").tag(config=True)

    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not utils.is_grade(cell) or grade_id in self.grade_ids:
            return super().preprocess_cell(cell, resources, cell_index)
        kept = self.kept_cells.get(resources["nbgrader"]["notebook"], {}).get(grade_id)
        if kept is None:
            return cell, resources
        from nbformat import from_dict

        earlier = from_dict(dict(kept))
        earlier.pop("id", None)
        if "id" in cell:
            earlier["id"] = cell["id"]
        return earlier, resources
