"""Tests for the execute step of autograding (autograder.execute): one-line errors, path
scrubbing, and JudgedExecute on a real kernel: the judge's verdicts, zeroed cells, output
caps, a cell that kills the kernel left out, and the events it reports."""

from __future__ import annotations

import json
import os

import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.execute import (
    FAILED,
    NOT_RUN_ERROR,
    ZEROED,
    JudgedExecute,
    agent_expression,
    one_line_error,
    scrub_paths,
)
from autograder.judge.seeds import seed_for
from autograder.judge.tests import HiddenTest, write_tests
from autograder.records import EventKind, JudgeEvent

pytestmark = pytest.mark.grading


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("cannot open /home/ann/course/source/a1/a1.ipynb here",
         "cannot open a1.ipynb here"),
        ('File "/usr/lib/python3/site-packages/numpy/core/x.py", line 3',
         'File "x.py", line 3'),
        ("relative/path/kept.py and ./local.py", "relative/path/kept.py and ./local.py"),
        ("no paths at all", "no paths at all"),
        ("see https://numpy.org/doc/stable/reference/index.html",
         "see https://numpy.org/doc/stable/reference/index.html"),
    ],
)
def test_scrub_paths(text, expected):
    """Absolute paths are cut to their file names; relative ones, URLs and plain text are
    kept."""
    assert scrub_paths(text) == expected


@pytest.mark.parametrize(
    ("ename", "evalue", "want_name", "want_text"),
    [
        ("RecursionError", "maximum recursion depth exceeded", "RecursionError",
         "write it as a loop with an explicit stack"),
        ("NotImplementedError", "", "NotImplementedError", "not answered yet"),
        ("NotImplementedError", "later", "NotImplementedError", "later"),
        ("KeyboardInterrupt", "", "TimeoutError", "did not finish within 7 s"),
        ("ValueError", "bad\n   shape  in /tmp/x/y/z.py", "ValueError", "bad shape in z.py"),
    ],
)
def test_one_line_error(ename, evalue, want_name, want_text):
    """An error in a cell becomes one line that says what to do, without grader paths."""
    name, message = one_line_error(ename, evalue, timeout=7)
    assert name == want_name
    assert want_text in message and "\n" not in message


def test_one_line_error_is_clipped():
    """A huge error message is clipped and says so; a huge name is cut."""
    name, message = one_line_error("E" * 500, "x" * 10_000)
    assert len(name) == 100
    assert len(message) < 2100 and message.endswith(" [...]")


def test_agent_expression_quotes_the_request():
    """The judge's request reaches the kernel's agent as one quoted Python string."""
    request = '{"call": "cube", "args": [2], "quote": "\'"}'
    expression = agent_expression(request)
    assert expression.endswith(f"({request!r})")
    assert "autograder.kernel.agent" in expression


def _graded(source: str, grade_id: str, points: int = 1):
    return new_code_cell(source, metadata={"nbgrader": {
        "grade": True, "grade_id": grade_id, "points": points, "solution": False,
        "locked": True, "schema_version": 3}})


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    """One notebook run by JudgedExecute on a plain kernel: (notebook, executor, events file)."""
    root = tmp_path_factory.mktemp("execute")
    judge_dir = root / "judge"
    write_tests(judge_dir, "t1", "t1", "t1.py", [
        HiddenTest("t-pass", 'assert student.cube(3) == 27, "cube(3) must be 27"'),
        HiddenTest("t-wrong", 'got = student.cube(2)\nassert got == 9, f"cube(2) must be 9, '
                              'got {got}"'),
        HiddenTest("t-zero", "assert True"),
        HiddenTest("t-after", 'assert student.cube(1) == 1, "cube(1) must be 1"'),
        HiddenTest("t-visible", "assert True"),
        HiddenTest("t-spin", "student.spin()"),
        HiddenTest("t-die", "student.die()"),
        HiddenTest("t-end", "assert True"),
    ])
    work = root / "work"
    work.mkdir()
    nb = new_notebook(cells=[
        new_code_cell("def cube(x):\n    return x ** 3\n\n"
                      "def spin():\n    while True:\n        pass\n\n"
                      "def die():\n    import os\n    os._exit(1)"),             # 0
        _graded("assert cube(2) == 8\nprint('visible ok')", "t-pass"),          # 1
        _graded("cube(2)", "t-wrong"),                                           # 2
        _graded("pass", "t-zero"),                                               # 3
        _graded("pass", "t-missing"),                                            # 4
        new_code_cell("import os\nos._exit(3)"),                                 # 5
        _graded("assert cube(1) == 1", "t-after"),                               # 6
        new_code_cell("raise ValueError('bad file /home/someone/secret/data.txt')"),  # 7
        new_code_cell("print('x' * 5000)"),                                      # 8
        _graded("assert cube(2) == 0, 'visible says no'", "t-visible"),          # 9
        new_code_cell("raise ValueError('y' * 5000)"),                           # 10
        new_code_cell("exit()"),                                                 # 11
        _graded("pass", "t-spin"),                                               # 12
        _graded("pass", "t-die"),                                                # 13
        _graded("pass", "t-end"),                                                # 14
    ])
    events_file = root / "events.jsonl"
    executor = JudgedExecute(judge_dir=str(judge_dir), zero_cells={"t-zero": "copied"},
                             events_file=str(events_file), timeout=60, max_output_chars=2000,
                             call_timeout=3, max_kernel_restarts=2, kernel_name="python3")
    nb, _ = executor.preprocess(nb, {"metadata": {"path": str(work)},
                                     "nbgrader": {"notebook": "t1", "assignment": "t1",
                                                  "student": "ann"}})
    return nb, executor, events_file


def _errors(cell):
    return [(o.ename, o.evalue) for o in cell.outputs if o.output_type == "error"]


def _text(cell):
    return "".join(o.get("text", "") for o in cell.outputs)


def test_the_judge_decides_each_graded_cell(judged):
    """A passing cell says so; the judge fails a cell the visible test lets through, with its
    message; a cell the scan zeroed and one with no hidden tests score 0 and say why."""
    nb, _, _ = judged
    assert "visible ok" in _text(nb.cells[1]) and "Hidden tests passed." in _text(nb.cells[1])
    assert _errors(nb.cells[2]) == [(FAILED, "cube(2) must be 9, got 8")]
    assert "8" in _text(nb.cells[2])  # the execute_result is kept as text, not as a result
    assert not [o for o in nb.cells[2].outputs if o.output_type == "execute_result"]
    assert _errors(nb.cells[3]) == [(ZEROED, "this test scores 0: copied")]
    assert _errors(nb.cells[4])[0][0] == FAILED and "no hidden tests" in _errors(nb.cells[4])[0][1]
    visible = _errors(nb.cells[9])
    assert visible[0] == ("AssertionError", "visible says no")
    assert "Hidden tests passed, but the visible tests above failed." in _text(nb.cells[9])


def test_a_cell_that_kills_the_kernel_is_left_out(judged):
    """os._exit in a cell: the notebook runs again without it, the later cells are graded."""
    nb, executor, _ = judged
    [(name, message)] = _errors(nb.cells[5])
    assert name == NOT_RUN_ERROR and "the kernel died while this cell ran" in message
    assert "Hidden tests passed." in _text(nb.cells[6])
    lost = [e for e in executor.events if e.kind is EventKind.KERNEL_LOST]
    assert [(e.notebook, e.cell) for e in lost] == [("t1", ""), ("t1", ""), ("t1", "t-die")]


def test_a_cell_that_asks_the_kernel_to_exit_is_left_out(judged):
    """exit() is left out as the cell that asked, not the cell that found the kernel gone."""
    nb, _, _ = judged
    [(name, message)] = _errors(nb.cells[11])
    assert name == NOT_RUN_ERROR and "not run by the grader" in message


def test_a_judge_call_that_hangs_fails_its_cell(judged):
    """A student function the judge calls that never returns is interrupted; the cell fails
    and names the call and the limit."""
    nb, _, _ = judged
    [(name, message)] = _errors(nb.cells[12])
    assert name == FAILED and "spin() did not finish within 3 s" in message


def test_the_grader_gives_up_after_its_restarts(judged):
    """A judge call that kills the kernel once restarts are used up: that cell and the rest
    are marked not run, and say why."""
    nb, _, _ = judged
    for index in (13, 14):
        [(name, message)] = _errors(nb.cells[index])
        assert name == NOT_RUN_ERROR
        assert message.startswith("not run: the grader gave up after the kernel was lost")


def test_errors_and_floods_are_tidied(judged):
    """An error is one line without grader paths; a flood of output is capped and says so."""
    nb, _, _ = judged
    assert _errors(nb.cells[7]) == [("ValueError", "bad file data.txt")]
    text = _text(nb.cells[8])
    assert len(text) < 2500 and "kept only the first 2,000 characters" in text
    [(name, message)] = _errors(nb.cells[10])
    assert name == "ValueError" and len(message) < 2100 and message.endswith("[...]")


def test_events_reach_the_worker_through_the_events_file(judged):
    """The executor's events and the file's JSON lines are the same records; each judged
    cell's seed is the one derived from the student, assignment and cell."""
    _, executor, events_file = judged
    lines = events_file.read_text().splitlines()
    assert [JudgeEvent.from_json(line) for line in lines] == executor.events
    seeds = {e.cell: e.seed for e in executor.events if e.kind is EventKind.SEED}
    assert seeds["t-pass"] == seed_for("ann", "t1", "t-pass", "")
    assert "t-zero" not in seeds and "t-missing" not in seeds
    assert all(json.loads(line)["notebook"] == "t1" for line in lines)


def test_no_event_is_shared_between_executors(tmp_path):
    """Events belong to one executor: a new one starts with none (no class-level channel)."""
    fresh = JudgedExecute()
    assert fresh.events == []
    assert not hasattr(JudgedExecute, "journal")
    assert not os.path.exists(tmp_path / "events.jsonl")
