"""Read the gradebook: the student x assignment table, grades CSV, per-exercise statistics
and a histogram of scores.

``grades.csv`` has nbgrader's grades.csv columns plus each student's status (graded,
flagged, failed, missing; :mod:`autograder.export`): a student not graded has an empty score;
``exercises.csv`` adds, per graded cell, how the class did: submissions, mean, median,
minimum, maximum, and the share of full and of zero marks; ``exercises.txt`` is the same
as a plain-text table. ``histogram.png`` has one panel per assignment: how many students
got each final score (as exported: overrides in, late penalty out), captioned with how
many failed, were missing or were flagged.
"""

from __future__ import annotations

import csv
import statistics
from dataclasses import dataclass
from pathlib import Path

from .course import Course, display_url, pick_assignments

__all__ = [
    "EXERCISE_TABLE_NAME",
    "HISTOGRAM_NAME",
    "ExerciseStats",
    "exercise_stats",
    "exercise_table",
    "format_table",
    "gradebook_assignments",
    "gradebook_table",
    "histogram_counts",
    "score_distribution",
    "write_exercise_table",
    "write_histogram",
    "write_report",
]

EXERCISE_TABLE_NAME = "exercises.txt"
HISTOGRAM_NAME = "histogram.png"


def format_table(headers: list[str], rows: list[list[object]]) -> str:
    """A plain-text table with a header rule; numbers right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [
        all(_is_number(r[i]) for r in cells[1:] if r[i] != "") and len(cells) > 1
        for i in range(len(headers))
    ]

    def line(row):
        parts = [
            row[i].rjust(widths[i]) if numeric[i] else row[i].ljust(widths[i])
            for i in range(len(headers))
        ]
        return "  ".join(parts).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def _is_number(text: str) -> bool:
    head = text.split("/")[0].strip()
    try:
        float(head)
    except ValueError:
        return False
    return True


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:g}"


def gradebook_assignments(course: Course, gb, assignments: list[str] | None) -> list:
    """The gradebook's assignments named in ``assignments`` (all when empty), by name;
    PipelineError when one is not there."""
    found = {a.name: a for a in gb.assignments}
    names = pick_assignments(assignments, found, "released assignment",
                             f"the gradebook {display_url(course.db_url())}",
                             fix="python -m autograder release")
    return [found[name] for name in sorted(set(names))]


def gradebook_table(course: Course, assignments: list[str] | None = None) -> str:
    """Student x assignment final scores ("score/max" less the late penalty; "failed" or
    "missing" when not graded) plus a total column; a late grade is marked "late 1d 2h -1"
    (how late, the penalty; "late" alone: the LMS's mark, "late?": due, time unknown,
    :func:`autograder.late.late_mark`), a flagged one "flagged", one with answers to grade
    by hand "*", a stale one "stale" (:mod:`autograder.stale`); lines below name the
    students not graded or flagged, then the late ones, then count per assignment the
    students with answers to grade by hand, then the stale ones."""
    from .export import grade_rows, not_graded
    from .grading import Standing
    from .late import late_mark
    from .stale import stale_lines, stale_students

    rows = grade_rows(course, assignments)
    names = list(dict.fromkeys(r.assignment for r in rows))
    stale = stale_students(course, names)
    max_scores = {r.assignment: r.max_score for r in rows}
    table: dict[str, list[object]] = {}
    totals: dict[str, float] = {}
    for r in rows:
        cells = table.setdefault(r.student, [r.student])
        if r.score is None:
            cells.append(r.status.value)
            continue
        totals[r.student] = totals.get(r.student, 0.0) + r.final
        flag = late_mark(r.lateness, r.penalty)
        flag += " *" if r.manual else ""
        flag += " flagged" if r.status is Standing.FLAGGED else ""
        flag += " stale" if r.student in stale.get(r.assignment, ()) else ""
        cells.append(f"{_fmt(r.final)}/{_fmt(r.max_score)}{flag}")
    top = _fmt(sum(max_scores.values()))
    lines = [cells + [f"{_fmt(totals[s])}/{top}" if s in totals else "-"]
             for s, cells in table.items()]
    text = format_table(["student"] + names + ["total"], lines)
    below = [f"{r.assignment}: {r.student} {r.status.value}" + (f" ({r.note})" if r.note else "")
             for r in not_graded(rows)]
    below += [f"{r.assignment}: {r.student} {r.late or 'late'}"
              + (f", penalty -{_fmt(r.penalty)} ({r.policy})" if r.penalty else "")
              for r in rows
              if r.score is not None and (r.penalty or r.late not in ("", "on time"))]
    by_hand: dict[str, int] = {}
    for r in rows:
        by_hand[r.assignment] = by_hand.get(r.assignment, 0) + r.manual
    below += [f"{a}: {n} student(s) with answers to grade by hand (*): formgrader, "
              "`make grade-ui`" for a, n in by_hand.items() if n]
    return "\n".join([text, *below, *stale_lines(stale)])


@dataclass(frozen=True)
class ExerciseStats:
    """How the class did on one graded cell."""

    assignment: str
    notebook: str
    grade_id: str
    max_points: float
    submissions: int
    mean: float
    median: float
    minimum: float
    maximum: float
    full_share: float
    zero_share: float


def _cell_positions(path: Path) -> dict[str, int]:
    """grade_id -> index of the cell in a source notebook (empty if it is not there)."""
    import nbformat

    if not path.is_file():
        return {}
    nb = nbformat.read(str(path), as_version=4)
    return {
        c.metadata["nbgrader"]["grade_id"]: i
        for i, c in enumerate(nb.cells)
        if c.metadata.get("nbgrader", {}).get("grade_id")
    }


def exercise_stats(course: Course, assignments: list[str] | None = None) -> list[ExerciseStats]:
    """Per graded cell statistics over every autograded submission, in notebook order."""
    out = []
    with course.gradebook() as gb:
        for assignment in gradebook_assignments(course, gb, assignments):
            scores: dict[tuple[str, str], list[float]] = {}
            max_points: dict[tuple[str, str], float] = {}
            order: list[tuple[str, str]] = []
            for notebook in sorted(assignment.notebooks, key=lambda n: n.name):
                position = _cell_positions(
                    course.source_dir / assignment.name / f"{notebook.name}.ipynb")
                cells = sorted(notebook.grade_cells,
                               key=lambda c: (position.get(c.name, len(position)), c.name))
                for cell in cells:
                    key = (notebook.name, cell.name)
                    order.append(key)
                    max_points[key] = float(cell.max_score)
                    scores[key] = []
            for submission in gb.assignment_submissions(assignment.name):
                for nb_sub in submission.notebooks:
                    for grade in nb_sub.grades:
                        key = (nb_sub.name, grade.name)
                        if key in scores and grade.score is not None:
                            scores[key].append(float(grade.score))
            for key in order:
                values = scores[key]
                top = max_points[key]
                if values:
                    stats = (
                        statistics.fmean(values),
                        statistics.median(values),
                        min(values),
                        max(values),
                        sum(v >= top for v in values) / len(values),
                        sum(v == 0 for v in values) / len(values),
                    )
                else:
                    stats = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
                out.append(ExerciseStats(assignment.name, key[0], key[1], top, len(values), *stats))
    return out


def write_report(
    course: Course, out_dir: Path | None = None, assignments: list[str] | None = None
) -> tuple[Path, Path, list[ExerciseStats]]:
    """Write grades.csv (:func:`autograder.export.write_csv`) and exercises.csv; return their
    paths and the stats."""
    from .export import grade_rows, write_csv

    stats = exercise_stats(course, assignments)
    out_dir = Path(out_dir or course.reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    grades_csv = write_csv(grade_rows(course, assignments), out_dir / "grades.csv")
    stats_csv = out_dir / "exercises.csv"
    with open(stats_csv, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow([
            "assignment", "notebook", "grade_id", "max_points", "submissions", "mean",
            "median", "min", "max", "full_marks_share", "zero_share",
        ])
        for s in stats:
            writer.writerow([
                s.assignment, s.notebook, s.grade_id, f"{s.max_points:g}", s.submissions,
                f"{s.mean:.4g}", f"{s.median:.4g}", f"{s.minimum:g}", f"{s.maximum:g}",
                f"{s.full_share:.3f}", f"{s.zero_share:.3f}",
            ])
    return grades_csv, stats_csv, stats


def exercise_table(stats: list[ExerciseStats]) -> str:
    """The per-exercise statistics as a plain-text table, one row per graded cell."""
    rows = [[s.assignment, s.grade_id, f"{s.max_points:g}", s.submissions, f"{s.mean:.2f}",
             f"{s.median:g}", f"{s.minimum:g}", f"{s.maximum:g}",
             f"{100 * s.full_share:.0f}%", f"{100 * s.zero_share:.0f}%"]
            for s in stats]
    headers = ["assignment", "exercise", "points", "n", "mean", "median", "min", "max",
               "full", "zero"]
    return format_table(headers, rows)


def write_exercise_table(stats: list[ExerciseStats], out_dir: Path) -> Path:
    """Write :func:`exercise_table` to ``out_dir/exercises.txt``; return the path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / EXERCISE_TABLE_NAME
    path.write_text(exercise_table(stats) + "\n", encoding="utf-8")
    return path


def score_distribution(
    course: Course, assignments: list[str] | None = None, rows: list | None = None
) -> dict[str, tuple[list[float], float]]:
    """assignment -> (final score of each graded submission, sorted; the assignment's maximum).

    The final score is the one ``export`` writes (:func:`autograder.export.grade_rows`: after
    overrides and manual grades, less the late penalty); students not graded are left out.
    ``rows``: those grade rows, when the caller has them."""
    from .export import grade_rows

    with course.gradebook() as gb:
        out = {a.name: ([], float(a.max_score))
               for a in gradebook_assignments(course, gb, assignments)}
    for row in rows if rows is not None else grade_rows(course, assignments):
        if row.assignment in out and row.score is not None:
            out[row.assignment][0].append(row.final)
    return {name: (sorted(scores), top) for name, (scores, top) in out.items()}


def histogram_counts(scores: list[float], top: float):
    """(bin edges, counts) drawn for one assignment.

    One bin per point, centred on whole scores, up to 30 points; above that 20 equal bins
    from 0 to ``top``. Scores outside [0, top] (a late penalty, extra credit) are put in
    the first or last bin, so every submission is counted once.
    """
    import numpy as np

    top = max(float(top), 0.0)
    if top <= 30:
        edges = np.arange(-0.5, np.floor(top) + 1.0, 1.0)
    else:
        edges = np.linspace(0.0, top, 21)
    values = np.clip(np.asarray(scores, dtype=float), edges[0], edges[-1])
    counts, _ = np.histogram(values, bins=edges)
    return edges, counts


def _standing_captions(rows: list) -> dict[str, str]:
    """assignment -> "not graded: 1 failed, 2 missing; 1 flagged" (counts that are not 0;
    flagged students are graded, so they are in the histogram)."""
    from collections import Counter

    from .grading import Standing

    counts = Counter((r.assignment, r.status) for r in rows)
    out = {}
    for assignment in sorted({a for a, _ in counts}):
        missed = [f"{counts[assignment, s]} {s}" for s in (Standing.FAILED, Standing.MISSING)
                  if counts[assignment, s]]
        parts = ["not graded: " + ", ".join(missed)] if missed else []
        if counts[assignment, Standing.FLAGGED]:
            parts.append(f"{counts[assignment, Standing.FLAGGED]} flagged")
        if parts:
            out[assignment] = "; ".join(parts)
    return out


def write_histogram(
    course: Course,
    out_dir: Path | None = None,
    assignments: list[str] | None = None,
    distribution: dict[str, tuple[list[float], float]] | None = None,
) -> Path:
    """Draw the total scores of each assignment (one panel each) into ``histogram.png``.

    Rendered with matplotlib's Agg canvas directly (no pyplot, no display needed).
    ``distribution`` defaults to :func:`score_distribution` of the course, and then each
    panel's title says how many students failed, were missing or were flagged.
    """
    import math

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    captions: dict[str, str] = {}
    if distribution is None:
        from .export import grade_rows

        rows = grade_rows(course, assignments)  # read once, for the scores and the captions
        distribution = score_distribution(course, assignments, rows)
        captions = _standing_captions(rows)
    out_dir = Path(out_dir or course.reports_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names = sorted(distribution)
    ncols = min(3, max(1, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    if not names:
        ax = fig.add_subplot(1, 1, 1)
        ax.text(0.5, 0.5, "no assignments in the gradebook", ha="center", va="center")
        ax.set_axis_off()
    for position, name in enumerate(names, start=1):
        scores, top = distribution[name]
        ax = fig.add_subplot(nrows, ncols, position)
        edges, counts = histogram_counts(scores, top)
        if scores:
            ax.stairs(counts, edges, fill=True, color="#4c72b0", edgecolor="white")
            mean = statistics.fmean(scores)
            ax.axvline(mean, color="#c44e52", linestyle="--", linewidth=1.2,
                       label=f"mean {mean:.1f}")
            ax.legend(loc="best", fontsize="small", frameon=False)
        else:
            ax.text(0.5, 0.5, "no graded submissions", ha="center", va="center",
                    transform=ax.transAxes)
        ax.set_xlim(edges[0], edges[-1])
        caption = f"\n{captions[name]}" if captions.get(name) else ""
        ax.set_title(f"{name} (n={len(scores)}){caption}", fontsize="medium")
        ax.set_xlabel(f"total score (out of {_fmt(top)})")
        ax.set_ylabel("students")
        ax.yaxis.get_major_locator().set_params(integer=True)
    path = out_dir / HISTOGRAM_NAME
    fig.savefig(path, format="png")
    return path
