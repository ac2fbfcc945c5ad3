"""Lab: JupyterLab on the student release, with nbgrader's Validate button; or, for grading
written answers by hand (``grader``), JupyterLab on the course folder with the formgrader.

The server runs from the course folder, so nbgrader's validate extension reads
``course/nbgrader_config.py`` (forced kernel, timeouts) when a student presses Validate;
notebooks are served from ``course/release``. The instructor-only extensions (formgrader,
course and assignment lists, which need an exchange) are switched off for this server, on the
server side and in the page (no Create Assignment side bar, no Nbgrader menu): the page
settings (which also drop JupyterLab's news prompt) are written to
``course/.lab/labconfig/page_config.json``, which the server finds
through ``JUPYTER_CONFIG_PATH`` (see :func:`lab_environment`).

The grader's server (``make grade-ui``) serves the course folder with nbgrader's formgrader
on and the student's Assignment and Course lists off (they need an exchange); its page
settings go to ``course/.lab-grader``. Formgrader reads the course's nbgrader_config.py and
gradebook (``--db`` is passed on as ``CourseDirectory.db_url``); its totals are nbgrader's,
the autograded score plus the points given by hand.
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
# the grader's server: the formgrader, no student lists (they need an exchange)
_GRADER_EXTENSIONS = {**_EXTENSIONS, "nbgrader.server_extensions.formgrader": True}
_GRADER_HIDDEN_PLUGINS = (
    "@jupyter/nbgrader:assignment-list",
    "@jupyter/nbgrader:course-list",
    "@jupyterlab/apputils-extension:announcements",
)
LAB_CONFIG_DIR = ".lab"  # in the course folder, generated
GRADER_CONFIG_DIR = ".lab-grader"


def lab_environment(course: Course, grader: bool = False) -> dict[str, str]:
    """The environment for :func:`lab_command`: the grading one, plus the page settings
    that hide nbgrader's plugins the server's user has no use for (written afresh into the
    course folder)."""
    config = course.course_dir / (GRADER_CONFIG_DIR if grader else LAB_CONFIG_DIR)
    hidden = _GRADER_HIDDEN_PLUGINS if grader else _HIDDEN_PLUGINS
    page = config / "labconfig" / "page_config.json"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(json.dumps({"disabledExtensions": dict.fromkeys(hidden, True)},
                               indent=1) + "\n")
    env = grading_environment()
    extra = env.get("JUPYTER_CONFIG_PATH")
    env["JUPYTER_CONFIG_PATH"] = os.pathsep.join([str(config)] + ([extra] if extra else []))
    return env


def lab_command(course: Course, port: int = 8888, open_browser: bool = False,
                grader: bool = False) -> list[str]:
    """The ``jupyter lab`` command line serving the release with the Validate button
    (``grader``: the course folder with the formgrader)."""
    if grader and not (course.course_dir / "autograded").is_dir():
        raise PipelineError(
            f"nothing graded in {course.course_dir / 'autograded'}: run `python -m autograder "
            "grade` first; formgrader grades by hand what autograde has graded")
    if not grader and not course.released_assignments():
        raise PipelineError(
            f"nothing released in {course.release_dir}: run `python -m autograder build` and "
            "`python -m autograder release` first (or `make lab`)"
        )
    cmd = [
        sys.executable, "-m", "jupyter", "lab",
        f"--ServerApp.root_dir={course.course_dir if grader else course.release_dir}",
        f"--ServerApp.port={port}",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.open_browser={open_browser}",
        # no news feed or update check: course machines are often offline
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    extensions = _GRADER_EXTENSIONS if grader else _EXTENSIONS
    cmd += [f"--ServerApp.jpserver_extensions={name}={on}" for name, on in extensions.items()]
    if grader and course.gradebook_url:
        cmd.append(f"--CourseDirectory.db_url={course.gradebook_url}")
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--ServerApp.allow_root=True")  # containers often run as root
    return cmd


def run_lab(course: Course, port: int = 8888, open_browser: bool = False, dry_run: bool = False,
            say=print, grader: bool = False) -> int:
    """Start JupyterLab (blocks until it stops); with ``dry_run`` only print the command."""
    cmd = lab_command(course, port, open_browser, grader)
    if dry_run:
        say(" ".join(cmd))
        return 0
    if grader:
        say(f"JupyterLab on the course {course.course_dir}, with nbgrader's formgrader")
        say(f"open http://127.0.0.1:{port}/formgrader (add the token printed below: "
            "?token=...); Manual Grading lists the answers to grade by hand, each with its "
            "rubric under it; Ctrl-C stops the server")
    else:
        say(f"JupyterLab on the student release {course.release_dir}")
        say(f"open http://127.0.0.1:{port}/lab (the full URL with its token is printed "
            "below); press Validate in a notebook's toolbar to run its tests; Ctrl-C stops "
            "the server")
    env = lab_environment(course, grader)
    try:
        return subprocess.call(cmd, cwd=str(course.course_dir), env=env)
    except KeyboardInterrupt:
        return 0
