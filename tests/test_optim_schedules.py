"""Learning-rate schedules: values at chosen steps against their formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest

from funcnn import optim
from funcnn.optim import schedules


def test_schedules_are_re_exported_from_optim():
    for name in schedules.__all__:
        assert getattr(optim, name) is getattr(schedules, name)


def test_constant():
    f = schedules.constant(0.3)
    assert [f(0), f(7), f(10**6)] == [0.3, 0.3, 0.3]


def test_exponential_decay_smooth():
    f = schedules.exponential_decay(2.0, transition_steps=100, decay_rate=0.1)
    for count in [0, 1, 50, 100, 250]:
        assert f(count) == pytest.approx(2.0 * 0.1 ** (count / 100), rel=1e-14)


def test_exponential_decay_staircase_begin_and_end_value():
    f = schedules.exponential_decay(1.0, 10, 0.5, transition_begin=5, staircase=True, end_value=0.1)
    assert f(0) == 1.0 and f(5) == 1.0 and f(14) == 1.0  # held until begin, then stairs
    assert f(15) == 0.5 and f(24) == 0.5 and f(25) == 0.25
    assert f(1000) == 0.1  # clipped from below


def test_exponential_growth_is_clipped_from_above():
    f = schedules.exponential_decay(1.0, 1, 2.0, end_value=10.0)
    assert f(3) == 8.0 and f(4) == 10.0


def test_piecewise_constant_scales_accumulate():
    f = schedules.piecewise_constant(1.0, {10: 0.5, 20: 0.2})
    assert [f(0), f(9), f(10), f(19), f(20), f(100)] == pytest.approx([1, 1, 0.5, 0.5, 0.1, 0.1])
    assert schedules.piecewise_constant(0.7)(5) == 0.7


def test_cosine_decay():
    f = schedules.cosine_decay(2.0, decay_steps=40, alpha=0.25)
    for count in [0, 10, 20, 33, 40]:
        cosine = 0.5 * (1 + math.cos(math.pi * count / 40))
        assert f(count) == pytest.approx(2.0 * (0.75 * cosine + 0.25), rel=1e-14)
    assert f(80) == pytest.approx(0.5)


def test_cosine_decay_exponent():
    f = schedules.cosine_decay(1.0, decay_steps=10, exponent=2.0)
    assert f(5) == pytest.approx(0.25)


def test_linear_warmup():
    f = schedules.linear_warmup(0.1, 1.1, transition_steps=20, transition_begin=10)
    assert f(0) == pytest.approx(0.1) and f(10) == pytest.approx(0.1)
    assert (
        f(15) == pytest.approx(0.35) and f(30) == pytest.approx(1.1) and f(99) == pytest.approx(1.1)
    )
    decay = schedules.linear_warmup(1.0, 0.0, transition_steps=4)
    assert decay(1) == pytest.approx(0.75)


def test_warmup_cosine_decay():
    f = schedules.warmup_cosine_decay(0.1, 1.0, warmup_steps=10, decay_steps=30, end_value=0.2)
    assert f(0) == pytest.approx(0.1)
    assert f(4) == pytest.approx(0.1 + 0.9 * 4 / 10)
    assert f(10) == pytest.approx(1.0)
    for count in [13, 20, 27]:
        cosine = 0.5 * (1 + math.cos(math.pi * (count - 10) / 20))
        assert f(count) == pytest.approx(0.2 + 0.8 * cosine, rel=1e-14)
    assert f(30) == pytest.approx(0.2) and f(500) == pytest.approx(0.2)


def test_warmup_cosine_decay_without_warmup():
    f = schedules.warmup_cosine_decay(0.0, 1.0, warmup_steps=0, decay_steps=10)
    assert f(0) == 1.0 and f(5) == pytest.approx(0.5)


def test_one_cycle():
    f = schedules.one_cycle(
        100, peak_value=2.0, pct_start=0.2, div_factor=20.0, final_div_factor=100.0
    )
    start, end = 0.1, 0.001
    assert f(0) == pytest.approx(start)
    assert f(10) == pytest.approx(start + (2.0 - start) * 0.5)  # halfway up the cosine
    assert f(20) == pytest.approx(2.0)
    assert f(60) == pytest.approx(end + (2.0 - end) * 0.5)  # halfway down
    assert f(100) == pytest.approx(end) and f(150) == pytest.approx(end)
    values = f(np.arange(101))
    assert np.all(np.diff(values[:21]) > 0) and np.all(np.diff(values[20:]) < 0)


ALL = [
    schedules.constant(0.5),
    schedules.exponential_decay(1.0, 10, 0.9),
    schedules.piecewise_constant(1.0, {3: 0.1}),
    schedules.cosine_decay(1.0, 10),
    schedules.linear_warmup(0.0, 1.0, 10),
    schedules.warmup_cosine_decay(0.0, 1.0, 3, 10),
    schedules.one_cycle(10, 1.0),
]


@pytest.mark.parametrize("f", ALL)
def test_schedules_accept_int32_counts_and_arrays(f):
    counts = np.arange(15)
    vectorised = f(counts)
    assert vectorised.shape == (15,) and vectorised.dtype == np.float64
    for c in counts:
        assert (
            f(np.asarray(c, dtype=np.int32)) == f(int(c)) == pytest.approx(vectorised[c], rel=1e-14)
        )
    assert np.ndim(f(3)) == 0


@pytest.mark.parametrize(
    "build, message",
    [
        (lambda: schedules.exponential_decay(1.0, 0, 0.5), "transition_steps must be > 0, got 0"),
        (lambda: schedules.exponential_decay(1.0, 10, -0.5), "decay_rate must be > 0, got -0.5"),
        (
            lambda: schedules.exponential_decay(1.0, 10, 0.5, transition_begin=-1),
            "transition_begin must be >= 0",
        ),
        (lambda: schedules.cosine_decay(1.0, 0), "decay_steps must be > 0, got 0"),
        (lambda: schedules.linear_warmup(0.0, 1.0, 0), "transition_steps must be > 0, got 0"),
        (
            lambda: schedules.warmup_cosine_decay(0.0, 1.0, 10, 10),
            "decay_steps must be > warmup_steps",
        ),
        (lambda: schedules.warmup_cosine_decay(0.0, 1.0, -1, 10), "warmup_steps must be >= 0"),
        (
            lambda: schedules.one_cycle(100, 1.0, pct_start=1.0),
            r"pct_start must be in \(0, 1\), got 1.0",
        ),
        (lambda: schedules.one_cycle(0, 1.0), "transition_steps must be > 0, got 0"),
        (lambda: schedules.one_cycle(10, 1.0, div_factor=0.0), "div_factor must be > 0"),
        (lambda: schedules.piecewise_constant(1.0, {-5: 0.1}), "boundary must be >= 0, got -5"),
    ],
)
def test_bad_schedule_arguments(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_step_counts_must_be_ints():
    with pytest.raises(TypeError, match="decay_steps must be an int"):
        schedules.cosine_decay(1.0, 10.5)  # type: ignore[arg-type]
