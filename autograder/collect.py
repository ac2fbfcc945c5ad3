"""Collect: import an LMS download (zip) into ``submitted/<student>/<assignment>/`` with nbgrader.

nbgrader's ZipCollectApp does the work (extract, match names, copy, timestamps); we give it
a collector plugin that understands the names LMSs produce, decide up front which file wins
when a student has several, and report every file that could not be placed, with the reason.

Accepted layouts inside the zip (``<notebook>`` is a released notebook name such as
``a1_scalar_graphs``; the student id is letters, digits, '.', '-' or '@', no '_'):

- Canvas: ``<student>_<canvas id>_<submission id>_<notebook>.ipynb``, also with ``_LATE``
  after the student id and with Canvas's resubmission suffix (``<notebook>-1.ipynb``;
  the highest suffix wins);
- plain: ``<student>_<notebook>.ipynb``;
- folders: ``<student>/<notebook>.ipynb``.

The student id comes only from the top level of the download (a zip whose entries all sit in
one folder is read from inside that folder): a named file at the top, or a top-level
folder. Nothing deeper is placed, so a folder or file inside one student's upload can never
speak for another student; an archive inside the download is not unpacked. Two files that
claim the same student and notebook with no resubmission order between them are a
conflict: neither is placed and both are reported.
"""

from __future__ import annotations

import logging
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin

from .course import Course, PipelineError

__all__ = ["CollectReport", "LmsNameCollector", "collect", "plan_collect"]

_STUDENT = r"[A-Za-z0-9][A-Za-z0-9.@-]*"


@dataclass
class CollectReport:
    """What collect did: files placed per student, and files it could not place (with why)."""

    placed: dict[str, list[str]] = field(default_factory=dict)
    unplaced: list[tuple[str, str]] = field(default_factory=list)
    late: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Candidate:
    path: Path
    student: str
    notebook: str
    rank: int
    late: bool


def _parse(path: Path, root: Path, notebooks: list[str]) -> _Candidate | str:
    """A placement for one extracted file, or the reason it cannot be placed."""
    name = path.name
    depth = len(path.relative_to(root).parts) - 1
    if path.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar"):
        return "an archive inside the download: not unpacked (ask for the notebook itself)"
    if path.suffix != ".ipynb":
        return "not a notebook (.ipynb)"
    if depth > 1:
        return ("below the top level of the download: only <student>_..._<notebook>.ipynb at "
                "the top or <student>/<notebook>.ipynb in a top-level folder is placed")
    alternatives = "|".join(re.escape(n) for n in sorted(notebooks, key=len, reverse=True))
    canvas = re.match(
        rf"^(?P<student>{_STUDENT})(?P<late>_LATE)?(?:_\d+)*_(?P<nb>{alternatives})"
        rf"(?:-(?P<rank>\d+))?\.ipynb$",
        name,
    )
    if canvas and depth == 0:
        return _Candidate(path, canvas["student"], canvas["nb"], int(canvas["rank"] or 0),
                          bool(canvas["late"]))
    bare = re.match(rf"^(?P<nb>{alternatives})(?:-(?P<rank>\d+))?\.ipynb$", name)
    if canvas:
        return "an LMS file name inside a folder: LMS names are read at the top level only"
    if bare:
        parent = path.parent
        if depth == 1 and re.fullmatch(_STUDENT, parent.name):
            return _Candidate(path, parent.name, bare["nb"], int(bare["rank"] or 0), False)
        return ("no student id: expected <student>_..._<notebook>.ipynb "
                "or <student>/<notebook>.ipynb")
    wanted = ", ".join(f"{n}.ipynb" for n in notebooks)
    return f"the name does not end with a released notebook name ({wanted})"


def plan_collect(root: Path, notebooks: list[str]):
    """Decide every file under ``root``: {path: (student, notebook)} and [(file, reason)]."""
    chosen: dict[tuple[str, str], _Candidate] = {}
    conflicts: dict[tuple[str, str], list[_Candidate]] = {}
    unplaced: list[tuple[str, str]] = []
    top = [p for p in root.iterdir() if not p.name.startswith(".")] if root.is_dir() else []
    base = top[0] if len(top) == 1 and top[0].is_dir() and not top[0].is_symlink() else root
    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        rel = str(path.relative_to(root))
        if path.is_symlink() or not path.is_file():
            unplaced.append((rel, "a link or special file: refused, not followed"))
            continue
        parsed = _parse(path, base, notebooks)
        if isinstance(parsed, str):
            unplaced.append((rel, parsed))
            continue
        key = (parsed.student, parsed.notebook)
        other = chosen.get(key)
        if other is None:
            chosen[key] = parsed
        elif parsed.rank > other.rank:
            unplaced.append((str(other.path.relative_to(root)),
                             f"superseded by the later resubmission {path.name}"))
            chosen[key] = parsed
        elif parsed.rank < other.rank:
            unplaced.append((rel, f"superseded by the later resubmission {other.path.name}"))
        else:
            conflicts.setdefault(key, [other]).append(parsed)
    for key, claims in conflicts.items():
        if chosen.get(key) in claims:
            del chosen[key]
        names = ", ".join(c.path.name for c in claims)
        for claim in claims:
            unplaced.append((str(claim.path.relative_to(root)),
                             f"conflict: {len(claims)} files claim {key[0]}/{key[1]}.ipynb "
                             f"({names}); none was placed, resolve it by hand"))
    placements = {c.path: c for c in chosen.values()}
    return placements, sorted(unplaced)


class LmsNameCollector(FileNameCollectorPlugin):
    """nbgrader collector plugin: looks each extracted file up in a plan made beforehand."""

    plan: dict | None = None

    def collect(self, submitted_file: str):
        candidate = (self.plan or {}).get(Path(submitted_file))
        if candidate is None:
            return None
        return {"student_id": candidate.student, "file_id": candidate.notebook + ".ipynb"}


def collect(course: Course, assignment: str, archive: Path, force: bool = False) -> CollectReport:
    """Import ``archive`` (a .zip) for ``assignment``; raise PipelineError when nothing fits."""
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory

    archive = Path(archive)
    if not archive.is_file() or archive.suffix != ".zip":
        raise PipelineError(f"collect: expected a .zip file from the LMS, got {archive}")
    release = course.release_dir / assignment
    notebooks = sorted(p.stem for p in release.glob("*.ipynb"))
    if not notebooks:
        raise PipelineError(
            f"collect: {assignment} is not released ({release} holds no notebooks); "
            "run `python -m autograder release` first"
        )
    report = CollectReport()
    with tempfile.TemporaryDirectory(prefix="autograder-collect-") as tmp:
        downloaded = Path(tmp)
        archive_dir = downloaded / assignment / "archive"
        archive_dir.mkdir(parents=True)
        shutil.copyfile(archive, archive_dir / archive.name)

        cfg = course.config()
        app = ZipCollectApp(config=cfg)
        app.log_level = logging.ERROR  # we report unplaced files ourselves
        app.coursedir = CourseDirectory(config=cfg)
        app.coursedir.assignment_id = assignment
        # nbgrader joins this template to the course root; an absolute one keeps the
        # extracted files in our temporary folder instead of course/downloaded/
        app.collect_directory_structure = str(downloaded / "{assignment_id}" / "{collect_step}")
        app.force = True
        app.strict = True
        app.collector_plugin = LmsNameCollector
        app.init_plugins()
        app.extractor_plugin_inst.force = True
        try:
            app.extract_archive_files()
        except Exception as exc:
            raise PipelineError(f"collect: could not extract {archive}: {exc}") from exc
        extracted = downloaded / assignment / "extracted"
        placements, report.unplaced = plan_collect(extracted, notebooks)
        if not placements:
            raise PipelineError(
                f"collect: no file in {archive.name} could be placed"
                + "".join(f"\n  {f}: {why}" for f, why in report.unplaced)
            )
        students = sorted({c.student for c in placements.values()})
        busy = [s for s in students if any((course.submitted_dir / s / assignment).glob("*"))]
        if busy and not force:
            raise PipelineError(
                f"collect: submitted/<student>/{assignment} already holds files for "
                f"{', '.join(busy)}; rerun with --force to replace them"
            )
        app.collector_plugin_inst.plan = placements
        try:
            app.process_extracted_files()
        except SystemExit as exc:  # ZipCollectApp.fail() exits
            raise PipelineError(f"collect: nbgrader zip_collect stopped (exit {exc.code})") from exc
        for candidate in placements.values():
            report.placed.setdefault(candidate.student, []).append(candidate.notebook + ".ipynb")
            if candidate.late:
                report.late.append(candidate.student)
        missing = [
            f"{s}/{nb}" for s, nbs in report.placed.items() for nb in nbs
            if not (course.submitted_dir / s / assignment / nb).is_file()
        ]
        if missing:
            raise PipelineError(f"collect: nbgrader did not place {', '.join(missing)}")
    return report
