"""A JupyterLab server of a test (tests/test_e2e.py, tests/test_manual_grading.py): the
command ``make lab`` or ``make grade-ui`` runs, with a private token, port, settings,
config, runtime and IPython folders under ``home``, started in its own process group."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course
from autograder.lab import lab_command, lab_environment

__all__ = ["Server", "free_port", "launch", "stop", "wait_until_up"]


@dataclass
class Server:
    """One JupyterLab server of the test."""

    url: str
    token: str
    process: subprocess.Popen
    log: Path

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(course: Course, home: Path, grader: bool = False,
           settings: dict[str, dict] | None = None, extra: list[str] = ()) -> Server:
    """Start ``lab_command(course, grader=grader)``; ``settings``: JupyterLab page settings
    (plugin id -> values) written into the server's private settings folder first."""
    for plugin, values in (settings or {}).items():
        path = home / "settings" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))
    token = secrets.token_hex(16)
    port = free_port()
    cmd = lab_command(course, port=port, grader=grader) + [
        f"--IdentityProvider.token={token}",
        "--ServerApp.port_retries=0",
        f"--LabApp.user_settings_dir={home / 'settings'}",
        f"--LabApp.workspaces_dir={home / 'workspaces'}",
        *extra,
    ]
    env = lab_environment(course, grader=grader)
    for name, sub in (("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"),
                      ("IPYTHONDIR", "ipython")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    log = home / "server.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=str(course.course_dir), env=env,
                                   stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(f"http://127.0.0.1:{port}", token, process, log)


def wait_until_up(server: Server, seconds: float, path: str = "/api/status") -> None:
    """Return once ``path`` answers; RuntimeError with the log's tail when the server exits
    or does not answer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(
                f"JupyterLab exited with {server.process.returncode}: {server.tail()}")
        request = urllib.request.Request(server.url + path, headers=server.headers)
        try:
            with urllib.request.urlopen(request, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer in {seconds:g} s: {server.tail()}")


def stop(server: Server) -> None:
    """Stop the server and the kernels it started (its process group)."""
    if server.process.poll() is None:
        try:
            os.killpg(server.process.pid, signal.SIGTERM)
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()
        except ProcessLookupError:
            pass
