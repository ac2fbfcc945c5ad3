"""The course's JupyterHub (hub/hubctl.py): students cannot read the course, each sees only the
student tools, and the hub's state survives a restart.

Runs as root where useradd, runuser and npm exist (it makes OS users, removed at the end, and
installs the hub's environment once); says why it is skipped elsewhere. With MINIGRAD_REQUIRE
naming hub (as .ci/run sets it) a skip is a failure.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
HUBCTL = ROOT / "hub" / "hubctl.py"
VENV = os.environ.get("MINIGRAD_HUB_VENV", "/opt/minigrad-hub/venv")
INSTRUCTOR = "mgtest-teacher"
PREFIX = "mgtest-student"
STUDENTS = [f"{PREFIX}1", f"{PREFIX}2"]
EXCHANGE = "/srv/nbgrader/exchange-mgtest"  # the hub's own is /srv/nbgrader/exchange

pytestmark = pytest.mark.slow


def _missing() -> str | None:
    if os.geteuid() != 0:
        return f"the hub makes OS users: needs root (running as uid {os.geteuid()})"
    for command in ("useradd", "userdel", "runuser", "npm", "git"):
        if not shutil.which(command):
            return f"the hub needs {command}, not found on PATH"
    return None


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub with one instructor and two students, on free ports, with a state folder of its own."""
    why = _missing()
    if why:
        if "hub" in os.environ.get("MINIGRAD_REQUIRE", "").split(","):
            pytest.fail(f"MINIGRAD_REQUIRE names hub, but {why}", pytrace=False)
        pytest.skip(why)
    state = tmp_path_factory.mktemp("hub") / "state"
    env = dict(os.environ, MINIGRAD_HUB_STATE=str(state))
    port = _free_port()
    hubctl = [sys.executable, str(HUBCTL)]
    options = ["--students", "2", "--instructor", INSTRUCTOR, "--student-prefix", PREFIX,
               "--port", str(port), "--ip", "127.0.0.1", "--exchange", EXCHANGE]

    def start():
        done = subprocess.run([*hubctl, "start", *options], env=env, capture_output=True,
                              text=True, timeout=900)
        assert done.returncode == 0, f"hubctl start failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def stop():
        done = subprocess.run([*hubctl, "stop"], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, f"hubctl stop failed:\n{done.stdout}\n{done.stderr}"

    def restart():
        done = subprocess.run([*hubctl, "restart"], env=env, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, f"hubctl restart failed:\n{done.stdout}\n{done.stderr}"

    info = {"state": state, "url": f"http://127.0.0.1:{port}", "start": start, "stop": stop,
            "restart": restart}
    try:
        info["printed"] = start()
        info["token"] = (state / "api_token").read_text().strip()
        yield info
    finally:
        subprocess.run([*hubctl, "stop"], env=env, capture_output=True, timeout=120)
        for name in [INSTRUCTOR, *STUDENTS]:
            subprocess.run(["userdel", "--remove", name], capture_output=True)
        shutil.rmtree(EXCHANGE, ignore_errors=True)


def _free_port() -> int:
    """A port p with p + 1 (the hub) and p + 2 (the proxy's API) free as well."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        if port < 65000 and all(_port_free(port + i) for i in (1, 2)):
            return port
    raise RuntimeError("no three consecutive free ports found")


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _api(hub, method: str, path: str, body: bytes | None = None):
    request = urllib.request.Request(hub["url"] + path, data=body, method=method,
                                     headers={"Authorization": f"token {hub['token']}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
        return response.status, text


def _start_server(hub, name: str) -> None:
    try:
        _api(hub, "POST", f"/hub/api/users/{name}/server")
    except urllib.error.HTTPError as error:
        assert error.code == 400, f"spawning {name}: HTTP {error.code} {error.read()[:500]!r}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        user = json.loads(_api(hub, "GET", f"/hub/api/users/{name}")[1])
        if user["servers"].get("", {}).get("ready"):
            return
        time.sleep(0.5)
    log = (hub["state"] / "jupyterhub.log").read_text()[-3000:]
    raise AssertionError(f"{name}'s server was not ready within 120 s; the hub's log ends:\n{log}")


def _processes_of(name: str) -> list[int]:
    uid = pwd.getpwnam(name).pw_uid
    return [int(p.name) for p in Path("/proc").iterdir()
            if p.name.isdigit() and _owner(p) == uid]


def _owner(path: Path) -> int | None:
    try:
        return path.stat().st_uid
    except FileNotFoundError:
        return None


def _secret_lines() -> list[str]:
    """The markers of solution and hidden-test regions, and code lines of every hidden.py that
    appear nowhere in what students are given (the notebooks without those regions)."""
    lines = ["### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"]
    public = "".join(
        re.sub(r"### BEGIN (SOLUTION|HIDDEN TESTS).*?### END \1", "", path.read_text(), flags=re.S)
        for path in ROOT.glob("notebooks/*/a*.py"))
    for hidden in sorted(ROOT.glob("notebooks/*/hidden.py")):
        code = [line.strip() for line in hidden.read_text().splitlines()
                if re.match(r"\s{4,}(return |[A-Za-z_][\w.]* ?= ?)\S.*\(", line)
                and len(line.strip()) > 30 and line.strip() not in public]
        assert code, f"no distinctive code line found in {hidden}"
        lines += code[:5]
    return lines


def _search(user: str, paths: list[str], patterns: list[str]) -> list[str]:
    """Files under paths that user can read and that hold one of patterns (grep -F)."""
    args = [arg for pattern in patterns for arg in ("-e", pattern)]
    done = subprocess.run(["runuser", "-u", user, "--", "grep", "-rlsFZ", *args, "--", *paths],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1, 2), done.stderr
    return [path for path in done.stdout.split("\0") if path]


def _as_student(name: str, script: str) -> None:
    done = subprocess.run(["runuser", "-u", name, "--", "bash", "-c",
                           f"cd && export PATH={VENV}/bin:$PATH && {script}"],
                          capture_output=True, text=True, timeout=300, cwd="/")
    assert done.returncode == 0, f"as {name}: {script}\n{done.stdout}\n{done.stderr}"


def test_students_cannot_read_solutions_hidden_tests_or_gradebook(hub):
    """As a student, a search of the homes, the exchange, the course and the temporary folders
    for solution and hidden-test lines, or another student's work, finds nothing; as root, it
    finds them in the course."""
    course = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / "minigrad-course"
    patterns = _secret_lines()
    assert _search("root", [str(course)], patterns), (
        f"the instructor's copy {course} should hold the solutions (the search finds nothing)")
    assert (course / "course" / "gradebook.db").exists(), "make hub built no course"
    # student 1 fetches a1 from the exchange and submits it with a line of their own
    mine = "work of mgtest-student1 only"
    _as_student(STUDENTS[0], "nbgrader fetch_assignment a1_scalar_graphs && "
                f"echo '{mine}' > a1_scalar_graphs/mine.txt && nbgrader submit a1_scalar_graphs")
    assert _search("root", [EXCHANGE], [mine]), "the submission did not reach the exchange"
    assert _search(STUDENTS[1], ["/home", EXCHANGE], [mine]) == [], (
        f"{STUDENTS[1]} can read {STUDENTS[0]}'s work")
    for student in STUDENTS:
        found = _search(student, ["/home", EXCHANGE, str(course)], patterns)
        assert found == [], f"{student} can read solution or hidden-test lines in: {found}"
    # temporary folders: every file the hub's accounts left there (others' files are not the
    # hub's to guard)
    owners = [arg for name in [INSTRUCTOR, *STUDENTS] for arg in ("-user", name, "-o")][:-1]
    left = subprocess.run(["find", "/tmp", "/var/tmp", "-xdev", "(", *owners, ")", "-type", "f",
                           "-print0"], capture_output=True, text=True).stdout.split("\0")[:-1]
    if left:
        found = _search(STUDENTS[0], left, patterns)
        assert found == [], f"{STUDENTS[0]} can read solution lines in temporary files: {found}"
    assert os.stat(EXCHANGE).st_mode & 0o7777 == 0o1777
    home = Path(pwd.getpwnam(STUDENTS[0]).pw_dir)
    assert home.stat().st_mode & 0o077 == 0, f"{home} is open to others"


def test_start_prints_the_url_and_every_login(hub):
    """make hub prints where to go and the password of every account."""
    printed = hub["printed"]
    assert hub["url"] in printed
    for name in [INSTRUCTOR, *STUDENTS]:
        assert re.search(rf"{name}\s+password \S+", printed), printed


def test_students_see_only_student_tools(hub):
    """A student's JupyterLab has nbgrader's formgrader, create-assignment and course list
    disabled (assignment list and validate on); the instructor's has them all."""
    for name, hidden in [(STUDENTS[0], True), (INSTRUCTOR, False)]:
        _start_server(hub, name)
        page = _api(hub, "GET", f"/user/{name}/lab")[1]
        config = json.loads(re.search(r'id="jupyter-config-data"[^>]*>(.*?)</script>', page,
                                      re.S).group(1))
        disabled = set(config.get("disabledExtensions", []))
        for tool in ("@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                     "@jupyter/nbgrader:course-list"):
            assert (tool in disabled) == hidden, f"{name}: {tool} disabled is {tool in disabled}"
        for tool in ("@jupyter/nbgrader:assignment-list",
                     "@jupyter/nbgrader:validate-assignment"):
            assert tool not in disabled, f"{name}: {tool} is disabled"
        try:
            status = _api(hub, "GET", f"/user/{name}/formgrader")[0]
        except urllib.error.HTTPError as error:
            status = error.code
        assert (status == 404) == hidden, f"{name}: /formgrader answered {status}"


def test_state_is_private_and_survives_a_restart(hub):
    """The hub's state folder is 0700; a restart keeps users' servers running and reachable;
    after stop (which ends the proxy and the users' servers) and start, the user, their record
    and their files are still there."""
    state = hub["state"]
    assert state.stat().st_mode & 0o777 == 0o700
    for name in ("jupyterhub.sqlite", "jupyterhub_cookie_secret", "proxy_token"):
        assert (state / name).exists(), f"{name} missing from the state folder"
    student = STUDENTS[1]
    _start_server(hub, student)
    body = json.dumps({"type": "file", "format": "text", "content": "kept\n"}).encode()
    _api(hub, "PUT", f"/user/{student}/api/contents/kept.txt", body)
    kept = Path(pwd.getpwnam(student).pw_dir) / "kept.txt"
    assert kept.read_text() == "kept\n"
    assert kept.stat().st_uid == pwd.getpwnam(student).pw_uid, "the server is not the student's"
    before = json.loads(_api(hub, "GET", f"/hub/api/users/{student}")[1])
    secret = (state / "jupyterhub_cookie_secret").read_bytes()

    running = _processes_of(student)
    assert running, f"no process of {student} while their server runs"
    hub["restart"]()
    assert _processes_of(student) == running, "the restart did not keep the student's server"
    status, text = _api(hub, "GET", f"/user/{student}/api/contents/kept.txt")
    assert json.loads(text)["content"] == "kept\n"

    hub["stop"]()
    assert _processes_of(student) == [], f"{student}'s server outlived the hub"
    assert not (state / "proxy.pid").exists() or not _alive(state / "proxy.pid")
    hub["start"]()

    after = json.loads(_api(hub, "GET", f"/hub/api/users/{student}")[1])
    assert after["created"] == before["created"]
    assert (state / "jupyterhub_cookie_secret").read_bytes() == secret
    _start_server(hub, student)
    status, text = _api(hub, "GET", f"/user/{student}/api/contents/kept.txt")
    assert json.loads(text)["content"] == "kept\n"


def _alive(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
        return True
    except (ValueError, ProcessLookupError):
        return False
