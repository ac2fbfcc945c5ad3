"""Tests for minigrad.gradcheck: verdicts on the layer table, every hint, modes, the adapter."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from gradcheck_cases import CASES, softmax_ce
from hypothesis import given, settings
from hypothesis import strategies as st

import minigrad as mg
from minigrad.gradcheck import (
    GradCheckResult,
    GradientCheckError,
    check_gradients,
    gradcheck,
)

DTYPES = (np.float64, np.float32)
CASE_IDS = [c.name for c in CASES]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def _affine(seed: int = 0, n: int = 4, d: int = 5, m: int = 3):
    rng = _rng(seed)
    x, W, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
    return (lambda x, W, b: x @ W + b), {"x": x, "W": W, "b": b}


# ---------------------------------------------------------------------------------------------
# the table of student layers


@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_table_right_variants_pass_and_wrong_ones_fail(case, dtype):
    """On a few seeds, every correct backward in the table passes and every buggy one fails
    with the hint the table expects for it."""
    for seed in range(3):
        f, inputs, variants = case.make(seed, dtype)
        for name in case.right:
            res = check_gradients(f, inputs, variants[name], seed=seed, **case.options)
            assert res.passed, f"{case.name} / {name} / seed {seed}: {res.message}"
        for name in case.wrong:
            res = check_gradients(f, inputs, variants[name], seed=seed, **case.options)
            assert not res.passed, f"{case.name} / {name} / seed {seed} passed"
            assert "Hint:" in res.message or res.message
            assert case.hints.get(name, "") in res.message, (case.name, name, seed, res.message)


@pytest.mark.slow
def test_sweep_100_seeds_no_false_failures_and_no_false_passes(capsys):
    """Over 100 seeds in float64 and float32 no correct backward fails, no buggy one passes,
    and every buggy one gets the hint the table expects."""
    false_fail, false_pass, wrong_hint, checks = [], [], [], 0
    for case in CASES:
        # the 512x10 row samples fewer entries here to keep the sweep short; its default
        # settings are covered by test_batch_512_with_default_settings
        options = {"max_entries": 32} if "512" in case.name else {}
        options.update(case.options)
        for dtype in DTYPES:
            for seed in range(100):
                f, inputs, variants = case.make(seed, dtype)
                for name in case.right + case.wrong:
                    res = check_gradients(f, inputs, variants[name], seed=seed, **options)
                    checks += 1
                    tag = (case.name, name, np.dtype(dtype).name, seed)
                    if name in case.right and not res.passed:
                        false_fail.append((*tag, res.message))
                    if name in case.wrong and res.passed:
                        false_pass.append(tag)
                    if case.hints.get(name, "") not in res.message:
                        wrong_hint.append((*tag, res.message))
    with capsys.disabled():
        print(f"\ngradcheck sweep: {checks} checks, {len(false_fail)} false failures, "
              f"{len(false_pass)} false passes, {len(wrong_hint)} unexpected hints")
    assert checks == 100 * 2 * sum(len(c.right) + len(c.wrong) for c in CASES)
    assert false_fail == []
    assert false_pass == []
    assert wrong_hint == []


@pytest.mark.parametrize("dtype", DTYPES, ids=["float64", "float32"])
def test_batch_512_with_default_settings(dtype):
    """The 512x10 cross-entropy row gives the right verdicts with the default auto settings."""
    case = next(c for c in CASES if "512" in c.name)
    f, inputs, variants = case.make(0, dtype)
    res = check_gradients(f, inputs, variants["ok"])
    assert res.passed, res.message
    assert res["logits"].entries_checked == 400 and res["logits"].directions_checked == 4
    for name in case.wrong:
        assert not check_gradients(f, inputs, variants[name]).passed


def test_float32_tolerance_follows_the_dtype():
    """Float32 code passes when right, fails 1% off, and rtol can loosen the check."""
    case = next(c for c in CASES if c.name == "sigmoid")
    f, inputs, variants = case.make(3, np.float32)
    assert check_gradients(f, inputs, variants["ok"]).passed
    off = check_gradients(f, inputs, variants["1% off"])
    assert not off.passed
    assert "1.01 times the numerical gradient" in off.message
    assert check_gradients(f, inputs, variants["1% off"], rtol=0.05).passed
    assert check_gradients(f, inputs, variants["1% off"], atol=1.0).passed


def test_relu_kinks_accept_both_masks_and_are_reported():
    """At exact zeros both x > 0 and x >= 0 masks pass and the zeros are listed as kinks."""
    x = np.array([[0.0, 1.5, -2.0], [0.0, -0.5, 0.7]])
    for mask in (x > 0, x >= 0):
        res = check_gradients(lambda x: np.maximum(x, 0), {"x": x}, lambda d, m=mask: d * m)
        assert res.passed, res.message
        assert sorted(res["x"].kinks) == [(0, 0), (1, 0)]
        assert "2 kinks: x[0, 0], x[1, 0]" in str(res)


def test_every_entry_at_a_kink_says_the_check_is_weak():
    """When every checked entry sits at a kink, the result carries a note (not a warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = check_gradients(lambda x: np.abs(x).sum(), {"x": np.zeros(4)}, {"x": np.zeros(4)})
    assert res.passed
    assert len(res["x"].kinks) == 4
    assert any("check is weak" in n for n in res.notes)
    assert "check is weak" in str(res) and "check is weak" in res._repr_html_()


def test_max_ties_accept_any_one_sided_choice():
    """A max with ties passes whichever tied entry receives the gradient."""
    x = np.array([1.0, 3.0, 3.0, -1.0])
    for pick in (1, 2):
        grad = np.zeros(4)
        grad[pick] = 1.0
        assert check_gradients(lambda x: x.max(), {"x": x}, {"x": grad}).passed
    assert not check_gradients(lambda x: x.max(), {"x": x}, {"x": np.eye(4)[0]}).passed


# ---------------------------------------------------------------------------------------------
# messages: every hint, each with a test


def _hint_sign():
    f, inputs = _affine()
    return f, inputs, lambda d: (-(d @ inputs["W"].T), inputs["x"].T @ d, d.sum(0)), {}


def _hint_batch_small():
    f, inputs = _affine()
    return f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.mean(0)), {}


def _hint_batch_large():
    rng = _rng(1)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[np.arange(6), y] -= 1
    return softmax_ce, {"logits": z, "y": y}, {"logits": p}, {}


def _hint_twice():
    x = _rng(2).standard_normal(5)
    return (lambda x: (x * x).sum()), {"x": x}, {"x": 4 * x}, {}


def _hint_half():
    x = _rng(2).standard_normal(5)
    return (lambda x: (x * x).sum()), {"x": x}, {"x": x}, {}


def _hint_factor():
    x = _rng(2).standard_normal(5)
    return (lambda x: (x * x).sum()), {"x": x}, {"x": 6 * x}, {}


def _hint_transposed_shape():
    f, inputs = _affine()
    return f, inputs, lambda d: (d @ inputs["W"].T, (inputs["x"].T @ d).T, d.sum(0)), {}


def _hint_transposed_square():
    f, inputs = _affine(d=4, m=4)
    return f, inputs, lambda d: (d @ inputs["W"].T, (inputs["x"].T @ d).T, d.sum(0)), {}


def _hint_batch_sum():
    rng = _rng(3)
    x, W = rng.standard_normal((64, 10)), rng.standard_normal((10, 5))
    return (lambda W: x @ W), {"W": W}, lambda d: x[:, :, None] * d[:, None, :], {}


def _hint_single_number():
    f, inputs = _affine()
    return f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum()), {}


def _hint_upstream():
    x = _rng(4).standard_normal((3, 4))
    return (lambda x: np.maximum(x, 0)), {"x": x}, lambda d: (x > 0).astype(float), {}


def _hint_upstream_two():
    x = _rng(4).standard_normal((3, 4))
    return np.tanh, {"x": x}, lambda d: 1 - np.tanh(x) ** 2, {"upstream": np.full((3, 4), 2.0)}


def _hint_upstream_two_dict():
    x = _rng(4).standard_normal((3, 4))
    return (lambda x: np.tanh(x).sum()), {"x": x}, {"x": 1 - np.tanh(x) ** 2}, {"upstream": 2}


def _hint_upstream_once():
    x = _rng(4).standard_normal((3, 4))
    calls = []

    def analytic(d):  # ignores dout, and fails when called again
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("called twice")
        return 1 - np.tanh(x) ** 2

    return np.tanh, {"x": x}, analytic, {}


def _hint_dout_squared():
    x = _rng(4).standard_normal((3, 4))
    return np.tanh, {"x": x}, lambda d: d * d * (1 - np.tanh(x) ** 2), {}


def _hint_dout_offset():
    f, inputs = _affine(d=4, m=4)
    return f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d + inputs["W"], d.sum(0)), {}


def _hint_ratio_is_upstream():
    x = _rng(4).standard_normal(5)
    return (lambda x: np.sin(x).sum()), {"x": x}, {"x": 4 * np.cos(x)}, {"upstream": 2.0}


def _scalar_mlp(w1, b1, w2, b2, x=2.0, y=10.0):
    return (w2 * np.maximum(w1 * x + b1, 0.0) + b2 - y) ** 2


_MLP_POINT = {"w1": -1.0, "b1": 4.0, "w2": 3.0, "b2": 1.0}
_MLP_GRADS = {"w1": -36.0, "b1": -18.0, "w2": -12.0, "b2": -6.0}


def _hint_w1_for_x():
    return _scalar_mlp, _MLP_POINT, {**_MLP_GRADS, "w1": 2 * -3.0 * 3.0 * -1.0}, {}


def _hint_swapped_scalars():
    return _scalar_mlp, _MLP_POINT, {**_MLP_GRADS, "w2": -6.0, "b2": -12.0}, {}


def _hint_swapped_arrays():
    rng = _rng(11)
    x, y = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    return (lambda x, y: np.sin(x) * y), {"x": x, "y": y}, \
        lambda d: (d * np.sin(x), d * np.cos(x) * y), {}


def _hint_batch_closure():
    rng = _rng(1)
    z, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[np.arange(6), y] -= 1
    return (lambda z: softmax_ce(z, y)), {"z": z}, {"z": p}, {}


def _shared_forward(x, W):
    return W @ np.maximum(W @ x, 0.0)


def _shared_backward(x, W, d, overwrite):
    h = W @ x
    dW = np.outer(d, np.maximum(h, 0))
    dh = (W.T @ d) * (h > 0)
    dW = np.outer(dh, x) if overwrite else dW + np.outer(dh, x)
    return W.T @ dh, dW


def _hint_shared():
    rng = _rng(12)
    x, W = rng.standard_normal(5), rng.standard_normal((5, 5))
    split = {"W": lambda x, W_out, W_in: W_out @ np.maximum(W_in @ x, 0.0)}
    return _shared_forward, {"x": x, "W": W}, \
        lambda d: _shared_backward(x, W, d, overwrite=True), {"shared": split}


def _hint_none():
    f, inputs = _affine()
    return f, inputs, lambda d: (d @ inputs["W"].T, None, d.sum(0)), {}


def _hint_nan():
    f, inputs = _affine()
    bad = np.array([1.0, np.nan, 1.0])
    return f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0) * bad), {}


def _hint_inf():
    f, inputs = _affine()
    bad = np.array([1.0, 1.0, np.inf])
    return f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0) * bad), {}


def _hint_domain():
    x = np.array([1.0, 1e-7, 2.0])
    return (lambda x: np.log(x).sum()), {"x": x}, {"x": 1 / x}, {}


def _hint_not_deterministic():
    noise = np.random.default_rng(5)
    x = np.ones(3)
    return (lambda x: (x * noise.random(3)).sum()), {"x": x}, {"x": x}, {}


def _hint_mask_misplaced():
    x = _rng(6).standard_normal((4, 5))
    return (lambda x: np.maximum(x, 0)), {"x": x}, lambda d: d * (d > 0), {}


def _hint_mask_missing():
    x = _rng(6).standard_normal((4, 5))
    out = np.maximum(x, 0)
    return (lambda x: np.maximum(x, 0)), {"x": x}, lambda d: d * (out >= 0), {}


def _hint_zeros():
    f, inputs = _affine()

    def analytic(d):
        dW = inputs["x"].T @ d
        dW[:, 1] = 0
        return d @ inputs["W"].T, dW, d.sum(0)

    return f, inputs, analytic, {}


def _hint_one_row():
    f, inputs = _affine()

    def analytic(d):
        dW = inputs["x"].T @ d
        dW[2] *= 1.5
        return d @ inputs["W"].T, dW, d.sum(0)

    return f, inputs, analytic, {}


def _hint_unsampled():
    rng = _rng(7)
    X, w = rng.standard_normal((100, 60)), rng.standard_normal(60)

    def analytic(d):
        dz = d * (1 - np.tanh(X @ w) ** 2)
        dX = np.outer(dz, w)
        dX[17, 3] += 0.5  # one wrong entry that sampling is unlikely to hit
        return dX, X.T @ dz

    return (lambda X, w: np.tanh(X @ w)), {"X": X, "w": w}, analytic, {}


def _hint_square_no_pattern():
    f, inputs = _affine(d=4, m=4)
    noise = _rng(10).standard_normal((4, 4))  # a wrong x, so dW is wrong but linear in dout
    return f, inputs, lambda d: (d @ inputs["W"].T, (inputs["x"] + noise).T @ d, d.sum(0)), {}


def _hint_two_entries_scaled():
    x = np.array([0.5, -1.5])
    return (lambda x: (x**3).sum()), {"x": x}, {"x": 9 * x * x}, {}


def _hint_domain_along_direction():
    x = np.full((30, 30), 2.0)
    x[4, 5] = 1e-12
    return (lambda x: np.sqrt(x).sum()), {"x": x}, {"x": 0.5 / np.sqrt(x)}, \
        {"mode": "directional"}


def _hint_varies():
    x = _rng(8).standard_normal(6)
    return (lambda x: np.sin(x).sum()), {"x": x}, {"x": np.cos(x) + 0.1 * x**2}, {}


HINTS = [
    ("wrong sign", _hint_sign, ["gradient of x (shape (4, 5))", "sign of dx is wrong everywhere"]),
    ("mean where sum is needed", _hint_batch_small,
     ["gradient of b (shape (3,))", "db is 4 times too small, and 4 is the batch size",
      "divided by 4 twice"]),
    ("missing 1/N", _hint_batch_large,
     ["dlogits is 6 times too large, and 6 is the batch size", "mean over the batch"]),
    ("factor 2", _hint_twice, ["dx is twice the numerical gradient"]),
    ("factor 1/2", _hint_half, ["dx is half the numerical gradient"]),
    ("other constant factor", _hint_factor, ["dx is 3 times the numerical gradient everywhere"]),
    ("transposed (shape)", _hint_transposed_shape,
     ["your dW has shape (3, 5) but W has shape (5, 3): return dW.T",
      "with that change it matches"]),
    ("transposed (square)", _hint_transposed_square, ["dW matches the transpose", "return dW.T"]),
    ("missing batch sum", _hint_batch_sum,
     ["your dW has shape (64, 10, 5); sum over axis 0 to get (10, 5)",
      "with that change it matches"]),
    ("single number", _hint_single_number,
     ["db is a single number", "but b has shape (3,)"]),
    ("forgot the upstream gradient", _hint_upstream,
     ["the gradient does not change when the upstream gradient does: multiply by dout / "
      "out.grad (dx came out the same for dout and 2 * dout"]),
    ("forgot the upstream gradient of 2", _hint_upstream_two,
     ["the gradient does not change when the upstream gradient does: multiply by dout / "
      "out.grad"]),
    ("forgot the upstream gradient of 2, dict", _hint_upstream_two_dict,
     ["dx is the gradient for an upstream gradient of 1, but the upstream gradient is 2: the "
      "upstream gradient was not multiplied in; multiply by dout / out.grad"]),
    ("forgot the upstream gradient, second call fails", _hint_upstream_once,
     ["dx matches the gradient for an upstream gradient of all ones: the upstream gradient "
      "was not multiplied in"]),
    ("upstream gradient used twice", _hint_dout_squared,
     ["dx is not linear in the upstream gradient (doubling dout multiplied dx by 4)"]),
    ("a term without the upstream gradient", _hint_dout_offset,
     ["dW is not linear in the upstream gradient (doubling dout did not double dW)"]),
    ("ratio equal to the upstream gradient", _hint_ratio_is_upstream,
     ["dx is 2 times the numerical gradient, and the upstream gradient is 2 everywhere",
      "multiplied by dout exactly once"]),
    ("one scalar off by a ratio", _hint_w1_for_x,
     ["gradient of w1 (a scalar): 1 of 1 checked entry is off; worst at w1: analytic 18, "
      "numerical -36", "dw1 is -0.5 times the numerical gradient (off by 54); a single value "
      "cannot tell a wrong factor from a wrong formula, so no cause is named"]),
    ("swapped scalars", _hint_swapped_scalars,
     ["gradient of w2 (a scalar)", "dw2 and db2 look swapped: dw2 matches the numerical "
      "gradient of b2, and db2 that of w2"]),
    ("swapped arrays", _hint_swapped_arrays, ["dx and dy look swapped"]),
    ("missing 1/N, labels in a closure", _hint_batch_closure,
     ["dz is 6 times too large, and 6 is the batch size"]),
    ("shared weight overwritten", _hint_shared,
     ["dW is the contribution of one use of W alone (W_in, use 2 of 2)",
      "overwritten instead of summed (dW += ..., not dW = ...)"]),
    ("None", _hint_none, ["gradient of W (shape (5, 3)): dW is None"]),
    ("NaN with index", _hint_nan, ["db contains nan at b[1]"]),
    ("inf with index", _hint_inf, ["db contains inf at b[2]"]),
    ("domain error", _hint_domain,
     ["f is not finite near x[1] = 1e-07", "edge of f's domain"]),
    ("not deterministic", _hint_not_deterministic, ["f is not deterministic"]),
    ("mask from the wrong array", _hint_mask_misplaced,
     ["zeros are in the wrong places", "build the mask from the forward input"]),
    ("mask missing", _hint_mask_missing, ["dx is nonzero at", "a mask is missing"]),
    ("part missing", _hint_zeros, ["dW is zero at 5 of the 5 entries that are off"]),
    ("one wrong row", _hint_one_row,
     ["3 of 15 checked entries are off", "all 3 entries that are off are in row 2 of dW"]),
    ("unsampled entry", _hint_unsampled,
     ["random directions are off", "run with mode='full'"]),
    ("no pattern", _hint_varies, ["the error varies from entry to entry"]),
    ("no pattern, square matrix", _hint_square_no_pattern,
     ["gradient of W (shape (4, 4))", "the error varies from entry to entry"]),
    ("factor on too few entries", _hint_two_entries_scaled,
     ["dx is 3 times the numerical gradient at only 2 entries, too few to call it a constant "
      "factor"]),
    ("domain error along a direction", _hint_domain_along_direction,
     ["f is not finite along a random direction", "edge of f's domain"]),
]


@pytest.mark.parametrize("build, expected", [h[1:] for h in HINTS], ids=[h[0] for h in HINTS])
def test_failure_message_names_the_likely_bug(build, expected):
    """Each kind of bug gets a first line that stands alone and names the likely cause."""
    f, inputs, analytic, options = build()
    res = check_gradients(f, inputs, analytic, **options)
    assert not res.passed
    first = res.message
    assert "\n" not in first
    for text in expected:
        assert text in first, f"{text!r} not in {first!r}"
    with pytest.raises(GradientCheckError) as info:
        res.assert_ok()
    assert str(info.value).splitlines()[0] == first
    assert str(res).splitlines()[0] == first


def test_no_ratio_is_claimed_without_the_evidence():
    """A factor is named only when it holds at two or more entries, at every one of them,
    for a second upstream gradient too, and is not the upstream gradient's value."""
    for build in (_hint_w1_for_x, _hint_swapped_scalars, _hint_upstream_two,
                  _hint_upstream_two_dict, _hint_ratio_is_upstream):
        f, inputs, analytic, options = build()
        message = check_gradients(f, inputs, analytic, **options).message
        assert "factor 2" not in message and "twice" not in message and "half" not in message
    # twice the gradient at three large entries, but not at a small one that still counts
    x = np.array([10.0, -10.0, 10.0, 0.1])
    res = check_gradients(lambda x: (x * x).sum(), {"x": x}, {"x": np.append(4 * x[:3], 0.2)})
    assert "twice" not in res.message and "the error varies" in res.message
    # a backward that is linear in dout, twice the gradient for this dout but not for all ones
    z = _rng(13).standard_normal((3, 4))
    first = []

    def analytic(d):
        first.append(d)
        d0 = first[0]
        return (d + d0 * np.sum(d * d0) / np.sum(d0 * d0)) * np.cos(z)

    res = check_gradients(np.sin, {"z": z}, analytic)
    assert not res.passed and "twice" not in res.message


def test_name_starts_the_first_line():
    """name= puts the checked function's name first on every failure line and the header."""
    f, inputs, analytic, _ = _hint_sign()
    plain = check_gradients(f, inputs, analytic)
    res = check_gradients(f, inputs, analytic, name="affine_backward")
    assert res.message == "affine_backward: gradient check failed for " + \
        plain.message[len("gradient of "):]
    assert res.message.startswith("affine_backward: gradient check failed for x (shape (4, 5)): ")
    assert str(res).splitlines()[0] == res.message
    with pytest.raises(GradientCheckError) as info:
        res.assert_ok()
    assert str(info.value).splitlines()[0] == res.message
    assert "affine_backward: gradient check FAILED (mode auto" in str(res)
    good = check_gradients(f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0)),
                           name="affine_backward")
    assert str(good).startswith("affine_backward: gradient check passed (mode auto")
    res = check_gradients(f, inputs, lambda d: (d, d), name="affine_backward")
    assert res.message.startswith("affine_backward: gradient check failed: analytic returned 2 ")
    res = gradcheck(_CubeWrongSign, _leaf((3,), 5), name="cube_backward")
    assert res.message.startswith("cube_backward: gradient check failed for arg0 (shape (3,)): ")
    res = gradcheck(_CubeCountsCalls, _leaf((3,), 6), name="cube_backward")
    assert res.message.startswith("cube_backward: gradient check failed: a second backward()")
    with pytest.raises(TypeError, match="name must be a string or None"):
        check_gradients(f, inputs, analytic, name=3)


def test_upstream_may_be_a_number_and_a_dict_follows_it():
    """A number as upstream fills f's output; a dict holds the gradients for that upstream."""
    x = _rng(14).standard_normal((3, 4))
    seen = []

    def analytic(d):
        seen.append(d.copy())
        return d * np.cos(x)

    assert check_gradients(np.sin, {"x": x}, analytic, upstream=2.0).passed
    assert np.array_equal(seen[0], np.full((3, 4), 2.0))
    f = lambda x: np.sin(x).sum()  # noqa: E731
    assert check_gradients(f, {"x": x}, {"x": 2 * np.cos(x)}, upstream=2.0).passed
    assert check_gradients(f, {"x": x}, {"x": 2 * np.cos(x)}, upstream=np.array([2.0])).passed
    assert not check_gradients(f, {"x": x}, {"x": np.cos(x)}, upstream=2.0).passed
    assert check_gradients(f, {"x": x}, {"x": np.cos(x)}, upstream="random").passed


def test_hint_probes_survive_odd_answers_to_a_second_upstream_gradient():
    """When analytic answers 2 * dout with None, text or nan, there is no evidence from that
    call; an answer in a fixable shape is read as fixed. The other hints still work."""
    x = _rng(15).standard_normal(5)
    for odd in (lambda d: None, lambda d: "text", lambda d: np.full(5, np.nan),
                lambda d: (-d * np.cos(x)).reshape(1, 5)):
        def analytic(d, odd=odd, calls=[]):  # noqa: B006 (counts the calls of this one)
            calls.append(1)
            return -d * np.cos(x) if len(calls) == 1 else odd(d)

        res = check_gradients(np.sin, {"x": x}, analytic)
        assert "sign of dx is wrong everywhere" in res.message, res.message


def test_swaps_and_shared_uses_are_found_in_every_mode():
    """Swapped gradients and a gradient of one use alone are named on sampled entries and on
    directions too; inputs of different shapes are never called swapped."""
    rng = _rng(16)
    x, y = rng.standard_normal((30, 20)), rng.standard_normal((30, 20))
    swapped = lambda d: (d * np.sin(x), d * np.cos(x) * y)  # noqa: E731
    f, inputs, analytic, options = _hint_shared()
    for mode in ("auto", "directional"):
        res = check_gradients(lambda x, y: np.sin(x) * y, {"x": x, "y": y}, swapped, mode=mode)
        assert "dx and dy look swapped" in res["x"].message, res.message
        assert "dy and dx look swapped" in res["y"].message
        res = check_gradients(f, inputs, analytic, mode=mode, **options)
        assert "overwritten instead of summed" in res.message
    f, inputs = _affine()
    res = check_gradients(f, inputs, lambda d: (-(d @ inputs["W"].T), -inputs["x"].T @ d,
                                                -d.sum(0)))
    assert all("sign of" in r.message for r in res)


def test_shared_weight_needs_a_split_that_computes_f():
    """shared= names a float input and gives f with one argument per use; misuse is refused."""
    f, inputs, analytic, options = _hint_shared()
    split = options["shared"]["W"]
    right = lambda d: _shared_backward(inputs["x"], inputs["W"], d, overwrite=False)  # noqa: E731
    res = check_gradients(f, inputs, right, shared={"W": split})
    assert res.passed, res.message
    cases = [
        ([1], TypeError, "shared must be a dict input name -> f"),
        ({"V": split}, ValueError, "shared names 'V', which is not an input (inputs: x, W)"),
        ({"W": np.sin}, TypeError, "must take f's arguments in order with one argument per use"),
        ({"W": lambda x, W: W @ x}, TypeError, "so at least 3 arguments without defaults"),
        ({"W": lambda *a: a[1] @ a[0]}, TypeError, "no *args"),
        ({"W": lambda x, W1, W2: W1 @ (W2 @ x)}, ValueError,
         "shared['W'] with all 2 uses set to W must compute f, but it gives"),
        ({"W": lambda x, W1, W2: W1.sum()}, ValueError,
         "it gives shape () where f gives shape (5,)"),
    ]
    for shared, error, text in cases:
        with pytest.raises(error) as info:
            check_gradients(f, inputs, analytic, shared=shared)
        assert text in str(info.value)
    with pytest.raises(TypeError, match=r"shared\['W'\] must be a Python function"):
        check_gradients(f, inputs, analytic, shared={"W": 3})
    with pytest.raises(ValueError, match="which is not a float input"):
        check_gradients(lambda x, k: k * x, {"x": np.ones(2), "k": 2}, lambda d: 2 * d,
                        shared={"k": lambda x, k1, k2: k1 * x})


def test_shared_scalar_overwritten():
    """A number used twice, a * sin(a), whose derivative keeps one use only, is named."""
    res = check_gradients(lambda a: a * np.sin(a), {"a": 0.7}, {"a": np.sin(0.7)},
                          shared={"a": lambda a1, a2: a1 * np.sin(a2)})
    assert "(a1, use 1 of 2)" in res.message and "overwritten instead of summed" in res.message


def test_first_line_has_name_shape_count_index_values_and_hint():
    """A value failure's first line carries the input, shape, count, worst index, both values."""
    f, inputs, analytic, _ = _hint_sign()
    res = check_gradients(f, inputs, analytic)
    worst = res["x"].worst[0]
    idx = ", ".join(map(str, worst.index))
    assert res.message.startswith("gradient of x (shape (4, 5)): 20 of 20 checked entries are off;")
    assert f"worst at x[{idx}]: analytic " in res.message
    assert f"{worst.analytic:.4g}" in res.message and f"{worst.numerical:.4g}" in res.message
    assert "Hint: " in res.message
    assert worst.analytic == pytest.approx(-worst.numerical)


def test_assert_ok_error_is_an_assertion_error_and_passing_returns_result():
    """GradientCheckError subclasses AssertionError; assert_ok returns the result when passing."""
    assert issubclass(GradientCheckError, AssertionError)
    f, inputs = _affine()
    good = check_gradients(f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0)))
    assert good.assert_ok() is good
    f, inputs, analytic, _ = _hint_sign()
    with pytest.raises(AssertionError, match="worst entries of dx"):
        check_gradients(f, inputs, analytic).assert_ok()


# ---------------------------------------------------------------------------------------------
# the result object


def test_result_api():
    """The result is truthy iff passed, indexable by name and position, and prints compactly."""
    f, inputs, analytic, _ = _hint_batch_small()
    res = check_gradients(f, inputs, analytic)
    assert isinstance(res, GradCheckResult) and not res and not res.passed
    assert res["x"].passed and res["W"].passed and not res["b"].passed
    assert bool(res["x"]) and not bool(res["b"])
    assert res[2] is res["b"] and len(res) == 3 and [r.name for r in res] == ["x", "W", "b"]
    b = res["b"]
    assert b.shape == (3,) and b.entries_off == 3 and b.entries_checked == 3 and b.full
    assert b.max_abs_error > 0 and 0.7 < b.max_rel_error < 0.8  # 1 - 1/4
    assert len(b.worst) == 3 and all(len(e.index) == 1 for e in b.worst)
    assert str(b.worst[0]).startswith(f"[{b.worst[0].index[0]}]: analytic ")
    assert res["x"].max_abs_error < 1e-8
    assert len(res["x"].worst) == 3 and all(e.abs_error < 1e-8 for e in res["x"].worst)
    assert res.evaluations > 0 and res.mode == "auto" and res.seed == 0
    assert repr(res) == "<GradCheckResult FAILED: x, W, b>"
    text = str(res)
    assert "gradient check FAILED (mode auto, seed 0" in text
    assert "gradient of x (shape (4, 5)): ok (all 20 entries" in text
    assert "gradient of b (shape (3,)): FAILED (all 3 entries, 3 off)" in text
    assert str(b).splitlines()[0] == b.message
    with pytest.raises(KeyError, match="checked inputs: x, W, b"):
        res["c"]


def test_html_report_is_a_small_escaped_table():
    """_repr_html_ gives one table row per input and escapes the text."""
    f, inputs, analytic, _ = _hint_batch_small()
    page = check_gradients(f, inputs, analytic)._repr_html_()
    assert page.count("<tr>") == 4  # header + 3 inputs
    assert "<table>" in page and "FAILED" in page and "db is 4 times too small" in page
    x = np.ones(2)
    page = check_gradients(lambda x: (x * x).sum(), {"<x>": x}, {"<x>": 2 * x})._repr_html_()
    assert "&lt;x&gt;" in page and "<x>" not in page and "passed" in page


def test_never_prints_a_whole_jacobian():
    """A failure on a large input reports a handful of entries, not every one."""
    x = _rng(9).standard_normal((50, 40))
    res = check_gradients(lambda x: np.tanh(x), {"x": x}, lambda d: -d * (1 - np.tanh(x) ** 2),
                          mode="full")
    assert not res.passed
    assert len(res["x"].worst) == 3
    with pytest.raises(GradientCheckError) as info:
        res.assert_ok()
    assert len(str(info.value)) < 1000 and len(str(res)) < 1500


# ---------------------------------------------------------------------------------------------
# numerics: upstream gradient, warnings, copies, mutation


def test_upstream_gradient_is_independent_of_default_rng_with_the_same_seed():
    """Inputs drawn from default_rng(0) and seed=0 do not give dout equal to those inputs."""
    x = np.random.default_rng(0).standard_normal((3, 4))
    seen = []

    def analytic(d):
        seen.append(d.copy())
        return d * np.cos(x)

    check_gradients(np.sin, {"x": x}, analytic, seed=0).assert_ok()
    assert not np.allclose(seen[0], x)
    assert not np.allclose(seen[0], np.random.default_rng(0).standard_normal((3, 4)))
    check_gradients(np.sin, {"x": x}, analytic, seed=0)
    check_gradients(np.sin, {"x": x}, analytic, seed=1)
    assert np.array_equal(seen[0], seen[1]) and not np.array_equal(seen[0], seen[2])


def test_upstream_ones_and_explicit_array():
    """upstream='ones' passes all ones; an array is used as given; a wrong shape is refused."""
    x = _rng(1).standard_normal(4)
    seen = []

    def analytic(d):
        seen.append(d.copy())
        return d * np.cos(x)

    check_gradients(np.sin, {"x": x}, analytic, upstream="ones").assert_ok()
    given_dout = np.array([1.0, -2.0, 3.0, 0.5])
    check_gradients(np.sin, {"x": x}, analytic, upstream=given_dout).assert_ok()
    assert np.array_equal(seen[0], np.ones(4)) and np.array_equal(seen[1], given_dout)
    with pytest.raises(ValueError, match=r"shape of f's output \(4,\) \(got \(3,\)\)"):
        check_gradients(np.sin, {"x": x}, analytic, upstream=np.ones(3))


def test_dout_has_the_output_dtype():
    """Float32 code receives a float32 upstream gradient of the output's shape."""
    x = _rng(1).standard_normal((2, 3)).astype(np.float32)
    seen = []

    def analytic(d):
        seen.append(d)
        return d * np.cos(x)

    check_gradients(np.sin, {"x": x}, analytic).assert_ok()
    assert seen[0].dtype == np.float32 and seen[0].shape == (2, 3)


def test_passing_check_emits_no_warnings():
    """Warnings raised by f or by numpy inside the check never reach the caller."""
    x = _rng(2).standard_normal(5)

    def f(x):
        warnings.warn("student code warns", UserWarning, stacklevel=1)
        _ = np.exp(np.full(2, 1000.0))  # overflow warning from numpy
        return (x * x).sum()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = check_gradients(f, {"x": x}, {"x": 2 * x})
    assert res.passed
    assert caught == []


def test_callers_arrays_are_never_changed():
    """The checker works on copies: the caller's inputs keep their values and dtypes."""
    f, inputs, variants = CASES[0].make(0, np.float32)
    before = {k: v.copy() for k, v in inputs.items()}
    check_gradients(f, inputs, variants["ok"], mode="full").assert_ok()
    for k, v in inputs.items():
        assert v.dtype == np.float32 and np.array_equal(v, before[k])


def test_backward_that_changes_dout_in_place_is_reported():
    """A backward that writes into dout fails with a message saying so."""
    x = _rng(3).standard_normal((3, 4))

    def relu_backward(d):
        d[x <= 0] = 0  # classic in-place mask
        return d

    res = check_gradients(lambda x: np.maximum(x, 0), {"x": x}, relu_backward)
    assert not res.passed
    assert res.message.startswith("the backward changed dout in place (dout[")
    assert "dout.copy()" in res.message
    assert res["x"].passed  # the values themselves are right


def test_backward_that_changes_an_input_in_place_is_reported():
    """A backward that modifies the caller's input array fails with a message saying so."""
    x = _rng(3).standard_normal((3, 4))
    keep = x.copy()

    def analytic(d):
        x[0, 0] = 99.0
        return d * np.cos(keep)

    res = check_gradients(np.sin, {"x": x}, analytic)
    assert not res.passed
    assert "the backward changed the input x in place (x[0, 0] was" in res.message
    assert "now 99" in res.message

    def nudge(d):
        x[1, 1] = np.nextafter(x[1, 1], 10.0)  # too small a change for 4 digits
        return d * np.cos(keep)

    x[...] = keep
    res = check_gradients(np.sin, {"x": x}, nudge)
    was, now = repr(float(keep[1, 1])), repr(float(np.nextafter(keep[1, 1], 10.0)))
    assert f"x[1, 1] was {was}, now {now}" in res.message


def test_f_that_changes_its_input_is_reported():
    """A forward that modifies its argument cannot be checked, and the message says why."""

    def f(x):
        x[0] = 5.0
        return x.sum()

    res = check_gradients(f, {"x": np.ones(3)}, {"x": np.ones(3)})
    assert not res.passed
    assert res.message == ("f changed its input x in place (x[0] was 1, now 5): f must not "
                           "modify its arguments; work on a copy inside f")


def test_f_returning_a_view_of_its_input_is_handled():
    """An f that returns (a view of) its input is differentiated correctly."""
    x = _rng(4).standard_normal((2, 3))
    res = check_gradients(lambda x: x.T, {"x": x}, lambda d: d.T, mode="full")
    assert res.passed, res.message


def test_output_shape_that_depends_on_values_is_reported():
    """An f whose output shape changes with the input values is reported, not crashed on."""
    res = check_gradients(lambda x: x[x > 0.5], {"x": np.array([0.5 + 1e-9, 2.0])},
                          lambda d: d)
    assert not res.passed
    assert "the output shape of f must not depend on the input values" in res.message


def test_rounding_noise_passes_where_f_does_not_depend_on_an_input():
    """A shift added to every logit has gradient 0; rounding noise there passes, 0.3 fails."""
    z, y = _rng(6).standard_normal((6, 4)), np.array([0, 1, 2, 3, 0, 1])

    def f(z, c):
        return softmax_ce(z + c, y)

    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[np.arange(6), y] -= 1
    for noise in (1e-17, -3e-16):
        assert check_gradients(f, {"z": z, "c": 0.7}, {"z": p / 6, "c": noise}).passed
    res = check_gradients(f, {"z": z, "c": 0.7}, {"z": p / 6, "c": 0.3})
    assert res.message.startswith("gradient of c (a scalar): 1 of 1 checked entry is off; "
                                  "worst at c: analytic 0.3, numerical ")
    assert res.message.endswith("Hint: recheck the formula for dc")


def test_non_finite_output_at_the_given_inputs():
    """f returning inf at the given point is reported with the output index."""
    res = check_gradients(lambda x: 1 / x, {"x": np.array([1.0, 0.0])}, lambda d: d)
    assert not res.passed
    assert res.message.startswith("f returned inf at output [1] for the given inputs")


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    exponent=st.integers(-4, 4),
    shape=st.sampled_from([(3,), (2, 3), (4, 1)]),
    dtype=st.sampled_from(["float64", "float32"]),
)
def test_correct_gradients_pass_at_any_input_scale(exponent, shape, dtype):
    """The step follows the input's scale: correct gradients pass from 1e-4 to 1e4."""
    x = (10.0**exponent * (1.0 + np.arange(np.prod(shape)).reshape(shape))).astype(dtype)

    def f(x):
        return x**3 / (1 + x * x)

    def analytic(d):
        return d * (3 * x**2 * (1 + x * x) - 2 * x**4) / (1 + x * x) ** 2

    res = check_gradients(f, {"x": x}, analytic)
    assert res.passed, res.message
    wrong = check_gradients(f, {"x": x}, lambda d: 1.05 * analytic(d))
    assert not wrong.passed


# ---------------------------------------------------------------------------------------------
# modes and evaluation budget


def test_full_mode_counts_two_evaluations_per_entry_when_right():
    """Full mode checks every entry; a correct smooth gradient costs 2 evaluations per entry."""
    f, inputs = _affine()
    res = check_gradients(f, inputs, lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0)),
                          mode="full")
    assert res.passed and res.evaluations == 3 + 2 * (20 + 15 + 3)
    assert all(r.full and r.directions_checked == 0 for r in res)


def test_auto_mode_samples_large_inputs_within_budget():
    """Auto mode checks small inputs fully and large ones by samples plus directions."""
    rng = _rng(5)
    X, W, b = rng.standard_normal((32, 64)), rng.standard_normal((64, 75)), np.zeros(75)

    def f(W, b):
        return np.tanh(X @ W + b)

    def analytic(d):
        dz = d * (1 - f(W, b) ** 2)
        return X.T @ dz, dz.sum(0)

    res = check_gradients(f, {"W": W, "b": b}, analytic)
    assert res.passed, res.message
    assert res["b"].full and res["b"].entries_checked == 75
    assert not res["W"].full and res["W"].entries_checked == 400 - 75
    assert res["W"].directions_checked == 4
    assert res.evaluations <= 3 + 2 * 400 + 2 * 4
    assert "325 entries + 4 directions" in str(res)
    small = check_gradients(f, {"W": W, "b": b}, analytic, max_entries=50, directions=2)
    assert small.passed and small["W"].entries_checked == 25 and small["b"].entries_checked == 25
    assert small.evaluations <= 3 + 2 * 50 + 2 * 2 * 2


def test_bias_error_is_not_drowned_by_a_large_weight():
    """A wrong bias fails on its own even next to a weight matrix with thousands of entries."""
    rng = _rng(6)
    X, W, b = rng.standard_normal((16, 80)), rng.standard_normal((80, 60)), rng.standard_normal(60)
    res = check_gradients(lambda W, b: X @ W + b, {"W": W, "b": b},
                          lambda d: (X.T @ d, d.mean(0)))
    assert res["W"].passed and not res["b"].passed
    assert "db is 16 times too small" in res.message


def test_directional_and_sample_modes():
    """Directional mode probes only directions; sample mode only entries; both catch a sign bug."""
    f, inputs = _affine()
    right = lambda d: (d @ inputs["W"].T, inputs["x"].T @ d, d.sum(0))
    wrong = lambda d: (-(d @ inputs["W"].T), inputs["x"].T @ d, d.sum(0))
    res = check_gradients(f, inputs, right, mode="directional", directions=3)
    assert res.passed and res.evaluations == 3 + 2 * 3 * 3
    assert all(r.entries_checked == 0 and r.directions_checked == 3 for r in res)
    bad = check_gradients(f, inputs, wrong, mode="directional")
    assert not bad.passed and "random directions are off" in bad.message
    assert "sign of dx is wrong everywhere" in bad.message
    res = check_gradients(f, inputs, right, mode="sample", max_entries=9)
    assert res.passed and all(r.directions_checked == 0 for r in res)
    assert [r.entries_checked for r in res] == [3, 3, 3]
    assert not check_gradients(f, inputs, wrong, mode="sample", max_entries=9).passed


def test_sampling_includes_zero_and_largest_analytic_entries():
    """Sampled entries always include the largest analytic entries and its exact zeros."""
    x = _rng(7).standard_normal((40, 30))
    x[4, 4] = 9.0
    f = lambda x: (x * x).sum()
    biggest = 2 * x
    biggest[4, 4] *= 1.5  # only the largest entry is wrong
    zeros = 2 * x
    zeros[[1, 7, 30], [2, 9, 29]] = 0.0  # three zeros where the true gradient is not zero
    for analytic in (biggest, zeros):
        res = check_gradients(f, {"x": x}, {"x": analytic}, mode="sample", max_entries=20)
        assert res["x"].entries_checked == 20 and not res.passed


# ---------------------------------------------------------------------------------------------
# analytic forms, shapes, argument errors


def test_analytic_may_be_dict_tuple_list_array_or_tensor():
    """Gradients may come as a dict, a tuple, a list, a single array, or Tensors."""
    x = _rng(8).standard_normal(3)
    y = _rng(9).standard_normal(3)
    f = lambda x, y: x * y
    assert check_gradients(f, {"x": x, "y": y}, lambda d: {"x": d * y, "y": d * x}).passed
    assert check_gradients(f, {"x": x, "y": y}, lambda d: [d * y, d * x]).passed
    assert check_gradients(f, {"x": x, "y": y},
                           lambda d: (mg.Tensor(d * y), mg.Tensor(d * x))).passed
    assert check_gradients(np.sin, {"x": x}, lambda d: d * np.cos(x)).passed
    assert check_gradients(lambda x: (x * x).sum(), {"x": x}, {"x": list(2 * x)}).passed
    assert check_gradients(lambda x: (x * x).sum(), {"x": x}, lambda d: list(2 * d * x)).passed
    assert check_gradients(lambda x: (x * x).sum(), {"x": mg.Tensor(x)}, {"x": 2 * x}).passed


def test_float16_inputs_get_a_looser_tolerance():
    """Half-precision code is judged against half-precision rounding, not float64's."""
    x = _rng(5).standard_normal(6).astype(np.float16)
    res = check_gradients(np.tanh, {"x": x}, lambda d: d * (1 - np.tanh(x) ** 2))
    assert res.passed, res.message
    assert not check_gradients(np.tanh, {"x": x}, lambda d: -d * (1 - np.tanh(x) ** 2)).passed


def test_integer_inputs_are_constants_passed_through():
    """Integer labels reach f unchanged and need no gradient."""
    z = _rng(1).standard_normal((4, 3))
    y = np.array([0, 2, 1, 2])
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    p[np.arange(4), y] -= 1
    res = check_gradients(softmax_ce, {"logits": z, "y": y}, {"logits": p / 4})
    assert res.passed and list(res.inputs) == ["logits"]
    res = check_gradients(lambda x, k: k * x, {"x": z, "k": 3}, lambda d: 3 * d)
    assert res.passed and list(res.inputs) == ["x"]


def test_python_numbers_reach_f_as_floats():
    """Inputs given as Python numbers are passed to f as floats, so math functions work."""
    seen = set()

    def f(x, y):
        seen.add((type(x), type(y)))
        return 1.0 / (y + math.exp(-x))

    res = check_gradients(f, {"x": 0.0, "y": 1.0}, {"x": 0.25, "y": -0.25})
    assert res.passed and seen == {(float, float)}
    assert "gradient of x (a scalar): ok (1 entry" in str(res)
    res = check_gradients(lambda x: abs(x), {"x": 0.0}, {"x": 0.0})
    assert res.passed and res["x"].kinks == [()] and "1 kink: x" in str(res)


@pytest.mark.parametrize(
    "grad_shape, expected",
    [
        ((1, 3), "your dW has shape (1, 3) but W has shape (3,); reshape it to (3,)"),
        ((2, 5, 3), "your dW has shape (2, 5, 3); sum over axes (0, 1) to get (3,)"),
        ((3, 4), "your dW has shape (3, 4); sum over axis 1 to get (3,)"),
        ((4, 2), "your dW has shape (4, 2) but W has shape (3,): the gradient must have"),
    ],
)
def test_shape_advice_for_a_vector(grad_shape, expected):
    """Wrong gradient shapes for a vector input get a concrete fix."""
    w = _rng(2).standard_normal(3)
    g = np.broadcast_to(2 * w / np.prod(grad_shape[:-1]), grad_shape).copy() \
        if grad_shape[-1] == 3 else np.ones(grad_shape)
    res = check_gradients(lambda W: (W * W).sum(), {"W": w}, {"W": g})
    assert not res.passed and expected in res.message


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda g: g.sum(0, keepdims=True).repeat(4, 0) / 4,
         "your dW has shape (4, 3); sum over axis 0 with keepdims=True to get (1, 3)"),
        (lambda g: np.stack([g, g], axis=1) / 2,
         "your dW has shape (1, 2, 3); sum over axis 1 to get (1, 3)"),
        (lambda g: -np.stack([g, g], axis=1) / 2,
         "sum over axis 1 to get (1, 3); even then 3 of 3 checked entries are off"),
    ],
)
def test_shape_advice_for_a_row_vector(make, expected):
    """A (1, n) input: keepdims sums, a summable extra axis, and a fix that is still wrong."""
    w = _rng(3).standard_normal((1, 3))
    res = check_gradients(lambda W: (W * W).sum(), {"W": w}, {"W": make(2 * w)})
    assert not res.passed and expected in res.message


def test_gradient_with_the_right_size_but_another_shape_is_reshaped():
    """A gradient with the right number of entries in another shape gets a reshape fix."""
    res = check_gradients(lambda x: x * x, {"x": 3.0}, {"x": np.array([6.0])})
    assert not res.passed
    assert "dx has shape (1,) but x has shape (); reshape it" in res.message
    w = _rng(4).standard_normal((2, 3))
    res = check_gradients(lambda W: (W * W).sum(), {"W": w}, {"W": 2 * w.reshape(-1)})
    assert res.message == ("gradient of W (shape (2, 3)): your dW has shape (6,) but W has shape "
                           "(2, 3); reshape it to (2, 3); with that change it matches the "
                           "numerical gradient")


def test_analytic_structure_problems_are_reported():
    """Wrong number of gradients, unknown names and gradients for constants are explained."""
    f, inputs = _affine()
    res = check_gradients(f, inputs, lambda d: (d, d))
    assert res.message == ("analytic returned 2 gradients; expected 3, one per float input in "
                           "order: x, W, b")
    res = check_gradients(f, inputs, lambda d: {"x": d, "w": d, "b": d})
    assert res.message.startswith("analytic returned a gradient for 'w', which is not an input")
    res = check_gradients(f, inputs, lambda d: d)
    assert res.message.startswith("analytic returned a single gradient; expected a tuple of 3")
    res = check_gradients(f, inputs, lambda d: None)
    assert res.message.startswith("analytic returned None; expected a tuple of 3")
    res = check_gradients(lambda x, y: x * y, {"x": 2, "y": 1.0}, {"x": 1.0, "y": 2.0})
    assert res.message.startswith("analytic returned a gradient for x, but x is not a float "
                                  "input (int 2)")
    res = check_gradients(lambda x, y: (x * y).sum(), {"x": np.ones(2), "y": np.arange(2)},
                          {"x": np.arange(2.0), "y": np.ones(2)})
    assert "y is not a float input (an array of dtype int64)" in res.message
    res = check_gradients(lambda x: x.sum(), {"x": np.ones(2)}, {"x": np.array(["a", "b"])})
    assert "dx is not an array of numbers" in res.message
    res = check_gradients(lambda x: x.sum(), {"x": np.ones(2)}, {})
    assert "dx is None" in res.message


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        (dict(f=3), TypeError, "f must be callable (got int)"),
        (dict(inputs=[1.0]), TypeError, "inputs must be a non-empty dict"),
        (dict(inputs={}), TypeError, "inputs must be a non-empty dict"),
        (dict(inputs={1: np.ones(2)}), TypeError, "input names must be strings"),
        (dict(analytic=3), TypeError, "analytic must be a dict name -> gradient or a callable"),
        (dict(mode="fast"), ValueError, "mode must be one of auto, full, sample, directional"),
        (dict(upstream="zeros"), ValueError, "upstream must be 'random', 'ones' or an array"),
        (dict(seed=-1), ValueError, "seed must be a non-negative integer"),
        (dict(rtol=0), ValueError, "rtol must be a positive number or None"),
        (dict(atol=-1.0), ValueError, "atol must be a number >= 0"),
        (dict(max_entries=0), ValueError, "max_entries must be an integer >= 1"),
        (dict(directions=-1), ValueError, "directions must be an integer >= 0"),
        (dict(mode="directional", directions=0), ValueError, "needs directions >= 1"),
        (dict(inputs={"y": np.arange(3)}), ValueError, "no float input to check"),
        (dict(inputs={"z": np.ones(2, complex)}), TypeError, "input 'z' is complex"),
        (dict(f=lambda x: x), TypeError, "so analytic must be a callable analytic(dout)"),
        (dict(f=lambda x: (x, x)), TypeError, "f must return one array or a number"),
        (dict(f=lambda x: "ab"), TypeError, "f must return numbers"),
    ],
)
def test_argument_errors_say_what_must_hold(kwargs, error, text):
    """Misuse raises an error that says what must hold and what was got."""
    call = dict(f=lambda x: (x * x).sum(), inputs={"x": np.ones(2)}, analytic={"x": 2 * np.ones(2)})
    call.update(kwargs)
    analytic = call.pop("analytic")
    f, inputs = call.pop("f"), call.pop("inputs")
    with pytest.raises(error) as info:
        check_gradients(f, inputs, analytic, **call)
    assert text in str(info.value)


def test_fresh_copy_of_the_module_works_like_the_original():
    """The checker loads as a private copy (as hidden tests do) and behaves the same."""
    spec = importlib.util.find_spec("minigrad.gradcheck")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    f, inputs, analytic, _ = _hint_sign()
    res = module.check_gradients(f, inputs, analytic)
    assert not res.passed and "sign of dx" in res.message
    with pytest.raises(AssertionError):
        res.assert_ok()


_ALONE = """
import importlib.util, sys
before = set(sys.modules)
spec = importlib.util.spec_from_file_location("_gradcheck_alone", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
loaded = {name.split(".")[0] for name in set(sys.modules) - before}
print(sorted(loaded - set(sys.stdlib_module_names) - {"numpy"}))
import numpy as np
x = np.arange(1.0, 4.0)
print(module.check_gradients(lambda x: (x * x).sum(), {"x": x}, {"x": 2 * x}).passed)
print(module.check_gradients(lambda x: (x * x).sum(), {"x": x}, {"x": -2 * x}).message)
try:
    import minigrad
    print("minigrad importable")
except ImportError:
    print("no minigrad")
"""


def test_the_module_works_loaded_from_its_file_with_only_numpy(tmp_path):
    """Loaded from its file alone, with numpy the only package on the path, the checker imports
    nothing but numpy and the standard library and gives the same verdicts."""
    path = importlib.util.find_spec("minigrad.gradcheck").origin
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    out = subprocess.run([sys.executable, "-S", "-c", _ALONE, path], cwd=tmp_path,
                         env={"PYTHONPATH": numpy_dir}, capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    outside, passed, message, minigrad = out.stdout.splitlines()
    assert outside == "[]"
    assert passed == "True"
    assert message.startswith("gradient of x (shape (3,)): 3 of 3 checked entries are off")
    assert "the sign of dx is wrong everywhere" in message
    assert minigrad == "no minigrad"


# ---------------------------------------------------------------------------------------------
# the minigrad adapter


def _leaf(shape, seed, dtype=np.float64, name=None):
    return mg.Tensor(_rng(seed).standard_normal(shape).astype(dtype), requires_grad=True,
                     name=name)


class _Cube(mg.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return (3 * x * x * grad_output,)


class _CubeWrongSign(_Cube):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return (-3 * x * x * grad_output,)


class _CubeCountsCalls(_Cube):
    """Each backward through the same graph returns a larger gradient (no true accumulation)."""

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        ctx.calls = getattr(ctx, "calls", 0) + 1
        return (ctx.calls * 3 * x * x * grad_output,)


class _CubeRemembersFirstUpstream(_Cube):
    """Caches the first upstream gradient it ever sees and reuses it (not linear)."""

    seen: list = []

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        if not _CubeRemembersFirstUpstream.seen:
            _CubeRemembersFirstUpstream.seen.append(np.array(grad_output, copy=True))
        return (3 * x * x * _CubeRemembersFirstUpstream.seen[0],)


def test_gradcheck_passes_for_minigrad_ops():
    """Compositions of minigrad ops pass in float64 and float32, named tensors keep their names."""
    a, W = _leaf((3, 4), 0), _leaf((4, 2), 1, name="W")
    res = gradcheck(lambda a, W: (a @ W).tanh(), a, W)
    assert res.passed, res.message
    assert list(res.inputs) == ["arg0", "W"]
    x = _leaf((5, 3), 2, np.float32)
    y = np.array([0, 2, 1, 1, 0])
    assert gradcheck(lambda x: mg.functional.cross_entropy(x, y), x).passed


def test_gradcheck_constants_and_callers_tensors_untouched():
    """Non-grad tensors and arrays are constants; the caller's tensors get no gradient."""
    a = _leaf((2, 3), 3)
    c = mg.Tensor(_rng(4).standard_normal((2, 3)))
    res = gradcheck(lambda a, c, k: (a * c + k).sum(), a, c, 2.0)
    assert res.passed and list(res.inputs) == ["arg0"]
    assert a.grad is None and c.grad is None


def test_gradcheck_on_function_subclasses():
    """A Function subclass is checked through apply; a wrong backward gets a hint."""
    assert gradcheck(_Cube, _leaf((3,), 5)).passed
    res = gradcheck(_CubeWrongSign, _leaf((3,), 5))
    assert not res.passed and "sign of darg0 is wrong everywhere" in res.message


def test_gradcheck_checks_that_a_second_backward_accumulates():
    """A backward that is right once but not additive across backward() calls is reported."""
    res = gradcheck(_CubeCountsCalls, _leaf((3,), 6))
    assert not res.passed
    assert res["arg0"].passed
    assert res.message.startswith("a second backward() on the same graph gave arg0.grad = 3 x")


def test_gradcheck_checks_linearity_in_the_upstream_gradient():
    """A backward that ignores later upstream gradients is reported as not linear."""
    _CubeRemembersFirstUpstream.seen.clear()
    res = gradcheck(_CubeRemembersFirstUpstream, _leaf((3,), 7))
    assert not res.passed
    assert res.message.startswith("backward is not linear in the upstream gradient for arg0")


def test_gradcheck_argument_errors():
    """gradcheck refuses inputs with nothing to check and functions that return no Tensor."""
    with pytest.raises(ValueError, match="no argument requires grad"):
        gradcheck(lambda a: a.sum(), mg.Tensor(np.ones(2)))
    with pytest.raises(TypeError, match="fn must return a Tensor"):
        gradcheck(lambda a: 3.0, _leaf((2,), 8))
    with pytest.raises(TypeError, match="fn must be callable"):
        gradcheck(5, _leaf((2,), 8))
