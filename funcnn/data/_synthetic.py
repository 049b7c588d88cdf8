"""Small synthetic datasets for examples and tests, reproducible from a seed."""

from __future__ import annotations

from typing import Literal, Union, overload

import numpy as np

from ._seeding import Seed, as_generator
from ._validate import non_negative_float, positive_int

__all__ = ["ellipses", "moons", "regression", "spirals"]

XY = tuple[np.ndarray, np.ndarray]


def spirals(
    n_samples: int = 300,
    n_classes: int = 2,
    noise: float = 0.0,
    seed: Seed = None,
    *,
    turns: float = 1.0,
    shuffle: bool = True,
) -> XY:
    """Interleaved spiral arms, one arm per class.

    Arm ``k`` starts near the origin and winds ``turns`` times outwards to
    radius 1, rotated by ``2 * pi * k / n_classes`` from arm 0. Points lie at
    evenly spaced positions along each arm, plus Gaussian noise.

    Parameters
    ----------
    n_samples : int, default 300
        Total number of points, split as evenly as possible over the classes.
    n_classes : int, default 2
        Number of arms (classes), at least 2.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int or PRNG key, optional
        Source of randomness (noise and shuffling); None is not reproducible.
    turns : float, default 1.0
        How many full turns each arm makes.
    shuffle : bool, default True
        Shuffle the points; otherwise they are grouped by class.

    Returns
    -------
    x : ndarray of float32, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        Class labels in ``[0, n_classes)``.

    Examples
    --------
    >>> x, y = spirals(n_samples=90, n_classes=3, noise=0.05, seed=0)
    >>> x.shape, x.dtype, y.dtype, np.bincount(y).tolist()
    ((90, 2), dtype('float32'), dtype('int64'), [30, 30, 30])
    """
    n = positive_int(n_samples, "n_samples")
    k = positive_int(n_classes, "n_classes")
    if k < 2:
        raise ValueError(f"n_classes must be at least 2; got {k}")
    sigma = non_negative_float(noise, "noise")
    rng = as_generator(seed)
    labels = np.repeat(np.arange(k, dtype=np.int64), _even_counts(n, k))
    position = np.concatenate([np.linspace(0.0, 1.0, c) for c in _even_counts(n, k)])
    radius = 0.1 + 0.9 * position
    angle = 2 * np.pi * (turns * position + labels / k)
    points = radius[:, None] * np.stack([np.cos(angle), np.sin(angle)], axis=1)
    return _finish(points, labels, sigma, shuffle, rng)


def moons(n_samples: int = 100, noise: float = 0.0, seed: Seed = None, *, shuffle: bool = True) -> XY:
    """Two interleaving half circles (scikit-learn's ``make_moons``).

    Class 0 is the upper half of the unit circle, class 1 the lower half
    shifted to ``(1, 0.5)``; class 0 gets ``n_samples // 2`` points.

    Parameters
    ----------
    n_samples : int, default 100
        Total number of points.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int or PRNG key, optional
        Source of randomness (noise and shuffling); None is not reproducible.
    shuffle : bool, default True
        Shuffle the points; otherwise class 0 comes first.

    Returns
    -------
    x : ndarray of float32, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        Labels 0 and 1.

    Examples
    --------
    >>> x, y = moons(n_samples=7, seed=0, shuffle=False)
    >>> y.tolist()
    [0, 0, 0, 1, 1, 1, 1]
    >>> x[[0, 2, 3]].round(3).tolist()
    [[1.0, 0.0], [-1.0, 0.0], [0.0, 0.5]]
    """
    n = positive_int(n_samples, "n_samples")
    sigma = non_negative_float(noise, "noise")
    rng = as_generator(seed)
    n_upper = n // 2
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n - n_upper)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [n_upper, n - n_upper])
    return _finish(np.concatenate([upper, lower]), labels, sigma, shuffle, rng)


def ellipses(
    n_samples: int = 200,
    noise: float = 0.0,
    seed: Seed = None,
    *,
    factor: float = 0.5,
    shuffle: bool = True,
) -> XY:
    """Two concentric ellipses, a binary task no straight line can solve.

    Like scikit-learn's ``make_circles``, stretched: class 0 lies on the
    ellipse with semi-axes 2 (along x) and 1 (along y); class 1 on the same
    ellipse scaled by ``factor``. Class 0 gets ``n_samples // 2`` points.

    Parameters
    ----------
    n_samples : int, default 200
        Total number of points.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to each coordinate.
    seed : int or PRNG key, optional
        Source of randomness (noise and shuffling); None is not reproducible.
    factor : float, default 0.5
        Size of the inner ellipse relative to the outer one, in (0, 1).
    shuffle : bool, default True
        Shuffle the points; otherwise class 0 comes first.

    Returns
    -------
    x : ndarray of float32, shape (n_samples, 2)
    y : ndarray of int64, shape (n_samples,)
        0 for the outer ellipse, 1 for the inner one.

    Examples
    --------
    >>> x, y = ellipses(n_samples=8, seed=0, shuffle=False)
    >>> y.tolist()
    [0, 0, 0, 0, 1, 1, 1, 1]
    >>> ((x[:, 0] / 2) ** 2 + x[:, 1] ** 2).round(3).tolist()
    [1.0, 1.0, 1.0, 1.0, 0.25, 0.25, 0.25, 0.25]
    """
    n = positive_int(n_samples, "n_samples")
    sigma = non_negative_float(noise, "noise")
    if not 0.0 < factor < 1.0:
        raise ValueError(f"factor must lie in the open interval (0, 1); got {factor!r}")
    rng = as_generator(seed)
    n_outer = n // 2
    rings = []
    for count, scale in ((n_outer, 1.0), (n - n_outer, factor)):
        t = np.linspace(0.0, 2 * np.pi, count, endpoint=False)
        rings.append(scale * np.stack([2.0 * np.cos(t), np.sin(t)], axis=1))
    labels = np.repeat(np.array([0, 1], dtype=np.int64), [n_outer, n - n_outer])
    return _finish(np.concatenate(rings), labels, sigma, shuffle, rng)


@overload
def regression(
    n_samples: int = ...,
    n_features: int = ...,
    noise: float = ...,
    seed: Seed = ...,
    *,
    bias: float = ...,
    return_coef: Literal[False] = ...,
) -> XY: ...


@overload
def regression(
    n_samples: int = ...,
    n_features: int = ...,
    noise: float = ...,
    seed: Seed = ...,
    *,
    bias: float = ...,
    return_coef: Literal[True],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...


def regression(
    n_samples: int = 100,
    n_features: int = 1,
    noise: float = 0.0,
    seed: Seed = None,
    *,
    bias: float = 0.0,
    return_coef: bool = False,
) -> Union[XY, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """A linear regression task: ``y = x @ coef + bias + noise``.

    Features and coefficients are drawn from a standard normal distribution.

    Parameters
    ----------
    n_samples : int, default 100
        Number of samples.
    n_features : int, default 1
        Number of features.
    noise : float, default 0.0
        Standard deviation of the Gaussian noise added to the targets.
    seed : int or PRNG key, optional
        Source of randomness; None is not reproducible.
    bias : float, default 0.0
        Intercept added to every target.
    return_coef : bool, default False
        Also return the true coefficients.

    Returns
    -------
    x : ndarray of float32, shape (n_samples, n_features)
    y : ndarray of float32, shape (n_samples,)
    coef : ndarray of float32, shape (n_features,)
        Only when ``return_coef`` is true.

    Examples
    --------
    >>> x, y, coef = regression(n_samples=50, n_features=3, seed=0, bias=2.0, return_coef=True)
    >>> x.shape, y.shape, coef.shape, y.dtype
    ((50, 3), (50,), (3,), dtype('float32'))
    >>> bool(np.allclose(x @ coef + 2.0, y, atol=1e-5))
    True
    """
    n = positive_int(n_samples, "n_samples")
    d = positive_int(n_features, "n_features")
    sigma = non_negative_float(noise, "noise")
    rng = as_generator(seed)
    x = rng.standard_normal((n, d))
    coef = rng.standard_normal(d)
    y = x @ coef + bias + sigma * rng.standard_normal(n)
    x32, y32, coef32 = (a.astype(np.float32) for a in (x, y, coef))
    return (x32, y32, coef32) if return_coef else (x32, y32)


def _even_counts(n: int, k: int) -> list[int]:
    """``n`` items over ``k`` groups, sizes differing by at most one."""
    return [n // k + (i < n % k) for i in range(k)]


def _finish(
    points: np.ndarray, labels: np.ndarray, noise: float, shuffle: bool, rng: np.random.Generator
) -> XY:
    """Add noise, optionally shuffle, and cast to the library's dtypes."""
    points = points + noise * rng.standard_normal(points.shape)
    if shuffle:
        order = rng.permutation(len(labels))
        points, labels = points[order], labels[order]
    return points.astype(np.float32), labels
