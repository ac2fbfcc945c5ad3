"""Pre-grade scan: submissions that would break nbgrader, and tampering in editable cells.

``python -m autograder scan`` runs it alone; ``grade`` runs it before any task is handed out.
Each submitted notebook is compared with the released one (``release/<assignment>/``) and
every cell a student can edit is read, never run.

What the scan looks for
    *Broken notebooks*: empty files, invalid or truncated JSON, JSON that is not a notebook,
    missing, duplicate or malformed cell ids, missing, renamed or malformed nbgrader
    metadata, a changed ``schema_version``, changed cell types, points, grade/solution/
    locked flags, tags or kernel name, edited, unlocked, deleted or duplicated test cells.

    *Links and special files* (symbolic links, named pipes, sockets, devices) anywhere in
    the submission: reported as refused and never followed, read or copied.

    *Tampering* in editable cells (answer cells and cells without nbgrader metadata whose
    source differs from the release), by static analysis: :mod:`ast` where the cell parses,
    text patterns where it does not. It reports rebinding the checker (``check_gradients``,
    ``gradcheck``...) or builtins (to a function), assigning attributes of numpy, builtins,
    minigrad, sys, os or IPython (``np.allclose = ...``, ``setattr(np, ...)``), IPython
    internals (``get_ipython``, input and AST transformers, ``showtraceback``,
    ``set_custom_exc``, event callbacks, ``run_cell``), leaving the process (``sys.exit``,
    ``os._exit``, ``exit()``, signals, subprocesses, threads), file and database access
    (``open``, ``pathlib``, ``os.remove``, ``sqlite3``, paths naming ``source/``, the
    gradebook or other course folders), the network (``socket``, ``urllib``, ``requests``,
    ``http``...), and the usual ways around a static check (``exec``, ``eval``,
    ``__import__``, ``importlib``, ``globals()``, ``sys.modules``, frames, ``gc``,
    ``ctypes``, ``__closure__``...). IPython magics other than ``%matplotlib``, ``%time``
    and ``%timeit`` and shell escapes (``!cmd``) count too.

The rule (nobody is silently dropped; no points for a cheated exercise)
    1. A notebook that would break nbgrader is *repaired* when that is safe: cell ids are
       made unique, malformed cells and metadata are rebuilt, nbgrader metadata of known
       cells (type, flags, points, schema version, checksum) and the kernel spec are put
       back from the release, cells whose metadata was stripped or renamed are recognised
       (by their source, or by the functions an answer cell defines) and relabelled, a
       duplicated cell id keeps its last copy (nbgrader's choice) and the others become
       plain cells, and missing test, locked and task cells are put back from the release.
       A repaired notebook is graded as if the damage had not happened: the student earns
       exactly what their code earns against the judge's hidden tests, so the damage itself
       earns nothing.
    2. A notebook that cannot be repaired (empty, not JSON, not a notebook, still invalid
       after repair) is not graded: the student is reported as *failed* with the reason,
       ``grade`` exits non-zero, and a copy goes to ``course/quarantine/``.
    3. A cell with tampering is *withheld*: it is replaced by a stub that raises an error
       saying why, so nothing in it runs, and the test cells of the exercise that comes
       next (those after the cell, up to the next answer cell) score 0 whatever happens.
       The student is graded and reported as *flagged*; the original submission and the
       reasons are copied to ``course/quarantine/<student>/<assignment>/`` for review.
       This is a policy on top of the judge (:mod:`autograder.judge`), which decides every
       point outside the kernel and would not be fooled by the tampering anyway.
    4. A link or special file is *refused*: the student is flagged and quarantined, the rest
       of the submission is graded.
    Every student appears in ``grade``'s summary as graded, flagged or failed.
"""

from __future__ import annotations

import ast
import builtins
import copy
import io
import json
import os
import re
import shutil
import stat
import tokenize
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .sandbox import file_kind, submission_files

__all__ = [
    "Finding",
    "NotebookScan",
    "SubmissionScan",
    "exercise_tests",
    "quarantine",
    "repair_notebook",
    "scan_code",
    "scan_notebook",
    "scan_submission",
    "scan_table",
    "stage_submission",
]

BROKEN, REPAIRED, TAMPERING, NOTE = "broken", "repaired", "tampering", "note"
REFUSED = "refused"  # a link or special file in the submission: reported, never followed
WITHHELD_MARK = "# autograder: this cell was withheld from grading"
_CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NBGRADER_FLAGS = ("grade", "solution", "locked", "task")


# --- findings -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """One thing the scan found: ``kind`` is broken, repaired, tampering, refused or note."""

    kind: str
    notebook: str
    where: str
    message: str


@dataclass
class NotebookScan:
    """The scan of one submitted notebook and, unless broken, its repaired version."""

    name: str
    findings: list[Finding] = field(default_factory=list)
    notebook: nbformat.NotebookNode | None = None
    withheld: dict[str, str] = field(default_factory=dict)  # cell id -> reason
    zero_cells: dict[str, str] = field(default_factory=dict)  # test grade_id -> reason

    @property
    def broken(self) -> bool:
        return any(f.kind == BROKEN for f in self.findings)


@dataclass
class SubmissionScan:
    """The scan of one student's submission of one assignment."""

    assignment: str
    student: str
    notebooks: list[NotebookScan] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)  # about the folder as a whole

    def all_findings(self) -> list[Finding]:
        out = list(self.findings)
        for nb in self.notebooks:
            out += nb.findings
        return out

    @property
    def status(self) -> str:
        """failed (cannot be graded), flagged (tampering), repaired or ok."""
        kinds = {f.kind for f in self.all_findings()}
        if BROKEN in kinds:
            return "failed"
        if TAMPERING in kinds or REFUSED in kinds:
            return "flagged"
        if REPAIRED in kinds:
            return "repaired"
        return "ok"

    def reasons(self, kind: str) -> list[str]:
        """What the scan found of one kind; ``tampering`` includes refused links and files."""
        kinds = (TAMPERING, REFUSED) if kind == TAMPERING else (kind,)
        return [_describe(f) for f in self.all_findings() if f.kind in kinds]

    @property
    def zero_cells(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for nb in self.notebooks:
            out.update(nb.zero_cells)
        return out


def _describe(f: Finding) -> str:
    where = f"{f.notebook}" + (f" [{f.where}]" if f.where else "")
    return f"{where}: {f.message}" if where else f.message


# --- tampering: static analysis of one cell -------------------------------------------------------

# names the visible tests and the checker rely on, and the modules they may be imported from
_CANONICAL = {
    "np": {"numpy"}, "numpy": {"numpy"},
    "mg": {"minigrad"}, "minigrad": {"minigrad"},
    "math": {"math"},
    "check_gradients": {"minigrad.gradcheck", "minigrad"},
    "gradcheck": {"minigrad.gradcheck", "minigrad"},
    "GradCheckResult": {"minigrad.gradcheck"}, "GradientCheckError": {"minigrad.gradcheck"},
    "Tensor": {"minigrad", "minigrad.tensor"}, "Value": {"minigrad", "minigrad.value"},
}
_HELPERS = {"get_ipython"}
_BUILTIN_NAMES = set(dir(builtins)) - {"__name__", "__doc__", "_", "__debug__"}
# modules whose attributes (and the classes they export) a submission must not assign
_PROTECTED_MODULES = ("numpy", "math", "cmath", "builtins", "minigrad", "autograder", "sys",
                      "os", "IPython", "ipykernel", "warnings", "random", "operator",
                      "functools", "itertools", "contextlib", "importlib", "io", "types",
                      "traitlets", "jupyter_client", "nbgrader")
# importing any of these is tampering in an exercise about backpropagation
_FORBIDDEN_IMPORTS = {
    "subprocess": "runs other programs", "pty": "runs other programs",
    "socket": "opens network connections", "ssl": "opens network connections",
    "urllib": "opens network connections", "http": "opens network connections",
    "requests": "opens network connections", "httpx": "opens network connections",
    "aiohttp": "opens network connections", "ftplib": "opens network connections",
    "smtplib": "opens network connections", "telnetlib": "opens network connections",
    "poplib": "opens network connections", "imaplib": "opens network connections",
    "xmlrpc": "opens network connections", "websocket": "opens network connections",
    "websockets": "opens network connections", "paramiko": "opens network connections",
    "asyncio": "opens network connections or runs code in the background",
    "selectors": "opens network connections",
    "sqlite3": "opens a database", "sqlalchemy": "opens a database", "dbm": "opens a database",
    "shelve": "opens a database", "psycopg2": "opens a database",
    "pickle": "loads code from data", "marshal": "loads code from data",
    "ctypes": "reaches into the interpreter", "cffi": "reaches into the interpreter",
    "gc": "reaches into the interpreter", "inspect": "reaches into the interpreter",
    "importlib": "imports code behind the scanner's back", "imp": "imports code",
    "runpy": "runs code from files", "code": "runs code", "codeop": "runs code",
    "builtins": "changes Python's builtins", "signal": "handles signals (ignores interrupts)",
    "threading": "runs code in the background", "_thread": "runs code in the background",
    "multiprocessing": "runs code in the background",
    "concurrent": "runs code in the background", "atexit": "runs code at exit",
    "faulthandler": "changes the interpreter", "resource": "changes the process limits",
    "IPython": "reaches into IPython", "ipykernel": "reaches into the kernel",
    "jupyter_client": "reaches into the kernel", "zmq": "reaches into the kernel",
    "nbgrader": "reaches into the grader", "autograder": "reaches into the grader",
    "shutil": "reads or writes files", "glob": "reads the file system",
    "pathlib": "reads or writes files", "tempfile": "writes files",
    "fcntl": "reads or writes files", "mmap": "reads or writes files",
    "base64": "hides code from the scanner", "codecs": "hides code from the scanner",
    "zlib": "hides code from the scanner",
}
_BAD_CALLS = {
    "exit": "leaves the kernel", "quit": "leaves the kernel",
    "sys.exit": "leaves the kernel", "os._exit": "kills the kernel",
    "os.abort": "kills the kernel", "os.kill": "sends signals", "os.killpg": "sends signals",
    "os.fork": "starts processes", "os.forkpty": "starts processes",
    "os.system": "runs other programs", "os.popen": "runs other programs",
    "sys.settrace": "traces the tests", "sys.setprofile": "traces the tests",
    "sys._getframe": "reads the tests' frames", "sys.addaudithook": "hooks the interpreter",
    "open": "opens a file", "os.open": "opens a file", "io.open": "opens a file",
    "exec": "runs code the scanner cannot see", "eval": "runs code the scanner cannot see",
    "compile": "compiles code the scanner cannot see",
    "__import__": "imports code behind the scanner's back",
    "globals": "edits the notebook's namespace", "vars": "edits a namespace",
    "breakpoint": "starts a debugger",
}
_OS_PREFIXES = {
    "os.exec": "runs other programs", "os.spawn": "runs other programs",
    "os.posix_spawn": "runs other programs",
}
_OS_FILE_CALLS = {"remove", "unlink", "rename", "renames", "replace", "rmdir", "removedirs",
                  "makedirs", "mkdir", "chdir", "chmod", "chown", "link", "symlink",
                  "listdir", "scandir", "walk", "truncate", "utime", "mkfifo", "fwalk"}
_NUMPY_FILE_CALLS = {"load", "save", "savez", "savez_compressed", "loadtxt", "savetxt",
                     "genfromtxt", "fromfile", "memmap", "tofile"}
# attribute names that only matter to someone reaching into IPython, frames or the import system
_INTERNAL_ATTRS = {
    "input_transformers_post", "input_transformers_cleanup", "input_transformer_manager",
    "ast_transformers", "showtraceback", "_showtraceback", "showsyntaxerror",
    "set_custom_exc", "CustomTB", "custom_exceptions", "run_cell", "run_cell_async",
    "run_code", "run_ast_nodes", "user_ns", "user_global_ns", "do_execute", "shell_handlers",
    "display_pub", "register_magic_function", "InteractiveTB", "excepthook", "displayhook",
    "meta_path", "path_hooks", "f_back", "f_globals", "f_locals", "f_builtins", "gi_frame",
    "tb_frame", "cr_frame", "__builtins__", "__import__", "__globals__", "__code__",
    "__closure__", "__subclasses__", "__bases__", "__mro__", "__loader__", "__spec__",
    "__dict__", "modules", "__setattr__", "__delattr__", "__getattribute__",
}
_SAFE_MAGICS = {"matplotlib", "time", "timeit"}
_COURSE_PATH = re.compile(
    r"(^|[/\\])(source|release|submitted|autograded|feedback|quarantine|course|notebooks)"
    r"([/\\]|$)|gradebook|\.db\b|nbgrader|BEGIN HIDDEN|\.ipynb|^/(etc|proc|sys|dev|root)\b",
    re.IGNORECASE,
)
_TEXT_PATTERNS = [
    (re.compile(p), why) for p, why in [
        (r"get_ipython|input_transformers|ast_transformers|showtraceback|set_custom_exc|"
         r"CustomTB|run_cell", "reaches into IPython"),
        (r"__import__|__builtins__|__subclasses__|__globals__|__closure__|importlib|"
         r"sys\.modules|\bexec\s*\(|\beval\s*\(", "runs code the scanner cannot see"),
        (r"os\._exit|sys\.exit|\bexit\s*\(|\bquit\s*\(|\bsignal\b", "leaves the kernel"),
        (r"\bopen\s*\(|pathlib|sqlite3|gradebook|shutil", "reads or writes files"),
        (r"\bsocket\b|urllib|requests|http", "opens network connections"),
        (r"\bsetattr\s*\(|\b(np|numpy|builtins|mg|minigrad)\.\w+\s*=[^=]",
         "assigns attributes of a library"),
        (r"\bsubprocess\b|\bctypes\b|\bthreading\b", "reaches into the interpreter"),
    ]
]


def _strip_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Blank out IPython-only lines; return the Python left and the findings about them."""
    findings = []
    lines = source.split("\n")
    out = []
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if stripped.startswith("%%") and number == 1:
            name = stripped[2:].split()[0] if len(stripped) > 2 else ""
            if name not in _SAFE_MAGICS:
                findings.append((number, f"runs the IPython cell magic %%{name}"))
            out.append("")
            continue
        if stripped.startswith("%"):
            name = stripped[1:].split()[0] if len(stripped) > 1 else ""
            if name not in _SAFE_MAGICS:
                findings.append((number, f"runs the IPython magic %{name}"))
                out.append("")
            elif name in ("time", "timeit"):  # %time expr: the expression is Python
                out.append(line.replace(stripped, stripped[1 + len(name):].strip() or "pass"))
            else:
                out.append(line.replace(stripped, "pass"))
            continue
        if stripped.startswith("!") or re.match(r"^\s*\w+\s*=\s*!", line):
            findings.append((number, "runs a shell command (!)"))
            out.append("")
            continue
        if stripped.endswith("?") and not stripped.startswith("#"):
            out.append("")  # help request (obj?)
            continue
        out.append(line)
    return "\n".join(out), findings


def _dotted(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; ``f().x`` -> ["f()", "x"]; else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        inner = _dotted(node.func)
        if inner is None:
            return None
        parts.append(".".join(inner) + "()")
    else:
        return None
    return parts[::-1]


class _Aliases:
    """Which names refer to protected modules, or to objects imported from them."""

    def __init__(self):
        # local name -> module path (the course's usual names count even unimported)
        self.modules: dict[str, str] = {n: n for n in ("numpy", "minigrad", "math", "sys", "os",
                                                        "builtins")}
        self.modules.update(np="numpy", mg="minigrad")
        self.imported: dict[str, str] = {}  # local name -> "module.attr"

    def learn(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    target = alias.name if alias.asname else alias.name.split(".")[0]
                    self.modules[local] = target
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    local = alias.asname or alias.name
                    self.imported[local] = f"{node.module}.{alias.name}"
        for node in ast.walk(tree):  # plain aliases of those: m = np, lin = np.linalg
            if (isinstance(node, ast.Assign) and len(node.targets) == 1
                    and isinstance(node.targets[0], ast.Name)):
                parts = _dotted(node.value)
                if parts and not parts[0].endswith("()") and self.protected(parts[0]):
                    self.imported[node.targets[0].id] = ".".join(
                        [self.resolve(parts[0])] + parts[1:])

    def resolve(self, name: str) -> str:
        if name in self.modules:
            return self.modules[name]
        if name in self.imported:
            return self.imported[name]
        return name

    def protected(self, name: str) -> bool:
        if name not in self.modules and name not in self.imported:
            return False
        full = self.resolve(name)
        return any(full == m or full.startswith(m + ".") for m in _PROTECTED_MODULES)


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp,
                                 ast.DictComp, ast.SetComp, ast.BinOp, ast.UnaryOp,
                                 ast.JoinedStr, ast.Compare, ast.BoolOp))
    return True


class _Checker(ast.NodeVisitor):
    def __init__(self, aliases: _Aliases):
        self.aliases = aliases
        self.found: list[tuple[int, str]] = []
        self.depth = 0  # 0: cell level
        self.globals: set[str] = set()
        self.functions: set[str] = set()

    def flag(self, node: ast.AST, message: str) -> None:
        self.found.append((getattr(node, "lineno", 0), message))

    # bindings ------------------------------------------------------------------------------
    def _bind(self, node: ast.AST, name: str, how: str, value: ast.AST | None = None,
              module: str | None = None) -> None:
        if self.depth and name not in self.globals:
            return
        if name in _HELPERS:
            self.flag(node, f"rebinds the grader's helper `{name}`")
        elif name in _CANONICAL:
            if how != "import" or module not in _CANONICAL[name]:
                self.flag(node, f"rebinds `{name}`, which the tests rely on")
        elif name in _BUILTIN_NAMES and how != "import":
            # a library function imported under a builtin's name (from numpy import max)
            # can only hurt its importer; a home-made one can fool a test
            callable_like = how in ("def", "class") or (
                value is not None and not _literal(value))
            if callable_like:
                self.flag(node, f"rebinds the builtin `{name}`")
        elif name.startswith("__") and name.endswith("__") and how != "def":
            self.flag(node, f"assigns the special name `{name}`")

    def _target(self, target: ast.AST, value: ast.AST | None) -> None:
        if isinstance(target, ast.Name):
            self._bind(target, target.id, "assign", value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._target(element, None)
        elif isinstance(target, ast.Starred):
            self._target(target.value, None)
        elif isinstance(target, ast.Attribute):
            parts = _dotted(target)
            if parts is None:
                self.flag(target, f"assigns the attribute `{target.attr}` of a computed object")
                return
            root = parts[0]
            dunder = any(p.startswith("__") and p.endswith("__") for p in parts[1:])
            if root.endswith("()") or self.aliases.protected(root) or dunder:
                self.flag(target, f"assigns `{'.'.join(parts)}`")
        elif isinstance(target, ast.Subscript):
            base = _dotted(target.value)
            if base and (base[-1] in {"__dict__", "modules", "__builtins__"}
                         or base[0] in {"globals()", "vars()", "__builtins__"}
                         or self.aliases.protected(base[0]) and len(base) > 1):
                self.flag(target, f"assigns an item of `{'.'.join(base)}`")

    def visit_Assign(self, node):
        for target in node.targets:
            self._target(target, node.value)
        self.generic_visit(node)

    def visit_AugAssign(self, node):
        self._target(node.target, node.value)
        self.generic_visit(node)

    def visit_AnnAssign(self, node):
        self._target(node.target, node.value)
        self.generic_visit(node)

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, None)
        self.generic_visit(node)

    def visit_NamedExpr(self, node):
        self._target(node.target, node.value)
        self.generic_visit(node)

    def visit_Global(self, node):
        self.globals.update(node.names)

    def visit_For(self, node):
        self._target(node.target, None)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

    def visit_With(self, node):
        for item in node.items:
            if item.optional_vars is not None:
                self._target(item.optional_vars, None)
        self.generic_visit(node)

    visit_AsyncWith = visit_With

    def _scope(self, node, kind):
        self._bind(node, node.name, kind)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)
        self.depth += 1
        saved = set(self.globals)
        for child in node.body:
            self.visit(child)
        self.globals = saved
        self.depth -= 1

    def visit_FunctionDef(self, node):
        self.functions.add(node.name)
        self.visit(node.args)
        self._scope(node, "def")

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node):
        for base in node.bases:
            self.visit(base)
        self._scope(node, "class")

    def visit_Lambda(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def _import(self, node, module: str, names):
        top = module.split(".")[0]
        if top in _FORBIDDEN_IMPORTS:
            self.flag(node, f"imports {module} ({_FORBIDDEN_IMPORTS[top]})")
        for alias in names:
            local = alias.asname or alias.name.split(".")[0]
            if isinstance(node, ast.ImportFrom):
                if alias.name == "*":
                    continue
                full = f"{module}.{alias.name}"
                canonical = local in _CANONICAL and alias.name == local
                self._bind(node, local, "import", module=module if canonical else full)
            else:
                target = alias.name if alias.asname else alias.name.split(".")[0]
                self._bind(node, local, "import", module=target)

    def visit_Import(self, node):
        for alias in node.names:
            self._import(node, alias.name, [alias])

    def visit_ImportFrom(self, node):
        if node.level:
            self.flag(node, "imports relative to a package")
            return
        self._import(node, node.module or "", node.names)

    # uses --------------------------------------------------------------------------------------
    def visit_Call(self, node):
        parts = _dotted(node.func)
        if parts is not None:
            resolved = [self.aliases.resolve(parts[0])] + parts[1:]
            full = ".".join(resolved)
            name = ".".join(parts)
            why = _BAD_CALLS.get(full, _BAD_CALLS.get(name, ""))
            for prefix, reason in _OS_PREFIXES.items():
                if full.startswith(prefix):
                    why = reason
            if full.startswith("os.") and parts[-1] in _OS_FILE_CALLS and len(resolved) == 2:
                why = "changes or lists files"
            if parts[-1] in _NUMPY_FILE_CALLS and (
                    full.startswith("numpy.") or parts[-1] == "tofile"):
                why = "reads or writes files"
            if full.startswith(("signal.", "subprocess.", "socket.", "threading.",
                                "multiprocessing.", "importlib.", "ctypes.", "gc.",
                                "inspect.", "atexit.", "shutil.", "pathlib.", "sqlite3.",
                                "urllib.", "requests.", "http.")):
                why = why or f"the {full.split('.')[0]} module is off limits"
            if parts[-1] == "register" and len(parts) >= 2 and parts[-2] == "events":
                why = "registers an IPython event callback"
            if name in ("setattr", "delattr") and node.args:
                obj = _dotted(node.args[0])
                if obj is None or obj[0].endswith("()") or self.aliases.protected(obj[0]):
                    why = f"uses {name} on `{ast.unparse(node.args[0])[:40]}`"
            if name == "getattr" and len(node.args) > 1:
                obj = _dotted(node.args[0])
                attr = node.args[1]
                if (obj is None or self.aliases.protected(obj[0])) and not (
                        isinstance(attr, ast.Constant)):
                    why = "looks up a library attribute by a computed name"
            if why:
                self.flag(node, f"calls `{name}` ({why})")
        self.generic_visit(node)

    def visit_Attribute(self, node):
        if node.attr in _INTERNAL_ATTRS:
            parts = _dotted(node) or [node.attr]
            if node.attr == "modules" and (len(parts) < 2
                                           or self.aliases.resolve(parts[-2]) != "sys"):
                pass
            elif node.attr == "__dict__" and parts and not self.aliases.protected(parts[0]):
                pass
            else:
                self.flag(node, f"uses `{'.'.join(parts)}`")
        self.generic_visit(node)

    def visit_Name(self, node):
        if node.id in ("get_ipython", "__builtins__", "__import__", "__loader__", "__spec__"):
            self.flag(node, f"uses `{node.id}`")

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string does nothing
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            if node.value in _INTERNAL_ATTRS and node.value not in ("modules", "__dict__"):
                self.flag(node, f"names the internal attribute '{node.value}'")
            elif _COURSE_PATH.search(node.value):
                self.flag(node, f"refers to course or system files ('{node.value[:40]}')")


def scan_code(source: str, aliases: _Aliases | None = None) -> list[str]:
    """Reasons a cell's source is tampering, each ``line N: ...``; empty when clean."""
    python, magic_findings = _strip_magics(source)
    found = list(magic_findings)
    try:
        tree = ast.parse(python)
    except (SyntaxError, ValueError, RecursionError):
        tree = None
    if tree is None:
        for number, line in enumerate(_code_lines(source), start=1):
            for pattern, why in _TEXT_PATTERNS:
                match = pattern.search(line)
                if match:
                    found.append((number, f"mentions `{match.group(0).strip()}` ({why}; "
                                          "the cell does not parse, so this is a text check)"))
    else:
        local = _Aliases()
        if aliases is not None:
            local.modules.update(aliases.modules)
            local.imported.update(aliases.imported)
        local.learn(tree)
        checker = _Checker(local)
        checker.visit(tree)
        found += checker.found
    out = []
    for number, message in sorted(set(found)):
        same_line = [m for n, m in found if n == number and m != message]
        subject = message[len("uses "):] if message.startswith("uses `") else ""
        if subject and any(subject.strip("`") in m for m in same_line):
            continue  # `get_ipython` when `get_ipython().showtraceback` is reported
        out.append(f"line {number}: {message}")
    return out


def _code_lines(source: str) -> list[str]:
    """Lines without comments (best effort: tokenize when possible)."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return [line.split("#", 1)[0] for line in source.split("\n")]
    lines = source.split("\n")
    for token in tokens:
        if token.type == tokenize.COMMENT:
            row, col = token.start
            lines[row - 1] = lines[row - 1][:col]
    return lines


# --- reading and repairing a notebook --------------------------------------------------------


def _nbmeta(cell) -> dict | None:
    meta = cell.get("metadata", {}).get("nbgrader") if isinstance(cell, dict) else None
    return meta if isinstance(meta, dict) else None


def _kind(meta: dict | None) -> str:
    if not meta:
        return "plain"
    if meta.get("solution"):
        return "answer"
    if meta.get("grade"):
        return "test"
    if meta.get("task"):
        return "task"
    if meta.get("locked"):
        return "locked"
    return "plain"


def _defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(_strip_magics(source)[0])
    except (SyntaxError, ValueError, RecursionError):
        return set()
    return {n.name for n in tree.body
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}


def _first_line(source: str) -> str:
    for line in source.split("\n"):
        if line.strip():
            return line.strip()
    return ""


def _join(source) -> str | None:
    if isinstance(source, str):
        return source
    if isinstance(source, list) and all(isinstance(s, str) for s in source):
        return "".join(source)
    return None


def read_regular(path: Path, limit: int = 256 * 1024 * 1024) -> bytes:
    """The bytes of a regular file, opened without following a link; OSError otherwise
    (its message says what the path is instead)."""
    info = os.lstat(path)
    if not stat.S_ISREG(info.st_mode):
        raise OSError(f"{path.name} is {file_kind(info.st_mode)}: refused, not followed")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path.name} is not a regular file: refused")
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise OSError(f"{path.name} is larger than {limit // 2**20} MB")
    return data


def copy_regular_files(source: Path, target: Path, skip: set[str] = frozenset()
                       ) -> list[str]:
    """Copy the regular files below ``source`` to ``target``, never following a link
    (:func:`autograder.sandbox.submission_files`); top-level names in ``skip`` are left out.
    Returns what was not copied, and why."""
    refused: list[str] = []
    for rel, fd in submission_files(str(source), limit_mb=256, limit_files=2000,
                                    refused=refused):
        with os.fdopen(fd, "rb") as src:
            if rel in skip:
                continue
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            (target / rel).write_bytes(src.read())
    target.mkdir(parents=True, exist_ok=True)
    return refused


def read_submission(path: Path) -> tuple[dict | None, str]:
    """The notebook JSON as a dict, or None and why it cannot be read."""
    try:
        data = read_regular(path)
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    if not data.strip():
        return None, "the file is empty"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, f"the file is not UTF-8 text (byte {exc.start})"
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        stripped = text.rstrip()
        truncated = exc.pos >= len(stripped) - 1 or not stripped.endswith("}")
        what = "truncated JSON" if truncated else "invalid JSON"
        return None, f"{what} ({exc.msg}; line {exc.lineno}, column {exc.colno})"
    if not isinstance(raw, dict):
        return None, f"not a notebook: the JSON is a {type(raw).__name__}, not an object"
    return raw, ""


def repair_notebook(
    raw: dict, reference: nbformat.NotebookNode | None, name: str = ""
) -> tuple[nbformat.NotebookNode | None, list[Finding]]:
    """A valid nbformat-4 notebook with the release's nbgrader structure, and what was done.

    Returns (None, findings with a ``broken`` one) when the notebook cannot be rebuilt.
    """
    findings: list[Finding] = []

    def note(kind: str, where: str, message: str) -> None:
        findings.append(Finding(kind, name, where, message))

    major = raw.get("nbformat")
    if major != 4:
        if major in (3,):
            try:
                raw = dict(nbformat.convert(nbformat.from_dict(raw), 4))
                note(REPAIRED, "", "converted from nbformat 3 to 4")
            except Exception as exc:
                note(BROKEN, "", f"nbformat {major} notebook could not be converted ({exc})")
                return None, findings
        else:
            note(BROKEN, "", f"not a notebook: nbformat is {major!r}, expected 4")
            return None, findings
    cells_in = raw.get("cells")
    if not isinstance(cells_in, list):
        note(BROKEN, "", "not a notebook: there is no list of cells")
        return None, findings
    ref_by_id: dict[str, nbformat.NotebookNode] = {}
    ref_order: list[str] = []
    if reference is not None:
        for rcell in reference.cells:
            meta = _nbmeta(rcell)
            if meta and meta.get("grade_id"):
                ref_by_id[meta["grade_id"]] = rcell
                ref_order.append(meta["grade_id"])

    # 1. every cell rebuilt from its parts
    cells = []
    for index, cell in enumerate(cells_in):
        where = f"cell {index}"
        if not isinstance(cell, dict):
            note(REPAIRED, where, "was not a cell object (removed)")
            continue
        metadata = cell.get("metadata", {})
        if not isinstance(metadata, dict):
            note(REPAIRED, where, "had malformed metadata (reset)")
            metadata = {}
        source = _join(cell.get("source", ""))
        if source is None:
            note(REPAIRED, where, "had a malformed source (emptied)")
            source = ""
        ctype = cell.get("cell_type")
        meta = metadata.get("nbgrader")
        known = isinstance(meta, dict) and meta.get("grade_id") in ref_by_id
        if ctype not in ("code", "markdown", "raw"):
            if known:
                ctype = ref_by_id[meta["grade_id"]].cell_type
            else:
                ctype = "raw"
            note(REPAIRED, where, f"had the unknown cell type {cell.get('cell_type')!r} "
                                  f"(now {ctype})")
        maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                 "raw": nbformat.v4.new_raw_cell}[ctype]
        new = maker(source=source)
        new.metadata = nbformat.from_dict(copy.deepcopy(metadata))
        cid = cell.get("id")
        new["id"] = cid if isinstance(cid, str) else ""
        if ctype == "markdown" and isinstance(cell.get("attachments"), dict):
            new["attachments"] = nbformat.from_dict(copy.deepcopy(cell["attachments"]))
        cells.append(new)

    # 2. cell ids: present, well formed, unique
    seen: set[str] = set()
    renamed = 0
    duplicates = set()
    for index, cell in enumerate(cells):
        cid = cell.get("id", "")
        if cid and _CELL_ID.match(cid) and cid not in seen:
            seen.add(cid)
            continue
        if cid in seen:
            duplicates.add(cid)
        base = re.sub(r"[^a-zA-Z0-9_-]", "-", cid or "cell")[:48] or "cell"
        candidate = f"{base}-r{index}"
        while candidate in seen:
            candidate += "x"
        cell["id"] = candidate
        seen.add(candidate)
        renamed += 1
    if duplicates:
        note(REPAIRED, "", f"duplicate cell ids {', '.join(sorted(duplicates))} "
                           f"({renamed} cell id(s) renumbered)")
    elif renamed:
        note(REPAIRED, "", f"{renamed} missing or malformed cell id(s) renumbered")

    # 3. nbgrader metadata against the release
    pending: list[int] = []  # cells with unusable nbgrader metadata, maybe recognisable
    for index, cell in enumerate(cells):
        if "nbgrader" not in cell.metadata:
            continue
        meta = cell.metadata["nbgrader"]
        if not isinstance(meta, dict):
            del cell.metadata["nbgrader"]
            note(REPAIRED, f"cell {index}", "malformed nbgrader metadata removed")
            pending.append(index)
            continue
        gid = meta.get("grade_id")
        if reference is not None and gid not in ref_by_id:
            if any(meta.get(k) for k in _NBGRADER_FLAGS) or gid:
                pending.append(index)
            else:
                del cell.metadata["nbgrader"]
    # duplicates of a known grade_id: the last copy keeps it (nbgrader's choice)
    last: dict[str, int] = {}
    for index, cell in enumerate(cells):
        meta = cell.metadata.get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id") in ref_by_id and index not in pending:
            gid = meta["grade_id"]
            if gid in last:
                earlier = last[gid]
                del cells[earlier].metadata["nbgrader"]
                note(REPAIRED, gid, f"duplicated (cell {earlier} is now a plain cell; the "
                                    f"last copy, cell {index}, is graded)")
            last[gid] = index
    if reference is not None:
        present = dict(last)
        candidates = set(pending) | {i for i, c in enumerate(cells)
                                     if "nbgrader" not in c.metadata}
        for position, gid in enumerate(ref_order):
            if gid in present:
                continue
            rcell = ref_by_id[gid]
            kind = _kind(_nbmeta(rcell))
            lo = max((present[g] for g in ref_order[:position] if g in present), default=-1)
            hi = min((present[g] for g in ref_order[position + 1:] if g in present),
                     default=len(cells))
            window = [i for i in sorted(candidates) if lo < i < hi]
            pick = _recognise(cells, window, rcell, kind)
            if pick is not None:
                cells[pick].metadata["nbgrader"] = copy.deepcopy(rcell.metadata["nbgrader"])
                candidates.discard(pick)
                present[gid] = pick
                note(REPAIRED, gid, f"nbgrader metadata was missing or renamed (cell {pick} "
                                    "recognised and relabelled)")
        for index in sorted(candidates & set(pending)):
            meta = cells[index].metadata.get("nbgrader")
            label = meta.get("grade_id") if isinstance(meta, dict) else None
            cells[index].metadata.pop("nbgrader", None)
            note(REPAIRED, f"cell {index}", f"unknown nbgrader cell {label!r}: its "
                                            "metadata was removed (it runs as a plain cell)")
        # put back the release's metadata, source of locked cells, and cell type
        for gid, index in sorted(present.items(), key=lambda kv: kv[1]):
            _restore_cell(cells, index, ref_by_id[gid], gid, note)
        # missing test, locked and task cells come back from the release
        for position, gid in enumerate(ref_order):
            if gid in present:
                continue
            rcell = ref_by_id[gid]
            kind = _kind(_nbmeta(rcell))
            if kind == "answer":
                note(REPAIRED, gid, "the answer cell is missing (its tests fail unless the "
                                    "function is defined elsewhere)")
                continue
            after = max((present[g] for g in ref_order[:position] if g in present), default=-1)
            restored = copy.deepcopy(rcell)
            restored["id"] = _fresh_id(gid, cells)
            notice = nbformat.v4.new_markdown_cell(
                f"*This {kind} cell (id: {gid}) was missing from the submission and was "
                "restored by the grader.*")
            notice["id"] = _fresh_id(f"{gid}-restored", cells)
            cells[after + 1:after + 1] = [notice, restored]
            present = {g: (i + 2 if i > after else i) for g, i in present.items()}
            present[gid] = after + 2
            note(REPAIRED, gid, f"the {kind} cell was missing (put back from the release)")
    nb = nbformat.v4.new_notebook(cells=cells)
    metadata = raw.get("metadata")
    nb.metadata = nbformat.from_dict(copy.deepcopy(metadata if isinstance(metadata, dict)
                                                   else {}))
    if reference is not None:
        want = reference.metadata.get("kernelspec")
        got = nb.metadata.get("kernelspec")
        if want is not None and got != want:
            got_name = got.get("name") if isinstance(got, dict) else got
            note(REPAIRED, "", f"kernel spec changed ({got_name!r}; the release's "
                               f"{want.get('name')!r} restored)")
            nb.metadata["kernelspec"] = copy.deepcopy(want)
        nb.metadata.pop("language_info", None)
    nb.nbformat, nb.nbformat_minor = 4, 5
    try:
        nbformat.validate(nb)
    except nbformat.ValidationError as exc:
        note(BROKEN, "", f"still not a valid notebook after repair: {str(exc).splitlines()[0]}")
        return None, findings
    try:
        from nbgrader.nbgraderformat import MetadataValidator, ValidationError

        MetadataValidator().validate_nb(nb)
    except ValidationError as exc:
        note(BROKEN, "", f"nbgrader metadata still invalid after repair: {exc}")
        return None, findings
    return nb, findings


def _fresh_id(base: str, cells) -> str:
    taken = {c.get("id") for c in cells}
    candidate = re.sub(r"[^a-zA-Z0-9_-]", "-", base)[:56] or "cell"
    suffix = 0
    while candidate in taken:
        suffix += 1
        candidate = f"{base[:50]}-{suffix}"
    return candidate


def _recognise(cells, window: list[int], rcell, kind: str) -> int | None:
    """The cell in ``window`` that is the release cell ``rcell`` without its metadata."""
    for i in window:  # the same source, type aside
        if cells[i].source.strip() == rcell.source.strip():
            return i
    if kind in ("test", "locked", "task"):
        first = _first_line(rcell.source)
        for i in window:
            if first and _first_line(cells[i].source) == first:
                return i
    if kind == "answer":
        names = _defined_names(rcell.source)
        if names:
            for i in window:
                if names <= _defined_names(cells[i].source):
                    return i
    return None


def _restore_cell(cells, index: int, rcell, gid: str, note) -> None:
    cell = cells[index]
    want = rcell.metadata["nbgrader"]
    got = cell.metadata.get("nbgrader", {})
    changed = []
    for key in ("grade", "solution", "locked", "task", "points", "schema_version"):
        if key in want and got.get(key) != want.get(key):
            changed.append(f"{key} {got.get(key)!r} -> {want.get(key)!r}")
        elif key not in want and key in got and key == "points":
            changed.append(f"points {got.get(key)!r} removed")
    if changed:
        note(REPAIRED, gid, "nbgrader metadata changed, restored: " + ", ".join(changed))
    cell.metadata["nbgrader"] = copy.deepcopy(want)
    for key in ("deletable", "editable"):
        if key in rcell.metadata:
            cell.metadata[key] = rcell.metadata[key]
    kind = _kind(want)
    if kind in ("test", "locked", "task"):
        # tags and any other metadata come from the release too: a tag such as
        # skip-execution or raises-exception decides whether and how the cell runs
        extra = {k: v for k, v in cell.metadata.items() if k != "nbgrader"}
        wanted = {k: v for k, v in rcell.metadata.items() if k != "nbgrader"}
        if extra != wanted:
            note(REPAIRED, gid, "cell metadata (tags) changed, restored: "
                 + ", ".join(sorted(set(extra) ^ set(wanted) | {k for k in extra
                                    if k in wanted and extra[k] != wanted[k]})))
            cell.metadata = nbformat.from_dict({**copy.deepcopy(wanted),
                                                "nbgrader": cell.metadata["nbgrader"]})
    if cell.cell_type != rcell.cell_type:
        note(REPAIRED, gid, f"cell type changed from {rcell.cell_type} to {cell.cell_type} "
                            "(restored)")
        maker = {"code": nbformat.v4.new_code_cell, "markdown": nbformat.v4.new_markdown_cell,
                 "raw": nbformat.v4.new_raw_cell}[rcell.cell_type]
        new = maker(source=cell.source)
        new.metadata = cell.metadata
        new["id"] = cell["id"]
        cells[index] = cell = new
    if kind in ("test", "locked", "task") and cell.source != rcell.source:
        note(REPAIRED, gid, f"the {kind} cell was edited (the release's version is graded)")
        cell.source = rcell.source


# --- tampering in a whole notebook ---------------------------------------------------------------


def exercise_tests(cells, index: int) -> list[str]:
    """grade_ids of the exercise that comes after cell ``index``: the test cells following
    it, up to the next answer cell after the first of them."""
    out: list[str] = []
    for cell in cells[index + 1:]:
        kind = _kind(_nbmeta(cell))
        if kind == "test":
            out.append(cell.metadata["nbgrader"]["grade_id"])
        elif kind == "answer" and out:
            break
    return out


def _withheld_source(reasons: list[str]) -> str:
    lines = [WITHHELD_MARK + ", because it:"]
    lines += [f"#   {r}" for r in reasons[:10]]
    lines.append("# The submitted cell is kept for review; nothing in it ran.")
    short = reasons[0].split(": ", 1)[-1] if reasons else "tampering"
    lines.append(f"raise RuntimeError({('cell withheld by the grader: ' + short)!r})")
    return "\n".join(lines) + "\n"


def _flag_tampering(scan: NotebookScan, reference) -> None:
    nb = scan.notebook
    untouched = set()
    if reference is not None:
        untouched = {c.source.strip() for c in reference.cells
                     if c.cell_type == "code" and _kind(_nbmeta(c)) in ("plain", "answer")}
    aliases = _Aliases()
    for cell in nb.cells:
        if cell.cell_type == "code":
            try:
                aliases.learn(ast.parse(_strip_magics(cell.source)[0]))
            except (SyntaxError, ValueError, RecursionError):
                pass
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or _kind(_nbmeta(cell)) not in ("plain", "answer"):
            continue
        if cell.source.strip() in untouched:
            continue
        reasons = scan_code(cell.source, aliases)
        if not reasons:
            continue
        label = (_nbmeta(cell) or {}).get("grade_id") or f"cell {index}"
        tests = exercise_tests(nb.cells, index)
        consequence = (f"scores 0 on {', '.join(tests)}" if tests
                       else "no test follows it")
        for reason in reasons:
            scan.findings.append(Finding(TAMPERING, scan.name, label, reason))
        scan.findings.append(Finding(NOTE, scan.name, label,
                                     f"cell withheld from grading; {consequence}"))
        scan.withheld[cell.get("id", str(index))] = "; ".join(reasons)
        for test in tests:
            scan.zero_cells.setdefault(
                test, f"tampering found by the pre-grade scan in {label}: {reasons[0]}")
        cell.source = _withheld_source(reasons)


def scan_notebook(path: Path, reference: nbformat.NotebookNode | None) -> NotebookScan:
    """Read, repair and check one submitted notebook (``reference``: the released one)."""
    scan = NotebookScan(path.name)
    raw, why = read_submission(path)
    if raw is None:
        scan.findings.append(Finding(BROKEN, path.name, "", why))
        return scan
    nb, findings = repair_notebook(raw, reference, path.name)
    scan.findings += findings
    if nb is None:
        return scan
    scan.notebook = nb
    if reference is None:
        scan.findings.append(Finding(NOTE, path.name, "", "no released notebook to compare "
                                                          "with: only the code was checked"))
    _flag_tampering(scan, reference)
    return scan


def scan_submission(course, assignment: str, student: str) -> SubmissionScan:
    """Scan ``submitted/<student>/<assignment>/`` against ``release/<assignment>/``."""
    result = SubmissionScan(assignment, student)
    folder = course.submitted_dir / student / assignment
    release = course.release_dir / assignment
    released = {p.name: p for p in sorted(release.glob("*.ipynb"))} if release.is_dir() else {}
    submitted = sorted(folder.glob("*.ipynb")) if folder.is_dir() else []
    if folder.is_dir():
        for path in sorted(folder.rglob("*")):
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                result.findings.append(Finding(
                    REFUSED, str(path.relative_to(folder)), "",
                    f"{file_kind(mode)} in the submission: refused, not followed"))
    if not released:
        result.findings.append(Finding(NOTE, "", "", f"no release of {assignment} to compare "
                                                     "with"))
    for path in submitted:
        reference = None
        if path.name in released:
            try:
                reference = nbformat.read(str(released[path.name]), as_version=4)
            except Exception:  # an unreadable release is the instructor's to fix
                reference = None
        elif released:
            result.findings.append(Finding(NOTE, path.name, "", "not a released notebook "
                                                                "(ignored by the grader)"))
            continue
        result.notebooks.append(scan_notebook(path, reference))
    names = {p.name for p in submitted}
    for name in sorted(set(released) - names):
        result.findings.append(Finding(NOTE, name, "", "missing from the submission "
                                                       "(scores 0)"))
    if not submitted:
        result.findings.append(Finding(BROKEN, "", "", f"no notebook in {folder}"))
    return result


# --- acting on a scan --------------------------------------------------------------------------


def stage_submission(scan: SubmissionScan, submitted_dir: Path, staging_root: Path) -> Path:
    """Write what is graded: the repaired notebooks with tampering withheld, next to copies of
    the other regular files of the submission, in ``staging_root/<student>/<assignment>/``.

    Links and special files are never followed or copied (the scan reports them)."""
    source = submitted_dir / scan.student / scan.assignment
    target = staging_root / scan.student / scan.assignment
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    written = {nb.name for nb in scan.notebooks if nb.notebook is not None}
    if source.is_dir() and not source.is_symlink():
        copy_regular_files(source, target, skip=written)
    for nb in scan.notebooks:
        if nb.notebook is not None:
            nbformat.write(nb.notebook, str(target / nb.name))
    return target


def quarantine(course, scan: SubmissionScan) -> Path:
    """Copy the submission's regular files as received, plus the scan's findings, for manual
    review."""
    target = course.course_dir / "quarantine" / scan.student / scan.assignment
    if target.exists():
        shutil.rmtree(target)
    source = course.submitted_dir / scan.student / scan.assignment
    target.mkdir(parents=True)
    if source.is_dir() and not source.is_symlink():
        copy_regular_files(source, target)
    status = scan.status
    lines = [f"{scan.student} / {scan.assignment}: {status}", ""]
    lines += [f"{f.kind}: {_describe(f)}" for f in scan.all_findings()]
    (target / "SCAN.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def scan_table(scans: list[SubmissionScan], everything: bool = False) -> str:
    """Students the scan has something to say about: one row per finding."""
    from .report import format_table

    rows = []
    for scan in scans:
        if scan.status == "ok" and not everything:
            continue
        findings = [f for f in scan.all_findings() if everything or f.kind != NOTE
                    or scan.status != "repaired"]
        for f in findings or [Finding("", "", "", "")]:
            where = f.notebook + (f" [{f.where}]" if f.where else "")
            message = f.message if len(f.message) <= 110 else f.message[:107] + "..."
            rows.append([scan.student, scan.assignment, scan.status, f.kind, where, message])
    if not rows:
        return "scan: nothing to report"
    return format_table(["student", "assignment", "status", "finding", "where", "detail"], rows)
