"""Code that runs inside the student's kernel during grading, and nothing trusted imports.

The kernel is untrusted: whatever this package does can be undone or imitated by the
student's cells. It only carries out the judge's requests (:mod:`autograder.kernel.agent`)
and answers with plain data, which the judge checks and rebuilds on its own side.
"""
