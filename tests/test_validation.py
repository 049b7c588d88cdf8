"""Bad arguments get a clear error that names the function and the argument, with NumPy's
error types (``AxisError`` for an axis out of range, ``TypeError`` for a float, bool or
string where an integer belongs, ``ValueError`` for a repeated axis or a negative size),
never a wrong result or an internal error; array-likes (nested lists) work as in NumPy.
Only static things (axes, sizes, shapes, dtypes) are checked, so the same errors come out
of ``jit``, ``grad`` and ``vmap``."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import data, nn
from numpy.exceptions import AxisError

CLEAR = (TypeError, ValueError, IndexError)  # AxisError is both a ValueError and an IndexError

X = np.arange(6.0).reshape(2, 3)
IDX = np.zeros((2, 3), dtype=np.int64)


def numpy_verdict(f, *args, **kwargs):
    """NumPy's result, or the error it raises."""
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            return f(*args, **kwargs), None
        except Exception as err:  # noqa: BLE001  (whatever NumPy says)
            return None, err


def assert_like_numpy(ours, theirs, *args, **kwargs):
    """Our call gives NumPy's result (shape, dtype kind and values), or both refuse, ours clearly."""
    expected, numpy_error = numpy_verdict(theirs, *args, **kwargs)
    if numpy_error is None and np.size(expected) == 0 and _refuses_an_index(ours, *args, **kwargs):
        return  # NumPy skips the bounds check when the result is empty (take on an empty axis); we do not
    if numpy_error is not None:
        with pytest.raises(CLEAR) as info:
            ours(*args, **kwargs)
        assert str(info.value)
        return
    assert_same_results(ours(*args, **kwargs), expected)


def _refuses_an_index(ours, *args, **kwargs):
    try:
        ours(*args, **kwargs)
    except IndexError as err:
        return "out of bounds" in str(err)
    return False


def assert_same_results(got, expected):
    """``got`` equals NumPy's ``expected``: one array, or a list of them (``split``, ``meshgrid``)."""
    if isinstance(expected, list):
        assert len(got) == len(expected)
        for g, e in zip(got, expected):
            assert_same(g, e)
    else:
        assert_same(got, expected)


def assert_same(got, expected):
    got, expected = np.asarray(got), np.asarray(expected)
    assert got.shape == expected.shape
    assert got.dtype.kind == expected.dtype.kind
    np.testing.assert_array_equal(got, expected)


# --- the reported cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("call, error, words", [
    (lambda: fnp.take_along_axis(X, IDX, axis=5), AxisError, ["take_along_axis", "axis=5", "dimension 2"]),
    (lambda: fnp.take_along_axis(X, IDX, axis=-3), AxisError, ["take_along_axis", "axis=-3"]),
    (lambda: fnp.take_along_axis(X, IDX, axis=None), ValueError, ["axis=None", "1-d", "(2, 3)"]),
    (lambda: fnp.tensordot(X, X, axes=([5], [0])), AxisError, ["tensordot", "axes[0]=5"]),
    (lambda: fnp.tensordot(X, X, axes=([0], [-3])), AxisError, ["tensordot", "axes[1]=-3"]),
    (lambda: fnp.tensordot(X, X.T, axes=([0, 0], [1, 1])), ValueError, ["tensordot", "repeated axis"]),
    (lambda: fnp.tensordot(np.float64(2.0), np.ones(3), axes=1), ValueError, ["tensordot", "axes=1", "[0, 0]"]),
    (lambda: fnp.tensordot(X, X, axes=-1), ValueError, ["tensordot", "axes=-1"]),
    (lambda: fnp.tensordot(X, X, axes=1.5), TypeError, ["tensordot", "axes", "1.5"]),
    (lambda: fnp.tensordot(X, X, axes=([0],)), ValueError, ["tensordot", "pair"]),
    (lambda: fnp.flip(X, (0, 0)), ValueError, ["flip", "repeated axis"]),
    (lambda: fnp.vdot(np.ones(6), np.ones(1)), ValueError, ["vdot", "6 and 1"]),
    (lambda: fnp.vdot(np.array([1j, 2.0]), np.array([1j, 2.0])), TypeError,
     ["vdot", "complex values are not supported"]),
    (lambda: fnp.pad(X, 1.5), TypeError, ["pad", "pad_width", "1.5"]),
    (lambda: fnp.pad(X, ((1, 1), (0, 1.5))), TypeError, ["pad", "pad_width"]),
    (lambda: fnp.pad(X, -1), ValueError, ["pad", "pad_width", "non-negative"]),
    (lambda: fnp.pad(np.float64(1.0), -1), ValueError, ["pad", "non-negative"]),
    (lambda: fnp.pad(X, ((1, 1), (1, 1), (1, 1))), ValueError, ["pad", "pad_width", "dimension 2"]),
    (lambda: fnp.pad(np.ones((0, 3)), 1, mode="reflect"), ValueError, ["pad", "empty axis 0", "'reflect'"]),
    (lambda: fnp.reshape(X, (1.5, 4)), TypeError, ["reshape", "shape", "1.5"]),
    (lambda: fnp.reshape(X, (1.5, 6)), TypeError, ["reshape", "shape", "1.5"]),
    (lambda: fnp.reshape(X, (True, 6)), TypeError, ["reshape", "shape", "True"]),
    (lambda: fnp.reshape(np.ones((0, 3)), (0, -1)), ValueError, ["reshape", "(0, -1)"]),
    (lambda: fnp.expand_dims(X, (0, 0)), ValueError, ["expand_dims", "repeated axis"]),
    (lambda: fnp.expand_dims(X, 3), AxisError, ["expand_dims", "axis=3"]),
    (lambda: fnp.squeeze(np.ones((1, 1)), (0, -2)), ValueError, ["squeeze", "repeated axis"]),
    (lambda: fnp.transpose(X, (0, 0)), ValueError, ["transpose", "repeated axis"]),
    (lambda: fnp.transpose(X, (0,)), ValueError, ["transpose", "permutation"]),
    (lambda: fnp.moveaxis(X, (0, 0), (0, 1)), ValueError, ["moveaxis", "repeated axis", "source"]),
    (lambda: fnp.moveaxis(X, 0, 2), AxisError, ["moveaxis", "destination=2"]),
    (lambda: fnp.swapaxes(X, 0, 2), AxisError, ["swapaxes", "axis2=2"]),
    (lambda: fnp.split(X, 1.5, axis=1), TypeError, ["split", "indices_or_sections"]),
    (lambda: fnp.split(X, [1.5], axis=1), TypeError, ["split", "indices_or_sections"]),
    (lambda: fnp.split(X, 0, axis=1), ValueError, ["split", "0 equal sections"]),
    (lambda: fnp.repeat(X, 1.5), TypeError, ["repeat", "repeats"]),
    (lambda: fnp.repeat(X, -1), ValueError, ["repeat", "non-negative"]),
    (lambda: fnp.repeat(X, [1, 2], axis=1), ValueError, ["repeat", "3 counts", "axis 1"]),
    (lambda: fnp.tile(X, 1.5), TypeError, ["tile", "reps"]),
    (lambda: fnp.tile(X, -1), ValueError, ["tile", "reps", "non-negative"]),
    (lambda: fnp.broadcast_to(X, (2, 3.0)), TypeError, ["broadcast_to", "shape"]),
    (lambda: fnp.broadcast_to(X, (3, 3)), ValueError, ["broadcast_to", "(2, 3)", "(3, 3)"]),
    (lambda: fnp.concatenate([X, np.ones(3)]), ValueError, ["concatenate", "(2, 3)", "(3,)"]),
    (lambda: fnp.concatenate([X, np.ones((2, 2))], axis=0), ValueError, ["concatenate", "axis 0"]),
    (lambda: fnp.stack([X, X], axis=3), AxisError, ["stack", "axis=3", "dimension 3"]),
    (lambda: fnp.hstack([]), ValueError, ["need at least one array"]),
    (lambda: fnp.sort(np.float64(1.0)), AxisError, ["sort", "axis=-1", "dimension 0"]),
    (lambda: fnp.argsort(X, 2), AxisError, ["argsort", "axis=2"]),
    (lambda: fnp.take(X, [0], axis=2), AxisError, ["take", "axis=2"]),
    (lambda: fnp.matmul(np.ones((3, 1)), np.ones((3, 1))), ValueError, ["matmul", "(3, 1)", "align"]),
    (lambda: fnp.dot(np.ones((3, 1)), np.ones((3, 1))), ValueError, ["matmul", "(3, 1)", "align"]),
    (lambda: fnp.einsum("...i->i", np.ones((2, 3))), ValueError, ["einsum", "'...'"]),
    (lambda: fnp.scatter_add(np.ones(2), ([0, 1],), (3.5,)), TypeError, ["scatter_add", "shape"]),
    (lambda: fnp.scatter_add(np.ones(3), ([0, 1],), (3,)), ValueError, ["scatter_add", "updates", "(3,)", "(2,)"]),
    (lambda: nn.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=1.5), ValueError,
     ["conv2d", "stride", "1.5"]),
    (lambda: nn.conv2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), padding=1.5), ValueError, ["conv2d", "padding"]),
    (lambda: nn.conv_transpose2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), stride=True), ValueError,
     ["conv_transpose2d", "stride", "True"]),
    (lambda: nn.conv_transpose2d(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), groups=True), ValueError,
     ["conv_transpose2d", "groups=True"]),
    (lambda: nn.max_pool2d(np.ones((1, 1, 4, 4)), 1.5), ValueError, ["max_pool2d", "kernel_size", "1.5"]),
    (lambda: nn.avg_pool1d(np.ones((1, 1, 4)), 2, stride=0.5), ValueError, ["avg_pool1d", "stride", "0.5"]),
    (lambda: fn.lax.conv_general_dilated(np.ones((1, 1, 4, 4)), np.ones((1, 1, 2, 2)), (1, 1), ((1.5, 1), (0, 0))),
     ValueError, ["conv_general_dilated", "padding", "1.5"]),
    (lambda: list(data.batches([np.ones(3), [1, 2]], 1)), ValueError, ["arrays", "tuple (x, y)"]),
])
def test_bad_arguments_raise_clearly(call, error, words):
    with pytest.raises(error) as info:
        call()
    for word in words:
        assert word in str(info.value), f"{word!r} missing from: {info.value}"


AXIS_CALLS = {  # each takes an axis that must be an integer; X has shape (2, 3)
    "expand_dims": lambda axis: fnp.expand_dims(X, axis),
    "squeeze": lambda axis: fnp.squeeze(X[:, None], axis),
    "moveaxis": lambda axis: fnp.moveaxis(X, axis, 0),
    "swapaxes": lambda axis: fnp.swapaxes(X, axis, 0),
    "flip": lambda axis: fnp.flip(X, axis),
    "concatenate": lambda axis: fnp.concatenate([X, X], axis),
    "stack": lambda axis: fnp.stack([X, X], axis),
    "split": lambda axis: fnp.split(X, 1, axis),
    "repeat": lambda axis: fnp.repeat(X, 2, axis),
    "take": lambda axis: fnp.take(X, [0], axis),
    "take_along_axis": lambda axis: fnp.take_along_axis(X, IDX, axis),
    "sort": lambda axis: fnp.sort(X, axis),
    "argsort": lambda axis: fnp.argsort(X, axis),
    "transpose": lambda axis: fnp.transpose(X, (axis, 0)),
    "tensordot": lambda axis: fnp.tensordot(X, X.T, ([axis], [0])),
}


@pytest.mark.parametrize("bad", [1.0, 1.5, True, np.bool_(True), "1", np.float64(1.0), (1.0,)])
@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_an_axis_that_is_not_an_integer_is_a_type_error_naming_it(name, bad):
    with pytest.raises(TypeError) as info:
        AXIS_CALLS[name](bad)
    message = str(info.value)
    assert message.startswith(f"{name}: ") and "must be an integer" in message, message


@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_an_axis_out_of_range_is_an_axis_error(name):
    for bad in (5, -5):
        with pytest.raises(AxisError, match=f"{name}: .*={bad} is out of bounds"):
            AXIS_CALLS[name](bad)


@pytest.mark.parametrize("name", sorted(AXIS_CALLS))
def test_numpy_integer_axes_are_accepted(name):
    want = AXIS_CALLS[name](1)
    for axis in (np.int64(1), np.int8(1), np.array(1)):
        got = AXIS_CALLS[name](axis)
        for g, w in zip(got, want) if isinstance(want, list) else [(got, want)]:
            assert_same(g, w)


# --- results like NumPy's: axis=None, lists, scalars ---------------------------------------------------


def test_take_along_axis_with_axis_none_flattens_like_numpy():
    idx = np.array([5, 0, 3])
    assert_same(fnp.take_along_axis(X, idx, axis=None), np.take_along_axis(X, idx, axis=None))
    assert_same(fn.jit(lambda x: fnp.take_along_axis(x, idx, axis=None))(X), np.take_along_axis(X, idx, axis=None))
    g = fn.grad(lambda x: fnp.sum(fnp.take_along_axis(x, idx, axis=None)))(X)
    assert_same(g, np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 1.0]]))


def test_sort_and_argsort_with_axis_none_flatten_like_numpy():
    x = np.array([[3.0, 1.0], [0.0, 2.0]])
    assert_same(fnp.sort(x, axis=None), np.sort(x, axis=None))
    assert_same(fnp.argsort(x, axis=None), np.argsort(x, axis=None, kind="stable"))


def test_vdot_agrees_with_numpy_on_real_inputs_of_any_shape():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(6.0)[::-1].reshape(3, 2)
    assert_same(fnp.vdot(a, b), np.vdot(a, b))
    assert_same(fnp.vdot([True, False], [True, True]), np.vdot([True, False], [True, True]))
    assert_same(fnp.vdot(np.ones(2), np.array([1j, 2.0])), np.vdot(np.ones(2), np.array([1j, 2.0])))


def test_hstack_takes_scalars_as_numpy_does():
    assert_same(fnp.hstack([np.float64(1.0), np.float64(2.0)]), np.hstack([np.float64(1.0), np.float64(2.0)]))


def test_tensordot_of_a_scalar_with_axes_zero_is_a_product():
    assert_same(fnp.tensordot(np.float64(2.0), np.ones(3), axes=0), np.tensordot(np.float64(2.0), np.ones(3), axes=0))


float_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                          elements=st.floats(-10, 10, allow_nan=False))
int_lists = hnp.arrays(np.int64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4),
                       elements=st.integers(-10, 10))


@given(x=float_arrays | int_lists)
def test_like_functions_accept_nested_lists(x):
    lst = x.tolist()
    assert_same(fnp.zeros_like(lst), np.zeros_like(lst))
    assert_same(fnp.ones_like(lst), np.ones_like(lst))
    assert_same(fnp.full_like(lst, 7), np.full_like(lst, 7))
    assert_same(fnp.full_like(lst, 7, dtype=np.float32), np.full_like(lst, 7, dtype=np.float32))


LIST_CALLS = [
    ("split", lambda m, x: m.split(x, [1], axis=0)),
    ("split sections", lambda m, x: m.split(x, 1, axis=-1)),
    ("take", lambda m, x: m.take(x, [0, -1], axis=0)),
    ("take flat", lambda m, x: m.take(x, [[0]])),
    ("flip", lambda m, x: m.flip(x)),
    ("pad", lambda m, x: m.pad(x, 1)),
    ("pad edge", lambda m, x: m.pad(x, 1, mode="edge")),
    ("sort", lambda m, x: m.sort(x)),
    ("argsort", lambda m, x: m.argsort(x, kind="stable") if m is np else m.argsort(x)),
    ("repeat", lambda m, x: m.repeat(x, 2, axis=0)),
    ("squeeze", lambda m, x: m.squeeze(x)),
    ("transpose", lambda m, x: m.transpose(x)),
    ("tile", lambda m, x: m.tile(x, 2)),
    ("concatenate", lambda m, x: m.concatenate([x, x])),
    ("getitem", lambda m, x: np.asarray(x)[0] if m is np else fnp.getitem(x, 0)),
    ("getitem array", lambda m, x: np.asarray(x)[[0, 0]] if m is np else fnp.getitem(x, [0, 0])),
    ("matmul", lambda m, x: m.matmul(x, np.ones(np.shape(x)[-1]))),
    ("tensordot", lambda m, x: m.tensordot(x, x, axes=0)),
    ("vdot", lambda m, x: m.vdot(x, x)),
    ("einsum", lambda m, x: m.einsum("i...->...", x)),
]


@pytest.mark.parametrize("name, call", LIST_CALLS, ids=[n for n, _ in LIST_CALLS])
@given(x=float_arrays | int_lists)
def test_nested_lists_work_as_in_numpy(name, call, x):
    expected = call(np, x)
    assert_same_results(call(fnp, x.tolist()), expected)


def test_batches_takes_a_list_of_arrays_like_a_tuple():
    x, y = np.arange(8).reshape(4, 2), np.arange(4)
    from_list = list(data.batches([x, y], 3))
    from_tuple = list(data.batches((x, y), 3))
    assert len(from_list) == len(from_tuple) == 2
    for (xl, yl), (xt, yt) in zip(from_list, from_tuple):
        assert_same(xl, xt)
        assert_same(yl, yt)
    assert [b.tolist() for b in data.batches([[1, 2], [3, 4]], 1)] == [[[1, 2]], [[3, 4]]]  # one array-like


# --- against NumPy, for any axis -----------------------------------------------------------------------

SHAPE_FUNCTIONS = {
    "flip": (fnp.flip, np.flip),
    "expand_dims": (fnp.expand_dims, np.expand_dims),
    "squeeze": (fnp.squeeze, np.squeeze),
    "sort": (fnp.sort, np.sort),
    "argsort": (fnp.argsort, lambda x, axis: np.argsort(x, axis=axis, kind="stable")),
    "take": (lambda x, axis: fnp.take(x, [0, -1], axis=axis), lambda x, axis: np.take(x, [0, -1], axis=axis)),
    "repeat": (lambda x, axis: fnp.repeat(x, 2, axis=axis), lambda x, axis: np.repeat(x, 2, axis=axis)),
    "concatenate": (lambda x, axis: fnp.concatenate([x, x], axis=axis),
                    lambda x, axis: np.concatenate([x, x], axis=axis)),
    "stack": (lambda x, axis: fnp.stack([x, x], axis=axis), lambda x, axis: np.stack([x, x], axis=axis)),
    "split": (lambda x, axis: fnp.split(x, 1, axis=axis), lambda x, axis: np.split(x, 1, axis=axis)),
    "swapaxes": (lambda x, axis: fnp.swapaxes(x, axis, -1), lambda x, axis: np.swapaxes(x, axis, -1)),
    "moveaxis": (lambda x, axis: fnp.moveaxis(x, axis, 0), lambda x, axis: np.moveaxis(x, axis, 0)),
    "tensordot": (lambda x, axis: fnp.tensordot(x, x, axes=(axis, axis)),
                  lambda x, axis: np.tensordot(x, x, axes=(axis, axis))),
}
small_arrays = hnp.arrays(np.float64, hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3),
                          elements=st.floats(-10, 10, allow_nan=False))
any_axis = (st.integers(-4, 4) | st.tuples(st.integers(-3, 3), st.integers(-3, 3)) | st.sampled_from([1.0, True, "0"]))


@pytest.mark.parametrize("name", sorted(SHAPE_FUNCTIONS))
@given(x=small_arrays, axis=any_axis)
def test_shape_functions_agree_with_numpy_or_refuse_clearly(name, x, axis):
    ours, theirs = SHAPE_FUNCTIONS[name]
    if isinstance(axis, (bool, str, float)):  # NumPy takes some of these (flip(x, True)); we never do
        with pytest.raises(TypeError, match=f"{name}: .*must be an integer"):
            ours(x, axis=axis)
        return
    if x.ndim == 0 and name in ("squeeze", "argsort", "take", "repeat"):
        # NumPy treats a 0-d array as 1-d along axis 0 or -1 here; we refuse that axis, clearly
        if axis not in (0, -1):
            return
        with pytest.raises(AxisError, match=f"{name}: .*out of bounds"):
            ours(x, axis=axis)
        return
    assert_like_numpy(ours, theirs, x, axis=axis)


# --- the same checks on traced values ---------------------------------------------------------------


@pytest.mark.parametrize("transform", ["jit", "grad", "vmap"])
@pytest.mark.parametrize("call, error", [
    (lambda x: fnp.flip(x, (0, 0)), ValueError),
    (lambda x: fnp.take_along_axis(x, np.zeros((2, 3), np.int64), axis=5), AxisError),
    (lambda x: fnp.tensordot(x, x, axes=([5], [0])), AxisError),
    (lambda x: fnp.vdot(x, np.ones(2)), ValueError),
    (lambda x: fnp.expand_dims(x, (0, 0)), ValueError),
    (lambda x: fnp.reshape(x, (1.5, 4)), TypeError),
    (lambda x: fnp.pad(x, 1.5), TypeError),
    (lambda x: fnp.sort(x, 1.0), TypeError),
    (lambda x: fnp.matmul(fnp.reshape(x, (6, 1)), fnp.reshape(x, (6, 1))), ValueError),
])
def test_traced_values_are_checked_the_same_way(transform, call, error):
    def loss(x):
        return fnp.sum(call(x))

    run = {"jit": fn.jit(loss), "grad": fn.grad(loss), "vmap": fn.vmap(loss)}[transform]
    with pytest.raises(error):
        run(np.stack([X, X]) if transform == "vmap" else X)


def test_valid_calls_give_the_same_result_traced():
    def f(x):
        parts = [fnp.take_along_axis(x, np.array([5, 0]), axis=None), fnp.sort(x, axis=None),
                 fnp.ravel(fnp.flip(x, (0, 1))), fnp.ravel(fnp.expand_dims(x, (0, 3))), fnp.vdot(x, x)[None],
                 fnp.ravel(fnp.tensordot(x, x, axes=([0], [0]))), fnp.ravel(fnp.repeat(x, [1, 2], axis=0)),
                 fnp.ravel(fnp.pad(x, ((1, 0), (0, 2)), mode="reflect"))]
        return fnp.concatenate(parts)

    np.testing.assert_allclose(fn.jit(f)(X), f(X))
    np.testing.assert_allclose(fn.vmap(f)(np.stack([X, 2 * X])), np.stack([f(X), f(2 * X)]))
    graph_text = str(fn.make_graph(f)(X))
    assert "getitem" in graph_text


@pytest.mark.parametrize("bad, error", [(2.5, TypeError), (True, TypeError), ("3", TypeError), (0, ValueError)])
def test_one_hot_takes_a_whole_number_of_classes(bad, error):
    with pytest.raises(error, match="one_hot: num_classes"):
        nn.one_hot(np.array([0, 1]), bad)
    np.testing.assert_array_equal(nn.one_hot(np.array([0, 1]), np.int64(2)), np.eye(2, dtype=np.float32))


def test_functions_take_nested_lists_where_they_read_a_dtype():
    assert_same(fnp.astype([1, 2], np.float32), np.array([1, 2], np.float32))
    np.testing.assert_allclose(fnp.var([1.0, 2.0, 3.0]), np.var([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(fnp.std([[1.0, 2.0], [3.0, 5.0]], axis=0), np.std([[1.0, 2.0], [3.0, 5.0]], axis=0))
