"""Release: nbgrader generate_assignment from source/ to release/, without losing a student's work.

nbgrader's generate_assignment needs the assignment in the gradebook (``create=True`` adds
it) and, with ``force``, deletes the old release folder. ``make lab`` lets a self-learner
work in ``course/release``, so a plain release would wipe their answers. We record a hash
of every notebook we release (``release/.autograder-release.json``); an assignment whose
released notebooks were edited since is kept unless ``force`` is given.

nbgrader's steps end with :class:`autograder.rubric.StripRubric`: the rubric of a written
answer stays in the source (its model answer nbgrader's ClearSolutions already replaced).

The due dates of ``c.Grading.due`` are then written to the gradebook
(:func:`autograder.late.write_due_dates`); a bad one stops the release before anything
changes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from .course import Course, PipelineError, nbgrader_steps, pick_assignments

__all__ = ["MANIFEST_NAME", "course_due", "edited_release", "release"]

MANIFEST_NAME = ".autograder-release.json"


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(course: Course) -> dict:
    path = course.release_dir / MANIFEST_NAME
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        return {}


def _write_manifest(course: Course, data: dict) -> None:
    course.release_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=1, sort_keys=True) + "\n"
    (course.release_dir / MANIFEST_NAME).write_text(text)


def edited_release(course: Course, assignment: str) -> list[str]:
    """Released notebooks of ``assignment`` whose bytes changed since we released them."""
    recorded = _manifest(course).get(assignment, {})
    edited = []
    for path in sorted((course.release_dir / assignment).glob("*.ipynb")):
        if path.name in recorded and recorded[path.name] != _digest(path):
            edited.append(path.name)
    return edited


def release(course: Course, assignments: list[str] | None = None, force: bool = False):
    """Generate the student version of each assignment; return [(assignment, what happened)].

    Raises PipelineError naming the assignment when nbgrader fails.
    """
    from .feedback import _last_error
    from .late import due_dates, write_due_dates

    wanted = pick_assignments(assignments, course.source_assignments(), "source notebooks",
                              course.source_dir, fix="python -m autograder build")
    due = course_due(course)
    due_dates(course, due)  # a bad date stops the release before anything changes
    api = course.api()
    from nbgrader.converters import GenerateAssignment

    from .rubric import StripRubric

    nbgrader_steps(api.config, GenerateAssignment, "preprocessors", last=(StripRubric,))
    manifest = _manifest(course)
    done = []
    for assignment in wanted:
        edited = edited_release(course, assignment)
        if edited and not force:
            done.append(
                (assignment, f"kept: {', '.join(edited)} edited since the last release "
                             "(release --force overwrites)")
            )
            continue
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result.get("success"):
            raise PipelineError(
                f"nbgrader generate_assignment failed for {assignment}: {_last_error(result)}"
            )
        manifest[assignment] = {
            p.name: _digest(p) for p in sorted((course.release_dir / assignment).glob("*.ipynb"))
        }
        done.append((assignment, "released"))
    _write_manifest(course, manifest)
    write_due_dates(course, due)
    return done


def course_due(course: Course) -> dict[str, str]:
    """``c.Grading.due`` of the course's nbgrader_config.py; PipelineError when it is not a
    mapping of assignment names to dates."""
    from .config import GradingConfig

    try:
        return GradingConfig.read(course.course_dir).due
    except ValueError as exc:
        raise PipelineError(f"{course.config_path}: {exc}") from exc
