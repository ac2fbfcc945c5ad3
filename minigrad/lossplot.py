"""``LossPlot``: a training-loss curve that redraws in place while training runs.

In a Jupyter kernel the curve is shown as a PNG when the first loss arrives and redrawn
in the same output at most once per ``interval`` seconds, so a long training run can be
watched (and stopped early) instead of waited for; drawing costs a few tens of
milliseconds, so the interval bounds what the plot adds to training. ``close()`` draws the
final curve. Outside Jupyter nothing is shown and ``figure`` holds the matplotlib figure.

It is exported as ``minigrad.viz.LossPlot``.
"""

from __future__ import annotations

import functools
import io
import math
import time

import numpy as np

from minigrad.tensor import Tensor
from minigrad.value import Value

__all__ = ["LossPlot"]

_CAUSES = "lower the learning rate, or look for log(0) or a division by zero"


def _kernel_display():
    """IPython's ``display`` when running inside a Jupyter kernel, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython comes with the notebook stack
        return None
    shell = get_ipython()
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return display


def _as_float(loss, where: str) -> float:
    """One loss as a Python float: a number, a 0-d or one-element array, a Value or a Tensor."""
    value = loss.data if isinstance(loss, (Value, Tensor)) else loss
    size = getattr(value, "size", 1)
    if size != 1:
        shape = tuple(getattr(value, "shape", ()))
        raise TypeError(f"{where}: a loss must be a single number (got an array of shape {shape})")
    try:
        if isinstance(value, (str, bytes)):
            raise TypeError
        return float(value.item() if hasattr(value, "item") else value)  # numpy or cupy
    except (TypeError, ValueError):
        raise TypeError(
            f"{where}: a loss must be a single number (got {type(loss).__name__})"
        ) from None


class LossPlot:
    """Loss curves that redraw in place in a notebook while training runs.

    ``add(loss, name)`` records the next loss of the curve ``name`` (several curves share
    the axes); ``track(fn, name)`` wraps a function that returns ``loss`` or
    ``(loss, ...)`` so that every call records its loss; ``close()``, or leaving a
    ``with`` block, draws the final curves.

    ``smooth`` (a number of steps) adds a moving average over that many steps, drawn
    thick over the faint raw curve; ``reference`` maps labels to horizontal lines (a target
    loss, say); ``logy`` puts the loss on a logarithmic axis; ``interval`` is the least
    time in seconds between two redraws.

    A loss that is not finite (nan or inf) cannot be drawn, so its curve just stops. The
    first step at which a curve's loss stopped being finite is marked on the axes with a
    dotted line and named, with the usual causes, in the title and in ``message``;
    ``nonfinite`` maps each such curve to that step.
    """

    def __init__(
        self,
        title: str | None = None,
        *,
        xlabel: str = "step",
        ylabel: str = "loss",
        logy: bool = False,
        smooth: int | None = None,
        reference: dict[str, float] | None = None,
        interval: float = 1.0,
        figsize: tuple[float, float] = (7.0, 3.5),
    ) -> None:
        if smooth is not None and (isinstance(smooth, bool) or not isinstance(smooth, int)
                                   or smooth < 2):
            raise ValueError(f"LossPlot: smooth must be an int of at least 2 steps or None "
                             f"(got {smooth!r})")
        if not interval >= 0:
            raise ValueError(f"LossPlot: interval must be at least 0 seconds (got {interval!r})")
        from matplotlib.figure import Figure  # not pyplot: the inline backend must not show it

        self.title, self.xlabel, self.ylabel = title, xlabel, ylabel
        self.logy, self.smooth, self.interval = logy, smooth, interval
        self.reference = dict(reference or {})
        self.curves: dict[str, list[float]] = {}
        self.figure = Figure(figsize=figsize, layout="constrained")
        self.redraws = 0
        self._display = _kernel_display()
        self._handle = None
        self._last_draw = -math.inf
        self._first_bad: dict[str, tuple[int, float]] = {}  # name -> (step, loss)

    # recording -----------------------------------------------------------------

    def add(self, loss, name: str = "loss") -> None:
        """Record the next loss of curve ``name``; redraw if ``interval`` has passed."""
        value = _as_float(loss, "LossPlot.add")
        curve = self.curves.setdefault(name, [])
        if name not in self._first_bad and not math.isfinite(value):
            self._first_bad[name] = (len(curve), value)
        curve.append(value)
        if self._display is not None and time.perf_counter() - self._last_draw >= self.interval:
            self._show()

    def track(self, fn, name: str = "loss"):
        """``fn`` wrapped so that each call records its loss: the result, or its first item."""

        @functools.wraps(fn)
        def tracked(*args, **kwargs):
            result = fn(*args, **kwargs)
            self.add(result[0] if isinstance(result, tuple) else result, name)
            return result

        return tracked

    @property
    def nonfinite(self) -> dict[str, int]:
        """Each curve whose loss stopped being finite, mapped to the first such step."""
        return {name: step for name, (step, _) in self._first_bad.items()}

    @property
    def message(self) -> str | None:
        """What went wrong and the usual causes when a loss stopped being finite, else None.

        One curve: ``loss is not finite (nan) from step 37 on: ...``; several curves name
        the curve, the earliest first.
        """
        problems = self._problems()
        return f"{'; '.join(problems)}: {_CAUSES}" if problems else None

    def _problems(self) -> list[str]:
        """For each curve whose loss stopped being finite, from which step; earliest first."""
        several = len(self.curves) > 1
        parts = []
        for name, (step, value) in sorted(self._first_bad.items(), key=lambda kv: kv[1][0]):
            who = f"{name!r} loss" if several else "loss"
            parts.append(f"{who} is not finite ({value}) from step {step} on")
        return parts

    def close(self) -> None:
        """Draw the final curves (shown in place in a notebook)."""
        if self._display is not None:
            self._show()
        else:
            self._draw()

    def __enter__(self) -> LossPlot:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # drawing -------------------------------------------------------------------

    def _draw(self) -> None:
        """Redraw the figure from the recorded curves."""
        self.figure.clear()
        ax = self.figure.add_subplot()
        single = len(self.curves) == 1
        for index, (name, values) in enumerate(self.curves.items()):
            color = f"C{index}"
            steps = np.arange(len(values))
            if self.smooth and len(values) >= self.smooth:
                # one curve: say which line is which; several: one legend entry per curve
                ax.plot(steps, values, color=color, alpha=0.3, linewidth=0.8,
                        label=f"{name}, each step" if single else None)
                kernel = np.ones(self.smooth) / self.smooth
                averaged = np.convolve(values, kernel, mode="valid")
                ax.plot(steps[self.smooth - 1:], averaged, color=color, linewidth=2,
                        label=f"mean over {self.smooth} steps" if single else name)
            else:
                ax.plot(steps, values, color=color,
                        label=None if single and name == "loss" else name)
        for label, level in self.reference.items():
            ax.axhline(level, color="gray", linestyle="--", linewidth=1, label=label)
        if self.logy:
            ax.set_yscale("log")
        ax.set_xlabel(self.xlabel)
        ax.set_ylabel(self.ylabel)
        colors = {name: f"C{index}" for index, name in enumerate(self.curves)}
        for name, (step, _) in self._first_bad.items():
            ax.axvline(step, color=colors[name], linestyle=":", linewidth=1.5,
                       label=f"not finite from step {step}" if single else None)
        problems = self._problems()
        if problems:  # one line each, to fit a notebook-wide figure
            problems[-1] += ":"
            problems.append(_CAUSES)
        title = "\n".join(filter(None, [self.title, *problems]))
        if title:
            ax.set_title(title, color="tab:red" if self._first_bad else "black")
        if ax.get_legend_handles_labels()[1]:
            ax.legend(loc="best")
        self.redraws += 1

    def _png(self) -> bytes:
        buffer = io.BytesIO()
        self.figure.savefig(buffer, format="png", dpi=96)
        return buffer.getvalue()

    def _show(self) -> None:
        """Draw and show the figure in the notebook, replacing the previous drawing."""
        from IPython.display import Image

        self._draw()
        image = Image(data=self._png(), format="png")
        if self._handle is None:
            self._handle = self._display(image, display_id=True)
        else:
            self._handle.update(image)
        self._last_draw = time.perf_counter()
