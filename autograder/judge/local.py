"""The judge without a kernel: for authoring hidden tests and for unit tests.

``python -m autograder.judge.local ASSIGNMENT [--variant solution|blank|buggy]`` runs the
assignment's notebook cells in this process (the solution, the released stubs or the
sample buggy submission of ``buggy.py``) and, after each graded test cell, its hidden tests
through the same protocol as grading (:func:`local_transport` calls the kernel agent
in-process). It prints one line per test cell: points, and the message of a failure.

This is no sandbox and no grade: it runs the instructor's own notebooks, in seconds, so
hidden tests can be written and checked quickly. ``python -m autograder check`` is the proof.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import re
import sys
from pathlib import Path

from .runner import Verdict, judge_block, seed_for
from .student import Student, Transport

__all__ = ["local_transport", "lone_bug_problems", "run_local", "variant_cells"]

_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION.*?^[ \t]*### END SOLUTION[^\n]*\n?",
                       re.S | re.M)


def local_transport(namespace: dict) -> Transport:
    """A transport that runs the kernel agent in this process on ``namespace``: the one
    trusted module that imports :mod:`autograder.kernel`, since it runs notebooks in-process
    by design."""
    from autograder.kernel import agent

    def send(text: str, timeout: float) -> str:
        agent.use_namespace(namespace)
        return agent.handle(text)

    return send


def _stub(source: str) -> str:
    return _SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n"
                                   f"{m.group(1)}raise NotImplementedError()\n", source)


def variant_cells(py_path: Path, variant: str, buggy_cells: dict[str, str] | None = None):
    """[(grade_id or '', source, hidden test or None, points)] of one notebook's code cells."""
    import nbformat

    from autograder.build import build_with_tests
    from autograder.samples import solution_source

    text, hidden = build_with_tests(py_path)
    nb = nbformat.reads(text, as_version=4)
    tests = {t.grade_id: t for t in hidden}
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        gid = meta.get("grade_id", "")
        source = cell.source
        if meta.get("solution"):
            if variant == "blank":
                source = _stub(source)
            elif variant == "buggy" and buggy_cells and gid in buggy_cells:
                source = buggy_cells[gid]
            else:
                source = solution_source(source)
        points = float(meta.get("points", 0) or 0) if meta.get("grade") else 0.0
        out.append((gid, source, tests.get(gid), points))
    return out


def run_local(py_path: Path, variant: str = "solution", student_id: str = "local",
              buggy_cells: dict[str, str] | None = None, say=print,
              secret: str = "") -> list[tuple]:
    """Run one notebook in-process and judge its test cells; [(grade_id, points, Verdict)].
    ``secret`` is the course secret of the seeds ('' here: the local runner's cases are
    not any real student's)."""
    import matplotlib

    matplotlib.use("Agg")
    assignment = py_path.parent.name
    namespace: dict = {"__name__": "__main__"}
    results = []
    for gid, source, test, points in variant_cells(py_path, variant, buggy_cells):
        # IPython magics (%matplotlib inline) mean nothing here
        source = "\n".join("pass  # " + ln if ln.lstrip().startswith(("%", "!")) else ln
                           for ln in source.split("\n"))
        sink = io.StringIO()
        error = ""
        try:
            with contextlib.redirect_stdout(sink):
                exec(compile(source, f"<cell {gid or '?'}>", "exec"), namespace)
        except Exception as exc:  # noqa: BLE001 - a stub or a bug: recorded, not fatal
            error = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
        if test is None:
            continue
        student = Student(local_transport(namespace))
        seed = seed_for(student_id, assignment, gid, secret)
        verdict = judge_block(test.code, student, seed=seed, filename=test.filename,
                              preamble=test.preamble)
        got = points if verdict.passed and not error else 0.0
        if error and verdict.passed:
            verdict = Verdict(False, f"(visible test) {error}", verdict.seconds, verdict.calls)
        results.append((gid, got, verdict))
        line = f"{got:g}/{points:g}  {gid}  {verdict.seconds:.2f}s {verdict.calls} calls"
        if not verdict.passed:
            line += "\n      " + verdict.message.replace("\n", "\n      ")
        say(line)
    return results


def lone_bug_problems(py_paths: list[Path], bugs) -> list[str]:
    """Each mistake of ``bugs`` (:class:`autograder.samples.Bug`) applied alone to the
    solution, judged here: a problem for each one that does not lose exactly the points its
    ``loses`` says. The buggy sample applies every mistake at once, so one mistake's extra
    loss in a later exercise can hide behind that exercise's own mistake; alone, it cannot."""
    import warnings

    def judged(cells=None) -> dict[str, tuple[float, str]]:
        out = {}
        with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
            warnings.simplefilter("ignore")
            for py_path in py_paths:
                variant = "buggy" if cells else "solution"
                for gid, points, verdict in run_local(py_path, variant, "local", cells,
                                                      say=lambda _: None):
                    out[gid] = (points, verdict.message)
        return out

    full = judged()
    problems = []
    for index, bug in enumerate(bugs):
        got = judged(dict(bug.cells))
        lost = {gid: full[gid][0] - points for gid, (points, _) in got.items()
                if full[gid][0] - points > 1e-9}
        want = {gid: float(points) for gid, points in bug.loses.items()}
        if lost != want:
            extra = "; ".join(f"{gid}: {got[gid][1][:200]}" for gid in lost if gid not in want)
            problems.append(
                f"buggy.py BUGS[{index}] ({bug.mistake[:60]}), applied alone, loses "
                f"{_points(lost)}; buggy.py says {_points(want)}"
                + (f" ({extra})" if extra else ""))
    return problems


def _points(lost: dict[str, float]) -> str:
    return ", ".join(f"{v:g} in {gid}" for gid, v in sorted(lost.items())) or "nothing"


def main(argv: list[str] | None = None) -> int:
    from autograder.samples import load_buggy

    parser = argparse.ArgumentParser(prog="python -m autograder.judge.local",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("assignment")
    parser.add_argument("--variant", choices=("solution", "blank", "buggy"),
                        default="solution")
    parser.add_argument("--notebooks-dir", default="notebooks")
    parser.add_argument("--student", default="local", help="student id for the seed")
    args = parser.parse_args(argv)
    folder = Path(args.notebooks_dir) / args.assignment
    buggy = load_buggy(folder / "buggy.py").cells if args.variant == "buggy" else None
    total = got = 0.0
    from autograder.build import notebook_sources

    for py_path in notebook_sources(Path(args.notebooks_dir)).get(args.assignment, []):
        for _gid, points, _verdict in run_local(py_path, args.variant, args.student, buggy):
            got += points
        total += sum(p for _, _, t, p in variant_cells(py_path, "solution") if t)
    print(f"{args.variant}: {got:g} of {total:g} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
