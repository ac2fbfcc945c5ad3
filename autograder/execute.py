"""The execute step of autograding: nbgrader's Execute, run against the guarded kernel.

:class:`GuardedExecute` replaces nbgrader's Execute in the autograde preprocessors of a
grading worker (see :mod:`autograder.worker`). It

- starts each kernel through the sandbox launcher (:mod:`autograder.sandbox`) over jupyter's
  ``ipc`` transport, with a fresh key for the in-kernel guard;
- around every graded cell asks the guard (:mod:`autograder.guard`) what the submission
  changed in the kernel (patched numpy or minigrad, rebound builtins, IPython input or AST
  transformers, ``showtraceback``/``set_custom_exc``, import hooks, threads...); the guard
  puts everything back, so the test itself runs against the real objects; if anything had
  changed, or the guard did not answer with its signature, the cell scores 0 (an error
  output ``GradingIntegrityError`` saying why) and the worker flags the student;
- scores 0 the test cells the pre-grade scan names in ``zero_cells`` (same error output);
- turns ``stderr`` text of graded cells into ``stdout`` text: nbgrader counts any stderr
  output of a test cell as a failure, so a correct answer that merely warns would score 0;
- keeps at most ``max_output_chars`` of output per cell;
- when a cell kills the kernel (``os._exit``, a crash, the memory or CPU-time limit) or does
  not stop after its timeout and an interrupt, starts a fresh kernel and runs the notebook
  again with that cell left out (its output says it was not run), at most
  ``max_kernel_restarts`` times; after that, the cells from there on are marked not run.
  Every graded cell ends with an output, so nbgrader always records a score.

Why the guard and not a cell injected before each test: an injected cell is a cell like any
other, so an input transformer rewrites it too. The guard is reached through the
``user_expressions`` of an execute request, which IPython evaluates without transformers,
and it must answer with an HMAC under a key only the grader and the freshly started guard
know, so a rewritten or silenced kernel fails the check rather than passing it.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import hmac
import json
import os
import secrets
import sys
from pathlib import Path
from queue import Empty
from time import monotonic

from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
from jupyter_core.utils import run_sync
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async
from nbformat import NotebookNode
from nbformat.v4 import new_output
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute
from traitlets import Dict, Enum, Float, Integer, Unicode

__all__ = ["INTEGRITY_ERROR", "NOT_RUN_ERROR", "GuardedExecute"]

INTEGRITY_ERROR = "GradingIntegrityError"
NOT_RUN_ERROR = "CellNotRun"


class _OneSpec(KernelSpecManager):
    """A kernel spec manager that knows one spec: the grading launcher."""

    def __init__(self, spec: KernelSpec, **kwargs):
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name):
        return self._spec


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {message}"])


class GuardedExecute(Execute):
    """nbgrader's Execute, with the sandboxed kernel, the guard and the checks listed above."""

    kernel_plan = Unicode("", help="JSON plan for the kernel launcher ('' starts the "
                                   "configured kernel as nbgrader does)").tag(config=True)
    runtime_dir = Unicode("", help="folder for connection files and sockets").tag(config=True)
    zero_cells = Dict(help="grade_id -> reason: test cells that score 0").tag(config=True)
    guard_timeout = Float(30.0, help="seconds to wait for the in-kernel guard").tag(config=True)
    max_output_chars = Integer(
        1_000_000, help="characters of output kept per cell").tag(config=True)
    max_kernel_restarts = Integer(
        3, help="fresh kernels after a cell killed or hung the kernel").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)

    # What happened, per notebook, for the grading worker to report (one task per process).
    journal: list[dict] = []

    def _event(self, kind: str, cell: NotebookNode | None, detail: str) -> None:
        label = ""
        if cell is not None:
            label = cell.metadata.get("nbgrader", {}).get("grade_id", "") or ""
        notebook = (self.resources or {}).get("nbgrader", {}).get("notebook", "")
        GuardedExecute.journal.append(
            {"notebook": notebook, "kind": kind, "cell": label, "detail": detail})

    # kernels -------------------------------------------------------------------------------
    def create_kernel_manager(self):
        if not self.kernel_plan:
            return super().create_kernel_manager()
        self._kernels = getattr(self, "_kernels", 0) + 1
        spec = KernelSpec(
            argv=[sys.executable, "-m", "autograder.sandbox", self.kernel_plan,
                  "{connection_file}"],
            display_name="Python 3 (grading)", language="python", interrupt_mode="message",
            env={}, metadata={},
        )
        km = self.kernel_manager_class(kernel_name="python3", config=self.config,
                                       kernel_spec_manager=_OneSpec(spec))
        km.transport = "ipc"
        km.connection_file = os.path.join(self.runtime_dir, f"kernel-{self._kernels}.json")
        km.ip = os.path.join(self.runtime_dir, f"k{self._kernels}")
        self.km = km
        return km

    async def async_start_new_kernel(self, **kwargs):
        if self.kernel_plan:
            self._guard_key = secrets.token_bytes(32)
            plan = json.loads(Path(self.kernel_plan).read_text())
            fd = os.open(plan["key_file"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(self._guard_key)
        else:
            self._guard_key = b""
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    # the notebook, run again without a cell that kills or hangs the kernel ---------------------
    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        pristine = copy.deepcopy(nb.cells)
        withheld: dict[int, str] = {}
        attempt = 0
        while True:
            attempt += 1
            nb.cells = copy.deepcopy(pristine)
            NotebookClient.__init__(self, nb, km)
            self.reset_execution_trackers()
            self._check_assign_resources(resources)
            self._withheld = dict(withheld)
            self._asked_exit: int | None = None
            self._output_used: dict[int, int] = {}
            lost = None
            with self.setup_kernel():
                info_msg = self.wait_for_reply(self.kc.kernel_info())
                if info_msg is not None:
                    self.nb.metadata["language_info"] = info_msg["content"]["language_info"]
                for index, cell in enumerate(self.nb.cells):
                    try:
                        self.preprocess_cell(cell, resources, index)
                    except (DeadKernelError, CellTimeoutError) as exc:
                        lost = (index, exc)
                        break
            if lost is None:
                break
            index, exc = lost
            culprit = self._culprit(index)
            if isinstance(exc, DeadKernelError):
                reason = ("the kernel died while this cell ran (os._exit, a crash, or the "
                          "memory or CPU-time limit)")
            else:
                reason = ("this cell did not finish within the time limit and did not stop "
                          "when interrupted")
            self._event("kernel-lost", self.nb.cells[culprit], reason)
            if attempt > self.max_kernel_restarts or culprit in withheld:
                for later in range(index, len(self.nb.cells)):
                    cell = self.nb.cells[later]
                    if cell.cell_type == "code":
                        cell.outputs = [_error(NOT_RUN_ERROR, "not run: the grader gave up "
                                               f"after the kernel was lost ({reason})")]
                break
            withheld[culprit] = reason
        self.set_widgets_metadata()
        return self.nb, self.resources

    def _culprit(self, index: int) -> int:
        """The cell to leave out: the one that asked the kernel to exit after it replied
        (``exit()``), else the one the kernel was running when it was lost."""
        return self._asked_exit if self._asked_exit is not None else index

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        payload = kwargs["execute_reply"].get("content", {}).get("payload", []) or []
        if any(p.get("source") == "ask_exit" for p in payload if isinstance(p, dict)):
            self._asked_exit = kwargs["cell_index"]

    # cells -----------------------------------------------------------------------------------
    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        if cell_index in getattr(self, "_withheld", {}):
            if cell.cell_type == "code":
                cell.outputs = [_error(NOT_RUN_ERROR, "not run by the grader: "
                                       + self._withheld[cell_index])]
            return cell
        graded = cell.cell_type == "code" and nbgrader_utils.is_grade(cell)
        before = await self._guard_check(cell) if graded else []
        cell = await super().async_execute_cell(cell, cell_index, execution_count,
                                                store_history)
        if graded:
            after = await self._guard_check(cell)
            self._settle(cell, before, after)
        return cell

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(
            len(v) if isinstance(v, str) else 0 for v in content.get("data", {}).values())
        used = self._output_used.get(cell_index, 0) + size
        self._output_used[cell_index] = used
        if used > self.max_output_chars and msg.get("msg_type") in (
                "stream", "display_data", "execute_result"):
            if used - size <= self.max_output_chars:
                outs.append(new_output(
                    "stream", name="stdout",
                    text=f"\n[the grader kept only the first {self.max_output_chars} "
                         "characters of output of this cell]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _settle(self, cell, before: list[str], after: list[str]) -> None:
        """Graded cell done: stderr becomes stdout; tampering or a scan finding scores 0."""
        for output in cell.outputs:
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                output["name"] = "stdout"
        reasons = []
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        if grade_id in self.zero_cells:
            reasons.append(self.zero_cells[grade_id])
        if before:
            reasons.append("before this test, the kernel had been modified: "
                           + "; ".join(before))
        if after:
            reasons.append("while this test ran, the kernel was modified: " + "; ".join(after))
        for what in (before, after):
            if what:
                self._event("tamper", cell, "; ".join(what))
        if reasons:
            message = "this test scores 0: " + " | ".join(reasons)
            cell.outputs.append(_error(INTEGRITY_ERROR, message))

    async def _guard_check(self, cell) -> list[str]:
        """Ask the in-kernel guard to compare and restore; the list of changes it reports."""
        if not self.kernel_plan:
            return []
        nonce = secrets.token_hex(16)
        expression = f"__import__('autograder.guard', fromlist=['check']).check({nonce!r})"
        msg_id = await ensure_async(self.kc.execute(
            "", silent=True, store_history=False, user_expressions={"guard": expression},
            stop_on_error=False))
        reply = await self._reply(msg_id, self.guard_timeout)
        if reply is None:
            return ["the kernel did not answer the grader's integrity check in time"]
        content = reply.get("content", {})
        if content.get("status") != "ok":
            return ["the grader's integrity check could not run "
                    f"({content.get('ename', '?')}: {content.get('evalue', '')})"]
        value = content.get("user_expressions", {}).get("guard", {})
        if value.get("status") != "ok":
            return ["the grader's integrity check failed in the kernel "
                    f"({value.get('ename', '?')}: {value.get('evalue', '')})"]
        try:
            answer = json.loads(ast.literal_eval(value["data"]["text/plain"]))
            changes = [str(c) for c in answer["changes"]]
            nonce_ok = answer["nonce"] == nonce
        except (KeyError, TypeError, ValueError, SyntaxError):
            return ["the grader's integrity check gave an unreadable answer"]
        from .guard import signature

        expected = signature(self._guard_key, nonce, changes) if self._guard_key else ""
        if not nonce_ok or not hmac.compare_digest(str(answer.get("mac", "")), expected):
            return ["the grader's integrity check answer was forged"]
        return changes

    async def _reply(self, msg_id: str, timeout: float):
        deadline = monotonic() + timeout
        while True:
            remaining = deadline - monotonic()
            if remaining <= 0:
                return None
            try:
                msg = await ensure_async(
                    self.kc.shell_channel.get_msg(timeout=min(remaining, 1.0)))
            except (Empty, asyncio.TimeoutError):
                if not await ensure_async(self.kc.is_alive()):
                    raise DeadKernelError("Kernel died") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
