"""Tests for the trusted judge without a kernel: the codec, the kernel agent, the student
handle, the hidden-test runner and the build step that takes hidden tests out."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from autograder.judge import Student, StudentError, judge_block, raises, seed_for
from autograder.judge.expect import arrays, gradients_ok, numbers, times, unchanged, worst
from autograder.judge.local import local_transport, run_local
from autograder.judge.tests import check_hidden_code, load_tests, split_hidden
from autograder.protocol import CodecError, Name, Ref, decode, dumps, encode, loads

AUTOGRADER = Path(__file__).resolve().parent.parent / "autograder"
FIXTURES = Path(__file__).parent / "fixtures" / "notebooks"


# --- the codec --------------------------------------------------------------------------------

PLAIN = [
    None, True, 3, -2.5, "text", float("nan"), float("inf"), 1 + 2j,
    [1, [2.0, "x"]], (1, (2, 3)), {"a": 1, (1, 2): [3]},
    np.arange(6, dtype=np.float32).reshape(2, 3), np.array([True, False]),
    np.float32(1.5), np.int64(-7), np.zeros((0, 4), dtype=np.uint8), np.array(0.5),
    np.arange(12.0).reshape(3, 4).T,
]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_round_trip_with_their_types(value):
    """Plain data crosses unchanged: types, dtypes and shapes kept, nan included."""
    back = loads(dumps(value))
    assert type(back) is type(value)
    if isinstance(value, np.ndarray):
        assert back.dtype == value.dtype and back.shape == value.shape
        assert np.array_equal(back, value)
    elif isinstance(value, float) and value != value:
        assert back != back
    else:
        assert back == value


class _Liar(float):
    def __eq__(self, other):
        return True


class _Sneaky(np.ndarray):
    def __array_function__(self, *args, **kwargs):
        return True


@pytest.mark.parametrize("value", [
    object(), _Liar(1.0), np.arange(3).view(_Sneaky), np.array([object()]),
    np.array(["a"]), {1, 2}, lambda: 1,
], ids=["object", "float-subclass", "ndarray-subclass", "object-array", "str-array", "set",
        "function"])
def test_values_that_could_lie_are_not_plain(value):
    """Subclasses and objects are refused: nothing with its own comparisons crosses."""
    with pytest.raises(CodecError):
        encode(value)


@pytest.mark.parametrize("text", [
    '{"a": ["|O8", [1], "AAAAAAAAAAA="]}', '{"a": ["<f8", [2], "AAAAAAAAAAA="]}',
    '{"x": 1}', '{"t": 1}', '{"s": ["<f8", "AA=="]}', "[" * 100 + "]" * 100, "not json",
    '{"d": [[[1], 2]]}',
], ids=["object-dtype", "short-data", "unknown-tag", "bad-tuple", "bad-scalar", "deep",
        "not-json", "unhashable-key"])
def test_decode_refuses_what_is_not_in_the_format(text):
    """The receiver rebuilds values itself and refuses anything outside the format."""
    with pytest.raises(CodecError):
        loads(text)


def test_refs_and_names_decode_through_the_callbacks():
    """References and names become objects only through the receiver's own lookups."""
    data = encode([Ref(3), Name("f")])
    assert decode(data, from_ref=lambda n: n * 10, from_name=str.upper) == [30, "F"]
    plain = decode(data)
    assert isinstance(plain[0], Ref) and plain[0].number == 3 and plain[1].name == "f"


# --- the agent and the handle, in this process ------------------------------------------------


def _student(ns: dict) -> Student:
    return Student(local_transport(ns))


def test_the_kernel_agent_loads_no_judge_module():
    """Importing the agent, as the student's kernel does, loads the wire format and nothing
    of the trusted judge."""
    code = ("import sys, autograder.kernel.agent\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('autograder'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=AUTOGRADER.parent, check=True).stdout.split()
    assert out == ["autograder", "autograder.kernel", "autograder.kernel.agent",
                   "autograder.protocol"], f"the agent loaded {out}"


def _imported_modules(path: Path) -> set[str]:
    """The absolute names of the modules a file of the autograder package imports."""
    package = ".".join(path.relative_to(AUTOGRADER.parent).with_suffix("").parts)
    if path.name != "__init__.py":
        package = package.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module) if p)
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


def test_nothing_trusted_imports_the_kernel_side():
    """No module outside autograder/kernel/ imports it, except the local judge, a developer
    tool that runs notebooks in-process by design and calls the agent's public
    use_namespace and handle."""
    importers = sorted(
        str(path.relative_to(AUTOGRADER)) for path in AUTOGRADER.rglob("*.py")
        if "kernel" not in path.relative_to(AUTOGRADER).parts[:1]
        and any(m == "autograder.kernel" or m.startswith("autograder.kernel.")
                for m in _imported_modules(path)))
    assert importers == ["judge/local.py"], f"these modules import autograder.kernel: {importers}"


def test_calls_return_plain_copies():
    """A call's result is rebuilt on the judge's side: the kernel's array is not shared."""
    kernel_array = np.ones(3)
    student = _student({"f": lambda: kernel_array})
    got = student.f()
    got[0] = 5.0
    assert kernel_array[0] == 1.0


def test_non_plain_results_are_refused_with_a_clear_message():
    """Returning an object fails the call and says what was returned."""
    class Tensor:
        pass

    student = _student({"f": lambda x: Tensor(), "g": lambda: (1.0, {"dW": Tensor()})})
    with pytest.raises(StudentError, match=r"f\(1\) returned a Tensor object, which is not "
                                           r"plain data"):
        student.f(1)
    with pytest.raises(StudentError, match=r"returned a tuple whose item 1 is a dict whose "
                                           r"entry 'dW' is a Tensor object"):
        student.g()


def test_an_exception_in_the_kernel_names_type_message_and_line():
    """What the student's code raised comes back as type, message and where."""
    source = "def g(x):\n    return 1 / x\n"
    ns: dict = {}
    exec(compile(source, "<student>", "exec"), ns)
    student = _student(ns)
    with pytest.raises(StudentError) as info:
        student.g(0)
    assert info.value.type_name == "ZeroDivisionError"
    assert "g(0) raised ZeroDivisionError: division by zero" in str(info.value)
    assert "in g" in info.value.where


def test_a_missing_name_says_so():
    """Calling a function the notebook does not define names it."""
    with pytest.raises(StudentError, match="name 'nope' is not defined in the notebook"):
        _student({}).nope(1)


def test_kept_objects_fixtures_and_methods():
    """Objects can stay in the kernel; fixtures get them as arguments; methods are called."""
    class Counter:
        def __init__(self, start):
            self.n = start

        def add(self, k):
            self.n += k
            return self.n

    student = _student({"Counter": Counter})
    counter = student.Counter.keep(10)
    assert counter.add(5) == 15
    double = student.kernel("def double(c):\n    return 2 * c.n\n")
    assert double(counter) == 30
    assert student.has("Counter") and not student.has("Missing")
    with pytest.raises(StudentError, match="not plain data"):
        float(counter)


def test_autograd_off_makes_minigrads_backward_raise_inside_calls():
    """With autograd off, a student's call to backward raises; afterwards it works again."""
    import minigrad as mg

    def uses_engine(x):
        v = mg.Value(x)
        (v * v).backward()
        return v.grad

    student = _student({"uses_engine": uses_engine})
    with student.autograd_off(), pytest.raises(StudentError, match="AutogradDisabledError"):
        student.uses_engine(3.0)
    assert student.uses_engine(3.0) == 6.0


def test_a_stand_in_answers_the_judges_inputs_and_counts_calls():
    """An earlier function is replaced for one exercise's test: stored answers for the test's
    inputs, the student's own function for anything else, the original back afterwards."""
    ns = {"np": np}
    exec("def softmax(z):\n    return np.zeros_like(z)\n"  # a wrong earlier answer
         "def predict(z):\n    return int(np.argmax(softmax(z)))\n", ns)
    student = _student(ns)
    z = np.array([0.1, 2.0, -1.0])
    assert student.predict(z) == 0  # the wrong softmax costs the later exercise...
    with student.standin("softmax", [((z,), np.array([0.1, 0.8, 0.1]))]) as patch:
        assert student.predict(z) == 1  # ...but not while the judge answers for it
        assert student.predict(z + 1) == 0  # an input it has no answer for
    assert (patch.calls, patch.hits, patch.misses) == (2, 1, 1)
    assert student.predict(z) == 0
    with student.standin("softmax", [((z,), z)], on_miss="raise"):
        with pytest.raises(StudentError, match="LookupError"):
            student.predict(z * 2)
    with pytest.raises(ValueError, match="on_miss"):
        with student.standin("softmax", on_miss="skip"):
            pass


def test_counting_sees_how_an_answer_works():
    """counting() counts calls of a notebook function or a dotted path in a module."""
    import minigrad as mg

    ns = {"np": np}
    exec("def numerical(f, x):\n    return np.ones(3)\n"
         "def by_differences(x):\n    return numerical(None, x)\n", ns)

    def by_engine(x):
        v = mg.Value(x)
        (v * v).backward()
        (v * v).backward()
        return v.grad

    ns["by_engine"] = by_engine
    student = _student(ns)
    with student.counting("numerical") as seen:
        student.by_differences(np.zeros(3))
        student.by_differences(np.zeros(3))
    assert seen.calls == 2
    with student.counting("minigrad.Value.backward") as seen:
        assert student.by_engine(2.0) == 8.0
    assert seen.calls == 2
    with pytest.raises(StudentError, match="NameError"):
        with student.counting("nowhere"):
            pass
    with student.counting("nowhere", missing_ok=True) as seen:
        student.by_differences(np.zeros(3))
    assert seen.calls == 0


def test_standins_replace_the_functions_the_notebook_defines():
    """standins() puts a stand-in over each named function the notebook has, skips the
    others, and puts the originals back."""
    ns = {"np": np}
    exec("def relu(z):\n    return z\n"
         "def layer(z):\n    return relu(z) * 2\n", ns)
    student = _student(ns)
    z = np.array([-1.0, 2.0])
    with student.standins({"relu": [((z,), np.maximum(z, 0))], "softmax": []}) as patches:
        assert student.layer(z).tolist() == [0.0, 4.0]
    assert sorted(patches) == ["relu"] and patches["relu"].hits == 1
    assert student.layer(z).tolist() == [-2.0, 4.0]


# --- the runner -------------------------------------------------------------------------------


def test_verdicts_carry_the_failing_message():
    """A block passes when it finishes, fails with the assert's message or the call's error."""
    student = _student({"sq": lambda x: x * x, "bad": lambda x: x + 1})
    ok = judge_block("assert student.sq(3) == 9, 'sq(3) must be 9'\n", student)
    assert ok.passed and ok.calls == 1
    failed = judge_block("got = student.bad(3)\nassert got == 9, f'bad(3) must be 9, got {got}'\n",
                         student)
    assert not failed.passed and failed.message == "bad(3) must be 9, got 4"
    raised = judge_block("student.missing()\n", student)
    assert not raised.passed and "is not defined in the notebook" in raised.message
    shape = judge_block("a, b = student.sq(3)\n", student)
    assert not shape.passed and shape.message.startswith("the hidden test could not use")


def test_the_preamble_runs_in_the_blocks_namespace_first():
    """A block uses what the assignment's hidden preamble defines; a fault in the preamble
    fails the block with its message, like a fault in the block."""
    student = _student({"sq": lambda x: x * x})
    preamble = ("def check_sq(x):\n"
                "    got = student.sq(x)\n"
                "    assert got == x * x, f'sq({x}) must be {x * x}, got {got}'\n")
    ok = judge_block("check_sq(3)\ncheck_sq(-2)\n", student, preamble=preamble)
    assert ok.passed and ok.calls == 2
    assert not judge_block("check_sq(3)\n", student).passed
    broken = judge_block("pass\n", student, preamble="assert False, 'preamble says no'\n")
    assert not broken.passed and broken.message == "preamble says no"


def test_raises_helper_checks_the_exception_type():
    """raises() passes on the named exception and fails, saying why, on anything else."""
    def f(x):
        if x < 0:
            raise ValueError("negative")
        return x

    student = _student({"f": f})
    assert raises("ValueError", student.f, -1).message == "negative"
    with pytest.raises(AssertionError, match="must raise ValueError"):
        raises("ValueError", student.f, 1)


def test_seeds_differ_by_student_and_cell_and_repeat():
    """The hidden tests' seed is stable for a student and differs between students."""
    assert seed_for("ann", "a1", "t") == seed_for("ann", "a1", "t")
    assert len({seed_for(s, "a1", "t") for s in ("ann", "bob", "cy")}) == 3
    assert seed_for("ann", "a1", "t") != seed_for("ann", "a1", "u")


# --- hidden tests out of the notebook ---------------------------------------------------------


def test_split_hidden_takes_the_region_out():
    """The visible part stays in the cell; the hidden region becomes the judge's code."""
    visible, hidden = split_hidden("x = 1\n### BEGIN HIDDEN TESTS\nassert 1, 'm'\n"
                                   "### END HIDDEN TESTS\n")
    assert visible == "x = 1" and hidden == "assert 1, 'm'\n"
    assert split_hidden("x = 1") == ("x = 1", None)
    with pytest.raises(ValueError):
        split_hidden("### BEGIN HIDDEN TESTS\nx\n")


def test_a_message_less_assert_is_refused_with_file_and_line():
    """Build refuses a hidden assert without a message, naming file and line."""
    with pytest.raises(ValueError, match=r"nb\.py:12: this assert in the hidden tests has no "
                                         r"message"):
        check_hidden_code("x = 1\nassert x == 1\n", "nb.py", 10)
    check_hidden_code("assert 1, 'fine'\n", "nb.py")


def test_build_moves_hidden_tests_to_the_judge_folder(tmp_path):
    """The source notebook holds no hidden test; course/judge holds them, one per test cell."""
    from autograder.build import build

    build(FIXTURES, tmp_path / "source", ["f1_tiny"])
    text = (tmp_path / "source" / "f1_tiny" / "f1_tiny.ipynb").read_text()
    assert "HIDDEN" not in text and "student." not in text
    tests = load_tests(tmp_path / "judge", "f1_tiny", "f1_tiny")
    assert sorted(tests) == ["f1-cube-grad-test", "f1-cube-test"]
    assert "student.cube(-3)" in tests["f1-cube-test"].code
    assert tests["f1-cube-test"].line > 0
    data = json.loads((tmp_path / "judge" / "f1_tiny" / "f1_tiny.json").read_text())
    assert data["source"] == "f1_tiny.py"


def _fixture_with_preamble(tmp_path) -> Path:
    """The fixture f1_tiny with its reference function moved to a hidden preamble."""
    folder = tmp_path / "nb" / "f1_tiny"
    folder.mkdir(parents=True)
    for name in ("f1_tiny.py", "buggy.py"):
        text = (FIXTURES / "f1_tiny" / name).read_text()
        (folder / name).write_text(text.replace("def f_ref(x):\n    return x ** 3\n", ""))
    (folder / "hidden.py").write_text("def f_ref(x):\n    return x ** 3\n")
    return folder


def test_the_hidden_preamble_goes_to_the_judge_once_and_runs_before_each_block(tmp_path):
    """hidden.py is written once into the judge's file of the notebook, never into the
    notebook, and the local judge runs it before each block: the scores do not change."""
    from autograder.build import build
    from autograder.samples import load_buggy

    folder = _fixture_with_preamble(tmp_path)
    build(folder.parent, tmp_path / "source")
    assert sorted(p.name for p in (tmp_path / "source" / "f1_tiny").iterdir()) == [
        "f1_tiny.ipynb"]
    assert "f_ref" not in (tmp_path / "source" / "f1_tiny" / "f1_tiny.ipynb").read_text()
    data = json.loads((tmp_path / "judge" / "f1_tiny" / "f1_tiny.json").read_text())
    assert data["preamble"] == "def f_ref(x):\n    return x ** 3\n"
    assert all("f_ref(x):" not in t["code"] for t in data["tests"].values())
    buggy = load_buggy(folder / "buggy.py").cells
    scores = {v: sum(p for _, p, _ in run_local(folder / "f1_tiny.py", v, buggy_cells=buggy,
                                                 say=lambda line: None))
              for v in ("solution", "blank", "buggy")}
    assert scores == {"solution": 5.0, "blank": 0.0, "buggy": 2.0}


def test_a_graded_cell_without_hidden_tests_is_refused(tmp_path):
    """Every graded test cell needs hidden tests: the judge decides every point."""
    from autograder.build import build

    folder = tmp_path / "nb" / "f1_tiny"
    folder.mkdir(parents=True)
    text = (FIXTURES / "f1_tiny" / "f1_tiny.py").read_text()
    start = text.index("### BEGIN HIDDEN TESTS")
    end = text.index("### END HIDDEN TESTS") + len("### END HIDDEN TESTS")
    (folder / "f1_tiny.py").write_text(text[:start] + text[end:])
    with pytest.raises(ValueError, match="f1-cube-test: no '### BEGIN HIDDEN TESTS' region"):
        build(tmp_path / "nb", tmp_path / "source")


def test_local_run_of_the_fixture_scores_solution_blank_and_buggy():
    """The in-process runner gives the fixture's solution, blank and buggy their points."""
    from autograder.samples import load_buggy

    py = FIXTURES / "f1_tiny" / "f1_tiny.py"
    buggy = load_buggy(FIXTURES / "f1_tiny" / "buggy.py").cells
    lines: list[str] = []
    scores = {v: sum(p for _, p, _ in run_local(py, v, buggy_cells=buggy, say=lines.append))
              for v in ("solution", "blank", "buggy")}
    assert scores == {"solution": 5.0, "blank": 0.0, "buggy": 2.0}
    assert any("cube_grad(-2) must be 3 x**2 = 12, got -12.0" in ln for ln in lines)


# --- the shared checks of hidden tests ----------------------------------------------------------


def test_unchanged_names_the_argument_a_call_changed_in_place():
    """unchanged() returns the result, and fails naming the argument changed in place."""
    def scale(a, k):
        a *= k
        return a.sum()

    student = _student({"scale": scale, "total": lambda a, k: float((a * k).sum())})
    x = np.array([1.0, 2.0])
    assert unchanged(student.total, x, 3.0, names=["a", "k"]) == 9.0
    with pytest.raises(AssertionError, match=r"scale changed its argument a in place "
                                             r"\(at index \[1\] got 6, want 2\)"):
        unchanged(student.scale, x, 3.0, names=["a", "k"])
    assert x.tolist() == [1.0, 2.0]


def test_numbers_and_arrays_say_what_came_back():
    """numbers() and arrays() check the count, shapes and dtype, naming what was returned."""
    assert numbers((1, 2.5), "f(1)", ["a", "b"]) == (1.0, 2.5)
    with pytest.raises(AssertionError, match=r"f\(1\) must return 2 numbers \(a, b\), "
                                             r"got \(1.0, 'x'\)"):
        numbers((1.0, "x"), "f(1)", ["a", "b"])
    with pytest.raises(AssertionError, match=r"must return 2 numbers \(a, b\), got 16.0$"):
        numbers(16.0, "f(1)", ["a", "b"])
    dx, dw = arrays((np.zeros(2), np.zeros((2, 2))), "g", ["dx", "dW"], [(2,), (2, 2)],
                    np.float64)
    assert dw.shape == (2, 2)
    with pytest.raises(AssertionError, match=r"g: \(dx, dW\) must have the shapes "
                                             r"\[\(2,\), \(2, 2\)\], got \[\(2,\), \(2,\)\]"):
        arrays((np.zeros(2), np.zeros(2)), "g", ["dx", "dW"], [(2,), (2, 2)])
    with pytest.raises(AssertionError, match="must return float32 arrays like its inputs"):
        arrays((np.zeros(2),), "g", ["dx"], dtype=np.float32)


def test_times_finds_simple_factors_only():
    """times() names a forgotten 1/N or a doubled gradient, and nothing else."""
    want = np.array([1.0, -2.0, 0.5])
    assert times(3 * want, want) == 3 and times(want / 4, want) == Fraction(1, 4)
    assert times(want, want) is None and times(want + 0.1, want) is None
    assert "at index [1] got -4, want -2" == worst(2 * want, want)


def test_gradients_ok_puts_the_case_first():
    """A failing gradient check starts with the label the hidden test gives."""
    with pytest.raises(AssertionError, match=r"^relu_backward on a batch of 3: the gradients"):
        gradients_ok("relu_backward on a batch of 3", lambda x: (x ** 2).sum(),
                     {"x": np.array([1.0, 2.0, 3.0])}, {"x": np.array([1.0, 2.0, 3.0])})


# --- seeds, errors as one line ----------------------------------------------------------------


def test_seeds_depend_on_the_course_secret_and_are_recorded(tmp_path):
    """A course secret changes every seed; recorded seeds come back for a regrade."""
    from autograder.judge.seeds import course_secret, read_seeds, record_seeds

    assert course_secret(tmp_path) == ""
    secret = course_secret(tmp_path, create=True)
    assert len(secret) == 64 and course_secret(tmp_path) == secret
    assert (tmp_path / "secret").stat().st_mode & 0o077 == 0
    assert seed_for("ann", "a1", "t", secret) != seed_for("ann", "a1", "t")
    url = f"sqlite:///{tmp_path / 'gradebook.db'}"
    assert read_seeds(url, "ann", "a1") == {}
    record_seeds(url, "ann", "a1", {"t": ("nb", 7), "u": ("nb", 8)})
    record_seeds(url, "ann", "a1", {"t": ("nb", 9)})
    record_seeds(url, "bob", "a1", {"t": ("nb", 1)})
    assert read_seeds(url, "ann", "a1") == {"t": 9, "u": 8}
    assert read_seeds(url, "ann", "a2") == {}


@pytest.mark.parametrize(("ename", "evalue", "want"), [
    ("RecursionError", "maximum recursion depth exceeded", "write it as a loop"),
    ("NotImplementedError", "", "not answered yet: replace `raise NotImplementedError()`"),
    ("KeyboardInterrupt", "", "did not finish within 60 s and was stopped"),
    ("ValueError", "bad file /home/someone/course/x.py\nline two", "bad file x.py line two"),
])
def test_errors_in_cells_become_one_line_that_says_what_to_do(ename, evalue, want):
    from autograder.execute import one_line_error

    name, message = one_line_error(ename, evalue, timeout=60)
    assert want in message and "\n" not in message and "/home" not in message


def test_student_errors_under_the_judge_say_what_to_do():
    """A recursion error, a stub or a timeout in the student's call: one actionable line."""
    from autograder.judge import StudentError
    from autograder.judge.runner import student_message
    from autograder.judge.student import StudentTimeout

    assert "write it as a loop" in student_message(
        StudentError("order(n)", "RecursionError", "maximum recursion depth exceeded"))
    assert "is not answered yet" in student_message(
        StudentError("f(1)", "NotImplementedError", ""))
    assert "look for an endless loop" in student_message(
        StudentTimeout("f(1)", message="did not finish within 5 s"))
    assert student_message(StudentError("f(1)", "ValueError", "x")) == \
        "f(1) raised ValueError: x"


def test_feedback_maths_becomes_mathml_outside_code():
    from autograder.feedback import math_to_mathml

    out = math_to_mathml("so $p - e_y$, `$x$` and $$J = J_2 J_1$$ for $5 and $6")
    assert out.count("<math") == 2 and 'display="block"' in out
    assert "`$x$`" in out and "$5 and $6" in out
