"""The picture of page 6: im2col on a 4x4 input with a 3x3 kernel. Each window becomes a row of
a 4x9 matrix; the matrix times the flattened kernel gives the four outputs."""
from __future__ import annotations

import pathlib
from typing import Any

import numpy as np

from pictures import matplotlib_or_note

NAME = "06-im2col.png"
CELL = 0.42
HIGHLIGHT = "#f6c48f"     # the window of output (0, 1) and everything that comes from it


def windows(x: np.ndarray, k: int) -> np.ndarray:
    """Each k x k window of the 2-d ``x``, flattened, one row per output position."""
    out = x.shape[0] - k + 1
    return np.array([x[i:i + k, j:j + k].ravel() for i in range(out) for j in range(out)])


def grid(ax: Any, left: float, top: float, labels: list[list[str]], marked: set[tuple[int, int]],
         title: str = "") -> None:
    """Draw a table of labelled cells with its top-left corner at (left, top)."""
    from matplotlib.patches import Rectangle

    for r, row in enumerate(labels):
        for c, text in enumerate(row):
            colour = HIGHLIGHT if (r, c) in marked else "white"
            ax.add_patch(Rectangle((left + c * CELL, top - (r + 1) * CELL), CELL, CELL, facecolor=colour,
                                   edgecolor="0.35", lw=0.8))
            ax.text(left + (c + 0.5) * CELL, top - (r + 0.5) * CELL, text, ha="center", va="center", fontsize=7.5)
    if title:
        ax.text(left + len(labels[0]) * CELL / 2, top + 0.22, title, ha="center", va="bottom", fontsize=9)


def draw(images: pathlib.Path) -> list[str]:
    """Write the diagram into ``images``; without matplotlib, say so and write nothing."""
    plt = matplotlib_or_note("06-convolution")
    if plt is None:
        return []
    x = np.arange(16).reshape(4, 4)
    cols = windows(x, 3)                                   # (4, 9): rows are the outputs (0,0) (0,1) (1,0) (1,1)
    taps = [f"w{a}{b}" for a in range(3) for b in range(3)]
    fig, ax = plt.subplots(figsize=(8.6, 2.7))
    mid = 0.0                                               # the vertical centre line
    grid(ax, 0.0, mid + 2 * CELL, [[str(v) for v in row] for row in x],
         {(r, c) for r in range(3) for c in range(1, 4)}, "input x (4x4)")
    ax.annotate("", xy=(2.45, mid), xytext=(1.85, mid), arrowprops={"arrowstyle": "->", "lw": 1.2})
    ax.text(2.15, mid + 0.1, "im2col", ha="center", va="bottom", fontsize=8)
    left = 3.05
    grid(ax, left, mid + 2 * CELL, [[str(v) for v in row] for row in cols], {(1, c) for c in range(9)},
         "cols: one row per window (4x9)")
    for r, pos in enumerate(["(0,0)", "(0,1)", "(1,0)", "(1,1)"]):
        ax.text(left - 0.06, mid + (1.5 - r) * CELL, pos, ha="right", va="center", fontsize=7, color="0.3")
    left += 9 * CELL + 0.25
    ax.text(left, mid, "@", ha="center", va="center", fontsize=12)
    left += 0.25
    grid(ax, left, mid + 4.5 * CELL, [[t] for t in taps], set(), "kernel")
    left += CELL + 0.25
    ax.text(left, mid, "=", ha="center", va="center", fontsize=12)
    left += 0.25
    grid(ax, left, mid + 2 * CELL, [[f"y{i}{j}"] for i in range(2) for j in range(2)], {(1, 0)}, "y")
    left += CELL + 0.15
    ax.annotate("", xy=(left + 0.55, mid), xytext=(left, mid), arrowprops={"arrowstyle": "->", "lw": 1.2})
    ax.text(left + 0.27, mid + 0.1, "reshape", ha="center", va="bottom", fontsize=8)
    left += 0.7
    grid(ax, left, mid + CELL, [["y00", "y01"], ["y10", "y11"]], {(0, 1)}, "output (2x2)")
    ax.set_xlim(-0.1, left + 2 * CELL + 0.1)
    ax.set_ylim(mid - 4.6 * CELL, mid + 5.3 * CELL)
    ax.set_aspect("equal")
    ax.axis("off")
    fig.tight_layout(pad=0.2)
    fig.savefig(images / NAME, dpi=110, bbox_inches="tight", pad_inches=0.05)
    plt.close(fig)
    return [NAME]
