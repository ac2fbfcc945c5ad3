"""nbgrader configuration of the minigrad backpropagation course.

Read by ``python -m autograder`` and by nbgrader's own commands run from this folder.
Every path is computed from this file's folder, so the course can live anywhere.
"""

import os

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

_here = os.path.dirname(os.path.abspath(__file__))

# --- the course ------------------------------------------------------------------------------
c.CourseDirectory.course_id = "minigrad-backprop"
c.CourseDirectory.root = _here
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_here, "gradebook.db")
# never copy build leftovers into releases or autograded folders
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints",
    "*.pyc",
    "__pycache__",
    "feedback",
    ".DS_Store",
]

# --- executing notebooks (validate and autograde) --------------------------------------------
# Seconds one cell may run before it is interrupted and marked as an error.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# The kernel is always the grader's python3 (the interpreter nbgrader runs under; the
# autograder puts a kernelspec for it first on JUPYTER_PATH), whatever the submission claims.
c.Execute.kernel_name = "python3"
c.Execute.iopub_timeout = 10
c.Execute.startup_timeout = 120
# Keep tracebacks and output floods from bloating autograded notebooks and feedback.
c.LimitOutput.max_lines = 300
c.LimitOutput.max_traceback = 60

# --- autograding -----------------------------------------------------------------------------
# Test cells a student deleted are put back from the gradebook and graded.
c.OverwriteCells.add_missing_cells = True
c.OverwriteCells.missing_cell_notification = (
    "This test cell (id: {cell_id}) was missing from the submission and was restored "
    "by the grader.\n\n"
)

# --- grading limits (read by python -m autograder; flags such as --timeout override them) ----
# Seconds one student's notebooks (or one validation) may take in all; 0: no limit.
c.Grading.timeout = 1800
# Address-space cap per grading task, its kernel included, in MB; 0: none.
c.Grading.memory_mb = 4096
# Re-runs of a task whose kernel failed to start.
c.Grading.retries = 1
# Processes at a time; 0: the number of cores.
c.Grading.jobs = 0
# Run every grading kernel in a bubblewrap sandbox where bwrap works (it says so where not).
c.Grading.sandbox = True
# Feedback on submission (`python -m autograder serve-feedback`), per student and assignment:
# at least this many minutes between two graded submissions, and at most this many graded
# submissions in any 24 hours; 0: no limit. A submission over a limit is not graded and its
# feedback says when the next one will be. The instructor's collect + grade is never limited.
# c.Grading.feedback_interval_minutes = 10
# c.Grading.feedback_per_day = 20
# The gradebook is c.CourseDirectory.db_url above; `--db URL` (else $MINIGRAD_GRADEBOOK_URL)
# overrides it for one command, and reaches the grading workers inside their task records.

# --- deadlines (python -m autograder extend; see autograder/late.py) ------------------------
# Due dates, written to the gradebook by `release` and by `grade` before grading: a wall
# time, read in c.Exchange.timezone (UTC when not set) unless a time zone name follows.
# c.Grading.due = {"a3_minibatch": "2026-10-09 17:00 Europe/London"}
# The late policy, nbgrader's late-submission plugin: none (the default), zero, fixed
# (percent once) or per_day (percent per day late, a part day counting as a day), of the
# points ("points") or of the points earned ("score"); late by more than cutoff_days: 0.
# c.AssignLatePenalties.plugin_class = "autograder.late.LatePolicy"
# c.LatePolicy.penalty_method = "per_day"
# c.LatePolicy.percent = 10
# c.LatePolicy.percent_of = "points"
# c.LatePolicy.cutoff_days = 7

# --- the exchange (release --exchange, collect --exchange, feedback --release) ---------------
# The folder students and instructors share on one server, course_id above naming the
# course's folder in it. Make it once, writable by everyone with the sticky bit:
#   sudo mkdir -p /srv/nbgrader/exchange && sudo chmod 1777 /srv/nbgrader/exchange
# `--exchange-root DIR` overrides it for one command. Students' own nbgrader_config.py
# (read by the Assignment List) names the same root and course_id.
c.Exchange.root = "/srv/nbgrader/exchange"
