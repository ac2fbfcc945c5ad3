"""Files: reading a submitted notebook without following links, writing what is graded
(the staged copy) and what is kept for review (the quarantine)."""

from __future__ import annotations

import json
import os
import shutil
import stat
from pathlib import Path

import nbformat

from ..sandbox import file_kind, submission_files
from .findings import SubmissionScan


def read_regular(path: Path, limit: int = 256 * 1024 * 1024) -> bytes:
    """The bytes of a regular file, opened without following a link; OSError otherwise
    (its message says what the path is instead)."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path.name} is {file_kind(info.st_mode)}: refused, not followed")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file: refused")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit // 2**20} MB")
    return data


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The notebook JSON as a dict, or None and why it cannot be read."""
    try:
        data = read_regular(path)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if not data.strip():
        return None, "the file is empty"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"the file is not UTF-8 text (byte {exc.start})"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.rstrip()
        truncated = exc.pos >= len(stripped) - 1 or not stripped.endswith("}")
        what = "truncated JSON" if truncated else "invalid JSON"
        return None, f"{what} ({exc.msg}; line {exc.lineno}, column {exc.colno})"
    if not isinstance(raw, dict):
        return None, f"not a notebook: the JSON is a {type(raw).__name__}, not an object"
    return raw, ""


def copy_regular_files(source: Path, target: Path, skip: set[str] = frozenset()
                       ) -> list[str]:
    """Copy the regular files below ``source`` to ``target``, never following a link
    (:func:`autograder.sandbox.submission_files`); top-level names in ``skip`` are left out.
    Returns what was not copied, and why."""
    refused: list[str] = []
    for rel, fd in submission_files(str(source), limit_mb=256, limit_files=2000,
                                    refused=refused):
        with os.fdopen(fd, "rb") as src:
            if rel in skip:
                continue
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(src.read())
    target.mkdir(parents=True, exist_ok=True)
    return refused


def _fresh_folder(path: Path) -> Path:
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def stage_submission(scan: SubmissionScan, submitted_dir: Path, staging_root: Path) -> Path:
    """Write what is graded: the repaired notebooks with tampering withheld, next to copies of
    the other regular files of the submission, in ``staging_root/<student>/<assignment>/``.

    Links and special files are never followed or copied (the scan reports them)."""
    source = submitted_dir / scan.student / scan.assignment
    target = _fresh_folder(staging_root / scan.student / scan.assignment)
    repaired = [nb for nb in scan.notebooks if nb.notebook is not None]
    if source.is_dir() and not source.is_symlink():
        copy_regular_files(source, target, skip={nb.name for nb in repaired})
    for nb in repaired:
        nbformat.write(nb.notebook, str(target / nb.name))
    return target


def quarantine(course, scan: SubmissionScan) -> Path:
    """Copy the submission's regular files as received, plus the scan's findings (SCAN.txt),
    to ``quarantine/<student>/<assignment>/`` for manual review."""
    source = course.submitted_dir / scan.student / scan.assignment
    target = _fresh_folder(course.course_dir / "quarantine" / scan.student / scan.assignment)
    if source.is_dir() and not source.is_symlink():
        copy_regular_files(source, target)
    lines = [f"{scan.student} / {scan.assignment}: {scan.status}", ""]
    lines += [f"{f.kind}: {f.describe()}" for f in scan.all_findings()]
    (target / "SCAN.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target
