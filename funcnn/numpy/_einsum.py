"""``einsum`` in both of NumPy's forms: a subscripts string, or operands each followed by a
list of integer labels (the "sublist" form), which is translated to the string form."""
from __future__ import annotations

import operator
import string
from typing import Any, Sequence

from funcnn.numpy._linalg import einsum as _einsum_subscripts

_LABELS = string.ascii_uppercase + string.ascii_lowercase  # NumPy's order: 0-25 are A-Z, 26-51 a-z


def _letter(label: Any) -> str:
    """One label of a sublist as subscripts: an integer as its letter, ``Ellipsis`` as ``...``."""
    if label is Ellipsis:
        return "..."
    try:
        i = operator.index(label)
    except TypeError:
        i = -1
    if not 0 <= i < len(_LABELS):
        raise ValueError(f"einsum: subscript labels must be integers in [0, {len(_LABELS)}) or Ellipsis; got {label!r}")
    return _LABELS[i]


def _subscripts(sublist: Sequence[Any]) -> str:
    """A sublist such as ``[0, Ellipsis, 1]`` as the subscripts ``"A...B"``."""
    return "".join(_letter(label) for label in sublist)


def einsum(*operands: Any, optimize: Any = False) -> Any:
    """Einstein summation, NumPy's ``einsum`` in either form:

    * ``einsum("ij,jk->ik", a, b)``: explicit or implicit output, ``...`` allowed;
    * ``einsum(a, [0, 1], b, [1, 2], [0, 2])``: each operand followed by its list of integer
      labels (and ``Ellipsis``), then optionally the output's list.

    Derivatives exist for operands whose subscripts repeat no index. ``optimize`` is accepted
    for NumPy's signature; the contraction order is chosen anyway.

    >>> import numpy as np
    >>> a, b = np.ones((2, 3)), np.ones((3, 4))
    >>> einsum(a, [0, 1], b, [1, 2], [0, 2]).shape
    (2, 4)
    """
    if not operands:
        raise ValueError("einsum: no operands given")
    if isinstance(operands[0], str):
        return _einsum_subscripts(operands[0], *operands[1:])
    pairs = operands[:len(operands) - len(operands) % 2]
    spec = ",".join(_subscripts(s) for s in pairs[1::2])
    if len(operands) % 2:  # a trailing sublist names the output
        spec += "->" + _subscripts(operands[-1])
    return _einsum_subscripts(spec, *pairs[0::2])
