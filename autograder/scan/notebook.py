"""The scan of a notebook and of a submission: read (:mod:`.staging`), repair (:mod:`.repair`),
then withhold the editable cells where :mod:`.tamper` finds tampering."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nbformat

from ..sandbox import file_kind
from .cells import Role, grade_id, role_of
from .findings import Finding, Kind, NotebookScan, SubmissionScan
from .repair import repair_notebook
from .staging import read_submission
from .tamper import Aliases, scan_code

WITHHELD_MARK = "# autograder: this cell was withheld from grading"


def scan_submission(course, assignment: str, student: str) -> SubmissionScan:
    """Scan ``submitted/<student>/<assignment>/`` against ``release/<assignment>/``."""
    result = SubmissionScan(assignment, student)
    folder = course.submitted_dir / student / assignment
    release = course.release_dir / assignment
    released = {p.name: p for p in sorted(release.glob("*.ipynb"))} if release.is_dir() else {}
    submitted = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if folder.is_dir():
        result.findings += _refused_files(folder)
    if not released:
        result.findings.append(Finding(Kind.NOTE, "", "", f"no release of {assignment} to "
                                                          "compare with"))
    for path in submitted:
        reference = None
        if path.name in released:
            try:
                reference = nbformat.read(str(released[path.name]), as_version=4)
            except Exception:  # an unreadable release is the instructor's to fix
                reference = None
        elif released:
            result.findings.append(Finding(Kind.NOTE, path.name, "", "not a released notebook "
                                                                     "(ignored by the grader)"))
            continue
        result.notebooks.append(scan_notebook(path, reference))
    for name in sorted(set(released) - {p.name for p in submitted}):
        result.findings.append(Finding(Kind.NOTE, name, "", "missing from the submission "
                                                            "(scores 0)"))
    if not submitted:
        result.findings.append(Finding(Kind.BROKEN, "", "", f"no notebook in {folder}"))
    return result


def _refused_files(folder: Path) -> list[Finding]:
    """Links and special files anywhere below ``folder``: refused, never followed."""
    out = []
    for path in sorted(folder.rglob("*")):
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            continue
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            out.append(Finding(Kind.REFUSED, str(path.relative_to(folder)), "",
                               f"{file_kind(mode)} in the submission: refused, not followed"))
    return out


def scan_notebook(path: Path, reference: nbformat.NotebookNode | None) -> NotebookScan:
    """Read, repair and check one submitted notebook (``reference``: the released one)."""
    scan = NotebookScan(path.name)
    raw, why = read_submission(path)
    if raw is None:
        scan.findings.append(Finding(Kind.BROKEN, path.name, "", why))
        return scan
    nb, findings = repair_notebook(raw, reference, path.name)
    scan.findings += findings
    if nb is None:
        return scan
    scan.notebook = nb
    if reference is None:
        scan.findings.append(Finding(Kind.NOTE, path.name, "", "no released notebook to "
                                                               "compare with: only the code "
                                                               "was checked"))
    _withhold_tampering(scan, reference)
    return scan


def _withhold_tampering(scan: NotebookScan, reference) -> None:
    """Replace each editable cell that tampers (and differs from the release) by a stub that
    raises, and name the tests of the exercise after it, which score 0."""
    nb = scan.notebook
    untouched = set()
    if reference is not None:
        untouched = {c.source.strip() for c in reference.cells
                     if c.cell_type == "code" and role_of(c).editable}
    aliases = Aliases()
    for cell in nb.cells:
        if cell.cell_type == "code":
            aliases.learn_source(cell.source)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or not role_of(cell).editable:
            continue
        if cell.source.strip() in untouched:
            continue
        reasons = scan_code(cell.source, aliases)
        if not reasons:
            continue
        label = grade_id(cell) or f"cell {index}"
        tests = exercise_tests(nb.cells, index)
        consequence = (f"scores 0 on {', '.join(tests)}" if tests
                       else "no test follows it")
        for reason in reasons:
            scan.findings.append(Finding(Kind.TAMPERING, scan.name, label, reason))
        scan.findings.append(Finding(Kind.NOTE, scan.name, label,
                                     f"cell withheld from grading; {consequence}"))
        scan.withheld[cell.get("id", str(index))] = "; ".join(reasons)
        for test in tests:
            scan.zero_cells.setdefault(
                test, f"tampering found by the pre-grade scan in {label}: {reasons[0]}")
        cell.source = _withheld_source(reasons)


def exercise_tests(cells, index: int) -> list[str]:
    """grade_ids of the exercise that comes after cell ``index``: the test cells following
    it, up to the next answer cell after the first of them."""
    out: list[str] = []
    for cell in cells[index + 1:]:
        role = role_of(cell)
        if role == Role.TEST:
            out.append(grade_id(cell))
        elif role == Role.ANSWER and out:
            break
    return out


def _withheld_source(reasons: list[str]) -> str:
    lines = [WITHHELD_MARK + ", because it:"]
    lines += [f"#   {r}" for r in reasons[:10]]
    lines.append("# The submitted cell is kept for review; nothing in it ran.")
    short = reasons[0].split(": ", 1)[-1] if reasons else "tampering"
    lines.append(f"raise RuntimeError({('cell withheld by the grader: ' + short)!r})")
    return "\n".join(lines) + "\n"
