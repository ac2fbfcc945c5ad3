"""Grading one class on several machines: a PostgreSQL gradebook shared by URL (`--db`) and
`grade --shard i/n`.

The tests marked `postgres` need a real server: MINIGRAD_TEST_PG_URL, e.g.
postgresql://user:password@127.0.0.1:5432/db (`.ci/postgres.sh` starts one and prints it).
Each run works in a schema of its own, dropped at the end. The shard and URL tests need
no server.
"""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import shutil
import time
import urllib.parse
from pathlib import Path

import numpy as np
import pytest

from autograder.cli import main
from autograder.config import GRADEBOOK_ENV
from autograder.course import Course, display_url, normalize_db_url
from autograder.grading import parse_shard, shard_of, shard_students
from autograder.samples import buggy_path, load_buggy, write_samples

PG_ENV = "MINIGRAD_TEST_PG_URL"
ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
# student -> which sample submission they hand in; f1_tiny scores 5 / 2 / 0
CLASS = {"ada": "solution", "bo": "buggy", "cy": "blank", "dee": "solution",
         "eli": "buggy", "fay": "solution"}
POINTS = {"solution": 5.0, "buggy": 2.0, "blank": 0.0}



# --- shards and URLs: no server needed -----------------------------------------------------


def _seeded_ids(size: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz0123456789.-"))
    ids = {"".join(rng.choice(letters, size=int(rng.integers(2, 12)))) for _ in range(size)}
    return sorted(ids)


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
@pytest.mark.parametrize(("size", "seed"), [(0, 0), (1, 1), (7, 2), (24, 3), (300, 4)])
def test_shards_partition_the_class(size, seed, count):
    """The shards of a class are disjoint and together hold every student exactly once."""
    students = _seeded_ids(size, seed)
    shards = [shard_students(students, index, count) for index in range(1, count + 1)]
    every = [s for shard in shards for s in shard]
    assert sorted(every) == students  # the union is the class, nobody twice
    assert len(set(every)) == len(every)
    for index, shard in enumerate(shards, start=1):
        assert all(shard_of(s, count) == index for s in shard)


def test_shard_of_ignores_the_rest_of_the_class():
    """A student's shard depends on the id alone: machines with different lists still agree."""
    students = _seeded_ids(60, 5)
    full = {s: shard_of(s, 3) for s in students}
    part = {s: i for i in (1, 2, 3) for s in shard_students(students[::2], i, 3)}
    assert all(full[s] == part[s] for s in part)
    assert sorted(full.values()) != [full[students[0]]] * len(students)  # not all in one shard
    # fixed values: a change of hash would silently move students between machines mid-term
    assert [shard_of(s, 2) for s in CLASS] == [1, 2, 1, 2, 1, 2]


@pytest.mark.parametrize("text", ["0/2", "3/2", "1/0", "a/b", "2", "1/2/3", "-1/2", ""])
def test_bad_shard_is_a_usage_error(text, capsys):
    """--shard outside 1 <= i <= n is refused with exit status 2 and says what must hold."""
    message = f"--shard must look like i/n with 1 <= i <= n (got {text!r})"
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_shard(text)
    with pytest.raises(SystemExit) as info:
        main(["grade", f"--shard={text}"])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(("text", "index", "count"), [("1/1", 1, 1), ("2/3", 2, 3),
                                                      (" 4 / 4 ", 4, 4)])
def test_good_shard(text, index, count):
    """i/n with 1 <= i <= n parses to (i, n)."""
    assert parse_shard(text) == (index, count)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://u:p@h/db", "postgresql+psycopg2://u:p@h/db"),
        ("postgres://u@h:5433/db", "postgresql+psycopg2://u@h:5433/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+psycopg2://u@h/db"),
        ("sqlite:////tmp/gradebook.db", "sqlite:////tmp/gradebook.db"),
        (" sqlite:///gradebook.db ", "sqlite:///gradebook.db"),
    ],
)
def test_normalize_db_url(url, expected):
    """PostgreSQL URLs without a driver get psycopg2 (installed); others are kept."""
    assert normalize_db_url(url) == expected


def test_unreachable_gradebook_is_named_without_its_password(tmp_path, capsys, restore_environ):
    """A gradebook that cannot be opened fails the command with its URL, password hidden."""
    url = "postgresql://grader:s3cret-pw@127.0.0.1:1/nowhere"
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["report", "--db", url, *args]) == 1
    err = capsys.readouterr().err
    assert "could not open the gradebook postgresql+psycopg2://grader:***@127.0.0.1:1/nowhere" \
        in err
    assert "s3cret-pw" not in err
    assert display_url(url) == "postgresql://grader:***@127.0.0.1:1/nowhere"
    with pytest.raises(SystemExit) as info:
        main(["grade", "--db", "gradebook.db", *args])
    assert info.value.code == 2
    assert "--db must be a database URL" in capsys.readouterr().err


# --- a real server --------------------------------------------------------------------------


def _with_search_path(url: str, schema: str) -> str:
    """``url`` whose connections use ``schema`` (libpq's ``options``), kept apart from others."""
    parts = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(parts.query)
    query.append(("options", f"-csearch_path={schema}"))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


@pytest.fixture(scope="module")
def pg_url():
    """A URL of the test server, confined to a fresh schema that is dropped afterwards."""
    url = os.environ.get(PG_ENV, "").strip()
    if not url:
        why = (f"{PG_ENV} is not set: no PostgreSQL server to test against "
               "(.ci/postgres.sh starts one and prints the URL)")
        if "postgres" in os.environ.get("MINIGRAD_REQUIRE", "").split(","):
            pytest.fail(f"MINIGRAD_REQUIRE names postgres, but {why}", pytrace=False)
        pytest.skip(why)
    import psycopg2

    schema = f"minigrad_test_{os.getpid()}_{time.monotonic_ns() % 10**9}"
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'CREATE SCHEMA "{schema}"')
        yield _with_search_path(url, schema)
    finally:
        with conn.cursor() as cur:
            cur.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        conn.close()


def _query(url: str, sql: str) -> list[tuple]:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cur:
        cur.execute(sql)
        rows = cur.fetchall()
    conn.close()
    return rows


@pytest.fixture(scope="module")
def two_machines(pg_url, tmp_path_factory):
    """Two course folders with the same release and submissions, sharing the server's gradebook;
    each grades its shard of the class with two jobs. Returns (url, courses, outputs)."""
    saved = dict(os.environ)
    os.environ.pop(GRADEBOOK_ENV, None)
    try:
        root = tmp_path_factory.mktemp("machines")
        first = Course.create(root / "first" / "course", FIXTURE_NOTEBOOKS)
        args = ["--course-dir", str(first.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
        assert main(["build", *args]) == 0
        assert main(["release", "--db", pg_url, *args]) == 0
        samples = root / "samples"
        write_samples(first.source_dir / ASSIGNMENT, first.release_dir / ASSIGNMENT, samples,
                      load_buggy(buggy_path(FIXTURE_NOTEBOOKS, ASSIGNMENT)))
        for student, kind in CLASS.items():
            shutil.copytree(samples / f"sample-{kind}" / ASSIGNMENT,
                            first.submitted_dir / student / ASSIGNMENT)
        # the second machine gets a copy of the course folder, as rsync or git would give it
        shutil.copytree(first.course_dir, root / "second" / "course")
        second = Course.at(root / "second" / "course", FIXTURE_NOTEBOOKS)
        outputs = []
        for index, course in enumerate((first, second), start=1):
            out = io.StringIO()
            with contextlib.redirect_stdout(out):
                status = main(["grade", "--db", pg_url, "--shard", f"{index}/2", "--jobs", "2",
                               "--no-progress", "--course-dir", str(course.course_dir),
                               "--notebooks-dir", str(FIXTURE_NOTEBOOKS)])
            outputs.append((status, out.getvalue()))
        yield pg_url, (first, second), outputs
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _graded_rows(output: str) -> dict[str, str]:
    """student -> score ("5/5") from the rows of grade's outcome table."""
    rows = re.findall(rf"^(\S+)\s+{ASSIGNMENT}\s+graded\s+(\S+)", output, re.M)
    return dict(rows)


@pytest.mark.postgres
@pytest.mark.grading
def test_shards_on_two_machines_grade_the_class_once(two_machines):
    """Each machine grades its shard into the shared gradebook; together they grade everyone
    once, with the expected scores, and neither machine made a sqlite gradebook."""
    url, courses, outputs = two_machines
    graded = []
    for (status, output), course in zip(outputs, courses):
        assert status == 0, output
        assert "gradebook: postgresql+psycopg2://" in output
        rows = _graded_rows(output)
        graded.append(set(rows))
        for student, score in rows.items():
            assert score == f"{POINTS[CLASS[student]]:g}/5", (student, output)
        assert not (course.course_dir / "gradebook.db").exists()
        autograded = {p.name for p in course.autograded_dir.iterdir()}
        assert autograded == set(rows)  # this machine ran exactly its shard
    assert graded[0] and graded[1] and not graded[0] & graded[1]
    assert graded[0] | graded[1] == set(CLASS)
    rows = _query(url, """
        SELECT s.student_id, SUM(g.auto_score)
        FROM submitted_assignment s
        JOIN submitted_notebook n ON n.assignment_id = s.id
        JOIN grade g ON g.notebook_id = n.id
        GROUP BY s.id, s.student_id""")  # one row per submission, read from the server
    by_student = {}
    for student, score in rows:
        by_student.setdefault(student, []).append(float(score))
    assert by_student == {s: [POINTS[kind]] for s, kind in CLASS.items()}


@pytest.mark.postgres
@pytest.mark.grading
def test_report_and_feedback_read_the_shared_gradebook(two_machines, tmp_path, capsys,
                                                         restore_environ):
    """report on one machine sees every student graded on both; feedback finds its shard."""
    url, (first, second), _ = two_machines
    out_dir = tmp_path / "report"
    args = ["--course-dir", str(second.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["report", "--db", url, "--output-dir", str(out_dir), *args]) == 0
    with open(out_dir / "grades.csv") as fh:
        scores = {r["student_id"]: float(r["score"]) for r in csv.DictReader(fh)}
    assert scores == {s: POINTS[kind] for s, kind in CLASS.items()}
    assert (out_dir / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    out = capsys.readouterr().out
    assert re.search(r"^f1_tiny\s+f1-cube-test\s+2\s+6\s", out, re.M)
    # MINIGRAD_GRADEBOOK_URL works as --db does
    os.environ[GRADEBOOK_ENV] = url
    first_args = ["--course-dir", str(first.course_dir), "--notebooks-dir",
                  str(FIXTURE_NOTEBOOKS)]
    assert main(["feedback", *first_args]) == 0
    mine = {p.parent.parent.name for p in first.feedback_dir.glob(f"*/{ASSIGNMENT}/*.html")}
    assert mine == set(shard_students(CLASS, 1, 2))
    assert not (first.course_dir / "gradebook.db").exists()


@pytest.mark.postgres
@pytest.mark.grading
def test_an_empty_shard_grades_nobody(two_machines, capsys, restore_environ):
    """A shard holding none of the selected students says so and exits 0 without grading."""
    url, (first, _), _ = two_machines
    student = next(s for s in CLASS if shard_of(s, 2) == 2)
    before = sorted(p.name for p in first.autograded_dir.iterdir())
    args = ["--course-dir", str(first.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["grade", "--db", url, "--shard", "1/2", "-s", student, *args]) == 0
    assert "no selected student falls in shard 1/2; nothing to do" in capsys.readouterr().out
    assert sorted(p.name for p in first.autograded_dir.iterdir()) == before
