"""Training: SMORMS3, the training loop, evaluation, checkpoints."""

from ._checkpoint import load_checkpoint as load_checkpoint
from ._checkpoint import save_checkpoint as save_checkpoint
from ._smorms3 import SMORMS3State as SMORMS3State
from ._smorms3 import smorms3 as smorms3
from ._train import FitResult as FitResult
from ._train import evaluate as evaluate
from ._train import fit as fit
from ._train import freeze as freeze
