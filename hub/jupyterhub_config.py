"""JupyterHub configuration of the course's hub, started by hub/hubctl.py.

Every setting that varies comes from settings.json in the state folder ($MINIGRAD_HUB_STATE),
which hubctl.py writes; every file the hub keeps lives in that folder, so a restart finds its
users, their servers' records and its cookie secret again.
"""

import json
import os
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
