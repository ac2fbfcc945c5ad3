"""JupyterHub configuration of the course's hub, started by hub/hubctl.py.

Every setting that varies comes from settings.json in the state folder ($MINIGRAD_HUB_STATE),
which hubctl.py writes; every file the hub keeps lives in that folder, so a restart finds its
users, their servers' records and its cookie secret again.
"""

import json
import os
import pwd
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when it loads this file)

state = Path(os.environ["MINIGRAD_HUB_STATE"])
settings = json.loads((state / "settings.json").read_text())
port = settings["port"]

# --- where it listens, where it keeps its state ----------------------------------------------
c.JupyterHub.bind_url = f"http://{settings['ip']}:{port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{port + 1}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{port + 2}"
c.JupyterHub.db_url = f"sqlite:///{state / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(state / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(state / "jupyterhub.pid")
c.ConfigurableHTTPProxy.auth_token = (state / "proxy_token").read_text().strip()
c.ConfigurableHTTPProxy.pid_file = str(state / "proxy.pid")
c.ConfigurableHTTPProxy.command = [settings["proxy"]]
# Stopping the hub stops its proxy but not the users' servers: a restarted hub finds them
# again (their pids are in the database). `hubctl.py stop` stops them first, through the API.
c.JupyterHub.cleanup_servers = False
c.JupyterHub.cleanup_proxy = True

# --- who logs in: real OS users, by PAM, only the course's accounts ---------------------------
c.JupyterHub.authenticator_class = "pam"
c.PAMAuthenticator.open_sessions = False
c.Authenticator.allowed_users = {settings["instructor"], *settings["students"]}
c.Authenticator.admin_users = {settings["instructor"]}

# --- each user's server: a process of that OS user, in their home ----------------------------
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [f"{settings['venv']}/bin/jupyterhub-singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = {"PATH": f"{settings['venv']}/bin:/usr/local/bin:/usr/bin:/bin"}
c.Spawner.http_timeout = 60
c.Spawner.start_timeout = 60

# --- the token hubctl.py and the tests use to drive the hub's REST API -------------------------
c.JupyterHub.services = [
    {"name": "hubctl", "api_token": (state / "api_token").read_text().strip()},
]
c.JupyterHub.load_roles = [
    {"name": "hubctl", "services": ["hubctl"],
     "scopes": ["admin:users", "admin:servers", "access:servers", "list:users"]},
]

# --- feedback on submission: the kit's grader, as the instructor, watching the exchange --------
# The hub starts it and restarts it if it dies; it runs as the instructor's OS user (who owns
# the course, the solutions and the gradebook), grades each new submission once (the ledger
# course/feedback-service.jsonl survives restarts) and releases the feedback to its student.
instructor = pwd.getpwnam(settings["instructor"])
course_copy = Path(instructor.pw_dir) / settings["course_copy"]
c.JupyterHub.services.append({
    "name": "feedback",
    "user": instructor.pw_name,
    # the course folder, not the copy's root: `-m autograder` must load the kit installed in
    # the hub's venv, not the autograder/ folder of the instructor's copy
    "cwd": str(course_copy / "course"),
    "command": [f"{settings['venv']}/bin/python", "-m", "autograder", "serve-feedback",
                "--course-dir", str(course_copy / "course"),
                "--exchange-root", settings["exchange"],
                "--every", str(settings.get("feedback_every", 5))],
    "environment": {"HOME": instructor.pw_dir, "USER": instructor.pw_name,
                    "PATH": f"{settings['venv']}/bin:/usr/local/bin:/usr/bin:/bin",
                    "MPLBACKEND": "Agg"},
})
