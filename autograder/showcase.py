"""The engine part of ``make demo``: train a small MLP with minigrad and save two pictures.

Writes ``demo-output/graph.svg`` (the computational graph of one small expression,
with data and gradients) and ``demo-output/loss.png`` (the training loss curve).

    python -m autograder.showcase [--out DIR] [--steps N]
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

import minigrad as mg
from minigrad import functional as F


def train_spirals(steps: int, seed: int = 0, report_every: int = 50) -> list[float]:
    """Full-batch Adam on three interleaved spirals; prints the loss as it falls."""
    X, y = mg.data.spirals(100, 3, seed=seed)
    model = mg.nn.MLP([2, 64, 64, 3], activation="relu", seed=seed)
    opt = mg.optim.Adam(model.parameters(), lr=0.01)
    losses = []
    print(f"training MLP 2-64-64-3 on {len(X)} spiral points ({steps} Adam steps)")
    for step in range(steps):
        loss = F.cross_entropy(model(X), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if step % report_every == 0 or step == steps - 1:
            print(f"  step {step:4d}  loss {losses[-1]:.4f}")
    with mg.no_grad():
        accuracy = float((model(X).data.argmax(axis=1) == y).mean())
    print(f"training accuracy {accuracy:.1%}")
    return losses


def small_graph():
    """L = (w*x + b - y)**2 for one example, backpropagated: the graph the notes start from."""
    x, w, b, y = mg.Value(2.0, label="x"), mg.Value(-1.0, label="w"), mg.Value(4.0, label="b"), 10.0
    loss = (w * x + b - y) ** 2
    loss.label = "L"
    loss.backward()
    return loss


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.showcase", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="demo-output", help="folder for the pictures")
    parser.add_argument("--steps", type=int, default=300, help="training steps")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    losses = train_spirals(args.steps)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.semilogy(np.arange(len(losses)), losses)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy loss")
    ax.set_title("minigrad MLP on spirals")
    fig.tight_layout()
    fig.savefig(out / "loss.png", dpi=110)
    plt.close(fig)
    print(f"wrote {out / 'loss.png'}")

    graph = mg.viz.draw_graph(small_graph())
    if shutil.which("dot"):
        (out / "graph.svg").write_bytes(graph.pipe(format="svg"))
        print(f"wrote {out / 'graph.svg'}")
    else:
        (out / "graph.dot").write_text(graph.source)
        hint = "for graph.svg install graphviz: apt-get install graphviz"
        print(f"wrote {out / 'graph.dot'} ({hint})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
