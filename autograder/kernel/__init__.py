"""Code that runs inside the student's kernel during grading, and nothing trusted imports.

The kernel is untrusted: whatever this package does can be undone or imitated by the
student's cells. It only carries out the judge's requests (:mod:`autograder.kernel.agent`)
and answers with plain data (:mod:`autograder.protocol`, the one module of ``autograder`` it
imports), which the judge checks and rebuilds on its own side. The only trusted module that
imports this package is the local judge (:mod:`autograder.judge.local`), a developer tool
that runs notebooks in its own process through :func:`agent.use_namespace`.
"""
