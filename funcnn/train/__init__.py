"""Training loops: ``fit`` and ``evaluate`` over mini-batches, with progress output, per-epoch
history, callbacks (early stopping, checkpoints, learning-rate reduction, CSV logs),
resumable runs and ``plot_history``."""
from ._callbacks import CSVLogger as CSVLogger
from ._callbacks import Callback as Callback
from ._callbacks import EarlyStopping as EarlyStopping
from ._callbacks import ModelCheckpoint as ModelCheckpoint
from ._callbacks import ReduceLROnPlateau as ReduceLROnPlateau
from ._checkpoint import Checkpoint as Checkpoint
from ._checkpoint import latest_checkpoint as latest_checkpoint
from ._loop import evaluate as evaluate
from ._loop import fit as fit
from ._plot import plot_history as plot_history
from ._state import TrainState as TrainState

__all__ = ["CSVLogger", "Callback", "Checkpoint", "EarlyStopping", "ModelCheckpoint", "ReduceLROnPlateau",
           "TrainState", "evaluate", "fit", "latest_checkpoint", "plot_history"]
