"""The seeds of the hidden tests' random cases: secret per course, recorded per grade.

A hidden block draws its cases from ``seed`` (see :mod:`autograder.judge.runner`). The seed
of a test cell is a hash of the course's secret (``course/judge/secret``, made at the first
build, never released), the student, the assignment and the cell. So each student gets
cases of their own, which no other student's feedback shows and which cannot be worked
out from the released notebooks; feedback may quote them freely.

Each grade's seeds are recorded in the gradebook, in a table of their own
(``judge_seeds``: student, assignment, notebook, grade id, seed, when). A regrade uses the
recorded seed, so it gives the same cases, and the same grade for the same work, even
after the secret changed.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

from ..sidetable import open_table

__all__ = ["SECRET_NAME", "course_secret", "read_seeds", "record_seeds", "seed_for"]

SECRET_NAME = "secret"


def seed_for(student: str, assignment: str, grade_id: str, secret: str = "") -> int:
    """The hidden tests' seed for one student and test cell (stable across regrades)."""
    digest = hashlib.sha256(f"{secret}\0{assignment}\0{grade_id}\0{student}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def course_secret(judge_dir: Path, create: bool = False) -> str:
    """The course's secret from ``judge_dir/secret`` ('' when missing and not ``create``)."""
    path = Path(judge_dir) / SECRET_NAME
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    if not create:
        return ""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(secrets.token_hex(32) + "\n")
    return path.read_text(encoding="utf-8").strip()


def _table(metadata):
    from sqlalchemy import BigInteger, Column, DateTime, String, Table

    return Table(
        "judge_seeds", metadata,
        Column("student", String(128), primary_key=True),
        Column("assignment", String(128), primary_key=True),
        Column("grade_id", String(128), primary_key=True),
        Column("notebook", String(128), nullable=False),
        Column("seed", BigInteger, nullable=False),
        Column("graded_at", DateTime, nullable=False),
    )


def read_seeds(db_url: str, student: str, assignment: str) -> dict[str, int]:
    """grade_id -> the seed recorded at this student's last grade of the assignment."""
    from sqlalchemy import select

    with open_table(db_url, _table) as (engine, table), engine.connect() as conn:
        rows = conn.execute(select(table.c.grade_id, table.c.seed).where(
            table.c.student == student, table.c.assignment == assignment)).all()
    return {gid: int(seed) for gid, seed in rows}


def record_seeds(db_url: str, student: str, assignment: str,
                 seeds: dict[str, tuple[str, int]]) -> None:
    """Record grade_id -> (notebook, seed) for one student's graded assignment."""
    if not seeds:
        return
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    with open_table(db_url, _table) as (engine, table), engine.begin() as conn:
        conn.execute(table.delete().where(
            table.c.student == student, table.c.assignment == assignment,
            table.c.grade_id.in_(list(seeds))))
        conn.execute(table.insert(), [
            {"student": student, "assignment": assignment, "grade_id": gid,
             "notebook": notebook, "seed": int(seed), "graded_at": now}
            for gid, (notebook, seed) in seeds.items()])
