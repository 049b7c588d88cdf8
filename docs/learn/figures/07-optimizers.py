"""The picture of page 7 (07-optimizers.md): the paths of gradient descent, momentum and Adam
on the elongated bowl, and their losses step by step.

The paths are not recomputed here: the page's own code blocks are run, and the picture is
drawn from the ``paths`` they compute (the same numbers the page prints and checks).
"""
from __future__ import annotations

import pathlib

import numpy as np

from pictures import matplotlib_or_note, page_namespace

NAME = "07-optimizers-paths.png"
COLOURS = {"gradient descent, lr 0.09": "tab:blue", "momentum 0.5, lr 0.09": "tab:orange",
           "momentum 0.9, lr 0.09": "tab:gray", "Adam, lr 0.1": "tab:green"}
ON_THE_MAP = ("gradient descent, lr 0.09", "momentum 0.5, lr 0.09", "Adam, lr 0.1")


def draw(images: pathlib.Path) -> list[str]:
    """Write the picture into ``images``; return its name (nothing without matplotlib)."""
    plt = matplotlib_or_note("07-optimizers")
    if plt is None:
        return []
    page = page_namespace("07-optimizers")
    paths, curvature = page["paths"], page["curvature"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.5, 1]})

    w1, w2 = np.meshgrid(np.linspace(-4.5, 1.0, 200), np.linspace(-1.7, 1.7, 200))
    surface = 0.5 * (curvature[0] * w1**2 + curvature[1] * w2**2)
    left.contour(w1, w2, surface, levels=np.geomspace(0.02, 40, 10), colors="0.8", linewidths=0.7)
    for name in ON_THE_MAP:
        left.plot(paths[name][:, 0], paths[name][:, 1], ".-", ms=3, lw=1, color=COLOURS[name], label=name)
    left.plot(*page["start"], "ko", ms=4)
    left.set(xlabel="w1", ylabel="w2", aspect="equal", title="paths on L(w) = (w1² + 20 w2²) / 2")
    left.legend(fontsize=8, loc="lower right")

    for name, path in paths.items():
        right.semilogy([float(page["loss"](w)) for w in path], lw=1.2, color=COLOURS[name], label=name)
    right.set(xlabel="step", ylabel="loss", title="loss per step", ylim=(1e-12, 1e2))
    right.legend(fontsize=8)

    fig.tight_layout()
    fig.savefig(images / NAME, dpi=72, pil_kwargs={"optimize": True})
    plt.close(fig)
    return [NAME]
