"""The trusted judge: hidden tests run here, outside the student's kernel.

The kernel computes; the judge decides. During autograding the executor
(:mod:`autograder.execute`) runs each notebook cell in the sandboxed kernel; after a graded
test cell it runs that cell's hidden-test block (:mod:`autograder.judge.runner`) in the
grading process, against a :class:`Student` handle whose calls execute in the kernel and
return plain data only (:mod:`autograder.protocol`). Reference implementations, the
gradient checker, tolerances and every comparison live here; the points come from the
verdict, which the executor writes into the graded cell's outputs.
"""

from ..protocol import CodecError
from .runner import Verdict, judge_block, raises
from .seeds import seed_for
from .student import KernelLost, Remote, Student, StudentError, StudentTimeout

__all__ = [
    "CodecError",
    "KernelLost",
    "Remote",
    "Student",
    "StudentError",
    "StudentTimeout",
    "Verdict",
    "judge_block",
    "raises",
    "seed_for",
]
