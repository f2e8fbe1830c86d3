"""Training: SMORMS3, the training loop, many networks trained at once (`fit_cells`), callbacks (early stopping, best
checkpoint, logging), evaluation, checkpoints, and writing run folders atomically."""

from .._io import atomic_write_bytes as atomic_write_bytes
from .._io import atomic_write_text as atomic_write_text
from .._io import run_info as run_info
from .._io import write_run as write_run
from ._callbacks import BestCheckpoint as BestCheckpoint
from ._callbacks import Callback as Callback
from ._callbacks import Checkpointing as Checkpointing
from ._callbacks import EarlyStopping as EarlyStopping
from ._callbacks import EpochInfo as EpochInfo
from ._callbacks import EpochProgress as EpochProgress
from ._callbacks import KeepBest as KeepBest
from ._callbacks import MetricsLogger as MetricsLogger
from ._callbacks import ProgressPrinter as ProgressPrinter
from ._callbacks import StartInfo as StartInfo
from ._callbacks import StepInfo as StepInfo
from ._callbacks import write_history as write_history
from ._cells import CellsResult as CellsResult
from ._cells import fit_cells as fit_cells
from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._fit import FitResult as FitResult
from ._fit import evaluate as evaluate
from ._fit import fit as fit
from ._fit import freeze as freeze
from ._fit import progress_bar as progress_bar
from ._fit import project as project
from ._smorms3 import SMORMS3State as SMORMS3State
from ._smorms3 import smorms3 as smorms3
