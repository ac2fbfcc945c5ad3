"""The public API is pinned: a change to ``__all__`` is a deliberate, reviewed change."""

from __future__ import annotations

import minigrad as mg


def test_top_level_all_is_pinned():
    """minigrad.__all__ lists exactly the documented names, and each exists."""
    assert sorted(mg.__all__) == [
        "Function",
        "Tensor",
        "Value",
        "data",
        "enable_grad",
        "expect",
        "functional",
        "gradcheck",
        "is_grad_enabled",
        "nn",
        "no_grad",
        "optim",
        "viz",
    ]
    for name in mg.__all__:
        assert hasattr(mg, name)


def test_submodule_all_is_pinned():
    """The submodules export the documented names."""
    assert sorted(mg.functional.__all__) == [
        "cross_entropy",
        "log_softmax",
        "mse_loss",
        "relu",
        "sigmoid",
        "softmax",
        "tanh",
    ]
    assert sorted(mg.nn.__all__) == [
        "Linear",
        "MLP",
        "Module",
        "ReLU",
        "Residual",
        "Sequential",
        "Sigmoid",
        "Tanh",
    ]
    assert sorted(mg.optim.__all__) == ["Adam", "Optimizer", "SGD"]
    assert sorted(mg.data.__all__) == ["digits", "regression_1d", "spirals"]
    assert {"check_gradients", "gradcheck", "GradientCheckError"} <= set(mg.gradcheck.__all__)
    assert {"draw_graph", "LossPlot"} <= set(mg.viz.__all__)
    assert {"expect_close", "expect_dtype", "expect_shape", "expect_finite", "require",
            "autograd_off", "calls_to"} <= set(mg.expect.__all__)
