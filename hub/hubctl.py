"""Install, start and stop the course's JupyterHub on this machine (`make hub`, `make hub-stop`).

Run as root with the system python3 (standard library only):

    python3 hub/hubctl.py start --students 3    # install if needed, make the accounts, start
    python3 hub/hubctl.py stop                  # the hub, its proxy and every user's server
    python3 hub/hubctl.py restart               # the hub and proxy; users' servers carry on

What it sets up:
- a virtual environment for the hub and every user's server (default /opt/minigrad-hub/venv,
  readable by all), holding JupyterHub and the kit installed from this checkout as a wheel
  (no notebook sources in it); configurable-http-proxy from npm in hub/node_modules;
- real OS users with homes of their own (0700): one instructor and N students, logging in
  with PAM and a generated password each (a demo: the passwords are kept, root-only, in the
  state folder and printed at every start);
- nbgrader's exchange (default /srv/nbgrader/exchange, 1777 with the sticky bit);
- the instructor's copy of this checkout in ~instructor/minigrad-course (the course, the
  solutions, the hidden tests and the gradebook, in a home no student can enter);
- the hub's own state (database, cookie secret, proxy token, logs) in one folder
  (default hub/state, or $MINIGRAD_HUB_STATE), 0700, kept across restarts.
"""

from __future__ import annotations

import argparse
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HUB = Path(__file__).resolve().parent
CHECKOUT = HUB.parent
CONFIG = HUB / "jupyterhub_config.py"
PROXY = HUB / "node_modules" / ".bin" / "configurable-http-proxy"
COURSE_COPY = "minigrad-course"  # the instructor's copy of the checkout, in their home

# nbgrader's instructor tools: hidden for everyone in the hub's environment, shown to the
# instructor again by their own (user-level) Jupyter config.
INSTRUCTOR_LAB = ["@jupyter/nbgrader:formgrader", "@jupyter/nbgrader:create-assignment",
                  "@jupyter/nbgrader:course-list"]
INSTRUCTOR_SERVER = ["nbgrader.server_extensions.formgrader",
                     "nbgrader.server_extensions.course_list"]


def state_dir() -> Path:
    return Path(os.environ.get("MINIGRAD_HUB_STATE") or HUB / "state").resolve()


def run(*cmd, **kwargs):
    """Run ``cmd``, found on this process's PATH (``env`` may give the command another)."""
    cmd = [str(c) for c in cmd]
    return subprocess.run([shutil.which(cmd[0]) or cmd[0], *cmd[1:]], check=True, **kwargs)


NEEDED = ("useradd", "userdel", "chpasswd", "runuser", "npm", "git")


def missing() -> str | None:
    """Why the hub cannot be set up on this machine, or None."""
    if os.geteuid() != 0:
        return (f"the hub makes OS users and runs their servers: it must run as root "
                f"(got uid {os.geteuid()}); try: sudo make hub")
    absent = [c for c in NEEDED if not shutil.which(c)]
    if absent:
        return (f"the hub needs {', '.join(absent)} on PATH (not found); on Debian: "
                "apt-get install passwd util-linux npm git")
    return None


def require_root():
    why = missing()
    if why:
        raise SystemExit(why)


def free_port(host: str = "127.0.0.1") -> int:
    """A port p with p + 1 (the hub's own) and p + 2 (the proxy's API) free as well."""
    def free(port: int) -> bool:
        with socket.socket() as probe:
            try:
                probe.bind((host, port))
                return True
            except OSError:
                return False

    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = probe.getsockname()[1]
        if port < 65000 and free(port + 1) and free(port + 2):
            return port
    raise SystemExit(f"no three consecutive free ports found on {host}")


def private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def private_file(path: Path, text: str):
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text)


def checkout_commit() -> str:
    return subprocess.run(["git", "-C", str(CHECKOUT), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def course_id() -> str:
    text = (CHECKOUT / "course" / "nbgrader_config.py").read_text()
    return re.search(r'course_id\s*=\s*"([^"]+)"', text).group(1)


def base_python() -> str:
    """The interpreter under the hub's venv: users' servers run it, so not one in root's home."""
    system = "/usr/bin/python3"
    return os.environ.get("MINIGRAD_HUB_PYTHON") or (system if os.path.exists(system)
                                                     else sys.executable)


def install(venv: Path, exchange: Path):
    """The hub's environment and proxy (once), the instructor's tools hidden in it, the exchange."""
    if not (venv / "bin" / "jupyterhub-singleuser").exists():
        print(f"installing JupyterHub and the kit into {venv} (a few minutes, once)")
        run(base_python(), "-m", "venv", venv)
        if subprocess.run(["runuser", "-u", "nobody", "--", f"{venv}/bin/python", "-c", ""],
                          capture_output=True).returncode:
            shutil.rmtree(venv)
            raise SystemExit(f"every user must be able to run the hub's python; {base_python()} "
                             "is not runnable by user nobody: set MINIGRAD_HUB_PYTHON to a "
                             "python3 outside root's home (e.g. /usr/bin/python3)")
        run(venv / "bin" / "pip", "install", "--quiet", CHECKOUT, "jupyterhub")
    # the kit follows the checkout: reinstalled (a wheel again) when the commit changed
    stamp, commit = venv / "minigrad-commit", checkout_commit()
    if stamp.exists() and stamp.read_text() != commit:
        print(f"reinstalling the kit into {venv} from this checkout ({commit[:12]})")
        run(venv / "bin" / "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
            CHECKOUT)
    stamp.write_text(commit)
    if not PROXY.exists():
        print("installing configurable-http-proxy from npm into hub/node_modules")
        run("npm", "install", "--silent", "--no-save", "--no-package-lock", "--prefix", HUB,
            "configurable-http-proxy")
    etc = venv / "etc" / "jupyter"
    (etc / "labconfig").mkdir(parents=True, exist_ok=True)
    (etc / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {name: True for name in INSTRUCTOR_LAB}}, indent=1))
    (etc / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {name: False for name in INSTRUCTOR_SERVER}}},
        indent=1))
    exchange.mkdir(parents=True, exist_ok=True)
    exchange.chmod(0o1777)


def make_user(name: str, logins: dict, exchange: Path) -> None:
    """An OS user with a private home, and nbgrader's exchange and course in their config; the
    password is made here, once."""
    try:
        pwd.getpwnam(name)
        if name not in logins:
            raise SystemExit(f"user {name!r} exists but was not made by this hub (not in "
                             "logins.json of the state folder); pick other names with "
                             "--instructor/--student-prefix")
    except KeyError:
        run("useradd", "--create-home", "--shell", "/bin/bash", name)
        logins[name] = secrets.token_urlsafe(9)
        run("chpasswd", input=f"{name}:{logins[name]}\n".encode())
    home = Path(pwd.getpwnam(name).pw_dir)
    home.chmod(0o700)
    jupyter = home / ".jupyter"
    jupyter.mkdir(exist_ok=True)
    (jupyter / "nbgrader_config.py").write_text(
        "c = get_config()  # noqa: F821\n"
        f"c.CourseDirectory.course_id = {course_id()!r}\n"
        f"c.Exchange.root = {str(exchange)!r}\n")
    run("chown", "-R", f"{name}:{name}", jupyter)


def user_env(name: str, venv: str | Path) -> dict[str, str]:
    """A clean environment for a command run as ``name``, with the hub's venv first on PATH:
    nothing of the caller's environment (root's, or a test run's JUPYTER_PATH pointing into
    root's temporary folders) reaches it."""
    return {"HOME": pwd.getpwnam(name).pw_dir, "USER": name, "LOGNAME": name,
            "SHELL": "/bin/bash", "LANG": os.environ.get("LANG", "C.UTF-8"),
            "PATH": f"{venv}/bin:/usr/local/bin:/usr/bin:/bin"
            + (":/usr/local/sbin:/usr/sbin:/sbin" if name == "root" else "")}


def as_user(name: str, venv: Path, *cmd, **kwargs):
    return run("runuser", "-u", name, "--", *cmd, cwd="/", env=user_env(name, venv), **kwargs)


def setup_instructor(name: str, venv: Path, exchange: Path):
    """The instructor's copy of the checkout, their Jupyter config showing the course tools,
    and (once) every assignment built and released to the exchange."""
    home = Path(pwd.getpwnam(name).pw_dir)
    copy = home / COURSE_COPY
    if not copy.exists():
        copy.mkdir(mode=0o700)
        archive = subprocess.run(["git", "-C", str(CHECKOUT), "archive", "HEAD"],
                                 check=True, capture_output=True).stdout
        run("tar", "-x", "-C", copy, input=archive)
        run("chown", "-R", f"{name}:{name}", copy)
    jupyter = home / ".jupyter"
    (jupyter / "labconfig").mkdir(parents=True, exist_ok=True)
    (jupyter / "labconfig" / "page_config.json").write_text(json.dumps(
        {"disabledExtensions": {n: False for n in INSTRUCTOR_LAB}}, indent=1))
    (jupyter / "jupyter_server_config.json").write_text(json.dumps(
        {"ServerApp": {"jpserver_extensions": {n: True for n in INSTRUCTOR_SERVER}}}, indent=1))
    with open(jupyter / "nbgrader_config.py", "a") as config:
        config.write(f"c.CourseDirectory.root = {str(copy / 'course')!r}\n")
    run("chown", "-R", f"{name}:{name}", jupyter)
    if not (exchange / course_id()).exists():
        print(f"building the course as {name} and releasing it to the exchange {exchange}")
        script = (f"cd ~/{COURSE_COPY} && python -m autograder build && "
                  f"python -m autograder release --exchange --exchange-root {exchange}")
        as_user(name, venv, "bash", "-c", script, stdout=subprocess.DEVNULL)


def setup(args) -> dict:
    """Everything but the hub process: install, exchange, users, the state folder."""
    require_root()
    state = private_dir(state_dir())
    venv, exchange = Path(args.venv).resolve(), Path(args.exchange).resolve()
    install(venv, exchange)
    logins_file = state / "logins.json"
    logins = json.loads(logins_file.read_text()) if logins_file.exists() else {}
    students = [f"{args.student_prefix}{i}" for i in range(1, args.students + 1)]
    for name in [args.instructor, *students]:
        make_user(name, logins, exchange)
        private_file(logins_file, json.dumps(logins, indent=1))
    setup_instructor(args.instructor, venv, exchange)
    for name, content in [("proxy_token", secrets.token_hex(32)),
                          ("api_token", secrets.token_hex(32))]:
        if not (state / name).exists():
            private_file(state / name, content)
    settings = {"venv": str(venv), "exchange": str(exchange), "port": args.port,
                "ip": args.ip, "instructor": args.instructor, "students": students,
                "proxy": str(PROXY), "course_copy": COURSE_COPY}
    private_file(state / "settings.json", json.dumps(settings, indent=1))
    return settings


def alive(pid: int) -> bool:
    """Whether pid runs (a zombie, which only waits to be reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def hub_pid(state: Path) -> int | None:
    try:
        pid = int((state / "jupyterhub.pid").read_text())
    except (FileNotFoundError, ValueError):
        return None
    return pid if alive(pid) else None


def start(args):
    setup(args)
    launch(state_dir())


def launch(state: Path):
    """JupyterHub on the settings of the last setup, in the background; then the logins."""
    settings = json.loads((state / "settings.json").read_text())
    host = settings["ip"] if settings["ip"] not in ("", "0.0.0.0") else "127.0.0.1"
    url = f"http://{host}:{settings['port']}"
    if hub_pid(state) is not None:
        print("the hub was already running: accounts added now can log in after "
              "make hub-stop && make hub")
    else:
        # a clean environment: the hub and, through it, users' servers and the feedback
        # service get nothing of the caller's but what is set here
        env = dict(user_env("root", settings["venv"]), MINIGRAD_HUB_STATE=str(state))
        with open(state / "jupyterhub.log", "ab") as log:
            hub = subprocess.Popen([f"{settings['venv']}/bin/jupyterhub", "-f", str(CONFIG)],
                                   cwd=state, env=env, stdout=log, stderr=log,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/hub/health", timeout=2)
                break
            except OSError:
                if hub.poll() is not None or time.monotonic() > deadline:
                    tail = (state / "jupyterhub.log").read_text()[-3000:]
                    raise SystemExit(
                        f"JupyterHub did not answer at {url} within 60 s (exit code "
                        f"{hub.poll()}); its log ends:\n{tail}") from None
                time.sleep(0.5)
    logins = json.loads((state / "logins.json").read_text())
    print(f"JupyterHub is up: {url}   (state in {state}; stop with: make hub-stop)")
    print(f"  instructor  {settings['instructor']:<12} password {logins[settings['instructor']]}")
    for name in settings["students"]:
        print(f"  student     {name:<12} password {logins[name]}")


def hub_api(state: Path, method: str, path: str):
    """One call to the hub's REST API, straight to the hub (not through the proxy)."""
    settings = json.loads((state / "settings.json").read_text())
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings['port'] + 1}/hub/api{path}", method=method,
        headers={"Authorization": f"token {(state / 'api_token').read_text().strip()}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        body = response.read()
    return json.loads(body) if body else None


def stop_servers(state: Path):
    """Every user's server, stopped through the hub (which keeps their records)."""
    for user in hub_api(state, "GET", "/users?state=active"):
        hub_api(state, "DELETE", f"/users/{user['name']}/server")
    deadline = time.monotonic() + 60
    while hub_api(state, "GET", "/users?state=active"):
        if time.monotonic() > deadline:
            raise SystemExit("users' servers still run 60 s after the hub was asked to stop them")
        time.sleep(0.3)


def stop(_args, servers: bool = True):
    """The users' servers (unless servers is False), then the hub, which stops its proxy."""
    state = state_dir()
    pid = hub_pid(state)
    if pid is None:
        print("no hub is running (no live pid in jupyterhub.pid of the state folder)")
    else:
        if servers:
            stop_servers(state)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 60
        while alive(pid):
            if time.monotonic() > deadline:
                raise SystemExit(f"JupyterHub (pid {pid}) still runs 60 s after SIGTERM")
            time.sleep(0.3)
    proxy = state / "proxy.pid"
    if proxy.exists():  # left by a hub that was killed rather than stopped
        try:
            os.kill(int(proxy.read_text()), signal.SIGTERM)
        except (ValueError, ProcessLookupError):
            pass
        proxy.unlink(missing_ok=True)
    print("the hub and its proxy are stopped" + (", and the users' servers" if servers else
                                                 "; the users' servers still run"))


def restart(args):
    """The hub and its proxy anew, as last set up; users' servers carry on and are found again."""
    if not (state_dir() / "settings.json").exists():
        raise SystemExit(f"no hub was set up with the state folder {state_dir()}: make hub")
    stop(args, servers=False)
    launch(state_dir())


def main(argv=None):
    parser = argparse.ArgumentParser(prog="hubctl", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func in [("setup", setup), ("start", start), ("stop", stop),
                       ("restart", restart)]:
        cmd = sub.add_parser(name)
        cmd.set_defaults(func=func)
        if name in ("stop", "restart"):
            continue
        cmd.add_argument("--students", type=int, default=3)
        cmd.add_argument("--instructor", default="instructor")
        cmd.add_argument("--student-prefix", default="student")
        cmd.add_argument("--port", type=int, default=8000)
        cmd.add_argument("--ip", default="", help="address to listen on (default: all)")
        cmd.add_argument("--venv", default=os.environ.get("MINIGRAD_HUB_VENV",
                                                          "/opt/minigrad-hub/venv"))
        cmd.add_argument("--exchange", default="/srv/nbgrader/exchange")
    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
