"""Every @njit function of fastgd, and nothing else (see ``_jit`` for the policy)."""

from .epoch import batch_epoch, optimizer_step, run_epoch, run_epoch_guarded, sgd_epoch_per_sample
from .leaves import dot_row, norms
from .scalar import learning_rate, loss_dloss, loss_value, optimal_init
from .shuffle import pcg64_shuffle

__all__ = [
    "batch_epoch",
    "dot_row",
    "norms",
    "learning_rate",
    "loss_dloss",
    "loss_value",
    "optimal_init",
    "optimizer_step",
    "pcg64_shuffle",
    "run_epoch",
    "run_epoch_guarded",
    "sgd_epoch_per_sample",
]
