"""Hub load: N students at once log in, start a server, run a1's solution and submit it.

One run starts a hub of its own with ``hub/hubctl.py start`` (a temporary state folder, its
own accounts ``mgload-teacher`` and ``mgload-student1..N``, the exchange
``/srv/nbgrader/exchange-mgload``, free ports on 127.0.0.1, the shared hub venv), and at the
end, on error or Ctrl-C too, stops it and removes those accounts (``userdel --remove``), that
exchange and the state folder.

Each simulated student, all N concurrently (asyncio, one HTTP client each, through the
hub's proxy as a browser would go):

- logs in with the login form (``_xsrf`` from the form, PAM password from the state folder's
  logins.json) and uses that cookie session for everything after, as JupyterLab does;
- starts their server (``POST /hub/api/users/{name}/server``, then the progress stream until
  ready): the server start time, which the hub's ``c.Spawner.start_timeout`` bounds;
- opens ``/user/{name}/lab`` (the OAuth hand-shake that gives the server's cookie), fetches
  a1 through nbgrader's assignment list (``POST /user/{name}/assignments/fetch``), and puts
  the solution-filled notebook in place of the fetched one (contents API);
- memory while idle: PSS (and RSS) summed over every process of that OS user;
- starts a kernel and runs every code cell over the kernel's websocket, one
  ``execute_request`` at a time, each waited for; memory again (busy); shuts the kernel down;
- submits (``POST /user/{name}/assignments/submit``) and polls the assignment list until its
  submission has ``has_exchange_feedback``: the submit-to-feedback latency, from the submit
  request to the first listing that shows the feedback; then fetches the feedback. Each list
  call costs its server some CPU, shared with the grading: ``--poll`` sets how often.

The feedback service grades one submission at a time, so the latency is mostly queueing;
"feedback service" prints the time from the first submission to the last feedback over the
number of feedbacks (while students who submitted later still ran their cells).

The solution-filled notebook is the kit's ``sample-solution`` (``autograder.samples``) of the
notebook released to this hub's exchange. In the same run, before the students, a bare
``jupyter nbconvert --to notebook --execute`` of it (the hub's venv, as root in a temporary
folder) gives the time the latencies are divided by.

The feedback service's ledger (``~mgload-teacher/minigrad-course/course/
feedback-service.jsonl``) must end with one ``graded`` entry per student who submitted, and
nothing else. The service limits graded submissions per student, so each student submits once.

Run as root, with npm on PATH, as ``make hub`` needs (it skips, saying why, otherwise):

    sudo .venv/bin/python benchmarks/hub_load.py [--students 20]

Exit status 1 when a student could not finish, a submission was not graded, or one was graded
twice; timings are reported, not enforced.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import nbformat
import numpy as np
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect

from autograder.build import build
from autograder.course import default_paths
from autograder.samples import buggy_path, load_buggy, write_samples

ROOT = Path(__file__).resolve().parent.parent
HUBCTL = ROOT / "hub" / "hubctl.py"
sys.path.insert(0, str(HUBCTL.parent))
from hubctl import free_port, missing  # noqa: E402  (hub/hubctl.py: a script, stdlib only)

VENV = os.environ.get("MINIGRAD_HUB_VENV", "/opt/minigrad-hub/venv")
INSTRUCTOR = "mgload-teacher"
PREFIX = "mgload-student"
EXCHANGE = Path("/srv/nbgrader/exchange-mgload")
ASSIGNMENT = "a1_scalar_graphs"
LEDGER = Path("minigrad-course") / "course" / "feedback-service.jsonl"
CELL_TIMEOUT = 600.0


class Failure(Exception):
    """A step of a simulated student went wrong; the message says which and what was got."""


@dataclass
class Student:
    """What one simulated student measured (seconds, MB), and where it stopped if it did."""

    name: str
    login: float | None = None
    start: float | None = None
    idle: tuple[float, float] | None = None  # (PSS, RSS) of the user's processes
    busy: tuple[float, float] | None = None
    cells: int = 0
    run: float | None = None  # running every code cell
    submitted: bool = False
    latency: float | None = None
    submit_at: float | None = None  # perf_counter clock of the submit and of the feedback seen
    feedback_at: float | None = None
    error: str = ""


def pids_of(user: str) -> list[int]:
    """The live processes of ``user`` (zombies, which only wait to be reaped, left out)."""
    uid = pwd.getpwnam(user).pw_uid
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if (proc.name.isdigit() and proc.stat().st_uid == uid
                    and (proc / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"):
                found.append(int(proc.name))
        except (FileNotFoundError, ProcessLookupError):
            pass
    return found


def memory_of(user: str) -> tuple[float, float]:
    """(PSS, RSS) in MB summed over every process of ``user`` (Linux /proc)."""
    pss = rss = 0
    for pid in pids_of(user):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        pss += int(re.search(r"^Pss:\s+(\d+) kB", rollup, re.M).group(1))
        rss += int(re.search(r"^Rss:\s+(\d+) kB", rollup, re.M).group(1))
    return pss / 1024, rss / 1024


def solved_notebook(course_id: str, work: Path) -> Path:
    """The kit's solution-filled sample of the a1 notebook this hub released to its exchange."""
    _, notebooks = default_paths()
    source = work / "source"
    build(notebooks, source, [ASSIGNMENT], judge_dir=work / "judge")
    released = EXCHANGE / course_id / "outbound" / ASSIGNMENT
    written = write_samples(source / ASSIGNMENT, released, work / "samples",
                            load_buggy(buggy_path(notebooks, ASSIGNMENT)))
    [notebook] = sorted(written["sample-solution"].glob("*.ipynb"))
    return notebook


def bare_nbconvert(notebook: Path, work: Path) -> float:
    """Seconds of a bare ``jupyter nbconvert --to notebook --execute`` in the hub's venv."""
    folder = work / "bare"
    (folder / "home").mkdir(parents=True)
    shutil.copy(notebook, folder)
    env = {"PATH": f"{VENV}/bin:/usr/bin:/bin", "HOME": str(folder / "home"), "LANG": "C.UTF-8"}
    start = time.perf_counter()
    done = subprocess.run([f"{VENV}/bin/jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--output-dir", str(folder / "out"), notebook.name,
                           "--ExecutePreprocessor.timeout=600"],
                          cwd=folder, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"a bare nbconvert --execute of the solved {notebook.name} should pass "
                         f"(exit code {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


# -- one simulated student ---------------------------------------------------------------------

def _xsrf(http: httpx.AsyncClient, path: str) -> dict[str, str]:
    """The X-XSRFToken header for requests under ``path`` (the _xsrf cookie set for it)."""
    for cookie in http.cookies.jar:
        if cookie.name == "_xsrf" and cookie.path.rstrip("/") == path.rstrip("/"):
            return {"X-XSRFToken": cookie.value}
    names = sorted(c.name for c in http.cookies.jar)
    raise Failure(f"an _xsrf cookie for {path} should be set (cookies: {names})")


def _check(response: httpx.Response, what: str, codes=(200,)) -> httpx.Response:
    if response.status_code not in codes:
        raise Failure(f"{what} should answer {'/'.join(map(str, codes))} "
                      f"(got {response.status_code}: {response.text[:300]!r})")
    return response


def _listed(body: dict, status: str) -> list[dict]:
    if not body.get("success"):
        raise Failure(f"the assignment list failed: {str(body.get('value'))[-300:]}")
    return [a for a in body["value"] if a["assignment_id"] == ASSIGNMENT and a["status"] == status]


async def run_cells(url: str, http: httpx.AsyncClient, headers: dict, cells: list[str]) -> None:
    """Run ``cells`` in the kernel behind the websocket ``url``, each after the last replied."""
    request = httpx.Request("GET", url.replace("ws", "http", 1))
    http.cookies.set_cookie_header(request)
    connection = await websocket_connect(HTTPRequest(
        url, headers={**headers, "Cookie": request.headers["Cookie"]},
        connect_timeout=CELL_TIMEOUT, request_timeout=CELL_TIMEOUT),
        max_message_size=64 * 2**20)
    session = uuid.uuid4().hex
    try:
        for index, code in enumerate(cells):
            msg_id = uuid.uuid4().hex
            connection.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "session": session,
                           "username": "", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True,
                            "user_expressions": {}, "allow_stdin": False,
                            "stop_on_error": True}}))
            while True:
                raw = await asyncio.wait_for(connection.read_message(), CELL_TIMEOUT)
                if raw is None:
                    raise Failure(f"the kernel's websocket closed during code cell {index + 1}")
                if isinstance(raw, bytes):
                    continue
                message = json.loads(raw)
                if (message.get("msg_type") == "execute_reply"
                        and message["parent_header"].get("msg_id") == msg_id):
                    content = message["content"]
                    if content["status"] != "ok":
                        raise Failure(f"code cell {index + 1} should run without error (got "
                                      f"{content.get('ename')}: {content.get('evalue')})")
                    break
    finally:
        connection.close()


async def simulate(student: Student, url: str, password: str, course_id: str, notebook: dict,
                   poll: float, feedback_timeout: float) -> None:
    """One student's whole session; fills ``student`` as it goes, ``error`` where it stopped."""
    name = student.name
    ids = {"course_id": course_id, "assignment_id": ASSIGNMENT}
    cells = [cell.source for cell in nbformat.reads(json.dumps(notebook), as_version=4).cells
             if cell.cell_type == "code"]
    user = f"/user/{name}"
    step = "login"
    async with httpx.AsyncClient(base_url=url, timeout=300) as http:
        try:
            clock = time.perf_counter()
            page = _check(await http.get("/hub/login"), "GET /hub/login")
            token = re.search(r'name="_xsrf" value="([^"]+)"', page.text)
            if not token:
                raise Failure("the login page should hold an _xsrf form field (none found)")
            _check(await http.post("/hub/login", data={
                "username": name, "password": password, "_xsrf": token.group(1)}),
                f"the login of {name}", (302,))
            student.login = time.perf_counter() - clock

            step = "server start"
            clock = time.perf_counter()
            hub = _xsrf(http, "/hub/")
            spawn = _check(await http.post(f"/hub/api/users/{name}/server", headers=hub),
                           "POST server", (201, 202))
            if spawn.status_code == 202:
                ready = False
                async with http.stream("GET", f"/hub/api/users/{name}/server/progress",
                                       headers=hub) as events:
                    async for line in events.aiter_lines():
                        if line.startswith("data:"):
                            event = json.loads(line[5:])
                            if event.get("failed"):
                                raise Failure(f"the spawn failed: {event.get('message')}")
                            if event.get("ready"):
                                ready = True
                                break
                if not ready:
                    raise Failure("the progress stream ended before the server was ready")
            student.start = time.perf_counter() - clock

            step = "fetch"
            _check(await http.get(f"{user}/lab", follow_redirects=True), f"GET {user}/lab")
            headers = _xsrf(http, f"{user}/")
            listing = _check(await http.post(f"{user}/assignments/fetch", data=ids,
                                             headers=headers), "fetch").json()
            fetched = _listed(listing, "fetched")
            if not fetched or not fetched[0]["notebooks"]:
                raise Failure(f"after fetch the list should show {ASSIGNMENT} fetched (got "
                              f"{[(a['assignment_id'], a['status']) for a in listing['value']]})")
            path = fetched[0]["notebooks"][0]["path"]
            _check(await http.put(f"{user}/api/contents/{path}", headers=headers, json={
                "type": "notebook", "format": "json", "content": notebook}), "PUT notebook")
            student.idle = memory_of(name)

            step = "kernel"
            kernel = _check(await http.post(f"{user}/api/kernels", headers=headers, json={
                "name": "python3", "path": str(Path(path).parent)}), "POST kernel", (201,))
            kernel_id = kernel.json()["id"]
            ws = (url.replace("http", "ws", 1)
                  + f"{user}/api/kernels/{kernel_id}/channels?session_id={uuid.uuid4().hex}")
            clock = time.perf_counter()
            await run_cells(ws, http, {**headers, "Origin": url}, cells)
            student.run = time.perf_counter() - clock
            student.cells = len(cells)
            student.busy = memory_of(name)
            _check(await http.delete(f"{user}/api/kernels/{kernel_id}", headers=headers),
                   "DELETE kernel", (204,))

            step = "submit"
            clock = student.submit_at = time.perf_counter()
            body = _check(await http.post(f"{user}/assignments/submit", data=ids,
                                          headers=headers), "submit").json()
            if not _listed(body, "submitted"):
                raise Failure("after submit the list should show the submission (got none)")
            student.submitted = True

            step = "feedback"
            deadline = clock + feedback_timeout
            while True:
                body = _check(await http.get(f"{user}/assignments", params={"course_id": course_id},
                                             headers=headers), "the assignment list").json()
                submissions = [s for a in _listed(body, "submitted") for s in a["submissions"]]
                if submissions and submissions[-1]["has_exchange_feedback"]:
                    student.feedback_at = time.perf_counter()
                    student.latency = student.feedback_at - clock
                    break
                if time.perf_counter() > deadline:
                    raise Failure(f"no feedback in the exchange {feedback_timeout:.0f} s after "
                                  "the submission")
                await asyncio.sleep(poll)
            body = _check(await http.post(f"{user}/assignments/fetch_feedback", data=ids,
                                          headers=headers), "fetch_feedback").json()
            submissions = [s for a in _listed(body, "submitted") for s in a["submissions"]]
            if not submissions[-1]["has_local_feedback"]:
                raise Failure("after fetch_feedback the submission should have local feedback")
        except Exception as exc:  # noqa: BLE001  (one student's failure is reported, not fatal)
            student.error = f"{step}: {type(exc).__name__}: {exc}"


async def simulate_all(students: list[Student], url: str, logins: dict, course_id: str,
                       notebook: dict, poll: float, feedback_timeout: float) -> None:
    await asyncio.gather(*(simulate(s, url, logins[s.name], course_id, notebook, poll,
                                    feedback_timeout) for s in students))


# -- the hub of this run -----------------------------------------------------------------------

def hubctl(state: Path, *args: str, timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(HUBCTL), *args], capture_output=True, text=True,
                          env=dict(os.environ, MINIGRAD_HUB_STATE=str(state)), timeout=timeout)


def clean_up(state: Path) -> None:
    """Stop this run's hub, then remove its accounts (those its logins.json names) and exchange.

    A process of those accounts still alive 10 s after the hub has stopped every server (seen
    once: a kernel whose server was stopped while the kernel started) is ended by its pid and
    reported."""
    if (state / "settings.json").exists():
        done = hubctl(state, "stop", timeout=300)
        if done.returncode:
            print(f"hubctl stop failed (exit code {done.returncode}):\n{done.stdout}{done.stderr}")
    logins = state / "logins.json"
    names = json.loads(logins.read_text()) if logins.exists() else []
    deadline = time.monotonic() + 10  # children of a stopped server or service end on their own
    while any(pids_of(name) for name in names) and time.monotonic() < deadline:
        time.sleep(0.5)
    for name in names:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = pids_of(name)
            for pid in left:
                try:
                    args = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
                except FileNotFoundError:
                    continue
                print(f"{name}'s process {pid} outlived the hub's stop: sending {sig.name} "
                      f"({args.decode(errors='replace')[:200].strip()})")
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            if left:
                time.sleep(3)
        for _ in range(5):
            if not subprocess.run(["userdel", "--remove", name], capture_output=True).returncode:
                break
            time.sleep(2)  # a process of the user may still be ending
        else:
            print(f"userdel --remove {name} failed five times: remove the account by hand")
    shutil.rmtree(EXCHANGE, ignore_errors=True)


def ledger_verdict(students: list[Student], wait: float) -> tuple[int, list[str]]:
    """(graded count, problems) from the feedback service's ledger, once nothing is pending."""
    path = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / LEDGER
    deadline = time.monotonic() + wait
    while True:
        entries = ([json.loads(line) for line in path.read_text().splitlines() if line.strip()]
                   if path.exists() else [])
        pending = [e for e in entries if e["state"] in ("queued", "grading")]
        if not pending or time.monotonic() > deadline:
            break
        time.sleep(1)
    submitted = {s.name for s in students if s.submitted}
    problems = [f"{e['student']}: {e['state']}" + (f" ({e['note']})" if e.get("note") else "")
                for e in entries if e["state"] != "graded"]
    graded = [e["student"] for e in entries if e["state"] == "graded"]
    problems += [f"{name}: graded {graded.count(name)} times" for name in sorted(set(graded))
                 if graded.count(name) > 1]
    problems += [f"{name}: submitted, not in the ledger as graded"
                 for name in sorted(submitted - set(graded))]
    problems += [f"{name}: graded but never submitted by this run"
                 for name in sorted(set(graded) - submitted)]
    return len(graded), problems


def p50_p95(values: list[float]) -> tuple[float, float]:
    return float(np.percentile(values, 50)), float(np.percentile(values, 95))


def report(students: list[Student], bare: float, wall: float, total: float,
           graded: int, problems: list[str]) -> bool:
    """Print the table; True when every student finished and every submission was graded once."""
    n = len(students)
    failed = [s for s in students if s.error]
    rows = []

    def spread(label: str, values: list[float], unit: str, ratio: float | None = None):
        if not values:
            rows.append((label, "no value (every student failed before this step)"))
            return
        p50, p95 = p50_p95(values)
        text = f"p50 {p50:7.1f} {unit}  p95 {p95:7.1f} {unit}  ({len(values)} of {n})"
        if ratio:
            text += f"  = {p50 / ratio:.1f}x / {p95 / ratio:.1f}x the bare nbconvert"
        rows.append((label, text))

    def memory(label: str, values: list[tuple[float, float]]):
        if not values:
            rows.append((label, "no value"))
            return
        pss, rss = [v[0] for v in values], [v[1] for v in values]
        rows.append((label, f"PSS median {np.median(pss):6.0f} MB  max {max(pss):6.0f} MB;  "
                            f"RSS median {np.median(rss):.0f} MB  max {max(rss):.0f} MB"))

    spread("login", [s.login for s in students if s.login is not None], "s")
    spread("server start", [s.start for s in students if s.start is not None], "s")
    spread("run a1's code cells", [s.run for s in students if s.run is not None], "s")
    spread("submit -> feedback", [s.latency for s in students if s.latency is not None], "s",
           bare)
    cells = max(s.cells for s in students)
    rows.append(("bare nbconvert", f"{bare:.1f} s (the same notebook, {cells} code cells, alone, "
                                   "before the load)"))
    done = [s for s in students if s.feedback_at is not None]
    if done:
        span = max(s.feedback_at for s in done) - min(s.submit_at for s in done)
        rows.append(("feedback service", f"{len(done)} feedbacks in {span:.0f} s from the first "
                                         f"submission: {span / len(done):.1f} s each"))
    memory("memory, idle server", [s.idle for s in students if s.idle])
    memory("memory, busy server", [s.busy for s in students if s.busy])
    submitted = sum(s.submitted for s in students)
    ok = not failed and not problems and graded == submitted
    rows.append(("submissions", f"{submitted} submitted, {graded} graded "
                                f"({'each once' if ok else 'MISMATCH'})"))
    rows.append(("wall time", f"{wall:.0f} s for the students; {total:.0f} s with the hub's "
                              "set-up and the bare run"))
    print(f"\nN = {n} students at once; {os.cpu_count()} cores; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) after")
    width = max(len(label) for label, _ in rows)
    for label, text in rows:
        print(f"  {label:<{width}}  {text}")
    for s in failed:
        print(f"  FAILED {s.name} at {s.error}")
    for problem in problems:
        print(f"  LEDGER {problem}")
    print(f"target: graded == submitted, none twice, every student through: "
          f"{'met' if ok else 'MISSED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=20, help="students at once (default: 20)")
    parser.add_argument("--poll", type=float, default=2.0,
                        help="seconds between a student's assignment-list polls (default: 2)")
    parser.add_argument("--feedback-timeout", type=float, default=1800.0,
                        help="seconds a student waits for feedback after submitting "
                             "(default: 1800)")
    args = parser.parse_args(argv)
    if args.students < 1:
        parser.error(f"--students must be at least 1 (got {args.students})")
    why = missing()
    if why:
        print(f"hub_load: skipped: {why}")
        return 0
    names = [INSTRUCTOR, *(f"{PREFIX}{i}" for i in range(1, args.students + 1))]
    taken = []
    for name in names:
        try:
            pwd.getpwnam(name)
            taken.append(name)
        except KeyError:
            pass
    if taken or EXCHANGE.exists():
        raise SystemExit(
            f"this benchmark makes its own accounts and exchange, and they must not exist yet "
            f"(found: {', '.join(taken + ([str(EXCHANGE)] if EXCHANGE.exists() else []))}); "
            f"left by an interrupted run? remove them: userdel --remove NAME; rm -r {EXCHANGE}")

    def stop_on_term(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")  # the finally below cleans up

    signal.signal(signal.SIGTERM, stop_on_term)
    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="hub-load-"))
    state = work / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        done = hubctl(state, "start", "--students", str(args.students), "--instructor",
                      INSTRUCTOR, "--student-prefix", PREFIX, "--port", str(port), "--ip",
                      "127.0.0.1", "--exchange", str(EXCHANGE), timeout=1800)
        if done.returncode:
            print(f"hubctl start should succeed (exit code {done.returncode}):\n"
                  f"{done.stdout}{done.stderr}")
            return 1
        print(f"hub up at {url} after {time.perf_counter() - started:.0f} s "
              f"({args.students} students, state in {state})", flush=True)
        [course_id] = [d.name for d in EXCHANGE.iterdir() if d.is_dir()]
        solved = solved_notebook(course_id, work)
        bare = bare_nbconvert(solved, work)
        print(f"bare nbconvert --execute of the solved {solved.name}: {bare:.1f} s", flush=True)
        notebook = json.loads(solved.read_text())
        logins = json.loads((state / "logins.json").read_text())
        students = [Student(name) for name in names[1:]]
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min) "
              f"before the students", flush=True)
        clock = time.perf_counter()
        asyncio.run(simulate_all(students, url, logins, course_id, notebook, args.poll,
                                 args.feedback_timeout))
        wall = time.perf_counter() - clock
        graded, problems = ledger_verdict(students, wait=120)
        ok = report(students, bare, wall, time.perf_counter() - started, graded, problems)
        if any(s.error for s in students):
            log = (state / "jupyterhub.log").read_text().splitlines()[-40:]
            print("the hub's log ends:\n" + "\n".join(log))
        return 0 if ok else 1
    except KeyboardInterrupt:
        print("interrupted: stopping the hub and removing its accounts")
        return 130
    finally:
        clean_up(state)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
