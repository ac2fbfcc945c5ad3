"""What the scan reports: findings, the scan of a notebook and of a submission, and the table.

A :class:`Finding` has a :class:`Kind`; a submission's :class:`Status` follows from the kinds
of its findings. Both enums are strings, so they compare, print and serialise as the words
``grade``, the quarantine's ``SCAN.txt`` and the tables have always shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import nbformat

from ..records import TextEnum


class Kind(TextEnum):
    """What a finding is about."""

    BROKEN = "broken"  # the notebook cannot be graded
    REPAIRED = "repaired"  # damage put right before grading
    TAMPERING = "tampering"  # a cell is withheld from grading
    REFUSED = "refused"  # a link or special file: reported, never followed
    NOTE = "note"  # for information


class Status(TextEnum):
    """A submission's verdict: failed (cannot be graded), flagged (tampering or a refused
    file), repaired, or ok."""

    OK = "ok"
    REPAIRED = "repaired"
    FLAGGED = "flagged"
    FAILED = "failed"


@dataclass(frozen=True)
class Finding:
    """One thing the scan found, in ``notebook`` at ``where`` (a grade_id or ``cell N``)."""

    kind: Kind
    notebook: str
    where: str
    message: str

    def describe(self) -> str:
        """``notebook [where]: message``."""
        where = self.notebook + (f" [{self.where}]" if self.where else "")
        return f"{where}: {self.message}" if where else self.message


@dataclass
class NotebookScan:
    """The scan of one submitted notebook and, unless broken, its repaired version."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    notebook: nbformat.NotebookNode | None = None
    withheld: dict[str, str] = field(default_factory=dict)  # cell id -> reason
    zero_cells: dict[str, str] = field(default_factory=dict)  # test grade_id -> reason

    @property
    def broken(self) -> bool:
        return any(f.kind == Kind.BROKEN for f in self.findings)


@dataclass
class SubmissionScan:
    """The scan of one student's submission of one assignment."""

    assignment: str
    student: str
    notebooks: list[NotebookScan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about the folder as a whole

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for nb in self.notebooks:
            out += nb.findings
        return out

    @property
    def status(self) -> Status:
        kinds = {f.kind for f in self.all_findings()}
        if Kind.BROKEN in kinds:
            return Status.FAILED
        if Kind.TAMPERING in kinds or Kind.REFUSED in kinds:
            return Status.FLAGGED
        if Kind.REPAIRED in kinds:
            return Status.REPAIRED
        return Status.OK

    def reasons(self, kind: Kind) -> list[str]:
        """What the scan found of one kind; ``tampering`` includes refused links and files."""
        kinds = {Kind.TAMPERING, Kind.REFUSED} if kind == Kind.TAMPERING else {Kind(kind)}
        return [f.describe() for f in self.all_findings() if f.kind in kinds]

    @property
    def zero_cells(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for nb in self.notebooks:
            out.update(nb.zero_cells)
        return out


def scan_table(scans: list[SubmissionScan], everything: bool = False) -> str:
    """Students the scan has something to say about: one row per finding."""
    from ..report import format_table

    rows = []
    for scan in scans:
        status = scan.status
        if status == Status.OK and not everything:
            continue
        findings = [f for f in scan.all_findings()
                    if everything or f.kind != Kind.NOTE or status != Status.REPAIRED]
        if not findings:
            rows.append([scan.student, scan.assignment, status, "", "", ""])
        for f in findings:
            where = f.notebook + (f" [{f.where}]" if f.where else "")
            message = f.message if len(f.message) <= 110 else f.message[:107] + "..."
            rows.append([scan.student, scan.assignment, status, f.kind, where, message])
    if not rows:
        return "scan: nothing to report"
    return format_table(["student", "assignment", "status", "finding", "where", "detail"], rows)
