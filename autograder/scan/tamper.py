"""Tampering in one cell, found by static analysis: the rules, and the checker that applies them.

The source is read, never run: :mod:`ast` where the cell parses (after IPython magics and
shell escapes are blanked out, which are findings of their own), the text patterns where it
does not. :func:`scan_code` returns the reasons, each ``line N: ...``.

How to add a tamper rule
    Every rule is one entry in one of the tables below; the checker reads them and nothing
    else needs to change.

    - a module that must not be imported: ``FORBIDDEN_IMPORTS["name"] = "what it does"``.
      ``import name``, ``import name.sub``, ``from name import x`` are reported, and so is
      every call through a name imported from it (``name.f()``, ``x()``).
    - a function that must not be called: ``FORBIDDEN_CALLS["module.function"] = "what it
      does"``. The name is matched as written and as resolved through the notebook's imports
      and aliases (``from os import system as s; s()`` is ``os.system``); ``*`` matches any
      run of characters, dots included (``"os.spawn*"``, ``"*.tofile"``).
    - a module whose attributes must not be assigned (``np.allclose = ...``, ``setattr``
      on it, or on a class it exports): add it to ``PROTECTED_MODULES``.
    - a name the tests rely on (rebinding it is tampering unless it is imported from where
      it belongs): ``PROTECTED_NAMES["name"] = {"the.module", ...}``.
    - an attribute only someone reaching into IPython, frames or the import system uses:
      add it to ``INTERNAL_ATTRIBUTES`` (a bare name, such as ``get_ipython``: to
      ``FORBIDDEN_NAMES``).
    - a file or folder a string must not name (``source/``, the gradebook): extend the
      ``COURSE_PATHS`` regular expression.
    - a text pattern, for cells that do not parse: ``TEXT_PATTERNS`` gets ``(regex, why)``.

    Then add one row to ``TAMPERING`` in ``tests/test_scan.py``: a cell a student might
    write that breaks the rule, and the words its reason must contain (every entry of
    ``FORBIDDEN_IMPORTS`` and ``FORBIDDEN_CALLS`` is also checked on its own there). Rules
    that look at arguments (``setattr``, ``getattr`` by a computed name) and at bindings
    (rebinding builtins) are code in :class:`_Checker`.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from fnmatch import fnmatchcase

__all__ = [
    "COURSE_NAMES",
    "COURSE_PATHS",
    "FORBIDDEN_CALLS",
    "FORBIDDEN_IMPORTS",
    "FORBIDDEN_NAMES",
    "HELPERS",
    "INTERNAL_ATTRIBUTES",
    "PROTECTED_MODULES",
    "PROTECTED_NAMES",
    "SAFE_MAGICS",
    "TEXT_PATTERNS",
    "Aliases",
    "scan_code",
    "strip_magics",
]

# --- the rules ----------------------------------------------------------------------------------

# names the visible tests and the checker rely on, and the modules they may be imported from
PROTECTED_NAMES = {
    "np": {"numpy"}, "numpy": {"numpy"},
    "mg": {"minigrad"}, "minigrad": {"minigrad"},
    "math": {"math"},
    "check_gradients": {"minigrad.gradcheck", "minigrad"},
    "gradcheck": {"minigrad.gradcheck", "minigrad"},
    "GradCheckResult": {"minigrad.gradcheck"}, "GradientCheckError": {"minigrad.gradcheck"},
    "Tensor": {"minigrad", "minigrad.tensor"}, "Value": {"minigrad", "minigrad.value"},
}
# names of the grader's own helpers in the kernel
HELPERS = {"get_ipython"}
# names a cell may use without importing them -> the module they stand for
COURSE_NAMES = {"numpy": "numpy", "np": "numpy", "minigrad": "minigrad", "mg": "minigrad",
                "math": "math", "sys": "sys", "os": "os", "builtins": "builtins"}
# modules whose attributes (and the classes they export) a submission must not assign
PROTECTED_MODULES = ("numpy", "math", "cmath", "builtins", "minigrad", "autograder", "sys",
                     "os", "IPython", "ipykernel", "warnings", "random", "operator",
                     "functools", "itertools", "contextlib", "importlib", "io", "types",
                     "traitlets", "jupyter_client", "nbgrader")
# importing any of these is tampering in an exercise about backpropagation
FORBIDDEN_IMPORTS = {
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
_NUMPY_FILE_FUNCTIONS = ("load", "save", "savez", "savez_compressed", "loadtxt", "savetxt",
                         "genfromtxt", "fromfile", "memmap")
# calls, by dotted name as written or as resolved through imports; * matches anything
FORBIDDEN_CALLS = {
    "exit": "leaves the kernel", "quit": "leaves the kernel",
    "sys.exit": "leaves the kernel", "os._exit": "kills the kernel",
    "os.abort": "kills the kernel", "os.kill": "sends signals", "os.killpg": "sends signals",
    "os.fork": "starts processes", "os.forkpty": "starts processes",
    "os.system": "runs other programs", "os.popen": "runs other programs",
    "os.exec*": "runs other programs", "os.spawn*": "runs other programs",
    "os.posix_spawn*": "runs other programs",
    "sys.settrace": "traces the tests", "sys.setprofile": "traces the tests",
    "sys._getframe": "reads the tests' frames", "sys.addaudithook": "hooks the interpreter",
    "open": "opens a file", "os.open": "opens a file", "io.open": "opens a file",
    "exec": "runs code the scanner cannot see", "eval": "runs code the scanner cannot see",
    "compile": "compiles code the scanner cannot see",
    "__import__": "imports code behind the scanner's back",
    "globals": "edits the notebook's namespace", "vars": "edits a namespace",
    "breakpoint": "starts a debugger",
    **{f"os.{name}": "changes or lists files"
       for name in ("remove", "unlink", "rename", "renames", "replace", "rmdir", "removedirs",
                    "makedirs", "mkdir", "chdir", "chmod", "chown", "link", "symlink",
                    "listdir", "scandir", "walk", "truncate", "utime", "mkfifo", "fwalk")},
    **{f"numpy{under}.{name}": "reads or writes files"
       for name in _NUMPY_FILE_FUNCTIONS for under in ("", ".*")},
    "*.tofile": "reads or writes files",
    "events.register": "registers an IPython event callback",
    "*.events.register": "registers an IPython event callback",
}
# names only someone reaching into the grader or the import system uses
FORBIDDEN_NAMES = {"get_ipython", "__builtins__", "__import__", "__loader__", "__spec__"}
# attribute names that only matter to someone reaching into IPython, frames or the import system
INTERNAL_ATTRIBUTES = {
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
# "modules" and "__dict__" are ordinary words too: they count on sys and on protected modules
_COMMON_ATTRIBUTES = {"modules", "__dict__"}
SAFE_MAGICS = {"matplotlib", "time", "timeit"}
# a string naming these is reading or writing the course's or the system's files
COURSE_PATHS = re.compile(
    r"(^|[/\\])(source|release|submitted|autograded|feedback|quarantine|course|notebooks)"
    r"([/\\]|$)|gradebook|\.db\b|nbgrader|BEGIN HIDDEN|\.ipynb|^/(etc|proc|sys|dev|root)\b",
    re.IGNORECASE,
)
# for a cell that does not parse: each line is searched for these
TEXT_PATTERNS = [
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
_BUILTIN_NAMES = set(dir(builtins)) - {"__name__", "__doc__", "_", "__debug__"}
_UNPARSABLE = (SyntaxError, ValueError, RecursionError)


# --- one cell -------------------------------------------------------------------------------------


def scan_code(source: str, aliases: Aliases | None = None) -> list[str]:
    """Reasons a cell's source is tampering, each ``line N: ...``; empty when clean.

    ``aliases``: what the rest of the notebook imported (see :meth:`Aliases.learn`)."""
    python, found = strip_magics(source)
    try:
        tree = ast.parse(python)
    except _UNPARSABLE:
        found += _text_findings(source)
    else:
        local = Aliases(aliases)
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


def strip_magics(source: str) -> tuple[str, list[tuple[int, str]]]:
    """Blank out IPython-only lines; return the Python left and the findings about them."""
    findings = []
    out = []
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith("%%") and number == 1:
            name = stripped[2:].split()[0] if len(stripped) > 2 else ""
            if name not in SAFE_MAGICS:
                findings.append((number, f"runs the IPython cell magic %%{name}"))
            out.append("")
            continue
        if stripped.startswith("%"):
            name = stripped[1:].split()[0] if len(stripped) > 1 else ""
            if name not in SAFE_MAGICS:
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


def _text_findings(source: str) -> list[tuple[int, str]]:
    """The text patterns found in a cell that does not parse, line by line."""
    found = []
    for number, line in enumerate(_code_lines(source), start=1):
        for pattern, why in TEXT_PATTERNS:
            match = pattern.search(line)
            if match:
                found.append((number, f"mentions `{match.group(0).strip()}` ({why}; "
                                      "the cell does not parse, so this is a text check)"))
    return found


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


def _literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return isinstance(node, (ast.List, ast.Tuple, ast.Set, ast.Dict, ast.ListComp,
                                 ast.DictComp, ast.SetComp, ast.BinOp, ast.UnaryOp,
                                 ast.JoinedStr, ast.Compare, ast.BoolOp))
    return True


class Aliases:
    """Which names refer to modules, or to objects imported from them (``lin = np.linalg``
    included), so that a rule sees through ``import numpy as xp``."""

    def __init__(self, known: Aliases | None = None):
        self.modules: dict[str, str] = dict(COURSE_NAMES)  # local name -> module path
        self.imported: dict[str, str] = {}  # local name -> "module.attr"
        if known is not None:
            self.modules.update(known.modules)
            self.imported.update(known.imported)

    def learn(self, tree: ast.AST) -> None:
        """Add what ``tree`` imports, and its plain aliases of those."""
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

    def learn_source(self, source: str) -> None:
        """:meth:`learn` from a cell's source; a cell that does not parse teaches nothing."""
        try:
            self.learn(ast.parse(strip_magics(source)[0]))
        except _UNPARSABLE:
            pass

    def known(self, name: str) -> bool:
        return name in self.modules or name in self.imported

    def resolve(self, name: str) -> str:
        if name in self.modules:
            return self.modules[name]
        if name in self.imported:
            return self.imported[name]
        return name

    def protected(self, name: str) -> bool:
        if not self.known(name):
            return False
        full = self.resolve(name)
        return any(full == m or full.startswith(m + ".") for m in PROTECTED_MODULES)


def _forbidden_call(*names: str) -> str:
    """Why calling any of ``names`` is tampering, or "" (names first, then patterns)."""
    for name in names:
        if name in FORBIDDEN_CALLS:
            return FORBIDDEN_CALLS[name]
    for name in names:
        for pattern, why in FORBIDDEN_CALLS.items():
            if "*" in pattern and fnmatchcase(name, pattern):
                return why
    return ""


class _Checker(ast.NodeVisitor):
    """Walks a cell's syntax tree; ``found`` collects (line, reason)."""

    def __init__(self, aliases: Aliases):
        self.aliases = aliases
        self.found: list[tuple[int, str]] = []
        self.depth = 0  # 0: cell level
        self.globals: set[str] = set()

    def flag(self, node: ast.AST, message: str) -> None:
        self.found.append((getattr(node, "lineno", 0), message))

    # bindings ------------------------------------------------------------------------------
    def _bind(self, node: ast.AST, name: str, how: str, value: ast.AST | None = None,
              module: str | None = None) -> None:
        if self.depth and name not in self.globals:
            return
        if name in HELPERS:
            self.flag(node, f"rebinds the grader's helper `{name}`")
        elif name in PROTECTED_NAMES:
            if how != "import" or module not in PROTECTED_NAMES[name]:
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

    visit_AnnAssign = visit_NamedExpr = visit_AugAssign

    def visit_Delete(self, node):
        for target in node.targets:
            self._target(target, None)
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
        if top in FORBIDDEN_IMPORTS:
            self.flag(node, f"imports {module} ({FORBIDDEN_IMPORTS[top]})")
        for alias in names:
            local = alias.asname or alias.name.split(".")[0]
            if isinstance(node, ast.ImportFrom):
                if alias.name == "*":
                    continue
                full = f"{module}.{alias.name}"
                canonical = local in PROTECTED_NAMES and alias.name == local
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
            name = ".".join(parts)
            why = self._call_rule(node, parts)
            if why:
                self.flag(node, f"calls `{name}` ({why})")
        self.generic_visit(node)

    def _call_rule(self, node: ast.Call, parts: list[str]) -> str:
        """Why the call ``parts`` (as written) is tampering, or ""."""
        name = ".".join(parts)
        if name in ("setattr", "delattr") and node.args:
            obj = _dotted(node.args[0])
            if obj is None or obj[0].endswith("()") or self.aliases.protected(obj[0]):
                return f"uses {name} on `{ast.unparse(node.args[0])[:40]}`"
        if name == "getattr" and len(node.args) > 1:
            obj = _dotted(node.args[0])
            if ((obj is None or self.aliases.protected(obj[0]))
                    and not isinstance(node.args[1], ast.Constant)):
                return "looks up a library attribute by a computed name"
        full = ".".join([self.aliases.resolve(parts[0])] + parts[1:])
        why = _forbidden_call(full, name)
        module = full.split(".")[0]
        if not why and module in FORBIDDEN_IMPORTS and "." in full and (
                self.aliases.known(parts[0])):
            why = f"the {module} module is off limits"
        return why

    def visit_Attribute(self, node):
        if node.attr in INTERNAL_ATTRIBUTES:
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
        if node.id in FORBIDDEN_NAMES:
            self.flag(node, f"uses `{node.id}`")

    def visit_Expr(self, node):
        if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            return  # a docstring or a bare string does nothing
        self.generic_visit(node)

    def visit_Constant(self, node):
        if isinstance(node.value, str):
            if node.value in INTERNAL_ATTRIBUTES and node.value not in _COMMON_ATTRIBUTES:
                self.flag(node, f"names the internal attribute '{node.value}'")
            elif COURSE_PATHS.search(node.value):
                self.flag(node, f"refers to course or system files ('{node.value[:40]}')")
