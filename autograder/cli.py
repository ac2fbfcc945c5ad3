"""The ``python -m autograder <command>`` command line.

Each command wraps nbgrader (its Python API, validator and apps) for this course's layout;
``--help`` on any command says what it reads and writes. Exit status: 0 when everything
worked, 1 when anything failed (the message names the assignment or student and why),
2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .course import (
    GRADEBOOK_ENV,
    Course,
    PipelineError,
    apply_grading_environment,
    default_paths,
    display_url,
    trusted_sys_path,
)

__all__ = ["build_parser", "main"]

_GRADE_LIMITS = """\
Each task runs in its own process (`--jobs` at a time); a task that exceeds --timeout
is stopped, a kernel that fails to start is retried (--retries), and one broken
notebook never stops the batch."""


def _say(text: str = "") -> None:
    print(text, flush=True)


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    course_dir, notebooks_dir = default_paths()
    common.add_argument("--course-dir", type=Path, default=None,
                        help=f"nbgrader course root (default: {course_dir.name}/ of the checkout)")
    common.add_argument("--notebooks-dir", type=Path, default=None,
                        help=f"jupytext notebook sources (default: {notebooks_dir.name}/)")
    return common


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=int, default=None,
                        help="processes at a time (default: the number of cores)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds one student (or validation) may take; 0: no limit "
                             "(default: 1800; each cell is limited by the config's timeout)")
    parser.add_argument("--memory-mb", type=int, default=4096,
                        help="address-space cap per task, kernel included; 0: none "
                             "(default: 4096)")
    parser.add_argument("--retries", type=int, default=1,
                        help="re-runs of a task whose kernel failed to start (default: 1)")
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


def _shard_arg(text: str) -> tuple[int, int]:
    from .grading import parse_shard

    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _options_dict(args) -> dict:
    return {
        "jobs": args.jobs,
        "timeout": args.timeout,
        "memory_mb": args.memory_mb,
        "retries": args.retries,
        "progress": False if args.no_progress else None,
    }


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description="Build, release, grade and report on the minigrad nbgrader course.",
        epilog="Run `python -m autograder <command> --help` for a command's options.",
    )
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)

    def add(name, help_text, description=None):
        return sub.add_parser(
            name, parents=[common], help=help_text,
            description=description or help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    p = add("build", "notebooks/<a>/<name>.py (jupytext) -> course/source/<a>/<name>.ipynb",
            "Convert the jupytext sources of each assignment into nbgrader source notebooks,\n"
            "deterministically (same input, byte-identical output). buggy.py and other\n"
            "non-notebook .py files are skipped.")
    p.add_argument("assignments", nargs="*", help="assignments to build (default: all)")

    p = add("tables", "write the points tables and exercise headings from the notebooks",
            "Rewrite, in every notebooks/<a>/<a>.py, the points in each '### Exercise N'\n"
            "heading and the points table between the table markers, and the README's table,\n"
            "from the graded test cells. With --check, write nothing and exit 1 when a file\n"
            "differs from what would be written.")
    p.add_argument("--check", action="store_true", help="only report files that differ")

    p = add("release", "nbgrader generate_assignment: course/source -> course/release",
            "Generate the student version of each assignment (solutions and hidden tests\n"
            "removed) and register it in the gradebook. An assignment whose released\n"
            "notebooks were edited since the last release (work done in `make lab`) is kept,\n"
            "with a warning, unless --force is given.")
    p.add_argument("assignments", nargs="*", help="assignments to release (default: all built)")
    p.add_argument("--force", action="store_true",
                   help="overwrite releases even if they were edited")
    _db_option(p)

    p = add("validate", "nbgrader validate on source notebooks (or --invert on releases)",
            "Source notebooks must pass every test; with --invert, released notebooks (answer\n"
            "stubs) must pass none.\n\n" + _GRADE_LIMITS)
    p.add_argument("assignments", nargs="*", help="assignments (default: all)")
    p.add_argument("--invert", action="store_true",
                   help="validate the releases: fail if any test passes")
    _run_options(p)

    p = add("collect", "import an LMS download zip into course/submitted/<student>/<a>/",
            "Extract the zip with nbgrader's zip_collect and place each notebook in\n"
            "course/submitted/<student>/<assignment>/<notebook>.ipynb. Accepted names inside\n"
            "the zip (<notebook> is a released notebook name, e.g. a1_scalar_graphs;\n"
            "student ids are letters, digits, '.', '-', '@'):\n"
            "  <student>_<canvas id>_<submission id>_<notebook>.ipynb   (Canvas)\n"
            "  <student>_LATE_<canvas id>_<submission id>_<notebook>.ipynb\n"
            "  <student>_..._<notebook>-<n>.ipynb   (resubmission; the highest n wins)\n"
            "  <student>_<notebook>.ipynb\n"
            "  <student>/<notebook>.ipynb           (a folder per student, any depth)\n"
            "Every file that could not be placed is listed with the reason; the exit\n"
            "status is 1 if there was any.")
    p.add_argument("assignment", help="the assignment the zip holds")
    p.add_argument("archive", type=Path, help="the .zip downloaded from the LMS")
    p.add_argument("--force", action="store_true",
                   help="replace submissions already collected for these students")

    p = add("grade", "nbgrader autograde, one process per student, in parallel",
            "Autograde every course/submitted/<student>/<assignment>/ (or those selected)\n"
            "and print a summary: graded, failed with the reason, flagged.\n\n"
            "Every submission is scanned first (see `scan --help`): broken notebooks are\n"
            "repaired where safe, else reported as failed; a cell with tampering is withheld\n"
            "and its exercise scores 0, and the student is flagged; flagged and failed\n"
            "submissions are copied to course/quarantine/. Kernels run in a bubblewrap\n"
            "sandbox (no view of the course, other students or the gradebook; no network)\n"
            "where bwrap works; otherwise grade says loudly that it is NOT sandboxed.\n"
            "Exit status 1 when any student was not graded.\n\n" + _GRADE_LIMITS)
    p.add_argument("assignments", nargs="*", help="assignments (default: all submitted)")
    p.add_argument("--student", "-s", action="append", default=None,
                   help="grade only this student (repeatable)")
    p.add_argument("--shard", type=_shard_arg, default=None, metavar="i/n",
                   help="grade only shard i of n: a student belongs to one shard, by a hash "
                        "of the id, so n machines sharing a --db gradebook split a class")
    _db_option(p)
    _run_options(p)
    p.add_argument("--no-sandbox", action="store_true",
                   help="run kernels without bubblewrap even where it works (trusted work only)")

    p = add("scan", "pre-grade scan: broken notebooks and tampering, without grading",
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
            "Exit status 1 when any submission is flagged or failed.")
    p.add_argument("assignments", nargs="*", help="assignments (default: all submitted)")
    p.add_argument("--student", "-s", action="append", default=None,
                   help="scan only this student (repeatable)")
    p.add_argument("--all", action="store_true",
                   help="list every submission, clean ones and notes included")

    p = add("feedback", "nbgrader generate_feedback (HTML, hidden tests removed)",
            "Write course/feedback/<student>/<assignment>/<notebook>.html for autograded\n"
            "submissions. Hidden tests and the tracebacks of their cells are removed.")
    p.add_argument("assignments", nargs="*", help="assignments (default: all autograded)")
    p.add_argument("--student", "-s", default=None, help="only this student")
    _db_option(p)

    p = add("report", "grades CSV, per-exercise statistics and a score histogram",
            "Write <out>/grades.csv (nbgrader's CSV export), <out>/exercises.csv and\n"
            "<out>/exercises.txt (per graded cell: submissions, mean, median, min, max,\n"
            "full/zero shares) and <out>/histogram.png (total scores, one panel per\n"
            "assignment); print the gradebook and the exercise table.")
    p.add_argument("assignments", nargs="*", help="assignments (default: all)")
    p.add_argument("--output-dir", type=Path, default=None,
                   help="where to write the report files (default: course/reports)")
    _db_option(p)

    p = add("check", "prove every assignment grades as it should (scratch course)",
            "For every assignment in notebooks/: build, release, validate the source,\n"
            "validate --invert the release, and grade three sample students: solution\n"
            "(full marks), blank (zero) and buggy (each test cell as buggy.py says). Runs in a\n"
            "temporary course, never touching course/gradebook.db.\n\n" + _GRADE_LIMITS)
    p.add_argument("assignments", nargs="*", help="assignments (default: all)")
    p.add_argument("--keep", action="store_true", help="keep the scratch course and say where")
    _run_options(p)

    p = add("demo", "build, release, grade sample students, feedback, print the gradebook",
            "The whole pipeline on the sample students of every assignment, in its own\n"
            "course folder (default: demo-output/course, so course/gradebook.db is left\n"
            "alone). Prints the gradebook and where feedback landed.\n\n" + _GRADE_LIMITS)
    _db_option(p)
    _run_options(p)

    from .selfgrade import add_arguments as selfgrade_arguments

    _, notebooks_dir = default_paths()
    p = sub.add_parser(
        "selfgrade", help="grade your own notebook against the hidden tests (no instructor)",
        description="Grade one notebook against its assignment's hidden tests, in a scratch\n"
                    "course (course/ is never touched); print points per exercise.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--notebooks-dir", type=Path, default=None,
                   help=f"jupytext notebook sources (default: {notebooks_dir.name}/)")
    selfgrade_arguments(p)

    p = add("lab", "JupyterLab on course/release with nbgrader's Validate button")
    p.add_argument("--port", type=int, default=8888, help="port (default: 8888)")
    p.add_argument("--browser", action="store_true", help="open a browser")
    p.add_argument("--dry-run", action="store_true", help="print the command, do not start")
    return parser


def _course(args, default_dir: Path | None = None) -> Course:
    return Course.at(args.course_dir or default_dir, args.notebooks_dir)


def _cmd_build(args) -> int:
    from .build import build

    course = _course(args)
    try:
        paths = build(course.notebooks_dir, course.source_dir, args.assignments or None)
    except ValueError as exc:
        raise PipelineError(str(exc)) from exc
    if not paths:
        raise PipelineError(f"no notebook sources found in {course.notebooks_dir}")
    for path in paths:
        _say(f"built {path}")
    return 0


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


def _cmd_release(args) -> int:
    from .release import release

    course = _course(args)
    for assignment, what in release(course, args.assignments or None, force=args.force):
        _say(f"{assignment}: {what}")
        if what != "released":  # kept on purpose (someone's work): say so, do not fail
            print(f"warning: {assignment} was not released again: {what}", file=sys.stderr)
    _say(f"release folder: {course.release_dir}")
    return 0


def _finish(outcomes, title: str) -> int:
    from .grading import outcome_table, summary_line

    _say(outcome_table(outcomes))
    _say(f"{title}: {summary_line(outcomes)}")
    failed = [o for o in outcomes if not o.ok]
    for o in failed:
        print(f"failed: {o.task.label}: {o.reason}", file=sys.stderr)
    return 1 if failed else 0


def _cmd_validate(args) -> int:
    from .grading import validate

    course = _course(args)
    outcomes = validate(course, args.assignments or None, invert=args.invert,
                        **_options_dict(args))
    return _finish(outcomes, "validate --invert" if args.invert else "validate")


def _cmd_collect(args) -> int:
    from .collect import collect

    course = _course(args)
    report = collect(course, args.assignment, args.archive, force=args.force)
    for student, notebooks in sorted(report.placed.items()):
        late = " (LATE)" if student in report.late else ""
        _say(f"{student}{late}: {', '.join(sorted(notebooks))}")
    _say(f"collected {len(report.placed)} student(s) into "
         f"{course.submitted_dir}/<student>/{args.assignment}")
    for name, why in report.unplaced:
        print(f"not placed: {name}: {why}", file=sys.stderr)
    return 1 if report.unplaced else 0


def _cmd_grade(args) -> int:
    from .grading import grade

    course = _course(args)
    url = course.db_url()
    if not url.startswith("sqlite:"):
        _say(f"gradebook: {display_url(url)}")
    options = _options_dict(args)
    sandboxed, banner = _sandbox_banner(args.no_sandbox)
    options["sandbox"] = sandboxed
    _say(banner)
    outcomes = grade(course, args.assignments or None, args.student, shard=args.shard,
                     on_scan=_print_scan, **options)
    if args.shard and not outcomes:
        _say(f"grade: no selected student falls in shard {args.shard[0]}/{args.shard[1]}; "
             "nothing to do")
        return 0
    status = _finish(outcomes, "grade" + ("" if sandboxed else " (NOT SANDBOXED)"))
    from .grading import status_of

    for o in outcomes:
        if status_of(o) == "flagged":
            _say(f"flagged: {o.task.label}: " + "; ".join(o.extra["flags"])[:600])
    if not sandboxed:
        _say(banner)
    return status


def _sandbox_banner(refused: bool) -> tuple[bool, str]:
    """Whether kernels run in bubblewrap, and the line that says so (loud when not)."""
    from .sandbox import sandbox_status

    state = sandbox_status()
    if state.available and not refused:
        return True, f"sandbox: grading kernels run in bubblewrap ({state.detail})"
    why = "--no-sandbox was given" if refused and state.available else state.detail
    rule = "!" * 78
    return False, (f"{rule}\n!! grading is NOT sandboxed: {why}.\n"
                   "!! Student code runs as this user: it can read the course folder (source/ "
                   "with the\n!! hidden tests), other submissions and the gradebook, and "
                   f"use the network.\n{rule}")


def _print_scan(scans, everything: bool = False) -> None:
    from .scan import scan_table

    if everything or any(s.status != "ok" for s in scans):
        _say(scan_table(scans, everything=everything))
        _say("")
    counts = {k: sum(s.status == k for s in scans) for k in ("ok", "repaired", "flagged",
                                                              "failed")}
    _say(f"scan: {len(scans)} submission(s): " + ", ".join(f"{v} {k}" for k, v in
                                                            counts.items()))


def _cmd_scan(args) -> int:
    from .scan import scan_submission

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
    return 1 if any(s.status in ("flagged", "failed") for s in scans) else 0


def _cmd_feedback(args) -> int:
    from .feedback import generate_feedback

    course = _course(args)
    autograded = sorted({a for a, _ in _autograded(course)})
    wanted = args.assignments or autograded
    missing = [a for a in wanted if a not in autograded]
    if missing or not wanted:
        raise PipelineError(
            f"nothing autograded for {', '.join(missing) or 'any assignment'} in "
            f"{course.autograded_dir} (run `python -m autograder grade` first)"
        )
    status = 0
    for assignment in wanted:
        for problem in generate_feedback(course, assignment, args.student):
            print(f"feedback {assignment}: {problem}", file=sys.stderr)
            status = 1
    files = sorted(course.feedback_dir.glob("*/*/*.html"))
    _say(f"{len(files)} feedback file(s) in {course.feedback_dir}")
    return status


def _autograded(course: Course) -> list[tuple[str, str]]:
    pairs = []
    if course.autograded_dir.is_dir():
        for path in course.autograded_dir.glob("*/*"):
            if path.is_dir() and any(path.glob("*.ipynb")):
                pairs.append((path.name, path.parent.name))
    return pairs


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


def _cmd_check(args) -> int:
    from .pipeline import run_check

    _, notebooks_dir = default_paths()
    return run_check(args.notebooks_dir or notebooks_dir, args.assignments or None,
                     keep=args.keep, say=_say, **_options_dict(args))


def _cmd_demo(args) -> int:
    from .pipeline import run_demo

    course_dir, _ = default_paths()
    course = _course(args, default_dir=course_dir.parent / "demo-output" / "course")
    return run_demo(course, say=_say, **_options_dict(args))


def _cmd_selfgrade(args) -> int:
    from .selfgrade import run

    return run(args)


def _cmd_lab(args) -> int:
    from .lab import run_lab

    return run_lab(_course(args), port=args.port, open_browser=args.browser,
                   dry_run=args.dry_run, say=_say)


_COMMANDS = {
    "build": _cmd_build,
    "tables": _cmd_tables,
    "release": _cmd_release,
    "validate": _cmd_validate,
    "collect": _cmd_collect,
    "grade": _cmd_grade,
    "scan": _cmd_scan,
    "feedback": _cmd_feedback,
    "report": _cmd_report,
    "check": _cmd_check,
    "demo": _cmd_demo,
    "selfgrade": _cmd_selfgrade,
    "lab": _cmd_lab,
}


def _skip_slow_imports() -> None:
    """jsonschema imports rfc3987_syntax when present, which compiles a grammar at import
    (seconds per process); its only use is the "iri" string format, which nbformat's
    schema does not use. Marking it absent keeps every worker process quick to start."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv: list[str] | None = None) -> int:
    trusted_sys_path()
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "db", None):
        os.environ[GRADEBOOK_ENV] = args.db  # read by Course.config here and in every worker
    elif args.command in ("check", "selfgrade"):
        os.environ.pop(GRADEBOOK_ENV, None)  # scratch courses keep their own sqlite gradebook
    _skip_slow_imports()
    apply_grading_environment()
    start = time.perf_counter()
    try:
        status = _COMMANDS[args.command](args)
    except PipelineError as exc:
        print(f"autograder {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"autograder {args.command}: interrupted", file=sys.stderr)
        return 130
    if args.command not in ("lab", "selfgrade"):
        print(f"({args.command} took {time.perf_counter() - start:.1f} s)", file=sys.stderr)
    return status
