"""The ``python -m autograder <command>`` command line.

Each command wraps nbgrader (its Python API, validator and apps) for this course's layout;
``--help`` on any command says what it reads and writes. Exit status: 0 when everything
worked, 1 when anything failed (the message names the assignment or student and why),
2 for a usage error.

A command is registered once, by the :func:`command` decorator on the function that runs
it: its name, its line in ``--help``, its description and its options (each an
:func:`option` or a function adding arguments, such as ``_run_options``) sit right above
that function, which takes the parsed arguments and returns the exit status::

    @command("hello", "greet a student", options=[option("student", help="their id")])
    def _cmd_hello(args) -> int:
        _say(f"hello {args.student}")
        return 0

Raise :class:`PipelineError` for a failure the user can act on: ``main`` prints it as one
line and exits 1. Each command gets a test in tests/test_cli.py.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .config import GRADEBOOK_ENV, GradingConfig, gradebook_url
from .course import (
    CONFIG_NAME,
    Course,
    PipelineError,
    apply_grading_environment,
    default_paths,
    display_url,
    pick_assignments,
    trusted_sys_path,
)

__all__ = ["COMMANDS", "Command", "build_parser", "command", "main", "option"]

_GRADE_LIMITS = """\
Each task runs in its own process (`--jobs` at a time); a task that exceeds --timeout
is stopped, a kernel that fails to start is retried (--retries), and one broken
notebook never stops the batch."""

Option = Callable[[argparse.ArgumentParser], object]


@dataclass(frozen=True)
class Command:
    """One ``python -m autograder <name>`` command.

    ``summary`` is its line in ``python -m autograder --help``, ``description`` the text of
    its own ``--help``; ``options`` add its arguments to its parser, in order; ``run(args)``
    does the work and returns the exit status. ``course_dir``: it takes ``--course-dir``
    (every command takes ``--notebooks-dir``); ``timed``: the time it took is printed.
    """

    name: str
    summary: str
    description: str
    options: tuple[Option, ...]
    run: Callable[[argparse.Namespace], int]
    course_dir: bool = True
    timed: bool = True

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        course_dir, notebooks_dir = default_paths()
        if self.course_dir:
            parser.add_argument(
                "--course-dir", type=Path, default=None,
                help=f"nbgrader course root (default: {course_dir.name}/ of the checkout)")
        parser.add_argument("--notebooks-dir", type=Path, default=None,
                            help=f"jupytext notebook sources (default: {notebooks_dir.name}/)")
        for add in self.options:
            add(parser)


COMMANDS: dict[str, Command] = {}


def command(name: str, summary: str, description: str | None = None, options=(),
            course_dir: bool = True, timed: bool = True):
    """Register the decorated ``run(args) -> exit status`` as ``python -m autograder <name>``
    (see :class:`Command`; ``description`` defaults to ``summary``)."""

    def register(run):
        if name in COMMANDS:
            raise ValueError(f"command {name!r} is registered twice")
        COMMANDS[name] = Command(name, summary, description or summary, tuple(options), run,
                                 course_dir, timed)
        return run

    return register


def option(*names: str, **kwargs) -> Option:
    """``parser.add_argument(*names, **kwargs)``, for a command's ``options``."""
    return lambda parser: parser.add_argument(*names, **kwargs)


def _assignments(text: str) -> Option:
    return option("assignments", nargs="*", help=text)


def _say(text: str = "") -> None:
    print(text, flush=True)


def _at_least_zero(kind: type, what: str):
    """An argparse ``type`` reading a number >= 0 of ``kind``; a usage error otherwise."""

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = -1
        if not value >= 0:
            raise argparse.ArgumentTypeError(f"must be {what} >= 0 (got {text!r})")
        return value

    return parse


def _grading_default(name: str) -> str:
    return f"default: c.Grading.{name} of nbgrader_config.py ({getattr(GradingConfig(), name):g})"


def _run_options(parser: argparse.ArgumentParser) -> None:
    """The grading limits; a flag not given keeps the course's c.Grading setting."""
    parser.add_argument("--jobs", "-j", type=_at_least_zero(int, "a whole number"), default=None,
                        help="processes at a time, 0: the number of cores "
                             f"({_grading_default('jobs')})")
    parser.add_argument("--timeout", type=_at_least_zero(float, "a number of seconds"),
                        default=None,
                        help="seconds one student (or validation) may take; 0: no limit "
                             f"({_grading_default('timeout')}; each cell is limited by the "
                             "config's c.Execute.timeout)")
    parser.add_argument("--memory-mb", type=_at_least_zero(int, "a whole number"), default=None,
                        help="address-space cap per task, kernel included; 0: none "
                             f"({_grading_default('memory_mb')})")
    parser.add_argument("--retries", type=_at_least_zero(int, "a whole number"), default=None,
                        help="re-runs of a task whose kernel failed to start "
                             f"({_grading_default('retries')})")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _db_url_arg(text: str) -> str:
    if "://" not in text.strip():
        raise argparse.ArgumentTypeError(
            "--db must be a database URL such as postgresql://user@host/gradebook or "
            f"sqlite:////path/gradebook.db (got {text!r})"
        )
    return text.strip()


def _db_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db", type=_db_url_arg, default=None, metavar="URL",
        help=f"gradebook URL, e.g. postgresql://user:password@host/gradebook to share one "
             f"gradebook between graders or machines (default: ${GRADEBOOK_ENV}, else "
             "c.CourseDirectory.db_url of nbgrader_config.py, else course/gradebook.db)")


def _exchange_root_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--exchange-root", type=Path, default=None, metavar="DIR",
        help="nbgrader's exchange folder (default: c.Exchange.root of nbgrader_config.py)")


def _shard_arg(text: str) -> tuple[int, int]:
    from .grading import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _grading_config(course_dir: Path, args) -> GradingConfig:
    """The course's c.Grading settings with the grading flags that were given applied."""
    try:
        return GradingConfig.from_args(course_dir, args)
    except ValueError as exc:
        raise PipelineError(f"{Path(course_dir) / CONFIG_NAME}: {exc}") from exc


def build_parser() -> argparse.ArgumentParser:
    """The parser of every registered command (see :func:`command`)."""
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Build, release, grade and report on the minigrad nbgrader course.",
        epilog="Run `python -m autograder <command> --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for cmd in COMMANDS.values():
        cmd.add_arguments(sub.add_parser(
            cmd.name, help=cmd.summary, description=cmd.description,
            formatter_class=argparse.RawDescriptionHelpFormatter))
    return parser


def _course(args, default_dir: Path | None = None, create: bool = False) -> Course:
    """The course the command works on; ``create``: make it (build, demo), else it must exist."""
    make = Course.create if create else Course.at
    return make(args.course_dir or default_dir, args.notebooks_dir, gradebook_url(args))


@command("build", "notebooks/<a>/<name>.py (jupytext) -> course/source/<a>/<name>.ipynb",
         "Convert the jupytext sources of each assignment into nbgrader source notebooks,\n"
         "deterministically (same input, byte-identical output). buggy.py and other\n"
         "non-notebook .py files are skipped.",
         options=[_assignments("assignments to build (default: all)")])
def _cmd_build(args) -> int:
    from .build import build

    course = _course(args, create=True)
    try:
        paths = build(course.notebooks_dir, course.source_dir, args.assignments or None)
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    if not paths:
        raise PipelineError(f"no notebook sources found in {course.notebooks_dir}")
    for path in paths:
        _say(f"built {path}")
    return 0


@command("tables", "write the points tables and exercise headings from the notebooks",
         "Rewrite, in every notebooks/<a>/<a>.py, the points in each '### Exercise N'\n"
         "heading and the points table between the table markers, and the README's table,\n"
         "from the graded test cells. With --check, write nothing and exit 1 when a file\n"
         "differs from what would be written.",
         options=[option("--check", action="store_true", help="only report files that differ")])
def _cmd_tables(args) -> int:
    from .exercises import write_tables

    course = _course(args)
    readme = course.notebooks_dir.parent / "README.md"
    try:
        changed = write_tables(course.notebooks_dir, readme if readme.is_file() else None,
                               check=args.check)
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    for path in changed:
        _say(f"{'differs' if args.check else 'wrote'} {path}")
    if args.check and changed:
        _say("run `python -m autograder tables` to rewrite them")
        return 1
    return 0


@command("release", "nbgrader generate_assignment: course/source -> course/release",
         "Generate the student version of each assignment (solutions and hidden tests\n"
         "removed) and register it in the gradebook. An assignment whose released\n"
         "notebooks were edited since the last release (work done in `make lab`) is kept,\n"
         "with a warning, unless --force is given. With --exchange, each assignment\n"
         "released is then published to nbgrader's exchange (release_assignment), where\n"
         "students fetch it with the Assignment List.",
         options=[_assignments("assignments to release (default: all built)"),
                  option("--force", action="store_true",
                         help="overwrite releases even if they were edited"),
                  option("--exchange", action="store_true",
                         help="also publish the releases to the exchange"),
                  _exchange_root_option,
                  _db_option])
def _cmd_release(args) -> int:
    from .release import release

    course = _course(args)
    if args.exchange:  # a missing exchange root stops the command before anything changes
        from .exchange import exchange_root

        exchange_root(course, args.exchange_root)
    released = []
    for assignment, what in release(course, args.assignments or None, force=args.force):
        _say(f"{assignment}: {what}")
        if what == "released":
            released.append(assignment)
        else:  # kept on purpose (someone's work): say so, do not fail
            print(f"warning: {assignment} was not released again: {what}", file=sys.stderr)
    _say(f"release folder: {course.release_dir}")
    if args.exchange:
        from .exchange import publish

        where = publish(course, released, args.exchange_root)
        _say(f"published {', '.join(released) or 'nothing'} to the exchange: {where}")
    return 0


def _finish(outcomes, title: str, scores: dict | None = None) -> int:
    from .grading import outcome_table, summary_line

    _say(outcome_table(outcomes, scores))
    _say(f"{title}: {summary_line(outcomes)}")
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"failed: {o.task.label}: {o.reason}", file=sys.stderr)
    return 1 if failed else 0


@command("validate", "nbgrader validate on source notebooks (or --invert on releases)",
         "Source notebooks must pass every test; with --invert, released notebooks (answer\n"
         "stubs) must pass none.\n\n" + _GRADE_LIMITS,
         options=[_assignments("assignments (default: all)"),
                  option("--invert", action="store_true",
                         help="validate the releases: fail if any test passes"),
                  _run_options])
def _cmd_validate(args) -> int:
    from .grading import validate

    course = _course(args)
    config = _grading_config(course.course_dir, args)
    outcomes = validate(course, args.assignments or None, invert=args.invert, config=config)
    return _finish(outcomes, "validate --invert" if args.invert else "validate")


def _collect_sources(parser: argparse.ArgumentParser) -> None:
    """An LMS zip (assignment, archive) or --exchange [assignments]; the parser is kept to
    report a missing archive as a usage error."""
    parser.add_argument("assignment", nargs="?", help="the assignment the zip holds")
    parser.add_argument("archive", nargs="?", type=Path, help="the .zip downloaded from the LMS")
    parser.add_argument("--exchange", nargs="*", default=None, metavar="ASSIGNMENT",
                        help="collect these assignments from nbgrader's exchange instead "
                             "(none named: every released one)")
    parser.set_defaults(parser=parser)


def _collect_exchange(course: Course, args) -> int:
    from .exchange import collect_from_exchange

    if args.archive is not None:
        args.parser.error(f"--exchange collects from the exchange, not a zip (got {args.archive})")
    wanted = pick_assignments(args.exchange + ([args.assignment] if args.assignment else []),
                              course.released_assignments(), "released assignments",
                              course.release_dir, fix="python -m autograder release")
    for assignment in wanted:
        done = collect_from_exchange(course, assignment, args.exchange_root)
        for student in done:
            _say(f"{assignment}: {student.line()}")
        _say(f"{assignment}: {len(done)} student(s) in the exchange, in "
             f"{course.submitted_dir}/<student>/{assignment}")
    return 0


@command("collect", "import an LMS zip (or --exchange submissions) into "
         "course/submitted/<student>/<a>/",
         "Extract an LMS download with nbgrader's zip_collect and place each notebook in\n"
         "course/submitted/<student>/<assignment>/<notebook>.ipynb, with timestamp.txt\n"
         "and lms.json (LMS, id, name, time and where it came from, file names). The\n"
         "student is the LMS's id, the name is kept for display. Layouts (<file> names a\n"
         "released notebook up to case, '(1)' or '-1' suffixes and ' ' or '-' for '_'):\n"
         "  <name>[_late]_<user id>_<file id>_<file>                 (Canvas)\n"
         "  <Full Name>_<participant id>_assignsubmission_file_/<file>   (Moodle)\n"
         "  <Assignment>_<username>_attempt_<date>_<file> and its .txt   (Blackboard)\n"
         "  submission_<n>/<file> with submission_metadata.yml   (Gradescope; the :sid)\n"
         "  <student>_<file>   or   <student>/<file>\n"
         "Times: Blackboard's attempt time (in c.Exchange.timezone), Gradescope's\n"
         ":created_at, else the zip entry's date; none for Canvas, whose zip is dated\n"
         "when downloaded (its LATE mark is kept). Incremental: one line per student,\n"
         "added, replaced (only by newer notebooks), kept (with why) or rejected (with\n"
         "why); every file not placed is listed on stderr, and the exit status is 1 if\n"
         "one was rejected (a file superseded by a later one is not).\n\n"
         "With --exchange [assignments] (default: all released), collect instead the\n"
         "latest submission of every student from nbgrader's exchange, with its\n"
         "timestamp.txt, and print one line per student with its timestamp. A newer\n"
         "submission replaces an older collected one (the line says so); an older one\n"
         "never replaces a newer one; a collected copy with no timestamp.txt is kept.",
         options=[_collect_sources,
                  option("--force", action="store_true",
                         help="replace collected notebooks that differ even when not older"),
                  _exchange_root_option])
def _cmd_collect(args) -> int:
    from .collect import collect

    if args.exchange is None and args.archive is None:
        args.parser.error("the following arguments are required: assignment, archive"
                          if args.assignment is None else
                          "the following arguments are required: archive")
    course = _course(args)
    if args.exchange is not None:
        return _collect_exchange(course, args)
    report = collect(course, args.assignment, args.archive, force=args.force)
    for outcome in report.students:
        _say(outcome.line())
    counts = [f"{sum(o.what == w for o in report.students)} {w}"
              for w in ("added", "replaced", "kept", "rejected")]
    _say(f"{', '.join(counts)}, in {course.submitted_dir}/<student>/{args.assignment}")
    for name, why in report.unplaced:
        print(f"not placed: {name}: {why}", file=sys.stderr)
    return 1 if report.rejected else 0


@command("grade", "nbgrader autograde, one process per student, in parallel",
         "Autograde every course/submitted/<student>/<assignment>/ (or those selected)\n"
         "and print a summary: graded, failed with the reason, flagged.\n\n"
         "Every submission is scanned first (see `scan --help`): broken notebooks are\n"
         "repaired where safe, else reported as failed; a cell with tampering is withheld\n"
         "and its exercise scores 0, and the student is flagged; flagged and failed\n"
         "submissions are copied to course/quarantine/. Kernels run in a bubblewrap\n"
         "sandbox (no view of the course, other students or the gradebook; no network)\n"
         "where bwrap works; otherwise grade says loudly that it is NOT sandboxed.\n"
         "Grade then names the students whose grade is stale (graded before the tests\n"
         "or points of the assignment changed); --stale regrades exactly those.\n\n"
         "Regrading a submission graded before (the same answers; a new submission is\n"
         "not a regrade) logs every exercise whose points change (who, when, old, new,\n"
         "--reason; `override --list` prints the log), and the export's note and the\n"
         "feedback page show it. --exercise GRADE_ID regrades that exercise only: the\n"
         "notebooks run again, but every other exercise keeps its score and its output in\n"
         "the autograded notebook (so the feedback matches), and a stale student stays\n"
         "stale, since the other exercises were not regraded.\n"
         "Exit status 1 when any student was not graded.\n\n" + _GRADE_LIMITS,
         options=[_assignments("assignments (default: all submitted)"),
                  option("--student", "-s", action="append", default=None,
                         help="grade only this student (repeatable)"),
                  option("--shard", type=_shard_arg, default=None, metavar="i/n",
                         help="grade only shard i of n: a student belongs to one shard, by a "
                              "hash of the id, so n machines sharing a --db gradebook split "
                              "a class"),
                  _db_option,
                  _run_options,
                  option("--no-sandbox", action="store_true",
                         help="run kernels without bubblewrap even where it works (trusted "
                              "work only)"),
                  option("--stale", action="store_true",
                         help="regrade only the students graded before the assignment's "
                              "tests or points changed"),
                  option("--exercise", "-e", action="append", default=None,
                         metavar="GRADE_ID",
                         help="regrade only this exercise, a graded cell's grade id "
                              "(repeatable; needs --reason); the others keep their scores"),
                  option("--reason", default="",
                         help="why, logged with each exercise whose points a regrade "
                              "changes (default: 'regrade'; required with --exercise)")])
def _cmd_grade(args) -> int:
    from .grading import grade

    course = _course(args)
    url = course.db_url()
    if not url.startswith("sqlite:"):
        _say(f"gradebook: {display_url(url)}")
    config = _grading_config(course.course_dir, args)
    sandboxed, banner = _sandbox_banner(config, args.no_sandbox)
    config = config.replace(sandbox=sandboxed)
    _say(banner)
    changed = []
    outcomes = grade(course, args.assignments or None, args.student, shard=args.shard,
                     on_scan=_print_scan, config=config, stale=args.stale,
                     exercises=args.exercise, reason=args.reason, on_change=changed.extend)
    if args.stale and not outcomes:
        _say("grade --stale: no selected student has a stale grade; nothing to do")
        return 0
    if args.shard and not outcomes:
        _say(f"grade: no selected student falls in shard {args.shard[0]}/{args.shard[1]}; "
             "nothing to do")
        return 0
    status = _finish(outcomes, "grade" + ("" if sandboxed else " (NOT SANDBOXED)"),
                     _late_scores(course, outcomes))
    from .grading import Standing, status_of

    for o in outcomes:
        if status_of(o) is Standing.FLAGGED:
            _say(f"flagged: {o.task.label}: " + "; ".join(o.flags)[:600])
    for c in changed:
        _say(f"changed: {c.student} {c.assignment} {c.grade_id}: {c.old:g} -> "
             f"{c.new:g}/{c.max_score:g} ({c.reason})")
    if changed:
        _say(f"{len(changed)} change(s) logged; regenerate the feedback with `feedback`")
    from .stale import stale_lines, stale_students

    for line in stale_lines(stale_students(course, args.assignments or None)):
        _say(line)
    if not sandboxed:
        _say(banner)
    return status


def _late_scores(course: Course, outcomes) -> dict[tuple[str, str], str]:
    """(assignment, student) -> 'final/max late 1d 2h -1' for the late ones graded."""
    from .export import grade_rows
    from .late import late_mark

    done = {(o.task.assignment, o.task.student) for o in outcomes if o.ok}
    if not done:
        return {}
    rows = grade_rows(course, sorted({a for a, _ in done}))
    return {(r.assignment, r.student): f"{r.final:g}/{r.max_score:g}{mark}" for r in rows
            if (r.assignment, r.student) in done and r.score is not None
            and (mark := late_mark(r.lateness, r.penalty))}


def _sandbox_banner(config: GradingConfig, refused: bool) -> tuple[bool, str]:
    """Whether kernels run in bubblewrap, and the line that says so (loud when not)."""
    from .sandbox import sandbox_status

    state = sandbox_status()
    if state.available and config.sandbox and not refused:
        return True, f"sandbox: grading kernels run in bubblewrap ({state.detail})"
    if not state.available:
        why = state.detail
    elif refused:
        why = "--no-sandbox was given"
    else:
        why = f"c.Grading.sandbox is False in {CONFIG_NAME}"
    rule = "!" * 78
    return False, (f"{rule}\n!! grading is NOT sandboxed: {why}.\n"
                   "!! Student code runs as this user: it can read the course folder (source/ "
                   "with the\n!! hidden tests), other submissions and the gradebook, and "
                   f"use the network.\n{rule}")


def _print_scan(scans, everything: bool = False) -> None:
    from .scan import Status, scan_table

    if everything or any(s.status is not Status.OK for s in scans):
        _say(scan_table(scans, everything=everything))
        _say("")
    counts = {k: sum(s.status is k for s in scans) for k in Status}
    _say(f"scan: {len(scans)} submission(s): " + ", ".join(f"{v} {k}" for k, v in
                                                            counts.items()))


@command("scan", "pre-grade scan: broken notebooks and tampering, without grading",
         "Read every course/submitted/<student>/<assignment>/ notebook (or those selected)\n"
         "without running it and print what grade would do about it:\n"
         "  repaired  would break nbgrader but can be repaired (duplicate cell ids, lost or\n"
         "            changed nbgrader metadata, schema version, kernel name, edited,\n"
         "            unlocked, deleted or duplicated test cells): graded as if intact;\n"
         "  flagged   tampering in an editable cell (rebinding the checker or builtins,\n"
         "            patching numpy/minigrad/builtins, IPython transformers or\n"
         "            showtraceback, sys.exit/os._exit, files, the gradebook, the network,\n"
         "            exec/eval...): that cell is withheld and its exercise scores 0;\n"
         "  failed    cannot be repaired (empty, invalid or truncated JSON...): not graded.\n"
         "Exit status 1 when any submission is flagged or failed.",
         options=[_assignments("assignments (default: all submitted)"),
                  option("--student", "-s", action="append", default=None,
                         help="scan only this student (repeatable)"),
                  option("--all", action="store_true",
                         help="list every submission, clean ones and notes included")])
def _cmd_scan(args) -> int:
    from .scan import Status, scan_submission

    course = _course(args)
    pairs = course.submissions(args.assignments or None)
    if args.student:
        pairs = [p for p in pairs if p[1] in args.student]
    if not pairs:
        raise PipelineError(f"no submissions to scan under {course.submitted_dir}"
                            + (f" for {', '.join(args.assignments)}" if args.assignments else "")
                            + (f" from {', '.join(args.student)}" if args.student else ""))
    scans = [scan_submission(course, a, s) for a, s in pairs]
    _print_scan(scans, everything=args.all)
    return 1 if any(s.status in (Status.FLAGGED, Status.FAILED) for s in scans) else 0


@command("feedback", "nbgrader generate_feedback (HTML, hidden tests removed)",
         "Write course/feedback/<student>/<assignment>/<notebook>.html for autograded\n"
         "submissions. Hidden tests and the tracebacks of their cells are removed.\n"
         "With --release, then put it in nbgrader's exchange (release_feedback), where each\n"
         "student who submitted through the exchange fetches their own with the\n"
         "Assignment List.",
         options=[_assignments("assignments (default: all autograded)"),
                  option("--student", "-s", default=None, help="only this student"),
                  option("--release", action="store_true",
                         help="also release the feedback to the exchange"),
                  _exchange_root_option,
                  _db_option])
def _cmd_feedback(args) -> int:
    from .feedback import generate_feedback

    course = _course(args)
    wanted = pick_assignments(args.assignments, _autograded(course),
                              "autograded submissions", course.autograded_dir,
                              fix="python -m autograder grade")
    status = 0
    for assignment in wanted:
        for problem in generate_feedback(course, assignment, args.student):
            print(f"feedback {assignment}: {problem}", file=sys.stderr)
            status = 1
    files = sorted(course.feedback_dir.glob("*/*/*.html"))
    _say(f"{len(files)} feedback file(s) in {course.feedback_dir}")
    if args.release:
        from .exchange import release_feedback

        for assignment in wanted:
            for left_out in release_feedback(course, assignment, args.student,
                                             args.exchange_root):
                print(f"feedback {assignment}: not released: {left_out}", file=sys.stderr)
            _say(f"{assignment}: feedback released to the exchange")
    return status


def _autograded(course: Course) -> set[str]:
    """The assignments with an autograded notebook (autograded/<student>/<assignment>/)."""
    return {path.parent.name for path in course.autograded_dir.glob("*/*/*.ipynb")}


@command("report", "grades CSV, per-exercise statistics and a score histogram",
         "Write <out>/grades.csv (nbgrader's columns, a status per student, an empty\n"
         "score when not graded), <out>/exercises.csv and\n"
         "<out>/exercises.txt (per graded cell: submissions, mean, median, min, max,\n"
         "full/zero shares) and <out>/histogram.png (total scores, one panel per\n"
         "assignment); print the gradebook and the exercise table.",
         options=[_assignments("assignments (default: all)"),
                  option("--output-dir", type=Path, default=None,
                         help="where to write the report files (default: course/reports)"),
                  _db_option])
def _cmd_report(args) -> int:
    from .report import (
        exercise_table,
        gradebook_table,
        write_exercise_table,
        write_histogram,
        write_report,
    )

    course = _course(args)
    url = course.db_url()
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        raise PipelineError(f"no gradebook at {url}: release and grade first")
    wanted = args.assignments or None
    grades_csv, stats_csv, stats = write_report(course, args.output_dir, wanted)
    table_txt = write_exercise_table(stats, grades_csv.parent)
    histogram = write_histogram(course, grades_csv.parent, wanted)
    _say(gradebook_table(course, wanted))
    _say("")
    _say(exercise_table(stats))
    _say(f"\nwrote {grades_csv}, {stats_csv}, {table_txt} and {histogram}")
    return 0


@command("export", "grades as the file Canvas or Moodle imports, or a plain CSV",
         "Write the gradebook's final scores (less the late penalty) for an LMS:\n"
         "canvas: Canvas's gradebook import CSV (ID is the Canvas user id), default\n"
         "course/reports/canvas.csv; moodle: Moodle's offline grading worksheet, one per\n"
         "assignment (Identifier 'Participant <id>'), default\n"
         "course/reports/moodle-<assignment>.csv; csv: one row per student and\n"
         "assignment with score, penalty, final score and status, default\n"
         "course/reports/grades.csv. Students not graded (failed, missing) have an empty\n"
         "score, never 0, and are listed with the flagged ones.",
         options=[option("--format", required=True, choices=["canvas", "moodle", "csv"],
                         help="the file to write"),
                  _assignments("assignments (default: all)"),
                  option("--out", type=Path, default=None, metavar="FILE",
                         help="the file to write (moodle: one assignment only)"),
                  _db_option])
def _cmd_export(args) -> int:
    from .export import export, not_graded
    from .grading import Standing

    paths, rows = export(_course(args), args.format, args.assignments or None, args.out)
    for row in not_graded(rows):
        _say(f"{row.assignment}: {row.student} {row.status}" + (f" ({row.note})"
                                                               if row.note else ""))
    if args.format != "csv":
        others = sorted({r.student for r in rows if r.lms != args.format})
        if others:
            _say(f"{len(others)} student(s) not collected from {args.format.capitalize()}, "
                 f"written with their gradebook id: {', '.join(others)}")
    counts = ", ".join(f"{sum(r.status is s for r in rows)} {s}" for s in Standing)
    _say(f"{counts}; wrote {', '.join(map(str, paths))}")
    return 0


@command("override", "set one exercise's points for one student, with a reason (logged)",
         "Set STUDENT's points of EXERCISE (a graded cell's grade id, e.g. f1-cube-test;\n"
         "the ids are in the feedback page's links) to POINTS (0 to its maximum), as\n"
         "nbgrader's manual score: report, export and feedback show the new total, and a\n"
         "regrade (`grade A --student S`) keeps it. Every override, and every exercise\n"
         "whose points a regrade changed, is logged in the gradebook with who, when\n"
         "(UTC), the old and new points and the reason; --list [STUDENT] prints the log.",
         options=[option("student", nargs="?", help="the student id"),
                  option("exercise", nargs="?", help="the graded cell's grade id"),
                  option("points", nargs="?", type=float, help="the new points"),
                  option("--reason", default="", help="why (required, kept in the log)"),
                  option("--assignment", "-a", default=None,
                         help="the assignment (needed only when the grade id is in several)"),
                  option("--list", nargs="?", const="", default=None, metavar="STUDENT",
                         help="print the log of overrides and regrades (of STUDENT only "
                              "when given)"),
                  _db_option])
def _cmd_override(args) -> int:
    from .changes import changes, override

    course = _course(args)
    if args.list is not None:
        for record in changes(course.db_url(), args.list or None):
            _say(record.line())
        return 0
    if args.points is None:
        raise PipelineError("override needs STUDENT EXERCISE POINTS and --reason "
                            "(or --list)")
    record = override(course, args.student, args.exercise, args.points, args.reason,
                      args.assignment)
    _say(f"{record.student} {record.assignment} {record.grade_id}: {record.old:g} -> "
         f"{record.new:g}/{record.max_score:g} ({record.reason}); regenerate the feedback "
         f"with `python -m autograder feedback {record.assignment} -s {record.student}`")
    return 0


@command("extend", "give one student more time for one assignment, with a reason (logged)",
         "Extend STUDENT's due date of ASSIGNMENT (c.Grading.due of nbgrader_config.py) by\n"
         "--days and --hours; a new extension replaces the old one, --remove takes it away.\n"
         "It is written to nbgrader's extension of the submission now when there is one, and\n"
         "by `grade` before every autograde, so the late penalty counts from the new date;\n"
         "`report` and `export` use it at once. Every change is logged in the gradebook with\n"
         "who, when (UTC), what and --reason; --list [ASSIGNMENT] prints the log.",
         options=[option("assignment", nargs="?", help="the assignment"),
                  option("student", nargs="?", help="the student id"),
                  option("--days", type=_at_least_zero(float, "a number of days"), default=0.0,
                         help="days more (default: 0)"),
                  option("--hours", type=_at_least_zero(float, "a number of hours"),
                         default=0.0, help="hours more (default: 0)"),
                  option("--remove", action="store_true", help="take the extension away"),
                  option("--reason", default="", help="why (required, kept in the log)"),
                  option("--list", nargs="?", const="", default=None, metavar="ASSIGNMENT",
                         help="print the log (of ASSIGNMENT only when given)"),
                  _db_option])
def _cmd_extend(args) -> int:
    from .late import extend, extensions

    course = _course(args)
    if args.list is not None:
        for record in extensions(course.db_url(), args.list or None):
            _say(record.line())
        return 0
    if args.student is None:
        raise PipelineError("extend needs ASSIGNMENT STUDENT, --days or --hours (or --remove) "
                            "and --reason (or --list)")
    record = extend(course, args.assignment, args.student, args.days, args.hours,
                    args.reason, remove=args.remove)
    _say(record.line())
    return 0


@command("check", "prove every assignment grades as it should (scratch course)",
         "For every assignment in notebooks/: build, release, validate the source,\n"
         "validate --invert the release, and grade three sample students: solution\n"
         "(full marks), blank (zero) and buggy (each test cell as buggy.py says). Runs in a\n"
         "temporary course, never touching course/gradebook.db.\n\n" + _GRADE_LIMITS,
         options=[_assignments("assignments (default: all)"),
                  option("--keep", action="store_true",
                         help="keep the scratch course and say where"),
                  _run_options])
def _cmd_check(args) -> int:
    from .pipeline import run_check

    course_dir, notebooks_dir = default_paths()
    config = _grading_config(course_dir, args)  # the scratch course copies this config
    return run_check(args.notebooks_dir or notebooks_dir, args.assignments or None,
                     keep=args.keep, say=_say, config=config)


@command("demo", "build, release, grade sample students, feedback, print the gradebook",
         "The whole pipeline on the sample students of every assignment, in its own\n"
         "course folder (default: demo-output/course, so course/gradebook.db is left\n"
         "alone). Prints the gradebook and where feedback landed.\n\n" + _GRADE_LIMITS,
         options=[_db_option, _run_options])
def _cmd_demo(args) -> int:
    from .pipeline import run_demo

    course_dir, _ = default_paths()
    course = _course(args, default_dir=course_dir.parent / "demo-output" / "course",
                     create=True)
    config = _grading_config(course.course_dir, args)
    return run_demo(course, say=_say, config=config)


@command("selfgrade", "grade your own notebook against the hidden tests (no instructor)",
         "Grade one notebook against its assignment's hidden tests, in a scratch\n"
         "course (course/ is never touched); print points per exercise.",
         options=[option("notebook", type=Path, help="your notebook (.ipynb)"),
                  option("--assignment", "-a", default=None,
                         help="the assignment it belongs to (default: found from its cells)"),
                  option("--timeout", type=_at_least_zero(float, "a number of seconds"),
                         default=1800.0,
                         help="seconds the whole grading run may take (default: 1800)"),
                  option("--html", type=Path, default=None,
                         help="also write the feedback page (hidden tests removed) to this "
                              "file"),
                  option("--keep", action="store_true",
                         help="keep the scratch course and say where")],
         course_dir=False, timed=False)
def _cmd_selfgrade(args) -> int:
    from .selfgrade import format_result, selfgrade

    result = selfgrade(args.notebook, notebooks_dir=args.notebooks_dir,
                       assignment=args.assignment, timeout=args.timeout,
                       feedback_html=args.html, keep=args.keep, say=_say)
    _say(format_result(result))
    return 0


@command("lab", "JupyterLab on course/release with nbgrader's Validate button",
         options=[option("--port", type=int, default=8888, help="port (default: 8888)"),
                  option("--browser", action="store_true", help="open a browser"),
                  option("--dry-run", action="store_true",
                         help="print the command, do not start"),
                  option("--grader", action="store_true",
                         help="JupyterLab on the course folder with nbgrader's formgrader, "
                              "to grade written answers by hand (make grade-ui)")],
         timed=False)
def _cmd_lab(args) -> int:
    from .lab import run_lab

    return run_lab(_course(args), port=args.port, open_browser=args.browser,
                   dry_run=args.dry_run, say=_say, grader=args.grader)


@command("student-kit", "one zip per released assignment for students: notebooks, README, wheel",
         "Write course/student-kit/<assignment>.zip for each released assignment: its\n"
         "released notebooks, a README.txt for students (install, open, Validate, hand in)\n"
         "and the course's wheel (minigrad, no solutions or hidden tests), built once from\n"
         "this checkout with pip wheel. Run `release` first.",
         options=[_assignments("assignments (default: all released)"),
                  option("--out", type=Path, default=None,
                         help="folder for the zips (default: course/student-kit)")])
def _cmd_student_kit(args) -> int:
    from .studentkit import write_kits

    course = _course(args)
    for path in write_kits(course, default_paths()[0].parent, args.assignments or None,
                           args.out):
        _say(f"wrote {path}")
    return 0


@command("serve-feedback", "grade each exchange submission once and return its feedback",
         "Watch nbgrader's exchange and, for each new submission in timestamp order: collect\n"
         "it, grade that student (scan, trusted judge, sandbox, as `grade`), generate the\n"
         "feedback and release it to that student, who fetches it in the Assignment List.\n"
         "Each submission is recorded in course/feedback-service.jsonl and graded once, across\n"
         "restarts. Per student and assignment, c.Grading.feedback_interval_minutes and\n"
         "c.Grading.feedback_per_day limit graded submissions; one over a limit is not graded\n"
         "and its feedback says when the next is allowed. --once: one pass, then exit.",
         options=[option("--once", action="store_true", help="one pass, then exit"),
                  option("--every", type=_at_least_zero(float, "a number of seconds"),
                         default=10.0, help="seconds between passes (default: 10)"),
                  _exchange_root_option],
         timed=False)
def _cmd_serve_feedback(args) -> int:
    from .hubservice import FeedbackService

    course = _course(args)
    service = FeedbackService(course, args.exchange_root,
                              _grading_config(course.course_dir, args))
    if not args.once:
        _say(f"serve-feedback: watching {service.root / service.course_id / 'inbound'}")
        service.serve(args.every, say=_say)
    failed = 0
    for entry in service.process_once():
        _say(entry.line())
        failed += entry.state == "failed"
    return 1 if failed else 0


@command("similarity", "compare the students' answer cells of one assignment (copydetect)",
         "Compare every pair of students' answer cells (nbgrader solution cells) in\n"
         "course/submitted/<student>/<assignment>/*.ipynb with copydetect, the released code\n"
         "left out; names, comments and layout do not count. Print the most similar pairs\n"
         "and write them, with the matching code side by side, to an HTML page. A pair's\n"
         "score is the larger share of one student's answer code found in the other's.\n"
         "Students with no submission or an unreadable notebook are listed, not compared.",
         options=[option("assignment", help="the assignment to compare"),
                  option("--top", type=_at_least_zero(int, "a whole number"), default=10,
                         metavar="N", help="pairs to print and report, 0: all (default: 10)"),
                  option("--out", type=Path, default=None, metavar="FILE",
                         help="the HTML report (default: "
                              "course/reports/similarity-<assignment>.html)")])
def _cmd_similarity(args) -> int:
    from .similarity import compare, write_html

    course = _course(args)
    result = compare(course, args.assignment, args.top)
    for student, why in result.skipped:
        _say(f"not compared: {student}: {why}")
    _say(f"{args.assignment}: {len(result.compared)} students compared; most similar pairs:")
    for pair in result.pairs:
        _say(f"  {pair.line()}")
    if not result.pairs:
        _say("  none: no two students have answer code in common")
    out = args.out or course.reports_dir / f"similarity-{args.assignment}.html"
    _say(f"wrote {write_html(result, out)}")
    return 0


def _skip_slow_imports() -> None:
    """jsonschema imports rfc3987_syntax when present, which compiles a grammar at import
    (seconds per process); its only use is the "iri" string format, which nbformat's
    schema does not use. Marking it absent keeps every worker process quick to start."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str] | None = None) -> int:
    trusted_sys_path()
    parser = build_parser()
    args = parser.parse_args(argv)
    _skip_slow_imports()
    apply_grading_environment()
    start = time.perf_counter()
    cmd = COMMANDS[args.command]
    try:
        status = cmd.run(args)
    except PipelineError as exc:
        print(f"autograder {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.command}: interrupted", file=sys.stderr)
        return 130
    if cmd.timed:
        print(f"({args.command} took {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return status
