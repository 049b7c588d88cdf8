"""The picture of page 2: the graph of the two-layer function, drawn from ``Graph.to_dot()``.

    python docs/learn/pictures.py 02

writes ``02-two-layer-graph.dot`` (Graphviz text) and, where Graphviz's ``dot`` is
installed, renders it to ``02-two-layer-graph.svg``.
"""
from __future__ import annotations

import pathlib

import funcnn as fn

from pictures import page_namespace, write_graph

NAME = "02-two-layer-graph"


def dot_text() -> str:
    """The DOT text of the picture: the graph of the page's ``two_layer`` at the page's
    ``params`` and ``x`` (its first two code blocks, run as they are)."""
    page = page_namespace("02-chain-rule", blocks=2)
    return fn.make_graph(page["two_layer"])(page["params"], page["x"]).to_dot()


def draw(images: pathlib.Path) -> list[str]:
    """Write the ``.dot`` file and, with Graphviz, the ``.svg``; return the names written."""
    return write_graph(images, NAME, dot_text())
