"""Gradient checks against central finite differences computed in float64.

Reverse mode is checked through the inner-product identity ``<v, J u> == <J^T v, u>``
for random directions ``u`` and ``v``: the left side by finite differences, the right
by ``vjp``. Forward mode compares ``jvp`` with the finite difference along ``u``.
Order ``n`` checks the derivative functions themselves, recursively.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn import jvp, vjp
from funcnn.extend import concrete, dtype_of

_DEFAULT_TOLS = {np.dtype(np.float32): (2e-3, 2e-3), np.dtype(np.float64): (1e-6, 1e-5)}


def numerical_jvp(f: Callable, args: Sequence[Any], tangents: Sequence[Any], eps: float = 1e-6) -> Any:
    """Central finite difference of ``f`` at ``args`` along ``tangents``, in float64.

    >>> import numpy as np
    >>> float(numerical_jvp(lambda x: x ** 2, (np.array(3.0),), (np.array(1.0),)))  # doctest: +ELLIPSIS
    6.0000...
    """
    args64 = _to64(args)
    tangents64 = _to64(tangents)
    plus = f(*tree_util.tree_map(lambda x, t: x + eps * t, args64, tangents64))
    minus = f(*tree_util.tree_map(lambda x, t: x - eps * t, args64, tangents64))
    return tree_util.tree_map(lambda p, m: (_f64(p) - _f64(m)) / (2 * eps), plus, minus)


def numerical_grad(f: Callable, args: Sequence[Any], argnum: int = 0, eps: float = 1e-6) -> Any:
    """The gradient of scalar ``f`` with respect to ``args[argnum]`` by central differences.

    One pair of evaluations per element: meant for small inputs.

    >>> import numpy as np
    >>> numerical_grad(lambda x: np.sum(x ** 2), (np.array([1.0, 2.0]),)).round(6)
    array([2., 4.])
    """
    args64 = list(_to64(args))
    leaves, treedef = tree_util.tree_flatten(args64[argnum])
    grads = []
    for m, leaf in enumerate(leaves):
        g = np.zeros(leaf.shape)
        for j in range(leaf.size):
            basis = [np.zeros_like(x) for x in leaves]
            basis[m].reshape(-1)[j] = 1.0
            tangents = [tree_util.tree_map(np.zeros_like, a) for a in args64]
            tangents[argnum] = tree_util.tree_unflatten(treedef, basis)
            g.reshape(-1)[j] = numerical_jvp(f, args64, tangents, eps)
        grads.append(g)
    return tree_util.tree_unflatten(treedef, grads)


def check_jvp(f: Callable, args: Sequence[Any], *, eps: float = 1e-6, atol: float | None = None,
              rtol: float | None = None, seed: int = 0) -> None:
    """Assert that ``jvp(f)`` agrees with finite differences along a random direction."""
    rng = np.random.default_rng(seed)
    tangents = _random_like(args, rng)
    _, analytic = jvp(f, tuple(args), tuple(tangents))
    numeric = numerical_jvp(f, args, tangents, eps)
    atol, rtol = _tols(args, atol, rtol)
    assert_trees_allclose(analytic, numeric, atol=atol, rtol=rtol, what="forward mode (jvp) vs finite differences")


def check_vjp(f: Callable, args: Sequence[Any], *, eps: float = 1e-6, atol: float | None = None,
              rtol: float | None = None, seed: int = 0) -> None:
    """Assert ``<v, J u> == <vjp(v), u>`` for random ``u``, ``v``, the left side by finite differences."""
    rng = np.random.default_rng(seed)
    out, vjp_fn = vjp(f, *args)
    v = _random_like(out, rng)
    u = _random_like(args, rng)
    cts = vjp_fn(v)
    lhs = _inner(v, numerical_jvp(f, args, u, eps))
    rhs = _inner(cts, u)
    scale = _inner(cts, u, absolute=True) + _inner(v, numerical_jvp(f, args, u, eps), absolute=True)
    atol, rtol = _tols(args, atol, rtol)
    if not abs(lhs - rhs) <= atol + rtol * scale:
        raise AssertionError(f"reverse mode (vjp) disagrees with finite differences: <v, J u> = {lhs!r} by "
                             f"finite differences but <vjp(v), u> = {rhs!r} (atol={atol}, rtol={rtol})")


def check_grads(f: Callable, args: Sequence[Any], order: int = 2, modes: Sequence[str] = ("fwd", "rev"), *,
                eps: float = 1e-6, atol: float | None = None, rtol: float | None = None, seed: int = 0) -> None:
    """Check ``f``'s derivatives to ``order`` in the given ``modes`` against finite differences.

    ``args`` is a tuple of positional arguments (pytrees of float arrays). Tolerances default
    by dtype (looser for float32). Raises ``AssertionError`` saying which check failed.

    >>> import numpy as np, funcnn.numpy as fnp
    >>> check_grads(lambda x: fnp.sin(x) * x, (np.array([0.5, 1.5]),), order=2)
    """
    for mode in modes:
        if mode not in ("fwd", "rev"):
            raise ValueError(f"check_grads: modes must be 'fwd' and/or 'rev', not {mode!r}")
    args = tuple(args)
    if "fwd" in modes:
        check_jvp(f, args, eps=eps, atol=atol, rtol=rtol, seed=seed)
    if "rev" in modes:
        check_vjp(f, args, eps=eps, atol=atol, rtol=rtol, seed=seed)
    if order > 1:
        rng = np.random.default_rng(seed + 1)
        if "fwd" in modes:
            u = _random_like(args, rng)
            check_grads(lambda *a: jvp(f, a, _cast_like(u, a))[1], args, order - 1, ("fwd", "rev"),
                        eps=eps, atol=atol, rtol=rtol, seed=seed + 2)
        if "rev" in modes:
            v = _random_like(f(*args), rng)
            check_grads(lambda *a: vjp(f, *a)[1](_cast_like(v, f(*a))), args, order - 1, ("fwd", "rev"),
                        eps=eps, atol=atol, rtol=rtol, seed=seed + 3)


def assert_trees_allclose(actual: Any, expected: Any, *, atol: float = 1e-6, rtol: float = 1e-6,
                          what: str = "trees") -> None:
    """Assert two pytrees have the same structure and close leaves, naming the first bad key path.

    >>> import numpy as np
    >>> assert_trees_allclose({"w": np.ones(2)}, {"w": np.ones(2) + 1e-9})
    """
    tree_util.check_same_structure(actual, expected, what=what)
    for (path, a), b in zip(tree_util.tree_flatten_with_path(actual)[0], tree_util.tree_leaves(expected)):
        a64, b64 = _f64(a), _f64(b)
        if a64.shape != b64.shape:
            raise AssertionError(f"{what}: shapes differ at {tree_util.keystr(path)}: {a64.shape} vs {b64.shape}")
        if not np.allclose(a64, b64, atol=atol, rtol=rtol, equal_nan=True):
            err = np.max(np.abs(a64 - b64))
            raise AssertionError(f"{what}: values differ at {tree_util.keystr(path) or 'the top level'} "
                                 f"(max abs difference {err:.3g}, atol={atol}, rtol={rtol}):\n{a64}\nvs\n{b64}")


def _tols(args: Any, atol: float | None, rtol: float | None) -> tuple[float, float]:
    dtypes = [dtype_of(x) for x in tree_util.tree_leaves(args)]
    loosest = np.dtype(np.float32) if np.dtype(np.float32) in dtypes else np.dtype(np.float64)
    default_atol, default_rtol = _DEFAULT_TOLS[loosest]
    return (default_atol if atol is None else atol), (default_rtol if rtol is None else rtol)


def _f64(x: Any) -> np.ndarray:
    return np.asarray(concrete(x), dtype=np.float64)


def _to64(tree: Any) -> Any:
    return tree_util.tree_map(_f64, tuple(tree) if isinstance(tree, list) else tree)


def _random_like(tree: Any, rng: np.random.Generator) -> Any:
    return tree_util.tree_map(lambda x: rng.standard_normal(np.shape(x)).astype(dtype_of(x)), tree)


def _cast_like(direction: Any, like: Any) -> Any:
    return tree_util.tree_map(lambda d, x: np.asarray(d, dtype=dtype_of(x)), direction, like)


def _inner(a: Any, b: Any, absolute: bool = False) -> float:
    pairs = zip(tree_util.tree_leaves(a), tree_util.tree_leaves(b))
    fn = (lambda x, y: np.abs(_f64(x) * _f64(y))) if absolute else (lambda x, y: _f64(x) * _f64(y))
    return float(sum(np.sum(fn(x, y)) for x, y in pairs))
