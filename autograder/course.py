"""Where the course lives, how nbgrader is configured for it, and the grading environment.

A :class:`Course` ties together three folders: the notebook sources (``notebooks/``), the
nbgrader course root (``course/``, holding ``nbgrader_config.py``) and the generated folders
nbgrader works in under that root. Every command builds one and hands it around.

The gradebook is the course's sqlite file (``course/gradebook.db``) unless a URL says
otherwise, first match wins: the course's ``gradebook_url`` (what ``--db`` gives, see
:func:`autograder.config.gradebook_url`), then ``c.CourseDirectory.db_url`` in
``nbgrader_config.py``. A PostgreSQL URL (``postgresql://user@host/db``) lets several graders
or machines share one gradebook.

Reading a course never writes to it: :meth:`Course.at` refuses a folder without
``nbgrader_config.py``; :meth:`Course.create` (build, and the scratch courses of check, demo
and selfgrade) copies the project's configuration in.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .config import GRADEBOOK_ENV  # noqa: F401  (its old home; read only in config.py)

__all__ = [
    "CONFIG_NAME",
    "Course",
    "PipelineError",
    "default_paths",
    "display_url",
    "grading_environment",
    "kernel_python",
    "nbgrader_steps",
    "normalize_db_url",
    "pick_assignments",
    "trusted_sys_path",
]

CONFIG_NAME = "nbgrader_config.py"
_PACKAGE_PARENT = Path(__file__).resolve().parent.parent


class PipelineError(Exception):
    """A failure the instructor can act on; the message says what must hold and what was found."""


def pick_assignments(wanted, available, what: str, where, fix: str = "") -> list[str]:
    """The assignments a command works on: ``wanted`` (all of ``available`` when empty).

    Raises PipelineError when one is missing or there is none, naming ``what`` was looked
    for, ``where``, what was found there and (``fix``) the command that makes it.
    """
    available = sorted(available)
    chosen = list(wanted or available)
    missing = [a for a in chosen if a not in available]
    if missing or not chosen:
        found = ", ".join(available) or "none"
        hint = f"; run `{fix}` first" if fix else ""
        raise PipelineError(
            f"no {what} for {', '.join(missing) or 'any assignment'} in {where} "
            f"(found: {found}){hint}")
    return chosen


def nbgrader_steps(cfg, converter, trait: str, swap: dict | None = None,
                   last: tuple = ()) -> None:
    """Set the preprocessor list ``trait`` of nbgrader's ``converter`` class in ``cfg``: the
    course's own list (nbgrader's default when it sets none), each class of ``swap``
    replaced by its value, and the classes of ``last`` moved or added to the end."""
    section = cfg[converter.__name__]
    if trait in section:
        steps = list(section[trait])
    else:
        steps = converter.class_traits()[trait].default()
    steps = [(swap or {}).get(p, p) for p in steps if p not in last]
    section[trait] = steps + list(last)


def _project_root() -> Path:
    """The checkout holding ``course/`` and ``notebooks/``: the working folder, else ours."""
    cwd = Path.cwd()
    if (cwd / "course" / CONFIG_NAME).is_file():
        return cwd
    return _PACKAGE_PARENT


def normalize_db_url(url: str) -> str:
    """A gradebook URL SQLAlchemy can open with the installed PostgreSQL driver.

    ``postgres://`` (the Heroku spelling) becomes ``postgresql://``; a PostgreSQL URL that
    names no driver gets psycopg2 when it is installed (SQLAlchemy 2.1 would otherwise
    import psycopg 3). Other URLs are returned unchanged.
    """
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql"):
        return url
    import importlib.util

    for module, driver in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return f"postgresql+{driver}://{rest}"
    raise PipelineError(
        "a PostgreSQL gradebook needs a driver: pip install psycopg2-binary "
        f"(the project's `postgres` extra); got {display_url(url)}"
    )


def display_url(url: str) -> str:
    """The URL with its password replaced by ``***``, for messages."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        scheme, sep, _ = url.partition("://")
        return f"{scheme}://..." if sep else "(an unreadable gradebook URL)"


def default_paths() -> tuple[Path, Path]:
    """Default (course_dir, notebooks_dir) of this checkout."""
    root = _project_root()
    return root / "course", root / "notebooks"


def template_config() -> Path:
    """The project's ``course/nbgrader_config.py``, copied into scratch courses."""
    path = _project_root() / "course" / CONFIG_NAME
    if not path.is_file():
        path = _PACKAGE_PARENT / "course" / CONFIG_NAME
    if not path.is_file():
        raise PipelineError(
            f"the course configuration course/{CONFIG_NAME} is missing "
            f"(looked in {_project_root()} and {_PACKAGE_PARENT})"
        )
    return path


@dataclass(frozen=True)
class Course:
    """An nbgrader course root plus the folder of jupytext notebook sources.

    ``gradebook_url``: a gradebook that overrides the config's ``db_url`` ('' keeps it)."""

    course_dir: Path
    notebooks_dir: Path
    gradebook_url: str = ""

    @classmethod
    def at(cls, course_dir: str | Path | None = None, notebooks_dir: str | Path | None = None,
           gradebook_url: str = "") -> Course:
        """The course at ``course_dir`` (default ``course/``); PipelineError when the folder
        holds no nbgrader_config.py. Nothing is written."""
        course = cls._paths(course_dir, notebooks_dir, gradebook_url)
        if not course.config_path.is_file():
            raise PipelineError(
                f"{course.course_dir} is not a course folder: it has no {CONFIG_NAME} "
                "(run `python -m autograder build` to make the course there, or fix --course-dir)")
        return course

    @classmethod
    def create(cls, course_dir: str | Path | None = None,
               notebooks_dir: str | Path | None = None, gradebook_url: str = "") -> Course:
        """The course at ``course_dir``, made there when missing: the folder, and a copy of the
        project's nbgrader_config.py when it has none."""
        course = cls._paths(course_dir, notebooks_dir, gradebook_url)
        if not course.config_path.is_file():
            course.course_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(template_config(), course.config_path)
        return course

    @classmethod
    def _paths(cls, course_dir, notebooks_dir, gradebook_url: str) -> Course:
        default_course, default_notebooks = default_paths()
        return cls(Path(course_dir or default_course).resolve(),
                   Path(notebooks_dir or default_notebooks).resolve(), gradebook_url.strip())

    # folders nbgrader uses (its defaults, relative to the root)
    @property
    def source_dir(self) -> Path:
        return self.course_dir / "source"

    @property
    def release_dir(self) -> Path:
        return self.course_dir / "release"

    @property
    def submitted_dir(self) -> Path:
        return self.course_dir / "submitted"

    @property
    def autograded_dir(self) -> Path:
        return self.course_dir / "autograded"

    @property
    def feedback_dir(self) -> Path:
        return self.course_dir / "feedback"

    @property
    def judge_dir(self) -> Path:
        """The hidden tests, written by ``build``, read only by the grading process."""
        return self.course_dir / "judge"

    @property
    def reports_dir(self) -> Path:
        return self.course_dir / "reports"

    @property
    def config_path(self) -> Path:
        return self.course_dir / CONFIG_NAME

    def config(self):
        """The traitlets Config of this course, with the root pinned to ``course_dir``."""
        from traitlets.config.loader import PyFileConfigLoader

        loader = PyFileConfigLoader(CONFIG_NAME, path=str(self.course_dir))
        try:
            cfg = loader.load_config()
        except Exception as exc:  # a broken config file is the instructor's to fix
            raise PipelineError(f"could not load {self.config_path}: {exc}") from exc
        cfg.CourseDirectory.root = str(self.course_dir)
        if self.gradebook_url:
            cfg.CourseDirectory.db_url = self.gradebook_url
        if cfg.CourseDirectory.get("db_url"):
            cfg.CourseDirectory.db_url = normalize_db_url(cfg.CourseDirectory.db_url)
        from .feedback import feedback_config

        feedback_config(cfg)
        return cfg

    def api(self):
        """nbgrader's NbGraderAPI for this course."""
        from nbgrader.apps import NbGraderAPI
        from nbgrader.coursedir import CourseDirectory

        apply_grading_environment()
        cfg = self.config()
        coursedir = CourseDirectory(config=cfg)
        return NbGraderAPI(coursedir=coursedir, config=cfg)

    def db_url(self) -> str:
        """The gradebook URL in force (see the module docstring for the order)."""
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config()).db_url

    def course_id(self) -> str:
        from nbgrader.coursedir import CourseDirectory

        return CourseDirectory(config=self.config()).course_id

    def gradebook(self):
        """nbgrader's Gradebook for this course (use as a context manager)."""
        from nbgrader.api import Gradebook
        from sqlalchemy.exc import SQLAlchemyError

        apply_grading_environment()  # a new gradebook runs the `alembic` script
        url = self.db_url()
        try:
            return Gradebook(url, self.course_id())
        except (SQLAlchemyError, ImportError) as exc:
            cause = getattr(exc, "orig", None) or exc
            lines = [ln.strip() for ln in str(cause).splitlines() if ln.strip()]
            detail = lines[0] if lines else type(cause).__name__
            raise PipelineError(
                f"could not open the gradebook {display_url(url)}: {detail}"
            ) from exc

    # what is present
    def notebook_assignments(self) -> list[str]:
        """Assignments with sources under notebooks/, sorted."""
        from .build import notebook_sources

        return sorted(notebook_sources(self.notebooks_dir))

    def released_assignments(self) -> list[str]:
        if not self.release_dir.is_dir():
            return []
        return sorted(p.name for p in self.release_dir.iterdir() if any(p.glob("*.ipynb")))

    def source_assignments(self) -> list[str]:
        if not self.source_dir.is_dir():
            return []
        return sorted(p.name for p in self.source_dir.iterdir() if any(p.glob("*.ipynb")))

    def submissions(self, assignments: list[str] | None = None) -> list[tuple[str, str]]:
        """(assignment, student) pairs with a folder under submitted/, sorted."""
        pairs = []
        if not self.submitted_dir.is_dir():
            return pairs
        for student_dir in sorted(self.submitted_dir.iterdir()):
            if not student_dir.is_dir():
                continue
            for assignment_dir in sorted(student_dir.iterdir()):
                if not assignment_dir.is_dir():
                    continue
                if assignments and assignment_dir.name not in assignments:
                    continue
                pairs.append((assignment_dir.name, student_dir.name))
        return sorted(pairs)


# --- the environment grading runs in -------------------------------------------------------

_KERNEL_DIR: list[str] = []


_KERNEL_PREFIX = "autograder-kernels-"


def _kernelspec_dir() -> str:
    """A folder with a ``python3`` kernelspec that runs this interpreter.

    Made once by the first process that needs it (and removed when that process exits);
    task processes find it on the JUPYTER_PATH they inherit and reuse it.
    """
    if _KERNEL_DIR:
        return _KERNEL_DIR[0]
    for entry in os.environ.get("JUPYTER_PATH", "").split(os.pathsep):
        if not Path(entry).name.startswith(_KERNEL_PREFIX):
            continue
        try:
            argv = json.loads((Path(entry) / "kernels" / "python3" / "kernel.json")
                              .read_text())["argv"]
        except (OSError, ValueError, KeyError):  # gone, another user's, or not a kernelspec
            continue
        if argv and argv[0] == sys.executable:
            _KERNEL_DIR.append(entry)
            return entry
    folder = tempfile.mkdtemp(prefix=_KERNEL_PREFIX)
    atexit.register(shutil.rmtree, folder, True)
    spec_dir = Path(folder) / "kernels" / "python3"
    spec_dir.mkdir(parents=True)
    spec = {
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
        "metadata": {"debugger": True},
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec, indent=1, sort_keys=True) + "\n")
    _KERNEL_DIR.append(folder)
    return folder


def grading_environment(single_thread: bool = False) -> dict[str, str]:
    """Environment for nbgrader and its kernels.

    - the interpreter's own bin folder first on PATH: nbgrader calls the ``alembic``
      script by name when it creates a gradebook, and an inactive venv is not on PATH;
    - a ``python3`` kernelspec first on JUPYTER_PATH that runs this interpreter, so a
      user-level kernelspec pointing at another Python cannot take over;
    - with ``single_thread``, BLAS/OpenMP limited to one thread so parallel jobs do not
      oversubscribe the cores;
    - no MPLBACKEND (a headless shell may set Agg), so kernels plot with matplotlib's inline
      backend as a student's does.
    """
    env = dict(os.environ)
    bin_dir = str(Path(sys.executable).parent)
    path = env.get("PATH", "")
    if bin_dir not in path.split(os.pathsep):
        env["PATH"] = bin_dir + (os.pathsep + path if path else "")
    jupyter_path = env.get("JUPYTER_PATH", "")
    kernels = _kernelspec_dir()
    if kernels not in jupyter_path.split(os.pathsep):
        env["JUPYTER_PATH"] = kernels + (os.pathsep + jupyter_path if jupyter_path else "")
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    env.pop("MPLBACKEND", None)
    if single_thread:
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env.setdefault(name, "1")
    return env


def apply_grading_environment() -> None:
    """Make this process's environment the grading environment (idempotent).

    Called before nbgrader runs in this process; workers get the environment explicitly.
    """
    env = grading_environment()
    for name in ("PATH", "JUPYTER_PATH"):
        if os.environ.get(name) != env[name]:
            os.environ[name] = env[name]
    os.environ.pop("MPLBACKEND", None)


def trusted_sys_path() -> None:
    """Drop the working folder (and '') from ``sys.path``, as ``ipykernel_launcher`` does.

    Every trusted entry point calls this first: ``python -m`` puts the folder it starts in
    at the front of ``sys.path``, and that folder may be one a student could write to.
    """
    here = os.path.realpath(os.getcwd()) if os.path.isdir(".") else ""
    sys.path[:] = [p for p in sys.path
                   if p not in ("", ".") and (not here or os.path.realpath(p) != here)]


def kernel_python() -> str:
    """The interpreter the ``python3`` kernel resolves to in the grading environment."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    exe = spec.argv[0]
    if exe in {"python", f"python{sys.version_info[0]}"}:
        return sys.executable
    return exe
