"""Adversarial suite: hostile and broken submissions, generated from the released notebooks of
assignment 1 and of the tiny fixture, graded in one batch with honest correct and blank
students through ``python -m autograder grade``.

For every case the table gives the score it must get (a cheat gets nothing for the cheated
exercise, an honest answer that merely warns or floods the output keeps its points) and the
status (graded, flagged or failed). A second test drives the execute step directly, with
the pre-grade scan out of the way, to show the runtime defences (kernel guard, sandbox,
kernel restarts) on their own. nbgrader runs for real.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import os
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder.cli import main
from autograder.course import Course, template_config
from autograder.exercises import exercises_of_source
from autograder.pipeline import prepare_assignments
from autograder.sandbox import kernel_plan, remove_cgroup, sandbox_status

pytestmark = pytest.mark.grading

ROOT = Path(__file__).resolve().parent.parent
A1 = "a1_scalar_graphs"
F1 = "f1_tiny"
CELL_TIMEOUT = 20  # seconds per cell in the scratch course (a1's slowest cell takes ~3 s)
A1_EXERCISES = exercises_of_source(ROOT / "notebooks" / A1 / f"{A1}.py")
# answer cell -> the autograded points of its exercise (every part), read from the notebook
A1_POINTS = {answer: ex.auto_points for ex in A1_EXERCISES for answer in ex.answers}
A1_TOTAL = sum(ex.auto_points for ex in A1_EXERCISES)  # a right solution, before hand grading
A1_MAX = sum(ex.points for ex in A1_EXERCISES)  # the gradebook's maximum, written answers too

# right at x = 1 (the visible test), wrong for negative x (the hidden test)
WRONG_GRAD = ('def cube_grad(x):\n    """Return the derivative of x**3 at x."""\n'
              "    return 3.0 * x * abs(x)\n")


# --- building submissions ---------------------------------------------------------------------


def _cell(nb, grade_id: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
    raise KeyError(grade_id)


def _set(grade_id: str, source: str) -> Callable:
    def edit(nb):
        _cell(nb, grade_id).source = source
        return nb
    return edit


def _prefix(grade_id: str, code: str) -> Callable:
    def edit(nb):
        _cell(nb, grade_id).source = code + _cell(nb, grade_id).source
        return nb
    return edit


def _replace(grade_id: str, old: str, new: str) -> Callable:
    def edit(nb):
        cell = _cell(nb, grade_id)
        assert old in cell.source, (grade_id, old)
        cell.source = cell.source.replace(old, new, 1)
        return nb
    return edit


def _meta(grade_id: str, **changes) -> Callable:
    def edit(nb):
        _cell(nb, grade_id).metadata["nbgrader"].update(changes)
        return nb
    return edit


def _chain(*edits: Callable) -> Callable:
    def edit(nb):
        for step in edits:
            nb = step(nb)
        return nb
    return edit


def _delete(grade_id: str) -> Callable:
    def edit(nb):
        nb.cells = [c for c in nb.cells
                    if c.metadata.get("nbgrader", {}).get("grade_id") != grade_id]
        return nb
    return edit


def _duplicate_test_edit_last(grade_id: str) -> Callable:
    def edit(nb):
        index = nb.cells.index(_cell(nb, grade_id))
        twin = copy.deepcopy(nb.cells[index])
        twin["id"] = "twin-of-test"
        twin.source = "pass  # the copy nbgrader keeps"
        nb.cells.insert(index + 1, twin)
        return nb
    return edit


def _strip_metadata(nb):
    for cell in nb.cells:
        cell.metadata.pop("nbgrader", None)
    return nb


def _rename_metadata(nb):
    _cell(nb, "f1-cube-test").metadata["nbgrader"]["grade_id"] = "f1-cube-test-mine"
    grad = _cell(nb, "f1-cube-grad")
    grad.metadata["nbgrader_old"] = grad.metadata.pop("nbgrader")
    return nb


def _change_types(nb):
    answer = _cell(nb, "f1-cube")
    answer.cell_type = "markdown"
    answer.pop("outputs", None)
    answer.pop("execution_count", None)
    test = _cell(nb, "f1-cube-grad-test")
    test.cell_type = "raw"
    test.pop("outputs", None)
    test.pop("execution_count", None)
    return nb


def _change_kernel(nb):
    nb.metadata["kernelspec"] = {"name": "evil-kernel", "display_name": "Evil",
                                 "language": "python"}
    return nb


def _same_ids(nb):
    _cell(nb, "f1-cube")["id"] = "same-id"
    _cell(nb, "f1-cube-grad")["id"] = "same-id"
    return nb


@dataclass(frozen=True)
class Case:
    student: str
    assignment: str
    base: str  # "solution" or "release"
    edit: Callable | None
    score: float | None  # None: not graded
    status: str  # graded, flagged or failed
    reason: str = ""  # text the grade table's reason column must contain
    raw: bytes | None = None  # file content instead of an edited notebook


def _a1_wrong(grade_id: str) -> Callable:
    """A wrong answer to one exercise of assignment 1 (so tampering would have to carry it)."""
    old, new = {
        "a1-relu-square-by-hand": ("return t, x_bar", "return t + 1.0, x_bar"),
        "a1-mlp-by-hand": ("return loss, w1_bar", "return loss + 1.0, w1_bar"),
        "a1-sum-over-paths": ("return 1.0", "return 2.0"),
        "a1-chain-derivative": ("return value, derivative", "return value, 2.0 * derivative"),
        "a1-topological-order": ("root.grad = 1.0", "root.grad = 2.0"),
    }[grade_id]
    return _replace(grade_id, old, new)


def _minus(*grade_ids: str) -> float:
    return A1_TOTAL - sum(A1_POINTS[g] for g in grade_ids)


CASES = [
    # honest students, one correct and one blank per assignment
    Case("a1-honest-correct", A1, "solution", None, A1_TOTAL, "graded"),
    Case("a1-honest-blank", A1, "release", None, 0, "graded"),
    Case("f1-honest-correct", F1, "solution", None, 5, "graded"),
    Case("f1-honest-blank", F1, "release", None, 0, "graded"),
    # notebooks that would break nbgrader: repaired, then graded on their merits
    Case("f1-edited-test", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD), _set("f1-cube-grad-test", "pass")),
         2, "graded", "test cell was edited"),
    Case("f1-unlocked-test", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD), _set("f1-cube-grad-test", "pass"),
                _meta("f1-cube-grad-test", locked=False, solution=True)),
         2, "graded", "nbgrader metadata changed"),
    Case("f1-deleted-test", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD), _delete("f1-cube-grad-test")),
         2, "graded", "test cell was missing"),
    Case("f1-duplicated-test", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD), _duplicate_test_edit_last("f1-cube-grad-test")),
         2, "graded", "duplicated"),
    Case("a1-stripped-metadata", A1, "solution", _strip_metadata, A1_TOTAL, "graded",
         "nbgrader metadata was missing or renamed"),
    Case("f1-renamed-metadata", F1, "solution", _rename_metadata, 5, "graded",
         "missing or renamed"),
    Case("f1-changed-points", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD), _meta("f1-cube-grad-test", points=100)),
         2, "graded", "points 100 -> 3"),
    Case("f1-changed-cell-type", F1, "solution", _change_types, 5, "graded",
         "cell type changed"),
    Case("f1-changed-kernel", F1, "solution", _change_kernel, 5, "graded", "kernel spec"),
    Case("f1-changed-schema", F1, "solution",
         _chain(_meta("f1-cube", schema_version=2), _meta("f1-cube-grad-test", schema_version=4)),
         5, "graded", "schema_version"),
    Case("f1-duplicate-cell-ids", F1, "solution", _same_ids, 5, "graded", "duplicate cell ids"),
    Case("f1-truncated-json", F1, "solution", None, None, "failed", "truncated JSON",
         raw=b'{"cells": [{"cell_type": "code", "metadata": {}, "source": "def cube(x'),
    Case("f1-empty-json", F1, "solution", None, None, "failed", "the file is empty", raw=b""),
    # runaway and hostile code at run time
    Case("f1-infinite-loop", F1, "solution",
         _set("f1-cube", 'def cube(x):\n    """Loops."""\n    while True:\n        pass\n'),
         3, "graded"),
    Case("f1-uninterruptible-loop", F1, "solution",
         _set("f1-cube-grad", 'def cube_grad(x):\n    """Spins in C."""\n'
                              "    import collections, itertools\n"
                              "    collections.deque(itertools.count(), maxlen=0)\n"),
         2, "graded", "did not stop when interrupted"),
    Case("f1-kernel-crash", F1, "solution",
         _prefix("f1-cube-grad", "import sys\nsys.setrecursionlimit(10 ** 8)\n\n\n"
                                 "def _deeper(n):\n    return list(map(_deeper, [n + 1]))\n\n\n"
                                 "_deeper(0)\n"),
         2, "graded", "the kernel died"),
    Case("f1-sys-exit", F1, "solution",
         _set("f1-cube", 'import sys\n\n\ndef cube(x):\n    """Leaves."""\n    sys.exit(0)\n'),
         3, "flagged", "sys.exit"),
    Case("f1-os-exit", F1, "solution", _prefix("f1-cube-grad", "import os\nos._exit(0)\n"),
         2, "flagged", "os._exit"),
    Case("f1-keyboard-interrupt", F1, "solution",
         _set("f1-cube", 'def cube(x):\n    """Interrupts."""\n    raise KeyboardInterrupt\n'),
         3, "graded"),
    Case("f1-memory-bomb", F1, "solution",
         _set("f1-cube-grad", 'def cube_grad(x):\n    """Hogs memory."""\n'
                              "    hog = [0] * (10 ** 10)\n    return 3.0 * x * x + len(hog)\n"),
         2, "graded"),
    Case("f1-output-flood", F1, "solution",
         _set("f1-cube", 'def cube(x):\n    """Talks a lot."""\n'
                         "    for i in range(50000):\n"
                         "        print('flood flood flood flood flood', i)\n"
                         "    return x * x * x\n"),
         5, "graded"),
    Case("a1-warns", A1, "solution",
         _replace("a1-mlp-by-hand", "    z1 = w1 * x + b1\n",
                  "    import warnings\n    warnings.warn('this is only a warning')\n"
                  "    z1 = w1 * x + b1\n"),
         A1_TOTAL, "graded"),
    # cheats: the cheated exercise scores 0, the student is flagged
    Case("a1-rebind-checker", A1, "solution",
         _chain(_a1_wrong("a1-relu-square-by-hand"),
                _prefix("a1-relu-square-by-hand",
                        "class _Fine:\n    def assert_ok(self):\n        return self\n\n\n"
                        "def check_gradients(*args, **kwargs):\n    return _Fine()\n\n\n"
                        "_gc = None\n\n\n")),
         _minus("a1-relu-square-by-hand"), "flagged", "check_gradients"),
    Case("a1-patch-numpy", A1, "solution",
         _chain(_a1_wrong("a1-mlp-by-hand"),
                _prefix("a1-mlp-by-hand", "np.allclose = lambda *a, **k: True\n"
                                          "np.isclose = lambda *a, **k: True\n")),
         _minus("a1-mlp-by-hand"), "flagged", "np.allclose"),
    Case("a1-self-consistent-wrong", A1, "solution",
         _chain(_replace("a1-relu-square-by-hand", "    t = s + z\n",
                         "    t = s + z + (x - 1.0) ** 2\n"),
                _replace("a1-relu-square-by-hand", "    x_bar = 3.0 * p_bar\n",
                         "    x_bar = 3.0 * p_bar + 2.0 * (x - 1.0)\n")),
         _minus("a1-relu-square-by-hand"), "graded"),
    Case("a1-input-transformer", A1, "solution",
         _chain(_a1_wrong("a1-mlp-by-hand"),
                _prefix("a1-mlp-by-hand",
                        "get_ipython().input_transformers_post.append(lambda lines: ['pass\\n'])"
                        "\n")),
         _minus("a1-mlp-by-hand"), "flagged", "input_transformers_post"),
    Case("a1-showtraceback", A1, "solution",
         _chain(_a1_wrong("a1-chain-derivative"),
                _prefix("a1-chain-derivative",
                        "get_ipython().showtraceback = lambda *a, **k: None\n")),
         _minus("a1-chain-derivative"), "flagged", "showtraceback"),
    Case("a1-custom-exc", A1, "solution",
         _chain(_a1_wrong("a1-sum-over-paths"),
                _prefix("a1-sum-over-paths",
                        "get_ipython().set_custom_exc((Exception,), lambda *a, **k: None)\n")),
         _minus("a1-sum-over-paths"), "flagged", "set_custom_exc"),
    Case("a1-read-source", A1, "solution",
         _chain(_a1_wrong("a1-topological-order"),
                _prefix("a1-topological-order",
                        "_stolen = open('../../../source/a1_scalar_graphs/"
                        "a1_scalar_graphs.ipynb').read()\n")),
         _minus("a1-topological-order"), "flagged", "open"),
    Case("f1-write-gradebook", F1, "solution",
         _prefix("f1-cube", "import sqlite3\n_db = sqlite3.connect('../../../gradebook.db')\n"
                            "_db.execute('UPDATE grade SET auto_score = 100')\n_db.commit()\n"),
         3, "flagged", "sqlite3"),
    Case("f1-network", F1, "solution",
         _prefix("f1-cube-grad", "import socket\n_s = socket.create_connection("
                                 "('example.com', 80), timeout=3)\n"),
         2, "flagged", "socket"),
    # a patch the scanner does not see: the kernel's numpy is not the judge's
    Case("a1-evasive-patch", A1, "solution",
         _chain(_a1_wrong("a1-mlp-by-hand"),
                _prefix("a1-mlp-by-hand", "_m = [np][0]\n_m.allclose = lambda *a, **k: True\n")),
         _minus("a1-mlp-by-hand"), "graded"),
    # objects that lie: only plain data reaches the judge
    Case("a1-lying-float", A1, "solution",
         _chain(_replace("a1-relu-square-by-hand", "return t, x_bar",
                         "return _Any(t + 1.0), x_bar"),
                _prefix("a1-relu-square-by-hand",
                        "class _Any(float):\n    def __eq__(self, other):\n        return True\n"
                        "\n    def __sub__(self, other):\n        return _Any(0.0)\n\n\n")),
         _minus("a1-relu-square-by-hand"), "graded"),
    # tags that would make nbclient skip a test cell are restored from the release
    Case("f1-skip-tag", F1, "solution",
         _chain(_set("f1-cube-grad", WRONG_GRAD),
                lambda nb: (_cell(nb, "f1-cube-grad-test").metadata.update(
                    tags=["skip-execution", "raises-exception"]), nb)[1]),
         2, "graded", "tags"),
    # links and special files in a folder submission are refused, never followed
    Case("f1-link-to-source", F1, "solution", None, None, "failed", "a link", raw=b"link"),
    Case("f1-named-pipe", F1, "solution", None, 5, "flagged", "a named pipe"),
]


def _write_config(course_dir: Path) -> None:
    course_dir.mkdir(parents=True, exist_ok=True)
    text = template_config().read_text()
    text += (f"\n# adversarial suite: short per-cell limits for the runaway cases\n"
             f"c.Execute.timeout = {CELL_TIMEOUT}\nc.Execute.iopub_timeout = 4\n")
    (course_dir / "nbgrader_config.py").write_text(text)


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Build both assignments, write every case as a student, grade all in one batch.

    Returns (exit status, printed output, {student: row of the grade table}, Course)."""
    saved = dict(os.environ)
    root = tmp_path_factory.mktemp("adversarial")
    notebooks = root / "notebooks"
    shutil.copytree(ROOT / "notebooks" / A1, notebooks / A1)
    shutil.copytree(ROOT / "tests" / "fixtures" / "notebooks" / F1, notebooks / F1)
    _write_config(root / "course")
    course = Course.create(root / "course", notebooks)
    checks = prepare_assignments(course, [A1, F1], lambda _: None, force_release=True)
    assert not any(c.problems for c in checks.values()), {n: c.problems for n, c in
                                                           checks.items()}
    bases = {}
    for assignment in (A1, F1):
        name = f"{assignment}.ipynb"
        bases[assignment] = {
            "solution": nbformat.read(
                str(course.submitted_dir / "sample-solution" / assignment / name), 4),
            "release": nbformat.read(str(course.release_dir / assignment / name), 4),
        }
    shutil.rmtree(course.submitted_dir)
    for case in CASES:
        folder = course.submitted_dir / case.student / case.assignment
        folder.mkdir(parents=True)
        path = folder / f"{case.assignment}.ipynb"
        if case.raw == b"link":
            path.symlink_to(course.source_dir / case.assignment / f"{case.assignment}.ipynb")
            continue
        if case.raw is not None:
            path.write_bytes(case.raw)
            continue
        if case.student == "f1-named-pipe":
            os.mkfifo(folder / "data.fifo")
        nb = copy.deepcopy(bases[case.assignment][case.base])
        if case.edit is not None:
            nb = case.edit(nb)
        path.write_text(json.dumps(nb, indent=1))  # no validation: some cases are invalid
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["grade", "--course-dir", str(course.course_dir),
                       "--notebooks-dir", str(notebooks), "--jobs", "2", "--timeout", "400",
                       "--memory-mb", "3072", "--no-progress"])
    (root / "grade-output.txt").write_text(out.getvalue() + err.getvalue())
    lines = out.getvalue().splitlines()
    rows = {}
    for line in lines:
        parts = line.split()
        if len(parts) >= 3 and parts[1] in (A1, F1) and parts[2] in ("graded", "FLAGGED",
                                                                      "FAILED"):
            rows[parts[0]] = line
    os.environ.clear()
    os.environ.update(saved)
    return status, out.getvalue() + err.getvalue(), rows, course


def test_batch_completes_and_lists_every_student(batch):
    """One batch grades everyone: each student is graded, flagged or failed; exit status 1."""
    status, output, rows, course = batch
    assert status == 1, output  # three submissions could not be graded
    assert set(rows) == {c.student for c in CASES}, output
    graded = sum(c.status == "graded" for c in CASES)
    flagged = sum(c.status == "flagged" for c in CASES)
    failed = sum(c.status == "failed" for c in CASES)
    assert f"grade: {graded} graded, {failed} failed, {flagged} flagged" in output, output
    if sandbox_status().available:
        assert "sandbox: grading kernels run in bubblewrap" in output
    else:
        assert "grading is NOT sandboxed" in output
    assert re.search(r"^f1-os-exit\s+f1_tiny\s+flagged\s+tampering", output, re.M), output


@pytest.mark.parametrize("case", CASES, ids=[c.student for c in CASES])
def test_case_outcome(batch, case):
    """Each case gets its status and score; cheats get nothing for the cheated exercise."""
    _, output, rows, course = batch
    row = rows[case.student]
    parts = row.split()
    assert parts[2] == {"graded": "graded", "flagged": "FLAGGED", "failed": "FAILED"}[
        case.status], row
    if case.score is None:
        assert parts[3] == "-", row
    else:
        total = A1_MAX if case.assignment == A1 else 5
        assert parts[3] == f"{case.score:g}/{total:g}", row
        with course.gradebook() as gb:
            submission = gb.find_submission(case.assignment, case.student)
            assert submission.score == pytest.approx(case.score)
            assert submission.max_score == pytest.approx(total)
    if case.reason:
        detail = row + "\n" + "\n".join(
            line for line in output.splitlines()
            if case.student in line and (line.startswith(("flagged:", "failed:"))
                                         or line.split()[:1] == [case.student]))
        assert case.reason in detail, detail
    quarantined = course.course_dir / "quarantine" / case.student / case.assignment
    assert quarantined.is_dir() == (case.status in ("flagged", "failed"))


def test_honest_and_noisy_notebooks_keep_their_points(batch):
    """The warning and the output flood leave no stderr in test cells and no huge notebook."""
    _, _, _, course = batch
    warned = nbformat.read(str(course.autograded_dir / "a1-warns" / A1 / f"{A1}.ipynb"), 4)
    test = _cell(warned, "a1-mlp-by-hand-test")
    assert not [o for o in test.outputs if o.get("name") == "stderr"]
    assert "this is only a warning" in "".join(o.get("text", "") for o in test.outputs)
    flood = course.autograded_dir / "f1-output-flood" / F1 / f"{F1}.ipynb"
    assert flood.stat().st_size < 2_000_000


def test_cheated_cells_never_ran(batch):
    """Withheld cells are stubs in the graded notebook; the gradebook was not rewritten."""
    _, _, _, course = batch
    graded = nbformat.read(
        str(course.autograded_dir / "f1-write-gradebook" / F1 / f"{F1}.ipynb"), 4)
    stub = _cell(graded, "f1-cube").source.strip().splitlines()
    assert "withheld" in stub[0]
    assert all(line.startswith("#") for line in stub[:-1])
    assert stub[-1].startswith("raise RuntimeError(")
    test = _cell(graded, "f1-cube-test")
    assert any(o.get("ename") == "NotGraded" for o in test.outputs)
    with course.gradebook() as gb:
        assert gb.find_submission(F1, "f1-honest-blank").score == 0
    original = course.submitted_dir / "f1-write-gradebook" / F1 / f"{F1}.ipynb"
    assert "sqlite3.connect" in original.read_text()
    assert "flagged" in (course.course_dir / "quarantine" / "f1-write-gradebook" / F1 /
                         "SCAN.txt").read_text()


# --- the runtime defences on their own ---------------------------------------------------------

PROBE = r"""
import json, os, socket
_seen = {}
def _try(name, fn):
    try:
        fn()
        _seen[name] = True
    except Exception:
        _seen[name] = False
_try("read_source", lambda: open(SOURCE).read())
_try("list_course_source", lambda: os.listdir(COURSE + "/source") or 1 / 0)
_try("read_judge", lambda: os.listdir(COURSE + "/judge") or 1 / 0)
_try("write_gradebook", lambda: open(GRADEBOOK, "a").write("x"))
_try("read_other_student", lambda: open(OTHER).read())
_try("write_autograded", lambda: open(AUTOGRADED + "/x.txt", "w").write("x"))
_try("network", lambda: socket.create_connection(("1.1.1.1", 53), timeout=2))
_try("see_parent_processes", lambda: 1 / int(len([p for p in os.listdir("/proc")
                                                   if p.isdigit()]) > 5))
_history = "\n".join(get_ipython().history_manager.input_hist_raw)
_files = ""
for _root, _dirs, _names in os.walk("."):
    for _n in _names:
        try:
            _files += open(os.path.join(_root, _n), errors="replace").read()
        except OSError:
            pass
_seen["judge_code_in_kernel"] = ("SECRET-" + "MARKER") in _history + _files + repr(globals())
print("PROBE " + json.dumps(_seen))
"""

FORKS = """
import os, time
pids, refused = [], 0
for _ in range(200):
    try:
        pid = os.fork()
    except OSError:
        refused += 1
        break
    if pid == 0:
        time.sleep(20)
        os._exit(0)
    pids.append(pid)
for pid in pids:
    os.kill(pid, 9)
    os.waitpid(pid, 0)
print("FORKS", len(pids), refused)
"""

# the judge's tests for the notebook below: t-* grade ids
JUDGE_TESTS = {
    # SECRET-MARKER: this text must never reach the kernel or the graded notebook
    "t-transformer": "got = student.answer.value()\nassert got == 41, f'answer must be 41, "
                     "got {got}'\n",
    "t-traceback": "# SECRET-MARKER: a comment of the hidden tests\n"
                   "got = student.answer.value()\nassert got == 41, f'answer must be 41, "
                   "got {got}'\n",
    "t-numpy": "got = student.double(2)\nassert np.allclose(got, 5.0), f'double(2) must "
               "be 5, got {got}'\n",
    "t-liar": "got = student.lying()\nassert got == 2.0, f'lying() must be 2, got {got!r}'\n",
    "t-sneaky": "got = student.sneaky()\nassert np.allclose(got, 9.0), f'sneaky() got {got!r}'\n",
    "t-partial": "assert student.double(1) == 3, 'double(1) must be 3'\n",
    "t-error-flood": "assert student.double(1) == 2, 'double(1) must be 2'\n",
    "t-warning": "assert student.double(21) == 42, 'double(21) must be 42'\n",
    "t-flood": "assert student.double(0) == 0, 'double(0) must be 0'\n",
    "t-after": "assert student.answer.value() == 42, 'answer must be 42'\n",
    "t-spin": "student.spin()\n",
    "t-dies": "student.die()\n",
}


def _graded_cell(source: str, grade_id: str):
    cell = new_code_cell(source)
    cell.metadata["nbgrader"] = {"grade": True, "grade_id": grade_id, "locked": True,
                                 "points": 1, "schema_version": 3, "solution": False,
                                 "task": False}
    return cell


def test_runtime_defences_without_the_scan(tmp_path):
    """The judge, the sandbox, the limits and kernel restarts hold for code the scan never
    saw: a kernel that lies, hides errors or patches libraries earns nothing for it."""
    from autograder.execute import FAILED, NOT_RUN_ERROR, JudgedExecute
    from autograder.judge.tests import HiddenTest, write_tests

    course_dir = tmp_path / "course"
    source = course_dir / "source" / "t1" / "t1.ipynb"
    other = course_dir / "submitted" / "other" / "t1" / "t1.ipynb"
    for path in (source, other):
        path.parent.mkdir(parents=True)
        path.write_text("BEGIN HIDDEN TESTS")
    write_tests(course_dir / "judge", "t1", "t1", "t1.py",
                [HiddenTest(gid, code) for gid, code in JUDGE_TESTS.items()])
    gradebook = course_dir / "gradebook.db"
    gradebook.write_text("")
    work = course_dir / "autograded" / "me" / "t1"
    work.mkdir(parents=True)
    escaped = tmp_path / "escaped"
    # a module planted in the submission: nothing trusted may import it
    for name in ("autograder/__init__.py", "ipykernel_launcher.py", "json.py", "os.py"):
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(f"open({str(escaped)!r}, 'a').write({name!r})\n")
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    target = course_dir / "victim.txt"
    target.write_text("untouched")
    sandboxed = sandbox_status().available
    probe = (PROBE.replace("SOURCE", repr(str(source))).replace("COURSE", repr(str(course_dir)))
             .replace("GRADEBOOK", repr(str(gradebook))).replace("OTHER", repr(str(other)))
             .replace("AUTOGRADED", repr(str(work))))
    plant = ("import os, sys\nrun = os.path.dirname(os.path.dirname(sys.argv[sys.argv.index('-f')"
             " + 1]))\n"
             "for name in ['kernel.json', 'limits.txt', 'k2', 'kernel-2.json']:\n"
             "    for where in [run] + [os.path.join(run, d) for d in os.listdir(run)]:\n"
             "        try:\n"
             f"            os.symlink({str(target)!r}, os.path.join(where, name))\n"
             "        except OSError:\n"
             "            pass\n"
             "os._exit(3)")
    nb = new_notebook(cells=[
        new_code_cell("import os\nimport numpy as np\nanswer = 42\n\ndef double(x):\n"
                      "    return 2 * x\n\ndef spin():\n    while True:\n        pass\n\n"
                      "def die():\n    os._exit(1)"),
        new_code_cell("def _mute(lines):\n"
                      "    return ['pass\\n'] if any('test one' in ln for ln in lines) else lines"
                      "\n\nget_ipython().input_transformers_post.append(_mute)"),
        _graded_cell("print('test one ran')\nassert answer == 41", "t-transformer"),
        new_code_cell("ip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
                      "ip.set_custom_exc((AssertionError,), lambda *a, **k: None)"),
        _graded_cell("assert answer == 41, 'caught'", "t-traceback"),
        new_code_cell("np.allclose = lambda *a, **k: True\nnp.isclose = np.allclose"),
        _graded_cell("assert np.allclose(double(2), 5)", "t-numpy"),
        new_code_cell("class Liar(float):\n    def __eq__(self, other):\n        return True\n\n"
                      "def lying():\n    return Liar(1.0)\n\n"
                      "class Sneaky(np.ndarray):\n"
                      "    def __array_function__(self, *a, **k):\n        return True\n\n"
                      "def sneaky():\n    return np.zeros(2).view(Sneaky)"),
        _graded_cell("assert lying() == 2.0", "t-liar"),
        _graded_cell("assert np.allclose(sneaky(), 9.0)", "t-sneaky"),
        _graded_cell("1.0", "t-partial"),
        _graded_cell("raise ValueError('x' * 3_000_000)", "t-error-flood"),
        _graded_cell("import warnings\nwarnings.warn('only a warning')\nassert answer == 42",
                     "t-warning"),
        _graded_cell("for i in range(100000):\n    print('flood', i)", "t-flood"),
        new_code_cell("import collections, itertools\n"
                      "collections.deque(itertools.count(), maxlen=0)"),
        new_code_cell(plant),
        new_code_cell(FORKS),
        new_code_cell("with open('/tmp/fill', 'wb') as f:\n    try:\n"
                      "        for _ in range(2048):\n            f.write(b'x' * 2**20)\n"
                      "    except OSError as e:\n        print('DISK', e.errno)"),
        new_code_cell(probe),
        _graded_cell("print('still here', answer)", "t-after"),
        _graded_cell("pass", "t-spin"),
        _graded_cell("pass", "t-dies"),
    ])
    plan = kernel_plan(course_dir=course_dir, notebooks_dir=tmp_path / "notebooks",
                       submission_dir=work, run_dir=run_dir, db_url=f"sqlite:///{gradebook}",
                       sandbox=sandboxed, memory_mb=3072, cpu_seconds=300, max_processes=48)
    plan_path = tmp_path / "plan.json"
    plan_path.write_text(plan.to_json())
    executor = JudgedExecute(kernel_plan=str(plan_path), runtime_dir=str(run_dir),
                             judge_dir=str(course_dir / "judge"), timeout=8, iopub_timeout=3,
                             max_output_chars=20_000)
    try:
        nb, _ = executor.preprocess(nb, {"metadata": {"path": str(work)},
                                         "nbgrader": {"notebook": "t1", "assignment": "t1",
                                                      "student": "me"}})
    finally:
        remove_cgroup(plan)  # what the worker does after grading

    def outputs(index):
        return nb.cells[index].outputs

    def text(index):
        return "".join(o.get("text", "") for o in outputs(index))

    def errors(index):
        return [o.get("ename") for o in outputs(index) if o.get("output_type") == "error"]

    def verdict(index):
        return outputs(index)[-1].get("evalue", outputs(index)[-1].get("text", ""))

    # the transformer made the visible test a no-op: the judge still fails it
    assert "test one ran" not in text(2) and errors(2) == [FAILED]
    assert verdict(2) == "answer must be 41, got 42"
    # hidden tracebacks hide nothing from the judge
    assert errors(4)[-1] == FAILED and "answer must be 41" in verdict(4)
    # the kernel's numpy says anything is close; the judge's numpy does not
    assert errors(6) == [FAILED] and verdict(6) == "double(2) must be 5, got 4"
    # objects that lie never cross: only plain data does
    assert errors(8) == [FAILED] and "returned a Liar object, which is not plain" in verdict(8)
    assert errors(9) == [FAILED] and "returned a Sneaky object" in verdict(9)
    # a test cell's execute_result earns no partial credit: no execute_result is left
    assert not [o for c in nb.cells for o in c.get("outputs", [])
                if o.get("output_type") == "execute_result" and "nbgrader" in c.metadata]
    assert errors(10) == [FAILED]
    # an error output is capped like any other output
    assert errors(11)[0] == "ValueError" and len(json.dumps(outputs(11))) < 25_000
    # a warning is not a failure; the later tests see a clean kernel
    assert errors(12) == [] and "only a warning" in text(12) and "Hidden tests passed" in text(12)
    assert not [o for o in outputs(12) if o.get("name") == "stderr"]
    assert errors(13) == [] and len(text(13)) < 25_000 and "kept only the first" in text(13)
    # the uninterruptible loop and the kernel kill were left out; the rest ran again
    assert errors(14) == [NOT_RUN_ERROR] and errors(15) == [NOT_RUN_ERROR]
    assert "still here 42" in text(19) and errors(19) == []
    assert "Hidden tests passed" in text(19)
    # a judge call that runs too long fails its cell; one that kills the kernel loses it
    assert errors(20) == [FAILED] and "spin() did not finish within 8 s" in verdict(20)
    assert errors(21) == [NOT_RUN_ERROR] and "the kernel died" in verdict(21)
    lost = [e for e in executor.events if e.kind == "kernel-lost"]
    assert len(lost) == 3
    # links planted before the kernel died were never written through; no module planted in
    # the submission was imported by the launcher or the grader
    assert target.read_text() == "untouched"
    assert not escaped.exists(), escaped.read_text()
    # the hidden tests never reached the graded notebook
    assert "SECRET-MARKER" not in json.dumps([c.get("outputs", []) for c in nb.cells])
    probe_line = next(line for line in text(18).splitlines() if line.startswith("PROBE "))
    seen = json.loads(probe_line.removeprefix("PROBE "))
    assert seen["judge_code_in_kernel"] is False
    assert seen["write_autograded"] is False and not (work / "x.txt").exists()
    limits = (run_dir / "limits.txt").read_text() if (run_dir / "limits.txt").is_file() else ""
    forks = next(line for line in text(16).splitlines() if line.startswith("FORKS"))
    if "pids.max" in limits or "RLIMIT_NPROC" in limits:
        assert int(forks.split()[1]) < 48 and forks.split()[2] == "1", forks
    if sandboxed:
        del seen["judge_code_in_kernel"]
        assert seen == {"read_source": False, "list_course_source": False,
                        "read_judge": False, "write_gradebook": False,
                        "read_other_student": False, "write_autograded": False,
                        "network": False, "see_parent_processes": False}, seen
        assert gradebook.read_text() == ""
        # the 2 GB write stops: EFBIG (27) at the file-size limit or ENOSPC (28) on the
        # kernel's /tmp, a tmpfs of 512 MB
        assert re.search(r"^DISK 2[78]$", text(17), re.M), text(17)
    assert re.search(r"^still here 42$", text(19), re.M)
