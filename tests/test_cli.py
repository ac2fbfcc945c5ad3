"""Tests for ``python -m autograder``'s command line as a user meets it: every command's help,
usage errors (exit status 2), one-line errors (exit status 1), and the grading flags mapped
onto the course's ``c.Grading`` settings.

Nothing here runs a notebook: commands that would grade get a stand-in for their grading
function (``autograder.grading.grade``, ``autograder.pipeline.run_check`` ...), so the whole
file takes seconds. Grading for real is tested in test_pipeline.py and test_selfgrade.py."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from autograder import cli
from autograder.cli import COMMANDS, build_parser, command, main, option
from autograder.config import GradingConfig
from autograder.course import CONFIG_NAME, PipelineError

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_NOTEBOOKS = ROOT / "tests" / "fixtures" / "notebooks"
ASSIGNMENT = "f1_tiny"
TEMPLATE = ROOT / "course" / CONFIG_NAME
EVERY_COMMAND = ["build", "tables", "release", "validate", "collect", "grade", "scan",
                 "feedback", "report", "export", "override", "extend", "check", "demo",
                 "selfgrade", "lab", "student-kit", "serve-feedback", "similarity"]
GRADING_COMMANDS = ["validate", "grade", "check", "demo"]  # the ones with --jobs, --timeout ...
GRADING = "\nc.Grading.timeout = 60\nc.Grading.jobs = 3\n"


pytestmark = pytest.mark.usefixtures("restore_environ")  # tests/conftest.py


def _course_dir(path: Path, grading: str = "") -> Path:
    """A course folder: the project's nbgrader_config.py, followed by ``grading`` lines."""
    path.mkdir(parents=True)
    (path / CONFIG_NAME).write_text(TEMPLATE.read_text() + grading)
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def _usage_error(capsys, *argv) -> str:
    with pytest.raises(SystemExit) as info:
        main([str(a) for a in argv])
    assert info.value.code == 2
    return capsys.readouterr().err


def _one_line_error(err: str, name: str) -> str:
    """The single stderr line of a failed command, checked for its form."""
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert err.startswith(f"autograder {name}: error: "), err
    assert "Traceback" not in err
    return err.strip()


@pytest.fixture(scope="module")
def released(tmp_path_factory):
    """A course with the fixture assignment built and released (nbgrader runs, no grading)."""
    saved = dict(os.environ)
    course = _course_dir(tmp_path_factory.mktemp("cli") / "course")
    common = ["--course-dir", str(course), "--notebooks-dir", str(FIXTURE_NOTEBOOKS)]
    try:
        assert main(["build", *common]) == 0
        assert main(["release", *common]) == 0
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return course


@pytest.fixture
def course(released, tmp_path) -> Path:
    """A private copy of the released course."""
    return Path(shutil.copytree(released, tmp_path / "course"))


def _stand_in(monkeypatch, module: str, name: str, result) -> dict:
    """Replace ``module.name`` by a function returning ``result``; the keywords it got."""
    seen: dict = {}

    def fake(*args, **kwargs):
        seen.update(kwargs)
        return result

    monkeypatch.setattr(f"{module}.{name}", fake)
    return seen


# --- help and usage errors ----------------------------------------------------------------


def test_every_command_is_registered():
    """The commands are the documented ones, in the order `--help` lists them."""
    assert list(COMMANDS) == EVERY_COMMAND


@pytest.mark.parametrize("name", EVERY_COMMAND)
def test_every_command_has_help(name, capsys):
    """`<command> --help` exits 0 with its usage, its description and its options."""
    with pytest.raises(SystemExit) as info:
        main([name, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: python -m autograder {name} ")
    assert COMMANDS[name].description.splitlines()[0] in out
    assert "--notebooks-dir" in out
    assert ("--course-dir" in out) == COMMANDS[name].course_dir
    assert ("--jobs" in out) == (name in GRADING_COMMANDS)


def test_selfgrade_module_is_the_selfgrade_command(capsys):
    """`python -m autograder.selfgrade` parses its arguments with the selfgrade command's."""
    from autograder import selfgrade

    texts = []
    for entry, argv in ((selfgrade.main, ["--help"]), (main, ["selfgrade", "--help"])):
        with pytest.raises(SystemExit) as info:
            entry(argv)
        assert info.value.code == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]


def test_top_level_help_lists_every_command(capsys):
    """`python -m autograder --help` names every command with its one-line summary."""
    with pytest.raises(SystemExit) as info:
        main(["--help"])
    assert info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for name, cmd in COMMANDS.items():
        assert f"{name} {' '.join(cmd.summary.split())}" in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nosuch"], "invalid choice: 'nosuch'"),
        ([], "the following arguments are required: <command>"),
        (["scan", "--bogus"], "unrecognized arguments: --bogus"),
        (["collect", "a1"], "the following arguments are required: archive"),
        (["grade", "--jobs", "-1"], "argument --jobs/-j: must be a whole number >= 0 (got '-1')"),
        (["validate", "--timeout", "soon"],
         "argument --timeout: must be a number of seconds >= 0 (got 'soon')"),
        (["check", "--memory-mb", "1.5"], "argument --memory-mb: must be a whole number >= 0"),
        (["demo", "--retries", "-2"], "argument --retries: must be a whole number >= 0"),
        (["grade", "--shard", "3/2"], "argument --shard: "),
        (["grade", "--db", "gradebook.db"],
         "--db must be a database URL such as postgresql://user@host/gradebook"),
        (["lab", "--port", "http"], "argument --port: invalid int value: 'http'"),
        (["selfgrade", "nb.ipynb", "--timeout", "-5"], "argument --timeout: must be a number"),
    ],
)
def test_usage_errors_exit_2(argv, message, capsys):
    """An unknown command, a missing argument or a bad flag value: exit 2 and what was wrong."""
    err = _usage_error(capsys, *argv)
    assert err.startswith("usage: python -m autograder")
    assert message in err, err


@pytest.mark.parametrize("name", ["scan", "report", "feedback", "release", "validate", "lab"])
def test_missing_course_is_one_line_error(name, tmp_path, capsys):
    """A --course-dir that holds no course: exit 1 and one line naming the folder."""
    typo = tmp_path / "cuorse"
    status, _, err = _run(capsys, name, "--course-dir", typo)
    assert status == 1
    assert str(typo) in _one_line_error(err, name)


# --- what commands do, as the user sees it -----------------------------------------------


def test_tables_check_reports_and_writes_nothing(tmp_path, capsys):
    """tables --check: exit 1 naming a source whose points differ, unchanged; tables fixes it."""
    notebooks = Path(shutil.copytree(FIXTURE_NOTEBOOKS, tmp_path / "notebooks"))
    source = notebooks / ASSIGNMENT / f"{ASSIGNMENT}.py"
    assert _run(capsys, "tables", "--check", "--notebooks-dir", notebooks)[0] == 0
    wrong = source.read_text().replace("### Exercise 1 (2 points)", "### Exercise 1 (7 points)")
    source.write_text(wrong)
    status, out, _ = _run(capsys, "tables", "--check", "--notebooks-dir", notebooks)
    assert status == 1
    assert f"differs {source}" in out and "run `python -m autograder tables`" in out
    assert source.read_text() == wrong
    status, out, _ = _run(capsys, "tables", "--notebooks-dir", notebooks)
    assert (status, out.strip()) == (0, f"wrote {source}")
    assert "### Exercise 1 (2 points)" in source.read_text()


def test_build_errors(tmp_path, capsys):
    """build with no sources, or an assignment that is not there: one-line errors."""
    course = _course_dir(tmp_path / "course")
    status, _, err = _run(capsys, "build", "--course-dir", course, "--notebooks-dir", tmp_path)
    assert status == 1
    assert f"no notebook sources found in {tmp_path}" in _one_line_error(err, "build")
    status, _, err = _run(capsys, "build", "a9_nothing", "--course-dir", course,
                          "--notebooks-dir", FIXTURE_NOTEBOOKS)
    assert status == 1
    assert "a9_nothing" in _one_line_error(err, "build")


def test_release_keeps_edited_notebooks_and_names_missing_ones(course, capsys):
    """An edited release is kept with a warning (exit 0); an unknown assignment is an error."""
    released = course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
    released.write_text(released.read_text().replace("cube", "cube ", 1))
    status, out, err = _run(capsys, "release", "--course-dir", course)
    assert status == 0
    assert f"{ASSIGNMENT}: kept: {ASSIGNMENT}.ipynb edited since the last release" in out
    assert f"warning: {ASSIGNMENT} was not released again" in err
    status, _, err = _run(capsys, "release", "a9_nothing", "--course-dir", course)
    assert status == 1
    assert _one_line_error(err, "release").endswith(
        f"no source notebooks for a9_nothing in {course / 'source'} (found: {ASSIGNMENT}); "
        "run `python -m autograder build` first")


def _submit(course: Path, student: str, edit=None) -> Path:
    """Copy the released notebook in as ``student``'s submission, edited by ``edit(nb)``."""
    nb = json.loads((course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").read_text())
    if edit:
        edit(nb)
    folder = course / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True)
    path = folder / f"{ASSIGNMENT}.ipynb"
    path.write_text(json.dumps(nb))
    return path


def _exit_in_answer(nb: dict) -> None:
    for cell in nb["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == "f1-cube":
            cell["source"] = "import os\nos._exit(0)\n"


def test_scan_reports_flagged_submissions(course, capsys):
    """scan: exit 0 for clean submissions, 1 when one is flagged, naming the student."""
    _submit(course, "alice")
    status, out, _ = _run(capsys, "scan", "--course-dir", course, "--all")
    assert status == 0
    assert "alice" in out and "scan: 1 submission(s): 1 ok" in out
    _submit(course, "mallory", _exit_in_answer)
    status, out, _ = _run(capsys, "scan", "--course-dir", course)
    assert status == 1
    assert "mallory" in out and "alice" not in out.split("scan:")[0]
    assert "1 flagged" in out
    status, _, err = _run(capsys, "scan", "--course-dir", course, "--student", "bob")
    assert status == 1
    assert "from bob" in _one_line_error(err, "scan")


def test_report_names_an_assignment_not_in_the_gradebook(course, capsys):
    """report a9_nothing: one line saying what the gradebook holds."""
    status, _, err = _run(capsys, "report", "a9_nothing", "--course-dir", course)
    assert status == 1
    line = _one_line_error(err, "report")
    assert "no released assignment for a9_nothing in the gradebook sqlite:///" in line
    assert f"(found: {ASSIGNMENT}); run `python -m autograder release` first" in line


def test_feedback_needs_autograded_submissions(course, monkeypatch, capsys):
    """feedback before grading: the error says to grade; a failed page: exit 1 and why."""
    status, _, err = _run(capsys, "feedback", "--course-dir", course)
    assert status == 1
    assert _one_line_error(err, "feedback").endswith(
        f"no autograded submissions for any assignment in {course / 'autograded'} "
        "(found: none); run `python -m autograder grade` first")
    graded = course / "autograded" / "alice" / ASSIGNMENT
    graded.mkdir(parents=True)
    (graded / f"{ASSIGNMENT}.ipynb").write_text("{}")
    _stand_in(monkeypatch, "autograder.feedback", "generate_feedback", ["no template"])
    status, out, err = _run(capsys, "feedback", "--course-dir", course)
    assert status == 1
    assert f"feedback {ASSIGNMENT}: no template" in err
    assert f"0 feedback file(s) in {course / 'feedback'}" in out


@pytest.mark.parametrize("password", ["s3cret"])
def test_db_url_that_cannot_be_opened(course, password, capsys):
    """--db naming an unreachable server: one line, exit 1, the password never shown."""
    url = f"postgresql://grader:{password}@127.0.0.1:9/gradebook"
    status, _, err = _run(capsys, "report", "--course-dir", course, "--db", url)
    assert status == 1
    line = _one_line_error(err, "report")
    assert "could not open the gradebook postgresql" in line and "127.0.0.1:9" in line
    assert password not in line


def test_db_url_to_a_missing_sqlite_file(course, tmp_path, capsys):
    """report --db sqlite:///<missing file>: the error says there is no gradebook there."""
    missing = tmp_path / "nowhere" / "gradebook.db"
    status, _, err = _run(capsys, "report", "--course-dir", course, "--db", f"sqlite:///{missing}")
    assert status == 1
    assert f"no gradebook at sqlite:///{missing}" in _one_line_error(err, "report")
    assert not missing.parent.exists()


def test_collect_lists_placed_and_unplaced_files(course, tmp_path, monkeypatch, capsys):
    """collect: one line per student (LATE marked), unplaced files on stderr, exit 1."""
    from autograder.collect import CollectReport, Outcome

    status, _, err = _run(capsys, "collect", ASSIGNMENT, tmp_path / "missing.zip",
                          "--course-dir", course)
    assert status == 1
    assert "expected a .zip file from the LMS" in _one_line_error(err, "collect")
    report = CollectReport(students=[
        Outcome("101", "amy", "added", "", ["f1_tiny.ipynb"], "2025-10-06 12:00:00"),
        Outcome("102", "bob", "added", "", ["f1_tiny.ipynb"], "2025-10-06 12:00:00", True)],
        unplaced=[("notes.txt", "not a notebook")])
    _stand_in(monkeypatch, "autograder.collect", "collect", report)
    status, out, err = _run(capsys, "collect", ASSIGNMENT, tmp_path / "class.zip",
                            "--course-dir", course)
    assert status == 1
    assert out.splitlines()[:2] == ["101 (amy): f1_tiny.ipynb, 2025-10-06 12:00:00 UTC (added)",
                                    "102 (bob): f1_tiny.ipynb, 2025-10-06 12:00:00 UTC, LATE "
                                    "(added)"]
    assert "2 added, 0 replaced, 0 kept, 0 rejected" in out
    assert "not placed: notes.txt: not a notebook" in err


def test_lab_dry_run_prints_the_command(course, capsys):
    """lab --dry-run prints the jupyter lab command serving the release, and starts nothing."""
    status, out, err = _run(capsys, "lab", "--course-dir", course, "--dry-run", "--port", "9999")
    assert status == 0
    assert "-m jupyter lab" in out and f"--ServerApp.root_dir={course / 'release'}" in out
    assert "--ServerApp.port=9999" in out
    assert err == ""  # lab is not timed


def test_selfgrade_of_a_missing_notebook(tmp_path, capsys):
    """selfgrade with a notebook that does not exist: exit 1 and one line saying so."""
    status, _, err = _run(capsys, "selfgrade", tmp_path / "mine.ipynb")
    assert status == 1
    assert "mine.ipynb: no such file" in _one_line_error(err, "selfgrade")


# --- grading flags and c.Grading ----------------------------------------------------------


@pytest.mark.parametrize("name", GRADING_COMMANDS)
def test_flags_override_c_grading_and_absent_ones_keep_it(name, tmp_path):
    """A grading flag given replaces c.Grading's value; one not given keeps it."""
    course = _course_dir(tmp_path / "course", GRADING)
    parser = build_parser()
    config = GradingConfig.from_args(course, parser.parse_args([name]))
    assert (config.timeout, config.jobs, config.memory_mb, config.progress) == (60, 3, 4096, None)
    args = parser.parse_args([name, "--timeout", "5", "-j", "2", "--retries", "0",
                              "--no-progress"])
    config = GradingConfig.from_args(course, args)
    assert (config.timeout, config.jobs, config.retries, config.progress) == (5, 2, 0, False)
    assert config.memory_mb == GradingConfig().memory_mb


def test_validate_passes_the_course_settings_on(tmp_path, monkeypatch, capsys):
    """validate grades with c.Grading's settings, a flag overriding one of them."""
    course = _course_dir(tmp_path / "course", GRADING)
    seen = _stand_in(monkeypatch, "autograder.grading", "validate", [])
    status, out, err = _run(capsys, "validate", "--invert", "--course-dir", course,
                            "--timeout", "5")
    assert status == 0
    assert "validate --invert: " in out and "(validate took " in err
    config = seen["config"]
    assert (config.timeout, config.jobs, config.memory_mb) == (5, 3, 4096)
    assert seen["invert"] is True


@pytest.mark.parametrize(
    ("grading", "flags", "available", "why"),
    [
        ("", [], True, None),
        ("", ["--no-sandbox"], True, "--no-sandbox was given"),
        ("\nc.Grading.sandbox = False\n", [], True, "c.Grading.sandbox is False"),
        ("", [], False, "bwrap is not installed"),
    ],
)
def test_grade_says_whether_it_is_sandboxed(grading, flags, available, why, tmp_path,
                                            monkeypatch, capsys):
    """grade runs sandboxed unless --no-sandbox, c.Grading.sandbox or the machine says no,
    and then says why, loudly, before and after."""
    from autograder.sandbox import SandboxStatus

    monkeypatch.setattr("autograder.sandbox.sandbox_status",
                        lambda: SandboxStatus(available, "bwrap is not installed"
                                              if not available else "bubblewrap 0.9"))
    course = _course_dir(tmp_path / "course", grading)
    seen = _stand_in(monkeypatch, "autograder.grading", "grade", [])
    status, out, _ = _run(capsys, "grade", "--course-dir", course, *flags)
    assert status == 0
    assert seen["config"].sandbox is (why is None)
    if why is None:
        assert "sandbox: grading kernels run in bubblewrap (bubblewrap 0.9)" in out
        assert "NOT sandboxed" not in out
    else:
        assert out.count(f"!! grading is NOT sandboxed: {why}") == 2
        assert "grade (NOT SANDBOXED): " in out


def test_grade_with_an_empty_shard(tmp_path, monkeypatch, capsys):
    """grade --shard i/n with none of the students in shard i: nothing to do, exit 0."""
    course = _course_dir(tmp_path / "course")
    seen = _stand_in(monkeypatch, "autograder.grading", "grade", [])
    status, out, _ = _run(capsys, "grade", "--course-dir", course, "--shard", "2/3", "-s", "amy")
    assert status == 0
    assert "no selected student falls in shard 2/3" in out
    assert seen["shard"] == (2, 3)


@pytest.mark.parametrize(("name", "function"), [("check", "run_check"), ("demo", "run_demo")])
def test_check_and_demo_exit_with_the_pipelines_status(name, function, tmp_path, monkeypatch,
                                                       capsys):
    """check and demo return what the pipeline returns, with the grading flags passed on."""
    seen = _stand_in(monkeypatch, "autograder.pipeline", function, 1)
    argv = [name, "--retries", "4"]
    if name == "demo":
        argv += ["--course-dir", _course_dir(tmp_path / "course")]
    status, _, err = _run(capsys, *argv)
    assert status == 1
    assert seen["config"].retries == 4
    assert f"({name} took " in err


@pytest.mark.parametrize(
    ("grading", "message"),
    [
        ("\nc.Grading.jobs = -1\n", "jobs must be a whole number >= 0"),
        ("\nc.Grading.jbos = 2\n", "jbos"),
    ],
)
def test_bad_c_grading_is_one_line_error(grading, message, tmp_path, monkeypatch, capsys):
    """A wrong c.Grading setting: exit 1, one line naming the config file and the setting."""
    course = _course_dir(tmp_path / "course", grading)
    _stand_in(monkeypatch, "autograder.grading", "validate", [])
    status, _, err = _run(capsys, "validate", "--course-dir", course)
    assert status == 1
    line = _one_line_error(err, "validate")
    assert str(course / CONFIG_NAME) in line and message in line


# --- registering a command ----------------------------------------------------------------


@pytest.fixture
def registry(monkeypatch):
    """The command registry, restored after the test."""
    monkeypatch.setattr(cli, "COMMANDS", dict(COMMANDS))
    return cli.COMMANDS


def test_a_registered_command_is_parsed_and_run(registry, capsys):
    """One @command registration gives the parser, the help line and the exit status."""

    @command("hello", "greet someone", options=[option("name"),
                                                option("--loud", action="store_true")])
    def hello(args) -> int:
        print(f"hello {args.name}".upper() if args.loud else f"hello {args.name}")
        return 3

    status, out, err = _run(capsys, "hello", "world", "--loud")
    assert (status, out) == (3, "HELLO WORLD\n")
    assert re.fullmatch(r"\(hello took \d+\.\d s\)\n", err)
    with pytest.raises(SystemExit):
        main(["--help"])
    assert re.search(r"hello\s+greet someone", capsys.readouterr().out)


def test_a_name_is_registered_once(registry):
    """Registering a command name a second time is refused."""
    with pytest.raises(ValueError, match="command 'scan' is registered twice"):
        command("scan", "scan again")(lambda args: 0)


@pytest.mark.parametrize(
    ("error", "status", "err"),
    [
        (PipelineError("x must hold (got y)"), 1, "autograder boom: error: x must hold (got y)\n"),
        (KeyboardInterrupt(), 130, "autograder boom: interrupted\n"),
    ],
)
def test_failures_become_exit_statuses(registry, error, status, err, capsys):
    """A PipelineError is one line and exit 1; Ctrl-C is 'interrupted' and exit 130."""

    @command("boom", "fail", course_dir=False)
    def boom(args) -> int:
        raise error

    assert _run(capsys, "boom") == (status, "", err)
