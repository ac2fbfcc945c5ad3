"""Tests for the course pipeline on the tiny fixture assignment: release, grade, check, collect,
feedback, report and the exit codes of the commands. nbgrader runs for real."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.build import build
from autograder.cli import main
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError, grading_environment, kernel_python
from autograder.feedback import generate_feedback
from autograder.grading import grade
from autograder.pipeline import run_check
from autograder.report import exercise_stats, gradebook_table, write_report
from autograder.samples import check_buggy, expected_cell_scores, load_buggy, solution_source
from autograder.worker import error_summary

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
# text that appears only inside the fixture's hidden tests
HIDDEN_ONLY = ("f_ref", "BEGIN HIDDEN", "student.cube", "numeric = ")



@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """One `check` run on the fixture, its scratch course kept: (exit status, output, Course)."""
    saved = dict(os.environ)
    scratch = tmp_path_factory.mktemp("check")
    lines: list[str] = []
    status = run_check(FIXTURE_NOTEBOOKS, say=lines.append, scratch_dir=scratch,
                       config=GradingConfig(jobs=2, progress=False))
    os.environ.clear()
    os.environ.update(saved)
    return status, "\n".join(lines), Course.at(scratch / "course", FIXTURE_NOTEBOOKS)


def _text_of_html(path: Path) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", path.read_text(encoding="utf-8")))


def test_check_passes_on_fixture(checked):
    """check: source validates, release fails every test, samples score 5 / 0 / 2."""
    status, output, course = checked
    assert status == 0, output
    row = next(line for line in output.splitlines() if line.startswith(ASSIGNMENT))
    assert row.split()[:6] == [ASSIGNMENT, "5", "ok", "ok", "5", "0"]
    assert "2 / 2" in row and row.rstrip().endswith("ok")
    with course.gradebook() as gb:
        scores = {s: gb.find_submission(ASSIGNMENT, s).score
                  for s in ("sample-solution", "sample-blank", "sample-buggy")}
    assert scores == {"sample-solution": 5.0, "sample-blank": 0.0, "sample-buggy": 2.0}


def test_samples_are_built_from_release(checked):
    """The solution sample has no markers and no stubs; the blank one is the release."""
    _, _, course = checked
    solution = (course.submitted_dir / "sample-solution" / ASSIGNMENT / "f1_tiny.ipynb").read_text()
    blank = (course.submitted_dir / "sample-blank" / ASSIGNMENT / "f1_tiny.ipynb").read_text()
    release = (course.release_dir / ASSIGNMENT / "f1_tiny.ipynb").read_text()
    assert "BEGIN SOLUTION" not in solution and "NotImplementedError" not in solution
    assert "return x * x * x" in solution
    assert json.loads(blank) == json.loads(release)
    assert "f_ref" not in release and "NotImplementedError" in release


def test_feedback_never_shows_hidden_tests(checked, capsys, restore_environ):
    """Feedback HTML keeps visible tests and messages but no hidden test source."""
    _, _, course = checked
    assert main(["feedback", "--course-dir", str(course.course_dir)]) == 0
    assert "3 feedback file(s)" in capsys.readouterr().out
    assert generate_feedback(course, ASSIGNMENT, "sample-buggy") == []
    autograded = (course.autograded_dir / "sample-buggy" / ASSIGNMENT / "f1_tiny.ipynb")
    text = autograded.read_text()
    # the judge ran the hidden tests outside the kernel: its verdict is in the notebook,
    # the hidden test code is not
    assert "cube_grad(-2) must be 3 x**2 = 12, got -12.0" in text
    assert not [s for s in HIDDEN_ONLY if s in text]
    for student in ("sample-solution", "sample-blank", "sample-buggy"):
        text = _text_of_html(course.feedback_dir / student / ASSIGNMENT / "f1_tiny.html")
        for secret in HIDDEN_ONLY:
            assert secret not in text, (student, secret)
        assert "cube(2) should be 8" in text
    buggy = _text_of_html(course.feedback_dir / "sample-buggy" / ASSIGNMENT / "f1_tiny.html")
    assert "cube_grad(-2) must be 3 x**2 = 12, got -12.0" in buggy


def test_feedback_page_labels_scores_and_needs_no_network(checked, restore_environ):
    """Each score is labelled with its exercise, the maths is MathML (no MathJax, no CDN, no
    script from the network) and no folder of the grading machine appears."""
    _, _, course = checked
    assert generate_feedback(course, ASSIGNMENT, "sample-buggy") == []
    page = (course.feedback_dir / "sample-buggy" / ASSIGNMENT / "f1_tiny.html").read_text()
    text = _text_of_html(course.feedback_dir / "sample-buggy" / ASSIGNMENT / "f1_tiny.html")
    assert "Exercise 1: the cube (Score: 2.0 / 2.0)" in " ".join(text.split())
    assert "Exercise 2: its derivative (Score: 0.0 / 3.0)" in " ".join(text.split())
    assert "Test cell" not in text and "Grade cell:" not in text
    assert "<math" in page and "$3x^2$" not in text
    assert not re.search(r"<script[^>]+src=", page) and "mathjax" not in page.lower()
    for folder in {str(course.course_dir), str(Path.home()), str(Path(__file__).parent)}:
        assert folder not in page


def test_report_writes_grades_and_exercise_stats(checked, tmp_path, capsys, restore_environ):
    """report: nbgrader's grades.csv plus per-exercise statistics that match the samples."""
    _, _, course = checked
    grades_csv, stats_csv, stats = write_report(course, tmp_path)
    with open(grades_csv) as fh:
        rows = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert {k: float(v["score"]) for k, v in rows.items()} == {
        "sample-solution": 5.0, "sample-blank": 0.0, "sample-buggy": 2.0,
    }
    assert {float(r["max_score"]) for r in rows.values()} == {5.0}
    by_id = {s.grade_id: s for s in stats}
    assert set(by_id) == {"f1-cube-test", "f1-cube-grad-test"}
    cube, grad = by_id["f1-cube-test"], by_id["f1-cube-grad-test"]
    assert (cube.submissions, cube.max_points, cube.mean) == (3, 2.0, pytest.approx(4 / 3))
    assert (grad.max_points, grad.mean, grad.full_share) == (3.0, 1.0, pytest.approx(1 / 3))
    with open(stats_csv) as fh:
        assert [r["grade_id"] for r in csv.DictReader(fh)] == ["f1-cube-test",
                                                               "f1-cube-grad-test"]
    table = gradebook_table(course)
    assert re.search(r"sample-buggy\s+2/5", table)
    with pytest.raises(PipelineError, match="nope"):
        exercise_stats(course, ["nope"])
    out_dir = tmp_path / "cli"
    assert main(["report", ASSIGNMENT, "--course-dir", str(course.course_dir),
                 "--output-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert re.search(r"f1_tiny\s+f1-cube-grad-test\s+3\s+3\s+1\.00", out)
    assert (out_dir / "grades.csv").is_file() and (out_dir / "exercises.csv").is_file()


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_collect_then_grade_a_batch_with_a_broken_notebook(checked, tmp_path, capsys,
                                                            restore_environ):
    """collect places LMS-named files and lists the rest; in the graded batch a broken notebook
    fails alone and a deleted test cell is restored."""
    _, _, course = checked
    solution = (course.submitted_dir / "sample-solution" / ASSIGNMENT / "f1_tiny.ipynb")
    blank = (course.submitted_dir / "sample-blank" / ASSIGNMENT / "f1_tiny.ipynb")
    without_test = nbformat.read(str(solution), 4)
    without_test.cells = [c for c in without_test.cells
                          if c.metadata.get("nbgrader", {}).get("grade_id") != "f1-cube-test"]
    archive = _zip(tmp_path / "download.zip", {
        "eve_1238_567894_f1_tiny.ipynb": nbformat.writes(without_test).encode(),
        "ada_1234_567890_f1_tiny.ipynb": solution.read_bytes(),
        "bob_LATE_1235_567891_f1_tiny.ipynb": blank.read_bytes(),
        "bob_LATE_1235_567899_f1_tiny-1.ipynb": solution.read_bytes(),
        "cy_1236_567892_f1_tiny.ipynb": b"{ this is not json",
        "dee_1237_567893_homework.ipynb": blank.read_bytes(),
        "readme.txt": b"hello",
    })
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    code = main(["collect", ASSIGNMENT, str(archive), *args])
    out = capsys.readouterr()
    assert code == 1  # some files could not be placed
    for student in ("1234", "1235", "1236", "1238"):  # Canvas user ids
        assert (course.submitted_dir / student / ASSIGNMENT / "f1_tiny.ipynb").is_file()
    assert re.search(r"^1235 \(bob\): f1_tiny.ipynb, .* UTC, LATE \(added\)", out.out, re.M)
    assert "not placed: dee_1237_567893_homework.ipynb: names no released notebook" in out.err
    assert "not placed: readme.txt: not a notebook" in out.err
    assert "superseded by the later bob_LATE_1235_567899_f1_tiny-1.ipynb" in out.err
    # the resubmission (-1, the solution) won over the first upload (blank)
    placed = (course.submitted_dir / "1235" / ASSIGNMENT / "f1_tiny.ipynb").read_bytes()
    assert placed == solution.read_bytes()
    # collecting the same download again keeps every collected copy
    assert main(["collect", ASSIGNMENT, str(archive), *args]) == 1
    assert "0 added, 0 replaced, 4 kept, 1 rejected" in capsys.readouterr().out

    code = main(["grade", ASSIGNMENT, "-s", "1234", "-s", "1235", "-s", "1236", "-s", "1238",
                 "--jobs", "2", "--no-progress", *args])
    out = capsys.readouterr()
    assert code == 1
    assert re.search(r"^\s*1234\s+f1_tiny\s+graded\s+5/5", out.out, re.M)
    assert re.search(r"^\s*1235\s+f1_tiny\s+graded\s+5/5", out.out, re.M)
    assert re.search(r"^\s*1236\s+f1_tiny\s+FAILED", out.out, re.M)
    # eve (1238) deleted a test cell: nbgrader puts it back (add_missing_cells) and grades it
    assert re.search(r"^\s*1238\s+f1_tiny\s+graded\s+5/5", out.out, re.M)
    restored = (course.autograded_dir / "1238" / ASSIGNMENT / "f1_tiny.ipynb").read_text()
    assert "restored by the grader" in restored
    assert "grade: 3 graded, 1 failed" in out.out
    assert re.search(r"failed: 1236/f1_tiny: .*(JSON|json|Notebook)", out.err)


def _submit_with_prefix(course: Course, student: str, prefix: str) -> None:
    """Submit the solution with ``prefix`` put before the code of the f1-cube answer cell."""
    nb = nbformat.read(
        str(course.submitted_dir / "sample-solution" / ASSIGNMENT / "f1_tiny.ipynb"), 4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "f1-cube":
            cell.source = prefix + cell.source
    target = course.submitted_dir / student / ASSIGNMENT
    target.mkdir(parents=True)
    nbformat.write(nb, str(target / "f1_tiny.ipynb"))


def test_grade_stops_a_student_over_the_time_limit(checked, restore_environ):
    """A notebook that never finishes is stopped at the time limit and reported as failed."""
    _, _, course = checked
    _submit_with_prefix(course, "sleepy", "import time\ntime.sleep(600)\n")
    [outcome] = grade(course, [ASSIGNMENT], ["sleepy"],
                      config=GradingConfig(jobs=1, timeout=4, progress=False))
    assert not outcome.ok
    assert "time limit of 4 s" in outcome.reason


def test_memory_cap_reaches_the_kernel(checked, restore_environ):
    """Under --memory-mb a 4 GiB allocation fails in the kernel: that exercise scores 0."""
    _, _, course = checked
    _submit_with_prefix(course, "greedy",
                        "import numpy as _np\n_big = _np.empty(2**32, dtype=_np.uint8)\n")
    [capped] = grade(course, [ASSIGNMENT], ["greedy"],
                     config=GradingConfig(jobs=1, memory_mb=2048, progress=False))
    assert capped.ok and capped.score == 3.0  # f1-cube never got defined: 2 points lost
    autograded = (course.autograded_dir / "greedy" / ASSIGNMENT / "f1_tiny.ipynb").read_text()
    assert "MemoryError" in autograded
    [free] = grade(course, [ASSIGNMENT], ["greedy"],
                   config=GradingConfig(jobs=1, memory_mb=0, progress=False))
    assert free.ok and free.score == 5.0  # np.empty does not touch the pages


def test_release_keeps_an_edited_release(checked, capsys, restore_environ):
    """release keeps an assignment whose release was edited (with a warning) unless --force."""
    _, _, course = checked
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["release", *args]) == 0
    released = course.release_dir / ASSIGNMENT / "f1_tiny.ipynb"
    released.write_text(released.read_text().replace("# YOUR CODE HERE", "x = 1  # mine"))
    assert main(["release", *args]) == 0
    out = capsys.readouterr()
    assert "kept: f1_tiny.ipynb edited since the last release" in out.out
    assert "warning: f1_tiny was not released again" in out.err
    assert "x = 1  # mine" in released.read_text()
    assert main(["release", "--force", *args]) == 0
    assert "x = 1  # mine" not in released.read_text()


def test_a_bug_that_loses_points_outside_its_exercise_is_refused(tmp_path):
    """One mistake costs points once: a bug in exercise 2 may not lose points in exercise 1."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    build(course.notebooks_dir, course.source_dir, [ASSIGNMENT])
    path = tmp_path / "buggy.py"
    path.write_text("BUGS = [{'mistake': 'wrong sign', 'cells': {'f1-cube-grad': 'x'}, "
                    "'loses': {'f1-cube-grad-test': 3, 'f1-cube-test': 1}}]\n")
    with pytest.raises(ValueError, match=r"loses points in f1-cube-test, outside its own "
                                         r"exercise \(Exercise 2: its derivative\)"):
        check_buggy(course.source_dir / ASSIGNMENT, load_buggy(path))
    path.write_text("BUGS = [{'mistake': 'wrong sign', 'cells': {'f1-cube-grad': 'x'}, "
                    "'loses': {'f1-cube-grad-test': 4}}]\n")
    with pytest.raises(ValueError, match="worth 3 points, it cannot lose 4"):
        check_buggy(course.source_dir / ASSIGNMENT, load_buggy(path))
    spec = load_buggy(FIXTURE_NOTEBOOKS / ASSIGNMENT / "buggy.py")
    check_buggy(course.source_dir / ASSIGNMENT, spec)
    assert expected_cell_scores(course.source_dir / ASSIGNMENT, spec) == {
        "f1-cube-test": 2.0, "f1-cube-grad-test": 0.0}


def test_check_fails_with_a_message_naming_the_problem(tmp_path, restore_environ):
    """check exits 1 and names the assignment when buggy.py names a cell that does not exist."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS, notebooks)
    buggy = notebooks / ASSIGNMENT / "buggy.py"
    buggy.write_text(buggy.read_text().replace("'f1-cube-grad':", "'f1-no-such-cell':"))
    lines: list[str] = []
    status = run_check(notebooks, say=lines.append,
                       config=GradingConfig(jobs=1, progress=False))
    output = "\n".join(lines)
    assert status == 1
    assert "f1_tiny: check failed" in output
    assert "'f1-no-such-cell', not an answer cell of f1_tiny" in output


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["grade"], 1, "no submissions to grade"),
        (["validate", "--invert"], 1, "run `python -m autograder release` first"),
        (["lab", "--dry-run"], 1, "nothing released"),
        (["feedback"], 1, "no autograded submissions"),
        (["check", "nope"], 1, "no notebook sources for nope"),
        (["collect", ASSIGNMENT, "missing.zip"], 1, "expected a .zip file"),
    ],
)
def test_commands_fail_with_a_message(tmp_path, capsys, restore_environ, argv, status, message):
    """Commands on an empty course exit 1 and say what to run first."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main([*argv, *args]) == status
    err = capsys.readouterr().err
    assert f"autograder {argv[0]}: error:" in err and message in err


@pytest.mark.parametrize("command", ["scan", "grade", "report", "feedback", "release"])
def test_a_mistyped_course_dir_is_refused_and_left_alone(tmp_path, capsys, restore_environ,
                                                         command):
    """A command that reads a course fails on a folder without nbgrader_config.py, names the
    folder and says what to do, and creates nothing."""
    typo = tmp_path / "typo"
    assert main([command, "--course-dir", str(typo)]) == 1
    err = capsys.readouterr().err
    assert f"{typo} is not a course folder: it has no nbgrader_config.py" in err
    assert "run `python -m autograder build`" in err and "fix --course-dir" in err
    assert list(tmp_path.iterdir()) == []


def test_scan_on_a_mistyped_course_dir_creates_nothing(tmp_path):
    """`python -m autograder scan --course-dir <typo>` in a process of its own: exit 1, nothing
    written."""
    import subprocess
    import sys

    typo = tmp_path / "typo"
    done = subprocess.run([sys.executable, "-m", "autograder", "scan", "--course-dir", str(typo)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "is not a course folder" in done.stderr
    assert not typo.exists() and list(tmp_path.iterdir()) == []


def test_every_command_has_help(capsys):
    """Each subcommand answers --help (argparse exits 0)."""
    for command in ("build", "release", "validate", "collect", "grade", "feedback", "report",
                    "check", "demo", "lab"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert "--course-dir" in capsys.readouterr().out


def test_lab_dry_run_serves_release_with_validate(checked, capsys, restore_environ):
    """lab --dry-run prints a jupyter lab command on the release with Validate enabled."""
    _, _, course = checked
    assert main(["lab", "--dry-run", "--course-dir", str(course.course_dir)]) == 0
    out = capsys.readouterr().out
    assert "-m jupyter lab" in out
    assert f"--ServerApp.root_dir={course.release_dir}" in out
    assert "nbgrader.server_extensions.validate_assignment=True" in out
    assert "nbgrader.server_extensions.formgrader=False" in out


def test_kernel_resolves_to_this_interpreter():
    """In the grading environment the python3 kernel runs the grader's own interpreter."""
    import sys

    saved = dict(os.environ)
    try:
        os.environ.update(grading_environment())
        assert Path(kernel_python()).resolve() == Path(sys.executable).resolve()
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"log": "[ERROR] There was an error processing assignment: x\n"
                 "[ERROR] Traceback (most recent call last):\n  File \"a.py\"\n"
                 "nbformat.reader.NotJSONError: Notebook does not appear to be JSON\n"
                 "[ERROR] Please see the error log"},
         "nbformat.reader.NotJSONError: Notebook does not appear to be JSON"),
        ({"log": "[ERROR] No assignment with ID 'a9' exists in the database"},
         "No assignment with ID 'a9' exists in the database"),
        ({"error": "Traceback\nnbgrader.converters.base.NbGraderException: Please see"},
         "nbgrader reported a failure without a message"),
    ],
)
def test_error_summary(result, expected):
    """The reason shown for a failed student is nbgrader's most specific error line."""
    assert error_summary(result) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
         "def f():\n    return 1"),
        ("### BEGIN SOLUTION\nx = 2\n### END SOLUTION\ny = x", "x = 2\ny = x"),
    ],
)
def test_solution_source(source, expected):
    """Solution markers are removed and the code between them is kept as is."""
    assert solution_source(source) == expected


_BUG = "{'mistake': 'm', 'cells': {'a': 'x'}, 'loses': {'a-test': 1}}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("BUGS = []\n", "non-empty list"),
        ("CELLS = {'a': 'x'}\n", "no top-level assignment to BUGS"),
        ("BUGS = [{'cells': {'a': 'x'}}]\n", "must be a dict with 'mistake', 'cells'"),
        ("BUGS = [{'mistake': 'm', 'cells': {}, 'loses': {'t': 1}}]\n", "non-empty dict"),
        ("BUGS = [{'mistake': 'm', 'cells': {'a': 'x'}, 'loses': {'t': 0}}]\n",
         "points lost (> 0)"),
        ("BUGS = [{'mistake': 'm', 'cells': {'a': 'x'}, 'loses': {'t': 1}, 'why': ''}]\n",
         "unknown keys ['why']"),
        (f"BUGS = [{_BUG}, {_BUG}]\n", "both name a"),
        ("BUGS = list()\n", "BUGS must be a literal"),
        ("BUGS = [\n", "not valid Python"),
    ],
)
def test_load_buggy_rejects(tmp_path, text, message):
    """buggy.py is read without running it; a bad one is named with the reason."""
    path = tmp_path / "buggy.py"
    path.write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        load_buggy(path)
