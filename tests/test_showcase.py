"""Tests for autograder.showcase, the engine part of `make demo`: a few training steps, the
small graph, and the two pictures written into a given folder."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import showcase

ROOT = Path(__file__).resolve().parent.parent


def test_train_spirals_loss_falls_and_is_reported(capsys):
    """A few Adam steps: one finite loss per step, falling, printed with the accuracy."""
    losses = showcase.train_spirals(steps=5, report_every=2)
    assert len(losses) == 5 and np.all(np.isfinite(losses))
    assert losses[-1] < losses[0]
    out = capsys.readouterr().out
    assert "training MLP 2-64-64-3 on 300 spiral points (5 Adam steps)" in out
    assert [line.split()[1] for line in out.splitlines() if "  step " in line] == [
        "0", "2", "4"]
    assert "training accuracy" in out


def test_small_graph_has_the_gradients_of_the_notes():
    """L = (w*x + b - y)**2 at x=2, w=-1, b=4, y=10: L = 64, dL/dw = 2 (wx+b-y) x = -32."""
    loss = showcase.small_graph()
    assert loss.label == "L" and loss.data == 64.0
    leaves = {}
    stack = [loss]
    while stack:
        node = stack.pop()
        leaves[node.label] = node
        stack.extend(node._prev)
    assert leaves["w"].grad == -32.0 and leaves["x"].grad == 16.0 and leaves["b"].grad == -16.0


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz's dot is not installed")
def test_the_module_writes_the_loss_curve_and_the_graph(tmp_path):
    """python -m autograder.showcase --out DIR --steps N (as `make demo` runs it) writes
    loss.png and graph.svg into a folder it makes."""
    out = tmp_path / "new" / "demo"
    done = subprocess.run([sys.executable, "-m", "autograder.showcase", "--out", str(out),
                           "--steps", "2"], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "graph.svg").read_text()
    assert f"wrote {out / 'loss.png'}" in done.stdout
    assert f"wrote {out / 'graph.svg'}" in done.stdout


def test_main_without_graphviz_writes_the_dot_source(tmp_path, capsys, monkeypatch):
    """Without the dot program the graph is written as its dot source, with how to get svg."""
    monkeypatch.setattr(showcase.shutil, "which", lambda name: None)
    assert showcase.main(["--out", str(tmp_path), "--steps", "1"]) == 0
    assert (tmp_path / "graph.dot").read_text().lstrip().startswith("digraph")
    assert not (tmp_path / "graph.svg").exists()
    assert "for graph.svg install graphviz" in capsys.readouterr().out
