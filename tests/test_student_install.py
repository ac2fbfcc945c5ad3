"""The student install: the wheel holds no answers, and the student kit works in a fresh venv.

The kit is made as an instructor makes it (``build``, ``release``, ``student-kit`` in a
scratch course) and used as a student would: the wheel from the zip installed into a new
virtual environment, each blank notebook run there and checked with nbgrader's validate.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from readable import unreadable

from autograder.course import PipelineError
from autograder.studentkit import build_wheel

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
REGIONS = [("### BEGIN SOLUTION", "### END SOLUTION"),
           ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")]
SHORTEST = 25  # non-blank characters; shorter lines (`return out`, `x = x + 1`) are generic

# Lines of the answers that minigrad's own engine also holds, for the engine's own reasons
# (it is the library the notebooks teach with): pinned, so a new shared line is looked at.
ENGINE_LINES = {
    "losses.append(loss.item())",  # autograder/showcase.py trains a model
    "def backward(ctx, grad_output):",  # minigrad's Function contract
    "def wrapper(*args, **kwargs):",  # minigrad/autograd.py decorators
    "stack.append((node, True))",  # minigrad's topological order
    "extra = grad.ndim - len(shape)",  # minigrad's broadcasting reduction
    "rng = np.random.default_rng(seed)",  # minigrad/data.py
    "ctx.save_for_backward(x, W)",  # minigrad's affine op
    "def __truediv__(self, other):",  # minigrad.Value
    "def __rtruediv__(self, other):",
}


def _key(line: str) -> str:
    return " ".join(line.split())


def _split(text: str) -> tuple[list[str], list[str]]:
    """(lines inside solution and hidden-test regions, lines outside them) of a source."""
    inside, outside, end = [], [], None
    for line in text.splitlines():
        stripped = line.strip()
        if end is None:
            end = next((e for b, e in REGIONS if stripped.startswith(b)), None)
            if end is None:
                outside.append(line)
        elif stripped.startswith(end):
            end = None
        else:
            inside.append(line)
    return inside, outside


def _written_lines(text: str) -> list[str]:
    """The model answer and the rubric criteria of each written answer of a notebook source."""
    import jupytext

    from autograder.rubric import RUBRIC_KEY, is_written

    lines = []
    for cell in jupytext.reads(text, fmt="py:percent").cells:
        if is_written(cell):
            lines += cell.source.splitlines()
            lines += [item["criterion"] for item in cell.metadata.get(RUBRIC_KEY, [])]
    return lines


def answer_lines() -> dict[str, Path]:
    """Every line that identifies an answer, mapped to the file it comes from.

    Answers: the solution and hidden-test regions of ``notebooks/*/<notebook>.py``, the model
    answers and rubrics of its written answers, and the
    whole of ``notebooks/*/hidden.py`` and ``notebooks/*/buggy.py``. Compared with runs of
    whitespace collapsed. Left out, as too generic to identify an answer: lines with fewer
    than 25 non-blank characters; lines that also stand outside the regions of any notebook
    source, as code or in markdown (so they are in the released student notebooks anyway);
    and ENGINE_LINES.
    """
    secret: dict[str, Path] = {}
    released: set[str] = set()
    for path in sorted(NOTEBOOKS.glob("*/*.py")):
        text = path.read_text()
        if path.name in ("hidden.py", "buggy.py"):
            inside, outside = text.splitlines(), []
        else:
            inside, outside = _split(text)
            written = _written_lines(text)
            inside += written
            # markdown shows code on purpose (a worked answer after its test): lines of
            # markdown cells are released, the written answers' model answers are not
            released.update({_key(line.lstrip("#")) for line in outside if line.startswith("#")}
                            - {_key(line) for line in written})
        released.update(_key(line) for line in outside)
        for line in inside:
            key = _key(line)
            if len(key.replace(" ", "")) >= SHORTEST:
                secret.setdefault(key, path)
    return {k: p for k, p in secret.items() if k not in released and k not in ENGINE_LINES}


def _member_lines(name: str, text: str) -> list[str]:
    """The lines of a zip member; of a notebook, its cells' source lines, and a line for
    each cell that carries a rubric."""
    if not name.endswith(".ipynb"):
        return text.splitlines()
    lines = []
    for cell in json.loads(text)["cells"]:
        source = cell["source"]
        lines += ("".join(source) if isinstance(source, list) else source).splitlines()
        lines += [f"(a rubric) {item['criterion']}" for item in cell["metadata"].get("rubric", [])]
    return lines


def leaked_lines(wheel: Path) -> list[str]:
    """'<member>: <line> (from <source>)' for each answer line found in a wheel or a kit zip,
    and each rubric left in a notebook."""
    secret = answer_lines()
    found = []
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            text = archive.read(name).decode("utf-8", "replace")
            for line in _member_lines(name, text):
                if line.startswith("(a rubric) "):
                    found.append(f"{name}: {line}")
                    continue
                source = secret.get(_key(line))
                if source:
                    found.append(f"{name}: {line.strip()} (from {source.relative_to(ROOT)})")
    return found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(ROOT, tmp_path_factory.mktemp("wheel"))


def test_answer_lines_are_many_and_specific():
    """The answers the wheel is searched for are hundreds of lines, none of them generic."""
    secret = answer_lines()
    assert len(secret) > 500, f"only {len(secret)} answer lines found in {NOTEBOOKS}"
    assert not ENGINE_LINES & set(secret)
    shortest = min(secret, key=lambda k: len(k.replace(" ", "")))
    assert len(shortest.replace(" ", "")) >= SHORTEST, shortest


def test_wheel_holds_no_answers(wheel):
    """No line of a solution, hidden test, hidden.py or buggy.py is in any file of the wheel
    (built as student-kit builds it: pip wheel on a copy of this checkout)."""
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    assert "minigrad/__init__.py" in names and "autograder/studentkit.py" in names, names
    assert not [n for n in names if n.startswith("notebooks/") or n.endswith(".ipynb")]
    leaks = leaked_lines(wheel)
    assert not leaks, f"{len(leaks)} answer line(s) in {wheel.name}:\n" + "\n".join(leaks[:20])


def test_engine_lines_are_in_the_wheel(wheel):
    """Each line let through as the engine's own is in the engine (else it is dropped here)."""
    with zipfile.ZipFile(wheel) as archive:
        keys = {_key(line) for name in archive.namelist() if name.endswith(".py")
                for line in archive.read(name).decode().splitlines()}
    assert not ENGINE_LINES - keys, ENGINE_LINES - keys


def test_leak_check_finds_a_notebook_put_into_the_package(tmp_path):
    """A notebook source copied into a package folder of the project is reported."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("pyproject.toml", "README.md"):
        (project / name).write_bytes((ROOT / name).read_bytes())
    for package in ("minigrad", "autograder"):
        subprocess.run(["cp", "-r", str(ROOT / package), str(project / package)], check=True)
    source = NOTEBOOKS / "a1_scalar_graphs" / "a1_scalar_graphs.py"
    (project / "autograder" / "a1_copy.py").write_text(source.read_text())
    leaks = leaked_lines(build_wheel(project, tmp_path / "wheel"))
    assert any(leak.startswith("autograder/a1_copy.py: ") for leak in leaks), leaks[:5]


def test_leak_check_finds_a_written_answer_in_a_notebook(tmp_path):
    """A notebook holding a line of a written answer's model answer, or its rubric, in a
    zip is reported; the released stub is not."""
    [(line, source)] = [(k, p) for k, p in answer_lines().items()
                        if k.startswith("`np.max(p, 0)` is a reduction along axis 0")]
    assert source.name == "a2_vectorized.py"
    cells = [{"cell_type": "markdown", "metadata": {}, "source": ["YOUR ANSWER HERE"]},
             {"cell_type": "markdown", "metadata": {}, "source": ["intro\n", line + "\n"]},
             {"cell_type": "markdown", "source": "x",
              "metadata": {"rubric": [{"points": 1, "criterion": "names the axis"}]}}]
    kit = tmp_path / "kit.zip"
    with zipfile.ZipFile(kit, "w") as archive:
        archive.writestr("a2/a2.ipynb", json.dumps({"cells": cells}))
    leaks = leaked_lines(kit)
    assert leaks == [f"a2/a2.ipynb: {line} (from notebooks/a2_vectorized/a2_vectorized.py)",
                     "a2/a2.ipynb: (a rubric) names the axis"]


def test_build_wheel_needs_a_project(tmp_path):
    """build_wheel on a folder without pyproject.toml says what it needs."""
    with pytest.raises(PipelineError, match="no pyproject.toml in"):
        build_wheel(tmp_path, tmp_path / "out")


# --- the kit in a fresh virtual environment ------------------------------------------------


# Run by the fresh venv's Python in the unpacked kit folder: every notebook with nbclient
# (errors allowed), then what the kernel imports minigrad from; prints one JSON document.
RUNNER = """
import json, sys
from pathlib import Path
import nbclient, nbformat

report = {"notebooks": {}}
for path in sorted(Path(".").glob("*.ipynb")):
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": "."}}).execute()
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        meta = cell.metadata.get("nbgrader", {})
        errors = [{k: o.get(k) for k in ("ename", "evalue", "traceback")}
                  for o in cell.outputs if o.output_type == "error"]
        cells.append({"test": bool(meta.get("grade")) and not meta.get("solution"),
                      "id": meta.get("grade_id", ""), "errors": errors})
    report["notebooks"][path.name] = cells
probe = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
    "import minigrad, sys; print(minigrad.__file__); print(sys.executable)")])
nbclient.NotebookClient(probe, kernel_name="python3").execute()
report["kernel"] = probe.cells[0].outputs[0]["text"].split()
print(json.dumps(report))
"""


def _run(cmd: list, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{done.stdout}{done.stderr}"
    return done


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Path:
    """A scratch course, built and released."""
    course = tmp_path_factory.mktemp("course") / "course"
    for command in (["build"], ["release"]):
        _run([sys.executable, "-m", "autograder", *command, "--course-dir", course], cwd=ROOT)
    return course


@pytest.fixture(scope="module")
def kits(course) -> list[Path]:
    """One kit zip per assignment, made by the commands an instructor runs."""
    out = course.parent / "kits"
    _run([sys.executable, "-m", "autograder", "student-kit", "--out", out, "--course-dir",
          course], cwd=ROOT)
    return sorted(out.glob("*.zip"))


def test_student_kit_writes_the_chosen_assignments_into_the_course(course):
    """student-kit a2_vectorized writes only course/student-kit/a2_vectorized.zip."""
    done = _run([sys.executable, "-m", "autograder", "student-kit", "a2_vectorized",
                 "--course-dir", course], cwd=ROOT)
    assert sorted(p.name for p in (course / "student-kit").iterdir()) == ["a2_vectorized.zip"]
    assert f"wrote {course / 'student-kit' / 'a2_vectorized.zip'}" in done.stdout


def test_student_kit_needs_a_release(tmp_path):
    """student-kit before release says to run release."""
    course = tmp_path / "course"
    _run([sys.executable, "-m", "autograder", "build", "--course-dir", course], cwd=ROOT)
    done = subprocess.run([sys.executable, "-m", "autograder", "student-kit", "--course-dir",
                           str(course)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 1
    assert "no released notebooks for any assignment" in done.stderr
    assert "run `python -m autograder release` first" in done.stderr


def test_kit_zips_hold_the_release_a_readme_and_the_wheel(kits):
    """Each zip: the released notebooks, README.txt with the pip line, the wheel; no answers."""
    assert [k.stem for k in kits] == sorted(p.name for p in NOTEBOOKS.iterdir() if p.is_dir())
    for kit in kits:
        with zipfile.ZipFile(kit) as archive:
            names = archive.namelist()
            wheels = [n for n in names if n.endswith(".whl")]
            assert len(wheels) == 1, names
            wheel_name = Path(wheels[0]).name
            assert wheel_name.startswith("minigrad_course-") and wheel_name.endswith(
                "-py3-none-any.whl")
            readme = archive.read(f"{kit.stem}/README.txt").decode()
            assert f"pip install ./{wheel_name}" in readme
            assert "Validate" in readme and "jupyter lab" in readme
            notebooks = [n for n in names if n.endswith(".ipynb")]
            assert notebooks == [f"{kit.stem}/{kit.stem}.ipynb"], names
            text = archive.read(notebooks[0]).decode()
            assert "BEGIN SOLUTION" not in text and "BEGIN HIDDEN TESTS" not in text
            assert "raise NotImplementedError()" in text
            leaks = leaked_lines(kit)  # the zip's text files: notebook and README
            assert not leaks, leaks[:10]


def _fresh_venv(where: Path, wheel: Path) -> Path:
    """A new venv with only the kit's wheel installed in it; the project's dependencies are
    found through a .pth line naming this interpreter's site-packages (no download), whose
    own .pth files (the project's editable install) are not run. Returns its python."""
    _run([sys.executable, "-m", "venv", "--without-pip", where])
    python = where / "bin" / "python"
    # pip runs against the new venv before the .pth exists, so it sees nothing installed
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps",
          "--no-index", "--quiet", wheel])
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    (Path(site.stdout.strip()) / "project_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n")
    _run([python, "-m", "ipykernel", "install", "--sys-prefix", "--name", "python3"])
    return python


@pytest.mark.slow
def test_student_uses_the_kit_in_a_fresh_venv(kits, tmp_path):
    """In a fresh venv with only the wheel: every blank notebook runs, every test cell fails
    with a readable message, nothing from the kit crashes, and validate says it failed."""
    if sys.platform == "win32":
        pytest.skip("the fresh venv is driven through bin/python (POSIX layout)")
    try:
        import venv  # noqa: F401
    except ImportError:
        pytest.skip("this Python has no venv module")
    home = tmp_path / "home"
    home.mkdir()
    work = tmp_path / "kits"
    for kit in kits:
        with zipfile.ZipFile(kit) as archive:
            archive.extractall(work)
    wheel = next(work.glob("*/*.whl"))
    python = _fresh_venv(tmp_path / "venv", wheel)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("JUPYTER", "PYTHON", "COVERAGE", "VIRTUAL_ENV"))}
    env.update(HOME=str(home), PATH=f"{python.parent}{os.pathsep}{env.get('PATH', '')}",
               PYDEVD_DISABLE_FILE_VALIDATION="1")

    where = _run([python, "-c", "import minigrad, autograder; "
                  "print(minigrad.__file__); print(autograder.__file__)"], env=env, cwd=home)
    for path in where.stdout.split():
        assert path.startswith(str(tmp_path / "venv")), where.stdout

    problems = []
    for folder in sorted(p for p in work.iterdir() if p.is_dir()):
        report = json.loads(_run([python, "-c", RUNNER], env=env, cwd=folder).stdout)
        assert report["kernel"][0].startswith(str(tmp_path / "venv")), report["kernel"]
        for name, cells in report["notebooks"].items():
            tests = [c for c in cells if c["test"]]
            assert tests, f"{name} has no test cell"
            for cell in cells:
                if cell["test"] and not cell["errors"]:
                    problems.append(f"{name} {cell['id']}: passes on the blank notebook")
                for error in cell["errors"]:
                    why = unreadable(error, cell["test"])
                    if why:
                        problems.append(f"{name} {cell['id'] or '(code cell)'}: {why}")
            done = subprocess.run([python, "-m", "nbgrader", "validate", name],
                                  capture_output=True, text=True, env=env, cwd=folder)
            said = done.stdout + done.stderr
            if "VALIDATION FAILED" not in said:
                problems.append(f"nbgrader validate {name} did not fail: {said[-500:]}")
            for marker in ("autograder/", "minigrad/", "site-packages"):  # a frame in the kit
                if marker in said:
                    problems.append(f"nbgrader validate {name} shows {marker!r}:\n{said[-800:]}")
    assert not problems, "\n".join(problems)
