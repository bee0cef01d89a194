"""Every @njit function of fastgd, and nothing else (see ``_jit`` for the policy).

One compiled entry point per path, each compiled only when first used:

* :func:`sgd_plain_epoch` -- per-sample plain SGD without L1 or averaging (carried dot)
* :func:`sgd_general_epoch` -- per-sample plain SGD with L1 / elastic net / averaging
* :func:`batch_epoch` -- mini- and full-batch with any optimizer
* ``guarded_plain`` / ``guarded_general`` / ``guarded_batch`` -- the same three for
  ``partial_fit``'s hot path (snapshot, epoch and check in one call)
* ``sparse.csr_sgd_epoch`` / ``sparse.csr_batch_epoch`` -- CSR input: per-sample plain SGD
  (scale trick, Bottou's sparse averaging) and every optimizer and batch size, exact or
  with lazy updates; ``sparse.csr_check`` validates the CSR arrays before either runs

* ``parallel.batch_epoch_parallel`` -- mini- and full-batch on numba's threads
  (``n_jobs > 1``, dense X): block-summed gradients, the same bits for every thread
  count (imported, and compiled, only when first used)

The Python driver (``fastgd._driver``) picks the path; parallel variants are siblings
of these, not branches inside them. The CSR module is imported only when
CSR input first arrives.
"""

from .batch import batch_epoch, optimizer_step
from .guarded import guarded_batch, guarded_general, guarded_plain
from .leaves import dot_row, norms
from .scalar import fill_rates, learning_rate, loss_dloss, loss_grad, loss_value, optimal_init
from .sgd import sgd_general_epoch, sgd_plain_epoch
from .shuffle import pcg64_shuffle

__all__ = [
    "batch_epoch",
    "dot_row",
    "fill_rates",
    "guarded_batch",
    "guarded_general",
    "guarded_plain",
    "learning_rate",
    "loss_dloss",
    "loss_grad",
    "loss_value",
    "norms",
    "optimal_init",
    "optimizer_step",
    "pcg64_shuffle",
    "sgd_general_epoch",
    "sgd_plain_epoch",
]
