"""Reading a graph: the text listing (``str(graph)``) and a Graphviz drawing (``graph.to_dot()``).

The listing follows ``jax.make_jaxpr``: constants, then inputs, then one equation a line
``c:f32[64,256] = matmul a b``, static params in brackets, nested graphs indented.
"""
from __future__ import annotations

import itertools
import string
from typing import Any, Iterator

import numpy as np

from funcnn._src.abstract import short_dtype
from funcnn._src.graph import Equation, Graph, Literal, Var


def _names() -> Iterator[str]:
    """a, b, ..., z, ba, bb, ..., zz, baa, ...: short names in the order values appear."""
    letters = string.ascii_lowercase
    yield from letters
    for width in itertools.count(2):
        for first in letters[1:]:
            for rest in itertools.product(letters, repeat=width - 1):
                yield first + "".join(rest)


class _Namer:
    def __init__(self) -> None:
        self.names: dict[Var, str] = {}
        self.fresh = _names()

    def __call__(self, var: Var) -> str:
        name = self.names.get(var)
        if name is None:
            name = self.names[var] = next(self.fresh)
        return name

    def atom(self, x: Any) -> str:
        return _literal(x) if type(x) is Literal else self(x)


def _literal(lit: Literal) -> str:
    value = lit.value
    if type(value) in (bool, int, float, complex):
        return repr(value)
    return f"{np.asarray(value).item()!r}:{short_dtype(np.asarray(value).dtype)}[]"


def listing(graph: Graph, indent: int = 0) -> str:
    """The text listing of ``graph``, every line indented by ``indent`` spaces."""
    name = _Namer()
    pad = " " * indent
    consts = " ".join(f"{name(v)}:{v.aval.short()}" for v in graph.const_vars)
    inputs = " ".join(f"{name(v)}:{v.aval.short()}" for v in graph.in_vars)
    lines = [f"{pad}{{ lambda {consts}; {inputs}. let"]
    for eq in graph.equations:
        lines.append(_equation(eq, name, indent + 4))
    outs = ", ".join(name.atom(x) for x in graph.outputs) + ("," if len(graph.outputs) == 1 else "")
    lines.append(f"{pad}  in ({outs}) }}")
    return "\n".join(lines)


def _equation(eq: Equation, name: _Namer, indent: int) -> str:
    inputs = " ".join(name.atom(x) for x in eq.inputs)
    outputs = " ".join(f"{name(v)}:{v.aval.short()}" for v in eq.outputs)
    head = f"{' ' * indent}{outputs} = {eq.prim.name}"
    if any(_graphs(v) for v in eq.params.values()):  # one param a line, nested graphs indented
        lines = [f"{head}["]
        pad = " " * (indent + 2)
        for k, v in eq.params.items():
            if isinstance(v, Graph):
                lines.append(f"{pad}{k}={listing(v, indent + 2).lstrip()}")
            elif _graphs(v):
                lines.append(f"{pad}{k}=(")
                lines += [listing(g, indent + 4) for g in v]
                lines.append(f"{pad})")
            else:
                lines.append(f"{pad}{k}={_param(v)}")
        return "\n".join(lines + [f"{' ' * indent}] {inputs}"])
    params = " ".join(f"{k}={_param(v)}" for k, v in eq.params.items())
    return f"{head}[{params}] {inputs}" if params else f"{head} {inputs}"


def _graphs(value: Any) -> bool:
    """Whether a param is a graph or a tuple of graphs (the branches of a ``switch``)."""
    return isinstance(value, Graph) or (isinstance(value, tuple) and bool(value) and
                                         all(isinstance(g, Graph) for g in value))


def _param(value: Any) -> str:
    """A short text for a static param."""
    if hasattr(value, "short"):
        return value.short()
    if isinstance(value, np.dtype):
        return value.name
    if isinstance(value, type) and issubclass(value, np.generic):
        return np.dtype(value).name
    if isinstance(value, (tuple, list)):
        inner = ",".join(_param(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    text = repr(value) if not isinstance(value, str) else repr(value) if " " in value else value
    return text if len(text) <= 40 else text[:37] + "..."


# --- drawing ---------------------------------------------------------------------------------


def dot(graph: Graph) -> str:
    """Graphviz DOT text: equations as boxes, inputs, constants and outputs as ellipses, and an
    edge for every value passed from one to the next, labelled with its name, shape and dtype."""
    name = _Namer()
    lines = ["digraph funcnn_graph {", "  rankdir=TB;",
             '  node [fontname="Helvetica", fontsize=11];', '  edge [fontname="Helvetica", fontsize=9];']
    source: dict[Var, str] = {}
    for kind, variables, colour in (("const", graph.const_vars, "#eeeeee"), ("in", graph.in_vars, "#dbe9f6")):
        for i, v in enumerate(variables):
            node = f"{kind}{i}"
            source[v] = node
            label = f"{name(v)}: {v.aval.short()}" + ("\\n(constant)" if kind == "const" else "")
            lines.append(f'  {node} [label="{label}", shape=ellipse, style=filled, fillcolor="{colour}"];')
    for i, eq in enumerate(graph.equations):
        node = f"eq{i}"
        lines.append(f'  {node} [label="{_box_label(eq)}", shape=box, style="rounded,filled", '
                     'fillcolor="#fff4d6"];')
        for x in eq.inputs:
            if type(x) is Var:
                lines.append(f'  {source[x]} -> {node} [label="{name(x)}: {x.aval.short()}"];')
        for v in eq.outputs:
            source[v] = node
    for i, x in enumerate(graph.outputs):
        node = f"out{i}"
        lines.append(f'  {node} [label="output {i}: {x.aval.short()}", shape=ellipse, style=filled, '
                     'fillcolor="#dcf0dc"];')
        if type(x) is Var:
            lines.append(f'  {source[x]} -> {node} [label="{name(x)}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def _box_label(eq: Equation) -> str:
    params = [f"{k}={_param(v)}" for k, v in eq.params.items() if not _graphs(v)]
    literals = [_literal(x) for x in eq.inputs if type(x) is Literal]
    if literals:
        params.append("with " + ", ".join(literals))
    text = "\\n".join([eq.prim.name] + [p if len(p) <= 40 else p[:37] + "..." for p in params])
    return text.replace('"', '\\"')
