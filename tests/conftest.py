"""Shared pytest set-up: the gpu marker skips cleanly where no CUDA device and cupy exist,
and ``restore_environ`` gives a test a private copy of ``os.environ``."""

from __future__ import annotations

import os

import pytest

GRADEBOOK_ENV = "MINIGRAD_GRADEBOOK_URL"


@pytest.fixture
def restore_environ():
    """The commands edit os.environ (PATH, JUPYTER_PATH); the test gets a private copy, without
    a gradebook URL from the caller's shell."""
    saved = dict(os.environ)
    os.environ.pop(GRADEBOOK_ENV, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


def _gpu_available() -> bool:
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # ImportError, or cupy present without a driver or device
        return False


def pytest_collection_modifyitems(config, items):
    if any("gpu" in item.keywords for item in items) and not _gpu_available():
        skip = pytest.mark.skip(reason="no CUDA device with cupy on this machine")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)
