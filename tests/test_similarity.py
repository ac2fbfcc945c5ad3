"""Tests for ``python -m autograder similarity``: copydetect on the students' answer cells.

A small course written with nbformat: a released minibatch-SGD notebook (three answer stubs,
a setup cell and visible tests) and its submissions. amara answers it; o'brien hands in
amara's answers with renamed variables and other comments; chen writes an independent
answer; hana copies one of amara's three answers; dev and emma hand in the release
unchanged; farid's notebook is truncated; gita submitted only another assignment; ines is
in the gradebook and submitted nothing.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.cli import main
from autograder.collect import LMS_RECORD, LmsRecord
from autograder.course import Course, PipelineError
from autograder.similarity import compare, write_html

ROOT = Path(__file__).resolve().parent.parent
ASSIGNMENT = "a3_minibatch"

SETUP = "import numpy as np\n"

STUBS = {
    "a3-minibatches": '''\
def minibatches(x, t, batch_size, rng):
    """Yield (x_batch, t_batch) pairs that cover every example once, in a random order."""
    # YOUR CODE HERE
    raise NotImplementedError()
''',
    "a3-sgd-step": '''\
def sgd_step(params, grads, lr):
    """Update every parameter array in place: p <- p - lr * g."""
    # YOUR CODE HERE
    raise NotImplementedError()
''',
    "a3-train-epoch": '''\
def train_epoch(model, x, t, batch_size, lr, rng):
    """One pass over the data with SGD; return the mean of the batch losses."""
    # YOUR CODE HERE
    raise NotImplementedError()
''',
}

TESTS = {
    "a3-minibatches-test": '''\
# minibatches covers every example exactly once
rng = np.random.default_rng(0)
x = np.arange(10.0).reshape(5, 2)
seen = np.concatenate([xb[:, 0] for xb, _ in minibatches(x, np.arange(5), 2, rng)])
assert sorted(seen) == [0.0, 2.0, 4.0, 6.0, 8.0], f"every row once, got {seen}"
''',
    "a3-sgd-step-test": '''\
# sgd_step updates in place
w = np.ones(3)
sgd_step([w], [np.full(3, 2.0)], 0.5)
assert np.allclose(w, 0.0), f"w should be 0 after one step, got {w}"
''',
}

AMARA = {
    "a3-minibatches": '''\
def minibatches(x, t, batch_size, rng):
    """Yield (x_batch, t_batch) pairs that cover every example once, in a random order."""
    # shuffle the indices once per epoch
    order = rng.permutation(len(x))
    for start in range(0, len(x), batch_size):
        idx = order[start:start + batch_size]  # the last batch may be short
        yield x[idx], t[idx]
''',
    "a3-sgd-step": '''\
def sgd_step(params, grads, lr):
    """Update every parameter array in place: p <- p - lr * g."""
    for p, g in zip(params, grads):
        p -= lr * g  # in place, so the model sees it
''',
    "a3-train-epoch": '''\
def train_epoch(model, x, t, batch_size, lr, rng):
    """One pass over the data with SGD; return the mean of the batch losses."""
    losses = []
    for xb, tb in minibatches(x, t, batch_size, rng):
        loss, grads = model.loss_and_grads(xb, tb)
        sgd_step(model.params, grads, lr)
        losses.append(loss)
    # mean over batches, as a plain float
    return float(np.mean(losses))
''',
}

OBRIEN = {  # amara's answers, variables renamed and comments rewritten
    "a3-minibatches": '''\
def minibatches(x, t, batch_size, rng):
    """Yield (x_batch, t_batch) pairs that cover every example once, in a random order."""
    # a random permutation of the example numbers
    perm = rng.permutation(len(x))
    for i in range(0, len(x), batch_size):
        chosen = perm[i:i + batch_size]
        yield x[chosen], t[chosen]
''',
    "a3-sgd-step": '''\
def sgd_step(params, grads, lr):
    """Update every parameter array in place: p <- p - lr * g."""
    # step against the gradient
    for param, grad in zip(params, grads):
        param -= lr * grad
''',
    "a3-train-epoch": '''\
def train_epoch(model, x, t, batch_size, lr, rng):
    """One pass over the data with SGD; return the mean of the batch losses."""
    history = []
    for x_batch, t_batch in minibatches(x, t, batch_size, rng):
        value, gradients = model.loss_and_grads(x_batch, t_batch)
        sgd_step(model.params, gradients, lr)
        history.append(value)
    return float(np.mean(history))
''',
}

CHEN = {  # an independent answer
    "a3-minibatches": '''\
def minibatches(x, t, batch_size, rng):
    """Yield (x_batch, t_batch) pairs that cover every example once, in a random order."""
    n = x.shape[0]
    shuffled = np.arange(n)
    rng.shuffle(shuffled)
    n_batches = int(np.ceil(n / batch_size))
    return [(x[b], t[b]) for b in np.array_split(shuffled, n_batches)]
''',
    "a3-sgd-step": '''\
def sgd_step(params, grads, lr):
    """Update every parameter array in place: p <- p - lr * g."""
    for k in range(len(params)):
        params[k][...] = params[k] - lr * grads[k]
''',
    "a3-train-epoch": '''\
def train_epoch(model, x, t, batch_size, lr, rng):
    """One pass over the data with SGD; return the mean of the batch losses."""
    total, count = 0.0, 0
    batches = minibatches(x, t, batch_size, rng)
    while batches:
        xs, ts = batches.pop()
        value, gs = model.loss_and_grads(xs, ts)
        sgd_step(model.params, gs, lr)
        total += value * len(xs)
        count += len(xs)
    return total / count
''',
}


HANA = {  # amara's first answer, an answer of her own, the last exercise left blank
    "a3-minibatches": AMARA["a3-minibatches"],
    "a3-sgd-step": '''\
def sgd_step(params, grads, lr):
    """Update every parameter array in place: p <- p - lr * g."""
    for i, p in enumerate(params):
        np.subtract(p, np.multiply(lr, grads[i]), out=p)
''',
}


def _notebook(answers: dict[str, str], with_code: bool = True) -> nbformat.NotebookNode:
    """The a3 notebook with ``answers`` in its answer cells (the stubs: the release);
    ``with_code=False``: its markdown cells only."""

    def meta(grade_id: str, solution: bool, points: int | None = None) -> dict:
        nbgrader = {"grade": points is not None, "grade_id": grade_id, "locked": not solution,
                    "schema_version": 3, "solution": solution, "task": False}
        if points is not None:
            nbgrader["points"] = points
        return {"nbgrader": nbgrader}

    cells = [new_markdown_cell("# Minibatch SGD\n\nWe shuffle, split and step.")]
    if with_code:
        cells.append(new_code_cell(SETUP, metadata=meta("a3-setup", False)))
    for grade_id, stub in STUBS.items():
        cells.append(new_markdown_cell(f"### Exercise: `{grade_id}`"))
        if with_code:
            cells.append(new_code_cell(answers.get(grade_id, stub),
                                       metadata=meta(grade_id, True)))
            test_id = f"{grade_id}-test"
            if test_id in TESTS:
                cells.append(new_code_cell(TESTS[test_id], metadata=meta(test_id, False, 2)))
    return new_notebook(cells=cells)


def _write(path: Path, nb: nbformat.NotebookNode) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(path))


def _course(tmp_path: Path, release_code: bool = True, gradebook: bool = False) -> Course:
    course = Course.create(tmp_path / "course", ROOT / "tests" / "fixtures" / "notebooks")
    name = f"{ASSIGNMENT}.ipynb"
    _write(course.release_dir / ASSIGNMENT / name, _notebook({}, with_code=release_code))
    for student, answers in [("amara", AMARA), ("o'brien", OBRIEN), ("chen", CHEN),
                             ("hana", HANA), ("dev", {}), ("emma", {})]:
        _write(course.submitted_dir / student / ASSIGNMENT / name, _notebook(answers))
    farid = course.submitted_dir / "farid" / ASSIGNMENT / name
    farid.parent.mkdir(parents=True)
    farid.write_text(nbformat.writes(_notebook(AMARA))[:400])
    _write(course.submitted_dir / "gita" / "a2_vectorized" / "a2_vectorized.ipynb",
           _notebook(AMARA))
    if gradebook:
        with course.gradebook() as gb:
            gb.add_student("ines", first_name="Ines", last_name="Okafor")
    return course


@pytest.fixture(scope="module")
def course(tmp_path_factory) -> Course:
    """The course above, with its gradebook; tests only read it (and write reports)."""
    return _course(tmp_path_factory.mktemp("similarity"), gradebook=True)


def _scores(result) -> dict[frozenset, float]:
    return {frozenset((p.first, p.second)): p.score for p in result.pairs}


def test_the_copied_pair_is_on_top_and_the_independent_answer_scores_low(course):
    """Renamed variables and rewritten comments still match; an independent answer does not."""
    result = compare(course, ASSIGNMENT, top=0)
    top = result.pairs[0]
    assert {top.first, top.second} == {"amara", "o'brien"}
    assert top.first_share > 0.8 and top.second_share > 0.8, top.line()
    scores = _scores(result)
    for other in ("amara", "o'brien"):
        assert scores.get(frozenset((other, "chen")), 0.0) < 0.3, result.pairs
    assert result.compared == ["amara", "chen", "dev", "emma", "hana", "o'brien"]


def test_released_stub_code_makes_no_match(course, tmp_path):
    """Two blank submissions have nothing in common once the released code is left out,
    but look alike when the release has no code to leave out."""
    blank = frozenset(("dev", "emma"))
    assert _scores(compare(course, ASSIGNMENT, top=0)).get(blank, 0.0) < 0.1
    without = compare(_course(tmp_path, release_code=False), ASSIGNMENT, top=0)
    assert _scores(without)[blank] > 0.9


def test_missing_and_unreadable_submissions_are_listed(course):
    """A truncated notebook and students without this assignment (another one submitted,
    or only in the gradebook) are listed, not fatal."""
    skipped = dict(compare(course, ASSIGNMENT).skipped)
    assert skipped["gita"] == skipped["ines"] == "no submission"
    assert skipped["farid"].startswith(f"{ASSIGNMENT}.ipynb: truncated JSON"), skipped


def test_stripped_metadata_hides_no_answer(tmp_path):
    """A copy whose nbgrader metadata was stripped is compared on all its code cells."""
    course = _course(tmp_path)
    nb = _notebook(AMARA)
    for cell in nb.cells:
        cell.metadata = {}
    _write(course.submitted_dir / "jin" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", nb)
    scores = _scores(compare(course, ASSIGNMENT, top=0))
    assert scores[frozenset(("amara", "jin"))] > 0.8, scores
    assert scores.get(frozenset(("chen", "jin")), 0.0) < 0.3, scores


def test_students_are_named_as_the_lms_named_them(tmp_path):
    """A submission collected from an LMS shows its id with the name of its lms.json."""
    course = _course(tmp_path)
    record = LmsRecord("canvas", "amara", "Amara Nwosu", "2025-10-06 12:00:00", "file",
                       {f"{ASSIGNMENT}.ipynb": "a3_minibatch.ipynb"})
    (course.submitted_dir / "amara" / ASSIGNMENT / LMS_RECORD).write_text(record.to_json())
    top = compare(course, ASSIGNMENT).pairs[0]
    assert {top.first, top.second} == {"amara (Amara Nwosu)", "o'brien"}


def test_top_keeps_the_highest_pairs(course):
    """A partial copy ranks below the whole copy; --top N keeps the N highest pairs."""
    every = compare(course, ASSIGNMENT, top=0).pairs
    assert [{p.first, p.second} for p in every] == [
        {"amara", "o'brien"}, {"amara", "hana"}, {"hana", "o'brien"}], every
    partial = every[1]
    assert 0.2 < partial.first_share < partial.second_share < 0.9, partial.line()
    assert [p.line() for p in compare(course, ASSIGNMENT, top=2).pairs] == [
        p.line() for p in every[:2]]


def test_report_shows_the_matching_code_side_by_side(course, tmp_path):
    """The HTML page names both students and marks the code they share."""
    page = write_html(compare(course, ASSIGNMENT), tmp_path / "out" / "sim.html").read_text()
    assert "amara" in page and html.escape("o'brien") in page
    marked = re.findall(r"<mark>(.*?)</mark>", page, re.S)
    assert any("order = rng.permutation(len(x))" in m for m in marked)
    assert any("perm = rng.permutation(len(x))" in m for m in marked)
    assert "farid" in page and "<script" not in page


def test_cli_prints_the_top_pairs_and_writes_the_report(course, capsys):
    """`similarity ASSIGNMENT` prints the pairs and the skipped students and writes the
    report to course/reports/similarity-<assignment>.html."""
    status = main(["similarity", ASSIGNMENT, "--course-dir", str(course.course_dir),
                   "--top", "1"])
    out = capsys.readouterr().out
    assert status == 0
    pair_lines = [line for line in out.splitlines() if "% of " in line]
    assert len(pair_lines) == 1 and "amara and o'brien" in pair_lines[0], out
    assert "farid: a3_minibatch.ipynb: truncated JSON" in out
    report = course.reports_dir / f"similarity-{ASSIGNMENT}.html"
    assert report.is_file() and str(report) in out


def test_an_assignment_that_was_not_released_is_an_error(course):
    """Without released notebooks there is no code to leave out: the error says so."""
    with pytest.raises(PipelineError, match="no released notebooks for a9_missing"):
        compare(course, "a9_missing")


def test_a_course_without_a_gradebook_gets_none(tmp_path):
    """Without a gradebook the students are the folders in course/submitted; none is made."""
    course = _course(tmp_path)
    assert "ines" not in dict(compare(course, ASSIGNMENT).skipped)
    assert not (course.course_dir / "gradebook.db").exists()
