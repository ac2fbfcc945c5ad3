"""Grades out: `export --format canvas|moodle|csv` and the report's not-graded rows, on a course
graded for real (the tiny fixture assignment): a Canvas student graded with a late penalty, a
student whose notebook cannot be read (failed), one whose answer runs other programs (flagged),
one collected after grading (failed: not graded), and one enrolled who submitted nothing."""

from __future__ import annotations

import csv
import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.collect import LMS_RECORD, LmsRecord
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError
from autograder.export import (
    CANVAS_COLUMNS,
    CSV_COLUMNS,
    MOODLE_COLUMNS,
    GradeRow,
    export,
    grade_rows,
    write_canvas,
    write_csv,
    write_moodle,
)
from autograder.grading import Standing, grade
from autograder.pipeline import prepare_assignments
from autograder.report import _standing_captions, gradebook_table, write_report

pytestmark = pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
CANVAS_ID = "48213"  # a Canvas user id, as collect names the student
CONFIG = GradingConfig(jobs=2, progress=False)


def _read(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def _by(rows: list[list[str]], column: str) -> dict[str, dict[str, str]]:
    header = rows[0]
    return {r[header.index(column)]: dict(zip(header, r)) for r in rows[1:]}


# --- the writers, on rows made by hand ---------------------------------------------------------

ROWS = [
    GradeRow("a1_scalar_graphs", "48213", Standing.GRADED, 17.0, 19.0, penalty=2.0,
             name="lovelaceada", lms="canvas"),
    GradeRow("a1_scalar_graphs", "51877", Standing.FAILED, None, 19.0, name="omarhassan",
             lms="canvas", note="the scan refused it: broken: not a notebook"),
    GradeRow("a1_scalar_graphs", "60002", Standing.MISSING, None, 19.0, note="nothing submitted"),
    GradeRow("a1_scalar_graphs", "51990", Standing.FLAGGED, 3.0, 19.0, name="o'brien"),
    GradeRow("a2_vectorized", "48213", Standing.GRADED, 12.5, 12.5, name="lovelaceada"),
    GradeRow("a2_vectorized", "51877", Standing.GRADED, 20.0, 12.5, penalty=30.0),
]


def test_final_score_is_nbgraders_score_less_penalty_not_below_zero():
    """final: score - penalty, floored at 0; None when not graded."""
    assert [r.final for r in ROWS] == [15.0, None, None, 3.0, 12.5, 0.0]


def test_csv_rows_keep_nbgraders_columns_and_leave_ungraded_scores_empty(tmp_path):
    """csv: nbgrader's columns plus status; failed and missing have empty scores, not 0."""
    rows = _read(write_csv(ROWS, tmp_path / "grades.csv"))
    assert rows[0] == CSV_COLUMNS
    got = [(r[0], r[3], r[7], r[8], r[9], r[10], r[13]) for r in rows[1:]]
    assert got == [
        ("a1_scalar_graphs", "48213", "17", "2", "15", "19", "graded"),
        ("a1_scalar_graphs", "51877", "", "", "", "19", "failed"),
        ("a1_scalar_graphs", "60002", "", "", "", "19", "missing"),
        ("a1_scalar_graphs", "51990", "3", "0", "3", "19", "flagged"),
        ("a2_vectorized", "48213", "12.5", "0", "12.5", "12.5", "graded"),
        ("a2_vectorized", "51877", "20", "30", "0", "12.5", "graded"),
    ]


def test_canvas_file_has_canvas_columns_points_possible_and_empty_cells(tmp_path):
    """canvas: Student, ID, SIS columns, one column per assignment, the Points Possible row."""
    rows = _read(write_canvas(ROWS, tmp_path / "canvas.csv"))
    assert rows[0] == CANVAS_COLUMNS + ["a1_scalar_graphs", "a2_vectorized"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["19", "12.5"]
    assert rows[2:] == [
        ["lovelaceada", "48213", "", "", "", "15", "12.5"],
        ["omarhassan", "51877", "", "", "", "", "0"],
        ["60002", "60002", "", "", "", "", ""],
        ["o'brien", "51990", "", "", "", "3", ""],
    ]


def test_moodle_worksheet_has_one_assignment(tmp_path):
    """moodle: Participant ids, an empty Grade when not graded, the status shown; one
    assignment per worksheet."""
    rows = _read(write_moodle(ROWS[:4], tmp_path / "moodle.csv"))
    assert rows[0] == MOODLE_COLUMNS
    by_id = _by(rows, "Identifier")
    assert list(by_id) == ["Participant 48213", "Participant 51877", "Participant 60002",
                           "Participant 51990"]
    assert [by_id[k]["Grade"] for k in by_id] == ["15", "", "", "3"]
    assert by_id["Participant 51877"]["Status"].startswith("failed: the scan refused it")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC",
                        by_id["Participant 48213"]["Last modified (grade)"])
    with pytest.raises(PipelineError, match=r"one assignment \(got a1_scalar_graphs, "
                                            r"a2_vectorized\)"):
        write_moodle(ROWS, tmp_path / "both.csv")


# --- a course graded for real ------------------------------------------------------------------


def _tamper(notebook: Path) -> None:
    """The cube answer also lists the course folder (os.system: tampering, withheld)."""
    nb = nbformat.read(str(notebook), as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "f1-cube")
    cell.source = 'import os\nos.system("ls ../..")\n\n' + cell.source
    nbformat.write(nb, str(notebook))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """(course, gradebook scores): the fixture assignment released and graded."""
    saved = dict(os.environ)
    os.environ.pop("MINIGRAD_GRADEBOOK_URL", None)
    try:
        root = tmp_path_factory.mktemp("export")
        notebooks = root / "notebooks"
        shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
        course = Course.create(root / "course", notebooks)
        checks = prepare_assignments(course, [ASSIGNMENT], say=lambda _: None,
                                     force_release=True)
        assert not checks[ASSIGNMENT].problems
        submitted = course.submitted_dir
        solution = submitted / "sample-solution"
        for student in (CANVAS_ID, "bob", "eve"):
            shutil.copytree(solution, submitted / student)
        (submitted / CANVAS_ID / ASSIGNMENT / LMS_RECORD).write_text(LmsRecord(
            lms="canvas", student=CANVAS_ID, name="lovelaceada", timestamp="",
            time_from="the zip entry, dated when Canvas built the download",
            files={f"{ASSIGNMENT}.ipynb": f"lovelaceada_late_{CANVAS_ID}_7731_f1_tiny.ipynb"},
            late=True).to_json(), encoding="utf-8")
        (submitted / "bob" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").write_text(
            '{"cells": [', encoding="utf-8")
        _tamper(submitted / "eve" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
        for sample in submitted.glob("sample-*"):
            shutil.rmtree(sample)
        outcomes = grade(course, [ASSIGNMENT], config=CONFIG)
        assert {o.task.student: o.ok for o in outcomes} == {CANVAS_ID: True, "bob": False,
                                                            "eve": True}
        shutil.copytree(submitted / CANVAS_ID, submitted / "dan")  # collected after grading
        (submitted / "dan" / ASSIGNMENT / LMS_RECORD).unlink()
        with course.gradebook() as gb:
            gb.update_or_create_student("cy", first_name="Cyrus", last_name="Young")
            # what nbgrader's LateSubmissionPlugin records for a late notebook
            nb = gb.find_submission_notebook(ASSIGNMENT, ASSIGNMENT, CANVAS_ID)
            nb.late_submission_penalty = 1.0
            gb.db.commit()
            scores = {s: float(gb.find_submission(ASSIGNMENT, s).score) for s in (CANVAS_ID, "eve")}
        yield course, scores
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.grading
def test_grade_rows_say_who_was_graded_failed_flagged_or_missing(graded):
    """Each student's status and score come from the gradebook, the scan and submitted/."""
    course, scores = graded
    rows = {r.student: r for r in grade_rows(course)}
    assert {s: str(r.status) for s, r in rows.items()} == {
        CANVAS_ID: "graded", "bob": "failed", "cy": "missing", "dan": "failed", "eve": "flagged"}
    assert rows[CANVAS_ID].score == scores[CANVAS_ID] == 5.0
    assert rows[CANVAS_ID].final == 4.0 and rows[CANVAS_ID].name == "lovelaceada"
    assert rows["eve"].score == scores["eve"] < 5.0
    assert rows["eve"].note.startswith("tampering:") and "os.system" in rows["eve"].note
    assert rows["bob"].note.startswith("the scan refused it: broken:")
    assert rows["dan"].note == "submitted, not graded: see `grade`'s output"
    assert rows["cy"].name == "Cyrus Young" and rows["cy"].score is None


@pytest.mark.grading
@pytest.mark.parametrize("fmt", ["canvas", "moodle", "csv"])
def test_export_command_writes_each_lms_file(graded, fmt, tmp_path, capsys, restore_environ):
    """export: the LMS's header and ids; the graded student's final score is the gradebook's
    less its penalty; failed and missing students have no score, never 0."""
    course, scores = graded
    out = tmp_path / f"{fmt}.csv"
    assert main(["export", "--format", fmt, "--course-dir", str(course.course_dir),
                 "--notebooks-dir", str(course.notebooks_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert f"{ASSIGNMENT}: bob failed (the scan refused it: broken:" in printed
    assert f"{ASSIGNMENT}: cy missing (nothing submitted)" in printed
    assert f"1 graded, 1 flagged, 2 failed, 1 missing; wrote {out}" in printed
    others = {"canvas": "4 student(s) not collected from Canvas, written with their "
                        "gradebook id: bob, cy, dan, eve",
              "moodle": f"5 student(s) not collected from Moodle, written with their "
                        f"gradebook id: {CANVAS_ID}, bob, cy, dan, eve"}
    assert all((text in printed) == (fmt == lms) for lms, text in others.items())
    rows = _read(out)
    final = scores[CANVAS_ID] - 1.0
    if fmt == "canvas":
        assert rows[0] == CANVAS_COLUMNS + [ASSIGNMENT]
        by_id = _by([rows[0], *rows[2:]], "ID")
        got = {k: v[ASSIGNMENT] for k, v in by_id.items()}
        assert by_id[CANVAS_ID]["Student"] == "lovelaceada"
    elif fmt == "moodle":
        assert rows[0] == MOODLE_COLUMNS
        by_id = _by(rows, "Identifier")
        got = {k.removeprefix("Participant "): v["Grade"] for k, v in by_id.items()}
        assert by_id["Participant eve"]["Status"].startswith("flagged: tampering:")
    else:
        assert rows[0] == CSV_COLUMNS
        by_id = _by(rows, "student_id")
        got = {k: v["score"] for k, v in by_id.items()}
        assert by_id[CANVAS_ID]["late_submission_penalty"] == "1"
        assert {k: v["status"] for k, v in by_id.items()}["dan"] == "failed"
    assert got == {CANVAS_ID: f"{final:g}", "bob": "", "cy": "", "dan": "",
                   "eve": f"{scores['eve']:g}"}


@pytest.mark.grading
def test_report_lists_students_not_graded(graded, tmp_path, restore_environ):
    """report: the table and the histogram caption name failed, missing and flagged students;
    grades.csv leaves their scores empty."""
    course, scores = graded
    table = gradebook_table(course)
    assert re.search(rf"^{CANVAS_ID}\s+4/5 late -1\s+4/5$", table, re.M), table
    assert re.search(r"^bob\s+failed\s+-$", table, re.M), table
    assert re.search(r"^cy\s+missing\s+-$", table, re.M), table
    assert re.search(rf"^eve\s+{scores['eve']:g}/5 flagged\s", table, re.M), table
    assert f"{ASSIGNMENT}: cy missing (nothing submitted)" in table.splitlines()
    assert _standing_captions(grade_rows(course)) == {
        ASSIGNMENT: "not graded: 2 failed, 1 missing; 1 flagged"}
    grades_csv, _, _ = write_report(course, tmp_path)
    by_id = _by(_read(grades_csv), "student_id")
    assert {k: v["score"] for k, v in by_id.items()} == {
        CANVAS_ID: f"{scores[CANVAS_ID] - 1:g}", "bob": "", "cy": "", "dan": "",
        "eve": f"{scores['eve']:g}"}


def test_export_refuses_a_course_with_no_gradebook(tmp_path, restore_environ):
    """export before any release: an error naming the missing gradebook, nothing created."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    with pytest.raises(PipelineError, match="no gradebook at sqlite:///.*: release and grade"):
        export(course, "csv")
    assert not (course.course_dir / "gradebook.db").exists()


def test_export_command_errors(tmp_path, capsys, restore_environ):
    """export: an unknown format is a usage error; no gradebook, or --out for a Moodle
    worksheet of two assignments, is one line saying what must hold."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    with pytest.raises(SystemExit) as info:
        main(["export", "--format", "pdf", *args])
    assert info.value.code == 2 and "invalid choice: 'pdf'" in capsys.readouterr().err
    assert main(["export", "--format", "canvas", *args]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("autograder export: error: no gradebook at")
    with course.gradebook() as gb:
        for name in ("a1_scalar_graphs", "a2_vectorized"):
            gb.update_or_create_assignment(name)
    assert main(["export", "--format", "moodle", "--out", str(tmp_path / "m.csv"), *args]) == 1
    assert capsys.readouterr().err == (
        "autograder export: error: a Moodle grading worksheet holds one assignment, so --out "
        "needs one (got 2: a1_scalar_graphs, a2_vectorized)\n")
    assert main(["export", "--format", "moodle", *args]) == 0
    assert sorted(p.name for p in course.reports_dir.glob("moodle-*.csv")) == [
        "moodle-a1_scalar_graphs.csv", "moodle-a2_vectorized.csv"]


@pytest.mark.parametrize(("value", "text"), [
    (1024268, "1024268"), (1024268.0, "1024268"), (3.2, "3.2"), (0.1 + 0.2, "0.3"),
    (-0.0, "0"), (12.5, "12.5"), (2 / 3, "0.666667"), (None, "")])
def test_numbers_are_written_as_an_lms_reads_them(value, text):
    """No exponent (seconds late run to millions), no float noise, empty for no value."""
    from autograder.export import _num

    assert _num(value) == text
