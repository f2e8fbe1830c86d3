"""Training: SMORMS3, the training loop, evaluation, checkpoints, the paper's network recipes."""

from ._recipes import paper_network as paper_network
from ._recipes import shd_conv_network as shd_conv_network
from ._train import FitResult as FitResult
from ._train import SMORMS3State as SMORMS3State
from ._train import evaluate as evaluate
from ._train import fit as fit
from ._train import load_checkpoint as load_checkpoint
from ._train import save_checkpoint as save_checkpoint
from ._train import smorms3 as smorms3
