"""Tests for funcnn.data: splitting, batching, preprocessing and synthetic datasets."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcnn import data
from funcnn import random as frandom


def indexed(n, width=3):
    """Rows whose first column is the row index, so alignment is easy to check."""
    x = np.tile(np.arange(n, dtype=np.float32)[:, None], (1, width))
    return x, np.arange(n)


@pytest.fixture
def global_rng_untouched():
    before = np.random.get_state()[1].copy()
    yield
    assert np.array_equal(np.random.get_state()[1], before), "NumPy's global random state changed"


# --------------------------------------------------------------------------- train_test_split


@pytest.mark.parametrize(
    "n, test_size, train_size, expected",
    [
        # (n_train, n_test) as scikit-learn computes them: test fractions round up,
        # train fractions round down, the unspecified side gets the rest.
        (100, None, None, (75, 25)),
        (10, None, None, (7, 3)),
        (10, 0.25, None, (7, 3)),
        (10, None, 0.75, (7, 3)),
        (7, 0.5, None, (3, 4)),
        (10, 3, None, (7, 3)),
        (10, None, 4, (4, 6)),
        (10, 0.2, 0.5, (5, 2)),
        (10, 2, 5, (5, 2)),
    ],
)
def test_split_sizes_follow_sklearn(n, test_size, train_size, expected):
    x, y = indexed(n)
    x_train, x_test, y_train, y_test = data.train_test_split(
        x, y, test_size=test_size, train_size=train_size, seed=0
    )
    assert (len(x_train), len(x_test)) == expected
    assert (len(y_train), len(y_test)) == expected


def test_split_keeps_rows_aligned_and_disjoint(global_rng_untouched):
    x, y = indexed(50)
    w = np.arange(50) * 10
    x_train, x_test, y_train, y_test, w_train, w_test = data.train_test_split(x, y, w, seed=3)
    np.testing.assert_array_equal(x_train[:, 0], y_train)
    np.testing.assert_array_equal(x_test[:, 2], y_test)
    np.testing.assert_array_equal(w_train, y_train * 10)
    assert sorted(np.concatenate([y_train, y_test]).tolist()) == list(range(50))
    assert x_train.dtype == np.float32 and y_train.dtype == y.dtype


def test_split_is_deterministic_in_the_seed(global_rng_untouched):
    x, y = indexed(100)
    first = data.train_test_split(x, y, seed=7)
    again = data.train_test_split(x, y, seed=7)
    other = data.train_test_split(x, y, seed=8)
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[3], other[3])


def test_split_accepts_a_key_array():
    x, y = indexed(40)
    key = np.array([0, 42], dtype=np.uint32)
    a = data.train_test_split(x, y, seed=key)[3]
    b = data.train_test_split(x, y, seed=key.copy())[3]
    c = data.train_test_split(x, y, seed=np.array([0, 43], dtype=np.uint32))[3]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_split_without_shuffle_keeps_order():
    x, y = indexed(10)
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_size=3, shuffle=False)
    assert y_train.tolist() == list(range(7))
    assert y_test.tolist() == [7, 8, 9]


def test_split_accepts_lists_and_returns_arrays():
    a_train, a_test = data.train_test_split([1, 2, 3, 4], test_size=1, seed=0)
    assert isinstance(a_train, np.ndarray) and isinstance(a_test, np.ndarray)
    assert sorted(a_train.tolist() + a_test.tolist()) == [1, 2, 3, 4]


def test_stratified_split_keeps_proportions():
    y = np.repeat([0, 1, 2], [60, 30, 10])
    x = np.arange(100)
    x_train, x_test, y_train, y_test = data.train_test_split(x, y, test_size=0.2, stratify=y, seed=1)
    assert np.bincount(y_test).tolist() == [12, 6, 2]
    assert np.bincount(y_train).tolist() == [48, 24, 8]
    np.testing.assert_array_equal(y[x_test], y_test)


@given(
    counts=st.lists(st.integers(2, 30), min_size=2, max_size=5),
    fraction=st.floats(0.2, 0.8),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_split_is_within_one_of_exact_proportion(counts, fraction, seed):
    y = np.repeat(np.arange(len(counts)), counts)
    n = len(y)
    n_test = int(np.ceil(fraction * n))
    if n_test < len(counts) or n - n_test < len(counts) or n_test >= n:
        return  # sizes too small to stratify; rejected with a ValueError (tested below)
    _, y_test = data.train_test_split(y, test_size=fraction, stratify=y, seed=seed)
    got = np.bincount(y_test, minlength=len(counts))
    exact = np.array(counts) * n_test / n
    assert got.sum() == n_test
    assert np.all(np.abs(got - exact) < 1)


@pytest.mark.parametrize("test_size", [0, 1.0, 1.5, -0.1, 10, 11, -1, True, "0.3"])
def test_split_rejects_test_size_out_of_range(test_size):
    x, y = indexed(10)
    with pytest.raises(ValueError, match="test_size"):
        data.train_test_split(x, y, test_size=test_size)


def test_split_rejects_bad_size_combinations():
    x, y = indexed(10)
    with pytest.raises(ValueError, match="train_size"):
        data.train_test_split(x, y, train_size=1.2)
    with pytest.raises(ValueError, match="at most 1"):
        data.train_test_split(x, y, test_size=0.6, train_size=0.6)
    with pytest.raises(ValueError, match="exceeds the 10 samples"):
        data.train_test_split(x, y, test_size=6, train_size=5)
    with pytest.raises(ValueError, match="train set would be empty"):
        data.train_test_split(x, y, test_size=0.95)


def test_split_rejects_arrays_of_different_lengths():
    with pytest.raises(ValueError, match=r"array 0 has 10, array 1 has 9"):
        data.train_test_split(np.zeros(10), np.zeros(9))
    with pytest.raises(ValueError, match="at least one array"):
        data.train_test_split()
    with pytest.raises(ValueError, match="0-d"):
        data.train_test_split(np.float32(3.0))


def test_stratify_errors():
    x, y = indexed(10)
    labels = np.array([0] * 9 + [1])
    with pytest.raises(ValueError, match="only 1 sample"):
        data.train_test_split(x, stratify=labels, seed=0)
    with pytest.raises(ValueError, match="shuffle=True"):
        data.train_test_split(x, stratify=y % 2, shuffle=False)
    with pytest.raises(ValueError, match="one label per sample"):
        data.train_test_split(x, stratify=np.zeros(9))
    with pytest.raises(ValueError, match="fewer than the 5 classes"):
        data.train_test_split(x, stratify=y % 5, test_size=2, seed=0)


# --------------------------------------------------------------------------- batches


def test_batches_in_order_with_a_smaller_last_batch():
    x, y = indexed(10)
    got = list(data.batches((x, y), batch_size=4))
    assert [len(yb) for _, yb in got] == [4, 4, 2]
    assert all(isinstance(b, tuple) and len(b) == 2 for b in got)
    np.testing.assert_array_equal(np.concatenate([yb for _, yb in got]), y)
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb)


def test_batches_of_a_single_array_yield_arrays():
    x, _ = indexed(5)
    got = list(data.batches(x, 2))
    assert all(isinstance(b, np.ndarray) for b in got)
    assert [b.shape for b in got] == [(2, 3), (2, 3), (1, 3)]
    assert [b.tolist() for b in data.batches([1, 2, 3], 2)] == [[1, 2], [3]]


def test_batches_drop_last():
    x, y = indexed(10)
    assert [len(b) for b in data.batches(y, 4, drop_last=True)] == [4, 4]
    assert list(data.batches(y, 11, drop_last=True)) == []
    assert [len(b) for b in data.batches(y, 11)] == [10]
    assert [len(b) for b in data.batches(y, 5, drop_last=True)] == [5, 5]


def test_batches_shuffle_from_key_is_one_epoch_order(global_rng_untouched):
    x, y = indexed(100)
    epoch = [yb for _, yb in data.batches((x, y), 16, key=np.array([0, 1], dtype=np.uint32))]
    replay = [yb for _, yb in data.batches((x, y), 16, key=np.array([0, 1], dtype=np.uint32))]
    other = [yb for _, yb in data.batches((x, y), 16, key=np.array([0, 2], dtype=np.uint32))]
    order = np.concatenate(epoch)
    assert sorted(order.tolist()) == list(range(100))
    assert not np.array_equal(order, y)
    np.testing.assert_array_equal(order, np.concatenate(replay))
    assert not np.array_equal(order, np.concatenate(other))
    for xb, yb in data.batches((x, y), 16, key=5):
        np.testing.assert_array_equal(xb[:, 0], yb)


def test_batches_with_funcnn_random_key_use_its_permutation():
    _, y = indexed(30)
    key = frandom.key(0)
    order = np.concatenate(list(data.batches(y, 7, key=key)))
    np.testing.assert_array_equal(order, frandom.permutation(key, 30))
    np.testing.assert_array_equal(order, np.concatenate(list(data.batches(y, 7, key=key))))
    key, sub = frandom.split(key)
    assert not np.array_equal(order, np.concatenate(list(data.batches(y, 7, key=sub))))


def test_funcnn_keys_seed_splits_and_synthetic_sets():
    x, y = indexed(40)
    a = data.train_test_split(x, y, seed=frandom.key(1))[3]
    b = data.train_test_split(x, y, seed=frandom.key(1))[3]
    np.testing.assert_array_equal(a, b)
    first = data.moons(50, 0.1, seed=frandom.key(2))[0]
    np.testing.assert_array_equal(first, data.moons(50, 0.1, seed=frandom.key(2))[0])


@given(n=st.integers(1, 60), batch_size=st.integers(1, 70), drop_last=st.booleans())
def test_batches_cover_every_sample_once(n, batch_size, drop_last):
    y = np.arange(n)
    got = list(data.batches(y, batch_size, key=n, drop_last=drop_last))
    sizes = [len(b) for b in got]
    expected_total = n - n % batch_size if drop_last else n
    assert sum(sizes) == expected_total
    assert all(s == batch_size for s in sizes[:-1])
    assert len(set(np.concatenate(got or [np.array([], int)]).tolist())) == expected_total


@pytest.mark.parametrize("batch_size", [0, -1, 2.5, True, "4", None])
def test_batches_rejects_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        data.batches(np.zeros(4), batch_size)


def test_batches_rejects_different_lengths_before_iterating():
    with pytest.raises(ValueError, match=r"arrays\[0\] has 5, arrays\[1\] has 4"):
        data.batches((np.zeros(5), np.zeros(4)), 2)
    with pytest.raises(ValueError, match="non-empty tuple"):
        data.batches((), 2)


# --------------------------------------------------------------------------- one_hot


def test_one_hot_values_shape_and_dtype():
    got = data.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert got.shape == (2, 2, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got.argmax(-1), [[0, 2], [1, 1]])
    np.testing.assert_array_equal(got.sum(-1), np.ones((2, 2)))
    assert data.one_hot(np.array([1], dtype=np.uint8), 2, dtype=np.int64).tolist() == [[0, 1]]
    assert data.one_hot(np.zeros(0, dtype=np.int64), 4).shape == (0, 4)


def test_one_hot_rejects_labels_outside_range():
    with pytest.raises(ValueError, match=r"\[0, num_classes=3\).*values -1, 3, 7"):
        data.one_hot(np.array([0, 3, -1, 7, 3]), 3)
    with pytest.raises(ValueError, match="labels must be integers"):
        data.one_hot(np.array([0.0, 1.0]), 2)
    with pytest.raises(ValueError, match="num_classes must be a positive int"):
        data.one_hot(np.array([0]), 0)


# --------------------------------------------------------------------------- standardize


def test_standardize_gives_zero_mean_unit_std():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(200, 4)) * [1, 5, 0.1, 30] + [0, -3, 7, 100]).astype(np.float32)
    z = data.standardize(x)
    assert z.dtype == np.float32 and z.shape == x.shape
    np.testing.assert_allclose(z.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(z.std(axis=0), 1, atol=1e-5)


def test_standardize_reuses_train_statistics_on_test_data():
    rng = np.random.default_rng(1)
    x_train = rng.normal(3.0, 2.0, size=(100, 3))
    x_test = rng.normal(3.0, 2.0, size=(20, 3))
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    np.testing.assert_allclose(data.standardize(x_test, mean, std), (x_test - mean) / std)
    np.testing.assert_allclose(data.standardize(x_train, mean, std), data.standardize(x_train))


def test_standardize_per_channel_statistics_for_images():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(8, 3, 4, 4)) * np.array([1.0, 10.0, 100.0])[None, :, None, None]
    z = data.standardize(x, axis=(0, 2, 3))
    np.testing.assert_allclose(z.std(axis=(0, 2, 3)), 1.0)
    mean, std = x.mean(axis=(0, 2, 3)), x.std(axis=(0, 2, 3))  # shape (3,)
    np.testing.assert_allclose(data.standardize(x, mean, std, axis=(0, 2, 3)), z)
    np.testing.assert_allclose(data.standardize(x, axis=None).std(), 1.0)


def test_standardize_constant_feature_and_dtypes():
    x = np.array([[1, 5], [3, 5]], dtype=np.uint8)
    z = data.standardize(x)
    assert z.dtype == np.float32
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z, [[-1, 0], [1, 0]])
    assert data.standardize(np.ones((3, 2))).dtype == np.float64


def test_standardize_rejects_bad_statistics():
    x = np.zeros((4, 3))
    with pytest.raises(ValueError, match="given together"):
        data.standardize(x, mean=np.zeros(3))
    with pytest.raises(ValueError, match=r"mean has shape \(4,\)"):
        data.standardize(x, np.zeros(4), np.ones(4))
    with pytest.raises(ValueError, match="axis 2 is out of range"):
        data.standardize(x, axis=2)


# --------------------------------------------------------------------------- synthetic sets


SYNTHETIC = [
    ("spirals", lambda seed: data.spirals(120, 3, noise=0.05, seed=seed), 3),
    ("moons", lambda seed: data.moons(101, noise=0.1, seed=seed), 2),
    ("ellipses", lambda seed: data.ellipses(101, noise=0.1, seed=seed), 2),
]


@pytest.mark.parametrize("name, make, n_classes", SYNTHETIC, ids=[s[0] for s in SYNTHETIC])
def test_synthetic_classification_sets(name, make, n_classes, global_rng_untouched):
    x, y = make(0)
    assert x.dtype == np.float32 and y.dtype == np.int64
    assert x.shape == (len(y), 2)
    assert set(np.unique(y).tolist()) == set(range(n_classes))
    assert np.bincount(y).max() - np.bincount(y).min() <= 1
    x2, y2 = make(0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    assert not np.array_equal(x, make(1)[0])


def test_moons_geometry_without_noise():
    x, y = data.moons(100, seed=0, shuffle=False)
    upper, lower = x[y == 0], x[y == 1]
    assert len(upper) == 50 and len(lower) == 50
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-6)
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0, atol=1e-6)
    assert (upper[:, 1] >= -1e-6).all() and (lower[:, 1] <= 0.5 + 1e-6).all()


def test_spirals_arms_wind_outwards():
    x, y = data.spirals(200, n_classes=2, seed=0, shuffle=False)
    for k in range(2):
        radius = np.hypot(*x[y == k].T)
        assert np.all(np.diff(radius) > 0)
        assert radius.max() == pytest.approx(1.0, abs=1e-6)
    # the two arms are rotated copies of each other (half a turn apart)
    np.testing.assert_allclose(x[y == 1], -x[y == 0], atol=1e-6)


def test_ellipses_geometry_without_noise():
    x, y = data.ellipses(200, seed=0, factor=0.4)
    level = (x[:, 0] / 2) ** 2 + x[:, 1] ** 2
    np.testing.assert_allclose(level[y == 0], 1.0, atol=1e-5)
    np.testing.assert_allclose(level[y == 1], 0.16, atol=1e-5)


def test_regression_is_linear_plus_noise():
    x, y, coef = data.regression(2000, 3, noise=0.5, seed=0, bias=1.5, return_coef=True)
    assert x.shape == (2000, 3) and y.shape == (2000,) and coef.shape == (3,)
    assert x.dtype == y.dtype == coef.dtype == np.float32
    residual = y - (x @ coef + 1.5)
    assert residual.std() == pytest.approx(0.5, rel=0.1)
    design = np.hstack([x, np.ones((2000, 1), np.float32)])
    fitted = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(fitted, np.append(coef, 1.5), atol=0.05)
    x2, y2 = data.regression(2000, 3, noise=0.5, seed=0, bias=1.5)
    np.testing.assert_array_equal(y, y2)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: data.spirals(0), "n_samples"),
        (lambda: data.spirals(10, n_classes=1), "n_classes"),
        (lambda: data.moons(10, noise=-0.1), "noise"),
        (lambda: data.ellipses(10, factor=1.5), "factor"),
        (lambda: data.regression(10, n_features=0), "n_features"),
        (lambda: data.moons(10, seed=-1), "seed"),
        (lambda: data.moons(10, seed=np.array([0.5])), "seed"),
    ],
)
def test_synthetic_sets_reject_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
