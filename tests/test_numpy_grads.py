"""Every differentiable primitive of funcnn.numpy: forward value against NumPy, and
derivatives to order 2 in both modes against finite differences, on random inputs."""
import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st

import math

import funcnn.numpy as fnp
from funcnn.scipy import special
from funcnn._src import core
from funcnn.testing import check_grads
from funcnn.testing.strategies import arrays, broadcastable_shapes, distinct_arrays, shapes


def one(shape_strategy=None, **kw):
    """Strategy for a 1-tuple of arrays."""
    return st.tuples(arrays(shapes() if shape_strategy is None else shape_strategy, **kw))


def pair(**kw):
    return broadcastable_shapes(2).flatmap(lambda s: st.tuples(arrays(s[0], **kw), arrays(s[1], **kw)))


def matmul_args():
    def build(dims):
        batch, n, k, m, kind = dims
        a_shape = {"vv": (k,), "vm": (k,), "mv": (n, k)}.get(kind, batch + (n, k))
        b_shape = {"vv": (k,), "vm": (k, m), "mv": (k,)}.get(kind, (k, m))
        return st.tuples(arrays(a_shape), arrays(b_shape))
    return st.tuples(st.sampled_from([(), (2,), (3, 1)]), *[st.integers(1, 4)] * 3,
                     st.sampled_from(["mm", "vv", "vm", "mv"])).flatmap(build)


pos = dict(min_value=0.2, max_value=3.0)
away = dict(min_magnitude=0.2)
small = shapes(max_dims=2, max_side=3)

# (name, function of the drawn arrays, strategy for the tuple of arrays, NumPy reference)
ELEMENTWISE = [
    ("add", fnp.add, pair(), np.add),
    ("subtract", fnp.subtract, pair(), np.subtract),
    ("multiply", fnp.multiply, pair(), np.multiply),
    ("divide", fnp.divide, broadcastable_shapes(2).flatmap(
        lambda s: st.tuples(arrays(s[0]), arrays(s[1], **away))), np.divide),
    ("power", fnp.power, broadcastable_shapes(2).flatmap(
        lambda s: st.tuples(arrays(s[0], **pos), arrays(s[1]))), np.power),
    ("power_int_exponent", lambda x: fnp.power(x, 3), one(), lambda x: np.power(x, 3)),
    ("maximum", fnp.maximum, st.tuples(distinct_arrays((2, 3)), distinct_arrays((3,))), np.maximum),
    ("minimum", fnp.minimum, st.tuples(distinct_arrays((2, 3)), distinct_arrays((3,))), np.minimum),
    ("negative", fnp.negative, one(), np.negative),
    ("square", fnp.square, one(), np.square),
    ("sqrt", fnp.sqrt, one(**pos), np.sqrt),
    ("reciprocal", fnp.reciprocal, one(**away), np.reciprocal),
    ("abs", fnp.abs, one(**away), np.abs),
    ("exp", fnp.exp, one(), np.exp),
    ("expm1", fnp.expm1, one(), np.expm1),
    ("log", fnp.log, one(**pos), np.log),
    ("log1p", fnp.log1p, one(min_value=-0.7, max_value=3.0), np.log1p),
    ("sin", fnp.sin, one(), np.sin),
    ("cos", fnp.cos, one(), np.cos),
    ("tan", fnp.tan, one(min_value=-1.2, max_value=1.2), np.tan),
    ("tanh", fnp.tanh, one(), np.tanh),
    ("sinh", fnp.sinh, one(), np.sinh),
    ("cosh", fnp.cosh, one(), np.cosh),
    ("arctan", fnp.arctan, one(), np.arctan),
    ("logistic", fnp.logistic, one(min_value=-6, max_value=6), lambda x: 1 / (1 + np.exp(-x))),
    ("erf", special.erf, one(min_value=-3, max_value=3), np.vectorize(math.erf, otypes=[float])),
    ("erfc", special.erfc, one(min_value=-3, max_value=3), np.vectorize(math.erfc, otypes=[float])),
    ("ndtr", special.ndtr, one(min_value=-4, max_value=4),
     np.vectorize(lambda v: 0.5 * math.erfc(-v / math.sqrt(2)), otypes=[float])),
    ("where", lambda x, y: fnp.where(np.arange(x.size).reshape(x.shape) % 2 == 0, x, y),
     st.tuples(arrays((2, 3)), arrays((3,))), lambda x, y: np.where(np.arange(6).reshape(2, 3) % 2 == 0, x, y)),
    ("clip", lambda x: fnp.clip(x, -0.5, 0.7), st.tuples(arrays(shapes()).filter(
        lambda x: np.all(np.abs(x + 0.5) > 0.05) and np.all(np.abs(x - 0.7) > 0.05))), lambda x: np.clip(x, -0.5, 0.7)),
    ("clip_bounds", lambda x, lo, hi: fnp.clip(x, lo, hi),
     st.tuples(distinct_arrays((4,)), st.just(np.full(4, -0.13)), st.just(np.full(4, 0.17))),
     np.clip),
    # a cast to float32 is linear, so a large step is exact where float32 rounding would swamp a small one
    ("astype", lambda x: fnp.multiply(fnp.astype(x, np.float32), 2), one(), lambda x: (x.astype(np.float32) * 2),
     dict(eps=0.25, atol=1e-5, rtol=1e-5)),
]

REDUCTIONS = [
    ("sum", lambda x: fnp.sum(x, axis=0), one(shapes(min_dims=1)), lambda x: np.sum(x, axis=0)),
    ("sum_all_keepdims", lambda x: fnp.sum(x, keepdims=True), one(), lambda x: np.sum(x, keepdims=True)),
    ("mean", lambda x: fnp.mean(x, axis=-1), one(shapes(min_dims=1)), lambda x: np.mean(x, axis=-1)),
    ("var", lambda x: fnp.var(x, axis=0, ddof=1), one(shapes(min_dims=1, min_side=2)),
     lambda x: np.var(x, axis=0, ddof=1)),
    ("std", lambda x: fnp.std(x), st.tuples(distinct_arrays((2, 3))), np.std),
    ("max", lambda x: fnp.max(x, axis=1), st.tuples(distinct_arrays((2, 3, 2))), lambda x: np.max(x, axis=1)),
    ("min", lambda x: fnp.min(x, axis=(0, 2), keepdims=True), st.tuples(distinct_arrays((2, 3, 2))),
     lambda x: np.min(x, axis=(0, 2), keepdims=True)),
    ("prod", lambda x: fnp.prod(x, axis=0), one(shapes(min_dims=1, max_side=3), **away), lambda x: np.prod(x, axis=0)),
    ("logsumexp", lambda x: fnp.logsumexp(x, axis=-1), one(shapes(min_dims=1)),
     lambda x: np.log(np.sum(np.exp(x), axis=-1))),
]

SHAPE = [
    ("reshape", lambda x: fnp.reshape(x, (-1,)), one(), lambda x: np.reshape(x, (-1,))),
    ("transpose", lambda x: fnp.transpose(x), one(), np.transpose),
    ("moveaxis", lambda x: fnp.moveaxis(x, 0, -1), one(shapes(min_dims=2)), lambda x: np.moveaxis(x, 0, -1)),
    ("broadcast_to", lambda x: fnp.broadcast_to(x, (2,) + x.shape), one(),
     lambda x: np.broadcast_to(x, (2,) + x.shape)),
    ("expand_squeeze", lambda x: fnp.squeeze(fnp.expand_dims(x, 0), 0), one(), lambda x: x),
    ("concatenate", lambda x, y: fnp.concatenate([x, y, x], axis=1), st.tuples(arrays((2, 3)), arrays((2, 1))),
     lambda x, y: np.concatenate([x, y, x], axis=1)),
    ("stack", lambda x, y: fnp.stack([x, y], axis=-1), st.tuples(arrays((2, 3)), arrays((2, 3))),
     lambda x, y: np.stack([x, y], axis=-1)),
    ("split", lambda x: fnp.split(x, [1], axis=1)[1] * 2, one((3, 4)), lambda x: np.split(x, [1], axis=1)[1] * 2),
    ("pad", lambda x: fnp.pad(x, ((1, 0), (2, 1))), one((2, 3)), lambda x: np.pad(x, ((1, 0), (2, 1)))),
    ("pad_reflect", lambda x: fnp.pad(x, 2, mode="reflect"), one((3, 4)), lambda x: np.pad(x, 2, mode="reflect")),
    ("flip", lambda x: fnp.flip(x, 0), one(shapes(min_dims=1)), lambda x: np.flip(x, 0)),
    ("tile", lambda x: fnp.tile(x, (2, 1, 2)), one(small), lambda x: np.tile(x, (2, 1, 2))),
    ("repeat", lambda x: fnp.repeat(x, 2, axis=0), one(shapes(min_dims=1)), lambda x: np.repeat(x, 2, axis=0)),
]

INDEXING = [
    ("getitem_basic", lambda x: x[1:, ::-1], one((3, 4)), lambda x: x[1:, ::-1]),
    ("getitem_int_repeated", lambda x: x[np.array([0, 2, 0, 0])], one((3, 2)), lambda x: x[np.array([0, 2, 0, 0])]),
    ("getitem_mask", lambda x: x[np.array([True, False, True])],
     one((3, 2)), lambda x: x[np.array([True, False, True])]),
    ("getitem_mixed", lambda x: x[:, [1, 1, 0], None], one((2, 3)), lambda x: x[:, [1, 1, 0], None]),
    ("take", lambda x: fnp.take(x, np.array([[0, 1], [1, 1]]), axis=1), one((2, 3)),
     lambda x: np.take(x, np.array([[0, 1], [1, 1]]), axis=1)),
    ("take_along_axis", lambda x: fnp.take_along_axis(x, np.array([[0, 0], [2, 1]]), axis=1), one((2, 3)),
     lambda x: np.take_along_axis(x, np.array([[0, 0], [2, 1]]), axis=1)),
    ("scatter_add", lambda u: fnp.scatter_add(u, np.array([1, 1, 0]), (3, 2)), one((3, 2)),
     lambda u: np.add.at(z := np.zeros((3, 2)), np.array([1, 1, 0]), u) or z),
    ("sort", lambda x: fnp.sort(x, axis=-1), st.tuples(distinct_arrays((2, 4))), lambda x: np.sort(x, axis=-1)),
]

LINALG = [
    ("matmul", fnp.matmul, matmul_args(), np.matmul),
    ("dot_nd", fnp.dot, st.tuples(arrays((2, 3)), arrays((4, 3, 2))), np.dot),
    ("tensordot", lambda a, b: fnp.tensordot(a, b, axes=([0, 2], [1, 0])),
     st.tuples(arrays((2, 3, 4)), arrays((4, 2, 2))),
     lambda a, b: np.tensordot(a, b, axes=([0, 2], [1, 0]))),
    ("outer", fnp.outer, st.tuples(arrays((3,)), arrays((2,))), np.outer),
    ("einsum_batch", lambda a, b: fnp.einsum("bij,bjk->bik", a, b), st.tuples(arrays((2, 3, 4)), arrays((2, 4, 2))),
     lambda a, b: np.einsum("bij,bjk->bik", a, b)),
    ("einsum_ellipsis_sum", lambda a, b: fnp.einsum("...i,j->...", a, b), st.tuples(arrays((2, 3)), arrays((4,))),
     lambda a, b: np.einsum("...i,j->...", a, b)),
    ("einsum_implicit", lambda a: fnp.einsum("ij", a), one((2, 3)), lambda a: np.einsum("ij", a)),
]

# the rows of the other op families' test files, in the same format
from test_at import ROWS as AT  # noqa: E402  (functional updates: x.at[idx].set(v) and the rest)
from test_linalg import ROWS as LINALG_MORE  # noqa: E402  (funcnn.numpy.linalg and matrix structure)
from test_numpy_more import ROWS as MORE  # noqa: E402  (math, cumulative, sorting, array and einsum functions)
from test_special_more import ROWS as SPECIAL  # noqa: E402  (funcnn.scipy.special and stats)


def _padded(rows):
    return [row if len(row) == 5 else row + ({},) for row in rows]


# the table in parts, for tests that draw a whole part at once
PARTS = {"core": _padded(ELEMENTWISE + REDUCTIONS + SHAPE + INDEXING + LINALG), "more": _padded(MORE),
         "at": _padded(AT), "special": _padded(SPECIAL), "linalg": _padded(LINALG_MORE)}
TABLE = [row for part in PARTS.values() for row in part]


@pytest.mark.parametrize("name, fn, args, reference, options", TABLE, ids=[row[0] for row in TABLE])
@given(data=st.data())
def test_value_and_derivatives(name, fn, args, reference, options, data):
    drawn = data.draw(args)
    np.testing.assert_allclose(fn(*drawn), reference(*drawn), rtol=1e-12, atol=1e-12)
    check_grads(fn, drawn, order=2, modes=("fwd", "rev"), **options)


@pytest.mark.parametrize("name, fn, args, reference, options", TABLE, ids=[row[0] for row in TABLE])
@given(data=st.data())
def test_float32_stays_float32(name, fn, args, reference, options, data):
    drawn = tuple(a.astype(np.float32) for a in data.draw(args))
    out = fn(*drawn)
    assert np.result_type(out) == np.float32, f"{name} returned {np.result_type(out)} for float32 inputs"
    check_grads(fn, drawn, order=1, modes=("fwd", "rev"), eps=options.get("eps", 1e-3))


def test_every_differentiable_primitive_is_in_a_table():
    """Run each table row once under both transforms and record which primitives they reached."""
    import funcnn as fn

    from funcnn._src.forward import ForwardTrace
    from funcnn._src.reverse import ReverseTrace

    seen = set()
    originals = {cls: cls.process for cls in (ForwardTrace, ReverseTrace)}

    def recording(original):
        def process(self, prim, args, params):
            seen.add(prim.name)
            return original(self, prim, args, params)
        return process

    for cls, original in originals.items():
        cls.process = recording(original)
    try:
        for _name, f, args, *_ in TABLE:
            drawn = find(args, lambda _: True, settings=settings(database=None))  # a simplest example
            out, vjp_fn = fn.vjp(f, *drawn)
            fn.jvp(f, drawn, drawn)
            vjp_fn(out)
    finally:
        for cls, original in originals.items():
            cls.process = original
    families = ("funcnn.numpy", "funcnn.scipy")
    from funcnn.extend import is_differentiable

    wanted = {p.name for p in core.PRIMITIVES if is_differentiable(p) and p.module.startswith(families)}
    assert wanted <= seen, f"differentiable primitives not covered by any table: {sorted(wanted - seen)}"
