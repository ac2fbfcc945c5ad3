"""What the two browser tests share (tests/test_e2e.py, tests/test_hub.py): Debian's Chromium,
its flags, and how a page tells that a notebook's kernel is attached and idle."""

from __future__ import annotations

from pathlib import Path

__all__ = ["CHROMIUM", "CHROMIUM_FLAGS", "KERNEL_IDLE"]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# the toolbar turns idle before the session is attached; the status bar waits for it
KERNEL_IDLE = """() => {
    const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const bar = [...document.querySelectorAll('.jp-StatusBar-Widget')]
        .map(w => w.textContent || '').join(' ');
    return status !== null && status.dataset.status === 'idle' && /\\|\\s*Idle/.test(bar);
}"""
