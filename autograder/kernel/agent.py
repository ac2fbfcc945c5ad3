"""The kernel's side of the judge's protocol: run a request, answer with plain data.

The judge (:mod:`autograder.judge`) evaluates ``handle(REQUEST)`` in the student's kernel
through the ``user_expressions`` of an execute request, which stores no history and shows
no output. ``REQUEST`` is JSON text (values as :mod:`autograder.protocol` writes them):

- ``{"op": "call", "target": T, "attr": A, "args": [...], "kwargs": {...}, "keep": K,
  "autograd": G}``: call ``T`` (a name in the student's namespace or a kept object),
  or its attribute ``A`` when given; ``K`` keeps a non-plain result in the kernel and
  answers with its number; ``G`` false makes minigrad's ``backward`` raise during the call;
- ``{"op": "get", "target": T, "attr": A, "keep": K}``: the value of a name or attribute;
- ``{"op": "has", "name": N}``: whether the student's namespace defines ``N``;
- ``{"op": "define", "source": S}``: run instructor fixture code (functions that build
  inputs, never checks) in a namespace of its own and keep the last function it defines;
- ``{"op": "patch", "path": P, "answers": [[args, kwargs, result], ...], "on_miss": M}``:
  put a stand-in over the function ``P`` (a notebook name, or a dotted path such as
  ``minigrad.Tensor.backward``) that counts its calls and returns the stored result for
  arguments it has an answer for (else calls the original, or raises when ``M`` is
  "raise"); answers with the patch's number. ``{"op": "unpatch", "number": N}`` puts the
  original back and answers with ``{"calls", "hits", "misses"}``.

The answer is JSON text: ``{"ok": value}``, ``{"raised": {"type", "message", "where"}}``
when the student's code raised, or ``{"refused": why}`` when the result is not plain data
or the request makes no sense. Nothing here is trusted: the judge treats every answer as
data from the student.
"""

from __future__ import annotations

import ast
import contextlib
import inspect
import json
import linecache
import math
import sys
import traceback

from autograder.protocol import CodecError, decode, encode, plain_kind

__all__ = ["handle", "use_namespace"]

_KEPT: dict[int, object] = {}
_NUMBERS: dict[int, int] = {}
_MESSAGE = 600


_own_namespace: dict | None = None


def use_namespace(namespace: dict | None) -> None:
    """Answer requests against ``namespace`` instead of the kernel's user namespace (for
    running notebooks without a kernel, as the local judge does); None goes back."""
    global _own_namespace
    _own_namespace = namespace


def _namespace() -> dict:
    if _own_namespace is not None:
        return _own_namespace
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - kernels always have IPython
        return {}
    shell = get_ipython()
    return shell.user_ns if shell is not None else {}


def _keep(obj) -> int:
    key = id(obj)
    if key in _NUMBERS and _KEPT.get(_NUMBERS[key]) is obj:
        return _NUMBERS[key]
    number = len(_KEPT) + 1
    _KEPT[number] = obj
    _NUMBERS[key] = number
    return number


def _kept(number: int):
    if number not in _KEPT:
        raise LookupError(f"no kept object number {number}")
    return _KEPT[number]


def _name(name: str):
    ns = _namespace()
    if name not in ns:
        raise NameError(f"name {name!r} is not defined in the notebook")
    return ns[name]


def _where(tb) -> str:
    """The last line of the student's own code in a traceback, as 'in f: source'."""
    found = ""
    for frame in traceback.extract_tb(tb):
        name = frame.filename
        if "ipykernel_" in name or name.startswith(("<ipython-input", "<cell")) \
                or name == "<student>":
            line = (frame.line or linecache.getline(name, frame.lineno or 0)).strip()
            found = f"in {frame.name}: {line}" if line else f"in {frame.name}"
    return found[:300]


def _autograd_off():
    """minigrad.expect.autograd_off when minigrad is loaded (nothing to switch off else)."""
    expect = sys.modules.get("minigrad.expect")
    return expect.autograd_off() if expect is not None else contextlib.nullcontext()


_PATCHES: dict[int, dict] = {}


def _owner(path: str):
    """(the dict or object holding the last part of ``path``, that part's name)."""
    ns = _namespace()
    parts = path.split(".")
    if len(parts) == 1:
        if parts[0] not in ns:
            raise NameError(f"name {parts[0]!r} is not defined in the notebook")
        return ns, parts[0]
    root = ns[parts[0]] if parts[0] in ns else sys.modules.get(parts[0])
    if root is None:
        raise NameError(f"{parts[0]!r} is neither a name of the notebook nor a loaded module")
    for part in parts[1:-1]:
        root = getattr(root, part)
    return root, parts[-1]


def _key(signature, args, kwargs):
    """The canonical text of a call's arguments (None when they are not plain data)."""
    try:
        bound = signature.bind(*args, **kwargs) if signature is not None else None
        if bound is not None:
            bound.apply_defaults()
            args, kwargs = list(bound.args), dict(bound.kwargs)
        return json.dumps(encode([list(args), kwargs]), sort_keys=True,
                          separators=(",", ":"))
    except (CodecError, TypeError, ValueError, RecursionError):
        return None


def _patch(request: dict):
    """Put a stand-in over a function (a notebook name or a dotted path from a module): it
    counts calls and, when given answers, returns the answer stored for the arguments."""
    owner, attr = _owner(str(request.get("path", "")))
    original = owner[attr] if isinstance(owner, dict) else getattr(owner, attr)
    if not callable(original):
        raise TypeError(f"{request.get('path')} is not a function")
    try:
        signature = inspect.signature(original)
    except (TypeError, ValueError):
        signature = None
    answers = {}
    for args, kwargs, result in decode(request.get("answers") or []):
        key = _key(signature, args, kwargs)
        if key is not None:
            answers[key] = encode(result)
    on_miss = request.get("on_miss", "original")
    record = {"owner": owner, "attr": attr, "original": original,
              "calls": 0, "hits": 0, "misses": 0}

    def stand_in(*args, **kwargs):
        record["calls"] += 1
        if answers:
            key = _key(signature, args, kwargs)
            if key in answers:
                record["hits"] += 1
                return decode(answers[key])
            record["misses"] += 1
            if on_miss == "raise":
                raise LookupError(f"{attr} was called with arguments the test did not expect")
        return original(*args, **kwargs)

    stand_in.__name__ = getattr(original, "__name__", attr)
    stand_in.__doc__ = getattr(original, "__doc__", None)
    if isinstance(owner, dict):
        owner[attr] = stand_in
    else:
        setattr(owner, attr, stand_in)
    number = max(_PATCHES, default=0) + 1
    _PATCHES[number] = record
    return number


def _unpatch(number: int) -> dict:
    record = _PATCHES.pop(int(number))
    owner, attr = record["owner"], record["attr"]
    if isinstance(owner, dict):
        owner[attr] = record["original"]
    else:
        setattr(owner, attr, record["original"])
    return {k: record[k] for k in ("calls", "hits", "misses")}


def _define(source: str):
    tree = ast.parse(source, mode="exec")
    env = {"__builtins__": __builtins__, "__name__": "fixture", "math": math}
    import numpy

    env["np"] = numpy
    try:
        import minigrad

        env["mg"] = minigrad
    except ImportError:  # pragma: no cover - minigrad ships with the kit
        pass
    exec(compile(tree, "<fixture>", "exec"), env)
    names = [node.name for node in tree.body if isinstance(node, (ast.FunctionDef,
                                                                  ast.ClassDef))]
    if not names:
        raise ValueError("fixture source defines no function")
    return env[names[-1]]


def _run(request: dict):
    op = request.get("op")
    keep = bool(request.get("keep"))

    def load(value):
        return decode(value, from_ref=_kept, from_name=_name)

    if op == "has":
        return {"ok": str(request.get("name")) in _namespace()}
    if op == "define":
        return {"ok": {"r": _keep(_define(str(request.get("source", ""))))}}
    if op == "patch":
        return {"ok": _patch(request)}
    if op == "unpatch":
        return {"ok": encode(_unpatch(request.get("number", 0)))}
    if op not in ("call", "get"):
        return {"refused": f"unknown request {op!r}"}
    attr = request.get("attr")
    try:
        target = load(request.get("target"))
        if op == "call":
            args = load(request.get("args", []))
            kwargs = load(request.get("kwargs", {"d": []}))
            if attr:
                target = getattr(target, attr)
            if request.get("autograd", True):
                result = target(*args, **kwargs)
            else:
                with _autograd_off():
                    result = target(*args, **kwargs)
            if request.get("args_back"):
                result = (result, args)
        else:
            result = getattr(target, attr) if attr else target
    except BaseException as exc:  # the student's code: report, never propagate
        message = str(exc)
        if isinstance(exc, RecursionError):
            message = "maximum recursion depth exceeded"
        return {"raised": {"type": type(exc).__name__, "message": message[:_MESSAGE],
                           "where": _where(exc.__traceback__)}}
    try:
        return {"ok": encode(result, _keep if keep else None)}
    except CodecError:
        return {"refused": f"returned {_not_plain(result)}, which is not plain data "
                           "(numbers, strings, lists, tuples, dicts or numpy arrays)"}


def _not_plain(value, depth: int = 0) -> str:
    """What in a result is not plain data: 'a Tensor object', or for a container the first
    item that is not ('a tuple whose item 0 is a Dual object')."""
    if type(value) in (list, tuple) and depth < 8:
        for index, item in enumerate(value):
            try:
                encode(item)
            except CodecError:
                return (f"a {type(value).__name__} whose item {index} is "
                        f"{_not_plain(item, depth + 1)}")
    if type(value) is dict and depth < 8:
        for key, item in value.items():
            try:
                encode(item)
            except CodecError:
                return f"a dict whose entry {key!r} is {_not_plain(item, depth + 1)}"
    return plain_kind(value)


def handle(text: str) -> str:
    """Carry out one request (JSON text); the answer as JSON text."""
    try:
        request = json.loads(text)
        answer = _run(request) if isinstance(request, dict) else {"refused": "bad request"}
    except BaseException as exc:  # noqa: BLE001 - the answer must always be JSON
        answer = {"refused": f"{type(exc).__name__}: {str(exc)[:_MESSAGE]}"}
    return json.dumps(answer, separators=(",", ":"))
