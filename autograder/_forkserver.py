"""Imports done once by the grading fork server, so each forked task starts warm.

:mod:`autograder.parallel` names this module in ``set_forkserver_preload``; importing it
is its only purpose. Every grading task is still a process of its own, forked from the
server, but no longer pays seconds of imports (nbgrader pulls in jupyter_server, sqlalchemy,
nbconvert and jsonschema).
"""

import importlib
import sys

# jsonschema compiles rfc3987_syntax's grammar at import (seconds) for the "iri" format,
# which nbformat's schema never uses; see autograder.cli._skip_slow_imports.
sys.modules.setdefault("rfc3987_syntax", None)

for _name in (
    "nbgrader.apps",
    "nbgrader.validator",
    "nbconvert.filters",
    "sqlalchemy",
    "autograder.course",
    "autograder.worker",
    "autograder.execute",
):
    importlib.import_module(_name)
