"""End to end in a real browser: the student release in JupyterLab, driven by headless Chromium.

A scratch course is built and released from notebooks/ with the pipeline's own functions,
and the solution-filled sample student of every released notebook is put in the release too
(``release/solved/<assignment>/``, the same file name). JupyterLab
serves the release with the command ``make lab`` runs (nbgrader's Validate button included),
on 127.0.0.1 with a random token. Playwright drives Debian's Chromium (never a downloaded
browser), two notebooks at a time, each lane with a server of its own (Validate blocks the
server it runs in). For each released notebook:

- the solution-filled copy: Run All; every code cell runs, nothing is written to stderr, no
  cell errors, every graph drawn with ``draw_graph`` renders as SVG, every matplotlib figure
  as an image, and Validate reports success;
- the blank release: Run All, and after each failing cell run on from the next one, to the
  end; every test cell fails, and every error is the student's own ``NotImplementedError``
  or a checker's message, never a traceback out of the kit.

Screenshots go to ``$MINIGRAD_E2E_SHOTS`` (default: a pytest temporary folder); the folder
is printed. With ``MINIGRAD_E2E_README_SHOT=1`` the README picture ``docs/jupyterlab.png``
is rewritten. Skipped, with the reason, only when Chromium or playwright is missing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import time
import traceback
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import labserver
import nbformat
import pytest
from browser import CHROMIUM, CHROMIUM_FLAGS, KERNEL_IDLE
from labserver import Server
from nbconvert.filters import strip_ansi
from readable import unreadable

from autograder.build import build, notebook_sources
from autograder.course import Course
from autograder.release import release
from autograder.samples import buggy_path, load_buggy, write_samples

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
README_SHOT = ROOT / "docs" / "jupyterlab.png"
LANES = 2  # notebooks driven at once, one JupyterLab server each
VIEWPORT = {"width": 1280, "height": 860}
SERVER_START_SECONDS = 180
NOTEBOOK_SECONDS = 300  # one step (open, run, validate) of one notebook
START_ATTEMPTS = 4
README_SHOT_LIMIT = 200_000  # bytes
README_VIEWPORT = {"width": 1600, "height": 900}
SOLVED_DIR = "solved"  # folder of the release holding the solution-filled copies

# errors a blank notebook may show: the stub's own, or a checker's message
# a3's NotAnsweredError is an AssertionError that names the function still to write
STDERR = "application/vnd.jupyter.stderr"
_GRAPH_CALL = re.compile(r"^(?:display\()?(?:[A-Za-z_][\w.]*\.)?draw_graph\(")

# CI sets MINIGRAD_REQUIRE=e2e,postgres: there a missing browser is a failure, not a skip
_REQUIRED = "e2e" in os.environ.get("MINIGRAD_REQUIRE", "").split(",")
if not CHROMIUM.is_file():
    why = f"{CHROMIUM} is missing (Debian: apt-get install chromium)"
    if _REQUIRED:
        pytest.fail(f"MINIGRAD_REQUIRE names e2e, but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)
try:
    from playwright import async_api
except ImportError:
    why = "the playwright package is missing (pip install playwright)"
    if _REQUIRED:
        pytest.fail(f"MINIGRAD_REQUIRE names e2e, but {why}", pytrace=False)
    pytest.skip(why, allow_module_level=True)

RELEASED = [(a, p.stem) for a, paths in notebook_sources(NOTEBOOKS).items() for p in paths]


# --- the course and the servers -------------------------------------------------------------


@dataclass
class Notebook:
    """One released notebook: where both copies are, and what its cells are."""

    assignment: str
    name: str
    blank: str  # path relative to the server's root
    solved: str
    kinds: list[str]  # per cell: "markdown", "code", "test" (graded), "answer"
    grade_ids: list[str | None]
    graph_cells: list[int]  # cells that display a draw_graph(...) result
    plots: bool  # the notebook imports matplotlib

    @property
    def label(self) -> str:
        return f"{self.assignment}/{self.name}"

    @property
    def code_cells(self) -> list[int]:
        return [i for i, k in enumerate(self.kinds) if k != "markdown"]

    def describe(self, index: int) -> str:
        grade_id = self.grade_ids[index]
        return f"cell {index}" + (f" ({grade_id})" if grade_id else "")


def _describe_cells(nb) -> tuple[list[str], list[str | None], list[int], bool]:
    kinds, ids, graphs, plots = [], [], [], False
    for index, cell in enumerate(nb.cells):
        meta = cell.metadata.get("nbgrader", {})
        ids.append(meta.get("grade_id"))
        if cell.cell_type != "code":
            kinds.append("markdown")
            continue
        kinds.append("test" if meta.get("grade") else "answer" if meta.get("solution") else "code")
        lines = cell.source.splitlines()
        if any(_GRAPH_CALL.match(line) for line in lines):
            graphs.append(index)
        if re.search(r"^\s*(import|from) matplotlib", cell.source, re.M):
            plots = True
    return kinds, ids, graphs, plots


@pytest.fixture(scope="module")
def lab_course(tmp_path_factory):
    """A released scratch course; the solution-filled copies under release/solved/."""
    saved = dict(os.environ)
    try:  # the pipeline edits os.environ (PATH, JUPYTER_PATH)
        course = Course.create(tmp_path_factory.mktemp("e2e") / "course", NOTEBOOKS)
        build(NOTEBOOKS, course.source_dir)
        samples = course.course_dir / "samples"
        notebooks = []
        for assignment in course.source_assignments():
            release(course, [assignment], force=True)
            spec = load_buggy(buggy_path(NOTEBOOKS, assignment))
            written = write_samples(course.source_dir / assignment, course.release_dir / assignment,
                                    samples, spec)
            for path in sorted((course.release_dir / assignment).glob("*.ipynb")):
                solved = course.release_dir / SOLVED_DIR / assignment / path.name
                solved.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(written["sample-solution"] / path.name, solved)
                kinds, grade_ids, _, _ = _describe_cells(nbformat.read(str(path), as_version=4))
                _, _, graphs, plots = _describe_cells(nbformat.read(str(solved), as_version=4))
                notebooks.append(Notebook(
                    assignment, path.stem,
                    blank=path.relative_to(course.release_dir).as_posix(),
                    solved=solved.relative_to(course.release_dir).as_posix(),
                    kinds=kinds, grade_ids=grade_ids, graph_cells=graphs, plots=plots,
                ))
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return course, notebooks


LAB_SETTINGS = {
    # no news or update checks (no network here); every cell kept in the page
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}
LAB_FLAGS = ["--LabApp.news_url=None",
             "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]


def _api(server: Server, endpoint: str) -> str:
    return f"{server.url}/api/{endpoint}?token={server.token}"


def _shut_down_kernels(server: Server) -> None:
    """Delete every session of the server (its kernels stop): a lane's notebooks do not pile up."""
    with urllib.request.urlopen(_api(server, "sessions"), timeout=60) as answer:
        sessions = json.load(answer)
    for session in sessions:
        request = urllib.request.Request(_api(server, f"sessions/{session['id']}"),
                                         method="DELETE")
        with urllib.request.urlopen(request, timeout=60):
            pass


def _tail(log: Path, lines: int = 15) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


# --- driving one notebook -------------------------------------------------------------------

_PROMPTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
    c.classList.contains('jp-CodeCell')
        ? ((c.querySelector('.jp-InputArea-prompt') || {}).textContent || '').trim() : null)"""

# a run that has started is over when no cell waits ([*]): JupyterLab marks every cell of a
# run at once, and unmarks those a failing cell cancels; the prompts follow the kernel's
# replies (the status indicator can miss a message under load)
_DONE = """() => ![...document.querySelectorAll('.jp-Notebook .jp-CodeCell .jp-InputArea-prompt')]
    .some(p => (p.textContent || '').includes('*'))"""

# per cell: its outputs' mime types and text, and what its images and SVGs look like
_OUTPUTS = """() => [...document.querySelectorAll('.jp-Notebook .jp-Cell')].map(c =>
    [...c.querySelectorAll('.jp-OutputArea-output')].map(o => ({
        mime: o.getAttribute('data-mime-type'),
        text: (o.innerText || '').slice(-400),
        svg: o.querySelectorAll('svg').length,
        images: [...o.querySelectorAll('img')].map(i => i.naturalWidth),
    })))"""


@dataclass
class Report:
    """What went wrong in each phase of one notebook, how long it took, what was shot."""

    problems: dict[str, list[str]] = field(
        default_factory=lambda: {"solution": [], "validate": [], "blank": []})
    seconds: dict[str, float] = field(default_factory=dict)
    shots: list[Path] = field(default_factory=list)
    graph_widths: list[int] = field(default_factory=list)  # pixels, as drawn
    readme_width: int | None = None  # of the graph in the README picture, if one was shot




# nbgrader's instructor plugins, which `make lab` hides from students: their labels in the page
_INSTRUCTOR_TOOLS = """() => [...document.querySelectorAll(
        '.lm-MenuBar-itemLabel, .lm-TabBar-tabLabel, .jp-SideBar .lm-TabBar-tab')]
    .map(e => (e.textContent || e.getAttribute('title') || '').trim())
    .filter(t => /^(Nbgrader|Create Assignment|Formgrader)$/.test(t))"""

# JupyterLab's notification toasts (the news prompt among them) over the student's notebook
_TOASTS = """() => [...document.querySelectorAll('.Toastify__toast')]
    .map(e => e.textContent.trim()).filter(t => t)"""


async def _menu(page, top: str, item: str) -> None:
    await page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(f"^{re.escape(top)}$")).click()
    await page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(item)}$")).click()


async def _open(context, server: Server, path: str, workspace: str):
    page = await context.new_page()
    await page.goto(f"{server.url}/lab/workspaces/{workspace}/tree/{path}"
                    f"?reset&token={server.token}")
    # the toolbar turns idle before the session is attached; the status bar waits for it
    await page.wait_for_function(KERNEL_IDLE, polling=250, timeout=NOTEBOOK_SECONDS * 1000)
    # the file browser takes a third of the width: fold the left side bar away
    current = page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current")
    if await current.count():
        await current.first.click()
    return page


_STARTED = """(target) => {
    const cell = document.querySelectorAll('.jp-Notebook .jp-Cell')[target];
    const prompt = cell && cell.querySelector('.jp-InputArea-prompt');
    return prompt !== null && /[*\\d]/.test(prompt.textContent || '');
}"""


async def _start(page, item: str, target: int) -> None:
    """Choose Run > ``item`` until cell ``target`` is queued or running.

    A notebook page can say its kernel is idle a moment before its session is attached;
    a Run chosen then clears the cells and runs nothing, so we look and try again.
    """
    for attempt in range(START_ATTEMPTS):
        if item != "Run All Cells":  # the run starts from the selected cell
            await _select(page, target)
        await _menu(page, "Run", item)
        try:
            await page.wait_for_function(_STARTED, arg=target, polling=100, timeout=15_000)
            return
        except async_api.TimeoutError:
            await page.wait_for_timeout(2000 * (attempt + 1))
    raise RuntimeError(f"Run > {item} ran nothing, {START_ATTEMPTS} times")


async def _select(page, index: int) -> None:
    """Make cell ``index`` the active one (outputs still rendering can shift the layout)."""
    cell = page.locator(".jp-Notebook .jp-Cell").nth(index)
    for _ in range(START_ATTEMPTS):
        await cell.locator(".jp-InputArea-prompt").click()
        if "jp-mod-active" in (await cell.get_attribute("class") or "").split():
            return
        await page.wait_for_timeout(500)
    raise RuntimeError(f"cell {index} could not be selected")


async def _wait_done(page) -> None:
    await page.wait_for_function(_DONE, polling=250, timeout=NOTEBOOK_SECONDS * 1000)


_CELL_COUNT = """(count) =>
    document.querySelectorAll('.jp-Notebook .jp-Cell').length === count"""


async def _prompts(page, nb: Notebook) -> list[str | None]:
    """Each cell's prompt (None for markdown), once the page shows every cell of ``nb``."""
    try:
        await page.wait_for_function(_CELL_COUNT, arg=len(nb.kinds), polling=250,
                                     timeout=30_000)
    except async_api.TimeoutError:
        shown = await page.evaluate(_PROMPTS)
        raise RuntimeError(f"the page should show the notebook's {len(nb.kinds)} cells, "
                           f"it shows {len(shown)}") from None
    return await page.evaluate(_PROMPTS)


async def _run(page, nb: Notebook, keep_going: bool) -> list[str | None]:
    """Run All; with ``keep_going``, after each stop run on from the next cell. The prompts."""
    await _start(page, "Run All Cells", nb.code_cells[0])
    await _wait_done(page)
    prompts = await _prompts(page, nb)
    stuck = 0
    while keep_going and _not_run(nb, prompts):
        start = _not_run(nb, prompts)[0]
        await _start(page, "Run Selected Cell and All Below", start)
        await _wait_done(page)
        before, prompts = prompts, await _prompts(page, nb)
        stuck = stuck + 1 if _not_run(nb, prompts) == _not_run(nb, before) else 0
        if stuck >= START_ATTEMPTS:
            raise RuntimeError(f"running on from {nb.describe(start)} runs nothing")
    return prompts


async def _save(page) -> None:
    await _menu(page, "File", "Save Notebook")
    await page.wait_for_selector(".lm-TabBar-tab.jp-mod-current.jp-mod-dirty", state="detached",
                                 timeout=60_000)


_SCROLL_TO = """(target) => {
    const element = typeof target === 'number'
        ? document.querySelectorAll('.jp-Notebook .jp-Cell')[target]
        : document.querySelector(target);
    if (element) element.scrollIntoView({block: typeof target === 'number' ? 'start' : 'center'});
}"""


async def _shot(page, path: Path, target: str | int | None = None) -> Path:
    """A screenshot of the page, first scrolled to ``target`` (a selector or a cell index)."""
    if target is not None:
        await page.evaluate(_SCROLL_TO, target)
        await page.wait_for_timeout(300)
    await page.screenshot(path=str(path))
    return path


def _cell_text(cell) -> str:
    first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
    return first[:80]


def _not_run(nb: Notebook, prompts) -> list[int]:
    return [i for i in nb.code_cells if not re.search(r"\d", prompts[i] or "")]


def _shown(outputs, mime: str) -> list[int]:
    """Widths of the pictures of type ``mime`` the page shows (0: an image that did not load)."""
    widths = []
    for o in outputs:
        if o["mime"] == mime:
            widths += o["images"] or ([1] * o["svg"])
    return widths


def _check_solution(nb: Notebook, saved, prompts, dom) -> tuple[list[str], list[int]]:
    """Problems of the solution run, and the widths of the graphs it shows."""
    problems = []
    not_run = _not_run(nb, prompts)
    if not_run:
        problems.append(f"{len(not_run)} code cell(s) did not run, from {nb.describe(not_run[0])}")
    graphs = {}  # cell -> number of graphviz SVG outputs in the saved notebook
    pngs = {}
    for index, cell in enumerate(saved.cells):
        for output in cell.get("outputs", []):
            where = f"{nb.describe(index)} [{_cell_text(cell)}]"
            if output.output_type == "error":
                last = strip_ansi(output.get("evalue", "")).strip().splitlines()
                problems.append(f"{where}: {output.ename}: {last[0] if last else ''}")
            elif output.output_type == "stream" and output.name == "stderr":
                problems.append(f"{where} writes to stderr: {output.text.strip()[:200]!r}")
            elif output.output_type in ("display_data", "execute_result"):
                svg = output.data.get("image/svg+xml", "")
                if 'class="graph"' in svg:
                    graphs[index] = graphs.get(index, 0) + 1
                if "image/png" in output.data:
                    pngs[index] = pngs.get(index, 0) + 1
    graph_widths = []
    for index in sorted(set(nb.graph_cells) | set(graphs)):
        shown = _shown(dom[index], "image/svg+xml")
        if index in nb.graph_cells and not graphs.get(index):
            text = " | ".join(o["text"].strip()[:150] for o in dom[index]) or "no output"
            problems.append(f"{nb.describe(index)} draws a graph, but its output is no graphviz "
                            f"SVG: {text}")
        elif len(shown) != graphs.get(index, 0) or not all(shown):
            problems.append(f"{nb.describe(index)}: {graphs.get(index, 0)} graph(s) in the "
                            f"notebook, shown in the page: {shown}")
        graph_widths += shown
    if nb.plots and not pngs:
        problems.append("the notebook imports matplotlib but shows no figure")
    for index, count in sorted(pngs.items()):
        shown = _shown(dom[index], "image/png")
        if len(shown) != count or not all(shown):
            problems.append(f"{nb.describe(index)}: {count} figure(s) in the notebook, shown "
                            f"as images in the page: {shown}")
    for index, outputs in enumerate(dom):
        reported = any(p.startswith(nb.describe(index) + " ") for p in problems)
        for o in outputs:
            if o["mime"] == STDERR and not reported:
                problems.append(f"{nb.describe(index)} shows stderr output: {o['text'][-200:]!r}")
            if "Error displaying widget" in o["text"]:
                problems.append(f"{nb.describe(index)}: a widget failed to display")
    return problems, graph_widths


def _check_blank(nb: Notebook, saved, prompts, dom) -> list[str]:
    problems = []
    not_run = _not_run(nb, prompts)
    if not_run:
        problems.append(f"{len(not_run)} code cell(s) never ran, from {nb.describe(not_run[0])}")
    for index, cell in enumerate(saved.cells):
        errors = [o for o in cell.get("outputs", []) if o.output_type == "error"]
        test_cell = nb.kinds[index] == "test"
        if test_cell and index not in not_run:
            if not errors:
                problems.append(f"test {nb.describe(index)} passes on the blank release")
            elif not any(o["mime"] == STDERR for o in dom[index]):
                problems.append(f"test {nb.describe(index)} failed, but the page shows no error")
        for output in errors:
            why = unreadable(output, test_cell)
            if why:
                problems.append(f"{nb.describe(index)} [{_cell_text(cell)}]: {why}")
    return problems


# A graph narrow enough for half the window and the figure nearest to it, marked for the
# README picture; the width of the graph, or null when the notebook has no such pair.
_README_PICK = """(half) => {
    const outer = document.querySelector('.jp-WindowedPanel-outer');
    const top = el => el.getBoundingClientRect().top + outer.scrollTop;
    const width = o => Math.max(0, ...[...o.querySelectorAll('img')].map(i => i.naturalWidth));
    const graphs = [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="image/svg+xml"]')].filter(
        o => width(o) > 0 && width(o) <= half);
    const plots = [...document.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="image/png"]')];
    if (!graphs.length || !plots.length) return null;
    const graph = graphs[0];
    const plot = plots.reduce((a, b) =>
        Math.abs(top(a) - top(graph)) <= Math.abs(top(b) - top(graph)) ? a : b);
    graph.dataset.readme = 'graph';
    plot.dataset.readme = 'plot';
    graph.closest('.jp-Cell').scrollIntoView({block: 'start'});
    return width(graph);
}"""


async def _readme_shot(page, path: Path) -> int | None:
    """The README picture: the notebook at a graph, and beside it, in JupyterLab's own
    output view, the figure nearest to it; a palette PNG. The graph's width, or None."""
    await page.set_viewport_size(README_VIEWPORT)
    await page.wait_for_timeout(500)
    main = await page.evaluate("() => document.querySelector('#jp-main-dock-panel').clientWidth")
    width = await page.evaluate(_README_PICK, main // 2 - 90)
    if width is None:
        await page.set_viewport_size(VIEWPORT)
        return None
    await page.locator("[data-readme='plot']").click(button="right")
    await page.locator(".lm-Menu-itemLabel",
                       has_text=re.compile("^Create New View for Cell Output$")).click()
    await page.locator(".jp-LinkedOutputView img").first.wait_for()
    # the view opens below the notebook; drag its tab to the right edge to have them side by side
    tab = await page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab",
                             has_text="Output View").bounding_box()
    dock = await page.locator("#jp-main-dock-panel").bounding_box()
    await page.mouse.move(tab["x"] + tab["width"] / 2, tab["y"] + tab["height"] / 2)
    await page.mouse.down()
    await page.mouse.move(tab["x"] + 60, tab["y"] - 60, steps=5)
    await page.mouse.move(dock["x"] + dock["width"] - 10, dock["y"] + dock["height"] / 2, steps=10)
    await page.mouse.up()
    view = await page.locator(".jp-LinkedOutputView").bounding_box()
    if view["x"] < dock["x"] + dock["width"] / 3:
        raise RuntimeError("the output view did not move beside the notebook")
    await page.evaluate("""() => document.querySelector('[data-readme="graph"]')
        .closest('.jp-Cell').scrollIntoView({block: 'start'})""")
    await page.wait_for_timeout(800)
    await page.screenshot(path=str(path))
    await page.set_viewport_size(VIEWPORT)
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)
    return int(width)


_FIRST_PICTURE = (".jp-OutputArea-output[data-mime-type='image/svg+xml'], "
                  ".jp-OutputArea-output[data-mime-type='image/png']")


async def _phase(browser, server: Server, path: str, workspace: str, shots: Path, act):
    """Open ``path`` in a fresh browser context, ``await act(page)``, then close it and stop
    its kernel; when anything fails, keep a screenshot of the page as it was."""
    context = await browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(NOTEBOOK_SECONDS * 1000)
    page = None
    try:
        page = await _open(context, server, path, workspace)
        return await act(page)
    except Exception:
        if page is not None:
            try:
                await page.screenshot(path=str(shots / f"{workspace}-stopped.png"))
            except Exception:  # the page itself is gone: the first error says why
                pass
        raise
    finally:
        await context.close()
        await asyncio.to_thread(_shut_down_kernels, server)


async def _drive_notebook(browser, server: Server, nb: Notebook, shots: Path, readme: bool,
                          root: Path) -> Report:
    report = Report()
    stem = f"{nb.assignment}__{nb.name}"

    async def solution(page):
        # everything runs, graphs and figures show, Validate passes
        start = time.perf_counter()
        prompts = await _run(page, nb, keep_going=False)
        await _save(page)
        dom = await page.evaluate(_OUTPUTS)
        saved = nbformat.read(str(root / nb.solved), as_version=4)
        report.problems["solution"], report.graph_widths = _check_solution(
            nb, saved, prompts, dom)
        instructor = await page.evaluate(_INSTRUCTOR_TOOLS)
        if instructor:
            report.problems["solution"].append(
                f"the student's page shows nbgrader's instructor tools: {instructor}")
        toasts = [t for t in await page.evaluate(_TOASTS) if "news" in t.lower()]
        if toasts:
            report.problems["solution"].append(f"the student's page asks about news: {toasts}")
        report.shots.append(await _shot(page, shots / f"{stem}-solution.png", _FIRST_PICTURE))
        if readme and nb.graph_cells and nb.plots:
            report.readme_width = await _readme_shot(page, shots / f"{stem}-readme.png")
        report.seconds["solution"] = time.perf_counter() - start

        start = time.perf_counter()
        await page.click(".validate-button")
        message = page.locator(".jp-Dialog #validation-message")
        await message.wait_for()
        report.shots.append(await _shot(page, shots / f"{stem}-validate.png"))
        if "validation-success" not in (await message.get_attribute("class") or ""):
            text = (await message.inner_text()).strip()
            report.problems["validate"].append(f"Validate did not succeed: {text[:600]}")
        report.seconds["validate"] = time.perf_counter() - start

    async def blank(page):
        # every test fails, each with a message a student can act on
        start = time.perf_counter()
        prompts = await _run(page, nb, keep_going=True)
        await _save(page)
        dom = await page.evaluate(_OUTPUTS)
        saved = nbformat.read(str(root / nb.blank), as_version=4)
        report.problems["blank"] = _check_blank(nb, saved, prompts, dom)
        first_test = next((i for i, k in enumerate(nb.kinds) if k == "test"), 0)
        report.shots.append(await _shot(page, shots / f"{stem}-blank.png", first_test))
        report.seconds["blank"] = time.perf_counter() - start

    for phase, path, act in (("solution", nb.solved, solution), ("blank", nb.blank, blank)):
        try:
            await _phase(browser, server, path, f"{stem}-{phase}", shots, act)
        except Exception as exc:  # a stuck page: record it, carry on with the rest
            first = str(exc).splitlines()[0] if str(exc) else ""
            frame = traceback.extract_tb(exc.__traceback__)[-1]
            report.problems[phase].append(
                f"the browser run stopped: {type(exc).__name__}: {first} (at "
                f"{Path(frame.filename).name}:{frame.lineno}, screenshot "
                f"{shots / f'{stem}-{phase}-stopped.png'}); server log:\n{_tail(server.log)}")
    return report


async def _drive_all(servers: list[Server], notebooks: list[Notebook], shots: Path,
                     readme: bool, root: Path) -> dict[str, Report]:
    reports: dict[str, Report] = {}
    queue: asyncio.Queue = asyncio.Queue()
    for nb in notebooks:
        queue.put_nowait(nb)
    async with async_api.async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS,
                                           headless=True)

        async def lane(server: Server) -> None:
            while not queue.empty():
                nb = queue.get_nowait()
                reports[nb.label] = await _drive_notebook(
                    browser, server, nb, shots, readme, root)

        try:
            await asyncio.gather(*(lane(s) for s in servers))
        finally:
            await browser.close()
    return reports


@pytest.fixture(scope="module")
def e2e_run(lab_course, tmp_path_factory):
    """Drive every released notebook once; label -> Report, plus the shots folder and time."""
    course, notebooks = lab_course
    shots = Path(os.environ.get("MINIGRAD_E2E_SHOTS") or tmp_path_factory.mktemp("e2e-shots"))
    shots.mkdir(parents=True, exist_ok=True)
    readme = os.environ.get("MINIGRAD_E2E_README_SHOT") == "1"
    start = time.perf_counter()
    servers: list[Server] = []
    try:
        homes = [tmp_path_factory.mktemp(f"lab-{i}") for i in range(min(LANES, len(notebooks)))]
        servers = [labserver.launch(course, home, settings=LAB_SETTINGS, extra=LAB_FLAGS)
                   for home in homes]
        for server in servers:
            labserver.wait_until_up(server, SERVER_START_SECONDS)
        reports = asyncio.run(_drive_all(servers, notebooks, shots, readme, course.release_dir))
    finally:
        for server in servers:
            labserver.stop(server)
    readme_of = None
    if readme:  # the first notebook with a graph and a figure to show side by side
        shot = [label for label, r in sorted(reports.items()) if r.readme_width]
        if shot:
            readme_of = shot[0]
            README_SHOT.parent.mkdir(parents=True, exist_ok=True)
            stem = readme_of.replace("/", "__")
            shutil.copyfile(shots / f"{stem}-readme.png", README_SHOT)
    return reports, shots, time.perf_counter() - start, readme_of


@pytest.fixture
def show(capsys):
    """Print past pytest's capture (where the screenshots landed, how long it took)."""
    def say(text: str) -> None:
        with capsys.disabled():
            print(text)
    return say


def test_e2e_summary(e2e_run, show):
    """Every released notebook was driven; the timing and the screenshot folder are printed."""
    reports, shots, seconds, readme_of = e2e_run
    show(f"\ne2e: {len(reports)} notebook(s) in JupyterLab in {seconds:.0f} s; "
         f"screenshots in {shots}")
    for label, report in sorted(reports.items()):
        phases = ", ".join(f"{k} {v:.0f} s" for k, v in report.seconds.items())
        widths = f"; graphs {report.graph_widths} px wide" if report.graph_widths else ""
        show(f"  {label}: {phases}{widths}")
    assert sorted(reports) == sorted(f"{a}/{n}" for a, n in RELEASED)
    for report in reports.values():
        assert all(path.is_file() for path in report.shots)
    if os.environ.get("MINIGRAD_E2E_README_SHOT") == "1":
        assert readme_of is not None, "no notebook shows a graph and a figure"
        show(f"  README picture from {readme_of}: {README_SHOT}")
        assert README_SHOT.stat().st_size <= README_SHOT_LIMIT


@pytest.mark.parametrize("label", [f"{a}/{n}" for a, n in RELEASED])
@pytest.mark.parametrize("phase", ["solution", "validate", "blank"])
def test_notebook_in_jupyterlab(e2e_run, label, phase):
    """Solution: runs clean with graphs and figures; Validate: success; blank: readable fails."""
    reports = e2e_run[0]
    assert label in reports, f"{label} was not driven"
    problems = reports[label].problems[phase]
    assert not problems, f"{label} ({phase}):\n  " + "\n  ".join(problems)
