"""A straightforward hand-written NumPy conv2d, forward and backward: the baseline funcnn is
measured against in ``bench_conv.py``.

The textbook im2col approach: the forward copies every window into a ``(N*H_out*W_out,
C*kh*kw)`` matrix (kept for the backward) and does one GEMM; the backward does one GEMM
for the kernel gradient and one for the unfolded input gradient, then folds it back
(col2im) with a loop over the kernel taps.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def conv2d_forward(x: np.ndarray, w: np.ndarray, padding: int) -> tuple[np.ndarray, tuple]:
    """``x (N, C, H, W)`` with ``w (O, C, kh, kw)``, stride 1: the output and what the backward needs."""
    n, c, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    ho, wo = xp.shape[2] - kh + 1, xp.shape[3] - kw + 1
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))           # (N, C, Ho, Wo, kh, kw)
    cols = windows.transpose(0, 2, 3, 1, 4, 5).reshape(n * ho * wo, c * kh * kw)  # copies
    out = cols @ w.reshape(o, -1).T                                      # (N*Ho*Wo, O)
    out = out.reshape(n, ho, wo, o).transpose(0, 3, 1, 2)
    return out, (cols, x.shape, w, padding)


def conv2d_backward(g: np.ndarray, saved: tuple) -> tuple[np.ndarray, np.ndarray]:
    """Gradients of the input and the kernel for the output cotangent ``g (N, O, Ho, Wo)``."""
    cols, (n, c, h, wd), w, padding = saved
    o, _, kh, kw = w.shape
    ho, wo = g.shape[2:]
    g2 = g.transpose(0, 2, 3, 1).reshape(n * ho * wo, o)
    dw = (g2.T @ cols).reshape(w.shape)
    dcols = (g2 @ w.reshape(o, -1)).reshape(n, ho, wo, c, kh, kw)
    dxp = np.zeros((n, c, h + 2 * padding, wd + 2 * padding), dtype=g.dtype)
    for i in range(kh):
        for j in range(kw):
            dxp[:, :, i:i + ho, j:j + wo] += dcols[:, :, :, :, i, j].transpose(0, 3, 1, 2)
    dx = dxp[:, :, padding:padding + h, padding:padding + wd]
    return dx, dw


def conv2d_forward_backward(x: np.ndarray, w: np.ndarray, g: np.ndarray, padding: int) -> tuple:
    """The output and both gradients, as one training step computes them."""
    out, saved = conv2d_forward(x, w, padding)
    dx, dw = conv2d_backward(g, saved)
    return out, dx, dw
