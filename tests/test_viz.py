"""``minigrad.viz.draw_graph``: the dot source for Value and Tensor graphs, rendering with
Graphviz's ``dot``, and a one-line install hint (never a traceback) when ``dot`` is missing."""

from __future__ import annotations

import re
import shutil

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


def test_large_graphs_are_scaled_to_fit_a_notebook():
    """draw_graph caps the drawing size by default and leaves it natural with size=None."""
    from minigrad import Value
    from minigrad.viz import draw_graph

    v = Value(1.0) * 2 + 3
    assert 'size="11,40"' in draw_graph(v).source
    assert " size=" not in draw_graph(v, size=None).source


@needs_dot
@pytest.mark.parametrize("rankdir, wide", [("LR", True), ("TB", False)])
def test_the_default_size_caps_width_and_keeps_tall_graphs_readable(rankdir, wide):
    """A chain drawn LR is scaled to 11 in (792 pt) wide; drawn TB, taller than the 7 in of a
    screen but under 40 in, it keeps its natural size."""
    x = Value(0.5, label="x")
    for _ in range(6):
        x = (x * 1.01).tanh()
    svg = draw_graph(x, rankdir=rankdir).pipe(format="svg", encoding="utf-8")
    natural = draw_graph(x, rankdir=rankdir, size=None).pipe(format="svg", encoding="utf-8")
    width, height = (float(v) for v in re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"',
                                                  svg).groups())
    natural_width = float(re.search(r'width="([\d.]+)pt"', natural).group(1))
    if wide:
        assert natural_width > 792 and width <= 792
    else:
        assert 7 * 72 < height < 40 * 72 and width == natural_width
