"""Student kit: one zip per released assignment, for a course without a hub.

Each zip holds the assignment's released notebooks (solutions and hidden tests removed by
``release``), a README.txt for students, and the course's wheel, which carries ``minigrad``
(and the instructor's ``autograder`` package, which holds no answers: the solutions and
hidden tests live in ``notebooks/`` and ``course/``, never in the wheel).

The wheel is built once per run with ``pip wheel --no-deps --no-build-isolation`` from a
copy of the checkout without its generated folders: setuptools reuses ``build/`` in the
folder it builds in, and a file deleted from the package since the last build would
otherwise still ship.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from .course import Course, PipelineError, pick_assignments

__all__ = ["KIT_DIR_NAME", "build_wheel", "student_readme", "write_kits"]

KIT_DIR_NAME = "student-kit"

# not part of the package: version control, environments, caches, generated course folders
_NOT_COPIED = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__",
                                     "course", "demo-output")


def build_wheel(project_root: Path, out_dir: Path) -> Path:
    """Build the project's wheel into ``out_dir`` (offline, with the running interpreter's
    setuptools) and return its path. PipelineError with pip's last lines when it fails."""
    project_root = Path(project_root)
    if not (project_root / "pyproject.toml").is_file():
        raise PipelineError(f"no pyproject.toml in {project_root}: the wheel is built from "
                            "the project checkout")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="studentkit-") as scratch:
        tree = Path(scratch) / "project"
        shutil.copytree(project_root, tree, ignore=_NOT_COPIED)
        done = subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
             "--no-index", "--quiet", "-w", str(out_dir), str(tree)],
            capture_output=True, text=True)
    wheels = sorted(out_dir.glob("*.whl"))
    if done.returncode != 0 or len(wheels) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-8:])
        raise PipelineError(
            f"pip wheel must build one wheel of {project_root} (exit status "
            f"{done.returncode}, {len(wheels)} wheel(s)); the build needs setuptools>=70.1 "
            f"(`pip install -e '.[dev]'`):\n{tail}")
    return wheels[0]


def student_readme(assignment: str, notebooks: list[str], wheel_name: str) -> str:
    """The README.txt of an assignment's kit."""
    listed = "\n".join(f"    {name}" for name in notebooks)
    return f"""\
{assignment}: what is in this folder and how to work on it
{'=' * (len(assignment) + 44)}

The notebooks of this assignment:
{listed}
and {wheel_name}, the course's Python package (minigrad and its tools).

1. Install (once, with Python 3.10 or newer), from this folder:

    python3 -m venv .venv
    .venv/bin/pip install ./{wheel_name}

   (on Windows: py -m venv .venv, then .venv\\Scripts\\pip install ./{wheel_name}).
   This installs minigrad, JupyterLab and nbgrader.

2. Open the notebooks:

    .venv/bin/jupyter lab

   Replace each `raise NotImplementedError()` with your code. Do not delete, copy or
   rename cells; the test cells are read-only.

3. Check your work. The test cell below each exercise says what is wrong when it fails:
   which function, which input, what must hold and what your code returned. The Validate
   button in the notebook's toolbar runs every test cell of the notebook; from a shell:

    .venv/bin/nbgrader validate {notebooks[0]}

   Passing the visible tests does not guarantee full marks: your instructor grades each
   exercise with more tests.

4. Hand in: save, then submit each .ipynb file above, with its name unchanged, the way
   your instructor says (for example an upload to the course's learning platform).
"""


def write_kits(course: Course, project_root: Path, assignments: list[str] | None = None,
               out_dir: Path | None = None) -> list[Path]:
    """Write ``<out_dir>/<assignment>.zip`` for each released assignment (default: all) and
    return their paths; ``out_dir`` defaults to ``course/student-kit``."""
    wanted = pick_assignments(assignments, course.released_assignments(), "released notebooks",
                              course.release_dir, fix="python -m autograder release")
    out_dir = Path(out_dir or course.course_dir / KIT_DIR_NAME)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory(prefix="studentkit-wheel-") as wheel_dir:
        wheel = build_wheel(project_root, Path(wheel_dir))
        for assignment in wanted:
            folder = course.release_dir / assignment
            files = sorted(p for p in folder.rglob("*") if p.is_file()
                           and not any(part.startswith(".")
                                       for part in p.relative_to(folder).parts))
            notebooks = [p.name for p in files if p.suffix == ".ipynb"]
            target = out_dir / f"{assignment}.zip"
            with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as kit:
                for path in files:
                    kit.write(path, f"{assignment}/{path.relative_to(folder).as_posix()}")
                kit.write(wheel, f"{assignment}/{wheel.name}")
                kit.writestr(f"{assignment}/README.txt",
                             student_readme(assignment, notebooks, wheel.name))
            written.append(target)
    return written
