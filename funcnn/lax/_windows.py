"""Window geometry shared by convolution and pooling: checking the static arguments,
resolving ``"SAME"``/``"VALID"`` padding, output sizes, and dilating and padding an
array's spatial axes.

Sizes follow one convention throughout. Along a spatial axis of length ``n``, dilation
``d`` spreads the elements ``d`` apart, giving ``(n - 1) * d + 1`` positions; padding
``(lo, hi)`` adds ``lo`` positions before and ``hi`` after (a negative amount crops);
a window of ``k`` taps dilated by ``d`` spans ``(k - 1) * d + 1`` positions; with
stride ``s`` there are ``(padded - span) // s + 1`` windows.
"""
from __future__ import annotations

from typing import Any, Sequence, Union

import numpy as np

from funcnn.extend import ndim_of
from funcnn.numpy._creation import as_int, items_of


Padding = Union[str, Sequence[Sequence[int]]]


def dilated_size(n: int, d: int) -> int:
    """The number of positions ``n`` elements spaced ``d`` apart occupy (0 for none)."""
    return 0 if n == 0 else (n - 1) * d + 1


def out_size(padded: int, span: int, stride: int) -> int:
    """How many windows of ``span`` positions, ``stride`` apart, fit in ``padded`` positions."""
    return (padded - span) // stride + 1


def positive_ints(value: Any, n: int, name: str, fn: str) -> tuple[int, ...]:
    """``value`` (an int, or ``n`` of them; ``None`` means all 1) as a tuple of ``n`` positive ints."""
    return (1,) * n if value is None else spatial_ints(value, n, name, fn)


def spatial_ints(value: Any, n: int, name: str, fn: str, minimum: int = 1) -> tuple[int, ...]:
    """``value`` (an int, or ``n`` of them: one per spatial dimension) as ``n`` ints of at least
    ``minimum``; anything else (a float, a bool, the wrong count) is a ValueError naming ``name``."""
    scalar = not isinstance(value, (list, tuple)) and ndim_of(value) == 0
    items = (value,) * n if scalar else items_of(value)
    if len(items) != n:
        raise ValueError(f"{fn}: {name}={value!r} has {len(items)} entries, but the input has "
                         f"{n} spatial dimension(s)")
    try:
        ints = tuple(as_int(v, name, fn) for v in items)
    except TypeError:
        ints = ()
    if len(ints) != n or any(v < minimum for v in ints):
        wanted = "positive integers" if minimum == 1 else f"integers of at least {minimum}"
        raise ValueError(f"{fn}: {name} must be {wanted}; got {value!r}")
    return ints


def resolve_padding(padding: Padding, sizes: Sequence[int], spans: Sequence[int],
                    strides: Sequence[int], fn: str) -> tuple[tuple[int, int], ...]:
    """Explicit ``(lo, hi)`` pairs for ``"SAME"``, ``"VALID"`` or given pairs.

    ``sizes`` are the (dilated) input lengths and ``spans`` the dilated window lengths.
    ``"SAME"`` gives ``ceil(size / stride)`` windows, padding the same on both sides or
    one more after; ``"VALID"`` pads nothing.
    """
    n = len(sizes)
    if isinstance(padding, str):
        mode = padding.upper()
        if mode == "VALID":
            return ((0, 0),) * n
        if mode == "SAME":
            totals = [max((-(-size // stride) - 1) * stride + span - size, 0)
                      for size, span, stride in zip(sizes, spans, strides)]
            return tuple((total // 2, total - total // 2) for total in totals)
        raise ValueError(f"{fn}: padding must be 'SAME', 'VALID' or (low, high) pairs; got {padding!r}")
    try:
        pairs = tuple((as_int(lo, "padding", fn), as_int(hi, "padding", fn)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ValueError(f"{fn}: padding must be 'SAME', 'VALID' or a sequence of (low, high) pairs of "
                         f"integers, one per spatial dimension; got {padding!r}") from None
    if len(pairs) != n:
        raise ValueError(f"{fn}: padding={padding!r} must hold {n} (low, high) pair(s) of integers, one per "
                         f"spatial dimension")
    return pairs


def check_spans(fn: str, what: str, padded: Sequence[int], spans: Sequence[int], shapes: str) -> None:
    """Raise when a (dilated) window is longer than the (dilated, padded) input along some axis."""
    for axis, (p, span) in enumerate(zip(padded, spans)):
        if span > p:
            raise ValueError(f"{fn}: the {what} spans {span} positions along spatial axis {axis}, more than "
                             f"the {p} of the padded input ({shapes})")


def dilate_pad(x: np.ndarray, first: int, dilation: Sequence[int], padding: Sequence[tuple[int, int]],
               fill: Any = 0) -> np.ndarray:
    """``x`` with axes ``first, first+1, ...`` dilated (``fill`` between elements) then padded with
    ``fill`` (negative padding crops), its axes laid out in memory as ``x``'s are. Returns ``x``
    itself when there is nothing to do."""
    if all(d == 1 for d in dilation) and all(lo == 0 and hi == 0 for lo, hi in padding):
        return x
    lead = x.shape[:first]
    sizes = [dilated_size(n, d) for n, d in zip(x.shape[first:], dilation)]
    grown = [n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(sizes, padding)]
    out = alloc_like(x, lead + tuple(grown), fill)
    inner = tuple(slice(max(lo, 0), max(lo, 0) + n) for n, (lo, _) in zip(sizes, padding))
    spread = tuple(slice(s.start, s.stop, d) for s, d in zip(inner, dilation))
    out[(Ellipsis,) + spread] = x
    crop = tuple(slice(max(-lo, 0), g - max(-hi, 0)) for g, (lo, hi) in zip(grown, padding))
    return out[(Ellipsis,) + crop]


def alloc_like(x: np.ndarray, shape: Sequence[int], fill: Any = None) -> np.ndarray:
    """A new array of ``shape`` and ``x``'s dtype whose axes are laid out in memory in the same
    order as ``x``'s (so copying ``x`` into it streams), filled with ``fill`` unless ``None``."""
    order = memory_order(x)
    permuted = tuple(shape[i] for i in order)
    if fill is None:
        buf = np.empty(permuted, dtype=x.dtype)
    elif fill == 0:
        buf = np.zeros(permuted, dtype=x.dtype)  # fresh zero pages cost nothing to fill
    else:
        buf = np.full(permuted, fill, dtype=x.dtype)
    return buf.transpose(np.argsort(order))


def memory_order(x: np.ndarray) -> list[int]:
    """``x``'s axes from the slowest-varying in memory to the fastest (ties keep axis order)."""
    return sorted(range(x.ndim), key=lambda i: (-abs(x.strides[i]) if x.shape[i] > 1 else 0, i))
