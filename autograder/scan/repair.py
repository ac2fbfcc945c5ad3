"""Repair: a submitted notebook's JSON back into a valid notebook with the release's structure.

:func:`repair_notebook` runs the steps below in order, each reporting what it changed as a
``repaired`` finding (or a ``broken`` one when the notebook cannot be rebuilt):

1. the nbformat version (3 is converted, anything else but 4 is refused);
2. every cell rebuilt from its parts (malformed cells, metadata and sources);
3. cell ids made present, well formed and unique;
4. nbgrader metadata checked against the release: unusable metadata is set aside, and of a
   duplicated grade_id the last copy keeps it (nbgrader's choice);
5. cells whose metadata was stripped or renamed recognised and relabelled, unknown nbgrader
   cells made plain;
6. the release's metadata, tags, cell type and (for test, locked and task cells) source put
   back on every known cell;
7. missing test, locked and task cells put back from the release;
8. the kernel spec restored, then the result validated by nbformat and by nbgrader.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import nbformat

from .cells import Role, defined_names, first_line, grade_id, role_of
from .findings import Finding, Kind

_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NBGRADER_FLAGS = ("grade", "solution", "locked", "task")
_NEW_CELL = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
             "raw": nbformat.v4.new_raw_cell}

Note = Callable[[Kind, str, str], None]  # note(kind, where, message)
Release = dict[str, nbformat.NotebookNode]  # grade_id -> released cell, in release order


def repair_notebook(
    raw: dict, reference: nbformat.NotebookNode | None, name: str = ""
) -> tuple[nbformat.NotebookNode | None, list[Finding]]:
    """A valid nbformat-4 notebook with the release's nbgrader structure, and what was done.

    Returns (None, findings with a ``broken`` one) when the notebook cannot be rebuilt.
    """
    findings: list[Finding] = []

    def note(kind: Kind, where: str, message: str) -> None:
        findings.append(Finding(kind, name, where, message))

    raw = _nbformat_4(raw, note)
    if raw is None:
        return None, findings
    if not isinstance(raw.get("cells"), list):
        note(Kind.BROKEN, "", "not a notebook: there is no list of cells")
        return None, findings
    release: Release = {}
    for rcell in reference.cells if reference is not None else []:
        if grade_id(rcell):
            release[grade_id(rcell)] = rcell
    cells = _rebuild_cells(raw["cells"], release, note)
    _renumber_ids(cells, note)
    pending = _set_aside_unusable_metadata(cells, reference, release, note)
    present = _keep_last_copies(cells, release, pending, note)
    if reference is not None:
        relabelled = _relabel(cells, release, present, pending, note)
        _make_plain(cells, sorted(set(pending) - relabelled), note)
        for gid, index in sorted(present.items(), key=lambda kv: kv[1]):
            _restore_cell(cells, index, release[gid], gid, note)
        _restore_missing(cells, release, present, note)
    nb = _new_notebook(cells, raw.get("metadata"), reference, note)
    return _validated(nb, note), findings


def _nbformat_4(raw: dict, note: Note) -> dict | None:
    """``raw`` as nbformat 4 (version 3 is converted), or None when it is another version."""
    major = raw.get("nbformat")
    if major == 4:
        return raw
    if major != 3:
        note(Kind.BROKEN, "", f"not a notebook: nbformat is {major!r}, expected 4")
        return None
    try:
        converted = dict(nbformat.convert(nbformat.from_dict(raw), 4))
    except Exception as exc:
        note(Kind.BROKEN, "", f"nbformat {major} notebook could not be converted ({exc})")
        return None
    note(Kind.REPAIRED, "", "converted from nbformat 3 to 4")
    return converted


def _join(source) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def _rebuild_cells(cells_in: list, release: Release, note: Note) -> list:
    """Step 2: a new cell for each cell object, from its type, source, metadata, id and
    attachments; what is malformed is reset."""
    cells = []
    for index, cell in enumerate(cells_in):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            note(Kind.REPAIRED, where, "was not a cell object (removed)")
            continue
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            note(Kind.REPAIRED, where, "had malformed metadata (reset)")
            metadata = {}
        source = _join(cell.get("source", ""))
        if source is None:
            note(Kind.REPAIRED, where, "had a malformed source (emptied)")
            source = ""
        ctype = cell.get("cell_type")
        if ctype not in _NEW_CELL:
            meta = metadata.get("nbgrader")
            known = isinstance(meta, dict) and meta.get("grade_id") in release
            ctype = release[meta["grade_id"]].cell_type if known else "raw"
            note(Kind.REPAIRED, where, f"had the unknown cell type {cell.get('cell_type')!r} "
                                       f"(now {ctype})")
        new = _NEW_CELL[ctype](source=source)
        new.metadata = nbformat.from_dict(copy.deepcopy(metadata))
        cid = cell.get("id")
        new["id"] = cid if isinstance(cid, str) else ""
        if ctype == "markdown" and isinstance(cell.get("attachments"), dict):
            new["attachments"] = nbformat.from_dict(copy.deepcopy(cell["attachments"]))
        cells.append(new)
    return cells


def _renumber_ids(cells: list, note: Note) -> None:
    """Step 3: every cell id present, well formed and unique."""
    seen: set[str] = set()
    renamed = 0
    duplicates = set()
    for index, cell in enumerate(cells):
        cid = cell.get("id", "")
        if cid and _CELL_ID.match(cid) and cid not in seen:
            seen.add(cid)
            continue
        if cid in seen:
            duplicates.add(cid)
        base = re.sub(r"[^a-zA-Z0-9_-]", "-", cid or "cell")[:48] or "cell"
        candidate = f"{base}-r{index}"
        while candidate in seen:
            candidate += "x"
        cell["id"] = candidate
        seen.add(candidate)
        renamed += 1
    if duplicates:
        note(Kind.REPAIRED, "", f"duplicate cell ids {', '.join(sorted(duplicates))} "
                                f"({renamed} cell id(s) renumbered)")
    elif renamed:
        note(Kind.REPAIRED, "", f"{renamed} missing or malformed cell id(s) renumbered")


def _set_aside_unusable_metadata(cells: list, reference, release: Release,
                                 note: Note) -> list[int]:
    """Step 4a: the cells whose nbgrader metadata is malformed or unknown to the release
    (they may still be recognised); metadata with no flag and no grade_id is dropped."""
    pending: list[int] = []
    for index, cell in enumerate(cells):
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata["nbgrader"]
        if not isinstance(meta, dict):
            del cell.metadata["nbgrader"]
            note(Kind.REPAIRED, f"cell {index}", "malformed nbgrader metadata removed")
            pending.append(index)
        elif reference is not None and meta.get("grade_id") not in release:
            if any(meta.get(k) for k in _NBGRADER_FLAGS) or meta.get("grade_id"):
                pending.append(index)
            else:
                del cell.metadata["nbgrader"]
    return pending


def _keep_last_copies(cells: list, release: Release, pending: list[int],
                      note: Note) -> dict[str, int]:
    """Step 4b: of a duplicated known grade_id the last copy keeps it (nbgrader's choice),
    the others become plain cells. Returns grade_id -> index of the cells kept."""
    last: dict[str, int] = {}
    for index, cell in enumerate(cells):
        gid = grade_id(cell)
        if gid not in release or index in pending:
            continue
        if gid in last:
            earlier = last[gid]
            del cells[earlier].metadata["nbgrader"]
            note(Kind.REPAIRED, gid, f"duplicated (cell {earlier} is now a plain cell; the "
                                     f"last copy, cell {index}, is graded)")
        last[gid] = index
    return last


def _relabel(cells: list, release: Release, present: dict[str, int], pending: list[int],
             note: Note) -> set[int]:
    """Step 5a: each release cell not present is looked for among the cells without usable
    metadata, between its neighbours; a match gets the release's metadata. Updates
    ``present`` and returns the indexes relabelled."""
    candidates = set(pending) | {i for i, c in enumerate(cells) if "nbgrader" not in c.metadata}
    order = list(release)
    picked: set[int] = set()
    for position, gid in enumerate(order):
        if gid in present:
            continue
        rcell = release[gid]
        lo = max((present[g] for g in order[:position] if g in present), default=-1)
        hi = min((present[g] for g in order[position + 1:] if g in present),
                 default=len(cells))
        window = [i for i in sorted(candidates - picked) if lo < i < hi]
        pick = _recognise(cells, window, rcell)
        if pick is not None:
            cells[pick].metadata["nbgrader"] = copy.deepcopy(rcell.metadata["nbgrader"])
            picked.add(pick)
            present[gid] = pick
            note(Kind.REPAIRED, gid, f"nbgrader metadata was missing or renamed (cell {pick} "
                                     "recognised and relabelled)")
    return picked


def _recognise(cells: list, window: list[int], rcell) -> int | None:
    """The cell in ``window`` that is the release cell ``rcell`` without its metadata: the
    same source, else the same first line (test, locked, task), else a cell defining the
    same functions (answer)."""
    for i in window:
        if cells[i].source.strip() == rcell.source.strip():
            return i
    role = role_of(rcell)
    if role.owned_by_release:
        first = first_line(rcell.source)
        for i in window:
            if first and first_line(cells[i].source) == first:
                return i
    if role == Role.ANSWER:
        names = defined_names(rcell.source)
        if names:
            for i in window:
                if names <= defined_names(cells[i].source):
                    return i
    return None


def _make_plain(cells: list, indexes: list[int], note: Note) -> None:
    """Step 5b: cells with nbgrader metadata the release does not know run as plain cells."""
    for index in indexes:
        meta = cells[index].metadata.get("nbgrader")
        label = meta.get("grade_id") if isinstance(meta, dict) else None
        cells[index].metadata.pop("nbgrader", None)
        note(Kind.REPAIRED, f"cell {index}", f"unknown nbgrader cell {label!r}: its "
                                             "metadata was removed (it runs as a plain cell)")


def _restore_cell(cells: list, index: int, rcell, gid: str, note: Note) -> None:
    """Step 6: the release's nbgrader metadata, flags, tags, cell type and (for cells the
    release owns) source on the cell at ``index``. A cell still as an earlier release made
    it (its nbgrader checksum matches) was not damaged: what the release changed since is
    a note, not a repair."""
    kind = Kind.NOTE if _as_released(cells[index]) else Kind.REPAIRED
    _restore_metadata(cells[index], rcell, gid, note, kind)
    if cells[index].cell_type != rcell.cell_type:
        cell = cells[index]
        note(Kind.REPAIRED, gid, f"cell type changed from {rcell.cell_type} to "
                                 f"{cell.cell_type} (restored)")
        new = _NEW_CELL[rcell.cell_type](source=cell.source)
        new.metadata = cell.metadata
        new["id"] = cell["id"]
        cells[index] = new
    role = role_of(rcell)
    if role.owned_by_release and cells[index].source != rcell.source:
        note(kind, gid, f"the {role} cell was edited (the release's version is graded)"
             if kind is Kind.REPAIRED else
             f"the {role} cell changed in the release since (the current one is graded)")
        cells[index].source = rcell.source


def _as_released(cell) -> bool:
    """Whether the cell's nbgrader checksum is that of its source and metadata."""
    from nbgrader.utils import compute_checksum

    meta = cell.metadata.get("nbgrader")
    try:
        return bool(meta.get("checksum")) and meta["checksum"] == compute_checksum(cell)
    except (AttributeError, KeyError, TypeError, ValueError):
        return False


def _restore_metadata(cell, rcell, gid: str, note: Note, kind: Kind = Kind.REPAIRED) -> None:
    want = rcell.metadata["nbgrader"]
    got = cell.metadata.get("nbgrader", {})
    changed = {}
    for key in ("grade", "solution", "locked", "task", "points", "schema_version"):
        if key in want and got.get(key) != want.get(key):
            changed[key] = f"{key} {got.get(key)!r} -> {want.get(key)!r}"
        elif key not in want and key in got and key == "points":
            changed[key] = f"points {got.get(key)!r} removed"
    if set(changed) - {"grade", "solution", "locked", "points"}:  # not in the checksum
        kind = Kind.REPAIRED
    if changed:
        note(kind, gid, ("nbgrader metadata changed, restored: " if kind is Kind.REPAIRED
                         else "changed in the release since: ") + ", ".join(changed.values()))
    cell.metadata["nbgrader"] = copy.deepcopy(want)
    for key in ("deletable", "editable"):
        if key in rcell.metadata:
            cell.metadata[key] = rcell.metadata[key]
    if not role_of(rcell).owned_by_release:
        return
    # tags and any other metadata come from the release too: a tag such as
    # skip-execution or raises-exception decides whether and how the cell runs
    extra = {k: v for k, v in cell.metadata.items() if k != "nbgrader"}
    wanted = {k: v for k, v in rcell.metadata.items() if k != "nbgrader"}
    if extra != wanted:
        differ = set(extra) ^ set(wanted) | {k for k in extra if k in wanted
                                             and extra[k] != wanted[k]}
        note(Kind.REPAIRED, gid, "cell metadata (tags) changed, restored: "
                                 + ", ".join(sorted(differ)))
        cell.metadata = nbformat.from_dict({**copy.deepcopy(wanted),
                                            "nbgrader": cell.metadata["nbgrader"]})


def _restore_missing(cells: list, release: Release, present: dict[str, int],
                     note: Note) -> None:
    """Step 7: missing test, locked and task cells come back from the release, after the
    graded cell that precedes them there, with a markdown notice; a missing answer cell is
    only reported."""
    order = list(release)
    for position, gid in enumerate(order):
        if gid in present:
            continue
        rcell = release[gid]
        role = role_of(rcell)
        if role == Role.ANSWER:
            note(Kind.REPAIRED, gid, "the answer cell is missing (its tests fail unless the "
                                     "function is defined elsewhere)")
            continue
        after = max((present[g] for g in order[:position] if g in present), default=-1)
        restored = copy.deepcopy(rcell)
        restored["id"] = _fresh_id(gid, cells)
        notice = nbformat.v4.new_markdown_cell(
            f"*This {role} cell (id: {gid}) was missing from the submission and was "
            "restored by the grader.*")
        notice["id"] = _fresh_id(f"{gid}-restored", cells)
        cells[after + 1:after + 1] = [notice, restored]
        for g, i in present.items():
            if i > after:
                present[g] = i + 2
        present[gid] = after + 2
        note(Kind.REPAIRED, gid, f"the {role} cell was missing (put back from the release)")


def _fresh_id(base: str, cells: list) -> str:
    taken = {c.get("id") for c in cells}
    candidate = re.sub(r"[^a-zA-Z0-9_-]", "-", base)[:56] or "cell"
    suffix = 0
    while candidate in taken:
        suffix += 1
        candidate = f"{base[:50]}-{suffix}"
    return candidate


def _new_notebook(cells: list, metadata, reference, note: Note) -> nbformat.NotebookNode:
    """Step 8a: an nbformat 4.5 notebook of ``cells`` with the submission's metadata and the
    release's kernel spec."""
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = nbformat.from_dict(copy.deepcopy(metadata if isinstance(metadata, dict)
                                                   else {}))
    if reference is not None:
        want = reference.metadata.get("kernelspec")
        got = nb.metadata.get("kernelspec")
        if want is not None and got != want:
            got_name = got.get("name") if isinstance(got, dict) else got
            note(Kind.REPAIRED, "", f"kernel spec changed ({got_name!r}; the release's "
                                    f"{want.get('name')!r} restored)")
            nb.metadata["kernelspec"] = copy.deepcopy(want)
        nb.metadata.pop("language_info", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    return nb


def _validated(nb: nbformat.NotebookNode, note: Note) -> nbformat.NotebookNode | None:
    """Step 8b: ``nb`` when nbformat and nbgrader both accept it, else None (broken)."""
    from nbgrader.nbgraderformat import MetadataValidator, ValidationError

    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        note(Kind.BROKEN, "", "still not a valid notebook after repair: "
                              f"{str(exc).splitlines()[0]}")
        return None
    try:
        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        note(Kind.BROKEN, "", f"nbgrader metadata still invalid after repair: {exc}")
        return None
    return nb
