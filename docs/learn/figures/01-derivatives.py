"""The picture of page 1: the error of forward and central differences of ``f(x) = x³`` at
``x = 0.7`` against the step ``h``, in float64 and float32 (the page prints the same tables).

    python docs/learn/pictures.py 01
"""
from __future__ import annotations

import pathlib

import numpy as np

from pictures import matplotlib_or_note

X = 0.7
STEPS = range(1, 14)  # h = 1e-1 ... 1e-13


def cube(x: float) -> float:
    return x * x * x


def errors(dtype: type) -> tuple[list[float], list[float], list[float]]:
    """Steps, forward-difference errors and central-difference errors, computed in ``dtype``
    as on the page."""
    x = dtype(X)
    exact = 3 * x * x
    hs, forward, central = [], [], []
    for k in STEPS:
        h = dtype(1 / 10**k)
        hs.append(float(h))
        forward.append(abs(float((cube(x + h) - cube(x)) / h - exact)))
        central.append(abs(float((cube(x + h) - cube(x - h)) / (2 * h) - exact)))
    return hs, forward, central


def draw(images: pathlib.Path) -> list[str]:
    """Write ``01-finite-difference-error.png`` into ``images``; return its name (none without matplotlib)."""
    plt = matplotlib_or_note("01-derivatives")
    if plt is None:
        return []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for dtype, style in ((np.float64, "-"), (np.float32, ":")):
        hs, forward, central = errors(dtype)
        name = np.dtype(dtype).name
        ax.loglog(hs, forward, style, marker="o", markersize=3, color="tab:orange", label=f"forward, {name}")
        ax.loglog(hs, central, style, marker="s", markersize=3, color="tab:blue", label=f"central, {name}")
    h = np.logspace(-13, -6, 30)
    ax.loglog(h, np.finfo(np.float64).eps * X**3 / h, color="grey", linewidth=0.8, linestyle="--")
    ax.text(1.5e-13, 3e-10, "rounding, float64:\nε |f| / h", color="grey", fontsize=9)
    ax.set_ylim(1e-12, 10)
    ax.set_xlabel("step h")
    ax.set_ylabel("|error| of the estimate of f'(0.7) = 1.47")
    ax.set_title("Finite differences of f(x) = x³: truncation against rounding")
    ax.legend(fontsize=8, loc="lower right")
    ax.grid(True, which="major", linewidth=0.3)
    fig.tight_layout()
    name = "01-finite-difference-error.png"
    fig.savefig(images / name, dpi=90)
    plt.close(fig)
    return [name]
