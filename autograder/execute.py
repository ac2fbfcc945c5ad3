"""The execute step of autograding: the kernel computes, the judge decides.

:class:`JudgedExecute` replaces nbgrader's Execute in the autograde preprocessors of a
grading worker (see :mod:`autograder.worker`). It

- starts each kernel through the sandbox launcher (:mod:`autograder.sandbox`) over jupyter's
  ``ipc`` transport, in a working folder of its own that holds copies of the submission's
  regular files (never the autograded folder nbgrader writes the graded notebook to);
- runs every cell of the notebook in that kernel, as nbgrader does;
- after each graded test cell, runs the cell's hidden tests in this process
  (:mod:`autograder.judge`): they reach the kernel only through the ``student`` handle,
  whose calls come back as plain data. The cell's outputs are then rewritten: the
  kernel's text output stays (errors as one line, other output as text), rich output is
  dropped, and the judge's verdict is appended. The cell scores its points only when the
  visible tests raised nothing in the kernel *and* the judge passed it; nbgrader's partial
  credit from an ``execute_result`` can never apply, because none is left;
- scores 0 the test cells the pre-grade scan names in ``zero_cells``;
- caps output per cell and per notebook, for every output kind, errors included;
- when a cell or a judge call kills the kernel (``os._exit``, a crash, the memory,
  CPU-time or process limit) or does not stop after its timeout and an interrupt, starts a
  fresh kernel and runs the notebook again with that cell left out (its output says it was
  not run), at most ``max_kernel_restarts`` times; after that, the cells from there on are
  marked not run. Every graded cell ends with an output, so nbgrader always records a score;
- reports what happened (a cell left out, the seed of each judged cell) as
  :class:`~autograder.records.JudgeEvent` records: in its own ``events`` list, and as JSON
  lines appended to ``events_file`` for the grading worker, which cannot reach the instance
  nbgrader makes.

The protocol with the kernel is :mod:`autograder.kernel.agent`: each judge call is one
execute request whose ``user_expressions`` evaluate ``handle(REQUEST)``; it stores no
history and shows no output, and its answer is decoded by :mod:`autograder.protocol`.
"""

from __future__ import annotations

import ast
import asyncio
import copy
import json
import os
import re
import sys
import tempfile
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

from .judge import KernelLost, Student, judge_block, seed_for
from .judge.seeds import course_secret
from .judge.tests import load_tests
from .protocol import MAX_CHARS
from .records import EventKind, JudgeEvent

__all__ = ["FAILED", "NOT_RUN_ERROR", "ZEROED", "JudgedExecute", "agent_expression",
           "one_line_error", "scrub_paths"]

FAILED = "Failed"
ZEROED = "NotGraded"
NOT_RUN_ERROR = "CellNotRun"
_AGENT = "__import__('autograder.kernel.agent', fromlist=['handle']).handle"
_ERROR_CHARS = 2000


def agent_expression(request: str) -> str:
    """The user expression that asks the kernel's agent to carry out ``request``."""
    return f"{_AGENT}({request!r})"


class _OneSpec(KernelSpecManager):
    """A kernel spec manager that knows one spec: the grading launcher."""

    def __init__(self, spec: KernelSpec, **kwargs):
        super().__init__(**kwargs)
        self._spec = spec

    def get_kernel_spec(self, kernel_name):
        return self._spec


def _error(ename: str, message: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=message,
                        traceback=[f"{ename}: {message}"])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + " [...]"


_PATH = re.compile(r"(?<![\w.~/:])(?:/[\w.@+-]+)+/([\w.@+-]+)")  # not in a URL


def scrub_paths(text: str) -> str:
    """Absolute file paths cut to their file names: the grading machine's folders never
    reach an autograded notebook or its feedback."""
    return _PATH.sub(r"\1", text)


def one_line_error(ename: str, evalue: str, timeout: float = 0.0) -> tuple[str, str]:
    """(ename, message) for an error in a cell, as one line that says what to do."""
    ename = str(ename)[:100]
    evalue = " ".join(scrub_paths(str(evalue)).split())
    if ename == "RecursionError":
        evalue = ("Python's recursion limit was reached (a function called itself too "
                  "deeply): write it as a loop with an explicit stack or list")
    elif ename == "NotImplementedError" and not evalue:
        evalue = "not answered yet: replace `raise NotImplementedError()` with your code"
    elif ename == "KeyboardInterrupt":
        ename = "TimeoutError"
        evalue = (f"this cell did not finish within {timeout:g} s and was stopped: look for "
                  "an endless loop, or a much slower method than the exercise asks for")
    return ename, _clip(evalue, _ERROR_CHARS)


class JudgedExecute(Execute):
    """nbgrader's Execute with the sandboxed kernel and the judge (see the module)."""

    kernel_plan = Unicode("", help="JSON plan for the kernel launcher ('' starts the "
                                   "configured kernel as nbgrader does)").tag(config=True)
    runtime_dir = Unicode("", help="folder for connection files and sockets").tag(config=True)
    judge_dir = Unicode("", help="course/judge: the hidden tests").tag(config=True)
    zero_cells = Dict(help="grade_id -> reason: test cells that score 0").tag(config=True)
    seeds = Dict(help="grade_id -> seed recorded at an earlier grade (a regrade reuses it)"
                 ).tag(config=True)
    events_file = Unicode("", help="file to which each JudgeEvent is appended as a JSON line "
                                   "('' : only the instance's events list)").tag(config=True)
    call_timeout = Float(0.0, help="seconds one judge call may take (0: the cell timeout)"
                         ).tag(config=True)
    max_output_chars = Integer(
        100_000, help="characters of output kept per cell").tag(config=True)
    max_notebook_chars = Integer(
        2_000_000, help="characters of output kept per notebook").tag(config=True)
    max_kernel_restarts = Integer(
        3, help="fresh kernels after a cell killed or hung the kernel").tag(config=True)
    max_runtime_mb = Integer(
        16, help="megabytes the kernel may write to its socket folder").tag(config=True)
    shutdown_kernel = Enum(["graceful", "immediate"], default_value="immediate").tag(config=True)

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.events: list[JudgeEvent] = []

    def _event(self, kind: EventKind, cell: NotebookNode, detail: str = "",
               seed: int | None = None) -> None:
        event = JudgeEvent(
            kind, notebook=(self.resources or {}).get("nbgrader", {}).get("notebook", ""),
            cell=cell.metadata.get("nbgrader", {}).get("grade_id", "") or "",
            detail=detail, seed=seed)
        self.events.append(event)
        if self.events_file:
            with open(self.events_file, "a", encoding="utf-8") as fh:
                fh.write(event.to_json() + "\n")

    # kernels -------------------------------------------------------------------------------
    def create_kernel_manager(self):
        if not self.kernel_plan:
            return super().create_kernel_manager()
        self._kernels = getattr(self, "_kernels", 0) + 1
        # -I: the launcher runs on the host; nothing from the working folder may be imported
        spec = KernelSpec(
            argv=[sys.executable, "-I", "-m", "autograder.sandbox", self.kernel_plan,
                  "{connection_file}"],
            display_name="Python 3 (grading)", language="python", interrupt_mode="message",
            env={}, metadata={},
        )
        km = self.kernel_manager_class(kernel_name="python3", config=self.config,
                                       kernel_spec_manager=_OneSpec(spec))
        km.transport = "ipc"
        # a fresh folder with an unpredictable name for each kernel: a kernel that planted
        # links in the socket folder before it died cannot make the grader write through them
        folder = tempfile.mkdtemp(prefix=f"k{self._kernels}-", dir=self.runtime_dir)
        km.connection_file = os.path.join(folder, "kernel.json")
        km.ip = os.path.join(folder, "k")
        self.km = km
        return km

    async def async_start_new_kernel(self, **kwargs):
        if self.kernel_plan:
            # the launcher chooses the kernel's folder; never the autograded one
            kwargs["cwd"] = self.runtime_dir
        await super().async_start_new_kernel(**kwargs)

    start_new_kernel = run_sync(async_start_new_kernel)

    # the notebook, run again without a cell that kills or hangs the kernel ---------------------
    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        info = (resources or {}).get("nbgrader", {})
        self._tests = {}
        if self.judge_dir and info.get("assignment") and info.get("notebook"):
            self._tests = load_tests(Path(self.judge_dir), info["assignment"], info["notebook"])
        self._who = (str(info.get("student", "")), str(info.get("assignment", "")))
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
            self._notebook_used = 0
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
                          "memory, CPU-time, process or disk limit)")
            else:
                reason = ("this cell did not finish within the time limit and did not stop "
                          "when interrupted")
            self._event(EventKind.KERNEL_LOST, self.nb.cells[culprit], reason)
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
        cell = await super().async_execute_cell(cell, cell_index, execution_count,
                                                store_history)
        self._check_runtime_dir()
        if cell.cell_type == "code" and nbgrader_utils.is_grade(cell) \
                and not nbgrader_utils.is_solution(cell):
            await self._judge(cell)
        elif cell.cell_type == "code":
            self._tidy_outputs(cell)
        return cell

    execute_cell = run_sync(async_execute_cell)

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        size = len(content.get("text", "")) + sum(
            len(v) if isinstance(v, str) else len(json.dumps(v))
            for v in (content.get("data") or {}).values())
        if msg.get("msg_type") == "error":
            size = len(str(content.get("evalue", ""))) + sum(
                len(str(t)) for t in content.get("traceback", []) or [])
        used = self._output_used.get(cell_index, 0) + size
        self._output_used[cell_index] = used
        self._notebook_used += size
        over_cell = used > self.max_output_chars
        over_book = self._notebook_used > self.max_notebook_chars
        if msg.get("msg_type") == "error" and (over_cell or over_book):
            # keep the fact of the error (it decides points) but not its size
            name = str(content.get("ename", "Error"))[:100]
            outs.append(_error(name, _clip(str(content.get("evalue", "")), _ERROR_CHARS)))
            return None
        if over_cell or over_book:
            if not any(o.get("name") == "stdout" and "the grader kept only" in o.get("text", "")
                       for o in outs):
                limit = self.max_output_chars if over_cell else self.max_notebook_chars
                what = "this cell" if over_cell else "this notebook"
                outs.append(new_output(
                    "stream", name="stdout",
                    text=f"\n[the grader kept only the first {limit:,} characters of output "
                         f"of {what}]\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _check_runtime_dir(self) -> None:
        """Kill the kernel when it has written more than allowed to its socket folder."""
        if not self.kernel_plan or not self.runtime_dir:
            return
        total, count = 0, 0
        for folder, dirs, files in os.walk(self.runtime_dir):
            for name in files + dirs:
                count += 1
                try:
                    total += os.lstat(os.path.join(folder, name)).st_size
                except OSError:
                    pass
        if total > self.max_runtime_mb * 1024 * 1024 or count > 1000:
            run_sync(self.km.shutdown_kernel)(now=True)
            raise DeadKernelError("the kernel wrote more than the grader allows")

    # the judge -------------------------------------------------------------------------------
    def _tidy_outputs(self, cell) -> None:
        """Any code cell: errors as one line, no file paths of this machine in the text."""
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "error":
                name, message = one_line_error(output.get("ename", "Error"),
                                               output.get("evalue", ""), float(self.timeout or 0))
                output.ename, output.evalue = name, message
                output.traceback = [f"{name}: {message}"]
            elif kind == "stream":
                output.text = scrub_paths(output.get("text", ""))

    def _settle_outputs(self, cell) -> bool:
        """Graded cell ran: outputs as plain text; True when the visible tests raised."""
        kept, failed = [], False
        for output in cell.outputs:
            kind = output.get("output_type")
            if kind == "stream":
                kept.append(new_output("stream", name="stdout",
                                       text=scrub_paths(output.get("text", ""))))
            elif kind == "error":
                failed = True
                kept.append(_error(*one_line_error(output.get("ename", "Error"),
                                                   output.get("evalue", ""),
                                                   float(self.timeout or 0))))
            elif kind in ("execute_result", "display_data"):
                text = (output.get("data") or {}).get("text/plain")
                if isinstance(text, str) and text.strip():
                    kept.append(new_output("stream", name="stdout",
                                           text=scrub_paths(text) + "\n"))
        cell.outputs = kept
        return failed

    async def _judge(self, cell) -> None:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id", "")
        visible_failed = self._settle_outputs(cell)
        known = self._tests.get(grade_id)
        if known is not None and known.label:
            cell.metadata["minigrad"] = {"label": known.label}
        if grade_id in self.zero_cells:
            cell.outputs.append(_error(ZEROED, "this test scores 0: " + self.zero_cells[grade_id]))
            return
        test = self._tests.get(grade_id)
        if test is None:
            cell.outputs.append(_error(FAILED, "the grader has no hidden tests for this cell "
                                               "(rebuild the course: autograder build)"))
            return
        loop = asyncio.get_running_loop()
        timeout = self.call_timeout or float(self.timeout or 120)

        def transport(text: str, limit: float):
            future = asyncio.run_coroutine_threadsafe(self._ask(text, limit), loop)
            return future.result()

        student = Student(transport, timeout=timeout)
        seed = self.seeds.get(grade_id)
        if seed is None:
            secret = course_secret(Path(self.judge_dir)) if self.judge_dir else ""
            seed = seed_for(self._who[0], self._who[1], grade_id, secret)
        self._event(EventKind.SEED, cell, seed=int(seed))
        try:
            verdict = await asyncio.to_thread(judge_block, test.code, student, seed=seed,
                                              filename=test.filename, preamble=test.preamble)
        except KernelLost as exc:  # the notebook runs again, this cell left out
            raise (DeadKernelError if exc.died else CellTimeoutError)(str(exc)) from None
        if verdict.passed and not visible_failed:
            cell.outputs.append(new_output("stream", name="stdout",
                                           text="Hidden tests passed.\n"))
        elif verdict.passed:
            cell.outputs.append(new_output(
                "stream", name="stdout",
                text="Hidden tests passed, but the visible tests above failed.\n"))
        else:
            cell.outputs.append(_error(FAILED, scrub_paths(verdict.message)))

    async def _ask(self, request: str, timeout: float) -> str | None:
        """One judge call: the agent's answer as text, None when it timed out."""
        msg_id = await ensure_async(self.kc.execute(
            "", silent=True, store_history=False,
            user_expressions={"r": agent_expression(request)}, stop_on_error=False))
        reply = await self._reply(msg_id, timeout)
        if reply is None:
            await ensure_async(self.km.interrupt_kernel())
            reply = await self._reply(msg_id, 10.0)
            if reply is None:
                raise KernelLost("a judge call did not stop when interrupted", died=False)
            return None
        value = reply.get("content", {}).get("user_expressions", {}).get("r", {})
        if value.get("status") != "ok":
            return json.dumps({"refused": "the kernel could not run the judge's request ("
                               f"{value.get('ename', '?')}: {str(value.get('evalue', ''))[:200]})"})
        text = value.get("data", {}).get("text/plain", "")
        try:
            answer = ast.literal_eval(text) if isinstance(text, str) \
                and len(text) <= 2 * MAX_CHARS else None
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            answer = None
        if not isinstance(answer, str):
            return json.dumps({"refused": "the kernel's answer was not text"})
        return answer

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
                    raise KernelLost("the kernel died during a judge call", died=True) from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                return msg
