"""``nn.summary``: a table of a model's layers with their output shapes and parameter counts,
like ``torchinfo.summary`` or Flax's ``tabulate``.

Nothing runs on data. ``init`` works out every layer's output shape and makes the params
that are counted; ``apply`` then runs once under ``funcnn.eval_shape`` on a stand-in input
(a shape and a dtype) to find the dtype of every layer's output, and to check that each
layer returns the shape its ``init`` predicted. The layers are seen through the
:func:`~funcnn.nn._layer.watching` hook of the combinators.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import DTypeLike

from funcnn import ShapeDtype, eval_shape, random, tree_util
from funcnn.extend import dtype_of, shape_of
from funcnn.nn._layer import (
    Context, Layer, Watcher, apply_sublayer, describe, init_sublayer, same_shape, watching,
)

__all__ = ["Summary", "SummaryRow", "summary"]


class SummaryRow(NamedTuple):
    """One layer of a :class:`Summary`.

    Attributes
    ----------
    path : tuple of str
        The layer's key path in the model's params (``()`` for the model itself).
    name : str
        Its params key, ``path[-1]`` (the model's own name stem for the model).
    kind : str
        The constructor that made it (``"Dense"``, ``"serial"``); ``"Layer"`` for a layer
        made directly with ``Layer(...)``.
    depth : int
        ``len(path)``: 0 for the model, 1 for its sublayers, ...
    output_shape : tuple of int, or a tuple of them
        The output shape ``init`` predicts (``-1`` for an unknown size); a tuple of shapes
        for a layer with several outputs.
    output_dtype : numpy dtype, or a tuple of them
        The dtype of the output (nested like `output_shape`).
    num_params : int
        The number of parameter entries of the layer, its sublayers' included.
    num_state : int
        The number of state entries (``BatchNorm``'s running statistics), sublayers' included.
    dtypes : tuple of str
        The dtypes of the layer's parameters, sorted.
    layer : Layer
    """

    path: tuple[str, ...]
    name: str
    kind: str
    depth: int
    output_shape: Any
    output_dtype: Any
    num_params: int
    num_state: int
    dtypes: tuple[str, ...]
    layer: Layer


@dataclasses.dataclass(frozen=True, repr=False)
class Summary:
    """What :func:`summary` returns: the rows of its table and the model's totals;
    ``str(summary)`` is the table.

    Attributes
    ----------
    rows : tuple of SummaryRow
        The layers, the model first, each followed by its sublayers (down to ``depth``).
    total_params : int
        The number of entries of all the model's params.
    total_state : int
        The number of entries of all its state.
    total_bytes : int
        The bytes of the params and the state together.
    """

    rows: tuple[SummaryRow, ...]
    total_params: int
    total_state: int
    total_bytes: int

    def __str__(self) -> str:
        return _table(self)

    def __repr__(self) -> str:
        return (f"Summary({len(self.rows)} rows, total_params={self.total_params}, "
                f"total_state={self.total_state}, total_bytes={self.total_bytes})")


def summary(model: Layer, input_shape: Any, *, dtype: Any = np.float32, key: Any = None,
            depth: int | None = None, print_fn: Callable[[str], Any] | None = print) -> Summary:
    """A table of `model`'s layers: their output shapes and dtypes, and their parameters.

    Parameters
    ----------
    model : Layer
    input_shape : tuple of int
        As for ``model.init``, batch axis included (``-1`` for an unknown size); a tuple of
        shapes for a model with several inputs. A bad shape raises the error ``init`` raises.
    dtype : dtype, or a tuple of them (one per input), default float32
        The dtype of the input (``np.int64`` for token ids).
    key : PRNG key, optional
        For ``init``; ``random.key(0)`` by default. The counts do not depend on it.
    depth : int, optional
        The deepest level of sublayers listed (0: the model alone, 1: its sublayers, ...);
        all by default. The totals always cover the whole model.
    print_fn : callable or None, default print
        Called with the table; ``None`` prints nothing.

    Returns
    -------
    Summary
        With ``rows``, ``total_params``, ``total_state`` and ``total_bytes``.

    Notes
    -----
    No data is run through the model: ``init`` predicts the shapes and makes the params
    that are counted, and ``apply`` runs under ``funcnn.eval_shape`` on a stand-in input
    (each ``-1`` of `input_shape` taken as 1) to find each output's dtype. A layer whose
    ``apply`` returns another shape than its ``init`` predicted is an error. Counts cover
    a layer's sublayers, so a combinator's count is the sum of its sublayers'.

    Examples
    --------
    >>> from funcnn import nn
    >>> table = nn.summary(nn.serial(nn.Dense(8), nn.Relu, nn.Dense(2)), (-1, 4))
    Layer      Kind    Output     Params  Dtype
    ---------------------------------------------
    serial     serial  f32[-1,2]      58  float32
      dense_0  Dense   f32[-1,8]      40  float32
      relu_1   Relu    f32[-1,8]       0
      dense_2  Dense   f32[-1,2]      18  float32
    ---------------------------------------------
    Total params: 58
    Total bytes: 232
    >>> table.total_params, table.rows[1].output_shape
    (58, (-1, 8))
    """
    if not isinstance(model, Layer):
        hint = "; call it to make one" if callable(model) else ""
        raise TypeError(f"summary: model must be a layer; got a {type(model).__name__}{hint}")
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 0):
        raise ValueError(f"summary: depth must be None or a non-negative int; got {depth!r}")
    visits: dict[tuple[str, ...], dict[str, Any]] = {}
    with watching(_recorder(visits)):
        _, params, state = init_sublayer(model, random.key(0) if key is None else key, input_shape, ())
        _run_abstractly(model, params, state, _stand_in(input_shape, dtype))
    # Sublayers first, so that a layer whose apply disagrees with its init is the one named.
    dtypes = {path: _checked_dtype(path, visit) for path, visit in reversed(visits.items()) if "init" in visit}
    rows = tuple(_row(path, visits[path], dtypes[path]) for path in visits
                 if path in dtypes and (depth is None or len(path) <= depth))
    result = Summary(rows, _count(params), _count(state), _nbytes(params) + _nbytes(state))
    if print_fn is not None:
        print_fn(str(result))
    return result


def _recorder(visits: dict[tuple[str, ...], dict[str, Any]]) -> Watcher:
    """A watcher keeping, per key path, the layer and what its init and apply returned."""
    def watch(event: str, path: tuple[str, ...], layer: Layer) -> Callable[[Any], None]:
        visit = visits.setdefault(path, {"layer": layer})

        def done(result: Any) -> None:
            # Keep apply's output as shapes and dtypes only: it holds values being traced.
            visit[event] = result if event == "init" else tree_util.tree_map(_aval, result[0])
        return done

    return watch


def _aval(value: Any) -> ShapeDtype:
    return ShapeDtype(shape_of(value), dtype_of(value))


def _is_shape(shape: Any) -> bool:
    return isinstance(shape, (tuple, list)) and all(isinstance(d, (int, np.integer)) for d in shape)


def _stand_in(input_shape: Any, dtype: Any) -> Any:
    """An input of `input_shape` (each -1 taken as 1) and `dtype`, without data."""
    if _is_shape(input_shape):
        if isinstance(dtype, (tuple, list)):
            raise ValueError(f"summary: dtype must be one dtype for the input of shape {tuple(input_shape)}; "
                             f"got {dtype!r}")
        return ShapeDtype(tuple(1 if d == -1 else d for d in input_shape), _as_dtype(dtype))
    dtypes = dtype if isinstance(dtype, (tuple, list)) else [dtype] * len(input_shape)
    if len(dtypes) != len(input_shape):
        raise ValueError(f"summary: dtype must be one dtype, or one per input ({len(input_shape)}); "
                         f"got {dtype!r}")
    return tuple(_stand_in(s, d) for s, d in zip(input_shape, dtypes))


def _as_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    try:
        return np.dtype(dtype)
    except TypeError:
        raise ValueError(f"summary: dtype must be a NumPy dtype (np.float32, np.int64, ...); "
                         f"got {dtype!r}") from None


def _run_abstractly(model: Layer, params: Any, state: Any, x: Any) -> None:
    def run(params: Any, state: Any, x: Any) -> Any:
        return apply_sublayer(model, params, state, x, Context(None, False, ()))[0]

    try:
        eval_shape(run, params, state, x)
    except (ValueError, TypeError) as err:
        if type(err) not in (ValueError, TypeError):  # a subclass may not take a message alone
            raise
        shapes = tree_util.tree_map(lambda v: v.short(), x)
        raise type(err)(f"{err}\n(raised while nn.summary traced the model's apply, without data, on a stand-in "
                        f"input {shapes}: each -1 of input_shape taken as 1, the dtype from summary's dtype "
                        "argument, e.g. dtype=np.int64 for token ids)") from err


def _kind(layer: Layer) -> str:
    return layer.config.constructor if layer.config is not None else "Layer"


def _checked_dtype(path: tuple[str, ...], visit: dict[str, Any]) -> Any:
    """The dtype(s) of the layer's output, checked against the shape its init predicted."""
    layer: Layer = visit["layer"]
    who = describe(_kind(layer) if layer.config is not None else layer.name, path)
    return _output_dtype(visit["init"][0], visit.get("apply"), who)


def _row(path: tuple[str, ...], visit: dict[str, Any], output_dtype: Any) -> SummaryRow:
    layer: Layer = visit["layer"]
    output_shape, params, state = visit["init"]
    dtypes = tuple(sorted({np.asarray(leaf).dtype.name for leaf in tree_util.tree_leaves(params)}))
    name = path[-1] if path else layer.name
    return SummaryRow(path, name, _kind(layer), len(path), output_shape, output_dtype, _count(params),
                      _count(state), dtypes, layer)


def _output_dtype(shape: Any, output: Any, who: str) -> Any:
    """The dtype(s) of `output`, checked to have the `shape` init predicted; None if not applied."""
    if output is None:
        return None
    if _is_shape(shape) and isinstance(output, ShapeDtype) and same_shape(tuple(shape), output.shape):
        return output.dtype
    if not _is_shape(shape) and isinstance(shape, (tuple, list)) and isinstance(output, (tuple, list)) \
            and len(shape) == len(output):
        return tuple(_output_dtype(s, o, who) for s, o in zip(shape, output))
    actual = tree_util.tree_map(lambda a: a.shape, output)
    raise ValueError(f"summary: {who}: init predicts the output shape {shape}, but apply returns {actual} "
                     "(each -1 of the input shape taken as 1); the layer's init_fn and apply_fn disagree")


def _count(tree: Any) -> int:
    return sum(int(np.size(leaf)) for leaf in tree_util.tree_leaves(tree))


def _nbytes(tree: Any) -> int:
    return sum(int(np.asarray(leaf).nbytes) for leaf in tree_util.tree_leaves(tree))


# --- the table ---------------------------------------------------------------------------


def _output_text(shape: Any, dtype: Any) -> str:
    """``f32[-1,10]``, or ``(f32[-1,3], f32[-1,3])`` for several outputs (``?`` if unknown)."""
    if _is_shape(shape):
        if dtype is None:
            return f"?[{','.join(map(str, shape))}]"
        return ShapeDtype(shape, dtype).short()
    dtypes = dtype if isinstance(dtype, tuple) else (None,) * len(shape)
    return f"({', '.join(_output_text(s, d) for s, d in zip(shape, dtypes))})"


def _bytes_text(num_bytes: int) -> str:
    """``232`` or ``407,144 (397.6 KiB)``."""
    size, unit = float(num_bytes), ""
    for bigger in ("KiB", "MiB", "GiB", "TiB"):
        if size < 1024:
            break
        size, unit = size / 1024, bigger
    return f"{num_bytes:,}" + (f" ({size:.1f} {unit})" if unit else "")


def _table(summary: Summary) -> str:
    with_state = summary.total_state > 0
    header = ["Layer", "Kind", "Output", "Params"] + (["State"] if with_state else []) + ["Dtype"]
    cells = [header]
    for row in summary.rows:
        numbers = [f"{row.num_params:,}"] + ([f"{row.num_state:,}"] if with_state else [])
        cells.append(["  " * row.depth + row.name, row.kind, _output_text(row.output_shape, row.output_dtype),
                      *numbers, ", ".join(row.dtypes)])
    widths = [max(len(line[i]) for line in cells) for i in range(len(header))]
    numeric = {3, 4} if with_state else {3}
    lines = ["  ".join(c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths)))
             .rstrip() for line in cells]
    rule = "-" * max(len(line) for line in lines)
    totals = [f"Total params: {summary.total_params:,}"]
    if with_state:
        totals.append(f"Total state: {summary.total_state:,}")
    totals.append(f"Total bytes: {_bytes_text(summary.total_bytes)}")
    return "\n".join([lines[0], rule, *lines[1:], rule, *totals])
