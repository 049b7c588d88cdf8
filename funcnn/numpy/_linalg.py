"""Linear algebra: ``matmul`` and ``einsum`` primitives; ``dot``, ``tensordot``, ``outer``,
``inner`` and ``vdot`` composed from them. Both primitives are bilinear: the JVP applies
the op with one argument replaced by its tangent, and each VJP is another product."""
from __future__ import annotations

import math
import string
from typing import Any, Callable, Sequence

import numpy as np

from funcnn.extend import (
    Primitive, ShapeDtype, Stacked, def_abstract_eval, def_batch, def_jvp, def_jvp_joint, def_step_sum, def_vjp,
    def_vjp_argnum, dtype_of, ndim_of, shape_of, steps_moved, to_front,
)
from funcnn.extend import reshape as engine_reshape
from funcnn.numpy._creation import as_int, asarray, normalize_axes
from funcnn.numpy._elementwise import multiply
from funcnn.extend import transpose as engine_transpose
from funcnn.numpy._shape import broadcast_to, expand_dims, ravel, reshape, swapaxes, transpose
from funcnn.numpy._indexing import getitem

# --- matmul ------------------------------------------------------------------------------


def _matmul_ct_a(g: Any, a: Any, b: Any) -> Any:
    if ndim_of(b) == 1:  # (..., k) @ (k,) -> (...)
        return multiply(expand_dims(g, -1), b)
    if ndim_of(a) == 1:  # (k,) @ (..., k, m) -> (..., m)
        return getitem(matmul(b, expand_dims(g, -1)), (Ellipsis, 0))
    return _matmul_p.bind(g, _matrix_transpose(b))


def _matmul_ct_b(g: Any, a: Any, b: Any) -> Any:
    if ndim_of(a) == 1 and ndim_of(b) == 1:
        return multiply(g, a)
    if ndim_of(a) == 1:
        return multiply(expand_dims(a, -1), expand_dims(g, -2))
    if ndim_of(b) == 1:
        return getitem(matmul(swapaxes(a, -1, -2), expand_dims(g, -1)), (Ellipsis, 0))
    if ndim_of(b) == 2 and ndim_of(a) > 2:  # one GEMM over all rows of the stack, not a stack summed
        rows = math.prod(shape_of(a)[:-1])
        return _matmul_p.bind(_matrix_transpose(reshape(a, (rows, shape_of(a)[-1]))),
                              reshape(g, (rows, shape_of(g)[-1])))
    return _matmul_p.bind(_matrix_transpose(a), g)


def _matrix_transpose(x: Any) -> Any:
    """``x`` with its last two axes swapped (``x`` has at least two): a hot spot of every backward pass."""
    n = ndim_of(x)
    return engine_transpose(x, (*range(n - 2), n - 1, n - 2))


def _matmul_rule(a: ShapeDtype, b: ShapeDtype) -> ShapeDtype:
    sa, sb = a.shape, b.shape
    k_a, k_b = sa[-1], sb[0] if len(sb) == 1 else sb[-2]
    try:
        if k_a != k_b:
            raise ValueError
        batch = np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise ValueError(f"matmul: shapes {sa} and {sb} do not align (the last axis of the first, {k_a}, "
                         f"must match the second-to-last of the second, {k_b})") from None
    rows = sa[-2:-1] if len(sa) > 1 else ()
    cols = sb[-1:] if len(sb) > 1 else ()
    return ShapeDtype(batch + rows + cols, np.result_type(a.dtype, b.dtype))


def _matmul_impl(a: Any, b: Any) -> np.ndarray:
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim >= 2 and b.ndim >= 2 and a.shape[-1] == 1:
        # a contraction of length one is an outer product: a broadcast multiply runs 2-3x faster than
        # NumPy's matmul of stacked (n, 1) by (1, m) matrices (per-example weight gradients are these)
        return np.multiply(a, b, order="C")
    if a.ndim > 2 and b.ndim == 2:
        # a stack of matrices times one matrix is one GEMM over all rows: NumPy would run one
        # small product per matrix of the stack (2-3x slower for a Dense layer on sequences)
        return np.matmul(a.reshape(-1, a.shape[-1]), b).reshape(a.shape[:-1] + b.shape[-1:])
    return np.matmul(a, b)


_matmul_p = Primitive("matmul", _matmul_impl, fresh=True)
def_abstract_eval(_matmul_p, _matmul_rule)
def_vjp(_matmul_p, lambda ans, a, b: lambda g: _matmul_ct_a(g, a, b),
        lambda ans, a, b: lambda g: _matmul_ct_b(g, a, b))
def_jvp(_matmul_p, lambda t, ans, a, b: _matmul_p.bind(t, b), lambda t, ans, a, b: _matmul_p.bind(a, t))


def _matmul_batch(size: int, args: Sequence[Any], dims: tuple) -> tuple[Any, int]:
    """A batch of products is one product with the batch as a leading (broadcast) axis; a batch
    of left operands against one 2-d right operand stacks into the rows of a single GEMM."""
    (a, b), (da, db) = args, dims
    ra, rb = ndim_of(a) - (da is not None), ndim_of(b) - (db is not None)
    if db is None and rb == 2:
        rows = to_front(a, da, size)
        flat = _matmul_p.bind(engine_reshape(rows, (-1, shape_of(rows)[-1])), b)
        return engine_reshape(flat, shape_of(rows)[:-1] + shape_of(b)[-1:]), 0
    rank = max(ra, rb, 2)  # both operands as stacks of matrices, the batch first when they have it
    a_mat = _as_matrices(a, da, size, rank, vector_shape=(1, -1))
    b_mat = _as_matrices(b, db, size, rank, vector_shape=(-1, 1))
    out = _matmul_p.bind(a_mat, b_mat)
    shape = shape_of(out)
    drop = (rank - 1 if ra == 1 else None, rank if rb == 1 else None)  # axes 1-d operands added, in the output
    return engine_reshape(out, tuple(n for k, n in enumerate(shape) if k not in drop)), 0


def _as_matrices(x: Any, dim: int | None, size: int, rank: int, vector_shape: tuple) -> Any:
    """One operand of a batched matmul: a 1-d example as a row (or column) matrix; a batched
    one with the batch first and size-1 axes up to ``rank`` example axes."""
    shape = shape_of(x) if dim is None else shape_of(to_front(x, dim, size))[1:]
    if len(shape) == 1:
        shape = (1, shape[0]) if vector_shape[0] == 1 else (shape[0], 1)
    if dim is None:
        return engine_reshape(x, shape)
    return engine_reshape(to_front(x, dim, size), (size,) + (1,) * (rank - len(shape)) + shape)


def matmul(x1: Any, x2: Any) -> Any:
    """Matrix product with NumPy's ``matmul`` rules (1-d promotion, batch broadcasting)."""
    x1, x2 = asarray(x1), asarray(x2)
    if ndim_of(x1) == 0 or ndim_of(x2) == 0:
        raise ValueError(f"matmul: scalar operands are not allowed (shapes {shape_of(x1)} and "
                         f"{shape_of(x2)}); use multiply")
    _matmul_rule(x1, x2)  # shapes that do not align raise here, before the implementation broadcasts them
    return _matmul_p.bind(x1, x2)


def_batch(_matmul_p, _matmul_batch)


def _matmul_step_sum(a: ShapeDtype, b: ShapeDtype) -> Callable[[Stacked, Stacked], Any] | None:
    """``sum_t a_t @ b_t`` as ``A @ B``: ``A`` (..., k, steps * m) and ``B`` (..., steps * m, n).
    Left in the loop: vectors, and stacks of matrices that broadcast against each other."""
    if a.ndim < 2 or a.ndim != b.ndim or a.shape[:-2] != b.shape[:-2]:
        return None
    batch, (k, m), n = a.shape[:-2], a.shape[-2:], b.shape[-1]

    def summed(left: Stacked, right: Stacked) -> Any:
        steps = shape_of(left.value)[0]
        rows = engine_reshape(steps_moved(left, a.ndim - 1), batch + (k, steps * m))  # a view when a_t = h_t.T
        cols = engine_reshape(steps_moved(right, b.ndim - 2), batch + (steps * m, n))
        return _matmul_p.bind(rows, cols)
    return summed


def_step_sum(_matmul_p, _matmul_step_sum)  # a loop's sum of products a_t @ b_t as one product after it


def dot(a: Any, b: Any) -> Any:
    """NumPy's ``dot``: products for scalars, ``matmul`` up to 2-d, a sum over the last axis
    of ``a`` and the second-to-last of ``b`` beyond."""
    a, b = asarray(a), asarray(b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    if ndim_of(b) <= 2:
        return matmul(a, b)
    return tensordot(a, b, axes=([-1], [-2]))


def tensordot(a: Any, b: Any, axes: Any = 2) -> Any:
    """Sum products over the given axes of ``a`` and ``b`` (NumPy's ``tensordot``): the last
    ``axes`` of ``a`` with the first of ``b``, or the pair of axis lists ``(axes_a, axes_b)``."""
    a, b = asarray(a), asarray(b)
    sa, sb = shape_of(a), shape_of(b)
    axes_a, axes_b = _tensordot_axes(axes, len(sa), len(sb))
    if len(axes_a) != len(axes_b) or any(sa[i] != sb[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: shape mismatch for sum: shapes {sa} and {sb} with axes {axes!r}")
    free_a = [i for i in range(len(sa)) if i not in axes_a]
    free_b = [i for i in range(len(sb)) if i not in axes_b]
    k = math.prod(sa[i] for i in axes_a)
    a2 = reshape(transpose(a, free_a + axes_a), (math.prod(sa[i] for i in free_a), k))
    b2 = reshape(transpose(b, axes_b + free_b), (k, math.prod(sb[i] for i in free_b)))
    return reshape(matmul(a2, b2), tuple(sa[i] for i in free_a) + tuple(sb[i] for i in free_b))


def _tensordot_axes(axes: Any, ndim_a: int, ndim_b: int) -> tuple[list[int], list[int]]:
    """The contracted axes of ``a`` and of ``b``, checked, from ``tensordot``'s ``axes``."""
    if isinstance(axes, (list, tuple)) or ndim_of(axes) > 0:
        if len(axes) != 2:
            raise ValueError(f"tensordot: axes must be an int or a pair (axes_a, axes_b); got {axes!r}")
        return (list(normalize_axes(axes[0], ndim_a, "tensordot", "axes[0]")),
                list(normalize_axes(axes[1], ndim_b, "tensordot", "axes[1]")))
    n = as_int(axes, "axes", "tensordot")
    if not 0 <= n <= min(ndim_a, ndim_b):
        raise ValueError(f"tensordot: axes={n} must lie in [0, {min(ndim_a, ndim_b)}] for arrays of dimension "
                         f"{ndim_a} and {ndim_b}")
    return list(range(ndim_a - n, ndim_a)), list(range(n))


def outer(a: Any, b: Any) -> Any:
    """Outer product of two vectors (inputs are flattened)."""
    return multiply(expand_dims(ravel(a), 1), expand_dims(ravel(b), 0))


def inner(a: Any, b: Any) -> Any:
    """Sum of products over the last axes of ``a`` and ``b``."""
    a, b = asarray(a), asarray(b)
    if ndim_of(a) == 0 or ndim_of(b) == 0:
        return multiply(a, b)
    return tensordot(a, b, axes=([-1], [-1]))


def vdot(a: Any, b: Any) -> Any:
    """Dot product of the flattened inputs, which must have the same size. Complex ``a``
    (which NumPy conjugates) is not supported."""
    a, b = ravel(a), ravel(b)
    if dtype_of(a).kind == "c":
        raise TypeError("vdot: complex values are not supported for a (NumPy conjugates it; there is no "
                        "conjugate op here)")
    if shape_of(a) != shape_of(b):
        raise ValueError(f"vdot: a and b must have the same number of elements; got {shape_of(a)[0]} and "
                         f"{shape_of(b)[0]}")
    return matmul(a, b)


# --- einsum ------------------------------------------------------------------------------


def parse_einsum(subscripts: str, shapes: Sequence[tuple]) -> tuple[list[str], str]:
    """Input and output subscripts with ``...`` spelled out as letters and the output explicit."""
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: {subscripts!r} names {len(terms)} operands but {len(shapes)} were given")
    unused = [c for c in string.ascii_letters if c not in spec]
    n_ell = max((len(s) - len(t.replace("...", "")) for t, s in zip(terms, shapes) if "..." in t), default=0)
    ell = "".join(unused[:n_ell])
    expanded = []
    for term, shape in zip(terms, shapes):
        if "..." in term:
            term = term.replace("...", ell[n_ell - (len(shape) - len(term.replace("...", ""))):])
        if len(term) != len(shape):
            raise ValueError(f"einsum: subscripts {term!r} do not fit an operand of shape {shape}")
        expanded.append(term)
    if arrow:
        if n_ell and "..." not in output:
            raise ValueError(f"einsum: {subscripts!r} drops the {n_ell} dimension(s) its '...' stands for; "
                             f"keep '...' in the output (sum them away afterwards if that was meant)")
        output = output.replace("...", ell)
    else:
        letters = "".join(expanded)
        output = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    return expanded, output


def _einsum_vjp(i: int, ans: Any, *operands: Any, inputs: tuple, output: str) -> Any:
    term = inputs[i]
    if len(set(term)) != len(term):
        raise NotImplementedError(f"einsum: no derivative for operand {i} with a repeated index ({term!r})")
    others = [inputs[j] for j in range(len(inputs)) if j != i]
    present = set(output).union(*others)
    kept = "".join(c for c in term if c in present)
    shape = shape_of(operands[i])

    def vjp(g: Any) -> Any:
        other_ops = [operands[j] for j in range(len(operands)) if j != i]
        ct = _einsum_p.bind(g, *other_ops, inputs=(output, *others), output=kept)
        if kept != term:  # indices summed within this operand alone: the gradient is constant along them
            ct = broadcast_to(reshape(ct, tuple(d if c in kept else 1 for c, d in zip(term, shape))), shape)
        return ct

    return vjp


def _einsum_jvp(tangents: list, ans: Any, *operands: Any, inputs: tuple, output: str) -> Any:
    from funcnn.numpy._elementwise import add

    out = None
    for i, t in enumerate(tangents):
        if t is not None:
            ops = list(operands)
            ops[i] = t
            term = _einsum_p.bind(*ops, inputs=inputs, output=output)
            out = term if out is None else add(out, term)
    return out


def _einsum_rule(*operands: ShapeDtype, inputs: tuple, output: str) -> ShapeDtype:
    sizes: dict[str, int] = {}
    for term, op in zip(inputs, operands):
        for c, d in zip(term, op.shape):
            if sizes.setdefault(c, d) != d and d != 1 and sizes[c] != 1:
                raise ValueError(f"einsum: index {c!r} has sizes {sizes[c]} and {d} in the operands")
            if sizes[c] == 1:
                sizes[c] = d
    return ShapeDtype(tuple(sizes[c] for c in output), np.result_type(*(op.dtype for op in operands)))


def _einsum_impl(*operands: Any, inputs: tuple, output: str) -> Any:
    return np.einsum(",".join(inputs) + "->" + output, *operands, optimize=len(operands) > 1)


_einsum_p = Primitive("einsum", _einsum_impl)
def_abstract_eval(_einsum_p, _einsum_rule)
def_vjp_argnum(_einsum_p, _einsum_vjp)
def_jvp_joint(_einsum_p, _einsum_jvp)


def _einsum_batch(size: int, operands: Sequence[Any], dims: tuple, inputs: tuple, output: str) -> tuple[Any, int]:
    """A new index letter for the batch, first in the batched operands and in the output."""
    letter = next(c for c in string.ascii_letters if c not in output and all(c not in t for t in inputs))
    moved = [x if d is None else to_front(x, d, size) for x, d in zip(operands, dims)]
    terms = tuple(t if d is None else letter + t for t, d in zip(inputs, dims))
    return _einsum_p.bind(*moved, inputs=terms, output=letter + output), 0


def_batch(_einsum_p, _einsum_batch)


def _einsum_step_sum(*avals: ShapeDtype, inputs: tuple, output: str) -> Callable[..., Any] | None:
    """The same contraction with one more index, the step, on every operand and summed away."""
    used = set(output).union(*inputs)
    letter = next((c for c in string.ascii_letters if c not in used), None)
    if letter is None:  # every letter taken: no index left for the steps
        return None

    def summed(*operands: Stacked) -> Any:
        return _einsum_p.bind(*(steps_moved(op, 0) for op in operands),
                              inputs=tuple(letter + t for t in inputs), output=output)
    return summed


def_step_sum(_einsum_p, _einsum_step_sum)


def einsum(subscripts: str, *operands: Any) -> Any:
    """Einstein summation (NumPy's ``einsum``, explicit or implicit output, ``...`` allowed).

    Derivatives exist for operands whose subscripts repeat no index.
    """
    operands = tuple(asarray(op) for op in operands)
    inputs, output = parse_einsum(subscripts, [shape_of(op) for op in operands])
    return _einsum_p.bind(*operands, inputs=tuple(inputs), output=output)
