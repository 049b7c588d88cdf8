"""``jit``: trace a function once per signature, optimize its graph, and replay a plan fast.

The first call with a new *signature* (pytree structure, each leaf's shape, dtype and
weak type, the static arguments' values) traces the function with ``make_graph``, runs
the graph passes (``passes.py``) and turns the graph into a :class:`Plan`: a flat list of
instructions over numbered slots, each the primitive's NumPy implementation, its input
slots, its params, its output slots and the slots that die after it. A replay is a tight
loop over that list: no tracer checks, no ``bind``, no rule lookups, and every value is
dropped as soon as nothing later needs it.

Called on traced values (``grad(jit(f))``, ``jvp``, ``jit`` inside ``jit`` or inside
``make_graph``), a jitted function replays its optimized graph through ``bind`` instead,
so the enclosing transform sees, and differentiates, every primitive.
"""
from __future__ import annotations

import functools
import logging
from typing import Any, Callable, Sequence

import numpy as np

from funcnn import tree_util
from funcnn._src.abstract import ShapeDtype, aval_of
from funcnn._src.config import config
from funcnn._src.core import Tracer
from funcnn._src.graph import Graph, Var, trace_to_graph
from funcnn._src.passes import optimize

logger = logging.getLogger("funcnn.jit")

_PYTHON_SCALARS = (bool, int, float, complex)


class Plan:
    """A graph compiled for replay: straight-line Python calling each primitive's NumPy
    implementation, generated once per signature.

    Every value is a local variable ``v<n>``: the arguments first, then constants (bound as
    default arguments, so they are locals too), then each equation's outputs; a value is
    deleted right after its last use. ``str(plan)`` is the generated source. Locals, direct
    calls and explicit keyword params make a replayed equation cost a NumPy call and little
    more.

    **Buffer reuse.** An elementwise ufunc whose operand dies at that equation writes its
    result into that operand's buffer (``out=``) when the buffer is the plan's own (made by
    a ufunc or ``matmul``, so nothing else views it) and has the result's shape and dtype:
    chains of elementwise ops then run in one buffer. Donated arguments (``donated``, flat
    indices) are the plan's own too, so an optimizer update can land in the parameters'
    buffers. The buffer must also be laid out as NumPy would lay out a new result (C order,
    known statically: ``matmul`` returns C order, and so does a ufunc whose full-size
    operands are in C order), because a later reduction or product over a differently laid
    out array may add in another order, and the result must stay bit for bit the eager one.
    """

    def __init__(self, graph: Graph, donated: Sequence[int] = (), c_inputs: Sequence[int] = (),
                 into: Sequence[int] = ()) -> None:
        self.graph = graph
        self.n_inputs = len(graph.in_vars)
        self.donated = tuple(donated)
        self.into = tuple(into)
        self.names: dict[Any, str] = {v: f"v{i}" for i, v in enumerate(graph.in_vars)}
        self.bound: dict[str, Any] = {}  # the generated function's default arguments: constants and impls
        for value, var in zip(graph.const_values, graph.const_vars):
            self._constant(var, value, "c")
        lines: list[str] = []
        c_order = _c_ordered(graph, [graph.in_vars[i] for i in set(self.donated) | set(c_inputs)])
        owned = _owned_buffers(graph, [graph.in_vars[i] for i in self.donated]) & c_order
        dead = _last_uses(graph, [graph.in_vars[i] for i in self.donated])
        written = _written_into(graph, self.into)
        self.reused = 0
        made = 0
        for k, eq in enumerate(graph.equations):
            args = [self._operand(x) for x in eq.inputs]
            args += [f"{name}={self._param(value)}" for name, value in eq.params.items()]
            reuse = None if eq.outputs[0] in written else _reusable(eq, owned, dead[k], c_order)
            if eq.outputs[0] in written:
                args.append(f"out={written[eq.outputs[0]]}")  # straight into the caller's array
            elif reuse is not None:
                args.append(f"out={self.names[reuse]}")  # the result then holds that buffer
                self.reused += 1
            outs = [f"t{made + j}" for j in range(len(eq.outputs))]
            made += len(outs)
            self.names.update(zip(eq.outputs, outs))
            impl = self._impl(eq.prim)
            target = ", ".join(outs) + ("," if eq.prim.multiple_results and len(outs) == 1 else "")
            lines.append(f"    {target} = {impl}({', '.join(args)})")
            if dead[k]:
                lines.append(f"    del {', '.join(self.names[v] for v in dead[k])}")
        self.outputs = [self._operand(x) for x in graph.outputs]
        lines += [f"    o{i}[...] = {self.outputs[i]}" for i in self.into if graph.outputs[i] not in written]
        self.copies = {i for i, name in enumerate(self.outputs) if isinstance(self.bound.get(name), np.ndarray)}
        header = ", ".join([f"v{i}" for i in range(self.n_inputs)] + [f"o{i}" for i in self.into] +
                           [f"{n}={n}" for n in self.bound])
        body = lines + [f"    return [{', '.join(self.outputs)}]"]
        self.source = f"def replay({header}):\n" + "\n".join(body) + "\n"
        namespace: dict[str, Any] = dict(self.bound)
        exec(compile(self.source, f"<jit {graph.name}>", "exec"), namespace)  # noqa: S102
        self.replay: Callable[..., list] = namespace["replay"]

    def _constant(self, key: Any, value: Any, prefix: str) -> str:
        if key not in self.names:
            name = f"{prefix}{len(self.bound)}"
            self.names[key] = name
            self.bound[name] = value
        return self.names[key]

    def _operand(self, x: Any) -> str:
        if type(x) is Var:
            return self.names[x]
        if type(x.value) in (int, float, bool) and np.isfinite(x.value):
            return repr(x.value)  # a Python number, weakly typed, written in place
        return self._constant(x, x.value, "c")

    def _param(self, value: Any) -> str:
        return repr(value) if _is_literal(value) else self._constant(("param", id(value)), value, "p")

    def _impl(self, prim: Any) -> str:
        key = ("impl", prim)
        if key not in self.names:
            name = "".join(c if c.isalnum() else "_" for c in prim.name)
            while name in self.bound or name.startswith(("v", "t", "c", "p")) and name[1:].isdigit():
                name += "_"
            self.names[key] = name
            self.bound[name] = prim.impl
        return self.names[key]

    def run(self, flat_args: Sequence[Any], into: Sequence[Any] = ()) -> list[Any]:
        """Replay on plain values; an error is reproduced through ``bind`` to name its primitive.
        ``into``: for a plan made with ``into``, the arrays those outputs are written into."""
        if self.donated:
            flat_args = _writable_donations(list(flat_args), self.donated)
        try:
            out = self.replay(*flat_args, *into)
        except (ValueError, IndexError, TypeError):
            self.graph.eval_flat(flat_args)
            raise
        for i in self.copies:  # never hand out the plan's own constant: the caller may write to it
            out[i] = out[i].copy()
        return out

    def __str__(self) -> str:
        return self.source


def _written_into(graph: Graph, into: Sequence[int]) -> dict[Var, str]:
    """The outputs at ``into`` that their equation can write straight into the caller's array
    ``o<index>`` (a ufunc, or a primitive that ``takes_out``); the others are copied there. An
    output listed twice is copied, so that no other output shares the caller's array."""
    written: dict[Var, str] = {}
    for i in into:
        x = graph.outputs[i]
        if type(x) is Var and graph.outputs.count(x) == 1 and x not in graph.in_vars:
            eq = next((eq for eq in graph.equations if x in eq.outputs), None)
            if eq is not None and len(eq.outputs) == 1 and (eq.prim.takes_out or (
                    isinstance(eq.prim.impl, np.ufunc) and eq.prim.impl.nout == 1 and not eq.params)):
                written[x] = f"o{i}"
    return written


def _writable_donations(flat: list, donated: Sequence[int]) -> list:
    """Donated arrays the plan may write into: a read-only one, one not in C order, or one
    sharing memory with another argument, is copied first (so no other argument changes
    under the caller)."""
    roots: dict[int, int] = {}  # the buffer each array views -> how many arguments view it
    for y in flat:
        if isinstance(y, np.ndarray):
            roots[id(_root(y))] = roots.get(id(_root(y)), 0) + 1
    for i in donated:
        x = flat[i]
        if not isinstance(x, np.ndarray) or not x.flags.writeable or not x.flags.c_contiguous or \
                roots[id(_root(x))] > 1:
            flat[i] = np.array(x, order="C")
    return flat


def _root(x: np.ndarray) -> Any:
    """The object that owns ``x``'s memory: arrays with different roots cannot overlap."""
    while isinstance(x.base, np.ndarray):
        x = x.base
    return x if x.base is None else x.base


def _fresh(eq: Any) -> bool:
    """Whether the primitive returns new arrays that view nothing (a ufunc, ``matmul``)."""
    return isinstance(eq.prim.impl, np.ufunc) or eq.prim.fresh


def _owned_buffers(graph: Graph, donated: Sequence[Var]) -> set[Var]:
    """The values whose buffers the plan may overwrite once they are dead: made fresh (or
    donated) and never handed to an operation that might return a view of them."""
    owned = set(donated) | {v for eq in graph.equations if _fresh(eq) for v in eq.outputs}
    for eq in graph.equations:
        if not _fresh(eq):
            owned.difference_update(eq.inputs)  # reshape, transpose, getitem, ... may view their input
    owned.difference_update(x for x in graph.outputs if type(x) is Var)
    return owned


def _c_ordered(graph: Graph, inputs: Sequence[Var]) -> set[Var]:
    """The values known, before any data exists, to be C-contiguous arrays: the ``inputs``
    said to be (the signature records each argument's layout; donated ones are made so at
    the call), ``matmul``'s results, and the results of ufuncs whose operands of the
    result's full shape are all known to be (NumPy lays a new result out like those)."""
    known = set(inputs)
    for eq in graph.equations:
        if eq.prim.fresh:
            known.update(eq.outputs)
        elif isinstance(eq.prim.impl, np.ufunc) and eq.prim.impl.nout == 1 and not eq.params:
            shape = eq.outputs[0].aval.shape
            full = [x for x in eq.inputs if type(x) is Var and x.aval.shape == shape]
            if shape and full and all(x in known for x in full) and all(
                    type(x) is Var or not np.ndim(x.value) for x in eq.inputs):  # type: ignore[union-attr]
                known.update(eq.outputs)
    return known


# Ufuncs whose every result is correctly rounded (or exact): the same bits whatever loop NumPy
# picks. Transcendental ones (exp, log, tanh, power, ...) have vectorized loops that NumPy may
# not use when the output overlaps an input, and those can differ in the last bit.
_EXACT_UFUNCS = frozenset([
    np.add, np.subtract, np.multiply, np.divide, np.negative, np.positive, np.absolute, np.square, np.sqrt,
    np.reciprocal, np.maximum, np.minimum, np.floor, np.ceil, np.rint, np.trunc, np.sign,
])


def _reusable(eq: Any, owned: set[Var], dying: list[Var], c_order: set[Var]) -> Var | None:
    """An operand of this ufunc equation whose buffer can take its result, if any: owned,
    dying here, in C order like the new result NumPy would make, of its shape and dtype."""
    if eq.prim.impl not in _EXACT_UFUNCS or eq.params:
        return None
    if eq.outputs[0] not in c_order:  # NumPy might lay the result out otherwise
        return None
    out = eq.outputs[0].aval
    if not out.shape:  # a ufunc on 0-d arrays returns a NumPy scalar, which holds no buffer to reuse
        return None
    for x in eq.inputs:
        if type(x) is Var and x in owned and x in dying and x.aval.shape == out.shape and x.aval.dtype == out.dtype:
            return x
    return None


def _is_literal(value: Any) -> bool:
    """Whether ``repr(value)`` is Python source that rebuilds it exactly (ints, strings, tuples...)."""
    if value is None or type(value) in (bool, int, str):
        return True
    if type(value) is tuple:
        return all(_is_literal(v) for v in value)
    return False


def _last_uses(graph: Graph, donated: Sequence[Var] = ()) -> list[list[Var]]:
    """For each equation, the values made by equations (or donated) that nothing later reads
    (made there, if nothing reads them at all); graph outputs are never dropped."""
    keep = {x for x in graph.outputs if type(x) is Var}
    made = {v for eq in graph.equations for v in eq.outputs} | set(donated)
    seen: set[Var] = set(keep)
    dead: list[list[Var]] = []
    for eq in reversed(graph.equations):
        here = []
        for x in list(eq.inputs) + list(eq.outputs):
            if type(x) is Var and x in made and x not in seen:
                seen.add(x)
                here.append(x)
        dead.append(here)
    return dead[::-1]


# --- signatures and the cache --------------------------------------------------------------------


def _leaf_signature(leaf: Any) -> Any:
    """Shape, dtype, weak type and whether the array is in C order (the plan's buffer reuse
    depends on layouts, so a new layout compiles a plan of its own)."""
    if type(leaf) in _PYTHON_SCALARS:
        return (type(leaf).__name__,)
    if type(leaf) is np.ndarray:
        return leaf.shape, leaf.dtype.str, False, leaf.flags.c_contiguous
    aval = aval_of(leaf)
    return aval.shape, aval.dtype.str, aval.weak_type, False


class Jitted:
    """A function compiled per signature. Call it like the function; ``cache_size()`` says how
    many signatures are compiled, ``lower(*args)`` gives the :class:`Plan` for those arguments."""

    __name__: str

    def __init__(self, fun: Callable, static_argnums: tuple[int, ...], static_argnames: tuple[str, ...],
                 donate_argnums: tuple[int, ...]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.static_argnums = static_argnums
        self.static_argnames = static_argnames
        self.donate_argnums = donate_argnums
        self._cache: dict[Any, Graph] = {}  # signature -> optimized graph: one trace each
        self._plans: dict[Any, Plan] = {}  # signature and argument layouts -> plan

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key, flat, dyn_kwargs, statics = self._signature(args, kwargs)
        graph = self._graph(key, args, dyn_kwargs, statics)
        if any(isinstance(x, Tracer) for x in flat) or config.debug_nans or _closes_over_tracers(graph):
            out = graph.eval_flat(flat)  # through bind: transforms see every primitive
        else:
            out = self._plan(key, graph, args, flat).run(flat)
        return tree_util.tree_unflatten(graph.out_tree, out)

    def lower(self, *args: Any, **kwargs: Any) -> Plan:
        """The compiled plan for arguments like these (``str`` of it is its source)."""
        key, flat, dyn_kwargs, statics = self._signature(args, kwargs)
        return self._plan(key, self._graph(key, args, dyn_kwargs, statics), args, flat)

    def cache_size(self) -> int:
        """How many signatures have been traced (and are cached)."""
        return len(self._cache)

    def clear_cache(self) -> None:
        self._cache.clear()
        self._plans.clear()

    def _signature(self, args: tuple, kwargs: dict) -> tuple[Any, list, dict, tuple]:
        """The cache key, the dynamic leaves, the dynamic keyword arguments and the static values."""
        name = self.__name__
        for i in self.static_argnums:
            if i >= len(args):
                raise ValueError(f"jit({name}): static_argnums names argument {i}, but the call has {len(args)} "
                                 "positional argument(s)")
        statics = tuple(args[i] for i in self.static_argnums) + tuple(
            (k, kwargs[k]) for k in self.static_argnames if k in kwargs)
        try:
            hash(statics)
        except TypeError:
            bad = next(repr(s) for s in statics if not _hashable(s))
            raise TypeError(f"jit({name}): static arguments must be hashable (they key the cache), but {bad} is "
                            "not; pass it as a dynamic argument, or make it a tuple") from None
        dyn_kwargs = {k: v for k, v in kwargs.items() if k not in self.static_argnames}
        dyn = tuple(a for i, a in enumerate(args) if i not in self.static_argnums)
        flat, tree = tree_util.tree_flatten((dyn, dyn_kwargs))
        key = (tree, tuple(_leaf_signature(x) for x in flat), statics)
        return key, flat, dyn_kwargs, statics

    def _graph(self, key: Any, args: tuple, dyn_kwargs: dict, statics: tuple) -> Graph:
        """The optimized graph for this signature, traced on its first call."""
        tree, leaves, _ = key
        graph_key = (tree, tuple(leaf[:3] for leaf in leaves), statics)  # layouts do not change the graph
        graph = self._cache.get(graph_key)
        if graph is not None:
            return graph
        if config.log_compiles:
            logger.warning("jit: tracing %s for a new signature: %s", self.__name__, self._reason(graph_key))
        static_kwargs = {k: v for k, v in statics[len(self.static_argnums):]}
        fun = functools.partial(self.fun, **static_kwargs) if static_kwargs else self.fun
        traced = trace_to_graph(fun, args, dyn_kwargs, self.static_argnums)
        traced.const_values = [_snapshot(c) for c in traced.const_values]
        graph = optimize(traced)
        graph.name = self.__name__
        if not _closes_over_tracers(graph):  # a graph holding another transform's values serves this call only
            self._cache[graph_key] = graph
        return graph

    def _plan(self, key: Any, graph: Graph, args: tuple, flat: list) -> Plan:
        """The plan for this signature and these argument layouts, generated on first use."""
        plan = self._plans.get(key)
        if plan is None:
            c_inputs = [i for i, leaf in enumerate(key[1]) if len(leaf) == 4 and leaf[3]]
            plan = Plan(graph, self._donated_leaves(args, flat), c_inputs)
            if not _closes_over_tracers(graph):
                self._plans[key] = plan
        return plan

    def _donated_leaves(self, args: tuple, flat: list) -> list[int]:
        """The flat indices of the array leaves of the donated arguments."""
        if not self.donate_argnums:
            return []
        dyn = [i for i in range(len(args)) if i not in self.static_argnums]
        start, leaves = 0, []
        for i in dyn:
            count = len(tree_util.tree_leaves(args[i]))
            if i in self.donate_argnums:
                leaves += [j for j in range(start, start + count) if isinstance(flat[j], np.ndarray)]
            start += count
        return leaves

    def _reason(self, key: Any) -> str:
        """Why this call traces: the first call, or what differs from the closest cached signature."""
        if not self._cache:
            return "first call"
        tree, leaves, statics = key
        for old_tree, old_leaves, old_statics in self._cache:
            if old_tree != tree:
                continue
            if old_statics != statics:
                return f"static arguments {statics!r} (cached: {old_statics!r})"
            diffs = [f"leaf {i}: {_describe(a)} (cached {_describe(b)})"
                     for i, (a, b) in enumerate(zip(leaves, old_leaves)) if a != b]
            return "; ".join(diffs[:3])
        return f"a new argument structure {tree}"


def _snapshot(value: Any) -> Any:
    """A closed-over array as it is when traced (as in JAX): constant folding computes with
    these values, so later changes to the caller's array must not half-reach the plan."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value = value.copy(order="K")  # keep the layout: a transposed view stays F-ordered, as BLAS saw it eagerly
        value.flags.writeable = False
    return value


def _closes_over_tracers(graph: Graph) -> bool:
    return any(isinstance(c, Tracer) for c in graph.const_values)


def _describe(signature: Any) -> str:
    if len(signature) == 1:
        return f"a Python {signature[0]}"
    shape, dtype, weak = signature[:3]
    return ShapeDtype(shape, np.dtype(dtype), weak).short() + (" (weak)" if weak else "")


def _hashable(x: Any) -> bool:
    try:
        hash(x)
    except TypeError:
        return False
    return True


def _argnums(value: int | Sequence[int] | None, name: str) -> tuple[int, ...]:
    if value is None:
        return ()
    nums = (value,) if isinstance(value, int) else tuple(value)
    for n in nums:
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"jit: {name} must be non-negative ints; got {value!r}")
    return tuple(sorted(set(nums)))


def jit(fun: Callable, static_argnums: int | Sequence[int] | None = None,
        static_argnames: str | Sequence[str] | None = None,
        donate_argnums: int | Sequence[int] | None = None) -> Jitted:
    """Compile ``fun`` once per signature and replay the plan on later calls.

    ``static_argnums``/``static_argnames`` name arguments whose *values* are fixed in the
    trace (they must be hashable; a new value compiles again); everything else is traced
    by shape and dtype, Python numbers included (weakly typed, as NumPy treats them).
    Arrays ``fun`` closes over are captured as they are when it is traced (as in JAX):
    pass an array as an argument if it will change.

    >>> import numpy as np, funcnn as fn, funcnn.numpy as fnp
    >>> f = fn.jit(lambda x, w: fnp.tanh(x @ w))
    >>> f(np.ones((2, 3)), np.full((3, 1), 0.1))
    array([[0.29131261],
           [0.29131261]])
    >>> f.cache_size()
    1
    """
    names = (static_argnames,) if isinstance(static_argnames, str) else tuple(static_argnames or ())
    statics = _argnums(static_argnums, "static_argnums")
    donated = _argnums(donate_argnums, "donate_argnums")
    overlap = set(statics) & set(donated)
    if overlap:
        raise ValueError(f"jit: argument(s) {sorted(overlap)} cannot be both static and donated")
    return Jitted(fun, statics, names, donated)
