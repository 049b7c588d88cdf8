"""funcnn.random.gumbel and funcnn.random.categorical: distributions (chi-square and
Kolmogorov-Smirnov statistics on many draws from fixed keys, against bounds far out in their
tails, so the tests are deterministic and not borderline), determinism, shapes as in JAX,
jit, vmap over keys, traced logits and argument errors."""
import math

import numpy as np
import pytest

import funcnn as fn
import funcnn.numpy as fnp
from funcnn import random


def chi_square(counts, probs):
    expected = probs * counts.sum()
    seen = expected > 0
    assert counts[~seen].sum() == 0, "a category of probability 0 was drawn"
    return float(((counts[seen] - expected[seen]) ** 2 / expected[seen]).sum())


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_gumbel_distribution(dtype):
    g = random.gumbel(random.key(0), (200_000,), dtype)
    assert g.dtype == dtype and g.shape == (200_000,) and np.isfinite(g).all()
    x = np.sort(g.astype(np.float64))
    cdf = np.exp(-np.exp(-x))
    n = len(x)
    ks = max(np.max(np.arange(1, n + 1) / n - cdf), np.max(cdf - np.arange(n) / n))
    tol = 2e-3 if dtype == np.float16 else 0.0  # float16 rounding moves the empirical CDF a little
    assert ks < 2.0 / math.sqrt(n) + tol  # P(KS > 2 / sqrt(n)) is about 7e-4 for a true Gumbel
    assert abs(x.mean() - 0.5772156649) < 0.02 and abs(x.var() - math.pi**2 / 6) < 0.05


def test_gumbel_is_deterministic_and_keyed():
    a = random.gumbel(random.key(7), (3, 4))
    assert a.tobytes() == random.gumbel(random.key(7), (3, 4)).tobytes()
    assert not np.array_equal(a, random.gumbel(random.key(8), (3, 4)))
    assert random.gumbel(random.key(0)).shape == () and random.gumbel(random.key(0), 5).shape == (5,)


def test_categorical_frequencies():
    probs = np.array([0.05, 0.0, 0.15, 0.3, 0.5])
    with np.errstate(divide="ignore"):
        logits = np.log(probs) + 3.0  # unnormalized: any shift gives the same distribution
    draws = random.categorical(random.key(1), logits, shape=(100_000,))
    assert draws.shape == (100_000,) and draws.dtype == np.int64
    counts = np.bincount(draws, minlength=5)
    assert chi_square(counts, probs) < 30.0  # 3 degrees of freedom: P(chi2 > 30) is about 1e-6


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_categorical_batches_along_any_axis(dtype):
    probs = np.array([[0.1, 0.6, 0.3], [0.8, 0.1, 0.1]])  # two distributions, categories along axis 1
    logits = np.log(probs).astype(dtype)
    draws = random.categorical(random.key(2), logits.T, axis=0, shape=(40_000, 2))
    assert draws.shape == (40_000, 2)
    for row in range(2):
        counts = np.bincount(draws[:, row], minlength=3)
        assert chi_square(counts, probs[row]) < 30.0  # 2 degrees of freedom: P(chi2 > 30) is about 3e-7


def test_shapes_as_jax():
    logits = np.zeros((2, 3, 4))
    assert random.categorical(random.key(0), logits).shape == (2, 3)
    assert random.categorical(random.key(0), logits, axis=1).shape == (2, 4)
    assert random.categorical(random.key(0), logits, axis=0, shape=(5, 3, 4)).shape == (5, 3, 4)
    assert random.categorical(random.key(0), np.zeros((1, 4)), shape=(6, 3)).shape == (6, 3)
    assert random.categorical(random.key(0), np.zeros(4)).shape == ()
    assert random.categorical(random.key(0), np.zeros(4), shape=7).shape == (7,)
    draws = random.categorical(random.key(0), logits, axis=-2, shape=(2, 2, 4))
    assert draws.max() <= 2


def test_minus_infinity_is_never_drawn_and_one_finite_logit_always_is():
    logits = np.array([-np.inf, 0.0, -np.inf, 1.0])
    draws = random.categorical(random.key(3), logits, shape=(20_000,))
    assert set(draws.tolist()) == {1, 3}
    only = random.categorical(random.key(4), np.array([-np.inf, -np.inf, 5.0]), shape=(1000,))
    assert (only == 2).all()


def test_categorical_is_deterministic_and_keyed():
    logits = np.zeros((8, 10))
    a = random.categorical(random.key(5), logits)
    assert np.array_equal(a, random.categorical(random.key(5), logits))
    assert not np.array_equal(a, random.categorical(random.key(6), logits))


def test_jit_and_make_graph_replay_the_same_draws():
    logits = np.log(np.array([0.2, 0.3, 0.5]))
    key = random.key(9)
    eager = random.categorical(key, logits, shape=(50,))
    jitted = fn.jit(lambda k, z: random.categorical(k, z, shape=(50,)))
    np.testing.assert_array_equal(jitted(key, logits), eager)
    np.testing.assert_array_equal(jitted(key, logits), eager)  # the cached plan
    graph = fn.make_graph(lambda k: random.gumbel(k, (3,), np.float64))(key)
    assert "random_gumbel" in str(graph)
    np.testing.assert_array_equal(graph(key), random.gumbel(key, (3,), np.float64))


def test_vmap_over_keys_matches_a_loop():
    keys = random.split(random.key(0), 5)
    logits = np.log(np.array([[0.2, 0.8], [0.6, 0.4]]))
    batched = fn.vmap(lambda k: random.categorical(k, logits, shape=(3, 2)))(keys)
    np.testing.assert_array_equal(batched, np.stack([random.categorical(k, logits, shape=(3, 2)) for k in keys]))
    noise = fn.vmap(lambda k: random.gumbel(k, (4,)))(keys)
    np.testing.assert_array_equal(noise, np.stack([random.gumbel(k, (4,)) for k in keys]))
    per_logits = fn.vmap(lambda z: random.categorical(keys[0], z))(logits)
    np.testing.assert_array_equal(per_logits, [random.categorical(keys[0], row) for row in logits])


def test_traced_logits_carry_no_derivative():
    def loss(logits):
        pick = random.categorical(random.key(0), logits)
        return fnp.sum(logits) * 0.0 + fnp.sum(fnp.take(logits, pick))

    g = fn.grad(loss)(np.array([0.0, 1.0, 2.0]))
    assert g.shape == (3,) and g.sum() == 1.0  # only through the picked logit


def test_argument_errors():
    key = random.key(0)
    with pytest.raises(TypeError, match="key must be"):
        random.categorical(0, np.zeros(3))
    with pytest.raises(TypeError, match="key must be"):
        random.gumbel(random.split(key, 2))
    with pytest.raises(np.exceptions.AxisError, match="categorical: axis"):
        random.categorical(key, np.zeros((2, 3)), axis=2)
    with pytest.raises(TypeError, match="axis must be an integer"):
        random.categorical(key, np.zeros(3), axis=0.5)
    with pytest.raises(TypeError, match="floating-point logits"):
        random.categorical(key, np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="at least one axis"):
        random.categorical(key, 1.0)
    with pytest.raises(ValueError, match="at least one category"):
        random.categorical(key, np.zeros((2, 0)))
    with pytest.raises(ValueError, match=r"shape \(3,\) is not broadcast-compatible .* batch shape \(2,\)"):
        random.categorical(key, np.zeros((2, 4)), shape=(3,))
    with pytest.raises(ValueError, match="not broadcast-compatible"):
        random.categorical(key, np.zeros((2, 4)), shape=())
    with pytest.raises(TypeError, match="floating dtype"):
        random.gumbel(key, (2,), np.int32)
