"""The grading kernel's guard: what student code changed in the kernel, put back before each test.

The grader starts every grading kernel as ``python -m autograder.guard -f CONNECTION_FILE``
(inside the bubblewrap sandbox when there is one, see :mod:`autograder.sandbox`). Before the
kernel runs a single cell, :func:`main` records a snapshot of what a submission could replace
to make a wrong answer pass:

- the functions, classes and submodules of numpy, math, builtins, minigrad, the hidden-test
  helpers and a few standard modules the tests use, and the methods of minigrad's classes;
- IPython's machinery: input and AST transformers, ``showtraceback`` and the custom
  exception handler, the methods of the shell, the kernel and its session, the event
  callbacks;
- the interpreter: the modules in ``sys.modules``, import hooks, trace and profile
  functions, ``sys.stdout``/``sys.stderr``, the SIGINT handler, running threads.

Around every graded cell the grader evaluates :func:`check` through the ``user_expressions``
of an execute request. IPython evaluates those with ``eval``, after no input transformer,
so a transformer that rewrites cells cannot rewrite the check. :func:`check` compares the
kernel with the snapshot, puts back everything that differs, and answers with the list of
changes, signed with a key the grader wrote for this kernel (read and deleted here before
any student code ran). The grader treats a change, a missing answer or a bad signature as
tampering: the graded cell scores 0 and the student is flagged.

Limits: student code runs in the same process as this guard, so a determined attacker
could in principle reach it; the static scan (:mod:`autograder.scan`) refuses the usual
ways in (``gc``, frames, ``__closure__``, ``ctypes``...) before anything runs, and the
sandbox bounds what a successful attack could read or write.

Nothing here imports more than the standard library at import time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import types

__all__ = ["KEY_ENV", "check", "main", "take_snapshot"]

KEY_ENV = "AUTOGRADER_GUARD_KEY"

# Modules (and their submodules) whose callables a test relies on.
_MODULE_PREFIXES = (
    "numpy",
    "math",
    "cmath",
    "builtins",
    "operator",
    "functools",
    "itertools",
    "random",
    "contextlib",
    "minigrad",
    "autograder.hidden",
)
# Imported before the snapshot so that their pristine objects are the ones recorded.
_PRELOAD = ("numpy", "minigrad", "minigrad.gradcheck", "autograder.hidden")
# Builtins that IPython adds and removes around every cell.
_IPYTHON_BUILTINS = {"exit", "quit", "get_ipython", "display", "_", "__", "___", "__IPYTHON__"}
# Attributes of the IPython shell that decide what a cell runs and how its errors are shown.
_SHELL_LISTS = ("input_transformers_post", "input_transformers_cleanup", "ast_transformers")
_SHELL_OBJECTS = (
    "input_transformer_manager",
    "compile",
    "display_pub",
    "displayhook",
    "display_formatter",
    "InteractiveTB",
    "SyntaxTB",
    "events",
    "custom_exceptions",
    "payload_manager",
)

_STATE: dict = {}


def _watched(value) -> bool:
    """Objects whose replacement changes behaviour: functions, classes, modules, descriptors."""
    return callable(value) or isinstance(
        value, (types.ModuleType, type, staticmethod, classmethod, property)
    )


def _origin(value) -> str:
    """The module an object (or its class) was defined in, '' when unknown."""
    for candidate in (value, getattr(value, "__func__", None), type(value)):
        name = getattr(candidate, "__module__", None)
        if isinstance(name, str) and name != "builtins":
            return name
    return ""


def _student_made(value) -> bool:
    """Defined by code the submission ran: its cells live in the ``__main__`` module."""
    origin = _origin(value)
    return origin == "__main__" or origin.startswith("__main__.") or origin == "__mp_main__"


def _protected_module(name: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in _MODULE_PREFIXES)


def _class_dicts(classes) -> list[tuple[type, str, dict]]:
    out = []
    seen = set()
    for cls in classes:
        for klass in getattr(cls, "__mro__", (cls,)):
            if klass is object or id(klass) in seen:
                continue
            seen.add(id(klass))
            label = f"{klass.__module__}.{klass.__qualname__}"
            out.append((klass, label, {k: v for k, v in vars(klass).items() if _watched(v)}))
    return out


def take_snapshot(shell=None, kernel=None) -> dict:
    """Record the objects :func:`check` compares and restores (call before student code)."""
    import importlib

    for name in _PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    modules = {n: m for n, m in list(sys.modules.items())
               if _protected_module(n) and isinstance(m, types.ModuleType)}
    module_attrs = {
        n: {k: v for k, v in vars(m).items() if _watched(v)} for n, m in modules.items()
    }
    own_classes = []
    for name, module in modules.items():
        if name.startswith(("minigrad", "autograder")):
            for value in vars(module).values():
                if isinstance(value, type) and value.__module__ == name:
                    own_classes.append(value)
    objects = []  # (object, label): instances whose own attributes are watched
    if shell is not None:
        objects.append((shell, "the IPython shell"))
        for name in _SHELL_OBJECTS:
            value = getattr(shell, name, None)
            if value is not None and hasattr(value, "__dict__"):
                objects.append((value, f"the shell's {name}"))
    if kernel is not None:
        objects.append((kernel, "the kernel"))
        session = getattr(kernel, "session", None)
        if session is not None:
            objects.append((session, "the kernel's session"))
    classes = own_classes + [type(obj) for obj, _ in objects]
    snapshot = {
        "modules": modules,
        "module_attrs": module_attrs,
        "classes": _class_dicts(classes),
        "objects": [(obj, label, {k: v for k, v in vars(obj).items() if _watched(v)})
                    for obj, label in objects],
        "shell": shell,
        "lists": {},
        "events": {},
        "sys": {
            "stdout": sys.stdout,
            "stderr": sys.stderr,
            "excepthook": sys.excepthook,
            "meta_path": list(sys.meta_path),
            "path_hooks": list(sys.path_hooks),
            "trace": sys.gettrace(),
            "profile": sys.getprofile(),
            # the guard runs while the kernel handles a request, when ipykernel has
            # Python's default SIGINT handler installed (interrupts raise KeyboardInterrupt)
            "sigint": signal.default_int_handler,
        },
        "threads": {t.ident for t in threading.enumerate()},
    }
    if shell is not None:
        for name in _SHELL_LISTS:
            snapshot["lists"][name] = list(getattr(shell, name, []) or [])
        manager = getattr(shell, "input_transformer_manager", None)
        for name in ("cleanup_transforms", "line_transforms", "token_transformers"):
            if manager is not None and isinstance(getattr(manager, name, None), list):
                snapshot["lists"][f"input_transformer_manager.{name}"] = list(
                    getattr(manager, name))
        events = getattr(shell, "events", None)
        for event, callbacks in (getattr(events, "callbacks", None) or {}).items():
            snapshot["events"][event] = list(callbacks)
    return snapshot


def _restore_mapping(current: dict, saved: dict, label: str, setter, deleter,
                     allow_new=None) -> list[str]:
    changes = []
    for key, value in saved.items():
        if current.get(key, _MISSING) is not value:
            what = "was deleted" if key not in current else "was replaced"
            changes.append(f"{label}.{key} {what}")
            setter(key, value)
    for key, value in list(current.items()):
        if key in saved or not _watched(value):
            continue
        if allow_new is not None and allow_new(key, value):
            continue
        changes.append(f"{label}.{key} was added")
        deleter(key)
    return changes


_MISSING = object()


def _compare(snapshot: dict) -> list[str]:
    """Every difference from the snapshot, each put back; returns what was found."""
    changes: list[str] = []
    # sys.modules entries of protected modules
    for name, module in snapshot["modules"].items():
        if sys.modules.get(name) is not module:
            changes.append(f"sys.modules[{name!r}] was replaced")
            sys.modules[name] = module
    # module attributes
    for name, saved in snapshot["module_attrs"].items():
        module = snapshot["modules"][name]
        namespace = vars(module)

        def allow_new(key, value, name=name):
            if name == "builtins" and key in _IPYTHON_BUILTINS:
                return True
            if isinstance(value, types.ModuleType) and value.__name__ == f"{name}.{key}":
                return True  # a submodule imported later
            return not (_student_made(value) or name.startswith(("minigrad", "autograder")))

        if name == "builtins":
            saved = {k: v for k, v in saved.items() if k not in _IPYTHON_BUILTINS}
        changes += _restore_mapping(
            namespace, saved, name,
            setter=namespace.__setitem__, deleter=namespace.__delitem__, allow_new=allow_new,
        )
    # class attributes
    for klass, label, saved in snapshot["classes"]:
        current = dict(vars(klass))

        def set_attr(key, value, klass=klass):
            try:
                setattr(klass, key, value)
            except (TypeError, AttributeError):
                pass

        def del_attr(key, klass=klass):
            try:
                delattr(klass, key)
            except (TypeError, AttributeError):
                pass

        own = label.startswith(("minigrad", "autograder"))
        changes += _restore_mapping(current, saved, label, set_attr, del_attr,
                                    allow_new=lambda k, v, own=own: not (own or _student_made(v)))
    # instance attributes of the shell, kernel, session and the shell's helpers
    for obj, label, saved in snapshot["objects"]:
        current = dict(vars(obj))

        def set_inst(key, value, obj=obj):
            vars(obj)[key] = value

        def del_inst(key, obj=obj):
            vars(obj).pop(key, None)

        # ipykernel keeps per-request helpers on itself; what matters is an instance
        # attribute that shadows a method of the class (shell.showtraceback = ...)
        changes += _restore_mapping(
            current, saved, label, set_inst, del_inst,
            allow_new=lambda k, v, obj=obj: not hasattr(type(obj), k) and not _student_made(v))
    shell = snapshot["shell"]
    # transformer lists
    for name, saved in snapshot["lists"].items():
        owner = shell
        attr = name
        if "." in name:
            first, attr = name.split(".", 1)
            owner = getattr(shell, first, None)
        current = getattr(owner, attr, None)
        if not isinstance(current, list):
            changes.append(f"the shell's {name} was replaced")
            setattr(owner, attr, list(saved))
            continue
        if len(current) != len(saved) or any(a is not b for a, b in zip(current, saved)):
            changes.append(f"the shell's {name} were changed (an input or AST transformer)")
            current[:] = saved
    # event callbacks
    events = getattr(shell, "events", None)
    for event, callbacks in (getattr(events, "callbacks", None) or {}).items():
        saved = snapshot["events"].get(event, [])
        added = [cb for cb in callbacks
                 if not any(cb is s for s in saved) and _student_made(cb)]
        if added:
            changes.append(f"a callback was registered for the IPython event {event!r}")
            for cb in added:
                callbacks.remove(cb)
    # the interpreter
    saved_sys = snapshot["sys"]
    for name in ("stdout", "stderr", "excepthook"):
        if getattr(sys, name) is not saved_sys[name]:
            changes.append(f"sys.{name} was replaced")
            setattr(sys, name, saved_sys[name])
    for name in ("meta_path", "path_hooks"):
        current = getattr(sys, name)
        added = [h for h in current if not any(h is s for s in saved_sys[name])
                 and _student_made(h)]
        if added:
            changes.append(f"an import hook was added to sys.{name}")
            for hook in added:
                current.remove(hook)
    if sys.gettrace() is not saved_sys["trace"]:
        changes.append("a trace function was set (sys.settrace)")
        sys.settrace(saved_sys["trace"])
    if sys.getprofile() is not saved_sys["profile"]:
        changes.append("a profile function was set (sys.setprofile)")
        sys.setprofile(saved_sys["profile"])
    if signal.getsignal(signal.SIGINT) is not saved_sys["sigint"]:
        changes.append("the SIGINT handler was changed")
        try:
            signal.signal(signal.SIGINT, saved_sys["sigint"])
        except (TypeError, ValueError):
            pass
    for thread in threading.enumerate():
        if thread.ident in snapshot["threads"] or not thread.is_alive():
            continue
        target = getattr(thread, "_target", None) or type(thread).run
        if _student_made(target):
            changes.append(f"a thread started by the submission is running ({thread.name})")
    return changes


def _sign(key: bytes, nonce: str, changes: list[str]) -> str:
    payload = nonce + "\n" + json.dumps(changes, sort_keys=True)
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def signature(key: bytes, nonce: str, changes: list[str]) -> str:
    """The signature :func:`check` puts on its answer (the grader recomputes it)."""
    return _sign(key, nonce, changes)


def check(nonce: str) -> str:
    """Compare the kernel with the snapshot, restore it, and answer as signed JSON."""
    snapshot = _STATE.get("snapshot")
    if snapshot is None:
        changes = ["the guard has no snapshot (the kernel was not started by the grader)"]
    else:
        try:
            changes = _compare(snapshot)
        except Exception as exc:  # a broken kernel state is itself a finding
            changes = [f"the guard could not inspect the kernel ({type(exc).__name__}: {exc})"]
    key = _STATE.get("key", b"")
    return json.dumps({"nonce": nonce, "changes": changes,
                       "mac": _sign(key, nonce, changes) if key else ""})


def _read_key() -> bytes:
    path = os.environ.pop(KEY_ENV, "")
    if not path:
        return b""
    try:
        with open(path, "rb") as fh:
            key = fh.read()
        os.unlink(path)
    except OSError:
        return b""
    return key


def main(argv: list[str] | None = None) -> None:
    """Start an IPython kernel with the guard's snapshot taken before any cell runs."""
    from ipykernel.kernelapp import IPKernelApp

    _STATE["key"] = _read_key()
    app = IPKernelApp.instance()
    app.initialize(sys.argv[1:] if argv is None else argv)
    _STATE["snapshot"] = take_snapshot(app.shell, app.kernel)
    app.start()


if __name__ == "__main__":
    # run the importable module's main, so that check() (reached as autograder.guard)
    # sees the snapshot and key this process recorded
    from autograder.guard import main as _main

    _main()
