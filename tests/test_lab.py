"""Tests for autograder.lab: the JupyterLab command line and environment for the student
release, checked without starting JupyterLab."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from autograder import lab
from autograder.course import Course, PipelineError

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"


@pytest.fixture
def course(tmp_path):
    """A course whose release holds one notebook (an empty file: nothing here reads it)."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    (course.release_dir / "f1_tiny").mkdir(parents=True)
    (course.release_dir / "f1_tiny" / "f1_tiny.ipynb").write_text("{}")
    return course


def test_lab_command_refuses_a_course_with_nothing_released(tmp_path):
    """No released notebook: PipelineError naming the release folder and what to run."""
    empty = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    with pytest.raises(PipelineError, match=f"nothing released in {empty.release_dir}: run "
                                            "`python -m autograder build`"):
        lab.lab_command(empty)


def test_lab_command_serves_the_release_with_validate_only(course, monkeypatch):
    """The command serves the release on localhost with Validate on and the instructor
    extensions off, with no news or update checks."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    cmd = lab.lab_command(course, port=9999, open_browser=True)
    assert cmd[1:4] == ["-m", "jupyter", "lab"]
    assert f"--ServerApp.root_dir={course.release_dir}" in cmd
    assert {"--ServerApp.port=9999", "--ServerApp.ip=127.0.0.1",
            "--ServerApp.open_browser=True", "--LabApp.news_url=None"} <= set(cmd)
    extensions = dict(arg.split("=", 1)[1].split("=") for arg in cmd
                      if arg.startswith("--ServerApp.jpserver_extensions="))
    assert extensions == {
        "nbgrader.server_extensions.validate_assignment": "True",
        "nbgrader.server_extensions.formgrader": "False",
        "nbgrader.server_extensions.assignment_list": "False",
        "nbgrader.server_extensions.course_list": "False",
    }
    assert "--ServerApp.allow_root=True" not in cmd


def test_lab_command_allows_root_only_as_root(course, monkeypatch):
    """Run as root (a container), the server is told it may."""
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert lab.lab_command(course)[-1] == "--ServerApp.allow_root=True"


def test_lab_environment_hides_the_instructor_plugins(course, monkeypatch):
    """The page settings disable nbgrader's instructor plugins (not Validate) and the news
    prompt, and the config folder comes first on JUPYTER_CONFIG_PATH, before any given one."""
    monkeypatch.setenv("JUPYTER_CONFIG_PATH", "/elsewhere")
    env = lab.lab_environment(course)
    config = course.course_dir / lab.LAB_CONFIG_DIR
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep) == [str(config), "/elsewhere"]
    page = json.loads((config / "labconfig" / "page_config.json").read_text())
    disabled = page["disabledExtensions"]
    assert disabled["@jupyter/nbgrader:create-assignment"] is True
    assert disabled["@jupyterlab/apputils-extension:announcements"] is True
    assert not any("validate" in name for name in disabled)
    monkeypatch.delenv("JUPYTER_CONFIG_PATH")
    assert lab.lab_environment(course)["JUPYTER_CONFIG_PATH"] == str(config)


def test_the_grader_lab_serves_the_course_with_the_formgrader(course):
    """`make grade-ui`: the course folder with the formgrader on and the student lists off,
    its own page settings (formgrader shown), the gradebook given by --db; nothing graded
    yet is refused, naming the command to run first."""
    with pytest.raises(PipelineError, match="nothing graded in .*autograded: run "
                                            "`python -m autograder grade` first"):
        lab.lab_command(course, grader=True)
    (course.course_dir / "autograded").mkdir()
    course = Course(course.course_dir, course.notebooks_dir, "sqlite:////elsewhere/gb.db")
    cmd = lab.lab_command(course, port=9998, grader=True)
    assert f"--ServerApp.root_dir={course.course_dir}" in cmd
    assert "--CourseDirectory.db_url=sqlite:////elsewhere/gb.db" in cmd
    extensions = dict(arg.split("=", 1)[1].split("=") for arg in cmd
                      if arg.startswith("--ServerApp.jpserver_extensions="))
    assert extensions["nbgrader.server_extensions.formgrader"] == "True"
    assert extensions["nbgrader.server_extensions.assignment_list"] == "False"
    env = lab.lab_environment(course, grader=True)
    config = course.course_dir / lab.GRADER_CONFIG_DIR
    assert env["JUPYTER_CONFIG_PATH"].split(os.pathsep)[0] == str(config)
    page = json.loads((config / "labconfig" / "page_config.json").read_text())
    assert "@jupyter/nbgrader:formgrader" not in page["disabledExtensions"]
    assert page["disabledExtensions"]["@jupyter/nbgrader:assignment-list"] is True


def test_run_lab_dry_run_prints_the_command_only(course, monkeypatch):
    """--dry-run prints the command and starts nothing."""
    monkeypatch.setattr(lab.subprocess, "call", lambda *a, **k: pytest.fail("started"))
    lines: list[str] = []
    assert lab.run_lab(course, port=8123, dry_run=True, say=lines.append) == 0
    assert lines == [" ".join(lab.lab_command(course, 8123))]


def test_run_lab_starts_the_server_in_the_course_folder(course, monkeypatch):
    """Without --dry-run the server runs from the course folder with the lab environment,
    its exit status is returned, and Ctrl-C is a normal stop."""
    calls = []

    def call(cmd, cwd, env):
        calls.append((cmd, cwd, env))
        return 3

    monkeypatch.setattr(lab.subprocess, "call", call)
    lines: list[str] = []
    assert lab.run_lab(course, port=8124, say=lines.append) == 3
    cmd, cwd, env = calls[0]
    assert cmd == lab.lab_command(course, 8124)
    assert cwd == str(course.course_dir)
    assert env["JUPYTER_CONFIG_PATH"].startswith(str(course.course_dir / lab.LAB_CONFIG_DIR))
    assert f"JupyterLab on the student release {course.release_dir}" in lines
    assert any("http://127.0.0.1:8124/lab" in line for line in lines)

    def interrupted(cmd, cwd, env):
        raise KeyboardInterrupt

    monkeypatch.setattr(lab.subprocess, "call", interrupted)
    assert lab.run_lab(course, say=lambda line: None) == 0
