"""Pictures for the notebooks: ``draw_graph(root)`` for ``Value`` and ``Tensor`` graphs,
and ``LossPlot`` (from ``minigrad.lossplot``), a loss curve that redraws while training runs.

Each data node is a record (label, value or shape and dtype, gradient); each op
sits in its own small node between its inputs and its output.
The graph is walked with an explicit stack, so deep graphs are fine.

Building the graph needs only the ``graphviz`` Python package; rendering it needs
Graphviz's ``dot`` program. Without ``dot`` the graph is still returned (its
``.source`` works), rendering raises ``GraphvizNotFoundError`` with a one-line hint,
and Jupyter shows that hint as text instead of a traceback.
"""

from __future__ import annotations

import functools

import graphviz

from minigrad.lossplot import LossPlot
from minigrad.value import Value

__all__ = ["Graph", "GraphvizNotFoundError", "LossPlot", "draw_graph"]

INSTALL_HINT = (
    "the Graphviz program 'dot' was not found, so this graph cannot be rendered "
    "(its .source still works); install Graphviz with `apt-get install graphviz` "
    "(Debian/Ubuntu), `brew install graphviz` (macOS) or `conda install python-graphviz`"
)

_RANKDIRS = ("TB", "BT", "LR", "RL")
_FONTSIZE = "11"  # points, at the drawing's natural size
_RANKSEP = "0.25"  # inches between ranks (Graphviz: 0.5)
_NODESEP = "0.2"  # inches between nodes of one rank (Graphviz: 0.25)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """Rendering needs Graphviz's ``dot`` program, which is not on the PATH."""

    def __init__(self, message: str = INSTALL_HINT) -> None:
        RuntimeError.__init__(self, message)


def _explain_missing_dot(method):
    """Turn graphviz's ExecutableNotFound into a one-line GraphvizNotFoundError."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except graphviz.ExecutableNotFound:
            raise GraphvizNotFoundError() from None

    return wrapper


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering explains a missing ``dot`` in one line."""

    pipe = _explain_missing_dot(graphviz.Digraph.pipe)
    render = _explain_missing_dot(graphviz.Digraph.render)
    unflatten = _explain_missing_dot(graphviz.Digraph.unflatten)

    def _repr_mimebundle_(self, include=None, exclude=None, **kwargs):
        """The rendered graph for Jupyter; the install hint as plain text without ``dot``."""
        try:
            return super()._repr_mimebundle_(include=include, exclude=exclude, **kwargs)
        except GraphvizNotFoundError as error:
            return {"text/plain": str(error)}


def draw_graph(
    root, format: str = "svg", rankdir: str = "TB", size: str | None = None  # noqa: A002
) -> Graph:
    """The computational graph that produced ``root`` (a Value or a Tensor).

    Data nodes show their label, value (or shape, dtype and a summary) and gradient;
    op nodes show the op's name. ``format`` is the output format used by ``.render``
    and ``.pipe``; ``rankdir`` is the layout direction: TB, BT, LR or RL; ``size`` is the
    largest drawing in inches ("width,height"), a bigger graph being scaled down to fit,
    text included (None: natural size).

    The defaults keep every label readable in a notebook. A notebook scales a picture
    wider than its output area (about 900 px) down to that width, text included, and a
    graph grows along ``rankdir`` with its depth: the a1 MLP's loss, 17 nodes deep, is
    about 1,800 pt (2,400 px) wide drawn LR, so its 11 pt labels would show at about
    4 pt. Drawn TB, it grows downwards, where the page scrolls, and its labels stay at
    11 pt. Ranks and node margins are tighter than Graphviz's defaults to keep a deep
    graph short.
    """
    if isinstance(root, Value):
        describe, op_of, parents_of = _value_record, _value_op, _value_parents
    elif hasattr(root, "_ctx") and hasattr(root, "data"):
        describe, op_of, parents_of = _tensor_record, _tensor_op, _tensor_parents
    else:
        raise TypeError(f"draw_graph: root must be a Value or a Tensor (got {type(root).__name__})")
    if rankdir not in _RANKDIRS:
        raise ValueError(f"draw_graph: rankdir must be one of {_RANKDIRS} (got {rankdir!r})")

    graph_attr = {"rankdir": rankdir, "ranksep": _RANKSEP, "nodesep": _NODESEP}
    if size is not None:
        graph_attr["size"] = size
    graph = Graph(format=format, graph_attr=graph_attr)
    graph.attr("node", fontname="Helvetica", fontsize=_FONTSIZE, height="0.3",
               margin="0.08,0.03")
    names = {}  # id(node) -> dot name; the graph keeps every node alive meanwhile
    for node in _inputs_first(root, parents_of):
        name = names[id(node)] = f"n{len(names)}"
        op = op_of(node)
        if op is not None:
            graph.node(name + "op", label=_escape(op), shape="ellipse")
            for parent in parents_of(node):
                graph.edge(names[id(parent)], name + "op")
        graph.node(name, label=describe(node), shape="record")
        if op is not None:
            graph.edge(name + "op", name)
    return graph


def _inputs_first(root, parents_of):
    """The nodes ``root`` depends on, each after its inputs (iterative depth-first)."""
    order = []
    seen = set()
    stack = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((p, False) for p in reversed(parents_of(node)) if id(p) not in seen)
    return order


# Value graphs ---------------------------------------------------------------


def _value_record(v):
    fields = [_escape(v.label)] if v.label else []
    fields += [f"data {_number(v.data)}", f"grad {_number(v.grad)}"]
    return "{ " + " | ".join(fields) + " }"


def _value_op(v):
    return v._op or None


def _value_parents(v):
    return v._prev


# Tensor graphs --------------------------------------------------------------


def _tensor_record(t):
    label = getattr(t, "label", None) or getattr(t, "name", None)
    fields = [_escape(str(label))] if label else []
    shape = tuple(t.data.shape)
    fields += [
        f"{shape} {t.data.dtype}",
        f"data {_escape(_summary(t.data))}",
        f"grad {_escape(_summary(t.grad))}",
    ]
    return "{ " + " | ".join(fields) + " }"


def _tensor_op(t):
    return None if t._ctx is None else str(t._ctx.op)


def _tensor_parents(t):
    return () if t._ctx is None else tuple(t._ctx.parents)


def _summary(array):
    """A few numbers that describe an array: its values when small, else mean, min, max."""
    if array is None:
        return "None"
    if array.ndim == 0:
        return _number(array.item())
    flat = array.ravel()
    if flat.size == 0:
        return "empty"
    if flat.size <= 4:
        return "[" + ", ".join(_number(x) for x in flat.tolist()) + "]"
    mean, low, high = float(flat.mean()), float(flat.min()), float(flat.max())
    return f"mean {_number(mean)}, min {_number(low)}, max {_number(high)}"


# Formatting -------------------------------------------------------------------


def _number(x):
    return f"{x:.4g}"


def _escape(text):
    """``text`` made safe inside a record label, where braces, bars and angles are syntax."""
    for char in '\\{}|<>"':
        text = text.replace(char, "\\" + char)
    return text.replace("\n", " ")
