"""Learning-rate schedules: pure functions of the step count.

Pass one as the ``learning_rate`` of any optimizer in :mod:`funcnn.optim`; it is
evaluated at the number of updates done so far (0 at the first update).

Examples
--------
>>> from funcnn.optim import schedules
>>> lr = schedules.warmup_cosine_decay(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
>>> print(lr(0), lr(100))
0.0 0.001
"""

from ._schedules import constant as constant
from ._schedules import cosine_decay as cosine_decay
from ._schedules import exponential_decay as exponential_decay
from ._schedules import linear_warmup as linear_warmup
from ._schedules import one_cycle as one_cycle
from ._schedules import piecewise_constant as piecewise_constant
from ._schedules import warmup_cosine_decay as warmup_cosine_decay

__all__ = [
    "constant",
    "cosine_decay",
    "exponential_decay",
    "linear_warmup",
    "one_cycle",
    "piecewise_constant",
    "warmup_cosine_decay",
]
