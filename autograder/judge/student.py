"""The ``student`` handle: the judge's view of the student's kernel.

Hidden tests are the judge's code. They reach the student's work only through this
handle; every call runs in the sandboxed kernel and comes back as plain data rebuilt here
(:mod:`autograder.protocol`), or as an :class:`Remote` number for an object the judge
asked to keep there::

    student.affine_backward(dz, x, W)        # call a function of the notebook: plain data
    student.has("ResidualBlock")             # does the notebook define it?
    blk = student.ResidualBlock.keep(3, 2)   # a Remote: the object stays in the kernel
    blk.parameters.keep()                    # methods of kept objects, kept or plain
    build = student.kernel('''def build(Node, n): ...''')   # instructor fixture code
    build(student.Node, 10_000)              # fixtures take student things as arguments
    with student.autograd_off(): ...         # minigrad's backward raises in these calls
    with student.standin("softmax", [((Z,), P)]): ...   # an earlier answer, judged apart
    with student.counting("minigrad.Tensor.backward") as seen: ...   # seen.calls after
    with student.counting("numerical_jacobian", missing_ok=True) as seen: ...   # 0 if undefined
    with student.standins({"softmax": [((Z,), P)], "relu": ...}): ...   # those defined

A call that raises in the kernel raises :class:`StudentError` here, with the exception's
type name, message and the student's line; a call that does not finish in time raises
:class:`StudentTimeout`. Fixture code runs in the kernel, where the student's code can see
it: it builds inputs and never holds an expected value or a check.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable

from ..protocol import MAX_CHARS, CodecError, Name, Ref, decode, encode

__all__ = ["KernelLost", "Patch", "Remote", "Student", "StudentError", "StudentTimeout"]


class StudentError(Exception):
    """The student's code raised, or answered with something that is not plain data."""

    def __init__(self, what: str, type_name: str = "", message: str = "", where: str = ""):
        self.what = what
        self.type_name = type_name
        self.message = message
        self.where = where
        text = f"{what} raised {type_name}" + (f": {message}" if message else "")
        if not type_name:
            text = f"{what} {message}"
        if where:
            text += f" ({where})"
        super().__init__(text)


class StudentTimeout(StudentError):
    """A call into the kernel did not finish within its time limit."""


class KernelLost(Exception):
    """The kernel died (``died``), or did not stop after an interrupt: the cell cannot be
    judged, and the executor runs the notebook again without it."""

    def __init__(self, message: str, died: bool):
        super().__init__(message)
        self.died = died


def _describe(name: str, args: tuple, kwargs: dict) -> str:
    shown = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    text = ", ".join(shown)
    return f"{name}({text if len(text) <= 120 else text[:117] + '...'})"


def _short(value) -> str:
    import numpy as np

    if isinstance(value, np.ndarray):
        return f"<array {value.shape} {value.dtype}>" if value.size > 6 else repr(
            value.tolist())
    if isinstance(value, (Remote, _Target)):
        return value._label
    if type(value) in (list, tuple) and any(isinstance(v, np.ndarray) for v in value):
        inner = ", ".join(_short(v) for v in value[:3]) + (", ..." if len(value) > 3 else "")
        return f"({inner})" if type(value) is tuple else f"[{inner}]"
    text = " ".join(repr(value).split())
    return text if len(text) <= 40 else text[:37] + "..."


class _Target:
    """Something callable in the kernel: a name of the notebook, or a kept object's method."""

    def __init__(self, student: Student, target, attr: str | None, label: str):
        self._student = student
        self._target = target
        self._attr = attr
        self._label = label

    def __call__(self, *args, **kwargs):
        return self._student._call(self._target, self._attr, args, kwargs, False, self._label)

    def keep(self, *args, **kwargs) -> Remote:
        """Call, and keep the result in the kernel (a :class:`Remote`)."""
        return self._student._call(self._target, self._attr, args, kwargs, True, self._label)

    def inputs_after(self, *args, **kwargs) -> tuple:
        """Call; (the plain result, the positional arguments as the kernel holds them after
        the call), to see whether the student's code changed its inputs in place."""
        return self._student._call(self._target, self._attr, args, kwargs, False, self._label,
                                   args_back=True)

    def value(self):
        """The plain value of this name or attribute (no call)."""
        return self._student._get(self._target, self._attr, False, self._label)

    def __getattr__(self, attr: str) -> _Target:
        if attr.startswith("_"):
            raise AttributeError(attr)
        remote = self._student._get(self._target, self._attr, True, self._label)
        return getattr(remote, attr)


class Remote(_Target):
    """An object that stays in the kernel; the judge holds its number only."""

    def __init__(self, student: Student, number: int, label: str):
        super().__init__(student, Ref(number), None, label)

    def __getattr__(self, attr: str) -> _Target:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return _Target(self._student, self._target, attr, f"{self._label}.{attr}")

    def _not_plain(self, *args):
        raise StudentError(self._label, message="is an object in the kernel, not plain data")

    __float__ = __int__ = __index__ = __bool__ = __len__ = __iter__ = _not_plain
    __array__ = _not_plain

    def __repr__(self) -> str:
        return f"<kept in the kernel: {self._label}>"


Transport = Callable[[str, float], str]


class Patch:
    """What a stand-in saw: ``calls``, and of those ``hits`` (answered from the judge's
    values) and ``misses``; filled in when its block ends."""

    def __init__(self, path: str):
        self.path = path
        self.calls = self.hits = self.misses = 0

    def __repr__(self) -> str:
        return f"<{self.path}: {self.calls} call(s), {self.hits} answered by the judge>"


class Student:
    """The judge's handle on one student's kernel (see the module docstring)."""

    def __init__(self, transport: Transport, timeout: float = 60.0):
        self._transport = transport
        self._timeout = timeout
        self._autograd = True
        self.calls = 0

    # --- what hidden tests use ----------------------------------------------------------
    def __getattr__(self, name: str) -> _Target:
        if name.startswith("_"):
            raise AttributeError(name)
        return _Target(self, Name(name), None, name)

    def has(self, name: str) -> bool:
        """Whether the notebook defines ``name``."""
        return bool(self._request({"op": "has", "name": name}, f"has({name!r})"))

    def kernel(self, source: str) -> Remote:
        """Run instructor fixture code in the kernel; its last function, kept there."""
        out = self._request({"op": "define", "source": source}, "a fixture", keep=True)
        if not isinstance(out, Remote):
            raise StudentError("a fixture", message="was not kept by the kernel")
        names = re.findall(r"^def\s+(\w+)", source, re.M)
        out._label = "fixture " + (names[-1] if names else "")
        return out

    @contextlib.contextmanager
    def autograd_off(self):
        """Inside the block, minigrad's ``backward`` raises in every call to the kernel."""
        saved = self._autograd
        self._autograd = False
        try:
            yield
        finally:
            self._autograd = saved

    @contextlib.contextmanager
    def standin(self, path: str, answers=None, on_miss: str = "original"):
        """Inside the block, the kernel's ``path`` (a notebook function, or a dotted path such
        as ``minigrad.Tensor.backward``) is replaced by a stand-in that counts its calls and,
        for arguments found in ``answers`` (a list of ``(args, result)`` or
        ``(args, kwargs, result)``, values the judge computed), returns the stored result.
        Other calls go to the student's own function (``on_miss="original"``) or raise
        (``"raise"``). Yields a :class:`Patch` whose counts are filled in when the block ends.

        This is how one exercise is judged on its own when it calls an earlier one: the
        earlier function answers the test's inputs correctly without any solution code
        entering the kernel."""
        if on_miss not in ("original", "raise"):
            raise ValueError(f"on_miss must be 'original' or 'raise', got {on_miss!r}")
        rows = []
        for answer in answers or []:
            args, kwargs, result = answer if len(answer) == 3 else (answer[0], {}, answer[1])
            rows.append((list(args), dict(kwargs), result))
        try:
            request = {"op": "patch", "path": path, "answers": encode(rows),
                       "on_miss": on_miss}
        except CodecError as exc:
            raise TypeError(f"stand-in answers must be plain data ({exc})") from exc
        number = self._request(request, f"the stand-in for {path}")
        patch = Patch(path)
        try:
            yield patch
        finally:
            counts = self._request({"op": "unpatch", "number": number},
                                   f"restoring {path}")
            if isinstance(counts, dict):
                patch.calls = int(counts.get("calls", 0))
                patch.hits = int(counts.get("hits", 0))
                patch.misses = int(counts.get("misses", 0))

    @contextlib.contextmanager
    def standins(self, answers: dict):
        """:meth:`standin` for each ``name: answers`` of ``answers`` whose function the
        notebook defines (the others are left out), all inside one block; yields
        ``{name: Patch}`` of those put in place."""
        with contextlib.ExitStack() as stack:
            yield {name: stack.enter_context(self.standin(name, rows))
                   for name, rows in answers.items() if self.has(name)}

    def counting(self, path: str, missing_ok: bool = False):
        """Count the calls of ``path`` in the kernel inside the block (``.calls``), to grade
        how an answer works: a loop, one ``backward()``, no finite differences. With
        ``missing_ok``, a notebook name the notebook does not define counts zero calls."""
        if missing_ok and not self.has(path):
            return contextlib.nullcontext(Patch(path))
        return self.standin(path)

    # --- the protocol --------------------------------------------------------------------
    def _prepare(self, value):
        """Arguments as codec values: kept objects and notebook names by reference."""
        if isinstance(value, _Target):  # a Remote, a notebook name, or an attribute
            if value._attr is None:
                return value._target
            return self._get(value._target, value._attr, True, value._label)._target
        if type(value) in (list, tuple):
            return type(value)(self._prepare(v) for v in value)
        if type(value) is dict:
            return {k: self._prepare(v) for k, v in value.items()}
        return value

    def _call(self, target, attr, args, kwargs, keep: bool, label: str,
              args_back: bool = False):
        what = _describe(label, args, kwargs)
        args, kwargs = self._prepare(list(args)), self._prepare(dict(kwargs))
        try:
            request = {"op": "call", "target": encode(target), "attr": attr,
                       "args": encode(args), "kwargs": encode(kwargs),
                       "keep": keep, "autograd": self._autograd, "args_back": args_back}
        except CodecError as exc:
            raise TypeError(f"the judge can only send plain data to the kernel ({exc})") \
                from exc
        return self._request(request, what, keep)

    def _get(self, target, attr, keep: bool, label: str):
        request = {"op": "get", "target": encode(target), "attr": attr, "keep": keep}
        return self._request(request, label, keep)

    def _request(self, request: dict, what: str, keep: bool = False):
        self.calls += 1
        text = self._transport(json.dumps(request, separators=(",", ":")), self._timeout)
        if text is None:
            raise StudentTimeout(what, message=f"did not finish within {self._timeout:g} s")
        try:
            answer = json.loads(text) if isinstance(text, str) and len(text) <= MAX_CHARS \
                else None
        except (ValueError, RecursionError):
            answer = None
        if not isinstance(answer, dict) or len(answer) != 1:
            raise StudentError(what, message="got no readable answer from the kernel")
        (kind, body), = answer.items()
        if kind == "raised" and isinstance(body, dict):
            raise StudentError(what, str(body.get("type", "an exception"))[:80],
                               str(body.get("message", ""))[:600], str(body.get("where", ""))[:300])
        if kind == "refused":
            raise StudentError(what, message=str(body)[:600])
        if kind != "ok":
            raise StudentError(what, message="got no readable answer from the kernel")
        try:
            return decode(body, from_ref=(lambda n: Remote(self, n, what)) if keep else None)
        except CodecError as exc:
            raise StudentError(what, message=f"answered with data the judge refuses ({exc})") \
                from exc
