"""Tests for ``collect`` on LMS downloads: each layout as the LMS names its files, built here
as a zip from a table, then collected into a scratch course; and collecting again."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.cli import main
from autograder.collect import LmsRecord, collect
from autograder.course import Course, PipelineError

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "a3_minibatch"
WHEN = (2025, 10, 6, 12, 0, 0)  # the zip entries' date unless a row says otherwise


def _notebook(text: str) -> bytes:
    """A small notebook whose one code cell is ``text`` (so each student's bytes differ)."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"answer = {text!r}", id="answer")]
    return nbformat.writes(nb).encode()


def _zip(path: Path, members: dict[str, bytes | tuple[bytes, tuple]]) -> Path:
    """A zip of ``members``: name -> bytes (dated WHEN) or (bytes, date_time)."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            data, when = data if isinstance(data, tuple) else (data, WHEN)
            zf.writestr(zipfile.ZipInfo(name, when), data)
    return path


@pytest.fixture
def course(tmp_path) -> Course:
    """A scratch course with a3_minibatch released (one notebook)."""
    course = Course.create(tmp_path / "course", FIXTURE_NOTEBOOKS)
    release = course.release_dir / ASSIGNMENT
    release.mkdir(parents=True)
    (release / f"{ASSIGNMENT}.ipynb").write_bytes(_notebook("release"))
    return course


def _receipt(name: str, username: str, file: str, stamp: str) -> bytes:
    """Blackboard's receipt of one attempt."""
    return (f"Name: {name} ({username})\nAssignment: A3 Minibatch\n"
            "Date Submitted: Monday, 6 October 2025 23:59:01 o'clock BST\n"
            "Current Grade: Needs Grading\n\nSubmission Field:\n"
            "There is no student submission text data for this assignment.\n\n"
            "Comments:\nThere are no student comments for this assignment.\n\n"
            f"Files:\n\tOriginal filename: {file}\n"
            f"\tFilename: A3 Minibatch_{username}_attempt_{stamp}_{file}\n").encode()


_GRADESCOPE_META = """\
submission_301:
  :submitters:
  - :name: Ada Lovelace
    :sid: '2001'
    :email: ada@example.edu
  :created_at: 2025-10-06 15:58:12.123456000 -07:00
  :score: 0.0
  :status: processed
submission_302:
  :submitters:
  - :name: Bo Lee
    :sid:
    :email: bo.lee@example.edu
  - :name: Chen Wei
    :sid: 2003
    :email: chen@example.edu
  :created_at: 2025-10-07 09:00:00.000000000 +00:00
  :score: 0.0
"""

BB = "A3 Minibatch_{}_attempt_{}"
CANVAS_TIME = "the zip entry, dated when Canvas built the download"  # so no timestamp.txt

# layout, config line, zip members, {student: (what, name, timestamp, time_from, late)},
# {file (end of its path): why (part of it)}
LAYOUTS = [
    ("canvas", "", {
        "lovelaceada_12345_900001_A3_Minibatch.ipynb": _notebook("ada 1"),
        "lovelaceada_late_12346_900002_a3_minibatch (1).ipynb": _notebook("ada 2"),
        "obriensiobhán_12347_900003_a3_minibatch-1.ipynb": _notebook("siobhan"),
        "lovelaceada_12345_900004_notes.pdf": b"%PDF-1.4",
        "leebo_12348_900005_homework.ipynb": _notebook("bo"),
        "readme.txt": b"hello",
    }, {
        "12345": ("added", "lovelaceada", "2025-10-06 12:00:00", CANVAS_TIME, False),
        "12346": ("added", "lovelaceada", "2025-10-06 12:00:00", CANVAS_TIME, True),
        "12347": ("added", "obriensiobhán", "2025-10-06 12:00:00", CANVAS_TIME, False),
        "12348": ("rejected", "leebo", None, None, None),
    }, {
        "900004_notes.pdf": "not a notebook (.ipynb)",
        "900005_homework.ipynb": "names no released notebook: got 'homework.ipynb' "
                                 "(released: a3_minibatch.ipynb)",
        "readme.txt": "not a notebook",
    }),
    ("moodle", "", {
        "Siobhán O'Brien_880011_assignsubmission_file_/a3_minibatch.ipynb": _notebook("s"),
        "Ada Lovelace_880012_assignsubmission_file_/A3_Minibatch (1).ipynb": _notebook("a1"),
        "Ada Lovelace_880013_assignsubmission_file_/a3 minibatch.ipynb": _notebook("a2"),
        "Chen Wei_880015_assignsubmission_file_a3-minibatch.ipynb": _notebook("chen"),
        "Bo Lee_880014_assignsubmission_onlinetext_/onlinetext.html": b"<p>see attached</p>",
        "Dee Ray_880016_assignsubmission_file_/a3_minibatch.ipynb": _notebook("dee 1"),
        "Dee Ray_880016_assignsubmission_file_/A3_minibatch.ipynb": _notebook("dee 2"),
        "Eve Moss_880017_assignsubmission_file_/old/a3_minibatch.ipynb": _notebook("eve"),
    }, {
        "880011": ("added", "Siobhán O'Brien", "2025-10-06 12:00:00", "the zip entry", None),
        "880012": ("added", "Ada Lovelace", "2025-10-06 12:00:00", "the zip entry", None),
        "880013": ("added", "Ada Lovelace", "2025-10-06 12:00:00", "the zip entry", None),
        "880015": ("added", "Chen Wei", "2025-10-06 12:00:00", "the zip entry", None),
        "880014": ("rejected", "Bo Lee", None, None, None),
        "880016": ("rejected", "Dee Ray", None, None, None),
    }, {
        "onlinetext.html": "Moodle's onlinetext submission, not a file",
        "_/a3_minibatch.ipynb": "conflict: 2 files claim 880016/a3_minibatch.ipynb",
        "_/A3_minibatch.ipynb": "none was placed",
        "old/a3_minibatch.ipynb": "inside a subfolder of Eve Moss_880017_assignsubmission_file_",
    }),
    # Blackboard names the server's local time; the course says which zone that is
    ("blackboard", 'c.Exchange.timezone = "Europe/London"', {
        BB.format("ada_l", "2025-10-06-23-59-01") + "_a3_minibatch.ipynb": _notebook("ada"),
        BB.format("ada_l", "2025-10-06-23-59-01") + ".txt":
            _receipt("Ada Lovelace", "ada_l", "a3_minibatch.ipynb", "2025-10-06-23-59-01"),
        BB.format("o'brien", "2025-10-05-10-00-00") + "_a3_minibatch.ipynb": _notebook("s 1"),
        BB.format("o'brien", "2025-10-05-10-00-00") + ".txt":
            _receipt("Siobhán O'Brien", "o'brien", "a3_minibatch.ipynb", "2025-10-05-10-00-00"),
        BB.format("o'brien", "2025-10-07-09-30-00") + "_A3_Minibatch (1).ipynb": _notebook("s 2"),
        BB.format("o'brien", "2025-10-07-09-30-00") + ".txt":
            _receipt("Siobhán O'Brien", "o'brien", "A3_Minibatch (1).ipynb",
                     "2025-10-07-09-30-00"),
        BB.format("bo_lee", "2025-10-06-08-00-00") + "_a3_minibatch.ipynb": _notebook("bo"),
    }, {
        "ada_l": ("added", "Ada Lovelace", "2025-10-06 22:59:01", "the file name", None),
        "o'brien": ("added", "Siobhán O'Brien", "2025-10-07 08:30:00", "the file name", None),
    }, {
        "o'brien_attempt_2025-10-05-10-00-00_a3_minibatch.ipynb":
            "superseded by the later A3 Minibatch_o'brien_attempt_2025-10-07-09-30-00",
        "bo_lee_attempt_2025-10-06-08-00-00_a3_minibatch.ipynb":
            "a Blackboard attempt without its receipt",
    }),
    ("gradescope", "", {
        "assignment_4821_export/submission_metadata.yml": _GRADESCOPE_META.encode(),
        "assignment_4821_export/submission_301/a3_minibatch.ipynb": _notebook("ada"),
        "assignment_4821_export/submission_302/A3_Minibatch.ipynb": _notebook("bo and chen"),
        "assignment_4821_export/submission_303/a3_minibatch.ipynb": _notebook("nobody"),
    }, {
        "2001": ("added", "Ada Lovelace", "2025-10-06 22:58:12", "submission_metadata.yml", None),
        "bo.lee@example.edu": ("added", "Bo Lee", "2025-10-07 09:00:00",
                               "submission_metadata.yml", None),
        "2003": ("added", "Chen Wei", "2025-10-07 09:00:00", "submission_metadata.yml", None),
    }, {
        "submission_303/a3_minibatch.ipynb": "submission_303 has no submitters",
    }),
    ("plain", "", {
        "ann_lee_a3_minibatch.ipynb": _notebook("ann"),
        "ben/A3_Minibatch.ipynb": _notebook("ben"),
        "ben/drafts/a3_minibatch.ipynb": _notebook("ben draft"),
        # names inside one student's folder never speak for another student
        "ben/cy/a3_minibatch.ipynb": _notebook("ben as cy"),
        "ben/lovelaceada_12345_900001_a3_minibatch.ipynb": _notebook("ben as 12345"),
        "submission_304/a3_minibatch.ipynb": _notebook("gradescope without its metadata"),
        "cy_work.zip": b"PK\x05\x06" + bytes(18),  # an empty zip: archives are not unpacked
        "a3_minibatch.ipynb": _notebook("whose?"),
    }, {
        "ann_lee": ("added", "", "2025-10-06 12:00:00", "the zip entry", None),
        "ben": ("added", "", "2025-10-06 12:00:00", "the zip entry", None),
    }, {
        "drafts/a3_minibatch.ipynb": "inside a subfolder of ben",
        "cy/a3_minibatch.ipynb": "inside a subfolder of ben",
        "ben/lovelaceada_12345_900001_a3_minibatch.ipynb": "names no released notebook",
        "submission_304/a3_minibatch.ipynb": "submission_304 has no submitters in "
                                             "submission_metadata.yml",
        "cy_work.zip": "an archive: not unpacked",
        "a3_minibatch.ipynb": "no student id",
    }),
]


@pytest.mark.parametrize(("layout", "config", "members", "students", "unplaced"), LAYOUTS,
                         ids=[row[0] for row in LAYOUTS])
def test_collect_each_layout(course, tmp_path, layout, config, members, students, unplaced):
    """Each LMS layout places every student under its LMS id with name, time and its source
    in lms.json and timestamp.txt, and says why each other file was not placed."""
    if config:
        with course.config_path.open("a") as fh:
            fh.write(f"\n{config}\n")
    report = collect(course, ASSIGNMENT, _zip(tmp_path / f"{layout}.zip", members))
    assert {o.student: (o.what, o.name) for o in report.students} == {
        s: (what, name) for s, (what, name, *_) in students.items()}
    for student, (what, name, stamp, time_from, late) in students.items():
        folder = course.submitted_dir / student / ASSIGNMENT
        if what == "rejected":
            assert not folder.exists()
            continue
        stamped = [] if time_from == CANVAS_TIME else ["timestamp.txt"]
        assert sorted(p.name for p in folder.iterdir()) == [
            f"{ASSIGNMENT}.ipynb", "lms.json", *stamped]
        record = LmsRecord.read(folder)
        assert (record.lms, record.student, record.name) == (layout, student, name)
        assert (record.timestamp, record.time_from, record.late) == (stamp, time_from, late)
        if stamped:
            assert (folder / "timestamp.txt").read_text() == stamp
        original = record.files[f"{ASSIGNMENT}.ipynb"]
        assert (folder / f"{ASSIGNMENT}.ipynb").read_bytes() == next(
            data for name, data in members.items() if name.endswith(original))
    assert len(report.unplaced) == len(unplaced)
    for end, why in unplaced.items():
        got = [w for f, w in report.unplaced if f.endswith(end)]
        assert got and why in got[0], (end, report.unplaced)


def test_collect_again_adds_newer_and_keeps_the_rest(course, tmp_path, capsys):
    """A second download adds new students and replaces only newer notebooks; unchanged,
    older and untimed copies are kept and say why; students not in it are untouched;
    --force replaces what differs."""
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    first = _zip(tmp_path / "monday.zip", {
        "ada_101_1_a3_minibatch.ipynb": _notebook("ada"),
        "bo_102_2_a3_minibatch.ipynb": (_notebook("bo 1"), (2025, 10, 6, 9, 0, 0)),
        "cy_103_3_a3_minibatch.ipynb": (_notebook("cy 1"), (2025, 10, 8, 9, 0, 0)),
        "dee_104_4_a3_minibatch.ipynb": _notebook("dee"),
    })
    assert main(["collect", ASSIGNMENT, str(first), *args]) == 0
    assert "4 added, 0 replaced, 0 kept, 0 rejected" in capsys.readouterr().out
    untimed = course.submitted_dir / "106" / ASSIGNMENT
    untimed.mkdir(parents=True)
    (untimed / f"{ASSIGNMENT}.ipynb").write_bytes(_notebook("by hand"))
    second = _zip(tmp_path / "wednesday.zip", {
        "ada_101_1_a3_minibatch.ipynb": (_notebook("ada"), (2025, 10, 8, 12, 0, 0)),
        "bo_late_102_5_a3_minibatch.ipynb": (_notebook("bo 2"), (2025, 10, 7, 9, 0, 0)),
        "cy_103_6_a3_minibatch.ipynb": (_notebook("cy 0"), (2025, 10, 7, 9, 0, 0)),
        "eve_105_7_a3_minibatch.ipynb": _notebook("eve"),
        "fay_106_8_a3_minibatch.ipynb": _notebook("fay"),
    })
    assert main(["collect", ASSIGNMENT, str(second), *args]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "101 (ada): a3_minibatch.ipynb, downloaded 2025-10-08 12:00:00 UTC "
        "(kept: the same notebooks are already collected)",
        "102 (bo): a3_minibatch.ipynb, downloaded 2025-10-07 09:00:00 UTC, LATE "
        "(replaced: the copy of 2025-10-06 09:00:00 UTC)",
        "103 (cy): a3_minibatch.ipynb, downloaded 2025-10-07 09:00:00 UTC "
        "(kept: the collected copy, of 2025-10-08 09:00:00 UTC, is not older)",
        "105 (eve): a3_minibatch.ipynb, downloaded 2025-10-06 12:00:00 UTC (added)",
        f"106 (fay): a3_minibatch.ipynb, downloaded 2025-10-06 12:00:00 UTC (kept: {untimed} "
        "has no lms.json or timestamp.txt, so which copy is newer is unknown; --force replaces "
        "it)",
        f"1 added, 1 replaced, 3 kept, 0 rejected, in {course.submitted_dir}/<student>/"
        f"{ASSIGNMENT}",
    ]

    def answer(student):
        return (course.submitted_dir / student / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_bytes()

    assert [answer(s) for s in ("101", "102", "103", "104", "105", "106")] == [
        _notebook(t) for t in ("ada", "bo 2", "cy 1", "dee", "eve", "by hand")]
    record = LmsRecord.read(course.submitted_dir / "102" / ASSIGNMENT)
    assert (record.late, record.files) == (True, {
        f"{ASSIGNMENT}.ipynb": "bo_late_102_5_a3_minibatch.ipynb"})
    assert json.loads((course.submitted_dir / "102" / ASSIGNMENT / "lms.json").read_text())[
        "timestamp"] == "2025-10-07 09:00:00"
    assert not (course.submitted_dir / "102" / ASSIGNMENT / "timestamp.txt").exists()

    assert main(["collect", ASSIGNMENT, str(second), "--force", *args]) == 0
    assert "0 added, 2 replaced, 3 kept" in capsys.readouterr().out
    assert (answer("103"), answer("106")) == (_notebook("cy 0"), _notebook("fay"))


def test_collect_exit_status_and_stderr(course, tmp_path, capsys):
    """A rejected file makes the exit status 1 and is listed on stderr with why; a student
    named only by rejected files has a 'rejected' line; a download with nothing to place
    is an error that lists every file, and one with a path out of its folder is refused."""
    args = ["--course-dir", str(course.course_dir), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    archive = _zip(tmp_path / "class.zip", {
        "ada_101_1_a3_minibatch.ipynb": _notebook("ada"),
        "bo_102_2_a3_minibatch.py": b"print('bo')",
    })
    assert main(["collect", ASSIGNMENT, str(archive), *args]) == 1
    out, err = capsys.readouterr()
    assert "102 (bo): rejected: bo_102_2_a3_minibatch.py: not a notebook (.ipynb)" in out
    assert "not placed: bo_102_2_a3_minibatch.py: not a notebook (.ipynb)" in err
    with pytest.raises(PipelineError, match=r"no file in nothing.zip could be placed\n"
                                            r"  notes.txt: not a notebook \(.ipynb\)$"):
        collect(course, ASSIGNMENT, _zip(tmp_path / "nothing.zip", {"notes.txt": b"x"}))
    with pytest.raises(PipelineError, match=r"could not extract .*escape.zip: "
                                            r"'../eve_a3_minibatch.ipynb' would be extracted "
                                            r"outside"):
        collect(course, ASSIGNMENT, _zip(tmp_path / "escape.zip", {
            "cy_107_1_a3_minibatch.ipynb": _notebook("cy"),
            "../eve_a3_minibatch.ipynb": _notebook("outside")}))
    assert not (course.submitted_dir / "107").exists()  # nothing of that download is placed
