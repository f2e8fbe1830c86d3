"""Training: SMORMS3, the training loop, callbacks (early stopping, best checkpoint, logging), evaluation, checkpoints."""

from ._callbacks import BestCheckpoint as BestCheckpoint
from ._callbacks import Callback as Callback
from ._callbacks import EarlyStopping as EarlyStopping
from ._callbacks import EpochInfo as EpochInfo
from ._callbacks import MetricsLogger as MetricsLogger
from ._callbacks import StepInfo as StepInfo
from ._callbacks import write_history as write_history
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._smorms3 import SMORMS3State as SMORMS3State
from ._smorms3 import smorms3 as smorms3
from ._train import FitResult as FitResult
from ._train import evaluate as evaluate
from ._train import fit as fit
from ._train import freeze as freeze
