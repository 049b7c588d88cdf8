"""``plot_history``: the per-epoch logs of ``fit`` as a PNG (needs matplotlib)."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["plot_history"]


def plot_history(history: Mapping[str, Sequence[float]], path: str) -> str:
    """Plot each logged quantity per epoch (train and validation together) into a PNG at ``path``.

    Epochs are counted from 1 and the x axis is ticked at whole epochs only. Needs
    matplotlib (``pip install matplotlib``, or the ``funcnn[plot]`` extra); without it,
    raises ``ImportError`` saying so.
    """
    try:
        import matplotlib
        from matplotlib.ticker import MaxNLocator

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError("plot_history needs matplotlib, which is not installed: "
                          "pip install matplotlib (or funcnn[plot])") from None
    names = [n for n in history if not n.startswith("val_") and n != "seconds"]
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(history[name]) + 1)
        ax.plot(epochs, history[name], label="train")
        if f"val_{name}" in history:
            ax.plot(epochs, history[f"val_{name}"], label="validation")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
