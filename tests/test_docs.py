"""The instructor guide: mkdocs.yml builds with --strict, every page of its nav is built, and
the course page's tables are made from the notebooks at build time."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest
import yaml

pytest.importorskip("mkdocs", reason="mkdocs is not installed (`make test` installs '.[docs]')")
bs4 = pytest.importorskip("bs4", reason="beautifulsoup4 (installed with nbconvert) reads the pages")

ROOT = Path(__file__).resolve().parent.parent


def build(config: Path, site: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config),
                           "-d", str(site)], capture_output=True, text=True)
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stderr}"


def nav_pages(nav) -> list[str]:
    pages = []
    for entry in nav:
        for value in (entry.values() if isinstance(entry, dict) else [entry]):
            pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def built_html(site: Path, page: str) -> Path:
    stem = page.removesuffix(".md")
    return site / (f"{stem}.html" if Path(stem).name == "index" else f"{stem}/index.html")


def course_rows(site: Path) -> dict[str, dict[str, str]]:
    """The course page's first table: assignment -> its cells by column name (the total row
    left out)."""
    soup = bs4.BeautifulSoup(built_html(site, "guide/course.md").read_text(), "html.parser")
    table = soup.find("table")
    assert table is not None, "the course page has no table"
    names = [th.get_text(strip=True) for th in table.find_all("th")]
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in table.find_all("tr")]
    return {row[0]: dict(zip(names, row)) for row in rows if row and row[0] != "total"}


def expected_row(source: Path) -> tuple[int, int, float, float]:
    """Exercises, graded test cells, their points and the points of the written answers
    (markdown answer cells graded by hand), read from the notebook source itself."""
    nb = jupytext.read(source)
    headings = sum(bool(re.search(r"^###\s+Exercise\s+\d+", c.source, re.M))
                   for c in nb.cells if c.cell_type == "markdown")
    graded = [c.metadata["nbgrader"] for c in nb.cells
              if c.metadata.get("nbgrader", {}).get("grade")
              and not c.metadata["nbgrader"].get("solution")]
    written = [c.metadata["nbgrader"] for c in nb.cells if c.cell_type == "markdown"
               and c.metadata.get("nbgrader", {}).get("grade")
               and c.metadata["nbgrader"].get("solution")]
    return (headings, len(graded), sum(float(m.get("points", 0)) for m in graded),
            sum(float(m.get("points", 0)) for m in written))


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    build(ROOT / "mkdocs.yml", out)
    return out


def test_every_nav_page_is_built(site):
    """Every page named in mkdocs.yml's nav exists (in docs/ or made by the hook) and is built."""
    pages = nav_pages(yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"])
    assert "guide/course.md" in pages and "capacity.md" in pages
    missing = [page for page in pages if not built_html(site, page).is_file()]
    assert not missing, f"nav pages not built: {missing}"
    hub = built_html(site, "hub/index.md").read_text()
    assert "make hub" in hub, "the hub page does not carry hub/README.md"


def test_course_table_matches_the_notebooks(site):
    """One row per assignment with its exercises, graded cells and points (autograded and
    written apart once the course has written answers) from the notebooks."""
    rows = course_rows(site)
    sources = sorted((ROOT / "notebooks").glob("*/*.py"))
    sources = [p for p in sources if p.stem == p.parent.name]
    assert sorted(rows) == sorted(p.stem for p in sources)
    for source in sources:
        exercises, cells, auto, written = expected_row(source)
        got = rows[source.stem]
        shown = (int(got["graded exercises"]), int(got["graded cells"]),
                 float(got.get("autograded", got["points"])), float(got["points"]))
        assert shown == (exercises, cells, auto, auto + written), \
            f"{source.stem}: the course page says {got}, the notebook says " \
            f"{exercises, cells, auto, written}"


def test_course_table_follows_a_changed_notebook(tmp_path):
    """Changing a test cell's points in a copy of the checkout changes the built table."""
    for name in ("mkdocs.yml", "docs", "notebooks", "hub/README.md", "hub/kubernetes/README.md"):
        src, dst = ROOT / name, tmp_path / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst)
        else:
            shutil.copy2(src, dst)
    source = tmp_path / "notebooks/a3_minibatch/a3_minibatch.py"
    text = source.read_text()
    cell = '"grade_id": "a3-affine-backward-test", "locked": true, "points": 2,'
    assert cell in text
    source.write_text(text.replace(cell, cell.replace('"points": 2', '"points": 5')))
    build(tmp_path / "mkdocs.yml", tmp_path / "site")
    before = sum(expected_row(ROOT / "notebooks/a3_minibatch/a3_minibatch.py")[2:])
    assert float(course_rows(tmp_path / "site")["a3_minibatch"]["points"]) == before + 3
