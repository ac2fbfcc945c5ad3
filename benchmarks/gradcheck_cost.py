"""Cost of the gradient checker: evaluations of f and time for full, auto and directional mode.

The subject is a two-layer ReLU net with softmax cross-entropy and L2 regularisation,
64 -> 75 -> 10 (5,635 parameters), on a batch of 64. Targets from the issue: auto mode
under 0.5 s and at least 5x fewer evaluations than full mode, with the same verdicts as
full mode on the table of student layers in tests/gradcheck_cases.py.

Run: python benchmarks/gradcheck_cost.py   (exit status 1 when a deterministic target is missed)
"""

from __future__ import annotations

import importlib.util
import sys
import time
from pathlib import Path

import numpy as np

from minigrad.gradcheck import check_gradients


def _load_cases():
    path = Path(__file__).resolve().parent.parent / "tests" / "gradcheck_cases.py"
    spec = importlib.util.spec_from_file_location("gradcheck_cases", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _net(seed: int = 0):
    rng = np.random.default_rng(seed)
    n, d, hidden, c, reg = 64, 64, 75, 10, 1e-3
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, size=n)
    params = {
        "W1": rng.standard_normal((d, hidden)) / np.sqrt(d),
        "b1": 0.1 * rng.standard_normal(hidden),
        "W2": rng.standard_normal((hidden, c)) / np.sqrt(hidden),
        "b2": 0.1 * rng.standard_normal(c),
    }
    return X, y, reg, params


def _timed(f, params, grads, mode, repeats):
    best, res = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        res = check_gradients(f, params, grads, mode=mode)
        best = min(best, time.perf_counter() - start)
    return res, best


def main() -> int:
    cases = _load_cases()
    X, y, reg, params = _net()
    f = cases.two_layer_loss(X, y, reg)
    grads = cases.two_layer_grads(X, y, reg, **params)
    size = sum(p.size for p in params.values())

    start = time.perf_counter()
    for _ in range(200):
        f(**params)
    forward = (time.perf_counter() - start) / 200
    print(f"two-layer net 64-75-10, batch 64: {size} parameters, "
          f"one forward {forward * 1e6:.0f} us")

    rows = {}
    for mode, repeats in (("full", 1), ("auto", 3), ("directional", 3)):
        res, seconds = _timed(f, params, grads, mode, repeats)
        rows[mode] = (res.evaluations, seconds, res.passed)
    print(f"{'mode':<12} {'evaluations':>11} {'seconds':>8}  verdict")
    for mode, (evals, seconds, passed) in rows.items():
        print(f"{mode:<12} {evals:>11} {seconds:>8.3f}  {'passed' if passed else 'FAILED'}")
    ratio = rows["full"][0] / rows["auto"][0]
    print(f"full / auto evaluations: {ratio:.1f}x (target >= 5x)")
    print(f"auto time: {rows['auto'][1]:.3f} s (target < 0.5 s)")

    # verdicts on the two-layer net with buggy backwards, and on the table of layers
    wrong = {
        "L2 x3 in dW1": cases.two_layer_grads(X, y, reg, **params, l2_w1=3.0),
        "db1 averaged": {**grads, "b1": grads["b1"] / X.shape[0]},
    }
    disagree, checks = [], 0
    for name, g in wrong.items():
        verdicts = {m: check_gradients(f, params, g, mode=m).passed for m in ("full", "auto")}
        checks += 1
        if verdicts["full"] or verdicts["auto"]:
            disagree.append(("two-layer net", name, verdicts))
    for case in cases.CASES:
        for dtype in (np.float64, np.float32):
            for seed in range(1 if "512" in case.name else 3):
                fc, inputs, variants = case.make(seed, dtype)
                for name, analytic in variants.items():
                    full = check_gradients(fc, inputs, analytic, mode="full", seed=seed,
                                           **case.options).passed
                    auto = check_gradients(fc, inputs, analytic, mode="auto", seed=seed,
                                           **case.options).passed
                    checks += 1
                    if full != auto or full != (name in case.right):
                        disagree.append((case.name, name, dtype.__name__, seed, full, auto))
    print(f"verdicts of full and auto mode (and the expected ones) agree on "
          f"{checks - len(disagree)} of {checks} checks")
    for row in disagree:
        print("  disagreement:", row)

    ok = ratio >= 5 and not disagree and all(passed for _, _, passed in rows.values())
    if rows["auto"][1] >= 0.5:
        print("note: auto mode took 0.5 s or more on this machine (timing is not enforced)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
