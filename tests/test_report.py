"""Tests for `report`: score distributions, the per-exercise table and the histogram PNG,
on a gradebook filled through nbgrader's API (no notebook is run)."""

from __future__ import annotations

import csv
import os
import re
import zlib
from pathlib import Path

import numpy as np
import pytest

from autograder.cli import main
from autograder.config import GRADEBOOK_ENV
from autograder.course import Course
from autograder.report import (
    EXERCISE_TABLE_NAME,
    HISTOGRAM_NAME,
    exercise_stats,
    histogram_counts,
    score_distribution,
    write_exercise_table,
    write_histogram,
)

# nbgrader's add_submission trips SQLAlchemy's autoflush warning; it is nbgrader's own
pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
# assignment -> grade cell -> points; r2 has more than 30 points, so it is binned
CELLS = {
    "r1_small": {"r1-a": 2.0, "r1-b": 3.0},
    "r2_large": {"r2-a": 10.0, "r2-b": 15.0, "r2-c": 20.0},
}
STUDENTS = [f"st{k:02d}" for k in range(17)]


def _class_scores(seed: int = 7) -> dict[str, dict[str, dict[str, float]]]:
    """assignment -> student -> cell -> points: whole points, seeded, zeros and full marks."""
    rng = np.random.default_rng(seed)
    out = {}
    for assignment, cells in CELLS.items():
        per_student = {}
        for k, student in enumerate(STUDENTS):
            if assignment == "r2_large" and k % 5 == 4:
                continue  # some students did not submit r2
            per_student[student] = {
                cell: float(rng.integers(0, int(top) + 1)) for cell, top in cells.items()
            }
        per_student[STUDENTS[0]] = {cell: top for cell, top in cells.items()}
        per_student[STUDENTS[1]] = {cell: 0.0 for cell in cells}
        out[assignment] = per_student
    return out


SCORES = _class_scores()


def _fill_gradebook(course: Course) -> None:
    with course.gradebook() as gb:
        for assignment, cells in CELLS.items():
            gb.update_or_create_assignment(assignment)
            gb.update_or_create_notebook(assignment, assignment)
            for cell, top in cells.items():
                gb.update_or_create_grade_cell(cell, assignment, assignment, max_score=top,
                                               cell_type="code")
        for student in STUDENTS:
            gb.update_or_create_student(student)
        for assignment, per_student in SCORES.items():
            for student, points in per_student.items():
                gb.add_submission(assignment, student)
                for cell, value in points.items():
                    gb.find_grade(cell, assignment, assignment, student).auto_score = value
                gb.db.commit()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course whose sqlite gradebook holds the seeded class above."""
    saved = dict(os.environ)
    os.environ.pop(GRADEBOOK_ENV, None)
    try:
        course = Course.create(tmp_path_factory.mktemp("report") / "course", FIXTURE_NOTEBOOKS)
        _fill_gradebook(course)
        yield course
    finally:
        os.environ.clear()
        os.environ.update(saved)



def _png_image(path: Path) -> tuple[int, int, np.ndarray]:
    """Check the PNG file structure by hand and decode it: (width, height, pixels)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    chunks = []
    pos = 8
    while pos < len(data):
        length = int.from_bytes(data[pos:pos + 4], "big")
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        crc = int.from_bytes(data[pos + 8 + length:pos + 12 + length], "big")
        assert zlib.crc32(kind + body) == crc, f"bad CRC in a {kind!r} chunk"
        chunks.append((kind, body))
        pos += 12 + length
    assert pos == len(data)
    assert chunks[0][0] == b"IHDR" and chunks[-1][0] == b"IEND"
    header = chunks[0][1]
    width, height = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
    bit_depth, color_type = header[8], header[9]
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    assert len(raw) == height * (1 + width * channels * bit_depth // 8)
    import matplotlib.image

    pixels = matplotlib.image.imread(str(path))
    assert pixels.shape[:2] == (height, width)
    return width, height, pixels


def test_score_distribution_matches_the_gradebook(course):
    """Each assignment's distribution is its submissions' total scores and its maximum."""
    got = score_distribution(course)
    for assignment, per_student in SCORES.items():
        totals = sorted(sum(points.values()) for points in per_student.values())
        assert got[assignment] == (totals, sum(CELLS[assignment].values()))
    assert set(got) == set(SCORES)
    assert set(score_distribution(course, ["r1_small"])) == {"r1_small"}


@pytest.mark.parametrize(
    ("scores", "top", "edges", "counts"),
    [
        ([0, 0, 1, 2, 5], 5, [-0.5, 0.5, 1.5, 2.5, 3.5, 4.5, 5.5], [2, 1, 1, 0, 0, 1]),
        ([], 2, [-0.5, 0.5, 1.5, 2.5], [0, 0, 0]),
        ([-1, 3], 2, [-0.5, 0.5, 1.5, 2.5], [1, 0, 1]),  # outside [0, top]: end bins
        ([0, 1.5, 40, 40], 40, list(np.linspace(0, 40, 21)), [2] + [0] * 18 + [2]),
        ([0], 0, [-0.5, 0.5], [1]),
    ],
)
def test_histogram_counts(scores, top, edges, counts):
    """Bins are whole points up to 30 points, else 20 equal bins; every score counts once."""
    got_edges, got_counts = histogram_counts(scores, top)
    assert np.allclose(got_edges, edges)
    assert got_counts.tolist() == counts
    assert int(got_counts.sum()) == len(scores)


@pytest.mark.parametrize(
    ("distribution", "size"),
    [
        (None, (840, 320)),  # the course's two assignments side by side
        ({}, (420, 320)),
        ({"a": ([], 5.0)}, (420, 320)),
        ({f"a{k}": ([float(k)], 10.0) for k in range(5)}, (1260, 640)),
    ],
)
def test_histogram_is_a_valid_png(course, tmp_path, restore_environ, distribution, size):
    """histogram.png is a well-formed PNG, one panel per assignment (three to a row)."""
    path = write_histogram(course, tmp_path, distribution=distribution)
    assert path == tmp_path / HISTOGRAM_NAME
    width, height, pixels = _png_image(path)
    assert (width, height) == size
    colours = np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)
    assert len(colours) > 10  # something was drawn: not a blank canvas


def test_exercise_stats_and_table(course, tmp_path, restore_environ):
    """Per-exercise mean, min, max, full and zero shares match the class; so does the table."""
    stats = {s.grade_id: s for s in exercise_stats(course)}
    assert list(stats) == [cell for cells in CELLS.values() for cell in cells]
    for assignment, per_student in SCORES.items():
        for cell, top in CELLS[assignment].items():
            values = [points[cell] for points in per_student.values()]
            s = stats[cell]
            assert (s.submissions, s.max_points) == (len(values), top)
            assert s.mean == pytest.approx(np.mean(values))
            assert (s.minimum, s.maximum) == (min(values), max(values))
            assert s.full_share == pytest.approx(np.mean([v == top for v in values]))
            assert s.zero_share == pytest.approx(np.mean([v == 0 for v in values]))
    path = write_exercise_table(list(stats.values()), tmp_path)
    assert path == tmp_path / EXERCISE_TABLE_NAME
    lines = path.read_text().splitlines()
    assert lines[0].split() == ["assignment", "exercise", "points", "n", "mean", "median",
                                "min", "max", "full", "zero"]
    r2c = stats["r2-c"]
    row = rf"^r2_large\s+r2-c\s+20\s+{r2c.submissions}\s+{r2c.mean:.2f}\s"
    assert re.search(row, "\n".join(lines), re.M)


def test_report_command_writes_every_file(course, tmp_path, capsys, restore_environ):
    """report writes grades.csv, exercises.csv, exercises.txt and histogram.png and names them."""
    out_dir = tmp_path / "out"
    assert main(["report", "--course-dir", str(course.course_dir), "--output-dir",
                 str(out_dir)]) == 0
    out = capsys.readouterr().out
    for name in ("grades.csv", "exercises.csv", EXERCISE_TABLE_NAME, HISTOGRAM_NAME):
        assert (out_dir / name).is_file(), name
        assert str(out_dir / name) in out
    _png_image(out_dir / HISTOGRAM_NAME)
    with open(out_dir / "grades.csv") as fh:
        rows = list(csv.DictReader(fh))
    graded = {(r["assignment"], r["student_id"]): r["score"] for r in rows}
    for assignment, per_student in SCORES.items():
        for student, points in per_student.items():
            assert float(graded.pop((assignment, student))) == sum(points.values())
    # the students who did not submit r2 are missing there, with no score (never 0)
    assert graded == {("r2_large", s): "" for k, s in enumerate(STUDENTS) if k % 5 == 4}
    assert {r["status"] for r in rows if r["score"] == ""} == {"missing"}
    assert (out_dir / EXERCISE_TABLE_NAME).read_text().strip() in out
