"""Probability distributions with SciPy's names: ``funcnn.scipy.stats.norm``."""
from funcnn.scipy.stats import norm as norm

__all__ = ["norm"]
