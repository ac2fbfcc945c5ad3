"""minigrad's scalar engine ``Value`` against micrograd 0.1.0: speed and memory per node.

Two workloads, each built and backpropagated by both engines, which build the
same graph node for node:

- chain: 60,000 steps of ``x = x * w + b`` with leaf Values ``w`` and ``b``;
- mlp: a 2-16-16-1 ReLU network (micrograd's ``micrograd.nn.MLP`` and the same
  neuron/layer structure written with ``minigrad.Value`` below, same weights),
  squared error summed over 150 samples.

Speed is nodes per second for build + backward, the median of several
interleaved rounds, with the interpreter's defaults: the garbage collector on and
the recursion limit untouched. The one exception is micrograd's recursive
topological sort, which cannot order the chain under the default limit: the limit
is raised around micrograd's ``backward()`` only, and restored afterwards.
Leftover garbage is collected (untimed) before every timed run, so micrograd's
cyclic garbage is never paid for by the next run, and micrograd's own cleanup
is not timed.
Memory is the traced allocation (tracemalloc) still held by the graph after
backward, divided by its nodes; on the chain it is traced on 5,000 steps, because
tracemalloc walks the whole Python stack on every allocation and so makes
micrograd's deep recursion quadratic. Targets: at least 7x micrograd's nodes per second
and at most 0.3 of its bytes per node.

    python benchmarks/scalar_engine.py [--rounds N]
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc

from micrograd.engine import Value as MicroValue
from micrograd.nn import MLP as MicroMLP

from minigrad.value import Value

CHAIN_STEPS = 60_000
MEMORY_CHAIN_STEPS = 5_000
MLP_SIZES = (2, 16, 16, 1)
SAMPLES = 150
SPEED_TARGET = 7.0
MEMORY_TARGET = 0.3
SEED = 0


# ----------------------------------------------------------------------
# The MLP of micrograd.nn, written again with minigrad's Value. Weights are drawn
# from the `random` module in the same order, so both networks start equal.
# ----------------------------------------------------------------------


class Neuron:
    def __init__(self, nin, nonlin=True):
        self.w = [Value(random.uniform(-1, 1)) for _ in range(nin)]
        self.b = Value(0)
        self.nonlin = nonlin

    def __call__(self, x):
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self):
        return self.w + [self.b]


class Layer:
    def __init__(self, nin, nout, **kwargs):
        self.neurons = [Neuron(nin, **kwargs) for _ in range(nout)]

    def __call__(self, x):
        out = [n(x) for n in self.neurons]
        return out[0] if len(out) == 1 else out

    def parameters(self):
        return [p for n in self.neurons for p in n.parameters()]


class MLP:
    def __init__(self, nin, nouts):
        sizes = [nin] + nouts
        self.layers = [
            Layer(sizes[i], sizes[i + 1], nonlin=i != len(nouts) - 1) for i in range(len(nouts))
        ]

    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x

    def parameters(self):
        return [p for layer in self.layers for p in layer.parameters()]


# ----------------------------------------------------------------------
# Workloads: each returns (output node, the leaves whose gradients we compare).
# ----------------------------------------------------------------------


def chain(value_cls, steps=CHAIN_STEPS):
    w, b, x0 = value_cls(0.999), value_cls(0.001), value_cls(1.0)
    x = x0
    for _ in range(steps):
        x = x * w + b
    return x, [x0, w, b]


def short_chain(value_cls):
    return chain(value_cls, MEMORY_CHAIN_STEPS)


def dataset():
    rng = random.Random(SEED + 1)
    xs = [[rng.uniform(-1, 1), rng.uniform(-1, 1)] for _ in range(SAMPLES)]
    ys = [1.0 if p[0] * p[1] > 0 else -1.0 for p in xs]
    return xs, ys


def mlp(value_cls):
    random.seed(SEED)
    nin, *nouts = MLP_SIZES
    model = MicroMLP(nin, nouts) if value_cls is MicroValue else MLP(nin, nouts)
    xs, ys = dataset()
    loss = value_cls(0.0)
    for x, y in zip(xs, ys):
        # (out + (-y)) ** 2 rather than (out - y) ** 2: micrograd spells `-` as three
        # nodes, minigrad as one; written this way both graphs are identical.
        loss = loss + (model(x) + (-y)) ** 2
    return loss, model.parameters()


# name: (workload timed, workload whose memory is traced)
WORKLOADS = {
    f"chain, {CHAIN_STEPS:,} steps": (chain, short_chain),
    f"mlp {'-'.join(map(str, MLP_SIZES))}, {SAMPLES} samples": (mlp, mlp),
}
ENGINES = {"micrograd": MicroValue, "minigrad": Value}


# ----------------------------------------------------------------------
# Measurement
# ----------------------------------------------------------------------


def count_nodes(root):
    seen = {id(root)}
    stack = [root]
    while stack:
        for child in stack.pop()._prev:
            if id(child) not in seen:
                seen.add(id(child))
                stack.append(child)
    return len(seen)


def run_backward(root, depth):
    """Backward with the interpreter's defaults, except micrograd's recursion limit."""
    if isinstance(root, MicroValue):
        old = sys.getrecursionlimit()
        sys.setrecursionlimit(max(old, depth + 1_000))
        try:
            root.backward()
        finally:
            sys.setrecursionlimit(old)
    else:
        root.backward()


def timed(build, value_cls, depth):
    """Seconds for build + backward, and the graph (its root and compared leaves)."""
    gc.collect()  # untimed: no garbage left by the previous run is paid for here
    start = time.perf_counter()
    root, leaves = build(value_cls)
    run_backward(root, depth)
    return time.perf_counter() - start, root, leaves


def bytes_per_node(build, value_cls):
    """Traced bytes still held by the graph after build + backward, per node."""
    gc.collect()
    tracemalloc.start()
    try:
        root, _ = build(value_cls)
        run_backward(root, CHAIN_STEPS * 2)
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return held / count_nodes(root)


def check_same(name, graphs):
    """Both engines built graphs of equal size with equal output and leaf gradients."""
    (n_a, out_a, g_a), (n_b, out_b, g_b) = graphs
    if n_a != n_b:
        raise SystemExit(f"{name}: the graphs differ ({n_a} vs {n_b} nodes)")
    scale = max(1.0, abs(out_a), *(abs(g) for g in g_a))
    gap = max([abs(out_a - out_b)] + [abs(a - b) for a, b in zip(g_a, g_b)])
    if gap > 1e-9 * scale:
        raise SystemExit(f"{name}: the engines disagree (largest difference {gap:.3g})")
    return n_a


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds per engine")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error(f"--rounds must be at least 1 (got {args.rounds})")

    default_limit = sys.getrecursionlimit()
    rows = []
    for name, (build, memory_build) in WORKLOADS.items():
        seconds = {engine: [] for engine in ENGINES}
        graphs = []
        for round_ in range(args.rounds):  # interleaved, so both see the same machine load
            for engine, cls in ENGINES.items():
                took, root, leaves = timed(build, cls, CHAIN_STEPS * 2)
                seconds[engine].append(took)
                if round_ == 0:
                    graphs.append((count_nodes(root), root.data, [v.grad for v in leaves]))
                del root, leaves
        nodes = check_same(name, graphs)
        speed = {e: nodes / statistics.median(s) for e, s in seconds.items()}
        memory = {e: bytes_per_node(memory_build, cls) for e, cls in ENGINES.items()}
        rows.append((name, nodes, speed, memory))

    if sys.getrecursionlimit() != default_limit or not gc.isenabled():
        raise SystemExit("the interpreter's settings changed during the benchmark")
    print(
        "minigrad.Value vs micrograd 0.1.0: build + backward, median of "
        f"{args.rounds} interleaved rounds, Python {sys.version.split()[0]}"
    )
    print(
        f"{'workload':<28}{'nodes':>9}{'micrograd':>13}{'minigrad':>13}{'speed':>8}"
        f"{'micrograd':>11}{'minigrad':>10}{'memory':>8}"
    )
    print(
        f"{'':<28}{'':>9}{'nodes/s':>13}{'nodes/s':>13}{'ratio':>8}"
        f"{'B/node':>11}{'B/node':>10}{'ratio':>8}"
    )
    ok = True
    for name, nodes, speed, memory in rows:
        s_ratio = speed["minigrad"] / speed["micrograd"]
        m_ratio = memory["minigrad"] / memory["micrograd"]
        ok = ok and s_ratio >= SPEED_TARGET and m_ratio <= MEMORY_TARGET
        print(
            f"{name:<28}{nodes:>9,}{speed['micrograd']:>13,.0f}{speed['minigrad']:>13,.0f}"
            f"{s_ratio:>7.1f}x{memory['micrograd']:>11.0f}{memory['minigrad']:>10.0f}"
            f"{m_ratio:>8.2f}"
        )
    print(
        f"targets: speed ratio >= {SPEED_TARGET:.0f}x and memory ratio <= {MEMORY_TARGET}: "
        + ("met" if ok else "NOT met")
    )
    print(
        "both engines gave the same output and leaf gradients (to 1e-9 relative); gc enabled; "
        f"minigrad ran at the default recursion limit ({default_limit}), micrograd's limit was "
        "raised around its backward() only"
    )
    print(
        f"memory on the chain is traced on {MEMORY_CHAIN_STEPS:,} steps: tracemalloc walks the "
        "whole Python stack on every allocation, which makes micrograd's recursion quadratic"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
