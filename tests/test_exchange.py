"""Tests for the instructor's side of nbgrader's exchange (``release --exchange``,
``collect --exchange``, ``feedback --release``) on the tiny fixture assignment.

Two students, simulated with nbgrader's own student-side exchange classes in folders of
their own (same OS user, ``student_id`` given explicitly), fetch, submit (one of them
twice) and fetch their feedback; the instructor's side goes through the command line.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from nbgrader.auth import Authenticator
from nbgrader.coursedir import CourseDirectory
from nbgrader.exchange.default import (
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeSubmit,
)
from traitlets.config import Config

from autograder.cli import main
from autograder.course import Course
from autograder.samples import solution_source

pytestmark = [pytest.mark.grading, pytest.mark.usefixtures("restore_environ")]

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"


def _course(tmp_path: Path) -> Course:
    """The fixture course; its students are folders run as this user, not OS users, so
    nbgrader's owner check (which sets such submissions aside) is off."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    with course.config_path.open("a") as fh:
        fh.write("\nc.ExchangeCollect.check_owner = False\n")
    return course


def _published(tmp_path: Path, exchange: Path) -> tuple[Course, str, list[str]]:
    """The fixture course built and released to ``exchange``; its id, and the options that
    name the course and the exchange."""
    course = _course(tmp_path)
    common = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS),
              "--exchange-root", str(exchange)]
    assert main(["build", *common[:4]]) == 0
    assert main(["release", "--exchange", *common]) == 0
    return course, course.course_id(), common


def _student(cls, student: str, home: Path, root: Path, course_id: str):
    """Run one of nbgrader's student-side exchange apps as ``student`` working in ``home``."""
    cfg = Config()
    cfg.Exchange.root = str(root)
    cfg.Exchange.assignment_dir = str(home)
    cfg.Exchange.cache = str(home / ".nbgrader_cache")
    cfg.Exchange.path_includes_course = False
    cfg.CourseDirectory.course_id = course_id
    cfg.CourseDirectory.assignment_id = ASSIGNMENT
    cfg.CourseDirectory.student_id = student
    app = cls(coursedir=CourseDirectory(config=cfg), authenticator=Authenticator(config=cfg),
              config=cfg)
    app.start()
    return app


def _solve(notebook: Path, source: Path) -> None:
    """Put the source notebook's solutions into the fetched notebook's answer cells."""
    nb = json.loads(notebook.read_text())
    solutions = {
        c["metadata"]["nbgrader"]["grade_id"]: solution_source("".join(c["source"]))
        for c in json.loads(source.read_text())["cells"]
        if c["metadata"].get("nbgrader", {}).get("solution")
    }
    for cell in nb["cells"]:
        grade_id = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell["source"] = solutions[grade_id]
    notebook.write_text(json.dumps(nb))


def _timestamp(folder: Path) -> str:
    return (folder / "timestamp.txt").read_text().strip()


@pytest.fixture
def exchange(tmp_path) -> Path:
    root = tmp_path / "exchange"
    root.mkdir()
    os.chmod(root, 0o1777)
    return root


def test_release_needs_a_writable_exchange_root(tmp_path, capsys):
    """release --exchange with no exchange root: exit 1, saying what to create and how."""
    course = _course(tmp_path)
    common = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["build", *common]) == 0
    missing = tmp_path / "no-exchange"
    assert main(["release", "--exchange", "--exchange-root", str(missing), *common]) == 1
    err = capsys.readouterr().err
    assert f"the exchange root {missing} must be a folder everyone can write to" in err
    assert "(got: no such folder)" in err and f"chmod 1777 {missing}" in err
    assert not missing.exists()
    assert not course.release_dir.exists()  # checked before anything was released


def test_a_term_through_the_exchange(tmp_path, exchange, capsys):
    """Publish, two students submit (one twice), collect keeps the latest with its timestamp,
    grade, release feedback; each student fetches their own feedback and nobody else's."""
    course, course_id, common = _published(tmp_path, exchange)
    assert f"published {ASSIGNMENT} to the exchange: {exchange / course_id}" in \
        capsys.readouterr().out
    assert (exchange / course_id / "outbound" / ASSIGNMENT / NOTEBOOK).is_file()

    homes = {s: tmp_path / s for s in ("ada", "bob")}
    for student, home in homes.items():
        home.mkdir()
        _student(ExchangeFetchAssignment, student, home, exchange, course_id)
    # ada hands in the blank release first and is collected
    _student(ExchangeSubmit, "ada", homes["ada"], exchange, course_id)
    assert main(["collect", "--exchange", *common]) == 0
    out = capsys.readouterr().out
    first = _timestamp(course.submitted_dir / "ada" / ASSIGNMENT)
    assert f"{ASSIGNMENT}: ada: {first} (collected)" in out

    # then ada submits her solution; bob hands in the blank release
    _solve(homes["ada"] / ASSIGNMENT / NOTEBOOK, course.source_dir / ASSIGNMENT / NOTEBOOK)
    _student(ExchangeSubmit, "ada", homes["ada"], exchange, course_id)
    _student(ExchangeSubmit, "bob", homes["bob"], exchange, course_id)
    assert main(["collect", "--exchange", ASSIGNMENT, *common]) == 0
    out = capsys.readouterr().out
    latest = _timestamp(course.submitted_dir / "ada" / ASSIGNMENT)
    assert latest > first
    assert f"ada: {latest} (replaced the copy submitted {first})" in out
    assert re.search(r"bob: \S+ \S+ UTC \(collected\)", out)
    assert "2 student(s) in the exchange" in out
    # nothing newer: collecting again changes nothing
    assert main(["collect", "--exchange", *common]) == 0
    assert f"ada: {latest} (unchanged)" in capsys.readouterr().out

    assert main(["grade", ASSIGNMENT, "--jobs", "2", "--no-progress", *common[:4]]) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^ada\s+{ASSIGNMENT}\s+graded\s+5/5", out, re.M), out
    assert re.search(rf"^bob\s+{ASSIGNMENT}\s+graded\s+0/5", out, re.M), out

    assert main(["feedback", "--release", *common]) == 0
    assert f"{ASSIGNMENT}: feedback released to the exchange" in capsys.readouterr().out
    for student, home in homes.items():
        _student(ExchangeFetchFeedback, student, home, exchange, course_id)
        fetched = sorted((home / ASSIGNMENT / "feedback").glob("*/*.html"))
        # one page, for the submission that was graded, identical to that student's feedback
        assert [p.relative_to(home / ASSIGNMENT / "feedback") for p in fetched] == \
            [Path(_timestamp(course.submitted_dir / student / ASSIGNMENT)) / "f1_tiny.html"]
        own = course.feedback_dir / student / ASSIGNMENT / "f1_tiny.html"
        assert fetched[0].read_bytes() == own.read_bytes()
    ada, bob = (next((h / ASSIGNMENT / "feedback").glob("*/*.html")).read_bytes()
                for h in homes.values())
    assert ada != bob


def test_collect_never_replaces_a_newer_or_an_untimed_copy(tmp_path, exchange, capsys):
    """A collected copy newer than the exchange's latest, or one with no timestamp.txt (an
    LMS import), is kept and named; publishing again replaces the exchange's copy."""
    course, course_id, common = _published(tmp_path, exchange)
    assert main(["release", "--exchange", *common]) == 0
    for student in ("ada", "bob"):
        home = tmp_path / student
        home.mkdir()
        _student(ExchangeFetchAssignment, student, home, exchange, course_id)
        _student(ExchangeSubmit, student, home, exchange, course_id)
    newer = course.submitted_dir / "ada" / ASSIGNMENT
    newer.mkdir(parents=True)
    (newer / NOTEBOOK).write_text("{}")
    (newer / "timestamp.txt").write_text("2999-01-01 00:00:00.000000 UTC")
    untimed = course.submitted_dir / "bob" / ASSIGNMENT
    untimed.mkdir(parents=True)
    (untimed / NOTEBOOK).write_text("{}")
    capsys.readouterr()

    assert main(["collect", "--exchange", ASSIGNMENT, *common]) == 0
    out = capsys.readouterr().out
    assert "ada: 2999-01-01 00:00:00.000000 UTC (kept: the collected copy is newer" in out
    assert f"bob: no timestamp (kept: {untimed} has no timestamp.txt" in out
    for folder in (newer, untimed):
        assert (folder / NOTEBOOK).read_text() == "{}"
