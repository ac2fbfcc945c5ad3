"""Grades out: one row per student and assignment from the gradebook, written as the file
Canvas or Moodle imports, or as a plain CSV.

Each row says where the student stands (:class:`Standing`):

- graded: the gradebook holds a grade for the submission as it is in ``submitted/``;
- flagged: graded, but the scan withheld tampering (its copy and ``SCAN.txt`` are in
  ``quarantine/<student>/<assignment>/``, with the same notebooks as ``submitted/``);
- failed: submitted but not graded (the scan refused it, or grading has not given a grade);
- missing: in the gradebook or collected for another assignment, nothing submitted here.

A student who was not graded has an empty score, never 0. The final score is the score
(with manual grades and overrides) less the late penalty, not below 0: the penalty the
course's :class:`~autograder.late.LatePolicy` gives for that score (nbgrader's stored one
when the course uses another plugin). The student's id is the nbgrader
id, which ``collect`` makes the LMS user id; the name is the one in the submission's
``lms.json`` (:class:`autograder.collect.LmsRecord`), else the gradebook's.

The formats:

- csv: nbgrader's grades.csv columns plus ``name``, ``lms``, ``status`` and ``note``; the
  note names each change of an exercise's points after grading, oldest first, with its
  reason (an override with its points, a regrade with the old and new points;
  :mod:`autograder.changes`), and the score includes them. Then the lateness
  (:mod:`autograder.late`): ``student_duedate`` (UTC, the extension included),
  ``extension_hours``, ``seconds_late`` (empty when a time is unknown), ``late`` ('on time',
  'late 1d 2h', or the LMS's mark when the LMS gives no time) and ``late_policy``.
- canvas: Canvas's gradebook import: ``Student``, ``ID`` (the Canvas user id), ``SIS User
  ID``, ``SIS Login ID``, ``Section``, one column per assignment named as in Canvas, and the
  ``Points Possible`` row. Canvas takes any other column for a new assignment, so the
  status has no column there: a student not graded has an empty cell (Canvas's "no grade").
- moodle: Moodle's offline grading worksheet of one assignment (Assignment > View all
  submissions > Upload grading worksheet): ``Identifier`` is ``Participant <id>``, the
  participant id of Moodle's download; ``Grade`` is empty when not graded (Moodle leaves
  that student's grade alone); ``Status`` is shown to the instructor and not imported.
"""

from __future__ import annotations

import csv
import filecmp
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from .collect import LMS_RECORD, LmsRecord
from .course import Course, PipelineError
from .grading import Standing
from .late import Lateness

__all__ = ["CANVAS_COLUMNS", "CSV_COLUMNS", "FORMATS", "MOODLE_COLUMNS", "GradeRow", "export",
           "grade_rows", "not_graded", "write_canvas", "write_csv", "write_moodle"]

FORMATS = ("canvas", "moodle", "csv")
CSV_COLUMNS = [
    "assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
    "raw_score", "late_submission_penalty", "score", "max_score", "name", "lms", "status",
    "note", "student_duedate", "extension_hours", "seconds_late", "late", "late_policy",
]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_COLUMNS = ["Identifier", "Full name", "Email address", "Status", "Grade",
                  "Maximum Grade", "Last modified (grade)"]
_NOT_GRADED = (Standing.FAILED, Standing.MISSING)


@dataclass(frozen=True)
class GradeRow:
    """One student's standing on one assignment; ``score`` is None when not graded."""

    assignment: str
    student: str
    status: Standing
    score: float | None
    max_score: float
    penalty: float = 0.0
    name: str = ""
    lms: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    duedate: str = ""
    timestamp: str = ""
    manual: bool = False  # answers still to be graded by hand
    note: str = ""
    lateness: Lateness | None = None  # graded rows only
    policy: str = ""  # the late policy in words

    @property
    def late(self) -> str:
        """'on time', 'late 1d 2h', the LMS's mark, or '' (see :class:`Lateness`)."""
        return self.lateness.label() if self.lateness else ""

    @property
    def final(self) -> float | None:
        """The score less the late penalty, not below 0 (nbgrader's rule); None if not graded."""
        return None if self.score is None else max(0.0, self.score - self.penalty)


def _quarantined(course: Course, assignment: str, student: str) -> tuple[str, str] | None:
    """(scan status, first reason) of the quarantined copy when it holds the notebooks now in
    ``submitted/`` (an older quarantined submission says nothing about the current one)."""
    held = course.course_dir / "quarantine" / student / assignment
    scan = held / "SCAN.txt"
    current = course.submitted_dir / student / assignment
    if not scan.is_file() or not current.is_dir():
        return None
    notebooks = sorted(current.glob("*.ipynb"))
    if not notebooks or not all((held / nb.name).is_file()
                                and filecmp.cmp(nb, held / nb.name, shallow=False)
                                for nb in notebooks):
        return None
    lines = scan.read_text(encoding="utf-8").splitlines()
    status = lines[0].rpartition(": ")[2] if lines else ""
    reasons = [line for line in lines[1:]
               if line.startswith(("broken:", "tampering:", "refused:"))]
    return status, (reasons[0] if reasons else "")


def _lms_records(course: Course) -> dict[str, dict[str, LmsRecord]]:
    """student -> assignment -> the lms.json of that submission."""
    out: dict[str, dict[str, LmsRecord]] = {}
    if course.submitted_dir.is_dir():
        for path in sorted(course.submitted_dir.glob(f"*/*/{LMS_RECORD}")):
            record = LmsRecord.read(path.parent)
            if record is not None:
                out.setdefault(path.parent.parent.name, {})[path.parent.name] = record
    return out


def grade_rows(course: Course, assignments: list[str] | None = None) -> list[GradeRow]:
    """Every student x assignment of the gradebook (and of ``submitted/``), by assignment
    then student; PipelineError when a named assignment is not in the gradebook."""
    from nbgrader.api import MissingEntry

    from .changes import ChangeKind, changes
    from .late import course_policy, submission_penalty
    from .report import gradebook_assignments
    from .stale import stale_students

    policy = course_policy(course.config())
    rule = policy.describe() if policy else "nbgrader's stored penalty"
    records = _lms_records(course)
    changed: dict[tuple[str, str], list] = {}  # every change of the student's points
    for c in changes(course.db_url()):
        changed.setdefault((c.assignment, c.student), []).append(c)
    rows = []
    with course.gradebook() as gb:
        picked = gradebook_assignments(course, gb, assignments)
        names = [a.name for a in picked]
        stale = stale_students(course, names)
        known = {s.id: s for s in gb.students}
        students = sorted(set(known) | {s for _, s in course.submissions(names)})
        for assignment in picked:
            for student in students:
                gb_student = known.get(student)
                mine = records.get(student, {})
                record = mine.get(assignment.name) or next(iter(mine.values()), None)
                person = dict(
                    first_name=(gb_student.first_name or "") if gb_student else "",
                    last_name=(gb_student.last_name or "") if gb_student else "",
                    email=(gb_student.email or "") if gb_student else "",
                )
                name = record.name if record else " ".join(
                    p for p in (person["first_name"], person["last_name"]) if p)
                if record and record.email and not person["email"]:
                    person["email"] = record.email
                common = dict(assignment=assignment.name, student=student,
                              max_score=float(assignment.max_score), name=name,
                              lms=record.lms if record else "",
                              duedate=str(assignment.duedate or ""), **person)
                try:
                    submission = gb.find_submission(assignment.name, student)
                except MissingEntry:
                    submission = None
                held = _quarantined(course, assignment.name, student)
                submitted = (course.submitted_dir / student / assignment.name).is_dir()
                if held and held[0] == Standing.FAILED.value:
                    rows.append(GradeRow(status=Standing.FAILED, score=None,
                                         note="the scan refused it: " + held[1], **common))
                elif submission is not None:
                    notes = []
                    flagged = held is not None and held[0] == Standing.FLAGGED.value
                    if flagged:
                        notes.append(held[1] or "see quarantine/")
                    if student in stale.get(assignment.name, ()):
                        notes.append("stale: graded before the tests or points changed")
                    logged = changed.get((assignment.name, student), [])
                    notes.extend(c.note() for c in logged)
                    overridden = {c.grade_id for c in logged
                                  if c.kind is ChangeKind.OVERRIDE}
                    by_hand = any(g.needs_manual_grade and g.name not in overridden
                                  for nb in submission.notebooks for g in nb.grades)
                    if by_hand:
                        notes.append("answers to grade by hand")
                    lateness = Lateness.of(submission, mine.get(assignment.name))
                    penalty = submission_penalty(policy, submission, lateness)
                    if penalty:
                        notes.append(f"{lateness.label() or 'late'}, penalty -{penalty:g} "
                                     f"({rule})")
                    elif lateness.label() not in ("", "on time"):
                        notes.append(lateness.label())
                    rows.append(GradeRow(
                        status=Standing.FLAGGED if flagged else Standing.GRADED,
                        score=float(submission.score), penalty=penalty,
                        timestamp=str(submission.timestamp or ""),
                        manual=by_hand,
                        note="; ".join(notes), lateness=lateness, policy=rule, **common))
                elif submitted:
                    rows.append(GradeRow(status=Standing.FAILED, score=None,
                                         note="submitted, not graded: see `grade`'s output",
                                         **common))
                else:
                    rows.append(GradeRow(status=Standing.MISSING, score=None,
                                         note="nothing submitted", **common))
    return rows


def not_graded(rows: list[GradeRow]) -> list[GradeRow]:
    """The rows of students who have no grade (failed or missing) or a flagged one."""
    return [r for r in rows if r.status is not Standing.GRADED]


def _num(value: float | None) -> str:
    """A number as an LMS reads it: no exponent, at most 6 decimals, no trailing zeros
    (1024268 seconds stays 1024268, 3.2000000000000006 points is 3.2)."""
    if value is None:
        return ""
    text = f"{round(float(value), 6):f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def write_csv(rows: list[GradeRow], path: Path) -> Path:
    """The plain table (:data:`CSV_COLUMNS`), one row per student and assignment."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            graded = r.score is not None
            writer.writerow([
                r.assignment, r.duedate, r.timestamp, r.student, r.last_name, r.first_name,
                r.email, _num(r.score), _num(r.penalty) if graded else "", _num(r.final),
                _num(r.max_score), r.name, r.lms, r.status.value, r.note, *_late_columns(r),
            ])
    return path


def _late_columns(r: GradeRow) -> list[str]:
    """student_duedate, extension_hours, seconds_late, late, late_policy."""
    late = r.lateness
    if late is None:
        return ["", "", "", "", ""]
    extension = late.extension.total_seconds() / 3600 if late.extension else None
    return [str(late.due or ""), _num(extension), _num(late.seconds_late), r.late, r.policy]


def write_canvas(rows: list[GradeRow], path: Path) -> Path:
    """Canvas's gradebook import: one row per student, one column per assignment."""
    assignments = list(dict.fromkeys(r.assignment for r in rows))
    top = {r.assignment: r.max_score for r in rows}
    finals: dict[str, dict[str, float | None]] = {}
    names: dict[str, str] = {}
    for r in rows:
        finals.setdefault(r.student, {})[r.assignment] = r.final
        names[r.student] = names.get(r.student) or r.name or r.student
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(CANVAS_COLUMNS + assignments)
        writer.writerow(["    Points Possible", "", "", "", ""]
                        + [_num(top[a]) for a in assignments])
        for student, scores in finals.items():
            writer.writerow([names[student], student, "", "", ""]
                            + [_num(scores.get(a)) for a in assignments])
    return path


def write_moodle(rows: list[GradeRow], path: Path) -> Path:
    """Moodle's offline grading worksheet for the one assignment of ``rows``."""
    if len({r.assignment for r in rows}) > 1:
        raise PipelineError("a Moodle grading worksheet holds one assignment "
                            f"(got {', '.join(sorted({r.assignment for r in rows}))})")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(MOODLE_COLUMNS)
        for r in rows:
            status = r.status.value + (f": {r.note}" if r.note else "")
            writer.writerow([f"Participant {r.student}", r.name or r.student, r.email, status,
                             _num(r.final), _num(r.max_score), now])
    return path


def export(course: Course, fmt: str, assignments: list[str] | None = None,
           out: Path | None = None) -> tuple[list[Path], list[GradeRow]]:
    """Write the ``fmt`` file(s) of ``assignments`` (all when empty) and return them with the
    rows. Default: ``reports/grades.csv``, ``reports/canvas.csv``, and for Moodle one
    ``reports/moodle-<assignment>.csv`` each; ``out`` names the one file."""
    if fmt not in FORMATS:
        raise PipelineError(f"--format must be one of {', '.join(FORMATS)} (got {fmt!r})")
    url = course.db_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise PipelineError(f"no gradebook at {url}: release and grade first")
    from .report import gradebook_assignments

    with course.gradebook() as gb:
        picked = [a.name for a in gradebook_assignments(course, gb, assignments)]
    rows = grade_rows(course, picked)
    if fmt == "moodle" and out is not None and len(picked) > 1:
        raise PipelineError(f"a Moodle grading worksheet holds one assignment, so --out needs "
                            f"one (got {len(picked)}: {', '.join(picked)})")
    reports = course.reports_dir
    if fmt == "moodle":
        targets = [(out or reports / f"moodle-{a}.csv", [r for r in rows if r.assignment == a])
                   for a in picked]
    else:
        targets = [(out or reports / ("grades.csv" if fmt == "csv" else "canvas.csv"), rows)]
    writer = {"canvas": write_canvas, "moodle": write_moodle, "csv": write_csv}[fmt]
    paths = []
    for path, chunk in targets:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        paths.append(writer(chunk, path))
    return paths, rows
