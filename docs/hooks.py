"""MkDocs hooks for the instructor guide: what the site shows but the repository does not copy.

- The hub's two READMEs (``hub/README.md``, ``hub/kubernetes/README.md``) become pages of the
  site, read at build time, so they are written once, beside the files they describe.
- The marker line ``<!-- course tables -->`` in a page is replaced by the course's tables
  (assignments, then each assignment's exercises, graded parts and points), made from the
  notebook sources with the same functions as ``autograder tables``. Nothing generated is
  committed.

Paths are taken from the folder of the ``mkdocs.yml`` being built, so a copy of the checkout
builds from its own notebooks.
"""

from __future__ import annotations

from pathlib import Path

import jupytext
from mkdocs.structure.files import File

from autograder.build import notebook_sources
from autograder.exercises import exercises_of, notebook_table, readme_table, title_of

COURSE_TABLES = "<!-- course tables -->"
HUB_PAGES = {"hub/index.md": "hub/README.md", "hub/kubernetes.md": "hub/kubernetes/README.md"}


def _root(config) -> Path:
    return Path(config.config_file_path).resolve().parent


def course_tables(notebooks_dir: Path) -> str:
    """Markdown: one row per assignment, then one table of exercises per assignment."""
    overview = {}
    for assignment, paths in notebook_sources(notebooks_dir).items():
        topic, exercises = "", []
        for path in paths:
            nb = jupytext.reads(path.read_text(encoding="utf-8"), fmt="py:percent")
            topic = topic or title_of(nb)
            exercises.extend(exercises_of(nb, str(path)))
        overview[assignment] = (topic, exercises)
    if not overview:
        raise ValueError(f"the course tables need notebook sources in {notebooks_dir} (none found)")
    lines = readme_table(overview)
    for assignment, (topic, exercises) in overview.items():
        lines += ["", f"## {assignment}: {topic}", ""] + notebook_table(exercises)
    return "\n".join(lines)


def on_files(files, config):
    root = _root(config)
    for page, source in HUB_PAGES.items():
        text = (root / source).read_text(encoding="utf-8")
        files.append(File.generated(config, page, content=text))
    return files


def on_page_markdown(markdown, page, config, files):
    if COURSE_TABLES not in markdown:
        return markdown
    return markdown.replace(COURSE_TABLES, course_tables(_root(config) / "notebooks"))
