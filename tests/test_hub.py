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
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, KERNEL_IDLE

ROOT = Path(__file__).resolve().parent.parent
HUBCTL = ROOT / "hub" / "hubctl.py"
sys.path.insert(0, str(HUBCTL.parent))
from hubctl import free_port, missing, user_env  # noqa: E402  (hub/hubctl.py: a script, stdlib only)

VENV = os.environ.get("MINIGRAD_HUB_VENV", "/opt/minigrad-hub/venv")
INSTRUCTOR = "mgtest-teacher"
PREFIX = "mgtest-student"
STUDENTS = [f"{PREFIX}1", f"{PREFIX}2"]
EXCHANGE = "/srv/nbgrader/exchange-mgtest"  # the hub's own is /srv/nbgrader/exchange

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    """A hub with one instructor and two students, on free ports, with a state folder of its own."""
    why = missing()
    if why:
        if "hub" in os.environ.get("MINIGRAD_REQUIRE", "").split(","):
            pytest.fail(f"MINIGRAD_REQUIRE names hub, but {why}", pytrace=False)
        pytest.skip(why)
    state = tmp_path_factory.mktemp("hub") / "state"
    env = dict(os.environ, MINIGRAD_HUB_STATE=str(state))
    port = free_port()
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
    """Run ``script`` as user ``name`` in their home, with the hub's venv first on PATH and
    nothing of this test process's environment."""
    done = subprocess.run([shutil.which("runuser"), "-u", name, "--", "bash", "-c",
                           f"cd && {script}"],
                          capture_output=True, text=True, timeout=300, cwd="/",
                          env=user_env(name, VENV))
    assert done.returncode == 0, f"as {name}: {script}\n{done.stdout}\n{done.stderr}"


# --- a term in a real browser ---------------------------------------------------------------

ASSIGNMENT = "a1_scalar_graphs"
EXERCISE = "a1-relu-square-by-hand"  # the answer cell of one exercise of a1
FEEDBACK_SECONDS = 180
SHOT = ROOT / "docs" / "hub-assignment-list.png"  # rewritten with MINIGRAD_E2E_README_SHOT=1


def _playwright():
    """The sync Playwright API, or the reason the browser test cannot run here."""
    why = None
    if not CHROMIUM.is_file():
        why = f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    else:
        try:
            from playwright import sync_api
            return sync_api
        except ImportError:
            why = "the playwright package is missing (pip install playwright)"
    required = {"hub", "e2e"} & set(os.environ.get("MINIGRAD_REQUIRE", "").split(","))
    if required:
        pytest.fail(f"MINIGRAD_REQUIRE names {', '.join(sorted(required))}, but {why}",
                    pytrace=False)
    pytest.skip(why)


def _password(hub, name: str) -> str:
    return json.loads((hub["state"] / "logins.json").read_text())[name]


def _log_in(browser, hub, name: str):
    """A browser context of its own, logged in as ``name`` through the hub's login form, on
    that user's JupyterLab (their server started by the login)."""
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.goto(f"{hub['url']}/hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", _password(hub, name))
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf"/user/{re.escape(name)}/lab"), timeout=120_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").wait_for(timeout=120_000)
    return context, page


def _menu(page, top: str, item: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


def _assignment_row(page, listing: str):
    return page.locator(f"#{listing}_assignments_list .list_item:not(.nested_list_item)",
                        has_text=ASSIGNMENT)


def _fetch_and_submit(page, fill=None) -> None:
    """Assignment List: fetch the assignment, (``fill`` the notebook,) submit it; wait until
    the submitted list shows the submission."""
    _menu(page, "Nbgrader", "Assignment List")
    _assignment_row(page, "released").get_by_role("button", name="Fetch").click()
    _assignment_row(page, "fetched").wait_for(timeout=60_000)
    if fill:
        fill(page)
        page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    _assignment_row(page, "fetched").get_by_role("button", name="Submit").click()
    _assignment_row(page, "submitted").first.wait_for(timeout=60_000)


def _solution_source(hub) -> tuple[int, str]:
    """The index of EXERCISE's answer cell in the released notebook, and its solution source
    (from the instructor's built course, which root can read)."""
    import nbformat

    course = Path(pwd.getpwnam(INSTRUCTOR).pw_dir) / "minigrad-course" / "course"
    source = nbformat.read(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", as_version=4)
    released = nbformat.read(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
                             as_version=4)

    def index(nb):
        ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in nb.cells]
        return ids.index(EXERCISE)

    answer = source.cells[index(source)].source
    answer = re.sub(r"\n\s*### (BEGIN|END) SOLUTION", "", answer)
    return index(released), answer


def _answer_in_lab(hub, student: str):
    """What a student does in JupyterLab: open the fetched notebook, replace the stub of one
    exercise with a correct answer, save."""
    cell, answer = _solution_source(hub)

    def fill(page):
        path = f"{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
        page.goto(f"{hub['url']}/user/{student}/lab/tree/{path}")
        editor = page.locator(".jp-Notebook .jp-Cell").nth(cell).locator(".cm-content")
        editor.wait_for(timeout=120_000)
        editor.click()
        page.keyboard.press("Control+a")
        page.keyboard.insert_text(answer)
        _menu(page, "File", "Save Notebook")
        page.wait_for_selector(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached",
                               timeout=60_000)
        saved = json.loads((Path(pwd.getpwnam(student).pw_dir) / path).read_text())
        got = "".join(saved["cells"][cell]["source"])
        assert got.strip() == answer.strip(), f"the saved answer differs from the typed one:\n{got}"
        _menu(page, "Nbgrader", "Assignment List")

    return fill


def _feedback_page(page, hub, student: str) -> str:
    """Refresh the Assignment List until the newest submission's feedback can be fetched,
    fetch it, open it from "view feedback" and return its text."""
    page.locator(".lm-TabBar-tab", has_text="Assignments").click()
    page.click("#refresh_assignments_list")
    row = _assignment_row(page, "submitted").last
    deadline = time.monotonic() + FEEDBACK_SECONDS
    while "feedback available to fetch" not in row.inner_text():
        assert time.monotonic() < deadline, (
            f"{student}: no feedback {FEEDBACK_SECONDS} s after submitting; the Assignment List "
            f"says {row.inner_text()!r}; the hub's log ends:\n"
            + (hub["state"] / "jupyterhub.log").read_text()[-2000:])
        page.wait_for_timeout(2000)
        page.click("#refresh_assignments_list")
        row = _assignment_row(page, "submitted").last
    row.get_by_role("button", name="Fetch Feedback").click()
    row.get_by_text("(view feedback)").click(timeout=60_000)
    page.locator(".jp-DirListing-item", has_text=f"{ASSIGNMENT}.html").dblclick()
    frame = page.frame_locator(".jp-HTMLViewer iframe")
    # the viewer's frame has a body before the page is in it: wait for the scores
    frame.locator("body", has_text="Score:").wait_for(timeout=60_000)
    text = frame.locator("body").inner_text()
    # closed, so that a later fetch opens the new file rather than this tab again
    page.locator(".lm-TabBar-tab.lm-mod-current .lm-TabBar-tabCloseIcon").click()
    return text


def _points(feedback: str, heading: str) -> str:
    """The "x / y" that a feedback page's text shows after ``heading`` (nbgrader heads the
    page with the notebook's total and each graded part with its title and score)."""
    found = re.search(rf"{re.escape(heading)}[^\n]*\(Score: ([\d.]+ / [\d.]+)\)", feedback)
    assert found, f"the feedback does not show the points of {heading!r}:\n{feedback[:3000]}"
    return found.group(1)


def _scored(feedback: str) -> tuple[str, str]:
    """The notebook's total and EXERCISE's points on a feedback page."""
    return _points(feedback, ASSIGNMENT), _points(feedback, _exercise()[0])


def _exercise() -> tuple[str, float, float]:
    """EXERCISE's heading on a feedback page ("Exercise 2:"), its points and the notebook's
    (written answers included), read from the notebook's source."""
    from autograder.build import notebook_sources
    from autograder.exercises import exercises_of_source

    [path] = notebook_sources(ROOT / "notebooks")[ASSIGNMENT]
    exercises = exercises_of_source(path)
    [mine] = [ex for ex in exercises if EXERCISE in ex.answers]
    return (mine.label().split(":")[0] + ":", float(mine.points),
            float(sum(ex.points for ex in exercises)))


def _expected(earned: bool) -> tuple[str, str]:
    """What _scored should read when the student answered EXERCISE right (or not at all)."""
    _, points, total = _exercise()
    got = points if earned else 0.0
    return f"{got} / {total}", f"{got} / {points}"




def _denied_in_kernel(page, paths: list[str]) -> str:
    """In the student's own JupyterLab: a new notebook whose cell tries to list and read
    ``paths``; its output."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    _menu(page, "File", "New")
    page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Notebook$")).click()
    editor = page.locator(".jp-Notebook .jp-Cell").first.locator(".cm-content")
    editor.wait_for(timeout=60_000)
    accept = page.locator(".jp-Dialog .jp-mod-accept")  # the kernel JupyterLab proposes
    try:
        accept.wait_for(timeout=10_000)
        accept.click()
    except PlaywrightTimeout:
        pass
    editor.click()
    page.keyboard.insert_text(
        "import os\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        opened = os.listdir(path) if os.path.isdir(path) else open(path).read(9)\n"
        "        print('OPENED', path, opened)\n"
        "    except OSError as error:\n"
        "        print('DENIED', path, type(error).__name__)\n")
    output = page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-OutputArea-output")
    for _ in range(4):  # a Run chosen before the kernel is attached runs nothing: try again
        page.wait_for_function(KERNEL_IDLE, polling=250, timeout=120_000)
        _menu(page, "Run", "Run All Cells")
        try:
            output.wait_for(timeout=20_000)
            break
        except PlaywrightTimeout:
            continue
    page.wait_for_function(
        "(n) => document.querySelector('.jp-Notebook .jp-OutputArea-output')"
        ".innerText.trim().split('\\n').length >= n", arg=len(paths), timeout=60_000)
    return output.inner_text()


def test_a_term_in_the_browser(hub, tmp_path):
    """In Chromium, through the hub: student 1 logs in, fetches a1 in the Assignment List,
    answers one exercise in JupyterLab, saves and submits, and reads the server's feedback
    with that exercise's points; student 2 submits the blank notebook and cannot open
    student 1's files or the course's. The instructor collects, grades and releases feedback;
    student 1 fetches it and sees the same points."""
    sync_api = _playwright()
    first, second = STUDENTS
    teacher_home = Path(pwd.getpwnam(INSTRUCTOR).pw_dir)
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        pages = []
        try:
            context1, page1 = _log_in(browser, hub, first)
            pages.append(page1)
            _fetch_and_submit(page1, fill=_answer_in_lab(hub, first))
            context2, page2 = _log_in(browser, hub, second)
            pages.append(page2)
            _fetch_and_submit(page2)

            served = _feedback_page(page1, hub, first)
            assert _scored(served) == _expected(True), served[:3000]
            blank = _feedback_page(page2, hub, second)
            assert _scored(blank) == _expected(False), blank[:3000]
            for text in (served, blank):
                assert "### BEGIN HIDDEN TESTS" not in text
                assert "Automatic feedback on your submission" in text, text[:1000]

            paths = [str(Path(pwd.getpwnam(first).pw_dir) / ASSIGNMENT),
                     str(teacher_home / "minigrad-course"),
                     str(teacher_home / "minigrad-course" / "course" / "gradebook.db"),
                     f"{EXCHANGE}/{_course_id()}/inbound"]
            seen = _denied_in_kernel(page2, paths)
            for path in paths:
                assert f"DENIED {path}" in seen, f"{second} could open {path}:\n{seen}"
            page2.goto(f"{hub['url']}/user/{first}/lab")
            assert re.search(r"403|not (allowed|authorized)|Forbidden", page2.content(), re.I), (
                f"{second} reached {first}'s server: {page2.url}")

            script = (f"cd ~/minigrad-course && export PATH={VENV}/bin:$PATH && "
                      f"python -m autograder collect --exchange {ASSIGNMENT} "
                      f"--exchange-root {EXCHANGE} && "
                      f"python -m autograder grade {ASSIGNMENT} && "
                      f"python -m autograder feedback {ASSIGNMENT} --release "
                      f"--exchange-root {EXCHANGE}")
            _as_student(INSTRUCTOR, script)

            final = _feedback_page(page1, hub, first)
            assert _scored(final) == _expected(True), final[:3000]
            assert "Automatic feedback" not in final, "the instructor's feedback did not arrive"
            if os.environ.get("MINIGRAD_E2E_README_SHOT") == "1":
                page1.locator(".lm-TabBar-tab", has_text="Assignments").click()
                page1.locator("#assignments").screenshot(path=str(SHOT))
        except Exception:
            for number, page in enumerate(pages, 1):
                page.screenshot(path=str(tmp_path / f"student{number}.png"))
            print(f"screenshots of the students' pages when it failed: {tmp_path}")
            raise
        finally:
            browser.close()


def _course_id() -> str:
    return re.search(r'course_id\s*=\s*"([^"]+)"',
                     (ROOT / "course" / "nbgrader_config.py").read_text()).group(1)


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
    # (fetched already when the browser test ran first; its feedback is in the home then)
    _as_student(STUDENTS[0], "(test -d a1_scalar_graphs || nbgrader fetch_assignment "
                "a1_scalar_graphs) && "
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

    # student 2 hands in a folder in student 1's name: the feedback service sets it aside
    forged = f"{STUDENTS[0]}+a1_scalar_graphs+2026-01-01 09:00:00.000000 UTC"
    inbound = Path(EXCHANGE) / _course_id() / "inbound"
    _as_student(STUDENTS[1], f"mkdir '{inbound / forged}' && "
                f"cp a1_scalar_graphs/*.ipynb '{inbound / forged}/' || true")
    deadline = time.monotonic() + 60
    while not (inbound / f".refused-{forged}").exists():
        assert time.monotonic() < deadline, (
            f"the forged submission {forged} was not set aside within 60 s: "
            f"{sorted(p.name for p in inbound.iterdir())}")
        time.sleep(1)
    ledger = (course / "course" / "feedback-service.jsonl").read_text()
    assert f"named for {STUDENTS[0]} but made by {STUDENTS[1]}" in ledger, ledger
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
