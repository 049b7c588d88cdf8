"""SciPy-named functions: ``funcnn.scipy.special``."""
from funcnn.scipy import special as special

__all__ = ["special"]
