"""``minigrad.viz.draw_graph``: the dot source for Value and Tensor graphs, rendering with
Graphviz's ``dot``, and a one-line install hint (never a traceback) when ``dot`` is missing."""

from __future__ import annotations

import re
import shutil
from xml.etree import ElementTree

import graphviz
import numpy as np
import pytest
from IPython.core.formatters import DisplayFormatter

import minigrad as mg
from minigrad.value import Value
from minigrad.viz import INSTALL_HINT, Graph, GraphvizNotFoundError, draw_graph

needs_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot is not installed (make test installs it)"
)


def records(graph):
    """Labels of the record (data) nodes in the dot source."""
    return re.findall(r'\[label="(\{.*?\})" shape=record\]', graph.source)


def op_nodes(graph):
    return re.findall(r"\[label=\"?([^\"\]]+?)\"? shape=ellipse\]", graph.source)


def edges(graph):
    return re.findall(r"^\s*(\w+) -> (\w+)", graph.source, flags=re.M)


def expression(kind):
    """Small seeded Value graphs used across the tests, after one backward pass."""
    x, y = Value(2.0, label="x"), Value(-3.0, label="y")
    if kind == "mul-add":
        out = x * y + x
    elif kind == "fan-out":
        b = x + x
        out = b + b
    elif kind == "unary-chain":
        out = x.tanh().exp().relu()
    else:
        raise ValueError(kind)
    out.label = "out"
    out.backward()
    return out


@pytest.mark.parametrize(
    ("kind", "n_records", "ops", "n_edges"),
    [
        ("mul-add", 4, ["*", "+"], 6),  # x, y, x*y, out; edges: 2 op->out, x,y->*, x*y,x->+
        ("fan-out", 3, ["+", "+"], 6),  # y is not used; every use of x gets its own edge
        ("unary-chain", 4, ["tanh", "exp", "relu"], 6),
    ],
)
def test_value_graph_structure(kind, n_records, ops, n_edges):
    """One record per Value, one op node per op, an edge per input use and per op output."""
    graph = draw_graph(expression(kind))
    assert isinstance(graph, Graph) and isinstance(graph, graphviz.Digraph)
    assert len(records(graph)) == n_records
    assert sorted(op_nodes(graph)) == sorted(ops)
    assert len(edges(graph)) == n_edges


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        (
            "mul-add",
            [
                "{ x | data 2 | grad -2 }",
                "{ y | data -3 | grad 2 }",
                "{ data -6 | grad 1 }",
                "{ out | data -4 | grad 1 }",
            ],
        ),
        (
            "fan-out",
            ["{ x | data 2 | grad 4 }", "{ data 4 | grad 2 }", "{ out | data 8 | grad 1 }"],
        ),
    ],
)
def test_value_records_show_label_data_and_grad(kind, expected):
    """Each Value record shows its label (when set), its data and its gradient."""
    assert records(draw_graph(expression(kind))) == expected


def test_inputs_come_before_the_nodes_they_feed():
    """Every edge points from a node declared earlier in the source to a later one."""
    graph = draw_graph(expression("mul-add"))
    declared = re.findall(r"^\s*(\w+) \[label", graph.source, flags=re.M)
    position = {name: i for i, name in enumerate(declared)}
    assert all(position[a] < position[b] for a, b in edges(graph))


@pytest.mark.parametrize(
    ("label", "escaped"),
    [
        ("x<1>", r"x\<1\>"),
        ("{a|b}", r"\{a\|b\}"),
        ('say "hi"', r"say \"hi\""),
        ("back\\slash", r"back\\slash"),
        ("two\nlines", "two lines"),
    ],
    ids=["angles", "braces-bar", "quotes", "backslash", "newline"],
)
def test_labels_are_escaped_for_record_syntax(label, escaped):
    """Characters with a meaning in record labels are escaped in the source."""
    graph = draw_graph(Value(1.0, label=label) * 2)
    assert records(graph)[0] == "{ " + escaped + " | data 1 | grad 0 }"


@needs_dot
@pytest.mark.parametrize("label", ["x<1>", "{a|b}", 'say "hi"', "back\\slash"])
def test_escaped_labels_render(label):
    """dot accepts the escaped labels and draws the original text."""
    svg = draw_graph(Value(1.0, label=label) * 2).pipe(format="svg", encoding="utf-8")
    text = label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    assert text.replace('"', "&quot;") in svg


@pytest.mark.parametrize(("fmt", "rankdir"), [("svg", "LR"), ("png", "TB"), ("pdf", "BT")])
def test_format_and_rankdir_are_set(fmt, rankdir):
    """``format`` sets the output format and ``rankdir`` the layout direction."""
    graph = draw_graph(expression("mul-add"), format=fmt, rankdir=rankdir)
    assert graph.format == fmt
    assert f"rankdir={rankdir}" in graph.source


@pytest.mark.parametrize(
    ("call", "error", "pattern"),
    [
        (lambda: draw_graph([1.0]), TypeError, r"root must be a Value or a Tensor \(got list\)"),
        (lambda: draw_graph(3.0), TypeError, r"\(got float\)"),
        (lambda: draw_graph(Value(1.0), rankdir="up"), ValueError, r"rankdir must be one of"),
        (lambda: draw_graph(Value(1.0), format="nope"), ValueError, r"unknown format"),
    ],
    ids=["list", "float", "rankdir", "format"],
)
def test_bad_arguments_raise_clear_errors(call, error, pattern):
    """A root that is not a graph node, or a bad layout option, is a clear error."""
    with pytest.raises(error, match=pattern):
        call()


def test_deep_graph_is_walked_without_recursion():
    """A 5,000-deep chain (five times the default recursion limit) is drawn."""
    x = Value(1.0)
    for _ in range(5_000):
        x = -x
    graph = draw_graph(x)
    assert len(records(graph)) == 5_001
    assert len(op_nodes(graph)) == 5_000


@needs_dot
def test_renders_svg_with_dot():
    """With dot installed, the graph renders to SVG, also through Jupyter's mimebundle."""
    graph = draw_graph(expression("mul-add"))
    svg = graph.pipe(format="svg", encoding="utf-8")
    assert svg.lstrip().startswith("<?xml") and "data 2" in svg
    bundle = graph._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"] and "grad 1" in bundle["image/svg+xml"]


@pytest.fixture
def no_dot(monkeypatch, tmp_path):
    """PATH points at an empty directory, so no Graphviz program can be found."""
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert shutil.which("dot") is None


RENDERERS = [
    ("pipe", lambda g, d: g.pipe()),
    ("pipe-svg", lambda g, d: g.pipe(format="svg", encoding="utf-8")),
    ("render", lambda g, d: g.render(d / "graph")),
    ("view", lambda g, d: g.view(d / "graph")),
    ("unflatten", lambda g, d: g.unflatten()),
    ("svg-for-jupyter", lambda g, d: g._repr_image_svg_xml()),
]


@pytest.mark.parametrize("render", [r[1] for r in RENDERERS], ids=[r[0] for r in RENDERERS])
def test_rendering_without_dot_raises_one_line_hint(no_dot, tmp_path, render):
    """Without dot the graph is returned, and rendering raises a one-line install hint."""
    graph = draw_graph(expression("mul-add"))
    assert "data -4" in graph.source
    with pytest.raises(GraphvizNotFoundError) as info:
        render(graph, tmp_path)
    message = str(info.value)
    assert "\n" not in message
    for command in (
        "apt-get install graphviz",
        "brew install graphviz",
        "conda install python-graphviz",
    ):
        assert command in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)  # old except clauses still work
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_jupyter_shows_the_hint_as_text_without_dot(no_dot, capsys):
    """Without dot, Jupyter's display of the graph is the hint as plain text, no traceback."""
    graph = draw_graph(expression("mul-add"))
    assert graph._repr_mimebundle_() == {"text/plain": INSTALL_HINT}
    data, _metadata = DisplayFormatter().format(graph)
    assert data == {"text/plain": INSTALL_HINT}
    captured = capsys.readouterr()
    assert "Traceback" not in captured.out + captured.err


def test_install_hint_is_one_line():
    """The hint is a single line naming the three ways to install Graphviz."""
    assert "\n" not in INSTALL_HINT and str(GraphvizNotFoundError()) == INSTALL_HINT


# Tensor graphs ------------------------------------------------------------------


def tensor_graph():
    rng = np.random.default_rng(0)
    a = mg.Tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = mg.Tensor(np.array([1.0, -2.0, 0.5], dtype=np.float64), requires_grad=True)
    c = mg.Tensor(np.float32(3.0))  # a constant leaf: no gradient
    loss = ((a * b).relu() + a).sum() * c
    loss.backward()
    return loss, a, b


def test_tensor_graph_structure():
    """Tensor graphs get one record per tensor and op nodes named by ``_ctx.op``."""
    loss, a, b = tensor_graph()
    graph = draw_graph(loss)
    assert len(records(graph)) == 8  # a, b, c, a * b, relu, + a, sum, * c
    ops = op_nodes(graph)
    assert len(ops) == 5
    expected = set()
    stack = [loss]
    while stack:
        node = stack.pop()
        if node._ctx is not None:
            expected.add(str(node._ctx.op))
            stack.extend(node._ctx.parents)
    assert set(ops) == expected


def test_tensor_records_show_shape_dtype_and_summaries():
    """Tensor records show shape and dtype, values when small, and mean/min/max when large."""
    loss, a, b = tensor_graph()
    labels = records(draw_graph(loss))
    a_record = f"{{ (2, 3) float64 | data mean {a.data.mean():.4g}, min {a.data.min():.4g}, "
    assert any(label.startswith(a_record) for label in labels)
    b_grad = ", ".join(f"{g:.4g}" for g in b.grad)
    assert f"{{ (3,) float64 | data [1, -2, 0.5] | grad [{b_grad}] }}" in labels
    assert "{ () float32 | data 3 | grad None }" in labels
    assert labels[-1] == f"{{ () {loss.data.dtype} | data {loss.data.item():.4g} | grad 1 }}"


@pytest.mark.parametrize(
    ("array", "summary"),
    [
        (np.zeros((0, 3)), "empty"),
        (np.arange(4.0).reshape(2, 2), "[0, 1, 2, 3]"),
        (np.arange(10.0), "mean 4.5, min 0, max 9"),
        (np.array(2.5, dtype=np.float32), "2.5"),
    ],
    ids=["empty", "small", "large", "scalar"],
)
def test_tensor_summaries(array, summary):
    """The data summary lists a few values, or gives mean, min and max of larger arrays."""
    graph = draw_graph(mg.Tensor(array, requires_grad=True))
    (label,) = records(graph)
    assert f"| data {summary} | grad None }}" in label


def test_named_tensor_shows_its_name():
    """A tensor's name, when it has one, heads its record like a Value's label."""
    t = mg.Tensor(np.ones(2))
    t.name = "w<1>"
    assert records(draw_graph(t)) == [r"{ w\<1\> | (2,) float64 | data [1, 1] | grad None }"]


@needs_dot
def test_tensor_graph_renders():
    """A Tensor graph renders to SVG with dot."""
    loss, _, _ = tensor_graph()
    assert "float64" in draw_graph(loss).pipe(format="svg", encoding="utf-8")


def test_default_drawing_keeps_its_natural_size():
    """draw_graph lays out top to bottom at natural size; size= still caps the drawing."""
    v = Value(1.0) * 2 + 3
    assert "rankdir=TB" in draw_graph(v).source
    assert " size=" not in draw_graph(v).source
    assert 'size="11,40"' in draw_graph(v, size="11,40").source


@needs_dot
def test_an_explicit_size_scales_a_wide_graph_down():
    """A chain drawn LR with size="11,40" is scaled to 11 in (792 pt) wide."""
    x = Value(0.5, label="x")
    for _ in range(6):
        x = (x * 1.01).tanh()
    capped = Svg(draw_graph(x, rankdir="LR", size="11,40"))
    natural = Svg(draw_graph(x, rankdir="LR"))
    assert natural.width_pt > 792 and capped.width_pt <= 792 and capped.scale < 1


# Readable at notebook width ------------------------------------------------------

NOTEBOOK_PX = 900  # JupyterLab's output area; a wider picture is scaled down to it
PX_PER_PT = 96 / 72


class Svg:
    """The SVG of a rendered graph: its size, the graph's scale, its texts and where they are."""

    def __init__(self, graph):
        text = graph.pipe(format="svg", encoding="utf-8")
        root = ElementTree.fromstring(text)
        ns = {"svg": "http://www.w3.org/2000/svg"}
        self.width_pt = float(root.get("width").removesuffix("pt"))
        self.height_pt = float(root.get("height").removesuffix("pt"))
        _, _, self.view_w, self.view_h = (float(v) for v in root.get("viewBox").split())
        group = root.find("svg:g[@class='graph']", ns)
        transform = group.get("transform")
        sx, sy = (float(v) for v in re.search(r"scale\(([\d.]+) ([\d.]+)\)", transform).groups())
        tx, ty = (float(v) for v in re.search(r"translate\(([-\d.]+) ([-\d.]+)\)",
                                                transform).groups())
        assert sx == sy
        self.scale = sx
        # a point (x, y) of the graph lands at scale * (x + tx, y + ty) in the viewBox
        self.texts = [(t.text, float(t.get("font-size")),
                       sx * (float(t.get("x")) + tx), sy * (float(t.get("y")) + ty))
                      for t in group.iter("{http://www.w3.org/2000/svg}text")]
        self.points = []
        for shape in group.iter("{http://www.w3.org/2000/svg}polygon"):
            for pair in shape.get("points").split():
                x, y = (float(v) for v in pair.split(","))
                self.points.append((sx * (x + tx), sy * (y + ty)))
        for shape in group.iter("{http://www.w3.org/2000/svg}ellipse"):
            cx, cy, rx, ry = (float(shape.get(k)) for k in ("cx", "cy", "rx", "ry"))
            for x, y in ((cx - rx, cy - ry), (cx + rx, cy + ry)):
                self.points.append((sx * (x + tx), sy * (y + ty)))

    def shown_font_pt(self, width_px=NOTEBOOK_PX):
        """The smallest text as shown, in points: its font size, times the graph's own scale,
        times the notebook's scaling of a picture wider than ``width_px``."""
        shown_px = min(self.width_pt * PX_PER_PT, width_px)
        fit = shown_px / (self.width_pt * PX_PER_PT)
        pt_per_unit = self.width_pt / self.view_w
        return min(size for _, size, _, _ in self.texts) * self.scale * pt_per_unit * fit


def a1_mlp_loss():
    """The loss of a1's 1-1-1 ReLU network after backward, as its notebook draws it."""
    point = (2.0, 10.0, -1.0, 4.0, 3.0, 1.0)
    x, y, w1, b1, w2, b2 = (Value(v, label=name)
                            for v, name in zip(point, ("x", "y", "w1", "b1", "w2", "b2")))
    hidden = (w1 * x + b1).relu()
    output = (w2 * hidden + b2).relu()
    loss = (output - y) ** 2
    loss.backward()
    return loss


def value_labels(root):
    """Every text the drawing of a Value graph must show: labels, data, grad and op names."""
    texts, stack, seen = [], [root], set()
    while stack:
        v = stack.pop()
        if id(v) in seen:
            continue
        seen.add(id(v))
        texts += ([v.label] if v.label else []) + [f"data {v.data:.4g}", f"grad {v.grad:.4g}"]
        texts += [v._op] if v._op else []
        stack.extend(v._prev)
    return sorted(texts)


@needs_dot
def test_a1_mlp_graph_reads_at_notebook_width():
    """a1's MLP graph, drawn by default, shows labels of at least 9 pt in a 900 px cell."""
    svg = Svg(draw_graph(a1_mlp_loss()))
    assert svg.shown_font_pt() >= 9, (
        f"labels show at {svg.shown_font_pt():.1f} pt in a {NOTEBOOK_PX} px notebook cell "
        f"(the drawing is {svg.width_pt:.0f} pt wide at scale {svg.scale})")


@needs_dot
def test_a1_mlp_graph_shows_every_label_unclipped():
    """Every label, value, gradient and op of a1's MLP graph is in the SVG, inside its viewBox."""
    loss = a1_mlp_loss()
    svg = Svg(draw_graph(loss))
    assert sorted(text for text, _, _, _ in svg.texts) == value_labels(loss)
    assert "data 9" in {text for text, _, _, _ in svg.texts}  # the loss node
    outside = [(text, x, y) for text, _, x, y in svg.texts
               if not (0 <= x <= svg.view_w and 0 <= y <= svg.view_h)]
    outside += [("shape", x, y) for x, y in svg.points
                if not (-0.5 <= x <= svg.view_w + 0.5 and -0.5 <= y <= svg.view_h + 0.5)]
    assert not outside, f"outside the viewBox {svg.view_w} x {svg.view_h}: {outside}"
