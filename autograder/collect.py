"""Collect: import an LMS download (zip) into ``submitted/<student>/<assignment>/`` with nbgrader.

nbgrader's ZipCollectApp does the work (extract, copy, timestamp.txt); we give it a collector
plugin that looks each file up in a plan made beforehand: which student, which released
notebook, which of several files wins, and whether the student's collected copy is replaced.

The layouts, as each LMS names its bulk download (``<file>`` is the name the student
uploaded; it names a released notebook up to case, ``(1)`` or ``-1`` copy suffixes and
' '/'-' for '_'):

- Canvas: ``<name>[_late]_<user id>_<file id>_<file>`` at the top. Student: the Canvas user
  id; name: Canvas's name slug; Canvas's own LATE mark is kept.
- Moodle: ``<Full Name>_<participant id>_assignsubmission_file_/<file>`` (or the same
  without the '/'). Student: the participant id, which Moodle numbers per assignment.
- Blackboard: ``<Assignment>_<username>_attempt_<YYYY-MM-DD-HH-MM-SS>_<file>`` with its
  receipt ``<Assignment>_<username>_attempt_<date>.txt``, whose ``Name: <name> (<username>)``
  line tells the username from the title. Time: the attempt's, in the course's time zone.
- Gradescope: ``submission_<id>/<file>`` beside ``submission_metadata.yml``. Student: the
  submitter's ``:sid`` (their email when it is empty), every member of a group; time
  ``:created_at``.
- plain: ``<student>_<file>`` at the top, or ``<student>/<file>``.

Times the layout does not give are the zip entry's date, written to nbgrader's timestamp.txt
like the others, except for Canvas: Canvas dates its entries when it builds the zip, so a
Canvas submission gets no timestamp.txt (its time is unknown; its LATE mark is kept). The
student id, name, time, where the time came from and the download's file names are written
beside timestamp.txt in ``lms.json`` (:class:`LmsRecord`): the facts belong to the
submission, travel with it, and are read without opening the gradebook.

Collecting is incremental: a student's notebooks replace the collected copy only when they
are newer (``--force``: whenever they differ); identical ones are kept. Only files at the top
of the download, or at the top of a student's folder, are placed, so nothing inside one
student's upload can speak for another; archives inside the download are not unpacked. Two
files for the same student and notebook with no order between them (time, copy suffix) are a
conflict: neither is placed.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
import tempfile
import zipfile
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from nbgrader.plugins import FileNameCollectorPlugin

from .course import Course, PipelineError
from .late import course_zone

__all__ = ["LMS_RECORD", "CollectReport", "LmsNameCollector", "LmsRecord", "Outcome", "collect"]

LMS_RECORD = "lms.json"
_ARCHIVES = (".zip", ".tar", ".gz", ".tgz", ".7z", ".rar", ".bz2", ".xz")
_ID = re.compile(r"[^\W_][\w.@'-]*")  # letters of any script, digits, '_', '.', '@', "'", '-'
_CANVAS = re.compile(r"^(?:(?P<name>.*?)_)?(?:(?P<late>late)_)?(?P<id>\d+)_\d+_(?P<file>.+)$",
                     re.IGNORECASE)
_MOODLE = re.compile(r"^(?P<name>[^_/]+)_(?P<id>\d+)_assignsubmission_(?P<plugin>[a-z]+)_"
                     r"(?P<file>.*)$")
_BLACKBOARD = re.compile(r"^(?P<attempt>.+_attempt_(?P<when>\d{4}(?:-\d\d){5}))(?:_(?P<file>.+))?$")
_GRADESCOPE = re.compile(r"^submission_\d+$")
_GRADESCOPE_META = "submission_metadata.yml"
_SUPERSEDED = "superseded by the later "
_DOWNLOADED = "the zip entry, dated when Canvas built the download"  # not a submission time


@dataclass(frozen=True)
class LmsRecord:
    """What the download said about one collected submission (``lms.json`` beside
    timestamp.txt): ``timestamp`` is UTC, ``time_from`` says where it came from, ``files``
    maps each released notebook to the file's name in the download, ``late`` is the LMS's
    own mark (None when it gives none)."""

    lms: str
    student: str
    name: str
    timestamp: str
    time_from: str
    files: dict[str, str]
    late: bool | None = None
    email: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1, ensure_ascii=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LmsRecord:
        return cls(**json.loads(text))

    @classmethod
    def read(cls, submission: Path) -> LmsRecord | None:
        """The record of the submission folder ``submission``, None when it has none."""
        path = submission / LMS_RECORD
        return cls.from_json(path.read_text(encoding="utf-8")) if path.is_file() else None


@dataclass(frozen=True)
class _Candidate:
    path: Path
    lms: str
    student: str
    name: str
    notebook: str  # a released notebook's name, .ipynb included
    when: datetime  # UTC, naive as nbgrader writes it
    time_from: str
    copy: int = 0  # the "(n)" or "-n" suffix; a higher one is the later copy
    late: bool | None = None
    email: str = ""


@dataclass(frozen=True)
class _Rejected:
    """Why a file of known students (an LMS name) cannot be placed."""

    students: tuple[tuple[str, str], ...]  # (id, name)
    why: str


@dataclass
class Outcome:
    """One student's result: added, replaced, kept or rejected, with why."""

    student: str
    name: str
    what: str
    why: str = ""
    notebooks: list[str] = field(default_factory=list)
    timestamp: datetime | None = None
    late: bool | None = None
    time_from: str = ""

    def line(self) -> str:
        who = self.student if self.name in ("", self.student) else f"{self.student} ({self.name})"
        if self.what == "rejected":
            return f"{who}: rejected: {self.why}"
        when = f"downloaded {self.timestamp}" if self.time_from == _DOWNLOADED else self.timestamp
        late = ", LATE" if self.late else ""
        detail = f"{self.what}: {self.why}" if self.why else self.what
        return f"{who}: {', '.join(self.notebooks)}, {when} UTC{late} ({detail})"


@dataclass
class CollectReport:
    """Every student's outcome, and every file that was not placed with why."""

    students: list[Outcome] = field(default_factory=list)
    unplaced: list[tuple[str, str]] = field(default_factory=list)

    @property
    def rejected(self) -> list[tuple[str, str]]:
        """The files not placed for a reason other than a later file of the same student."""
        return [(f, why) for f, why in self.unplaced if not why.startswith(_SUPERSEDED)]


def _utc(when, zone) -> datetime:
    """``when`` (a datetime or a date string; ``zone`` when it has none) in naive UTC."""
    from dateutil import parser

    if isinstance(when, str):
        when = parser.parse(when)
    if when.tzinfo is None:
        when = when.replace(tzinfo=zone)
    return when.astimezone(timezone.utc).replace(tzinfo=None, microsecond=0)


class _Download:
    """The extracted download and what its metadata says; :meth:`parse` places one file."""

    def __init__(self, root: Path, notebooks: list[str], entry_dates: dict[Path, datetime],
                 zone) -> None:
        self.root, self.zone, self.dates = root, zone, entry_dates
        self.downloaded = max(entry_dates.values(), default=datetime.min)  # for a nameless entry
        self.notebooks = notebooks
        names = "|".join(re.sub(r"_", "[ _-]", re.escape(n))
                         for n in sorted(notebooks, key=len, reverse=True))
        copy = r"(?:\s*\((?P<paren>\d+)\)|-(?P<dash>\d+))?"
        self.file_re = re.compile(rf"^(?P<nb>{names}){copy}\.ipynb$", re.IGNORECASE)
        self.plain_re = re.compile(rf"^(?P<student>.+?)_(?P<nb>{names}){copy}\.ipynb$",
                                   re.IGNORECASE)
        self.gradescope = self._gradescope()
        self.receipts = self._receipts()
        self.unpacked = {p.with_suffix("") for p in root.rglob("*")
                         if p.suffix.lower() in _ARCHIVES}

    def _gradescope(self) -> dict:
        import yaml

        meta = self.root / _GRADESCOPE_META
        if not meta.is_file() or meta.is_symlink():
            return {}
        try:
            data = yaml.safe_load(meta.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise PipelineError(f"collect: {_GRADESCOPE_META} must be Gradescope's YAML "
                                f"(got: {str(exc).splitlines()[0]})") from exc
        return data if isinstance(data, dict) else {}

    def _receipts(self) -> dict[str, tuple[str, str]]:
        """Blackboard's receipts: ``<Assignment>_<username>_attempt_<date>`` -> (username, name)."""
        receipts = {}
        for path in self.root.glob("*_attempt_*.txt"):
            found = re.search(r"^Name: (?P<name>.*) \((?P<id>[^()\n]+)\)\s*$",
                              path.read_text(encoding="utf-8", errors="replace"), re.M)
            if found and _BLACKBOARD.match(path.stem) and not path.is_symlink():
                receipts[path.stem] = (found["id"].strip(), found["name"].strip())
        return receipts

    def metadata(self, path: Path) -> bool:
        """True for the files that describe the download rather than belong to a student."""
        return path.parent == self.root and (
            path.name == _GRADESCOPE_META or path.stem in self.receipts)

    def _notebook(self, file: str) -> tuple[str, int] | str:
        """(released notebook, copy number) for an uploaded file's name, else why not."""
        if Path(file).suffix.lower() in _ARCHIVES:
            return "an archive: not unpacked (ask for the notebook itself)"
        if Path(file).suffix.lower() != ".ipynb":
            return "not a notebook (.ipynb)"
        found = self.file_re.match(file)
        if not found:
            wanted = ", ".join(f"{n}.ipynb" for n in self.notebooks)
            return f"names no released notebook: got {file!r} (released: {wanted})"
        spelled = re.sub(r"[ -]", "_", found["nb"]).lower()
        notebook = next(n for n in self.notebooks if n.lower() == spelled)
        return notebook + ".ipynb", int(found["paren"] or found["dash"] or 0)

    def _candidates(self, path, lms, file, students, when, time_from, late=None):
        parsed = self._notebook(file)
        if isinstance(parsed, str):
            return _Rejected(tuple((s, name) for s, name, _ in students), parsed)
        bad = [s for s, _, _ in students if not _ID.fullmatch(s)]
        if bad:
            return (f"the student id {bad[0]!r} must be letters, digits, '_', '.', '@', \"'\" "
                    "or '-', starting with a letter or digit")
        return [_Candidate(path, lms, s, name, parsed[0], when, time_from, parsed[1], late, email)
                for s, name, email in students]

    def parse(self, path: Path) -> list[_Candidate] | str:
        """The placements of one extracted file (a group's file has several), or why none."""
        if any(parent in self.unpacked for parent in path.parents):
            return []  # nbgrader unpacked an archive of the download here; the archive is reported
        rel = path.relative_to(self.root).parts
        entry = self.dates.get(path, self.downloaded)
        if len(rel) == 1:
            return self._top(path, entry)
        if len(rel) > 2:
            return (f"inside a subfolder of {rel[0]}: only files at the top of the download or "
                    "of a student's folder are placed")
        folder, file = rel
        moodle = _MOODLE.match(folder)
        if _GRADESCOPE.match(folder):
            record = self.gradescope.get(folder)
            if not isinstance(record, dict) or not record.get(":submitters"):
                return f"{folder} has no submitters in {_GRADESCOPE_META}"
            students = [(str(s.get(":sid") or s.get(":email") or ""), str(s.get(":name") or ""),
                         str(s.get(":email") or "")) for s in record[":submitters"]]
            if record.get(":created_at") is None:
                return self._candidates(path, "gradescope", file, students, entry,
                                        "the zip entry")
            return self._candidates(path, "gradescope", file, students,
                                    _utc(record[":created_at"], self.zone), _GRADESCOPE_META)
        if moodle and not moodle["file"]:
            return self._moodle(path, moodle, file, entry)
        return self._candidates(path, "plain", file, [(folder, "", "")], entry, "the zip entry")

    def _moodle(self, path: Path, found: re.Match, file: str, entry: datetime):
        if found["plugin"] != "file":
            return _Rejected(((found["id"], found["name"]),),
                             f"Moodle's {found['plugin']} submission, not a file")
        return self._candidates(path, "moodle", file, [(found["id"], found["name"], "")],
                                entry, "the zip entry")

    def _top(self, path: Path, entry: datetime) -> list[_Candidate] | str:
        name = path.name
        blackboard = _BLACKBOARD.match(name)
        if blackboard and blackboard["file"]:
            if blackboard["attempt"] not in self.receipts:
                return (f"a Blackboard attempt without its receipt {blackboard['attempt']}.txt, "
                        "which names the student")
            student, full = self.receipts[blackboard["attempt"]]
            when = _utc(datetime.strptime(blackboard["when"], "%Y-%m-%d-%H-%M-%S"), self.zone)
            return self._candidates(path, "blackboard", blackboard["file"], [(student, full, "")],
                                    when, "the file name")
        moodle = _MOODLE.match(name)
        if moodle and moodle["file"]:
            return self._moodle(path, moodle, moodle["file"], entry)
        canvas = _CANVAS.match(name)
        if canvas:
            return self._candidates(path, "canvas", canvas["file"],
                                    [(canvas["id"], canvas["name"] or "", "")], entry,
                                    _DOWNLOADED, late=bool(canvas["late"]))
        plain = self.plain_re.match(name)
        if plain:
            return self._candidates(path, "plain", name[len(plain["student"]) + 1:],
                                    [(plain["student"], "", "")], entry, "the zip entry")
        why = self._notebook(name)
        if isinstance(why, str) and not why.startswith("names no"):
            return why
        return ("no student id: not a Canvas, Moodle, Blackboard or Gradescope name, nor "
                "<student>_<notebook>.ipynb or <student>/<notebook>.ipynb")


def _plan(download: _Download):
    """The winning file per (student, notebook), [(file, why)] for every file not placed, and
    {student: (name, first rejection)} for students named by a file that was not placed."""
    chosen: dict[tuple[str, str], _Candidate] = {}
    refused: dict[str, tuple[str, str]] = {}
    tied: dict[tuple[str, str], list[_Candidate]] = {}
    unplaced: list[tuple[str, str]] = []
    root = download.root

    def rel(c):
        return str(c.path.relative_to(root))

    for path in sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink()):
        if path.is_symlink():
            unplaced.append((str(path.relative_to(root)), "a link: refused, not followed"))
            continue
        if download.metadata(path):
            continue
        parsed = download.parse(path)
        if isinstance(parsed, _Rejected):
            for student, name in parsed.students:
                refused.setdefault(student, (name, f"{path.name}: {parsed.why}"))
            parsed = parsed.why
        if isinstance(parsed, str):
            unplaced.append((str(path.relative_to(root)), parsed))
            continue
        for new in parsed:
            key = (new.student, new.notebook)
            old = chosen.setdefault(key, new)
            if old is new:
                continue
            if (new.when, new.copy) == (old.when, old.copy):
                tied.setdefault(key, [old]).append(new)
                continue
            later, earlier = sorted((new, old), key=lambda c: (c.when, c.copy), reverse=True)
            chosen[key] = later
            unplaced.append((rel(earlier), f"{_SUPERSEDED}{later.path.name}"))
    for key, claims in tied.items():
        if chosen.get(key) in claims:
            del chosen[key]
        names = ", ".join(c.path.name for c in claims)
        unplaced += [(rel(c), f"conflict: {len(claims)} files claim {key[0]}/{key[1]} "
                              f"({names}) with no order between them; none was placed")
                     for c in claims]
        refused.setdefault(key[0], (claims[0].name, f"conflict between {names}"))
    return chosen, unplaced, refused


def _decide(dest: Path, mine: list[_Candidate], force: bool) -> tuple[str, str]:
    """(what, why) for one student's notebooks from the download against ``dest``."""
    from nbgrader.utils import parse_utc

    collected = sorted(p.name for p in dest.glob("*.ipynb")) if dest.is_dir() else []
    if not collected:
        return "added", ""
    if collected == sorted(c.notebook for c in mine) and all(
            (dest / c.notebook).read_bytes() == c.path.read_bytes() for c in mine):
        return "kept", "the same notebooks are already collected"
    stamp, record = dest / "timestamp.txt", LmsRecord.read(dest)
    before = (parse_utc(record.timestamp) if record else
              parse_utc(stamp.read_text().strip()) if stamp.is_file() else None)
    new = max(c.when for c in mine)
    if force:
        return "replaced", f"the copy of {before or 'unknown time'} (--force)"
    if before is None:
        return "kept", (f"{dest} has no {LMS_RECORD} or timestamp.txt, so which copy is newer "
                        "is unknown; --force replaces it")
    if new > before:
        return "replaced", f"the copy of {before} UTC"
    return "kept", f"the collected copy, of {before} UTC, is not older"


def _late(mine: list[_Candidate]) -> bool | None:
    """The LMS's own late mark for a student's notebooks; None when the LMS gives none."""
    marks = [c.late for c in mine if c.late is not None]
    return any(marks) if marks else None


class LmsNameCollector(FileNameCollectorPlugin):
    """nbgrader collector plugin: looks each extracted file up in a plan made beforehand."""

    plan: dict | None = None

    def collect(self, submitted_file: str):
        candidate = (self.plan or {}).get(Path(submitted_file))
        if candidate is None:
            return None
        return {"student_id": candidate.student, "file_id": candidate.notebook,
                "timestamp": None if candidate.time_from == _DOWNLOADED else candidate.when}


def collect(course: Course, assignment: str, archive: Path, force: bool = False) -> CollectReport:
    """Import ``archive`` (a .zip) for ``assignment``; raise PipelineError when no file fits."""
    from nbgrader.apps.zipcollectapp import ZipCollectApp
    from nbgrader.coursedir import CourseDirectory

    archive = Path(archive)
    if not archive.is_file() or archive.suffix.lower() != ".zip":
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
        shutil.copyfile(archive, archive_dir / "download.zip")

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
            with zipfile.ZipFile(archive) as zf:
                entries = zf.infolist()
        except Exception as exc:
            raise PipelineError(f"collect: could not extract {archive}: {exc}") from exc
        root = downloaded / assignment / "extracted" / "download"
        zone = course_zone(cfg)
        dates = {root / e.filename: _utc(datetime(*e.date_time), zone) for e in entries}
        top = [p for p in root.iterdir() if not p.name.startswith(".")] if root.is_dir() else []
        if (len(top) == 1 and top[0].is_dir() and not top[0].is_symlink()
                and not _MOODLE.match(top[0].name)):
            root = top[0]  # the download inside one folder (Gradescope's, or re-zipped)
            dates = {root / p.relative_to(top[0]): d for p, d in dates.items()
                     if p.is_relative_to(top[0])}
        chosen, report.unplaced, refused = _plan(_Download(root, notebooks, dates, zone))
        if not chosen:
            raise PipelineError(f"collect: no file in {archive.name} could be placed"
                                + "".join(f"\n  {f}: {why}" for f, why in report.unplaced))
        by_student: dict[str, list[_Candidate]] = {}
        for candidate in chosen.values():
            by_student.setdefault(candidate.student, []).append(candidate)
        plan = {}
        for student, mine in sorted(by_student.items()):
            mine.sort(key=lambda c: c.notebook)
            what, why = _decide(course.submitted_dir / student / assignment, mine, force)
            newest = max(mine, key=lambda c: c.when)
            report.students.append(Outcome(student, newest.name, what, why,
                                           [c.notebook for c in mine], newest.when, _late(mine),
                                           newest.time_from))
            for c in mine if what != "kept" else []:
                path = c.path
                if path in plan:  # a group's file: nbgrader places one student per file
                    path = path.with_name(f".{len(plan)}-{path.name}")
                    shutil.copyfile(c.path, path)
                plan[path] = c
        report.students += [Outcome(s, name, "rejected", why)
                            for s, (name, why) in refused.items() if s not in by_student]
        report.students.sort(key=lambda o: o.student)
        app.collector_plugin_inst.plan = plan
        try:
            app.process_extracted_files()
        except SystemExit as exc:  # ZipCollectApp.fail() exits
            raise PipelineError(f"collect: nbgrader zip_collect stopped (exit {exc.code})") from exc
        for student in sorted({c.student for c in plan.values()}):
            mine = by_student[student]
            dest = course.submitted_dir / student / assignment
            missing = [c.notebook for c in mine if not (dest / c.notebook).is_file()]
            if missing:
                raise PipelineError(f"collect: nbgrader did not place {student}/{missing[0]}")
            newest = max(mine, key=lambda c: c.when)
            (dest / LMS_RECORD).write_text(LmsRecord(
                newest.lms, student, newest.name, str(newest.when), newest.time_from,
                {c.notebook: c.path.name for c in mine},
                _late(mine),
                newest.email).to_json(), encoding="utf-8")
    return report
