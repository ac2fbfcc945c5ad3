"""``minigrad.viz.LossPlot``: curves recorded from numbers, Values and Tensors, redraws in
place in a Jupyter kernel no more often than its interval, and clear errors for bad input."""

from __future__ import annotations

import math

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

import minigrad as mg
import minigrad.lossplot as lossplot
from minigrad.viz import LossPlot


class FakeHandle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, image):
        self.shown.append(("update", image))


@pytest.fixture
def shown(monkeypatch):
    """What LossPlot sends to the notebook, as if it ran in a Jupyter kernel."""
    shown = []

    def display(image, display_id=False):
        assert display_id is True
        shown.append(("display", image))
        return FakeHandle(shown)

    monkeypatch.setattr(lossplot, "_kernel_display", lambda: display)
    return shown


def line_data(plot):
    """(x, y) of every line on the plot's axes, in drawing order."""
    (ax,) = plot.figure.axes
    return [(line.get_xdata(), line.get_ydata()) for line in ax.get_lines()]


def test_outside_a_kernel_nothing_is_shown_until_close():
    """Without a kernel, add() only records; close() draws the curve into .figure."""
    plot = LossPlot(title="fit")
    for loss in (3.0, 2.0, 1.5):
        plot.add(loss)
    assert plot.curves == {"loss": [3.0, 2.0, 1.5]} and plot.redraws == 0
    plot.close()
    assert plot.redraws == 1
    ((x, y),) = line_data(plot)
    np.testing.assert_array_equal(x, [0, 1, 2])
    np.testing.assert_array_equal(y, [3.0, 2.0, 1.5])
    assert plot.figure.axes[0].get_title() == "fit"


def test_losses_may_be_values_tensors_and_arrays():
    """A float, a 0-d array, a one-element array, a Value and a Tensor each count as one loss."""
    plot = LossPlot()
    for loss in (1.0, np.float32(2.0), np.array(3.0), np.array([4.0]), mg.Value(5.0),
                 mg.Tensor(np.array(6.0))):
        plot.add(loss)
    assert plot.curves["loss"] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]


@pytest.mark.parametrize(
    "loss, message",
    [
        (np.ones(3), r"a loss must be a single number \(got an array of shape \(3,\)\)"),
        ("big", r"a loss must be a single number \(got str\)"),
        (None, r"a loss must be a single number \(got NoneType\)"),
    ],
)
def test_a_loss_that_is_not_one_number_is_refused(loss, message):
    """add() says that a loss is one number and what it got instead."""
    with pytest.raises(TypeError, match=message):
        LossPlot().add(loss)


@pytest.mark.parametrize(
    "options, message",
    [
        ({"smooth": 1}, r"smooth must be an int of at least 2 steps or None \(got 1\)"),
        ({"smooth": 2.5}, r"smooth must be an int .* \(got 2.5\)"),
        ({"smooth": True}, r"smooth must be an int .* \(got True\)"),
        ({"interval": -1}, r"interval must be at least 0 seconds \(got -1\)"),
        ({"interval": math.nan}, r"interval must be at least 0 seconds \(got nan\)"),
    ],
)
def test_bad_options_are_refused(options, message):
    """The constructor names the option, what must hold and what it got."""
    with pytest.raises(ValueError, match=message):
        LossPlot(**options)


def test_track_records_the_loss_and_returns_the_result_unchanged():
    """track(fn) records a tuple's first item (or the result itself) and passes it through."""
    plot = LossPlot()

    def loss_and_grads(w):
        return (w - 1.0) ** 2, {"w": 2 * (w - 1.0)}

    tracked = plot.track(loss_and_grads, name="mse")
    assert tracked.__name__ == "loss_and_grads"
    assert tracked(3.0) == (4.0, {"w": 4.0})
    assert plot.track(lambda w: w * 2, name="double")(5.0) == 10.0
    assert plot.curves == {"mse": [4.0], "double": [10.0]}


def test_smoothing_draws_a_moving_average_over_the_raw_curve():
    """smooth=k adds the k-step moving average, starting at step k - 1, next to the raw curve."""
    values = [4.0, 2.0, 6.0, 0.0, 2.0]
    plot = LossPlot(smooth=2, reference={"target": 0.5})
    for v in values:
        plot.add(v)
    plot.close()
    (raw_x, raw_y), (avg_x, avg_y), (_, ref_y) = line_data(plot)
    np.testing.assert_array_equal(raw_y, values)
    np.testing.assert_array_equal(avg_x, [1, 2, 3, 4])
    np.testing.assert_allclose(avg_y, [3.0, 4.0, 3.0, 1.0])
    np.testing.assert_array_equal(ref_y, [0.5, 0.5])
    labels = plot.figure.axes[0].get_legend_handles_labels()[1]
    assert labels == ["loss, each step", "mean over 2 steps", "target"]


def test_several_curves_share_the_axes_with_a_legend():
    """Each name is its own curve in its own colour, labelled in the legend."""
    plot = LossPlot(logy=True)
    for step in range(4):
        plot.add(1.0 / (step + 1), "plain")
        plot.add(1.0 / (step + 1) ** 2, "residual")
    plot.close()
    ax = plot.figure.axes[0]
    assert ax.get_yscale() == "log"
    assert ax.get_legend_handles_labels()[1] == ["plain", "residual"]
    colors = {line.get_color() for line in ax.get_lines()}
    assert len(colors) == 2


def test_a_loss_that_stops_being_finite_is_named_with_its_first_step():
    """A nan from step 37 on is marked at step 37 and named, with the causes, in the title."""
    plot = LossPlot(title="SGD")
    for step in range(40):
        plot.add(1.0 / (step + 1) if step < 37 else math.nan)
    plot.close()
    assert plot.nonfinite == {"loss": 37}
    assert plot.message == ("loss is not finite (nan) from step 37 on: lower the learning "
                            "rate, or look for log(0) or a division by zero")
    ax = plot.figure.axes[0]
    assert ax.title.get_text() == ("SGD\nloss is not finite (nan) from step 37 on:\n"
                                   "lower the learning rate, or look for log(0) or a "
                                   "division by zero")
    assert ax.title.get_color() == "tab:red"
    (_, _), (marker_x, _) = line_data(plot)
    np.testing.assert_array_equal(marker_x, [37, 37])
    assert ax.get_legend_handles_labels()[1] == ["not finite from step 37"]


def test_each_curve_that_stops_being_finite_is_named_earliest_first():
    """With several curves, each bad curve gets its first bad step, a marker in its colour
    and a title line; later non-finite losses of a curve change nothing."""
    plot = LossPlot()
    for v in (1.0, 0.5, 0.25, math.nan):
        plot.add(v, "a")
    for v in (2.0, math.inf, math.nan):
        plot.add(v, "b")
    plot.close()
    assert plot.nonfinite == {"a": 3, "b": 1}
    assert plot.message.startswith("'b' loss is not finite (inf) from step 1 on; "
                                   "'a' loss is not finite (nan) from step 3 on: lower")
    ax = plot.figure.axes[0]
    assert ax.title.get_text().splitlines()[:2] == [
        "'b' loss is not finite (inf) from step 1 on",
        "'a' loss is not finite (nan) from step 3 on:",
    ]
    markers = [line for line in ax.get_lines() if line.get_linestyle() == ":"]
    assert [(line.get_xdata()[0], line.get_color()) for line in markers] == [(3, "C0"), (1, "C1")]
    assert ax.get_legend_handles_labels()[1] == ["a", "b"]


def test_finite_losses_have_no_message():
    """Finite losses: no message, no marker, a black title."""
    plot = LossPlot(title="fit")
    plot.add(1.0)
    plot.close()
    assert plot.message is None and plot.nonfinite == {}
    assert plot.figure.axes[0].title.get_color() == "black" and len(line_data(plot)) == 1


def test_in_a_kernel_the_plot_is_shown_once_and_updated_in_place(shown):
    """interval=0: the first loss displays a PNG, every later loss and close() update it."""
    plot = LossPlot(interval=0)
    for v in (3.0, 2.0, 1.0):
        plot.add(v)
    plot.close()
    assert [kind for kind, _ in shown] == ["display", "update", "update", "update"]
    assert all(image.format == "png" and image.data.startswith(b"\x89PNG") for _, image in shown)


def test_in_a_kernel_redraws_wait_for_the_interval(shown, monkeypatch):
    """With a 10 s interval, 1000 quick losses cause one display and the final update only."""
    clock = iter(np.arange(0.0, 100.0, 0.001))  # 1 ms per call to the clock
    monkeypatch.setattr(lossplot.time, "perf_counter", lambda: float(next(clock)))
    with LossPlot(interval=10.0) as plot:
        for step in range(1000):
            plot.add(1.0 / (step + 1))
    assert [kind for kind, _ in shown] == ["display", "update"]
    assert plot.redraws == 2 and len(plot.curves["loss"]) == 1000


def test_in_a_real_kernel_one_image_output_holds_the_final_curve():
    """Run in Jupyter, redraws replace one image output: no pile of figures, no error."""
    code = (
        "from minigrad.viz import LossPlot\n"
        "plot = LossPlot(interval=0)\n"
        "for step in range(5):\n"
        "    plot.add(1.0 / (step + 1))\n"
        "plot.close()\n"
        "print(plot.redraws)\n"
    )
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["display_data", "stream"]
    assert "image/png" in outputs[0].data
    assert outputs[1].text.strip() == "6"
