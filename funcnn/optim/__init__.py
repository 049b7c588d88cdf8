"""Optimizers as gradient transformations over pytrees.

An optimizer is a :class:`GradientTransformation`: a pair of pure functions
``init(params) -> state`` and ``update(updates, state, params=None) -> (updates, state)``.
Building blocks (scalings, momentum, clipping, weight decay, masks) compose with
:func:`chain`; the ready-made optimizers (:func:`sgd`, :func:`adam`, ...) are such
chains with PyTorch's semantics. Learning rates are floats or schedules from
:mod:`funcnn.optim.schedules`. Wrappers accumulate gradients (:class:`MultiSteps`),
keep hyper-parameters in the state so they can change between steps
(:func:`inject_hyperparams`), average the parameters for evaluation
(:func:`ema_params`, :func:`averaged_params`) and add Lookahead (:func:`lookahead`).

Updates are written with ``funcnn.numpy`` operations, so a whole training step
(gradients, ``update`` and ``apply_updates``) can be captured with ``funcnn.make_graph``,
and differentiated with ``funcnn.grad`` (with respect to the gradients, or to a traced
learning rate for meta-learning).

Examples
--------
>>> import numpy as np
>>> from funcnn import optim
>>> params = {"w": np.array([2.0, -1.0])}
>>> opt = optim.chain(optim.clip_by_global_norm(1.0), optim.adam(optim.cosine_decay(0.1, 100)))
>>> state = opt.init(params)
>>> for _ in range(100):
...     grads = {"w": 2 * params["w"]}          # gradient of sum(w**2)
...     updates, state = opt.update(grads, state, params)
...     params = optim.apply_updates(params, updates)
>>> bool(np.all(np.abs(params["w"]) < 0.1))
True
"""

from . import schedules as schedules
from ._accumulation import MultiSteps as MultiSteps
from ._accumulation import MultiStepsState as MultiStepsState
from ._adam import ScaleByAdamState as ScaleByAdamState
from ._adam import ScaleByAmsgradState as ScaleByAmsgradState
from ._adam import ScaleByNadamState as ScaleByNadamState
from ._adam import scale_by_adam as scale_by_adam
from ._adam import scale_by_amsgrad as scale_by_amsgrad
from ._adam import scale_by_nadam as scale_by_nadam
from ._aliases import adadelta as adadelta
from ._aliases import adagrad as adagrad
from ._aliases import adam as adam
from ._aliases import adamw as adamw
from ._aliases import amsgrad as amsgrad
from ._aliases import lamb as lamb
from ._aliases import lion as lion
from ._aliases import nadam as nadam
from ._aliases import rmsprop as rmsprop
from ._aliases import sgd as sgd
from ._averaging import EmaParamsState as EmaParamsState
from ._averaging import EmaState as EmaState
from ._averaging import averaged_params as averaged_params
from ._averaging import ema as ema
from ._averaging import ema_params as ema_params
from ._base import EmptyState as EmptyState
from ._base import GradientTransformation as GradientTransformation
from ._base import OptState as OptState
from ._base import Params as Params
from ._base import ScalarOrSchedule as ScalarOrSchedule
from ._base import Schedule as Schedule
from ._base import TransformInitFn as TransformInitFn
from ._base import TransformUpdateFn as TransformUpdateFn
from ._base import Updates as Updates
from ._base import apply_updates as apply_updates
from ._base import chain as chain
from ._clipping import ClipByGlobalNormState as ClipByGlobalNormState
from ._clipping import ClipState as ClipState
from ._clipping import clip as clip
from ._clipping import clip_by_global_norm as clip_by_global_norm
from ._clipping import global_norm as global_norm
from ._decay import AddDecayedWeightsState as AddDecayedWeightsState
from ._decay import add_decayed_weights as add_decayed_weights
from ._hyperparams import InjectHyperparamsState as InjectHyperparamsState
from ._hyperparams import get_hyperparams as get_hyperparams
from ._hyperparams import inject_hyperparams as inject_hyperparams
from ._hyperparams import set_hyperparams as set_hyperparams
from ._lookahead import LookaheadState as LookaheadState
from ._lookahead import lookahead as lookahead
from ._masking import MaskedState as MaskedState
from ._masking import masked as masked
from ._momentum import ScaleByLionState as ScaleByLionState
from ._momentum import TraceState as TraceState
from ._momentum import scale_by_lion as scale_by_lion
from ._momentum import trace as trace
from ._rms import ScaleByAdadeltaState as ScaleByAdadeltaState
from ._rms import ScaleByRmsState as ScaleByRmsState
from ._rms import ScaleByRssState as ScaleByRssState
from ._rms import ScaleByStddevState as ScaleByStddevState
from ._rms import scale_by_adadelta as scale_by_adadelta
from ._rms import scale_by_rms as scale_by_rms
from ._rms import scale_by_rss as scale_by_rss
from ._rms import scale_by_stddev as scale_by_stddev
from ._scaling import ScaleByScheduleState as ScaleByScheduleState
from ._scaling import ScaleState as ScaleState
from ._scaling import scale as scale
from ._scaling import scale_by_learning_rate as scale_by_learning_rate
from ._scaling import scale_by_schedule as scale_by_schedule
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
from ._trust_ratio import ScaleByTrustRatioState as ScaleByTrustRatioState
from ._trust_ratio import scale_by_trust_ratio as scale_by_trust_ratio

__all__ = [
    # base
    "EmptyState",
    "GradientTransformation",
    "OptState",
    "Params",
    "ScalarOrSchedule",
    "Schedule",
    "TransformInitFn",
    "TransformUpdateFn",
    "Updates",
    "apply_updates",
    "chain",
    # building blocks and their states
    "AddDecayedWeightsState",
    "ClipByGlobalNormState",
    "ClipState",
    "EmaParamsState",
    "EmaState",
    "MaskedState",
    "ScaleByAdadeltaState",
    "ScaleByAdamState",
    "ScaleByAmsgradState",
    "ScaleByLionState",
    "ScaleByNadamState",
    "ScaleByRmsState",
    "ScaleByRssState",
    "ScaleByScheduleState",
    "ScaleByStddevState",
    "ScaleByTrustRatioState",
    "ScaleState",
    "TraceState",
    "add_decayed_weights",
    "clip",
    "clip_by_global_norm",
    "ema",
    "global_norm",
    "masked",
    "scale",
    "scale_by_adadelta",
    "scale_by_adam",
    "scale_by_amsgrad",
    "scale_by_learning_rate",
    "scale_by_lion",
    "scale_by_nadam",
    "scale_by_rms",
    "scale_by_rss",
    "scale_by_schedule",
    "scale_by_stddev",
    "scale_by_trust_ratio",
    "trace",
    # wrappers: accumulation, averaging, injected hyper-parameters, lookahead
    "InjectHyperparamsState",
    "LookaheadState",
    "MultiSteps",
    "MultiStepsState",
    "averaged_params",
    "ema_params",
    "get_hyperparams",
    "inject_hyperparams",
    "lookahead",
    "set_hyperparams",
    # optimizers
    "adadelta",
    "adagrad",
    "adam",
    "adamw",
    "amsgrad",
    "lamb",
    "lion",
    "nadam",
    "rmsprop",
    "sgd",
    # schedules
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
    "schedules",
    "warmup_cosine_decay",
    "warmup_cosine_decay_schedule",
]
