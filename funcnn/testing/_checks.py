"""Gradient checks against central finite differences computed in float64.

Reverse mode is checked through the inner-product identity ``<v, J u> == <J^T v, u>``
for random directions ``u`` and ``v``: the left side by finite differences, the right
by ``vjp``. Forward mode compares ``jvp`` with the finite difference along ``u``.
Order ``k`` checks the derivative functions of order ``k - 1`` in turn, in the requested modes.
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
    numeric = numerical_jvp(f, args, u, eps)
    lhs = _inner(v, numeric)
    rhs = _inner(cts, u)
    scale = _inner(cts, u, absolute=True) + _inner(v, numeric, absolute=True)
    atol, rtol = _tols(args, atol, rtol)
    tolerance = atol + rtol * scale
    if not abs(lhs - rhs) <= tolerance:
        raise AssertionError(f"reverse mode (vjp) disagrees with finite differences: <v, J u> = {lhs!r} by "
                             f"finite differences but <vjp(v), u> = {rhs!r}: error {abs(lhs - rhs):.3g} > tolerance "
                             f"{tolerance:.3g} (atol={atol}, rtol={rtol})")


def check_grads(f: Callable, args: Sequence[Any], order: int = 2, modes: Sequence[str] = ("fwd", "rev"), *,
                eps: float = 1e-6, atol: float | None = None, rtol: float | None = None, seed: int = 0) -> None:
    """Check ``f``'s derivatives to ``order`` in the given ``modes`` against finite differences.

    Order 1 checks ``f``'s JVP (mode ``"fwd"``) and VJP (mode ``"rev"``). Order ``k`` checks,
    in each requested mode, the derivative functions of order ``k - 1`` built in the requested
    modes, as JAX's ``check_grads`` does: with ``modes=("rev",)`` and ``order=2`` it checks the
    VJP of the function ``x -> vjp(f, x)(v)`` (for a random ``v``), reverse over reverse, and
    never calls a JVP. A derivative function takes a fixed random direction (``u`` for a JVP,
    ``v`` for a VJP) and differentiates in ``args`` only.

    Parameters
    ----------
    f : callable
        The function, of positional arguments.
    args : tuple
        Its arguments, pytrees of float arrays.
    order : int, default 2
        The highest order of derivative to check (1 or more).
    modes : sequence of {"fwd", "rev"}, default ("fwd", "rev")
        The modes in which to differentiate at every order (a single string is one mode).
    eps : float, default 1e-6
        The step of the central finite differences, which are computed in float64.
    atol, rtol : float, optional
        Tolerances; by default 1e-6 and 1e-5, or 2e-3 and 2e-3 when an input is float32.
    seed : int, default 0
        Seeds the random directions.

    Raises
    ------
    AssertionError
        Naming the order and mode that failed, the derivative function checked (such as
        "the VJP of the VJP of f"), the error and the tolerance.

    Examples
    --------
    >>> import numpy as np, funcnn.numpy as fnp
    >>> check_grads(lambda x: fnp.sin(x) * x, (np.array([0.5, 1.5]),), order=2)
    >>> check_grads(lambda x: fnp.sin(x) * x, (np.array([0.5, 1.5]),), order=3, modes="rev")
    """
    modes = _check_modes(modes)
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ValueError(f"check_grads: order must be a positive int; got {order!r}")
    args = tuple(args)
    rng = np.random.default_rng(seed)
    level: list[tuple[Callable, tuple[str, ...]]] = [(f, ())]  # the functions order k differentiates
    for k in range(1, order + 1):
        deeper = []
        for g, chain in level:
            for mode in modes:
                settings = {"eps": eps, "atol": atol, "rtol": rtol, "seed": int(rng.integers(2 ** 31))}
                _check_at(g, args, k, chain + (mode,), settings)
                if k < order:
                    deeper.append((_derivative(g, args, mode, rng), chain + (mode,)))
        level = deeper


_MODE_NAMES = {"fwd": "JVP", "rev": "VJP"}


def _check_modes(modes: Sequence[str]) -> tuple[str, ...]:
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    for mode in modes:
        if mode not in _MODE_NAMES:
            raise ValueError(f"check_grads: modes must be 'fwd' and/or 'rev', not {mode!r}")
    if not modes:
        raise ValueError("check_grads: modes is empty; pass 'fwd', 'rev' or both")
    return tuple(dict.fromkeys(modes))


def _check_at(g: Callable, args: tuple, order: int, chain: tuple[str, ...], settings: dict) -> None:
    """Check ``g``'s derivative in mode ``chain[-1]``, saying which one failed."""
    check = check_jvp if chain[-1] == "fwd" else check_vjp
    try:
        check(g, args, **settings)
    except AssertionError as err:
        what = " of the ".join(_MODE_NAMES[m] for m in reversed(chain))
        raise AssertionError(f"check_grads: order {order} in mode {chain[-1]!r} failed (checking the {what} "
                             f"of f): {err}") from err


def _derivative(g: Callable, args: tuple, mode: str, rng: np.random.Generator) -> Callable:
    """``g``'s JVP along a fixed random ``u``, or its VJP of a fixed random ``v``, as a function
    of the same arguments."""
    if mode == "fwd":
        u = _random_like(args, rng)
        return lambda *a: jvp(g, a, _cast_like(u, a))[1]
    v = _random_like(g(*args), rng)

    def pulled_back(*a: Any) -> Any:
        out, pullback = vjp(g, *a)
        return pullback(_cast_like(v, out))
    return pulled_back


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
