"""Lab: JupyterLab on the student release, with nbgrader's Validate button.

The server runs from the course folder, so nbgrader's validate extension reads
``course/nbgrader_config.py`` (forced kernel, timeouts) when a student presses Validate;
notebooks are served from ``course/release``. The instructor-only extensions (formgrader,
course and assignment lists, which need an exchange) are switched off for this server, on the
server side and in the page (no Create Assignment side bar, no Nbgrader menu): the page
settings (which also drop JupyterLab's news prompt) are written to
``course/.lab/labconfig/page_config.json``, which the server finds
through ``JUPYTER_CONFIG_PATH`` (see :func:`lab_environment`).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .course import Course, PipelineError, grading_environment

__all__ = ["lab_command", "lab_environment", "run_lab"]

_EXTENSIONS = {
    "nbgrader.server_extensions.validate_assignment": True,
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
}

# JupyterLab plugins of nbgrader's lab extension a student has no use for; Validate stays
_HIDDEN_PLUGINS = (
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyter/nbgrader:menu",
    # and JupyterLab's "get notified about Jupyter news?" prompt, a distraction in class
    "@jupyterlab/apputils-extension:announcements",
)
LAB_CONFIG_DIR = ".lab"  # in the course folder, generated


def lab_environment(course: Course) -> dict[str, str]:
    """The environment for :func:`lab_command`: the grading one, plus the page settings
    that hide nbgrader's instructor plugins (written afresh into the course folder)."""
    config = course.course_dir / LAB_CONFIG_DIR
    page = config / "labconfig" / "page_config.json"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(json.dumps({"disabledExtensions": dict.fromkeys(_HIDDEN_PLUGINS, True)},
                               indent=1) + "\n")
    env = grading_environment()
    extra = env.get("JUPYTER_CONFIG_PATH")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config)] + ([extra] if extra else []))
    return env


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
    env = lab_environment(course)
    try:
        return subprocess.call(cmd, cwd=str(course.course_dir), env=env)
    except KeyboardInterrupt:
        return 0
