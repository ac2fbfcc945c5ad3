"""Lab: JupyterLab on the student release, with nbgrader's Validate button.

The server runs from the course folder, so nbgrader's validate extension reads
``course/nbgrader_config.py`` (forced kernel, timeouts) when a student presses Validate;
notebooks are served from ``course/release``. The instructor-only extensions (formgrader,
course and assignment lists, which need an exchange) are switched off for this server.
"""

from __future__ import annotations

import os
import subprocess
import sys

from .course import Course, PipelineError, grading_environment

__all__ = ["lab_command", "run_lab"]

_EXTENSIONS = {
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
}


def lab_command(course: Course, port: int = 8888, open_browser: bool = False) -> list[str]:
    """The ``jupyter lab`` command line serving the release with the Validate button."""
    if not course.released_assignments():
        raise PipelineError(
            f"nothing released in {course.release_dir}: run `python -m autograder build` and "
            "`python -m autograder release` first (or `make lab`)"
        )
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={course.release_dir}",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.open_browser={open_browser}",
        # no news feed or update check: course machines are often offline
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    cmd += [f"--ServerApp.jpserver_extensions={name}={on}" for name, on in _EXTENSIONS.items()]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers often run as root
    return cmd


def run_lab(course: Course, port: int = 8888, open_browser: bool = False, dry_run: bool = False,
            say=print) -> int:
    """Start JupyterLab (blocks until it stops); with ``dry_run`` only print the command."""
    cmd = lab_command(course, port, open_browser)
    if dry_run:
        say(" ".join(cmd))
        return 0
    say(f"JupyterLab on the student release {course.release_dir}")
    say(f"open http://127.0.0.1:{port}/lab (the full URL with its token is printed below); "
        "press Validate in a notebook's toolbar to run its tests; Ctrl-C stops the server")
    env = grading_environment()
    try:
        return subprocess.call(cmd, cwd=str(course.course_dir), env=env)
    except KeyboardInterrupt:
        return 0
