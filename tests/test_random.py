"""Tests for funcnn.random: Threefry known answers, determinism, statistics, errors."""
import hashlib
import math
import statistics

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from funcnn import random
from funcnn.random._from_words import open_unit as _open_unit
from funcnn.random._from_words import unit_float as _unit_float
from funcnn.random._ieee_math import exp as _exp
from funcnn.random._ieee_math import log as _log
from funcnn.random._ieee_math import ndtr as _ndtr
from funcnn.random._ieee_math import ndtri as _ndtri
from funcnn.random._threefry import blocks as _blocks
from funcnn.random._threefry import threefry2x32 as _threefry2x32
from funcnn.random._threefry import threefry_block as _threefry_block

KEY = random.key(0)


def fingerprint(x):
    return hashlib.sha256(np.ascontiguousarray(x).tobytes()).hexdigest()[:16]


def ks_statistic(samples, cdf):
    """Kolmogorov-Smirnov distance between a sample and a CDF."""
    x = np.sort(np.asarray(samples, dtype=np.float64))
    n = x.size
    f = cdf(x)
    return max((np.arange(1, n + 1) / n - f).max(), (f - np.arange(n) / n).max())


normal_cdf = np.vectorize(lambda z: 0.5 * math.erfc(-z / math.sqrt(2.0)))


# --------------------------------------------------------------------------
# Threefry-2x32 known answers (Random123 test vectors: rounds, counter, key)
# --------------------------------------------------------------------------

THREEFRY_VECTORS = [
    (20, (0x00000000, 0x00000000), (0x00000000, 0x00000000), (0x6B200159, 0x99BA4EFE)),
    (20, (0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
    (20, (0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xC4923A9C, 0x483DF7A0)),
    (13, (0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0xFD36D048, 0x2D17272C)),
    (13, (0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xBA3E4725, 0xF27D669E)),
    (32, (0x00000000, 0x00000000), (0x00000000, 0x00000000), (0xCEE3D47E, 0xA23DFD5C)),
    (32, (0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x6E2FE0D0, 0xB1B76F82)),
    (32, (0x243F6A88, 0x85A308D3), (0x13198A2E, 0x03707344), (0xE2827716, 0xC3C05CDF)),
]


@pytest.mark.parametrize("rounds, counter, key, expected", THREEFRY_VECTORS)
def test_threefry_known_answers(rounds, counter, key, expected):
    x0 = np.array([counter[0]], np.uint32)
    x1 = np.array([counter[1]], np.uint32)
    y0, y1 = _threefry2x32(key[0], key[1], x0, x1, rounds=rounds)
    assert (int(y0[0]), int(y1[0])) == expected
    assert y0.dtype == y1.dtype == np.uint32
    assert _threefry_block(key[0], key[1], counter[0], counter[1], rounds=rounds) == expected


def test_scalar_and_vector_threefry_agree():
    words = random.bits(random.key(11), (6, 2)).tolist()
    k0, k1 = words[0]
    counters = words[1:]
    y0, y1 = _threefry2x32(
        k0, k1, np.array([c[0] for c in counters], np.uint32),
        np.array([c[1] for c in counters], np.uint32),
    )
    expected = list(zip(y0.tolist(), y1.tolist(), strict=True))
    assert [_threefry_block(k0, k1, *c) for c in counters] == expected
    # Short streams take the scalar path, long ones the vector path.
    np.testing.assert_array_equal(random.bits(KEY, (4,)), random.bits(KEY, (1000,))[:4])


def test_threefry_vectorized_matches_one_at_a_time():
    counters = [v[1] for v in THREEFRY_VECTORS[:3]]
    x0 = np.array([c[0] for c in counters], np.uint32)
    x1 = np.array([c[1] for c in counters], np.uint32)
    y0, y1 = _threefry2x32(0x13198A2E, 0x03707344, x0, x1)
    for i, (c0, c1) in enumerate(counters):
        z0, z1 = _threefry2x32(
            0x13198A2E, 0x03707344, np.array([c0], np.uint32), np.array([c1], np.uint32)
        )
        assert (y0[i], y1[i]) == (z0[0], z1[0])


def test_threefry_does_not_modify_inputs():
    x0 = np.arange(4, dtype=np.uint32)
    x1 = np.zeros(4, np.uint32)
    _threefry2x32(1, 2, x0, x1)
    assert x0.tolist() == [0, 1, 2, 3] and x1.tolist() == [0, 0, 0, 0]


def test_stream_is_threefry_of_block_counters():
    # Word 2i and 2i+1 of a key's stream are Threefry of counter (0, i).
    words = random.bits(KEY, (6,))
    y0, y1 = _threefry2x32(0, 0, np.zeros(3, np.uint32), np.arange(3, dtype=np.uint32))
    assert words.tolist() == np.stack([y0, y1], axis=1).ravel().tolist()
    assert words[:2].tolist() == [0x6B200159, 0x99BA4EFE]


def test_counters_carry_into_the_high_word():
    out = _blocks((5, 6), 2**32 - 1, 2**32 + 1)
    y0, y1 = _threefry2x32(
        5, 6, np.array([0, 1], np.uint32), np.array([2**32 - 1, 0], np.uint32)
    )
    assert out.tolist() == [y0[0], y1[0], y0[1], y1[1]]


# --------------------------------------------------------------------------
# Keys, split, fold_in
# --------------------------------------------------------------------------


def test_key_representation():
    assert random.key(0).tolist() == [0, 0]
    assert random.key(42).tolist() == [0, 42]
    assert random.key(2**32 + 5).tolist() == [1, 5]
    assert random.key(-1).tolist() == [2**32 - 1, 2**32 - 1]
    assert random.key(np.int64(7)).tolist() == [0, 7]
    k = random.key(3)
    assert isinstance(k, np.ndarray) and k.dtype == np.uint32 and k.shape == (2,)
    assert random.PRNGKey is random.key


def test_split_shape_and_distinct_keys():
    keys = random.split(KEY, 100)
    assert keys.shape == (100, 2) and keys.dtype == np.uint32
    assert len({tuple(k) for k in keys.tolist()}) == 100
    assert random.split(KEY, 0).shape == (0, 2)
    k1, k2 = random.split(KEY)
    assert k1.shape == (2,) and not np.array_equal(k1, k2)
    assert not any(np.array_equal(k, KEY) for k in keys)


def test_split_is_deterministic():
    np.testing.assert_array_equal(random.split(KEY, 5), random.split(random.key(0), 5))


def test_fold_in_deterministic_and_distinct():
    keys = [random.fold_in(KEY, i) for i in range(200)]
    assert len({tuple(k.tolist()) for k in keys}) == 200
    np.testing.assert_array_equal(random.fold_in(KEY, 3), random.fold_in(random.key(0), 3))
    assert all(k.dtype == np.uint32 and k.shape == (2,) for k in keys)
    # Negative data is taken modulo 2**64.
    np.testing.assert_array_equal(random.fold_in(KEY, -1), random.fold_in(KEY, 2**64 - 1))
    assert not np.array_equal(random.fold_in(KEY, 1), random.fold_in(KEY, 2**32 + 1))


def test_fold_in_separate_from_split_and_draws():
    split_keys = {tuple(k) for k in random.split(KEY, 1000).tolist()}
    folded = {tuple(random.fold_in(KEY, i).tolist()) for i in range(1000)}
    assert not split_keys & folded
    words = set(random.bits(KEY, (2000,)).tolist())
    assert not words & {w for k in folded for w in k}


def test_split_streams_are_uncorrelated():
    k1, k2 = random.split(KEY)
    streams = [random.uniform(k, (20_000,), np.float64) for k in (k1, k2, KEY)]
    streams.append(random.uniform(random.fold_in(KEY, 0), (20_000,), np.float64))
    corr = np.corrcoef(np.stack(streams))
    off_diagonal = corr[~np.eye(len(streams), dtype=bool)]
    assert np.abs(off_diagonal).max() < 0.03  # ~4 standard errors


def test_nearby_seeds_give_unrelated_streams():
    a = random.uniform(random.key(0), (20_000,), np.float64)
    b = random.uniform(random.key(1), (20_000,), np.float64)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    assert not np.isclose(a, b).any()


# --------------------------------------------------------------------------
# Determinism: hard-coded values catch any change of algorithm
# --------------------------------------------------------------------------


def test_hard_coded_values():
    assert random.split(KEY).tolist() == [[1797259609, 2579123966], [928981903, 3453687069]]
    assert random.fold_in(KEY, 1).tolist() == [423478128, 794415097]
    np.testing.assert_array_equal(
        random.uniform(KEY, (4,)),
        np.array([0.41845703, 0.60049903, 0.21629536, 0.8041241], np.float32),
    )
    np.testing.assert_array_equal(
        random.normal(KEY, (2,), np.float64), np.array([-0.20584213947964325, -0.7847657764467408])
    )


SEVEN = random.key(7)
FINGERPRINTS = [
    ("split", lambda: random.split(SEVEN, 5), "24ad8a08454f3118"),
    ("fold_in", lambda: random.fold_in(SEVEN, 12345), "5b98498cfe310787"),
    ("uniform32", lambda: random.uniform(SEVEN, (100001,)), "e7f615ad9b0b7fb9"),
    ("uniform64", lambda: random.uniform(SEVEN, (100001,), "float64"), "b8401e96ab68b58d"),
    ("uniform16", lambda: random.uniform(SEVEN, (1001,), "float16"), "7d597f2dbddac954"),
    ("normal32", lambda: random.normal(SEVEN, (100001,)), "894544598c182295"),
    ("normal64", lambda: random.normal(SEVEN, (100001,), "float64"), "04bab011917bd5b1"),
    (
        "truncated_normal",
        lambda: random.truncated_normal(SEVEN, -2, 3, (10000,), "float64"),
        "374541cff3c8400c",
    ),
    ("bernoulli", lambda: random.bernoulli(SEVEN, 0.3, (10000,)), "6f036f7f0310cfa5"),
    ("randint", lambda: random.randint(SEVEN, (10000,), -5, 2**31 + 7), "df69797584a8b000"),
    ("randint64", lambda: random.randint(SEVEN, (1000,), -(2**63), 2**63 - 1), "42a73cb688466967"),
    ("permutation", lambda: random.permutation(SEVEN, 1000), "8f010bbef5a0686a"),
    ("choice", lambda: random.choice(SEVEN, 50, (100,)), "dd073b33bad8f8bb"),
    (
        "choice_p",
        lambda: random.choice(SEVEN, 5, (100,), p=[0.1, 0.2, 0.3, 0.4, 0]),
        "eb2d47c00c9794be",
    ),
]


@pytest.mark.parametrize("name, draw, expected", FINGERPRINTS, ids=[f[0] for f in FINGERPRINTS])
def test_bit_identical_fingerprints(name, draw, expected):
    assert fingerprint(draw()) == expected


# Draws of every function and dtype, fingerprinted with the single-file implementation
# that preceded the package (funcnn/random.py at d4f83e7): the split into primitives
# must not change a bit, a dtype or a shape.
OLD_IMPLEMENTATION = [
    ("key_max", lambda: random.key(2**64 - 1), "uint32", (2,), "12a3ae445661ce5d"),
    ("key_negative", lambda: random.key(-5), "uint32", (2,), "058b6a284b1f86eb"),
    ("split_40", lambda: random.split(random.key(3), 40), "uint32", (40, 2), "f8fd73803f5e3ef9"),
    ("fold_in_negative", lambda: random.fold_in(SEVEN, -1), "uint32", (2,), "1e4aac1c0af24080"),
    ("fold_in_high_word", lambda: random.fold_in(SEVEN, 2**40 + 3), "uint32", (2,), "c28e787aed464fce"),
    ("bits32", lambda: random.bits(SEVEN, (3, 5)), "uint32", (3, 5), "ab9155c669c10ff7"),
    ("bits64", lambda: random.bits(SEVEN, (7,), np.uint64), "uint64", (7,), "271709d05839fda7"),
    ("uniform16", lambda: random.uniform(SEVEN, (3, 4), np.float16), "float16", (3, 4), "4a7bd63b793b4a1d"),
    ("uniform64", lambda: random.uniform(SEVEN, (33,), np.float64), "float64", (33,), "6c4eae053efec893"),
    ("uniform32_chunks", lambda: random.uniform(SEVEN, (70001,)), "float32", (70001,), "024f9102d0b4cfb9"),
    ("uniform16_bounds", lambda: random.uniform(SEVEN, (100,), np.float16, -2.0, 3.0), "float16", (100,),
     "e429b99c4b810585"),
    ("uniform64_bounds", lambda: random.uniform(SEVEN, (100,), np.float64, -2.0, 3.0), "float64", (100,),
     "7d8bb31b4ca2ff0f"),
    ("uniform_scalar_bounds", lambda: random.uniform(SEVEN, (), np.float32, 2.0, 3.0), "float32", (),
     "ee30e80638e16340"),
    ("uniform_array_bounds", lambda: random.uniform(SEVEN, (2, 50), np.float32, np.array([[0.0], [10.0]]),
                                                    np.array([[1.0], [11.0]])), "float32", (2, 50), "9d612d8eaf8aa7cb"),
    ("uniform_mixed_bounds", lambda: random.uniform(SEVEN, (4, 3), np.float64, np.float32(-1.5), [1.0, 2.0, 3.0]),
     "float64", (4, 3), "a72fd34c23bbbf79"),
    ("uniform_int_bounds", lambda: random.uniform(SEVEN, (100,), np.float32, 2**60 + 1, 2**61), "float32", (100,),
     "5d7a72ade079acea"),
    ("normal16", lambda: random.normal(SEVEN, (300,), np.float16), "float16", (300,), "36e31752414bf8b7"),
    ("normal32", lambda: random.normal(SEVEN, (3001,)), "float32", (3001,), "c2655032cb62d7a6"),
    ("normal64_chunks", lambda: random.normal(random.key(9), (70000,), np.float64), "float64", (70000,),
     "368e9fb98f065462"),
    ("truncated16", lambda: random.truncated_normal(SEVEN, -2.0, 2.0, (500,), np.float16), "float16", (500,),
     "48e13e3a0f4ef4a6"),
    ("truncated32", lambda: random.truncated_normal(SEVEN, -2.0, 2.0, (500,)), "float32", (500,), "f38f4efaeab9fc50"),
    ("truncated_far_tail", lambda: random.truncated_normal(SEVEN, 30.0, 31.0, (500,), np.float64), "float64", (500,),
     "da4cd7bc90d6ddba"),
    ("truncated_broadcast", lambda: random.truncated_normal(SEVEN, np.array([-1.0, 0.0, 5.0]), 7.0, None), "float32",
     (3,), "62cee8a3407084db"),
    ("bernoulli_array_p", lambda: random.bernoulli(SEVEN, np.array([0.1, 0.5, 0.9], np.float32), (100, 3)), "bool",
     (100, 3), "f6af6b709031fc5b"),
    ("randint_uint64_full", lambda: random.randint(SEVEN, (1000,), 0, 2**64, np.uint64), "uint64", (1000,),
     "43e5920fd9858b4b"),
    ("randint_int8", lambda: random.randint(SEVEN, (1000,), -128, 128, np.int8), "int8", (1000,), "2f396e049e90bf11"),
    ("randint_uint32_awkward", lambda: random.randint(SEVEN, (1000,), 0, 3 * 2**30, np.uint32), "uint32", (1000,),
     "4e76ab9f686db6d0"),
    ("permutation_axis", lambda: random.permutation(SEVEN, np.arange(24).reshape(2, 3, 4), 1), "int64", (2, 3, 4),
     "673156c2172bdfd6"),
    ("choice_no_replace", lambda: random.choice(SEVEN, 100, (4, 5), replace=False), "int64", (4, 5),
     "c168792393f8fae6"),
    ("choice_no_replace_p", lambda: random.choice(SEVEN, 4, (3,), replace=False, p=[0.5, 0.0, 0.3, 0.2]), "int64",
     (3,), "c431e82c011aea2f"),
    ("choice_p32", lambda: random.choice(SEVEN, 5, (100,), p=np.array([0.1, 0.2, 0.3, 0.4, 0], np.float32)), "int64",
     (100,), "eb2d47c00c9794be"),
    ("choice_array_axis", lambda: random.choice(SEVEN, np.arange(24.0).reshape(2, 3, 4), (), axis=2), "float64",
     (2, 3), "c39030a1f998024a"),
    ("choice_wide_population", lambda: random.choice(SEVEN, 2**33, (10,)), "int64", (10,), "65e99d24414af8e4"),
]


@pytest.mark.parametrize("name, draw, dtype, shape, expected", OLD_IMPLEMENTATION,
                         ids=[d[0] for d in OLD_IMPLEMENTATION])
def test_same_bits_as_the_single_file_implementation(name, draw, dtype, shape, expected):
    out = draw()
    assert isinstance(out, np.ndarray)
    assert (out.dtype, out.shape) == (np.dtype(dtype), shape)
    assert fingerprint(out) == expected


def test_same_key_same_bits_across_calls():
    for draw in (random.uniform, random.normal):
        a = draw(KEY, (1000,))
        b = draw(random.key(0), (1000,))
        assert a.tobytes() == b.tobytes()


def test_no_global_state():
    before = np.random.get_state()[1].copy()
    first = random.normal(KEY, (100,))
    random.uniform(random.key(5), (100,))
    assert random.normal(KEY, (100,)).tobytes() == first.tobytes()
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_values_do_not_depend_on_chunking():
    big = random.uniform(KEY, (300_000,), np.float64)
    assert big[:10].tobytes() == random.uniform(KEY, (10,), np.float64).tobytes()
    normals = random.normal(KEY, (200_001,))
    assert normals[:5].tobytes() == random.normal(KEY, (5,)).tobytes()


# --------------------------------------------------------------------------
# Uniform
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype, bits", [(np.float16, 10), (np.float32, 23), (np.float64, 52)])
def test_uniform_values_are_exact_grid_points(dtype, bits):
    u = random.uniform(KEY, (50_000,), dtype)
    assert u.dtype == dtype
    assert u.min() >= 0.0 and u.max() < 1.0
    scaled = u.astype(np.float64) * 2.0**bits
    np.testing.assert_array_equal(scaled, np.floor(scaled))


def test_unit_float_extremes():
    words = np.array([0, 0xFFFFFFFF], np.uint32)
    assert _unit_float(words, np.dtype(np.float32)).tolist() == [0.0, 1.0 - 2.0**-23]
    pairs = np.array([0, 0, 0xFFFFFFFF, 0xFFFFFFFF, 0, 0xFFFFFFFF], np.uint32)
    expected = [0.0, 1.0 - 2.0**-52, 2.0**-32 - 2.0**-52]
    assert _unit_float(pairs, np.dtype(np.float64)).tolist() == expected


def test_uniform_moments_and_ks():
    u = random.uniform(random.key(1), (200_000,), np.float64)
    assert abs(u.mean() - 0.5) < 0.003  # standard error 0.00065
    assert abs(u.var() - 1 / 12) < 0.002
    assert ks_statistic(u, lambda x: x) < 1.63 / math.sqrt(u.size) * 1.5
    counts = np.bincount((u * 20).astype(int), minlength=20)
    expected = u.size / 20
    assert ((counts - expected) ** 2 / expected).sum() < 50  # chi-square, 19 dof


def test_uniform_minval_maxval():
    x = random.uniform(KEY, (10_000,), np.float64, minval=-3.0, maxval=5.0)
    assert x.min() >= -3.0 and x.max() < 5.0
    assert abs(x.mean() - 1.0) < 0.1
    lo = np.array([[0.0], [10.0]])
    y = random.uniform(KEY, (2, 500), minval=lo, maxval=lo + 1.0)
    assert y.dtype == np.float32
    assert (y[0] < 1.0).all() and (y[1] >= 10.0).all() and (y[1] < 11.0).all()


def test_uniform_stays_below_maxval_when_rounding_would_reach_it():
    one = np.float32(1.0)
    next_up = np.nextafter(one, np.float32(2.0))
    x = random.uniform(KEY, (1000,), np.float32, minval=one, maxval=next_up)
    assert (x == one).all()


def test_uniform_scalar_shape_returns_array():
    u = random.uniform(KEY)
    assert isinstance(u, np.ndarray) and u.shape == () and u.dtype == np.float32
    v = random.uniform(KEY, (), minval=2.0, maxval=3.0)
    assert isinstance(v, np.ndarray) and v.shape == () and 2.0 <= v < 3.0


@given(seed=st.integers(0, 2**64 - 1), shape=st.lists(st.integers(0, 5), max_size=3))
def test_uniform_property(seed, shape):
    u = random.uniform(random.key(seed), shape)
    assert u.shape == tuple(shape) and u.dtype == np.float32
    assert ((u >= 0.0) & (u < 1.0)).all()
    assert u.tobytes() == random.uniform(random.key(seed), shape).tobytes()


# --------------------------------------------------------------------------
# Normal and truncated normal
# --------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normal_moments_and_ks(dtype):
    z = random.normal(random.key(2), (200_000,), dtype)
    assert z.dtype == dtype
    assert np.isfinite(z).all()
    assert abs(z.mean()) < 0.01  # standard error 0.0022
    assert abs(z.var() - 1.0) < 0.015
    assert ks_statistic(z, normal_cdf) < 1.63 / math.sqrt(z.size) * 1.5
    tail = np.mean(np.abs(z) > 3.0)
    assert abs(tail - 0.0026998) < 0.0006


def test_normal_float16():
    z = random.normal(KEY, (1000,), np.float16)
    assert z.dtype == np.float16 and np.isfinite(z).all()


def test_normal_extremes_are_finite_and_symmetric():
    words = np.array([0, 0xFFFFFFFF], np.uint32)
    z32 = _ndtri(_open_unit(words, np.dtype(np.float32)))
    assert np.isfinite(z32).all() and z32[0] == -z32[1] and 6.0 < z32[1] < 7.0
    pairs = np.array([0, 0, 0xFFFFFFFF, 0xFFFFFFFF], np.uint32)
    z64 = _ndtri(_open_unit(pairs, np.dtype(np.float64)))
    assert np.isfinite(z64).all() and z64[0] == -z64[1] and 8.0 < z64[1] < 8.5


def test_ndtri_matches_reference_quantile():
    reference = statistics.NormalDist()
    p = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 2001), 10.0 ** -np.arange(1.0, 300.0, 7.0)])
    got = _ndtri(p)
    want = np.array([reference.inv_cdf(float(v)) for v in p])
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-15)
    assert _ndtri(np.array([0.5]))[0] == 0.0
    assert np.isfinite(_ndtri(np.array([0.0, 1.0, 5e-324]))).all()


def test_ndtr_matches_erfc_and_inverts_ndtri():
    z = np.concatenate([np.linspace(-8, 8, 1601), np.linspace(-37, -8, 300)])
    want = normal_cdf(z)
    np.testing.assert_allclose(_ndtr(z), want, rtol=2e-13)
    lower = z[z < 0]
    np.testing.assert_allclose(_ndtri(_ndtr(lower)), lower, rtol=1e-13)
    assert _ndtr(np.array([-np.inf]))[0] == 0.0 and _ndtr(np.array([np.inf]))[0] == 1.0


def test_log_and_exp_match_math_module():
    x = np.concatenate([10.0 ** np.linspace(-320, 300, 4001), np.linspace(0.5, 2.0, 1001)])
    want = np.array([math.log(v) for v in x])
    assert (np.abs(_log(x) - want) <= 2 * np.spacing(np.abs(want))).all()
    y = np.linspace(-700, 700, 4001)
    want = np.array([math.exp(v) for v in y])
    assert (np.abs(_exp(y) - want) <= 2 * np.spacing(want)).all()


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_truncated_normal_bounds_and_dtype(dtype):
    x = random.truncated_normal(KEY, -2.0, 2.0, (20_000,), dtype)
    assert x.dtype == dtype
    assert x.min() >= -2.0 and x.max() <= 2.0
    assert abs(float(x.astype(np.float64).mean())) < 0.03


def test_truncated_normal_ks():
    a, b = -0.5, 1.5
    x = random.truncated_normal(random.key(3), a, b, (100_000,), np.float64)
    pa, pb = normal_cdf(a), normal_cdf(b)
    distance = ks_statistic(x, lambda v: (normal_cdf(v) - pa) / (pb - pa))
    assert distance < 1.63 / math.sqrt(x.size) * 1.5


def test_truncated_normal_one_sided_and_tails():
    x = random.truncated_normal(KEY, 1.0, np.inf, (100_000,), np.float64)
    mills = math.exp(-0.5) / math.sqrt(2 * math.pi) / (0.5 * math.erfc(1 / math.sqrt(2)))
    assert x.min() >= 1.0 and abs(x.mean() - mills) < 0.01
    y = random.truncated_normal(KEY, -np.inf, -1.0, (100_000,), np.float64)
    assert y.max() <= -1.0 and abs(y.mean() + mills) < 0.01
    z = random.truncated_normal(KEY, -np.inf, np.inf, (100_000,), np.float64)
    assert np.isfinite(z).all() and abs(z.std() - 1.0) < 0.01
    # Far tail: nearly exponential with rate 30 above the lower bound.
    far = random.truncated_normal(KEY, 30.0, 31.0, (100_000,), np.float64)
    assert far.min() >= 30.0 and far.max() <= 31.0
    assert abs((far - 30.0).mean() - 1 / 30.0) < 0.002


def test_truncated_normal_narrow_and_array_bounds():
    x = random.truncated_normal(KEY, 0.25, 0.2500001, (1000,), np.float64)
    assert x.min() >= 0.25 and x.max() <= 0.2500001
    lower = np.array([-1.0, 0.0, 5.0])
    upper = np.array([0.0, 1.0, 6.0])
    y = random.truncated_normal(KEY, lower, upper, (1000, 3), np.float64)
    assert (y >= lower).all() and (y <= upper).all()
    z = random.truncated_normal(KEY, lower, upper, None)
    assert z.shape == (3,) and z.dtype == np.float32


# --------------------------------------------------------------------------
# Bernoulli, randint
# --------------------------------------------------------------------------


def test_bernoulli_rate():
    b = random.bernoulli(random.key(4), 0.3, (100_000,))
    assert b.dtype == np.bool_ and b.shape == (100_000,)
    assert abs(b.mean() - 0.3) < 0.006  # standard error 0.0014
    assert not random.bernoulli(KEY, 0.0, (1000,)).any()
    assert random.bernoulli(KEY, 1.0, (1000,)).all()
    assert random.bernoulli(KEY).shape == ()


def test_bernoulli_per_element_p():
    p = np.array([0.1, 0.5, 0.9])
    b = random.bernoulli(KEY, p, (50_000, 3))
    np.testing.assert_allclose(b.mean(axis=0), p, atol=0.01)
    assert random.bernoulli(KEY, p).shape == (3,)


def test_randint_bins_roughly_uniform():
    x = random.randint(random.key(5), (100_000,), -3, 7)
    assert x.dtype == np.int64 and x.min() == -3 and x.max() == 6
    counts = np.bincount(x + 3, minlength=10)
    expected = x.size / 10
    assert ((counts - expected) ** 2 / expected).sum() < 40  # chi-square, 9 dof


def test_randint_is_unbiased_for_awkward_spans():
    # With plain `bits % span` the first third would come up half the time.
    span = 3 * 2**30
    x = random.randint(KEY, (60_000,), 0, span)
    assert abs(np.mean(x < 2**30) - 1 / 3) < 0.01
    # The same for a 64-bit span.
    span64 = 3 * 2**62
    y = random.randint(KEY, (60_000,), 0, span64, np.uint64)
    assert abs(np.mean(y < 2**62) - 1 / 3) < 0.01


@pytest.mark.parametrize(
    "dtype, low, high",
    [(np.int8, -128, 128), (np.uint8, 0, 256), (np.int32, -(2**31), 2**31),
     (np.uint64, 0, 2**64), (np.int64, -(2**63), 2**63)],
)
def test_randint_full_dtype_range(dtype, low, high):
    x = random.randint(KEY, (10_000,), low, high, dtype)
    assert x.dtype == dtype
    assert int(x.min()) >= low and int(x.max()) < high
    assert int(x.min()) < low + (high - low) // 8 and int(x.max()) > high - (high - low) // 8


def test_randint_single_value():
    assert (random.randint(KEY, (10,), 5, 6) == 5).all()


@given(
    seed=st.integers(0, 2**32 - 1),
    low=st.integers(-(2**63), 2**63 - 2),
    width=st.integers(1, 2**64),
)
def test_randint_property(seed, low, width):
    high = min(low + width, 2**63)
    x = random.randint(random.key(seed), (50,), low, high)
    assert x.dtype == np.int64
    assert all(low <= v < high for v in x.tolist())


# --------------------------------------------------------------------------
# Permutation and choice
# --------------------------------------------------------------------------


def test_permutation_is_a_permutation():
    p = random.permutation(KEY, 1000)
    assert p.dtype == np.int64
    np.testing.assert_array_equal(np.sort(p), np.arange(1000))
    assert not np.array_equal(p, np.arange(1000))
    assert random.permutation(KEY, 0).shape == (0,)


def test_permutation_is_uniform():
    counts = {}
    for i in range(3000):
        order = tuple(random.permutation(random.fold_in(KEY, i), 3).tolist())
        counts[order] = counts.get(order, 0) + 1
    assert len(counts) == 6
    observed = np.array(list(counts.values()))
    assert ((observed - 500) ** 2 / 500).sum() < 25  # chi-square, 5 dof
    first = np.array([random.permutation(random.fold_in(KEY, i), 10)[0] for i in range(2000)])
    assert ((np.bincount(first, minlength=10) - 200) ** 2 / 200).sum() < 35


def test_permutation_of_array_along_axis():
    x = np.arange(12).reshape(3, 4)
    rows = random.permutation(KEY, x)
    np.testing.assert_array_equal(np.sort(rows, axis=0), x)
    cols = random.permutation(KEY, x, axis=-1)
    assert cols.shape == (3, 4)
    np.testing.assert_array_equal(cols - cols[:1], x - x[:1])  # whole columns move
    np.testing.assert_array_equal(np.sort(cols, axis=1), x)
    assert random.permutation(KEY, [1.5, 2.5]).dtype == np.float64


def test_choice_uniform_with_replacement():
    c = random.choice(KEY, 4, (40_000,))
    assert c.dtype == np.int64 and c.shape == (40_000,)
    np.testing.assert_allclose(np.bincount(c, minlength=4) / c.size, 0.25, atol=0.01)


def test_choice_with_p():
    p = np.array([0.1, 0.0, 0.6, 0.3])
    c = random.choice(random.key(6), 4, (100_000,), p=p)
    freq = np.bincount(c, minlength=4) / c.size
    assert freq[1] == 0.0
    np.testing.assert_allclose(freq, p, atol=0.006)


def test_choice_without_replacement():
    c = random.choice(KEY, 10, (10,), replace=False)
    np.testing.assert_array_equal(np.sort(c), np.arange(10))
    d = random.choice(KEY, 100, (4, 5), replace=False)
    assert d.shape == (4, 5) and len(set(d.ravel().tolist())) == 20


def test_choice_without_replacement_with_p():
    p = np.array([0.5, 0.0, 0.3, 0.2])
    first = np.array(
        [random.choice(random.fold_in(KEY, i), 4, (3,), replace=False, p=p) for i in range(4000)]
    )
    assert (first != 1).all()
    assert all(len(set(row)) == 3 for row in first.tolist())
    # The first pick follows p; the second follows p renormalised without the first.
    np.testing.assert_allclose(np.bincount(first[:, 0], minlength=4) / 4000, p, atol=0.025)
    after_zero = first[first[:, 0] == 0, 1]
    np.testing.assert_allclose(
        np.bincount(after_zero, minlength=4)[[2, 3]] / after_zero.size, [0.6, 0.4], atol=0.04
    )


def test_choice_from_array_along_axis():
    a = np.arange(24).reshape(2, 3, 4)
    out = random.choice(KEY, a, (5,), axis=1)
    assert out.shape == (2, 5, 4)
    picks = random.choice(KEY, ["x", "y"], (3,))
    assert picks.shape == (3,) and set(picks.tolist()) <= {"x", "y"}
    assert random.choice(KEY, 5).shape == ()


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------

KEY_MESSAGE = r"key must be a uint32 array of shape \(2,\) from funcnn.random.key\(seed\); got"


@pytest.mark.parametrize(
    "bad, detail",
    [
        (np.zeros(2, np.int64), "int64 array of shape \\(2,\\)"),
        (np.zeros(3, np.uint32), "uint32 array of shape \\(3,\\)"),
        ([0, 0], "list"),
        (0, "make one with funcnn.random.key"),
        (np.zeros((4, 2), np.uint32), "index one, e.g. keys\\[0\\]"),
    ],
)
def test_bad_key(bad, detail):
    for fn in (
        lambda k: random.uniform(k),
        lambda k: random.split(k),
        lambda k: random.fold_in(k, 1),
        lambda k: random.randint(k, (), 0, 2),
    ):
        with pytest.raises(TypeError, match=KEY_MESSAGE + ".*" + detail):
            fn(bad)


def test_bad_seed_and_data():
    with pytest.raises(TypeError, match="seed must be an integer; got float 1.5"):
        random.key(1.5)
    with pytest.raises(ValueError, match=r"seed must be an integer in \[-2\*\*63, 2\*\*64\)"):
        random.key(2**64)
    with pytest.raises(TypeError, match="data must be an integer"):
        random.fold_in(KEY, "step")
    with pytest.raises(ValueError, match="data must be an integer in"):
        random.fold_in(KEY, -(2**63) - 1)


def test_bad_num():
    with pytest.raises(ValueError, match="num must be >= 0; got -1"):
        random.split(KEY, -1)
    with pytest.raises(TypeError, match="num must be an integer; got float"):
        random.split(KEY, 2.0)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"shape must have non-negative sizes; got \(2, -1\)"):
        random.uniform(KEY, (2, -1))
    with pytest.raises(TypeError, match="shape must be an int or a sequence of ints"):
        random.normal(KEY, 2.5)


@pytest.mark.parametrize("fn", ["uniform", "normal"])
def test_non_float_dtype(fn):
    with pytest.raises(TypeError, match=fn + r" needs a floating dtype \(float16, float32 or "
                       r"float64\); got int32"):
        getattr(random, fn)(KEY, (2,), np.int32)
    with pytest.raises(TypeError, match="got complex128"):
        getattr(random, fn)(KEY, (2,), np.complex128)
    with pytest.raises(TypeError, match="truncated_normal needs a floating dtype"):
        random.truncated_normal(KEY, -1.0, 1.0, (2,), np.int64)


def test_bad_uniform_bounds():
    with pytest.raises(ValueError, match="uniform needs minval < maxval"):
        random.uniform(KEY, (3,), minval=1.0, maxval=1.0)
    with pytest.raises(ValueError, match="maxval must be finite in float32"):
        random.uniform(KEY, (3,), minval=0.0, maxval=1e40)
    with pytest.raises(ValueError, match="minval must not be NaN"):
        random.uniform(KEY, (3,), minval=np.nan)
    with pytest.raises(ValueError, match="maxval - minval overflows float32"):
        random.uniform(KEY, (3,), minval=-3e38, maxval=3e38)
    with pytest.raises(ValueError, match=r"minval of shape \(2,\) does not broadcast to shape"):
        random.uniform(KEY, (3,), minval=[0.0, 1.0], maxval=2.0)


def test_bad_truncated_normal_bounds():
    with pytest.raises(ValueError, match="truncated_normal needs lower < upper"):
        random.truncated_normal(KEY, 1.0, -1.0)
    with pytest.raises(ValueError, match="interval this far in the tail"):
        random.truncated_normal(KEY, 40.0, 41.0)
    with pytest.raises(ValueError, match="upper of shape"):
        random.truncated_normal(KEY, 0.0, [1.0, 2.0], (3,))


def test_bad_randint():
    with pytest.raises(ValueError, match="randint needs minval < maxval; got minval=3, maxval=3"):
        random.randint(KEY, (2,), 3, 3)
    with pytest.raises(ValueError, match="randint needs minval < maxval; got minval=5, maxval=1"):
        random.randint(KEY, (2,), 5, 1)
    with pytest.raises(ValueError, match=r"randint bounds must fit uint8 \(\[0, 256\]\)"):
        random.randint(KEY, (2,), 0, 257, np.uint8)
    with pytest.raises(ValueError, match="randint bounds must fit int8"):
        random.randint(KEY, (2,), -129, 0, np.int8)
    with pytest.raises(TypeError, match="randint needs an integer dtype; got float32"):
        random.randint(KEY, (2,), 0, 5, np.float32)
    with pytest.raises(TypeError, match="minval must be an integer; got float"):
        random.randint(KEY, (2,), 0.5, 5)


def test_bad_probabilities():
    for bad in (1.5, -0.1, np.nan, [0.5, 2.0]):
        with pytest.raises(ValueError, match=r"p must (be in \[0, 1\]|not be NaN)"):
            random.bernoulli(KEY, bad)
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\]"):
        random.choice(KEY, 2, (3,), p=[1.5, -0.5])
    with pytest.raises(ValueError, match="p must sum to 1"):
        random.choice(KEY, 3, (3,), p=[0.2, 0.2, 0.2])
    with pytest.raises(ValueError, match=r"p must have shape \(3,\) to match the population"):
        random.choice(KEY, 3, (3,), p=[0.5, 0.5])
    with pytest.raises(ValueError, match=r"p of shape \(2,\) does not broadcast to shape \(3,\)"):
        random.bernoulli(KEY, [0.5, 0.5], (3,))


def test_bad_choice():
    with pytest.raises(
        ValueError, match="choice without replacement cannot pick 4 items from a population of 3"
    ):
        random.choice(KEY, 3, (4,), replace=False)
    with pytest.raises(ValueError, match="only 2 entries of p are non-zero"):
        random.choice(KEY, 3, (3,), replace=False, p=[0.5, 0.5, 0.0])
    with pytest.raises(ValueError, match="choice cannot pick from an empty population"):
        random.choice(KEY, 0, (1,))
    with pytest.raises(ValueError, match="choice needs a non-negative population size; got -2"):
        random.choice(KEY, -2)
    with pytest.raises(ValueError, match="axis 2 is out of range for an array of shape"):
        random.choice(KEY, np.zeros((2, 2)), axis=2)


def test_bad_permutation_and_bits():
    with pytest.raises(ValueError, match="permutation needs an int or an array with at least one"):
        random.permutation(KEY, np.float64(3.0))
    with pytest.raises(TypeError, match="bits needs dtype uint32 or uint64; got int32"):
        random.bits(KEY, (2,), np.int32)


def test_bits_uint64_combines_words():
    words = random.bits(KEY, (4,))
    wide = random.bits(KEY, (2,), np.uint64)
    assert wide.dtype == np.uint64
    high, low = words[0::2].tolist(), words[1::2].tolist()
    assert wide.tolist() == [h << 32 | w for h, w in zip(high, low, strict=True)]


@pytest.mark.parametrize(
    "draw",
    [
        lambda k: random.uniform(k, (0, 3)),
        lambda k: random.uniform(k, (0,), minval=2.0, maxval=3.0),
        lambda k: random.normal(k, (0,), np.float64),
        lambda k: random.truncated_normal(k, -1.0, 1.0, (0,)),
        lambda k: random.bernoulli(k, 0.5, (0,)),
        lambda k: random.randint(k, (0,), 0, 3**30),
        lambda k: random.bits(k, (0,), np.uint64),
        lambda k: random.choice(k, 0, (0,)),
        lambda k: random.choice(k, 5, (0,), replace=False, p=[0.2] * 5),
        lambda k: random.permutation(k, np.zeros((0, 3))),
    ],
)
def test_empty_shapes(draw):
    assert draw(KEY).size == 0


@given(seed=st.integers(0, 2**64 - 1), data=st.integers(-(2**63), 2**64 - 1))
def test_fold_in_and_split_property(seed, data):
    k = random.key(seed)
    folded = random.fold_in(k, data)
    assert folded.dtype == np.uint32 and folded.shape == (2,)
    assert folded.tobytes() == random.fold_in(random.key(seed), data).tobytes()
    children = random.split(folded, 3)
    assert children.shape == (3, 2) and len({tuple(c) for c in children.tolist()}) == 3


@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 40), data=st.data())
def test_choice_without_replacement_property(seed, n, data):
    size = data.draw(st.integers(0, n))
    picks = random.choice(random.key(seed), n, (size,), replace=False)
    assert len(set(picks.tolist())) == size and all(0 <= v < n for v in picks.tolist())


@pytest.mark.slow
def test_speed_ten_million_uniforms():
    import time

    start = time.perf_counter()
    random.uniform(KEY, (10_000_000,))
    assert time.perf_counter() - start < 3.0
