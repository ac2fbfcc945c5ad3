"""The backend: numpy by default, cupy on a GPU with a clear hint when cupy is missing."""

from __future__ import annotations

import builtins

import numpy as np
import pytest

import minigrad as mg
from minigrad import backend


def test_numpy_is_the_default_module():
    """Arrays from numpy and Python lists are handled by numpy."""
    assert backend.array_module(np.ones(2)) is np
    assert backend.array_module(mg.Tensor([1.0]).data) is np
    assert backend.to_numpy(np.ones(2)).shape == (2,)


def test_missing_cupy_gives_an_install_hint(monkeypatch):
    """Asking for the GPU without cupy says how to install it."""
    real_import = builtins.__import__

    def no_cupy(name, *args, **kwargs):
        if name == "cupy" or name.startswith("cupy."):
            raise ImportError("No module named 'cupy'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_cupy)
    with pytest.raises(ImportError, match=r"pip install 'minigrad-course\[gpu\]'"):
        mg.Tensor([1.0]).to("cuda")


@pytest.mark.gpu
def test_training_step_on_the_gpu_matches_the_cpu():
    """The same forward and backward on cupy arrays gives the CPU's numbers."""
    import cupy

    rng = np.random.default_rng(0)
    x, W = rng.normal(size=(8, 5)), rng.normal(size=(5, 3))
    y = rng.integers(0, 3, 8)
    results = []
    for device in ("cpu", "cuda"):
        tw = mg.Tensor(W).to(device)
        tw.requires_grad = True
        xt = mg.Tensor(x).to(device)
        labels = y if device == "cpu" else cupy.asarray(y)
        loss = mg.functional.cross_entropy((xt @ tw).tanh(), labels)
        loss.backward()
        assert tw.device == device
        results.append((float(loss.item()), backend.to_numpy(tw.grad)))
    assert results[0][0] == pytest.approx(results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-6)
