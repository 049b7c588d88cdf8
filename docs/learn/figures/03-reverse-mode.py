"""The picture of page 3: the graph that the page's scalar engine records for
``x*y + sin(x)`` at ``x = 2, y = 3``, with each node's value and cotangent and each edge's
local derivative.

    python docs/learn/pictures.py 03

The graph is the one that the page's first two code blocks (the engine, then "Watching it
work") build, run as they are, so the picture always shows what the page's code computes.
Writes ``03-scalar-graph.dot`` and, where Graphviz's ``dot`` is installed,
``03-scalar-graph.svg``.
"""
from __future__ import annotations

import pathlib

from pictures import page_namespace, write_graph

NAME = "03-scalar-graph"


def dot_text() -> str:
    """Graphviz text: inputs at the top, the output at the bottom, cotangents in red."""
    page = page_namespace("03-reverse-mode", blocks=2)   # the engine, then "Watching it work"
    cotangents = page["cotangents"]
    names = {page["x"]: "x", page["y"]: "y", page["xy"]: "x*y", page["sin_x"]: "sin(x)", page["out"]: "out"}
    lines = ["digraph scalar_graph {", "  rankdir=TB;", '  node [fontname="Helvetica", fontsize=11];',
             '  edge [fontname="Helvetica", fontsize=9];']
    for node, name in names.items():
        colour = "#dbe9f6" if not node.parents else "#fff4d6"
        lines.append(f'  "{name}" [label=<{name}<br/>value {node.value:.4f}<br/>'
                     f'<font color="#b22222">cotangent {cotangents[node]:.4f}</font>>, shape=box, '
                     f'style="rounded,filled", fillcolor="{colour}"];')
    for node, name in names.items():
        for parent, local in node.parents:
            lines.append(f'  "{names[parent]}" -> "{name}" [label="local {local:.4f}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(images: pathlib.Path) -> list[str]:
    """Write the ``.dot`` file and, with Graphviz, the ``.svg``; return the names written."""
    return write_graph(images, NAME, dot_text())
