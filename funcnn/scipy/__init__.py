"""SciPy-named functions: ``funcnn.scipy.special`` and ``funcnn.scipy.stats``."""
from funcnn.scipy import special as special
from funcnn.scipy import stats as stats

__all__ = ["special", "stats"]
