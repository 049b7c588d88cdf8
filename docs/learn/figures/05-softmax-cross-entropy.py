"""The picture of page 5: the cross-entropy of logits ``[0, s]`` (label 0) in float32, computed
as softmax-then-log and by ``funcnn.losses.cross_entropy``, against the exact value."""
from __future__ import annotations

import pathlib

import numpy as np

from funcnn import losses

from pictures import matplotlib_or_note

NAME = "05-cross-entropy-float32.png"


def curves(s: np.ndarray) -> dict[str, np.ndarray]:
    """The three losses at logits ``[0, s]`` with the label on the first class."""
    z = np.stack([np.zeros_like(s), s], axis=-1).astype(np.float32)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        e = np.exp(z)
        naive = -np.log((e / e.sum(axis=-1, keepdims=True))[..., 0]) + 0.0
    stable = losses.cross_entropy(z, np.zeros(len(s), np.int64), reduction="none")
    return {"naive": naive, "funcnn": stable, "exact": np.logaddexp(0.0, s.astype(np.float64))}


def draw(images: pathlib.Path) -> list[str]:
    """Write the plot into ``images``; without matplotlib, say so and write nothing."""
    plt = matplotlib_or_note("05-softmax-cross-entropy")
    if plt is None:
        return []
    s = np.linspace(-100.0, 110.0, 1051)
    c = curves(s)
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.semilogy(s, c["exact"], color="0.6", lw=5, label="exact (float64)")
    ax.semilogy(s, c["funcnn"], color="C0", lw=1.5, label="funcnn cross_entropy (float32)")
    finite = np.isfinite(c["naive"]) & (c["naive"] > 0)
    ax.semilogy(s[finite], c["naive"][finite], color="C3", lw=1.5, ls="--", label="softmax, then log (float32)")
    zero, overflow = s[c["naive"] == 0], s[np.isinf(c["naive"])]
    ax.axvspan(zero.min(), zero.max(), color="C3", alpha=0.08)
    ax.axvspan(overflow.min(), overflow.max(), color="C3", alpha=0.08)
    ax.text(zero.mean(), 1e-6, f"naive gives 0\n(s < {zero.max():.0f})", ha="center", color="C3")
    ax.text(overflow.mean(), 1e-20, f"naive\ngives inf\n(s > {overflow.min():.0f})", ha="center", color="C3")
    ax.set_xlabel("s (logits are [0, s], the label is class 0)")
    ax.set_ylabel("loss")
    ax.set_ylim(1e-44, 1e4)
    ax.legend(loc="lower center", bbox_to_anchor=(0.6, 0.03), fontsize=8, frameon=False)
    fig.tight_layout()
    fig.savefig(images / NAME, dpi=90)
    plt.close(fig)
    return [NAME]
