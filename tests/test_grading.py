"""Tests for the parts of grading that decide and summarise, fast: shards, the outcome and
check tables, grade's error paths and its scan step, check and demo judging outcomes (their
tasks answered by a stand-in for the parallel runner, so no notebook is executed), and the
feedback page's offline maths."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest

from autograder import grading, pipeline
from autograder.config import GradingConfig
from autograder.course import Course, PipelineError
from autograder.feedback import OfflineMath, feedback_config, generate_feedback, math_to_mathml
from autograder.parallel import Outcome
from autograder.records import Task, TaskKind

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
CONFIG = GradingConfig(jobs=1, progress=False)
BUGGY_SAYS = "cube_grad(-2) must be 3 x**2 = 12, got -12.0"


@pytest.fixture(autouse=True)
def restore_environ():
    """nbgrader's API edits os.environ (PATH, JUPYTER_PATH); each test gets it back as it was."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _grade(student: str, ok=True, score=None, max_score=None, seconds=0.0, **more) -> Outcome:
    return Outcome(Task(TaskKind.GRADE, ASSIGNMENT, student), ok, score=score,
                   max_score=max_score, seconds=seconds, **more)


def _validate(ok: bool, invert: bool, reason: str = "") -> Outcome:
    task = Task(TaskKind.VALIDATE, ASSIGNMENT, path=f"/x/{ASSIGNMENT}.ipynb", invert=invert)
    return Outcome(task, ok, reason)


def _autograded_buggy(course: Course) -> None:
    """The buggy sample's autograded notebook, its last test cell saying something else."""
    nb = nbformat.read(str(course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"), as_version=4)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "f1-cube-grad-test":
            cell.outputs = [
                nbformat.v4.new_output("stream", name="stdout", text="checking"),
                nbformat.v4.new_output("error", ename="AssertionError",
                                       evalue="cube_grad(1) must be 3, got 4.0", traceback=[]),
            ]
    folder = course.autograded_dir / "sample-buggy" / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(folder / f"{ASSIGNMENT}.ipynb"))


def fake_run_tasks(course, tasks, config=None, desc=""):
    """Answers every task of check/demo without running it: the source validates, a test
    passes on the release (it must not), the solution's kernel dies, the blank scores 1 of 4,
    the buggy sample 2 with one cell wrong, one missing and a verdict buggy.py does not quote."""
    fake_run_tasks.calls.append((desc, [t.label for t in tasks]))
    out = []
    for t in tasks:
        if t.kind is TaskKind.VALIDATE:
            out.append(Outcome(t, not t.invert, "a test passed" if t.invert else ""))
        elif t.student == "sample-solution":
            out.append(Outcome(t, False, "kernel died"))
        elif t.student == "sample-blank":
            out.append(Outcome(t, True, score=1.0, max_score=4.0, seconds=1.5))
        else:
            _autograded_buggy(course)
            out.append(Outcome(t, True, score=2.0, max_score=5.0, seconds=2.5,
                               cells={"f1-cube-test": 1.0}))
    return out


fake_run_tasks.calls = []


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """`check` on the fixture with the stand-in runner, scratch course kept:
    (exit status, output, Course)."""
    saved = dict(os.environ)
    scratch = tmp_path_factory.mktemp("check")
    lines: list[str] = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "run_tasks", fake_run_tasks)
        status = pipeline.run_check(FIXTURE_NOTEBOOKS, say=lines.append, scratch_dir=scratch,
                                    config=CONFIG)
    os.environ.clear()
    os.environ.update(saved)
    return status, "\n".join(lines), Course.at(scratch / "course", FIXTURE_NOTEBOOKS)


# --- shards -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "want"), [("1/3", (1, 3)), (" 2 / 2 ", (2, 2)), ("1/1", (1, 1))])
def test_parse_shard(text, want):
    """i/n with 1 <= i <= n, spaces allowed."""
    assert grading.parse_shard(text) == want


@pytest.mark.parametrize("text", ["0/3", "4/3", "a/b", "3", "1/0", "-1/2"])
def test_parse_shard_refuses(text):
    """Anything else: ValueError saying the form and what was got."""
    with pytest.raises(ValueError, match=rf"--shard must look like i/n with 1 <= i <= n "
                                         rf"\(got '{text}'\)"):
        grading.parse_shard(text)


def test_shards_split_a_class_exactly_once():
    """Every student is in exactly one shard, the same one every time; the lists are sorted."""
    students = [f"s{i:03d}" for i in range(60)] + ["s001"]
    parts = [grading.shard_students(students, i, 4) for i in range(1, 5)]
    assert sorted(s for part in parts for s in part) == sorted(set(students))
    assert all(part == sorted(part) and part for part in parts)
    assert all(grading.shard_of(s, 4) == i for i, part in enumerate(parts, 1) for s in part)
    assert grading.shard_of("anyone", 1) == 1
    with pytest.raises(ValueError, match=r"shard count must be at least 1 \(got 0\)"):
        grading.shard_of("anyone", 0)


# --- the outcome table ------------------------------------------------------------------------


def test_outcome_table_rows_and_statuses():
    """graded, FLAGGED (first flag and how many more), FAILED with its reason, repairs of a
    graded notebook, and a long reason cut to 160 characters."""
    outcomes = [
        _grade("ann", score=5.0, max_score=5.0, seconds=1.25),
        _grade("bob", score=2.0, max_score=5.0, flags=["hidden cell edited", "x", "y"]),
        _grade("cat", ok=False, reason="not graded: broken notebook"),
        _grade("dan", score=4.0, max_score=5.0, repairs=["cell ids renumbered"]),
        _grade("eve", ok=False, reason="r" * 300, repairs=["never shown"]),
    ]
    assert [grading.status_of(o) for o in outcomes] == [
        "graded", "flagged", "failed", "graded", "failed"]
    lines = grading.outcome_table(outcomes).splitlines()
    assert lines[0].split() == ["student", "assignment", "status", "score", "seconds", "reason"]
    rows = {line.split()[0]: line for line in lines[2:]}
    assert rows["ann"].split() == ["ann", ASSIGNMENT, "graded", "5/5", "1.2"]
    assert "FLAGGED" in rows["bob"] and rows["bob"].endswith("hidden cell edited (+2 more)")
    assert "FAILED" in rows["cat"] and " - " in rows["cat"]
    assert rows["cat"].endswith("not graded: broken notebook")
    assert rows["dan"].endswith("repaired (1): cell ids renumbered")
    assert rows["eve"].endswith("r" * 157 + "...") and "never shown" not in rows["eve"]
    assert grading.summary_line(outcomes) == "2 graded, 2 failed, 1 flagged"


def test_outcome_table_of_validations():
    """Validation rows say ok or FAILED, and the reason or the notebook."""
    outcomes = [_validate(True, False), _validate(False, True, "a test passed")]
    lines = grading.outcome_table(outcomes).splitlines()[2:]
    assert lines[0].split()[:3] == ["(validate)", ASSIGNMENT, "ok"]
    assert lines[0].endswith(f"validate source {ASSIGNMENT}.ipynb")
    assert "FAILED" in lines[1] and lines[1].endswith("a test passed")
    assert grading.summary_line(outcomes) == "1 passed, 1 failed"
    assert grading.summary_line([]) == "0 passed, 0 failed"


# --- check and demo judging outcomes --------------------------------------------------------------


def test_check_reports_every_way_an_assignment_can_fail(checked):
    """Each wrong outcome is a problem that names the student or notebook, what was expected
    and what was got; the table shows them and the exit status is 1."""
    status, output, course = checked
    assert status == 1
    row = next(line for line in output.splitlines() if line.startswith(ASSIGNMENT))
    assert row.split()[:5] == [ASSIGNMENT, "5", "ok", "FAILED", "FAILED"]
    assert "1 (want 0)" in row and "2 / 2" in row and row.split()[-2:] == ["2.5", "FAILED"]
    problems = [line.strip()[2:] for line in output.splitlines() if line.startswith("  - ")]
    assert problems == [
        "sample-solution: not graded: kernel died",
        "sample-buggy: no grade for test cell f1-cube-grad-test",
        "sample-buggy: f1-cube-test scored 1, expected 2",
        f"sample-buggy: the verdict of f1-cube-grad-test does not say {BUGGY_SAYS!r}; it says: "
        "checking AssertionError: cube_grad(1) must be 3, got 4.0",
        "sample-blank: scored 1, expected 0",
        "sample-blank: gradebook max score 4 differs from the source notebooks' 5",
        f"validate --invert (release) {ASSIGNMENT}.ipynb: a test passed",
    ]
    assert "grade: 2.0 s per notebook on average (slowest 2.5 s)" in output
    assert "check: 0 of 1 assignment(s) ok" in output
    assert f"scratch course kept in {course.course_dir}" in output


def test_check_runs_validation_and_grading_in_one_batch(checked):
    """One batch: the graded samples first (the blank last of them), then both validations."""
    desc, labels = fake_run_tasks.calls[0]
    assert desc == "check"
    assert labels == [f"sample-solution/{ASSIGNMENT}", f"sample-buggy/{ASSIGNMENT}",
                      f"sample-blank/{ASSIGNMENT}", f"validate source {ASSIGNMENT}.ipynb",
                      f"validate release (--invert) {ASSIGNMENT}.ipynb"]


def test_check_table_marks_failed_validation_and_missing_work():
    """A failed validation is FAILED; an assignment that never ran shows dashes."""
    ran = pipeline.AssignmentCheck(ASSIGNMENT, total=5.0, expected={"sample-solution": 5.0})
    ran.outcomes = [_validate(True, False), _validate(False, True, "a test passed"),
                    _grade("sample-solution", score=5.0, max_score=5.0, seconds=3.0)]
    never = pipeline.AssignmentCheck("f2_never", problems=["build: bad cell"])
    lines = pipeline.check_table({ASSIGNMENT: ran, "f2_never": never}).splitlines()
    assert lines[2].split() == [ASSIGNMENT, "5", "ok", "FAILED", "5", "-", "-", "3.0", "ok"]
    assert lines[3].split() == ["f2_never"] + ["-"] * 7 + ["FAILED"]


def test_check_names_assignments_that_do_not_build_or_lack_samples(tmp_path):
    """A notebook that does not build and an assignment with no buggy.py are problems found
    before anything runs; the scratch folder is removed."""
    notebooks = tmp_path / "notebooks"
    shutil.copytree(FIXTURE_NOTEBOOKS / ASSIGNMENT, notebooks / "f2_nobuggy")
    (notebooks / "f2_nobuggy" / f"{ASSIGNMENT}.py").rename(notebooks / "f2_nobuggy" / "f2.py")
    (notebooks / "f2_nobuggy" / "buggy.py").unlink()
    broken = notebooks / "f3_broken"
    broken.mkdir()
    text = (FIXTURE_NOTEBOOKS / ASSIGNMENT / f"{ASSIGNMENT}.py").read_text()
    (broken / "f3.py").write_text(text.replace("### BEGIN HIDDEN TESTS", "").replace(
        "### END HIDDEN TESTS", ""))
    lines: list[str] = []
    before = set(Path(os.environ.get("TMPDIR", "/tmp")).glob("autograder-check-*"))
    status = pipeline.run_check(notebooks, say=lines.append)
    output = "\n".join(lines)
    assert status == 1
    assert "check: 0 of 2 assignment(s) ok" in output
    assert "f2_nobuggy: check failed\n  - samples: " in output and "buggy.py is missing" in output
    assert "f3_broken: check failed\n  - build: " in output
    assert "scratch course kept" not in output
    assert set(Path(os.environ.get("TMPDIR", "/tmp")).glob("autograder-check-*")) == before


def test_check_refuses_an_unknown_assignment(tmp_path):
    """An assignment with no notebook source: PipelineError naming it and what was found."""
    with pytest.raises(PipelineError, match=rf"no notebook sources for nope in .* "
                                            rf"\(found: {ASSIGNMENT}\)"):
        pipeline.run_check(FIXTURE_NOTEBOOKS, ["nope"], scratch_dir=tmp_path, config=CONFIG)


def test_demo_prints_the_gradebook_feedback_and_problems(checked, monkeypatch):
    """demo on a course: grades the samples (stand-in), tries feedback, lists the feedback
    pages found, prints the gradebook and the problems, and exits 1 when there are any."""
    _, _, course = checked
    page = course.feedback_dir / "sample-blank" / ASSIGNMENT / f"{ASSIGNMENT}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text("<html></html>")
    monkeypatch.setattr(pipeline, "run_tasks", fake_run_tasks)
    lines: list[str] = []
    assert pipeline.run_demo(course, say=lines.append, config=CONFIG) == 1
    output = "\n".join(lines)
    assert fake_run_tasks.calls[-1][0] == "grading samples"
    assert not any("validate" in label for label in fake_run_tasks.calls[-1][1])
    assert f"demo course: {course.course_dir}" in output
    assert re.search(rf"^student\s+{ASSIGNMENT}\s+total$", output, re.M)
    # the stand-in graded nobody: each sample is listed as submitted, not graded
    assert re.search(r"^sample-solution\s+failed\s+-$", output, re.M)
    assert f"feedback (1 files) in {course.feedback_dir}, e.g.\n  {page}" in output
    assert "grade: 2.0 s per notebook on average" in output
    assert f"{ASSIGNMENT}: problems\n  - sample-solution: not graded: kernel died" in output
    assert "  - feedback: " in output


# --- grade: what is graded, and what is not --------------------------------------------------


def test_grade_with_nothing_to_grade_says_where_it_looked(checked):
    """No submission from the students asked for: PipelineError naming the folder and filter."""
    _, _, course = checked
    with pytest.raises(PipelineError) as info:
        grading.grade(course, [ASSIGNMENT], ["zed"], config=CONFIG)
    assert str(info.value) == (
        f"no submissions to grade under {course.submitted_dir} for {ASSIGNMENT} from zed "
        "(expected submitted/<student>/<assignment>/<notebook>.ipynb; see `collect`)")


def test_grade_of_an_empty_shard_is_nothing(checked):
    """A shard that holds none of the selected students grades nothing, without an error."""
    _, _, course = checked
    other = 3 - grading.shard_of("sample-blank", 2)
    assert grading.grade(course, students=["sample-blank"], shard=(other, 2)) == []


def test_grade_refuses_an_assignment_not_in_the_gradebook(checked):
    """A submission for an assignment never released: PipelineError naming the gradebook in
    force (here given by the configuration) and saying to release it."""
    _, _, course = checked
    folder = course.submitted_dir / "zoe" / "f9_unreleased"
    folder.mkdir(parents=True)
    (folder / "f9.ipynb").write_text("{}")
    url = f"sqlite:///{course.course_dir / 'gradebook.db'}"
    with pytest.raises(PipelineError) as info:
        grading.grade(course, ["f9_unreleased"], config=CONFIG.replace(db_url=url))
    assert str(info.value) == (f"f9_unreleased not in the gradebook {url}: release it first "
                               "(`python -m autograder release`)")


def test_validate_runs_the_source_or_the_release(checked, monkeypatch):
    """validate makes one task per source notebook; --invert one per released notebook."""
    _, _, course = checked
    seen = []
    monkeypatch.setattr(grading, "run_tasks",
                        lambda course, tasks, config=None, desc="": seen.append(tasks) or [])
    grading.validate(course, config=CONFIG)
    grading.validate(course, [ASSIGNMENT], invert=True, config=CONFIG)
    assert [[(t.kind, Path(t.path), t.invert) for t in tasks] for tasks in seen] == [
        [(TaskKind.VALIDATE, course.source_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", False)],
        [(TaskKind.VALIDATE, course.release_dir / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", True)]]
    with pytest.raises(PipelineError, match="run `python -m autograder release` first"):
        grading.validate(course, ["nope"], invert=True, config=CONFIG)


def test_grade_fails_broken_submissions_without_running_them(checked, monkeypatch):
    """A notebook that is not JSON and one the scan cannot read are failed outcomes with the
    reason, quarantined, in submission order; only the readable one goes to the runner,
    as a staged copy."""
    from autograder import scan

    _, _, course = checked
    for student, text in (("amy", "not json"), ("ben", "{}")):
        folder = course.submitted_dir / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / f"{ASSIGNMENT}.ipynb").write_text(text)
    shutil.copytree(course.release_dir / ASSIGNMENT, course.submitted_dir / "cid" / ASSIGNMENT)
    real_scan = scan.scan_submission

    def scan_submission(course, assignment, student):
        if student == "ben":
            raise OSError("disk gone")
        return real_scan(course, assignment, student)

    staged = []

    def run_tasks(course, tasks, config=None, desc=""):
        for t in tasks:
            folder = Path(t.staged.submitted_dir) / t.student / t.assignment
            staged.append((t.student, sorted(p.name for p in folder.iterdir())))
        return [Outcome(t, True, score=0.0, max_score=5.0) for t in tasks]

    monkeypatch.setattr(scan, "scan_submission", scan_submission)
    monkeypatch.setattr(grading, "run_tasks", run_tasks)
    scans = []
    outcomes = grading.grade(course, [ASSIGNMENT], ["amy", "ben", "cid"], on_scan=scans.extend,
                             config=CONFIG)
    assert [o.task.student for o in outcomes] == ["amy", "ben", "cid"]
    amy, ben, cid = outcomes
    assert not amy.ok and amy.reason.startswith(f"not graded: {ASSIGNMENT}.ipynb: ")
    assert amy.scan == "failed"
    assert (course.course_dir / "quarantine" / "amy" / ASSIGNMENT / "SCAN.txt").is_file()
    assert not ben.ok and ben.reason == ("not graded: the scan could not read the submission "
                                         "(OSError: disk gone)")
    assert cid.ok and cid.scan == "ok" and cid.flags == [] and cid.repairs == []
    assert staged == [("cid", [f"{ASSIGNMENT}.ipynb"])]
    assert sorted(s.student for s in scans) == ["amy", "cid"]


def test_grade_fails_a_submission_that_cannot_be_staged(checked, monkeypatch):
    """A staging error is that student's failed outcome, with its reason."""
    from autograder import scan

    _, _, course = checked
    shutil.copytree(course.release_dir / ASSIGNMENT, course.submitted_dir / "dee" / ASSIGNMENT)

    def stage_submission(*args):
        raise PermissionError("read-only")

    monkeypatch.setattr(scan, "stage_submission", stage_submission)
    monkeypatch.setattr(grading, "run_tasks", lambda course, tasks, *a, **k: [])
    [outcome] = grading.grade(course, [ASSIGNMENT], ["dee"], config=CONFIG)
    assert not outcome.ok
    assert outcome.reason == ("not graded: the submission could not be staged "
                              "(PermissionError: read-only)")


# --- feedback: the page's maths, its template, and a failure ----------------------------------


@pytest.mark.parametrize(
    ("markdown", "has", "keeps"),
    [
        ("the slope $3x^2$ here", ['display="inline"', "<msup>"], ["the slope ", " here"]),
        ("$$\\frac{a}{b}$$", ['display="block"', "<mfrac>"], []),
        ("code `$x$` and\n```\n$y$\n```", [], ["`$x$`", "$y$"]),
        ("costs \\$5 and $6", [], ["\\$5 and $6"]),
        ("a $ x $ b", [], ["a $ x $ b"]),
    ],
)
def test_math_to_mathml(markdown, has, keeps):
    """Maths outside code becomes MathML; code, escaped dollars and prices stay as they are."""
    out = math_to_mathml(markdown)
    assert all(h in out for h in has) and all(k in out for k in keeps)
    if not has:
        assert "<math" not in out


def test_math_that_cannot_be_read_stays_as_code(monkeypatch):
    """An expression the converter refuses is shown as its TeX in <code>."""
    import latex2mathml.converter

    def refuse(tex, display):
        raise ValueError("unknown command")

    monkeypatch.setattr(latex2mathml.converter, "convert", refuse)
    assert math_to_mathml("see $\\foo$") == "see <code>\\foo</code>"


def test_offline_math_rewrites_markdown_cells_only():
    """The preprocessor converts maths in markdown cells and leaves code cells alone."""
    md = nbformat.v4.new_markdown_cell("so $x^2$")
    code = nbformat.v4.new_code_cell("y = '$x^2$'")
    pre = OfflineMath()
    assert "<math" in pre.preprocess_cell(md, {}, 0)[0].source
    assert pre.preprocess_cell(code, {}, 1)[0].source == "y = '$x^2$'"


def test_feedback_config_keeps_a_course_template():
    """The labelled offline template is chosen unless the course chose one itself."""
    from traitlets.config import Config

    cfg = Config()
    feedback_config(cfg)
    assert cfg.HTMLExporter.template_name == "minigrad_feedback"
    assert OfflineMath in cfg.GenerateFeedback.preprocessors
    own = Config()
    own.HTMLExporter.template_name = "classic"
    feedback_config(own)
    assert own.HTMLExporter.template_name == "classic"
    assert "preprocessors" not in own.GenerateFeedback


def test_generate_feedback_returns_nbgrader_error(checked):
    """Feedback for a student with no autograded work returns nbgrader's error line."""
    _, _, course = checked
    [error] = generate_feedback(course, ASSIGNMENT, "nobody")
    assert "nobody" in error and ASSIGNMENT in error
