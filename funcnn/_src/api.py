"""The public transforms: ``vjp``, ``grad``, ``value_and_grad``, ``jvp``, ``jacrev``, ``jacfwd``,
``hessian``. They translate between pytrees and the flat lists of values the traces work on."""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn._src import core, ops
from funcnn._src.core import Tracer, dtype_of, new_trace, shape_of
from funcnn._src.forward import ForwardTrace, JVPTracer
from funcnn._src.reverse import ReverseTrace, VJPTracer, backward_pass, coerce
from funcnn._src.vmap import vmap

ArgNums = int | Sequence[int]


# --- checking inputs ---------------------------------------------------------------------


def _as_input(leaf: Any, what: str, path: Any) -> Any:
    """A leaf fit to differentiate: an array (or tracer) of a floating dtype."""
    if not isinstance(leaf, Tracer):
        if not isinstance(leaf, (np.ndarray, np.generic, float, int, bool, complex)):
            raise TypeError(f"{what}: the leaf at {_where(path)} is a {type(leaf).__name__}, not an "
                            "array or number")
        leaf = np.asarray(leaf)
    if not np.issubdtype(dtype_of(leaf), np.floating):
        raise TypeError(f"{what}: can only differentiate with respect to float32/float64 values, but "
                        f"the input at {_where(path)} has dtype {dtype_of(leaf)} (cast it with "
                        ".astype(np.float32) or pass it as another argument)")
    if getattr(leaf, "weak_type", False):  # a Python number traced by make_graph: an array here, as eagerly
        leaf = ops.convert_element_type(leaf, dtype_of(leaf))
    return leaf


def _where(path: Any) -> str:
    return "the top level" if not path else tree_util.keystr(path)


def _flat_inputs(tree: Any, what: str) -> tuple[list, Any]:
    leaves, treedef = tree_util.tree_flatten(tree)
    if all(type(leaf) is np.ndarray and leaf.dtype.kind == "f" for leaf in leaves):
        return leaves, treedef  # the common case, checked without building key paths
    with_path, _ = tree_util.tree_flatten_with_path(tree)
    return [_as_input(leaf, what, path) for path, leaf in with_path], treedef


def _argnums(argnums: ArgNums, nargs: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise ValueError(f"{what}: argnums must name at least one argument")
    for n in nums:
        if not isinstance(n, (int, np.integer)) or not -nargs <= n < nargs:
            raise ValueError(f"{what}: argnums {argnums!r} is out of range for a call with {nargs} "
                             "positional argument(s)")
    return tuple(n % nargs for n in nums)


def _split_aux(out: Any, has_aux: bool, what: str) -> tuple[Any, Any]:
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError(f"{what} with has_aux=True: the function must return a pair (output, aux); "
                        f"it returned a {type(out).__name__}")
    return out[0], out[1]


def _lower(x: Any, trace: core.Trace) -> Any:
    """``x`` seen one level below ``trace``: its own tracers unwrapped, anything else as is."""
    return x.primal if isinstance(x, Tracer) and x._trace is trace else x


def _with_args(fun: Callable, args: tuple, kwargs: dict, nums: tuple[int, ...]) -> Callable:
    """``fun`` as a function of the arguments at ``nums`` only, the others fixed."""
    def partial(*dyn: Any) -> Any:
        full = list(args)
        for i, value in zip(nums, dyn):
            full[i] = value
        return fun(*full, **kwargs)
    return partial


# --- reverse mode ------------------------------------------------------------------------


def vjp(fun: Callable, *primals: Any, has_aux: bool = False) -> tuple:
    """Evaluate ``fun(*primals)`` and return ``(out, vjp_fn)`` (and ``aux`` with ``has_aux``).

    ``vjp_fn(cotangent)`` maps a cotangent shaped like ``out`` to a tuple of cotangents
    shaped like ``primals``.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> out, f_vjp = fn.vjp(fnp.sin, np.array([0.0, np.pi]))
    >>> f_vjp(np.array([1.0, 1.0]))
    (array([ 1., -1.]),)
    """
    flat, in_tree = _flat_inputs(primals, "vjp")
    with new_trace(ReverseTrace) as trace:
        tracers = [trace.new_input(x) for x in flat]
        out, aux = _split_aux(fun(*tree_util.tree_unflatten(in_tree, tracers)), has_aux, "vjp")
    out_flat, out_tree = tree_util.tree_flatten(out)
    nodes = [o.node if isinstance(o, VJPTracer) and o._trace is trace else None for o in out_flat]
    out_primals = [_lower(o, trace) for o in out_flat]
    leaves = [t.node for t in tracers]
    del tracers, out, out_flat

    def vjp_fn(cotangent: Any) -> tuple:
        cts = _flat_cotangents(cotangent, out_tree, out_primals)
        roots = [(node, ct) for node, ct in zip(nodes, cts) if node is not None]
        grads = backward_pass(roots, leaves) if roots else [None] * len(leaves)
        grads = [ops.zeros_like(x) if g is None else g if isinstance(g, Tracer) else np.asarray(g)
                 for g, x in zip(grads, flat)]
        return tree_util.tree_unflatten(in_tree, grads)

    result = tree_util.tree_unflatten(out_tree, out_primals)
    if has_aux:
        return result, vjp_fn, tree_util.tree_map(lambda x: _lower(x, trace), aux)
    return result, vjp_fn


def _flat_cotangents(cotangent: Any, out_tree: Any, out_primals: list) -> list:
    """The cotangent's leaves, checked against the output's structure, shapes and dtypes."""
    flat, tree = tree_util.tree_flatten(cotangent)
    if tree != out_tree:
        tree_util.check_same_structure(
            tree_util.tree_unflatten(out_tree, out_primals), cotangent, what="vjp: output and cotangent")
        raise ValueError(f"vjp: the cotangent's structure {tree} differs from the output's {out_tree}")
    cts = []
    for ct, primal in zip(flat, out_primals):
        if shape_of(ct) != shape_of(primal):
            raise ValueError(f"vjp: a cotangent of shape {shape_of(ct)} was given for an output of "
                             f"shape {shape_of(primal)}")
        cts.append(coerce(ct, shape_of(primal), dtype_of(primal)))
    return cts


def value_and_grad(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """A function returning ``(fun(*args), gradient)`` (``((value, aux), gradient)`` with ``has_aux``).

    The gradient has the structure of the argument(s) at ``argnums`` (a tuple when
    ``argnums`` is a tuple) and each leaf has its argument's dtype.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> value, g = fn.value_and_grad(lambda x: fnp.sum(x ** 2))(np.array([1.0, 2.0]))
    >>> float(value), g
    (5.0, array([2., 4.]))
    """
    @functools.wraps(fun)
    def value_and_grad_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        dyn = tuple(args[i] for i in nums)
        result = vjp(_with_args(fun, args, kwargs, nums), *dyn, has_aux=has_aux)
        out, vjp_fn = result[0], result[1]
        _check_scalar(out)
        grads = vjp_fn(np.ones((), dtype_of(out)))
        grads = grads[0] if isinstance(argnums, int) else grads
        return ((out, result[2]) if has_aux else out), grads
    return value_and_grad_fun


def _check_scalar(out: Any) -> None:
    if not isinstance(out, (np.ndarray, np.generic, float, Tracer)) or shape_of(out) != ():
        shape = shape_of(out) if isinstance(out, (np.ndarray, Tracer)) else type(out).__name__
        raise TypeError(f"grad requires a function with a scalar output, but it returned {shape}; "
                        "reduce it (e.g. fnp.sum or fnp.mean) or use jacrev/vjp for non-scalar outputs")
    if not np.issubdtype(dtype_of(out), np.floating):
        raise TypeError(f"grad requires a float output, but the function returned dtype {dtype_of(out)}")


def grad(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The gradient of a scalar-valued ``fun`` with respect to the argument(s) at ``argnums``.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> fn.grad(lambda x: fnp.sum(fnp.sin(x)))(np.array([0.0, np.pi]))
    array([ 1., -1.])
    """
    vg = value_and_grad(fun, argnums, has_aux)

    @functools.wraps(fun)
    def grad_fun(*args: Any, **kwargs: Any) -> Any:
        value, grads = vg(*args, **kwargs)
        return (grads, value[1]) if has_aux else grads
    return grad_fun


# --- forward mode ------------------------------------------------------------------------


def jvp(fun: Callable, primals: Sequence[Any], tangents: Sequence[Any], has_aux: bool = False) -> tuple:
    """Evaluate ``fun(*primals)`` and its directional derivative along ``tangents``.

    Returns ``(out, tangent_out)`` (and ``aux`` with ``has_aux``).

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> fn.jvp(fnp.sin, (np.array([0.0, np.pi]),), (np.array([1.0, 2.0]),))
    (array([0.0000000e+00, 1.2246468e-16]), array([ 1., -2.]))
    """
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise TypeError("jvp: primals and tangents must be tuples (one entry per positional argument)")
    flat, in_tree = _flat_inputs(tuple(primals), "jvp")
    flat_t = _flat_tangents(tuple(tangents), in_tree, flat, tuple(primals))
    with new_trace(ForwardTrace) as trace:
        tracers = [JVPTracer(trace, p, t) for p, t in zip(flat, flat_t)]
        out, aux = _split_aux(fun(*tree_util.tree_unflatten(in_tree, tracers)), has_aux, "jvp")
    out_flat, out_tree = tree_util.tree_flatten(out)
    primals_out, tangents_out = [], []
    for o in out_flat:
        mine = isinstance(o, JVPTracer) and o._trace is trace
        primals_out.append(o.primal if mine else o)
        tangents_out.append(o.tangent if mine else ops.zeros_like(o))
    result = (tree_util.tree_unflatten(out_tree, primals_out), tree_util.tree_unflatten(out_tree, tangents_out))
    if has_aux:
        return result + (tree_util.tree_map(lambda x: _lower(x, trace), aux),)
    return result


def _flat_tangents(tangents: tuple, in_tree: Any, flat: list, primals: tuple) -> list:
    tree_util.check_same_structure(primals, tangents, what="jvp: primals and tangents")
    out = []
    for t, p in zip(tree_util.tree_leaves(tangents), flat):
        if shape_of(t) != shape_of(p):
            raise ValueError(f"jvp: a tangent of shape {shape_of(t)} was given for a primal of shape {shape_of(p)}")
        out.append(coerce(t, shape_of(p), dtype_of(p)) if isinstance(t, Tracer) else
                   np.asarray(t, dtype=dtype_of(p)))
    return out


# --- Jacobians ---------------------------------------------------------------------------


def jacrev(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``fun`` by reverse mode: the backward pass ``vmap``-ed over the rows
    of the identity (one vectorized pass for all output elements).

    For an output of shape ``S`` and an input of shape ``T`` the block has shape ``S + T``;
    pytree outputs and inputs give nested blocks (output structure outside).

    >>> import numpy as np, funcnn as fn
    >>> fn.jacrev(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    @functools.wraps(fun)
    def jac_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        dyn = tuple(args[i] for i in nums)
        result = vjp(_with_args(fun, args, kwargs, nums), *dyn, has_aux=has_aux)
        out_flat, out_tree = tree_util.tree_flatten(result[0])
        in_flat = tree_util.tree_leaves(dyn)
        basis = _identity_rows(out_flat)
        if basis is None:  # no output elements: nothing to pull back
            rows = [np.zeros((0,) + shape_of(x), dtype_of(x)) for x in in_flat]
        else:
            rows = tree_util.tree_leaves(vmap(result[1])(tree_util.tree_unflatten(out_tree, basis)))
        per_output = [_split_rows(r, out_flat, 0) for r in rows]  # [input m][output k]
        blocks = [[ops.reshape(per_output[m][k], shape_of(o) + shape_of(x)) for m, x in enumerate(in_flat)]
                  for k, o in enumerate(out_flat)]
        jac = _assemble(blocks, out_tree, dyn, isinstance(argnums, int))
        return (jac, result[2]) if has_aux else jac
    return jac_fun


def _identity_rows(leaves: list) -> list | None:
    """The rows of the identity over all elements of ``leaves``: leaf ``k`` of shape ``S`` gets
    ``(n, *S)`` (``n`` elements in all), ones where row ``i`` is its own element. None if ``n`` is 0."""
    sizes = [int(np.size(x)) for x in leaves]
    n = sum(sizes)
    if n == 0:
        return None
    eye = np.eye(n)
    offsets = np.cumsum([0] + sizes)
    return [eye[:, offsets[k]:offsets[k + 1]].astype(dtype_of(x)).reshape((n,) + shape_of(x))
            for k, x in enumerate(leaves)]


def _split_rows(stacked: Any, leaves: list, axis: int) -> list:
    """``stacked`` cut along ``axis`` into one piece per leaf, by the leaves' sizes."""
    sizes = tuple(int(np.size(x)) for x in leaves)
    if len(sizes) == 1:
        return [stacked]
    return list(ops.split(stacked, sizes, axis % len(shape_of(stacked))))


def _assemble(blocks: list, out_tree: Any, dyn: tuple, single: bool) -> Any:
    """Nest Jacobian blocks: the output structure outside, the input structure inside."""
    in_tree = tree_util.tree_structure(dyn)
    inner = [tree_util.tree_unflatten(in_tree, row) for row in blocks]
    if single:
        inner = [row[0] for row in inner]
    return tree_util.tree_unflatten(out_tree, inner)


def jacfwd(fun: Callable, argnums: ArgNums = 0, has_aux: bool = False) -> Callable:
    """The Jacobian of ``fun`` by forward mode: ``jvp`` ``vmap``-ed over the columns of the
    identity (one vectorized pass for all input elements).

    Blocks are laid out as in :func:`jacrev`.

    >>> import numpy as np, funcnn as fn
    >>> fn.jacfwd(lambda x: x ** 2)(np.array([1.0, 3.0]))
    array([[2., 0.],
           [0., 6.]])
    """
    @functools.wraps(fun)
    def jac_fun(*args: Any, **kwargs: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        dyn = tuple(args[i] for i in nums)
        partial = _with_args(fun, args, kwargs, nums)
        in_flat, in_tree = tree_util.tree_flatten(dyn)
        basis = _identity_rows(in_flat)
        if basis is None:  # every input is empty: evaluate once for the output's shapes
            res = jvp(partial, dyn, tree_util.tree_map(ops.zeros_like, dyn), has_aux=has_aux)
            columns = [ops.reshape(t, shape_of(t) + (0,)) for t in tree_util.tree_leaves(res[1])]
        else:
            along = vmap(lambda t: jvp(partial, dyn, t, has_aux=has_aux), out_axes=(None, -1, None)[:2 + has_aux])
            res = along(tree_util.tree_unflatten(in_tree, basis))
            columns = tree_util.tree_leaves(res[1])
        out, aux = res[0], (res[2] if has_aux else None)
        out_flat, out_tree = tree_util.tree_flatten(out)
        blocks = [[ops.reshape(piece, shape_of(o) + shape_of(x))
                   for piece, x in zip(_split_rows(c, in_flat, -1), in_flat)] for c, o in zip(columns, out_flat)]
        jac = _assemble(blocks, out_tree, dyn, isinstance(argnums, int))
        return (jac, aux) if has_aux else jac
    return jac_fun


def hessian(fun: Callable, argnums: ArgNums = 0) -> Callable:
    """The Hessian of a scalar ``fun``: ``jacfwd(jacrev(fun))``, of shape ``T + T`` for input shape ``T``.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> fn.hessian(lambda x: fnp.sum(x ** 3))(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
    """
    return jacfwd(jacrev(fun, argnums), argnums)


def stop_gradient(x: Any) -> Any:
    """``x`` (any pytree) unchanged, but no derivative flows through it.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> fn.grad(lambda x: x * fn.stop_gradient(x))(3.0)
    array(3.)
    """
    return tree_util.tree_map(ops.stop_gradient, x)
