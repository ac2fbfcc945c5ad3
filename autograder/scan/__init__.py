"""Pre-grade scan: submissions that would break nbgrader, and tampering in editable cells.

``python -m autograder scan`` runs it alone; ``grade`` runs it before any task is handed out.
Each submitted notebook is compared with the released one (``release/<assignment>/``) and
every cell a student can edit is read, never run.

What the scan looks for
    *Broken notebooks*: empty files, invalid or truncated JSON, JSON that is not a notebook,
    missing, duplicate or malformed cell ids, missing, renamed or malformed nbgrader
    metadata, a changed ``schema_version``, changed cell types, points, grade/solution/
    locked flags, tags or kernel name, edited, unlocked, deleted or duplicated test cells.

    *Links and special files* (symbolic links, named pipes, sockets, devices) anywhere in
    the submission: reported as refused and never followed, read or copied.

    *Tampering* in editable cells (answer cells and cells without nbgrader metadata whose
    source differs from the release), by static analysis: :mod:`ast` where the cell parses,
    text patterns where it does not. It reports rebinding the checker (``check_gradients``,
    ``gradcheck``...) or builtins (to a function), assigning attributes of numpy, builtins,
    minigrad, sys, os or IPython (``np.allclose = ...``, ``setattr(np, ...)``), IPython
    internals (``get_ipython``, input and AST transformers, ``showtraceback``,
    ``set_custom_exc``, event callbacks, ``run_cell``), leaving the process (``sys.exit``,
    ``os._exit``, ``exit()``, signals, subprocesses, threads), file and database access
    (``open``, ``pathlib``, ``os.remove``, ``sqlite3``, paths naming ``source/``, the
    gradebook or other course folders), the network (``socket``, ``urllib``, ``requests``,
    ``http``...), and the usual ways around a static check (``exec``, ``eval``,
    ``__import__``, ``importlib``, ``globals()``, ``sys.modules``, frames, ``gc``,
    ``ctypes``, ``__closure__``...). IPython magics other than ``%matplotlib``, ``%time``
    and ``%timeit`` and shell escapes (``!cmd``) count too.

The rule (nobody is silently dropped; no points for a cheated exercise)
    1. A notebook that would break nbgrader is *repaired* when that is safe: cell ids are
       made unique, malformed cells and metadata are rebuilt, nbgrader metadata of known
       cells (type, flags, points, schema version, checksum) and the kernel spec are put
       back from the release, cells whose metadata was stripped or renamed are recognised
       (by their source, or by the functions an answer cell defines) and relabelled, a
       duplicated cell id keeps its last copy (nbgrader's choice) and the others become
       plain cells, and missing test, locked and task cells are put back from the release.
       A repaired notebook is graded as if the damage had not happened: the student earns
       exactly what their code earns against the judge's hidden tests, so the damage itself
       earns nothing.
    2. A notebook that cannot be repaired (empty, not JSON, not a notebook, still invalid
       after repair) is not graded: the student is reported as *failed* with the reason,
       ``grade`` exits non-zero, and a copy goes to ``course/quarantine/``.
    3. A cell with tampering is *withheld*: it is replaced by a stub that raises an error
       saying why, so nothing in it runs, and the test cells of the exercise that comes
       next (those after the cell, up to the next answer cell) score 0 whatever happens.
       The student is graded and reported as *flagged*; the original submission and the
       reasons are copied to ``course/quarantine/<student>/<assignment>/`` for review.
       This is a policy on top of the judge (:mod:`autograder.judge`), which decides every
       point outside the kernel and would not be fooled by the tampering anyway.
    4. A link or special file is *refused*: the student is flagged and quarantined, the rest
       of the submission is graded.
    Every student appears in ``grade``'s summary as graded, flagged or failed.

The package, one job per module
    :mod:`.findings`  what the scan reports: findings, scans, statuses, the table
    :mod:`.tamper`    tampering in one cell: the rules (how to add one) and the checker
    :mod:`.cells`     what a cell is to nbgrader: its metadata, role and definitions
    :mod:`.repair`    a damaged notebook rebuilt with the release's structure
    :mod:`.staging`   reading a submission, writing the staged copy and the quarantine
    :mod:`.notebook`  the scan of a notebook and of a submission, tying those together
"""

from .findings import Finding, Kind, NotebookScan, Status, SubmissionScan, scan_table
from .notebook import WITHHELD_MARK, exercise_tests, scan_notebook, scan_submission
from .repair import repair_notebook
from .staging import quarantine, read_submission, stage_submission
from .tamper import scan_code

__all__ = [
    "WITHHELD_MARK",
    "Finding",
    "Kind",
    "NotebookScan",
    "Status",
    "SubmissionScan",
    "exercise_tests",
    "quarantine",
    "read_submission",
    "repair_notebook",
    "scan_code",
    "scan_notebook",
    "scan_submission",
    "scan_table",
    "stage_submission",
]
