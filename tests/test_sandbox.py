"""Tests for the kernel sandbox and launcher (autograder.sandbox): what the plan hides and
shows, the bwrap command line, the submission's files copied without following links, the
launcher's limits, and sandbox_status's reasons."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import sandbox
from autograder.records import KernelPlan
from autograder.sandbox import (
    KERNEL_WORK,
    bwrap_command,
    file_kind,
    kernel_plan,
    remove_cgroup,
    sandbox_status,
    submission_files,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def course(tmp_path):
    """A course folder with a gradebook, a notebooks folder, a submission and a run folder."""
    course_dir = tmp_path / "course"
    work = course_dir / "autograded" / "ann" / "a1"
    work.mkdir(parents=True)
    (course_dir / "gradebook.db").write_text("")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "staged").mkdir()
    return tmp_path


def _plan(root: Path, **kwargs) -> KernelPlan:
    options = dict(course_dir=root / "course", notebooks_dir=root / "notebooks",
                   submission_dir=root / "course" / "autograded" / "ann" / "a1",
                   run_dir=root / "run", db_url=f"sqlite:///{root}/course/gradebook.db",
                   extra_hidden=(str(root / "staged"),), memory_mb=512, cpu_seconds=30)
    options.update(kwargs)
    return kernel_plan(**options)


def _under(path: Path, folders) -> bool:
    real = os.path.realpath(path)
    return any(real == f or real.startswith(f.rstrip("/") + "/") for f in folders)


def test_plan_round_trips_as_json(course):
    """The plan the worker writes is the plan the launcher reads."""
    plan = _plan(course)
    assert KernelPlan.from_json(plan.to_json()) == plan
    assert (plan.memory_mb, plan.cpu_seconds, plan.sandbox) == (512, 30, True)


def test_plan_hides_the_course_and_shows_the_python(course):
    """The course, the sources, the staged copy and home are hidden; Python and the packages
    the kernel imports are shown read-only, none of them inside a hidden secret."""
    plan = _plan(course)
    for secret in ("course", "notebooks", "staged"):
        assert _under(course / secret, plan.hidden), secret
    assert _under(Path.home(), plan.hidden)
    assert _under(Path(sys.executable).parent, plan.read_only)
    assert not any(_under(Path(p), [os.path.realpath(course / "course")])
                   for p in plan.read_only)
    assert plan.writable == [os.path.realpath(course / "run")]
    assert plan.env["HOME"] == "/tmp/home" and "MINIGRAD_GRADEBOOK_URL" not in plan.env


def test_bwrap_command_hides_the_course_folders(course):
    """Every hidden folder gets an empty read-only tmpfs; only the socket folder is bound
    writable; the kernel starts in its own copy of the work files with a clean environment."""
    plan = _plan(course)
    argv = bwrap_command(plan, ["python", "-m", "ipykernel_launcher"], [("sub/x.txt", 7)])
    tmpfs = [argv[i + 1] for i, a in enumerate(argv) if a == "--tmpfs"]
    remounted = [argv[i + 1] for i, a in enumerate(argv) if a == "--remount-ro"]
    for folder in plan.hidden:
        assert folder in tmpfs
        assert folder == "/tmp" or folder in remounted
    assert _under(course / "course", tmpfs) and _under(course / "notebooks", tmpfs)
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"] == plan.writable
    assert argv[argv.index("--file") + 1:argv.index("--file") + 3] == [
        "7", f"{KERNEL_WORK}/sub/x.txt"]
    assert f"{KERNEL_WORK}/sub" in argv and argv[argv.index("--chdir") + 1] == KERNEL_WORK
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert flag in argv
    assert argv[-4:] == ["--", "python", "-m", "ipykernel_launcher"]


def test_a_gradebook_outside_the_hidden_folders_is_blanked(tmp_path, course):
    """A sqlite gradebook the hidden folders do not cover is covered by an empty file."""
    outside = Path("/var/cache") if os.access("/var/cache", os.W_OK) else None
    if outside is None:
        pytest.skip("no writable folder outside the hidden ones")
    db = outside / f"gradebook-test-{os.getpid()}.db"
    db.write_text("")
    try:
        plan = _plan(course, db_url=f"sqlite:///{db}")
        assert plan.blank_files == [str(db)]
        argv = bwrap_command(plan, ["k"])
        assert ["--ro-bind", "/dev/null", str(db)] == argv[argv.index(str(db)) - 2:
                                                          argv.index(str(db)) + 1]
    finally:
        db.unlink()


def test_submission_files_refuses_links_and_special_files(tmp_path):
    """Only regular files are opened; links, pipes and files past the limits are refused and
    named; nested folders are walked."""
    folder = tmp_path / "sub"
    (folder / "data").mkdir(parents=True)
    (folder / "a.ipynb").write_text("{}")
    (folder / "data" / "b.txt").write_text("b")
    (folder / "link.txt").symlink_to(tmp_path / "secret.txt")
    (tmp_path / "secret.txt").write_text("secret")
    (folder / "dirlink").symlink_to(tmp_path)
    os.mkfifo(folder / "pipe")
    refused: list[str] = []
    files = submission_files(str(folder), refused=refused)
    try:
        assert sorted(rel for rel, _ in files) == ["a.ipynb", "data/b.txt"]
        contents = {rel: os.pread(fd, 100, 0) for rel, fd in files}
        assert contents == {"a.ipynb": b"{}", "data/b.txt": b"b"}
    finally:
        for _, fd in files:
            os.close(fd)
    assert sorted(refused) == ["dirlink: a link, refused and not followed",
                               "link.txt: a link, refused and not followed",
                               "pipe: a named pipe, refused and not followed"]
    refused.clear()
    files = submission_files(str(folder), limit_files=1, refused=refused)
    for _, fd in files:
        os.close(fd)
    assert len(files) == 1 and "over the limit of 1 files" in refused[-1]
    refused.clear()
    assert submission_files(str(tmp_path / "missing"), refused=refused) == []
    assert refused and refused[0].startswith(".: cannot be read")


def test_file_kind_names_what_a_file_is(tmp_path):
    """Messages name a link, a pipe, a folder or a regular file."""
    (tmp_path / "f").write_text("")
    (tmp_path / "l").symlink_to(tmp_path / "f")
    os.mkfifo(tmp_path / "p")
    kinds = {name: file_kind(os.lstat(tmp_path / name).st_mode) for name in ("f", "l", "p")}
    assert kinds == {"f": "a regular file", "l": "a link", "p": "a named pipe"}
    assert file_kind(os.lstat(tmp_path).st_mode) == "a folder"
    assert file_kind(os.lstat("/dev/null").st_mode) == "a device"


def test_unsandboxed_launcher_copies_files_and_sets_limits(course):
    """Without bwrap the launcher runs the kernel in a copy of the regular files, under the
    plan's memory and CPU limits, with no gradebook URL in its environment."""
    root = course
    work = root / "course" / "autograded" / "ann" / "a1"
    (work / "a1.ipynb").write_text("{}")
    (work / "link").symlink_to(root / "course" / "gradebook.db")
    fake = root / "fake-python"
    fake.write_text("#!/bin/sh\n"
                    "{ pwd; ls; ulimit -v; ulimit -t; echo \"args $*\"; "
                    "echo \"db ${MINIGRAD_GRADEBOOK_URL:-none}\"; } > \"$0.out\"\n")
    fake.chmod(0o755)
    plan = _plan(root, sandbox=False, memory_mb=600, cpu_seconds=40, max_processes=0)
    plan_path = root / "plan.json"
    plan_path.write_text(KernelPlan(**{**plan.__dict__, "python": str(fake)}).to_json())
    env = {**os.environ, "MINIGRAD_GRADEBOOK_URL": "postgresql://u:secret@h/db"}
    done = subprocess.run([sys.executable, "-I", "-m", "autograder.sandbox", str(plan_path),
                           "conn.json", "--extra"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    cwd, listing, vmem, cpu, args, db = (root / "fake-python.out").read_text().splitlines()
    assert Path(cwd).parent == Path(plan.run_dir) and listing == "a1.ipynb"
    assert int(vmem) == 600 * 1024 and int(cpu) == 40
    assert args == "args -I -m ipykernel_launcher -f conn.json --extra"
    assert db == "db none"
    assert (root / "run" / "limits.txt").read_text() == "processes: none\n"


def test_launcher_usage(capsys):
    """The launcher without a plan and a connection file is a usage error."""
    assert sandbox.main([]) == 2
    assert "usage: python -m autograder.sandbox PLAN.json" in capsys.readouterr().err


def test_remove_cgroup_without_one_is_quiet(course):
    """Removing a cgroup that was never made raises nothing."""
    remove_cgroup(_plan(course, max_processes=0))


@pytest.fixture
def fresh_status():
    sandbox_status.cache_clear()
    yield
    sandbox_status.cache_clear()


def test_sandbox_status_without_bwrap(monkeypatch, fresh_status, tmp_path):
    """Where bwrap is not installed, the status says how to install it."""
    monkeypatch.setenv("PATH", str(tmp_path))
    state = sandbox_status()
    assert not state.available and "apt-get install bubblewrap" in state.detail


def test_sandbox_status_when_bwrap_fails(monkeypatch, fresh_status, tmp_path):
    """Where bwrap cannot make its namespaces, the status quotes its last error line."""
    fake = tmp_path / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace' >&2\n"
                    "exit 1\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}{os.pathsep}/usr/bin:/bin")
    state = sandbox_status()
    assert not state.available
    assert "No permissions to create new namespace" in state.detail
    assert "user namespaces may be disabled" in state.detail


def test_sandbox_status_is_cached(fresh_status):
    """The probe runs once per process."""
    assert sandbox_status() is sandbox_status()


def test_processes_are_capped_in_a_cgroup_or_by_rlimit(course):
    """The launcher caps its processes with a pids cgroup where it may make one (removed
    afterwards), else with RLIMIT_NPROC for a user other than root, and says which."""
    plan = _plan(course, max_processes=40)
    code = ("import resource, sys\n"
            "from autograder.records import KernelPlan\n"
            "from autograder.sandbox import limit_processes\n"
            "print(limit_processes(KernelPlan.from_json(sys.stdin.read())))\n"
            "print(resource.getrlimit(resource.RLIMIT_NPROC)[0])\n"
            "print(open('/proc/self/cgroup').read())\n")
    done = subprocess.run([sys.executable, "-I", "-c", code], input=plan.to_json(), cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    how, nproc, cgroups = done.stdout.split("\n", 2)
    if how.startswith("cgroup "):
        group = how.split()[1]
        assert how.endswith("pids.max=40") and plan.cgroup in cgroups
        assert Path(group, "pids.max").read_text().strip() == "40"
        remove_cgroup(plan)
        assert not Path(group).exists()
    elif how.startswith("RLIMIT_NPROC="):
        assert os.getuid() != 0 and how == f"RLIMIT_NPROC={nproc}"
    else:
        assert how == "none" and os.getuid() == 0
    assert sandbox.limit_processes(_plan(course, max_processes=0)) == "none"


class _Exec(Exception):
    """Raised in place of exec, with what would have been run."""


@pytest.fixture
def no_exec(monkeypatch):
    """The launcher's exec calls, caught with what it would become; the working folder it
    moves to is restored afterwards."""
    def catch(*args):
        raise _Exec(*args)

    monkeypatch.chdir(os.getcwd())
    monkeypatch.setattr(os, "execve", catch)
    monkeypatch.setattr(os, "execvp", catch)


# limits far above anything this test process uses: the launcher applies them to itself
_HIGH = dict(memory_mb=2**20, cpu_seconds=10**7, file_mb=2**20, max_processes=0)


@pytest.mark.parametrize("sandboxed", [False, True], ids=["direct", "bwrap"])
def test_launcher_execs_the_kernel(course, no_exec, sandboxed):
    """The launcher writes how it capped processes, then becomes the kernel: directly, in a
    copy of the regular files, or through bwrap with the files passed as descriptors."""
    work = course / "course" / "autograded" / "ann" / "a1"
    (work / "a1.ipynb").write_text("{}")
    (work / "link").symlink_to(course / "course" / "gradebook.db")
    plan = _plan(course, sandbox=sandboxed, **_HIGH)
    (course / "plan.json").write_text(plan.to_json())
    with pytest.raises(_Exec) as caught:
        sandbox.main([str(course / "plan.json"), "conn.json"])
    program, argv = caught.value.args[:2]
    assert (Path(plan.run_dir) / "limits.txt").read_text() == "processes: none\n"
    kernel = [sys.executable, "-I", "-m", "ipykernel_launcher", "-f", "conn.json"]
    if sandboxed:
        assert program == "bwrap" and argv[-len(kernel):] == kernel
        fd = int(argv[argv.index("--file") + 1])
        assert argv[argv.index("--file") + 2] == f"{KERNEL_WORK}/a1.ipynb"
        assert os.get_inheritable(fd) and os.pread(fd, 10, 0) == b"{}"
        os.close(fd)
    else:
        assert program == sys.executable and argv == kernel
        assert sorted(os.listdir(os.getcwd())) == ["a1.ipynb"]
        assert Path(os.getcwd()).parent == Path(plan.run_dir)
        assert "MINIGRAD_GRADEBOOK_URL" not in caught.value.args[2]
