"""Grading throughput: seconds per student with 1 job and with N jobs, and the sandbox's cost.

A scratch course (a temporary folder; course/ is never touched) gets every assignment built
and released, and a class of generated students made from the sample submissions
(autograder.samples): solution, buggy and blank hand-ins spread over the assignments. The
same class is graded with ``--jobs 1`` and ``--jobs N`` (N: the cores this process may use),
after one untimed warm-up task that starts the fork server. Every grade is checked against
the score its sample must get, so a fast but broken run cannot pass for a result.

By default each student hands in one assignment (24 students: about five per assignment),
which keeps a run near ten minutes on two cores; ``--per-student all`` grades every
assignment of every student (five times as long). The output says which was measured.

The sandbox's overhead is the time of a sandboxed run over the same run without it, at
N jobs; where bubblewrap does not work the script says so and prints no overhead.

The judge's cost: for each assignment, grading the correct sample alone (one job, sandboxed,
hidden tests in the judge) against a bare ``jupyter nbconvert --execute`` of the same
notebook in the same run (best of ``--repeat`` runs each); ``--ratio-only`` measures just
that.

Targets: at least 1.6x with 2 jobs on 2 cores; sandbox overhead under 15%; grading one
notebook at most 1.3x a bare nbconvert --execute of it.
Timings on a shared machine move with its load: the load average is printed with each run.

Run: python benchmarks/grading.py [--students 24] [--per-student one|all] [--jobs N]
(exit status 1 when a grade is wrong or a student could not be graded; timings are
reported, not enforced)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from autograder.config import GradingConfig
from autograder.course import GRADEBOOK_ENV, Course, default_paths
from autograder.grading import grade
from autograder.parallel import default_jobs
from autograder.pipeline import prepare_assignments
from autograder.sandbox import sandbox_status

KINDS = ("solution", "buggy", "solution", "blank")  # half correct, a quarter each of the rest
SPEEDUP_TARGET = 1.6
OVERHEAD_TARGET = 0.15
TOL = 1e-6
ONE_JOB = GradingConfig(jobs=1, progress=False)  # one student at a time, no bar
RATIO_TARGET = 1.3


def judge_ratios(course: Course, expected: dict, repeat: int) -> bool:
    """Per assignment: grading one correct notebook over a bare nbconvert --execute of it."""
    import subprocess

    from autograder.course import grading_environment

    env = grading_environment()
    ok = True
    print(f"{'assignment':<22}{'grade (s)':>10}{'nbconvert (s)':>15}{'ratio':>8}")
    for assignment in sorted({a for a, _ in expected}):
        mine = {s: want for (a, s), want in expected.items() if a == assignment}
        student = max(sorted(mine), key=mine.get)  # the correct sample scores the most
        notebook = next((course.submitted_dir / student / assignment).glob("*.ipynb"))
        graded, bare = [], []
        for _ in range(repeat):
            start = time.perf_counter()
            outcome = grade(course, [assignment], [student], config=ONE_JOB)[0]
            graded.append(time.perf_counter() - start)
            if not outcome.ok or abs((outcome.score or 0) - expected[(assignment, student)]) > TOL:
                print(f"  {assignment}: grading went wrong ({outcome.reason or outcome.score})")
                ok = False
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--execute",
                                "--to", "notebook", "--output-dir", out, str(notebook),
                                "--ExecutePreprocessor.timeout=600"],
                               check=True, capture_output=True, env=env,
                               cwd=notebook.parent)
                bare.append(time.perf_counter() - start)
        ratio = min(graded) / min(bare)
        print(f"{assignment:<22}{min(graded):>10.1f}{min(bare):>15.1f}{ratio:>7.2f}x"
              + ("" if ratio <= RATIO_TARGET else "  (over the target)"))
    print(f"target: grading one notebook <= {RATIO_TARGET}x a bare nbconvert --execute")
    return ok


def _machine_cpu() -> float | None:
    """CPU seconds all processes of the machine have used since boot (Linux /proc/stat)."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        tick = os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None
    values = [float(v) for v in fields[:8]]
    return (sum(values) - values[3] - values[4]) / tick  # all but idle and iowait


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, CPU ticks used by the process itself)."""
    table = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2:].split()  # from field 3 (state) on
        table[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
    return table


class OwnCpu(threading.Thread):
    """CPU seconds used by this process and its descendants while running, by sampling /proc.

    Grading kernels may be reparented (the sandbox), so the live process tree is followed
    every ``interval`` seconds instead of trusting the children's times the kernel adds up
    at exit; the last fraction of an interval of each process that ends is missed.
    """

    def __init__(self, interval: float = 0.5):
        super().__init__(daemon=True)
        self.interval = interval
        self.seconds = 0.0
        self._stop_event = threading.Event()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._last = {pid: ticks for pid, (_, ticks) in _process_table().items()}

    def _sample(self) -> None:
        table = _process_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, _) in table.items():
            children.setdefault(ppid, []).append(pid)
        tree, todo = set(), [os.getpid()]
        while todo:
            pid = todo.pop()
            if pid not in tree:
                tree.add(pid)
                todo.extend(children.get(pid, []))
        for pid in tree:
            ticks = table[pid][1] if pid in table else 0
            self.seconds += max(0, ticks - self._last.get(pid, 0)) / self._tick
        self._last = {pid: ticks for pid, (_, ticks) in table.items()}

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._sample()

    def stop(self) -> float:
        self._stop_event.set()
        self.join()
        self._sample()
        return self.seconds


def make_class(course: Course, students: int, per_student: str) -> dict[tuple[str, str], float]:
    """Build, release and hand in the class; return (assignment, student) -> expected score."""
    assignments = course.notebook_assignments()
    checks = prepare_assignments(course, assignments, say=lambda _line: None,
                                 force_release=True)
    problems = [f"{name}: {p}" for name, chk in checks.items() for p in chk.problems]
    if problems:
        raise SystemExit("cannot set up the class:\n  " + "\n  ".join(problems))
    samples = course.course_dir / "samples"
    shutil.move(str(course.submitted_dir), str(samples))
    expected = {}
    for k in range(students):
        student = f"bench-{k:02d}"
        kind = KINDS[(k // len(assignments)) % len(KINDS)]
        handed_in = assignments if per_student == "all" else [assignments[k % len(assignments)]]
        for assignment in handed_in:
            shutil.copytree(samples / f"sample-{kind}" / assignment,
                            course.submitted_dir / student / assignment)
            expected[(assignment, student)] = checks[assignment].expected[f"sample-{kind}"]
    return expected


def timed_run(course: Course, expected: dict, jobs: int, label: str,
              **options) -> tuple[float, float | None]:
    """Grade the whole class; print the wall time and load.

    Returns (wall seconds per student, CPU seconds this run used or None where /proc is
    missing).
    """
    students = sorted({s for _, s in expected})
    load_before = os.getloadavg()[0]
    machine_before = _machine_cpu()
    sampler = OwnCpu() if machine_before is not None else None
    if sampler:
        sampler.start()
    start = time.perf_counter()
    outcomes = grade(course, None, students,
                     config=GradingConfig(jobs=jobs, progress=False, **options))
    wall = time.perf_counter() - start
    load_after = os.getloadavg()[0]
    cpu_note = ""
    own = None
    if sampler:
        own = sampler.stop()
        others = max(0.0, _machine_cpu() - machine_before - own)
        cores = os.cpu_count() or 1
        cpu_note = (f"; this run used {own:.0f} CPU s, other users about "
                    f"{100 * others / (wall * cores):.0f}% of the {cores} cores")
    wrong = []
    for o in outcomes:
        want = expected[(o.task.assignment, o.task.student)]
        if not o.ok:
            wrong.append(f"{o.task.label}: not graded: {o.reason}")
        elif abs((o.score or 0.0) - want) > TOL:
            wrong.append(f"{o.task.label}: scored {o.score:g}, expected {want:g}")
    if len(outcomes) != len(expected):
        wrong.append(f"{len(outcomes)} outcomes for {len(expected)} submissions")
    busy = sum(o.seconds for o in outcomes)
    per_student = wall / len(students)
    print(f"{label:<24} {wall:7.1f} s wall  {per_student:6.2f} s/student  "
          f"(task time {busy:.0f} s{cpu_note}; load {load_before:.1f} -> {load_after:.1f})",
          flush=True)
    if wrong:
        print("  wrong grades, the timing means nothing:\n  " + "\n  ".join(wrong))
        raise SystemExit(1)
    return per_student, own


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=24, help="class size (default: 24)")
    parser.add_argument("--per-student", choices=("one", "all"), default="one",
                        help="assignments each student hands in (default: one)")
    parser.add_argument("--jobs", type=int, default=None,
                        help="N for the parallel run (default: the number of cores)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch course")
    parser.add_argument("--ratio-only", action="store_true",
                        help="only the judge's cost: grading vs a bare nbconvert --execute")
    parser.add_argument("--repeat", type=int, default=2,
                        help="runs per assignment for the ratio (best is kept; default: 2)")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error(f"--students must be at least 1 (got {args.students})")
    jobs = args.jobs or default_jobs()
    if jobs < 2:
        parser.error(f"the parallel run needs at least 2 jobs (got {jobs}; pass --jobs)")

    os.environ.pop(GRADEBOOK_ENV, None)  # the scratch course keeps its own sqlite gradebook
    _, notebooks_dir = default_paths()
    scratch = Path(tempfile.mkdtemp(prefix="bench-grading-"))
    try:
        course = Course.create(scratch / "course", notebooks_dir)
        start = time.perf_counter()
        expected = make_class(course, args.students, args.per_student)
        assignments = sorted({a for a, _ in expected})
        what = ("every assignment per student" if args.per_student == "all"
                else "one assignment per student, round robin")
        print(f"class: {args.students} students, {len(expected)} submissions ({what}) over "
              f"{', '.join(assignments)}; kinds {'/'.join(KINDS)} by student")
        print(f"machine: {os.cpu_count()} cores, {default_jobs()} usable; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) before grading; "
              f"set-up {time.perf_counter() - start:.0f} s")

        first = min(expected)  # warm-up: the fork server starts here, untimed
        grade(course, [first[0]], [first[1]], config=ONE_JOB)
        ratios_ok = judge_ratios(course, expected, max(1, args.repeat))
        if args.ratio_only:
            return 0 if ratios_ok else 1

        state = sandbox_status()
        one, _ = timed_run(course, expected, 1, "1 job", sandbox=state.available)
        many, many_cpu = timed_run(course, expected, jobs, f"{jobs} jobs",
                                   sandbox=state.available)
        speedup = one / many
        if args.per_student == "one":
            count = len(course.notebook_assignments())
            print(f"a student with all {count} assignments: about {count * one:.0f} s with 1 job, "
                  f"{count * many:.0f} s with {jobs} jobs (estimated: {count} x the per-student "
                  "time above, each assignment being equally represented)")
        verdict = "met" if jobs != 2 or speedup >= SPEEDUP_TARGET else "MISSED"
        print(f"speed-up with {jobs} jobs: {speedup:.2f}x (target >= {SPEEDUP_TARGET}x with "
              f"2 jobs on 2 cores: {verdict if jobs == 2 else 'not this configuration'})")
        if not state.available:
            print(f"sandbox: not available here ({state.detail}), so no overhead to measure")
        else:
            bare, bare_cpu = timed_run(course, expected, jobs, f"{jobs} jobs, no sandbox",
                                       sandbox=False)
            overhead = many / bare - 1.0
            print(f"sandbox overhead at {jobs} jobs: {100 * overhead:+.1f}% wall time "
                  f"(target < {100 * OVERHEAD_TARGET:.0f}%: "
                  f"{'met' if overhead < OVERHEAD_TARGET else 'MISSED'})")
            if many_cpu and bare_cpu:
                print(f"sandbox overhead in CPU time: {100 * (many_cpu / bare_cpu - 1):+.1f}% "
                      "(less sensitive to other users of the machine than wall time)")
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        if args.keep:
            print(f"scratch course kept in {course.course_dir}")
        return 0
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
