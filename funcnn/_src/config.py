"""Global switches, read by the engine; set them with ``funcnn.config.update(name, value)``."""
from __future__ import annotations

from typing import Any


class Config:
    """Engine options. ``debug_nans``: raise at the first primitive whose result is NaN/Inf."""

    def __init__(self) -> None:
        self.debug_nans = False

    def update(self, name: str, value: Any) -> None:
        """Set option ``name`` to ``value``; an unknown name raises ``AttributeError``.

        >>> import funcnn
        >>> funcnn.config.update("debug_nans", False)
        """
        if name not in vars(self):
            known = ", ".join(sorted(vars(self)))
            raise AttributeError(f"funcnn.config has no option {name!r}; known options: {known}")
        setattr(self, name, value)

    def __repr__(self) -> str:
        items = ", ".join(f"{k}={v!r}" for k, v in sorted(vars(self).items()))
        return f"Config({items})"


config = Config()
