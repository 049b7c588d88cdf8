"""Draw the pictures of docs/graphs.md: a Dense layer's forward graph and its gradient's graph.

    python docs/graph_pictures.py

writes ``docs/images/<name>.dot`` (Graphviz text, from ``Graph.to_dot()``) and, where
Graphviz's ``dot`` is installed, renders each to ``docs/images/<name>.svg``. The tests check
that the committed ``.dot`` files are what today's code draws.
"""
from __future__ import annotations

import pathlib
import shutil
import subprocess

import numpy as np

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import nn

IMAGES = pathlib.Path(__file__).resolve().parent / "images"


def dense_layer(params: dict, x: np.ndarray) -> np.ndarray:
    """The layer: ``relu(x @ w + b)``."""
    return nn.relu(nn.dense(x, params["w"], params["b"]))


def loss(params: dict, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """A squared error on the layer's output."""
    return fnp.mean((dense_layer(params, x) - y) ** 2)


def example() -> tuple[dict, np.ndarray, np.ndarray]:
    params = {"w": np.zeros((784, 256), np.float32), "b": np.zeros(256, np.float32)}
    return params, np.zeros((64, 784), np.float32), np.zeros((64, 256), np.float32)


def pictures() -> dict[str, str]:
    """The DOT text of each picture, by file name."""
    params, x, y = example()
    return {
        "dense_forward": fn.make_graph(dense_layer)(params, x).to_dot(),
        "dense_backward": fn.make_graph(fn.grad(loss))(params, x, y).to_dot(),
    }


def main() -> None:
    IMAGES.mkdir(exist_ok=True)
    dot = shutil.which("dot")
    for name, text in pictures().items():
        (IMAGES / f"{name}.dot").write_text(text)
        if dot is not None:
            subprocess.run([dot, "-Tsvg", str(IMAGES / f"{name}.dot"), "-o", str(IMAGES / f"{name}.svg")], check=True)
        print(f"docs/images/{name}.dot" + (" and .svg" if dot else " (install Graphviz for the .svg)"))


if __name__ == "__main__":
    main()
