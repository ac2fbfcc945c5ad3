"""Tests for the pre-grade scan (autograder.scan) and the sandbox plan, without starting a
kernel: each table row is a submission a student could hand in."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

import autograder.scan
from autograder.course import Course
from autograder.sandbox import KERNEL_WORK, bwrap_command, kernel_plan, submission_files
from autograder.scan import (
    WITHHELD_MARK,
    Kind,
    Status,
    exercise_tests,
    quarantine,
    read_submission,
    repair_notebook,
    scan_code,
    scan_submission,
    scan_table,
    stage_submission,
)
from autograder.scan.tamper import FORBIDDEN_CALLS, FORBIDDEN_IMPORTS

ASSIGNMENT = "t1"
ANSWER = "def cube(x):\n    \"\"\"x cubed.\"\"\"\n    return x * x * x\n"
ANSWER2 = "def square(x):\n    \"\"\"x squared.\"\"\"\n    return x * x\n"


def _graded(source: str, grade_id: str, kind: str, points: int = 0):
    flags = {
        "setup": dict(grade=False, solution=False, locked=True),
        "answer": dict(grade=False, solution=True, locked=False),
        "test": dict(grade=True, solution=False, locked=True),
    }[kind]
    meta = {"cell_type": "code", "checksum": "0" * 32, "grade_id": grade_id,
            "schema_version": 3, "task": False, **flags}
    if kind == "test":
        meta["points"] = points
    cell = new_code_cell(source)
    cell["id"] = grade_id
    cell.metadata = nbformat.from_dict({"deletable": False, "nbgrader": meta})
    if kind != "answer":
        cell.metadata["editable"] = False
    return cell


def _reference():
    """A released notebook: setup, two exercises (answer + test cell each), prose between."""
    intro = new_markdown_cell("# Two exercises")
    intro["id"] = "intro"
    example = new_code_cell("y = 2 * 3  # a worked example")
    example["id"] = "example"
    cells = [
        intro,
        _graded("import math", "t1-setup", "setup"),
        example,
        _graded("def cube(x):\n    \"\"\"x cubed.\"\"\"\n    raise NotImplementedError()\n",
                "t1-cube", "answer"),
        _graded("# cube is right at 2\nassert cube(2) == 8", "t1-cube-test", "test", 2),
        _graded("def square(x):\n    \"\"\"x squared.\"\"\"\n    raise NotImplementedError()\n",
                "t1-square", "answer"),
        _graded("# square is right at 3\nassert square(3) == 9", "t1-square-test", "test", 3),
    ]
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"display_name": "Python 3 (ipykernel)", "language": "python",
                                 "name": "python3"}
    return nb


def _solution() -> dict:
    nb = copy.deepcopy(_reference())
    nb.cells[3].source = ANSWER
    nb.cells[5].source = ANSWER2
    return json.loads(nbformat.writes(nb))


def _ids(nb) -> list[str]:
    return [c.metadata.get("nbgrader", {}).get("grade_id", "") for c in nb.cells
            if "nbgrader" in c.metadata]


def test_public_names():
    """autograder.scan exports what the grader, the cli and these tests use, and no more."""
    assert sorted(autograder.scan.__all__) == [
        "Finding", "Kind", "NotebookScan", "Status", "SubmissionScan", "WITHHELD_MARK",
        "exercise_tests", "quarantine", "read_submission", "repair_notebook", "scan_code",
        "scan_notebook", "scan_submission", "scan_table", "stage_submission"]
    for name in autograder.scan.__all__:
        assert getattr(autograder.scan, name) is not None


def test_statuses_and_kinds_read_as_words():
    """Statuses and finding kinds compare, print and serialise as the words they replace."""
    assert [str(s) for s in Status] == ["ok", "repaired", "flagged", "failed"]
    assert [f"{k}" for k in Kind] == ["broken", "repaired", "tampering", "refused", "note"]
    assert Status.FLAGGED == "flagged" and Kind("tampering") is Kind.TAMPERING
    assert json.dumps({"scan": Status.FAILED, "kind": Kind.BROKEN}) == (
        '{"scan": "failed", "kind": "broken"}')


# --- static analysis of one cell -----------------------------------------------------------------

# One row per tamper rule: a cell that breaks it, and words its reason must contain.
TAMPERING = [
    ("def check_gradients(*a, **k):\n    return None", "rebinds `check_gradients`"),
    ("from autograder.hidden import quiet", "imports autograder"),
    ("get_ipython = lambda: None", "helper `get_ipython`"),
    ("abs = lambda x: 0.0", "rebinds the builtin `abs`"),
    ("def isinstance(a, b):\n    return True", "rebinds the builtin `isinstance`"),
    ("np = FakeNumpy()", "rebinds `np`"),
    ("np.allclose = lambda *a, **k: True", "assigns `np.allclose`"),
    ("import numpy as xp\nxp.isclose = None", "assigns `xp.isclose`"),
    ("lin = np.linalg\nlin.norm = len", "assigns `lin.norm`"),
    ("setattr(np, 'allclose', all)", "uses setattr on `np`"),
    ("import builtins\nbuiltins.float = int", "imports builtins"),
    ("mg.Tensor.backward = lambda self: None", "assigns `mg.Tensor.backward`"),
    ("from minigrad import Value\nValue.__mul__ = None", "assigns `Value.__mul__`"),
    ("get_ipython().input_transformers_post.append(f)", "input_transformers_post"),
    ("ip = get_ipython()\nip.ast_transformers.append(t)", "ast_transformers"),
    ("get_ipython().showtraceback = print", "showtraceback"),
    ("get_ipython().set_custom_exc((Exception,), h)", "set_custom_exc"),
    ("get_ipython().events.register('pre_run_cell', f)", "registers an IPython event"),
    ("import sys\nsys.exit(0)", "calls `sys.exit`"),
    ("import os\nos._exit(1)", "calls `os._exit`"),
    ("exit()", "calls `exit`"),
    ("import signal\nsignal.signal(2, 1)", "imports signal"),
    ("text = open('../../source/t1/t1.ipynb').read()", "calls `open`"),
    ("import sqlite3\nsqlite3.connect('gradebook.db')", "imports sqlite3"),
    ("from pathlib import Path\nPath('x').write_text('y')", "imports pathlib"),
    ("import os\nos.remove('x')", "calls `os.remove`"),
    ("path = '../../../source/t1'", "refers to course or system files"),
    ("import socket\nsocket.create_connection(('example.com', 80))", "imports socket"),
    ("import urllib.request", "imports urllib.request"),
    ("import requests", "imports requests"),
    ("exec('x = 1')", "calls `exec`"),
    ("eval('1 + 1')", "calls `eval`"),
    ("__import__('os')", "`__import__`"),
    ("import importlib", "imports importlib"),
    ("globals()['np'] = None", "calls `globals`"),
    ("import sys\nsys.modules['numpy'] = None", "sys.modules"),
    ("f.__globals__['x'] = 1", "__globals__"),
    ("type(np).__setattr__(np, 'allclose', f)", "__setattr__"),
    ("import threading", "imports threading"),
    ("import subprocess", "imports subprocess"),
    ("!cat ../../source/t1/t1.ipynb", "runs a shell command"),
    ("%%bash\nls", "cell magic %%bash"),
    ("%run other.py", "IPython magic %run"),
    ("np.allclose = (lambda *a: True\n", "assigns attributes of a library"),
    ("import pickle as pk\nx = 1\npk.loads(b'')", "calls `pk.loads` (the pickle module"),
    ("from os import system as run\nrun('ls')", "calls `run` (runs other programs)"),
    ("import numpy as xp\nxp.lib.npyio.load('w.npy')", "calls `xp.lib.npyio.load`"),
    ("w.tofile('w.bin')", "calls `w.tofile` (reads or writes files)"),
]


@pytest.mark.parametrize(("source", "expected"), TAMPERING)
def test_scan_code_flags(source, expected):
    """Each way of tampering is reported with a line number and a reason."""
    found = scan_code(source)
    assert found, source
    assert any(expected in reason for reason in found), found
    assert all(reason.startswith("line ") for reason in found)


@pytest.mark.parametrize(
    "source",
    [
        ANSWER,
        "import numpy as np\nimport minigrad as mg\nfrom minigrad.gradcheck import "
        "check_gradients",
        "from numpy import max, sum",
        "total = 0\nfor value in [1, 2]:\n    total = total + value\nsum = 0",
        "class Node:\n    def __init__(self, data):\n        self.data = data\n"
        "        self.grad = 0.0\n        setattr(self, 'label', '')",
        "%matplotlib inline\nimport matplotlib.pyplot as plt\nplt.plot([1, 2])",
        "%time x = sum(range(10))",
        "import warnings\nwarnings.warn('careful')",
        "def f(x):\n    \"\"\"Reads nothing from source/ or the gradebook.\"\"\"\n    return x",
        "x = np.maximum(np.array([1.0, -1.0]), 0.0)\ny = x.T @ x",
        "code = 'abc'\nlabel = code.strip()\nresource = {}\nresource.update(a=1)",
    ],
)
def test_scan_code_allows_honest_code(source):
    """Ordinary answers, imports of the course's libraries, docstrings and variables named
    like forbidden modules are not flagged."""
    assert scan_code(source) == []


@pytest.mark.parametrize("module", sorted(FORBIDDEN_IMPORTS))
def test_every_forbidden_import_is_reported(module):
    """Each entry of the import table is found in its three spellings, with its reason."""
    why = FORBIDDEN_IMPORTS[module]
    for source in (f"import {module}", f"import {module}.part as p", f"from {module} import x"):
        assert any(f"({why})" in r for r in scan_code(source)), (source, scan_code(source))


@pytest.mark.parametrize("pattern", sorted(FORBIDDEN_CALLS))
def test_every_forbidden_call_is_reported(pattern):
    """Each entry of the call table is found when called, a * standing for any name."""
    name = pattern.replace("*", "part")
    found = scan_code(f"{name}(1)")
    assert f"line 1: calls `{name}` ({FORBIDDEN_CALLS[pattern]})" in found, found


# --- reading and repairing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the file is empty"),
        (b"  \n", "the file is empty"),
        (b'{"cells": [', "truncated JSON"),
        (b"{ this is not json }", "invalid JSON"),
        (b"[1, 2]", "not a notebook: the JSON is a list"),
        (b"\xff\xfe\x00x", "not UTF-8"),
    ],
)
def test_read_submission_rejects(tmp_path, data, expected):
    """Files that are not notebook JSON are refused with the reason."""
    path = tmp_path / "t1.ipynb"
    path.write_bytes(data)
    raw, why = read_submission(path)
    assert raw is None
    assert expected in why


def _edit(raw: dict, grade_id: str, fn) -> dict:
    for cell in raw["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == grade_id:
            fn(cell)
    return raw


def _strip_all(raw):
    for cell in raw["cells"]:
        cell["metadata"].pop("nbgrader", None)
    return raw


def _duplicate_test(raw):
    cells = raw["cells"]
    index = next(i for i, c in enumerate(cells)
                 if c["metadata"].get("nbgrader", {}).get("grade_id") == "t1-cube-test")
    copy_ = copy.deepcopy(cells[index])
    copy_["id"] = "copy-of-test"
    copy_["source"] = "pass"
    cells.insert(index + 1, copy_)
    return raw


def _delete(raw, grade_ids):
    raw["cells"] = [c for c in raw["cells"]
                    if c["metadata"].get("nbgrader", {}).get("grade_id") not in grade_ids]
    return raw


def _same_ids(raw):
    raw["cells"][1]["id"] = raw["cells"][2]["id"] = "dup"
    return raw


REPAIRS = [
    ("edited test", lambda r: _edit(r, "t1-cube-test", lambda c: c.update(source="pass")),
     "the test cell was edited"),
    ("unlocked test", lambda r: _edit(r, "t1-cube-test", lambda c: c["metadata"]["nbgrader"]
                                      .update(locked=False, solution=True)),
     "solution True -> False"),
    ("changed points", lambda r: _edit(r, "t1-square-test", lambda c: c["metadata"]["nbgrader"]
                                       .update(points=100)),
     "points 100 -> 3"),
    ("changed schema", lambda r: _edit(r, "t1-cube", lambda c: c["metadata"]["nbgrader"]
                                       .update(schema_version=99)),
     "schema_version 99 -> 3"),
    ("changed cell type", lambda r: _edit(r, "t1-cube", lambda c: c.update(
        cell_type="markdown", outputs=None, execution_count=None) or c.pop("outputs")
        or c.pop("execution_count")),
     "cell type changed from code to markdown"),
    ("unknown cell type", lambda r: _edit(r, "t1-square-test",
                                          lambda c: c.update(cell_type="weird")),
     "unknown cell type 'weird'"),
    ("changed kernel", lambda r: r["metadata"].update(kernelspec={"name": "evil",
                                                                  "display_name": "x"}) or r,
     "kernel spec changed ('evil'"),
    ("deleted test", lambda r: _delete(r, {"t1-cube-test"}),
     "the test cell was missing"),
    ("deleted answer and test", lambda r: _delete(r, {"t1-square", "t1-square-test"}),
     "the answer cell is missing"),
    ("deleted setup", lambda r: _delete(r, {"t1-setup"}), "the locked cell was missing"),
    ("duplicated test", _duplicate_test, "duplicated (cell 4 is now a plain cell"),
    ("stripped metadata", _strip_all, "nbgrader metadata was missing or renamed"),
    ("renamed grade_id", lambda r: _edit(r, "t1-cube-test", lambda c: c["metadata"]["nbgrader"]
                                         .update(grade_id="mine")),
     "nbgrader metadata was missing or renamed"),
    ("renamed metadata key", lambda r: _edit(r, "t1-square", lambda c: c["metadata"].update(
        nbgrader_old=c["metadata"].pop("nbgrader"))),
     "nbgrader metadata was missing or renamed"),
    ("duplicate cell ids", _same_ids, "duplicate cell ids dup"),
    ("malformed metadata", lambda r: _edit(r, "t1-cube", lambda c: c.update(metadata=[])),
     "malformed metadata"),
    ("source as list", lambda r: _edit(r, "t1-cube", lambda c: c.update(
        source=ANSWER.splitlines(keepends=True))) or r, None),
]


@pytest.mark.parametrize(("case", "damage", "expected"), REPAIRS, ids=[r[0] for r in REPAIRS])
def test_repair_restores_the_release_structure(case, damage, expected):
    """A damaged notebook comes back valid, with the release's graded cells in order."""
    reference = _reference()
    nb, findings = repair_notebook(damage(_solution()), reference, "t1.ipynb")
    assert nb is not None, findings
    messages = [f.message for f in findings]
    if expected is None:
        assert findings == []
    else:
        assert any(expected in m for m in messages), messages
        assert {f.kind for f in findings} <= {Kind.REPAIRED}
    want = _ids(reference)
    if case == "deleted answer and test":
        want = [g for g in want if g != "t1-square"]
    assert _ids(nb) == want
    by_id = {c.metadata["nbgrader"]["grade_id"]: c for c in nb.cells if "nbgrader" in c.metadata}
    for rcell in reference.cells:
        gid = rcell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in by_id:
            assert by_id[gid].metadata["nbgrader"] == rcell.metadata["nbgrader"]
            assert by_id[gid].cell_type == rcell.cell_type
            if not rcell.metadata["nbgrader"]["solution"]:
                assert by_id[gid].source == rcell.source
    assert len({c["id"] for c in nb.cells}) == len(nb.cells)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    nbformat.validate(nb)


def test_repair_keeps_the_answers():
    """Relabelling a stripped notebook keeps the student's answers in the answer cells."""
    nb, _ = repair_notebook(_strip_all(_solution()), _reference(), "t1.ipynb")
    answers = {c.metadata["nbgrader"]["grade_id"]: c.source for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("solution")}
    assert answers == {"t1-cube": ANSWER, "t1-square": ANSWER2}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"nbformat": 5, "cells": []}, "nbformat is 5, expected 4"),
        ({"nbformat": 4, "cells": {}}, "there is no list of cells"),
        ({"cells": []}, "nbformat is None"),
    ],
)
def test_repair_refuses_what_is_not_a_notebook(raw, expected):
    """JSON that is not an nbformat-4 notebook is reported broken."""
    nb, findings = repair_notebook(raw, _reference(), "t1.ipynb")
    assert nb is None
    assert [f.kind for f in findings] == [Kind.BROKEN]
    assert expected in findings[0].message


def test_exercise_tests_names_the_next_exercise():
    """A flagged cell costs the tests that follow it, up to the next answer cell."""
    cells = _reference().cells
    assert exercise_tests(cells, 2) == ["t1-cube-test"]  # worked example before exercise 1
    assert exercise_tests(cells, 3) == ["t1-cube-test"]  # the answer cell itself
    assert exercise_tests(cells, 4) == ["t1-square-test"]
    assert exercise_tests(cells, 6) == []


# --- a course folder ----------------------------------------------------------------------------


def _course(tmp_path: Path, submissions: dict[str, bytes]) -> Course:
    course = Course(tmp_path / "course", tmp_path / "notebooks")
    (course.release_dir / ASSIGNMENT).mkdir(parents=True)
    nbformat.write(_reference(), str(course.release_dir / ASSIGNMENT / "t1.ipynb"))
    for student, data in submissions.items():
        folder = course.submitted_dir / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / "t1.ipynb").write_bytes(data)
        (folder / "timestamp.txt").write_text("2024-01-01 10:00:00")
    return course


def _tampered() -> bytes:
    raw = _solution()
    raw["cells"][3]["source"] = "import numpy as np\nnp.allclose = lambda *a, **k: True\n" + ANSWER
    return json.dumps(raw).encode()


def test_scan_submission_statuses_stage_and_quarantine(tmp_path):
    """ok, repaired, flagged and failed submissions are told apart, staged and quarantined."""
    course = _course(tmp_path, {
        "ann": json.dumps(_solution()).encode(),
        "ben": json.dumps(_strip_all(_solution())).encode(),
        "cy": _tampered(),
        "dee": b'{"cells": [',
    })
    scans = {s: scan_submission(course, ASSIGNMENT, s) for s in ("ann", "ben", "cy", "dee")}
    assert {s: scan.status for s, scan in scans.items()} == {
        "ann": Status.OK, "ben": Status.REPAIRED, "cy": Status.FLAGGED, "dee": Status.FAILED}
    cy = scans["cy"]
    assert any("assigns `np.allclose`" in r for r in cy.reasons(Kind.TAMPERING))
    assert list(cy.zero_cells) == ["t1-cube-test"]
    assert "truncated JSON" in scans["dee"].reasons(Kind.BROKEN)[0]

    staging = tmp_path / "staged"
    target = stage_submission(cy, course.submitted_dir, staging)
    staged = nbformat.read(str(target / "t1.ipynb"), 4)
    assert staged.cells[3].source.startswith(WITHHELD_MARK)
    assert "np.allclose = lambda" not in staged.cells[3].source
    assert (target / "timestamp.txt").read_text() == "2024-01-01 10:00:00"
    original = course.submitted_dir / "cy" / ASSIGNMENT / "t1.ipynb"
    assert b"np.allclose = lambda" in original.read_bytes()  # the submission is untouched

    kept = quarantine(course, cy)
    assert kept == course.course_dir / "quarantine" / "cy" / ASSIGNMENT
    assert (kept / "t1.ipynb").read_bytes() == original.read_bytes()
    assert "flagged" in (kept / "SCAN.txt").read_text()

    table = scan_table(list(scans.values()))
    assert "ann" not in table
    for student, status in (("ben", "repaired"), ("cy", "flagged"), ("dee", "failed")):
        assert any(line.split()[:3] == [student, ASSIGNMENT, status]
                   for line in table.splitlines()), table


def test_scan_reports_missing_and_extra_notebooks(tmp_path):
    """A missing released notebook is noted (it scores 0); an extra one is ignored."""
    course = _course(tmp_path, {"eve": json.dumps(_solution()).encode()})
    folder = course.submitted_dir / "eve" / ASSIGNMENT
    (folder / "t1.ipynb").rename(folder / "notes.ipynb")
    scan = scan_submission(course, ASSIGNMENT, "eve")
    messages = [f"{f.notebook}: {f.message}" for f in scan.all_findings()]
    assert "t1.ipynb: missing from the submission (scores 0)" in messages
    assert "notes.ipynb: not a released notebook (ignored by the grader)" in messages
    assert scan.status == Status.OK


# --- the sandbox plan ----------------------------------------------------------------------------


def test_kernel_plan_hides_the_course_and_copies_the_work_folder(tmp_path):
    """The plan hides the course, sources and gradebook; only the socket folder is writable,
    and the submission's regular files are copied in through descriptors, links refused."""
    course_dir = tmp_path / "course"
    work = course_dir / "autograded" / "ann" / ASSIGNMENT
    work.mkdir(parents=True)
    (course_dir / "gradebook.db").write_text("")
    notebooks = tmp_path / "notebooks"
    notebooks.mkdir()
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    plan = kernel_plan(course_dir=course_dir, notebooks_dir=notebooks, submission_dir=work,
                       run_dir=run_dir, db_url=f"sqlite:///{course_dir}/gradebook.db",
                       memory_mb=1024, cpu_seconds=60)
    hidden = plan.hidden
    assert "/tmp" in hidden or any(str(course_dir).startswith(h) for h in hidden)
    assert any(str(notebooks.resolve()).startswith(h) for h in hidden)
    assert plan.writable == [str(run_dir.resolve())]
    assert plan.files_from == str(work.resolve())
    assert not any(str(course_dir.resolve()).startswith(p) or p.startswith(
        str(course_dir.resolve())) for p in plan.read_only)
    assert plan.env["HOME"] == "/tmp/home" and "JPY_PARENT_PID" not in plan.env
    (work / "data").mkdir()
    (work / "data" / "x.txt").write_text("x")
    (work / "t1.ipynb").write_text("{}")
    (work / "link.ipynb").symlink_to(course_dir / "gradebook.db")
    os.mkfifo(work / "pipe")
    files = submission_files(str(work))
    try:
        assert sorted(rel for rel, _ in files) == ["data/x.txt", "t1.ipynb"]
        argv = bwrap_command(plan, ["python", "-m", "ipykernel_launcher"], files)
    finally:
        for _, fd in files:
            os.close(fd)
    assert argv[0] == "bwrap" and argv[-3:] == ["python", "-m", "ipykernel_launcher"]
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert flag in argv
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert binds == [str(run_dir.resolve())]
    copied = [argv[i + 2] for i, a in enumerate(argv) if a == "--file"]
    assert sorted(copied) == [f"{KERNEL_WORK}/data/x.txt", f"{KERNEL_WORK}/t1.ipynb"]
    assert argv[argv.index("--chdir") + 1] == KERNEL_WORK
