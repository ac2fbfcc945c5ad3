"""Tests for the feedback service (``serve-feedback``): each exchange submission is graded once,
in order, on the server, and its feedback reaches that student only; limits refuse with the
time of the next graded submission; a pass that died mid-grade is finished by the next.

No hub: students are nbgrader's own student-side exchange classes in folders of their own,
as in tests/test_exchange.py, and the service runs one pass at a time (``process_once``).
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from nbgrader.exchange.default import (
    ExchangeFetchAssignment,
    ExchangeFetchFeedback,
    ExchangeSubmit,
)
from test_exchange import (
    ASSIGNMENT,
    FIXTURE_NOTEBOOKS,
    NOTEBOOK,
    _course,
    _solve,
    _student,
    exchange,
)

from autograder import hubservice
from autograder.cli import main
from autograder.config import GradingConfig
from autograder.course import Course
from autograder.hubservice import FeedbackService

__all__ = ["exchange"]  # the fixture, shared with test_exchange

pytestmark = [pytest.mark.grading, pytest.mark.usefixtures("restore_environ")]


def _term(course: Course, exchange: Path, students: tuple[str, ...]):
    with course.config_path.open("a") as fh:
        fh.write("\nc.Grading.feedback_interval_minutes = 0\nc.Grading.feedback_per_day = 2\n")
    common = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    assert main(["build", *common]) == 0
    assert main(["release", "--exchange", "--exchange-root", str(exchange), *common]) == 0
    homes = {}
    for student in students:
        homes[student] = course.course_dir.parent / student
        homes[student].mkdir()
        _student(ExchangeFetchAssignment, student, homes[student], exchange, course.course_id())
    return course, exchange, homes


@pytest.fixture
def term(tmp_path, exchange):
    """A course with the fixture assignment published to ``exchange``; ada and bob fetched it
    (folders run as this user: the owner check is off).

    Limits: no interval, two graded submissions a day."""
    return _term(_course(tmp_path), exchange, ("ada", "bob"))


def _submit(term, student: str) -> None:
    course, exchange, homes = term
    _student(ExchangeSubmit, student, homes[student], exchange, course.course_id())


def _fetched(term, student: str) -> dict[str, str]:
    """Fetch ``student``'s feedback; {submission timestamp: page} of everything fetched."""
    course, exchange, homes = term
    _student(ExchangeFetchFeedback, student, homes[student], exchange, course.course_id())
    folder = homes[student] / ASSIGNMENT / "feedback"
    return {p.parent.name: p.read_text() for p in folder.glob("*/*.html")}


def _states(service: FeedbackService) -> list[tuple[str, str]]:
    return [(e.student, e.state) for e in service.entries()]


def test_each_submission_is_graded_once_and_reaches_its_student_only(term, exchange):
    course, _, homes = term
    _solve(homes["ada"] / ASSIGNMENT / NOTEBOOK, course.source_dir / ASSIGNMENT / NOTEBOOK)
    _submit(term, "ada")
    _submit(term, "bob")
    service = FeedbackService(course, exchange)

    handled = service.process_once()
    # both arrived together: graded one after the other, in timestamp order
    assert [(e.student, e.state) for e in handled] == [("ada", "graded"), ("bob", "graded")]
    assert [e.score for e in handled] == [5, 0]
    assert handled[0].stamp() < handled[1].stamp()
    ada_page = _fetched(term, "ada")
    assert list(ada_page) == [handled[0].timestamp]
    own = (course.feedback_dir / "ada" / ASSIGNMENT / "f1_tiny.html").read_text()
    assert ada_page[handled[0].timestamp] == own
    # the page says it is the server's automatic grading of that submission, not the final grade
    assert f"Automatic feedback on your submission of {handled[0].timestamp}" in own
    assert "not your final grade" in own
    bob_page = _fetched(term, "bob")
    assert list(bob_page) == [handled[1].timestamp] and bob_page != ada_page

    # nothing new: a second pass grades nothing, and a new service (a restart) neither
    assert service.process_once() == []
    assert FeedbackService(course, exchange).process_once() == []
    assert _states(service) == [("ada", "graded"), ("bob", "graded")]

    # bob resubmits: only the new submission is graded
    _submit(term, "bob")
    [again] = service.process_once()
    assert (again.student, again.state, again.attempts) == ("bob", "graded", 1)
    assert again.timestamp != handled[1].timestamp
    assert again.timestamp in _fetched(term, "bob")

    # bob's third graded submission today is over the limit (two a day): not graded, and his
    # feedback names the time of the next one, a day after the first graded one
    _submit(term, "bob")
    [refused] = service.process_once()
    assert refused.state == "limited" and refused.attempts == 0
    page = _fetched(term, "bob")[refused.timestamp]
    when = re.search(r"allowed from (\d{4}-\d\d-\d\d \d\d:\d\d UTC)", page)
    assert when, page
    first_seen = [e for e in service.entries() if e.student == "bob"][0].seen
    assert when.group(1) in refused.note
    assert when.group(1) == (datetime.fromisoformat(first_seen) + timedelta(days=1)).strftime(
        "%Y-%m-%d %H:%M UTC")
    assert [e.state for e in service.entries() if e.student == "bob"] == \
        ["graded", "graded", "limited"]

    # one graded submission an hour: ada's second, right after her first, waits an hour
    _submit(term, "ada")
    hourly = GradingConfig.read(course.course_dir).replace(feedback_interval_minutes=60,
                                                            feedback_per_day=0)
    [waits] = FeedbackService(course, exchange, hourly).process_once()
    assert waits.state == "limited"
    hour_later = datetime.fromisoformat(handled[0].seen) + timedelta(hours=1)
    assert f"allowed from {hour_later:%Y-%m-%d %H:%M} UTC" in _fetched(term, "ada")[waits.timestamp]


def test_a_pass_that_died_mid_grade_is_finished_by_the_next(term, exchange, monkeypatch):
    course, _, _ = term
    _submit(term, "ada")
    service = FeedbackService(course, exchange)

    def die(*args, **kwargs):
        raise SystemExit("killed mid-grade")

    monkeypatch.setattr(hubservice, "grade", die)
    with pytest.raises(SystemExit):
        service.process_once()
    [left] = service.entries()
    assert (left.state, left.attempts) == ("grading", 1)
    monkeypatch.undo()

    [done] = FeedbackService(course, exchange).process_once()
    assert (done.state, done.attempts, done.score) == ("graded", 2, 0)
    assert list(_fetched(term, "ada")) == [done.timestamp]
    assert service.process_once() == []
    lines = service.ledger_path.read_text().splitlines()
    assert [json.loads(line)["state"] for line in lines] == ["graded"]


def test_a_lost_ledger_does_not_grade_again(term, exchange, capsys):
    """With no ledger, what the gradebook holds counts as graded."""
    course, _, _ = term
    _submit(term, "ada")
    common = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS),
              "--exchange-root", str(exchange)]
    assert main(["serve-feedback", "--once", *common]) == 0
    service = FeedbackService(course, exchange)
    [first] = service.entries()
    assert f"ada {ASSIGNMENT} {first.timestamp}: graded 0/5" in capsys.readouterr().out
    Path(service.ledger_path).unlink()
    assert FeedbackService(course, exchange).process_once() == []
    [found] = service.entries()
    assert (found.timestamp, found.state, found.attempts) == (first.timestamp, "graded", 0)


def test_a_submission_in_another_name_or_with_a_bad_timestamp_is_set_aside(tmp_path, exchange,
                                                                           capsys):
    """With nbgrader's owner check on (the default): a folder named for ada but made by this
    user, and one of this user's own with a timestamp far in the future or not a date, are
    renamed out of nbgrader's sight and recorded refused, with why; neither blocks this user's
    real submission, which is graded; collect sets them aside too."""
    me = pwd.getpwuid(os.getuid()).pw_name
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    course, _, homes = _term(course, exchange, (me, "ada"))
    _solve(homes[me] / ASSIGNMENT / NOTEBOOK, course.source_dir / ASSIGNMENT / NOTEBOOK)
    _submit((course, exchange, homes), me)
    inbound = exchange / course.course_id() / "inbound"
    [real] = [f.name for f in inbound.iterdir()]
    for name in (f"ada+{ASSIGNMENT}+2026-01-01 10:00:00.000000 UTC",
                 f"{me}+{ASSIGNMENT}+2099-01-01 10:00:00.000000 UTC",
                 f"{me}+{ASSIGNMENT}+yesterday"):
        shutil.copytree(inbound / real, inbound / name)

    handled = FeedbackService(course, exchange).process_once()
    refused = {e.timestamp: e.note for e in handled if e.state == "refused"}
    assert refused == {"2026-01-01 10:00:00.000000 UTC": f"named for ada but made by {me}",
                       "2099-01-01 10:00:00.000000 UTC": refused["2099-01-01 10:00:00.000000 UTC"],
                       "yesterday": "its timestamp 'yesterday' is not a date"}, refused
    assert "in the future" in refused["2099-01-01 10:00:00.000000 UTC"]
    [graded] = [e for e in handled if e.state != "refused"]
    assert (graded.student, graded.folder, graded.state, graded.score) == (me, real, "graded", 5)
    assert sorted(f.name for f in inbound.iterdir()) == sorted(
        [real] + [f".refused-{e.folder.removeprefix('.refused-')}" for e in handled
                  if e.state == "refused"])
    assert not (course.submitted_dir / "ada").exists()

    # the instructor's collect says so too (a new forgery since the service's pass)
    shutil.copytree(inbound / real, inbound / f"ada+{ASSIGNMENT}+2026-01-02 10:00:00.000000 UTC")
    common = ["--course-dir", str(course.course_dir), "--exchange-root", str(exchange)]
    capsys.readouterr()
    assert main(["collect", "--exchange", *common]) == 0
    assert f"ada: no timestamp (refused: ada+{ASSIGNMENT}+2026-01-02 10:00:00.000000 UTC, " \
        f"named for ada but made by {me}" in capsys.readouterr().out
    assert not (course.submitted_dir / "ada").exists()
