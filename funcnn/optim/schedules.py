"""Learning-rate schedules: pure functions of the step count.

Pass one as the ``learning_rate`` of any optimizer in :mod:`funcnn.optim`; it is
evaluated at the number of updates done so far (0 at the first update). optax's names
(``linear_schedule``, ``cosine_decay_schedule``, ``warmup_cosine_decay_schedule``...) are
here too, with optax's signatures and values.

Examples
--------
>>> from funcnn.optim import schedules
>>> lr = schedules.warmup_cosine_decay(0.0, 1e-3, warmup_steps=100, decay_steps=1000)
>>> print(lr(0), lr(100))
0.0 0.001
"""

from ._schedules import constant as constant
from ._schedules import constant_schedule as constant_schedule
from ._schedules import cosine_decay as cosine_decay
from ._schedules import cosine_decay_schedule as cosine_decay_schedule
from ._schedules import cosine_onecycle_schedule as cosine_onecycle_schedule
from ._schedules import exponential_decay as exponential_decay
from ._schedules import linear_schedule as linear_schedule
from ._schedules import linear_warmup as linear_warmup
from ._schedules import one_cycle as one_cycle
from ._schedules import piecewise_constant as piecewise_constant
from ._schedules import piecewise_constant_schedule as piecewise_constant_schedule
from ._schedules import polynomial as polynomial
from ._schedules import polynomial_schedule as polynomial_schedule
from ._schedules import warmup_cosine_decay as warmup_cosine_decay
from ._schedules import warmup_cosine_decay_schedule as warmup_cosine_decay_schedule

__all__ = [
    "constant",
    "constant_schedule",
    "cosine_decay",
    "cosine_decay_schedule",
    "cosine_onecycle_schedule",
    "exponential_decay",
    "linear_schedule",
    "linear_warmup",
    "one_cycle",
    "piecewise_constant",
    "piecewise_constant_schedule",
    "polynomial",
    "polynomial_schedule",
    "warmup_cosine_decay",
    "warmup_cosine_decay_schedule",
]
