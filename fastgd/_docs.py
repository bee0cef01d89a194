"""The estimators' numpydoc docstrings, generated from the options registry.

Every parameter's type, default, range and formula comes from :mod:`fastgd.options`
(hyperparameters and options) or from :data:`ESTIMATOR_PARAMS` (the scikit-learn
parameters that are not options), so ``help(fastgd.SGDRegressor)`` and the registry
can not disagree. The defaults are read from the class's own ``__init__`` signature.
"""

from __future__ import annotations

import inspect
import textwrap

from . import options

# scikit-learn's parameters that are no option or hyperparameter: (type, description)
ESTIMATOR_PARAMS = {
    "max_iter": ("int", "Maximum number of epochs (passes over the training data) of ``fit``."),
    "tol": (
        "float or None",
        "Stopping tolerance: training stops when an epoch's mean objective (loss plus "
        "penalty, each row at the parameters before its update) is not below "
        "``best - tol`` for ``n_iter_no_change`` epochs (with ``early_stopping``: the "
        "validation score not above ``best + tol``). None: run ``max_iter`` epochs.",
    ),
    "shuffle": (
        "bool",
        "Draw a new permutation of the rows each epoch "
        "(``np.random.default_rng`` seeded from ``random_state``).",
    ),
    "verbose": ("int", "Print one line per epoch when > 0."),
    "random_state": (
        "int, RandomState instance or None",
        "Seeds the permutations and the validation split.",
    ),
    "early_stopping": (
        "bool",
        "Hold out ``validation_fraction`` of the rows and stop on their score (R^2 or accuracy).",
    ),
    "validation_fraction": (
        "float in (0, 1)",
        "Fraction of rows held out with ``early_stopping``.",
    ),
    "n_iter_no_change": (
        "int",
        "Epochs without improvement before stopping (or, with "
        "``learning_rate='adaptive'``, before dividing the rate by 5).",
    ),
    "warm_start": ("bool", "``fit`` starts from the previous ``coef_`` / ``intercept_``."),
    "batch_size": (
        "int or None",
        "Rows per update; None is full batch. The gradient is the batch mean, "
        "``g = (1/|B|) sum_{i in B} sw_i dL/dp_i [x_i, 1]``, so one ``eta0`` means "
        "one step size at every batch size. ``partial_fit`` keeps an incomplete "
        "last batch for the next call (see ``flush``).",
    ),
    "class_weight": (
        "dict, 'balanced' or None",
        "Multiplies the weight of each class's rows (one-vs-rest: of the positive class).",
    ),
    "n_jobs": (
        "int or None",
        "Threads: None or 1 serial, -1 every core (capped by the CPUs available, "
        "NUMBA_NUM_THREADS, OMP_NUM_THREADS and threadpoolctl; 1 inside a Dask worker). "
        "One-vs-rest classes train concurrently, bit-identical to n_jobs=1. Mini- and "
        "full-batch gradients on dense X (batches of 65,536 entries or more) are summed over "
        "fixed blocks of 1,024 rows on threads: the same bits for every n_jobs > 1, within "
        "rounding (~1e-15) of n_jobs=1, which keeps the serial kernel. An estimator is "
        "trained from one thread at a time (as in scikit-learn); saving from another is safe. "
        "A shuffled one-vs-rest fit gives each class its own generator, seeded from "
        "random_state in class order, for every n_jobs (so every n_jobs gives the same "
        "model); this changed shuffled multiclass fit results once (binary, regression, "
        "unshuffled fits and partial_fit are unchanged).",
    ),
}
_KIND_OF_ARGUMENT = {arg: kind for kind, arg in options.ARGUMENT.items()}
_TYPE = {"real": "float", "int": "int", "bool": "bool"}


def _option_doc(kind: str, choices) -> str:
    table = options.KINDS[kind]
    lines = []
    for name in choices:
        row = table[name]
        lines.append(f"- ``{row.name!r}``: ``{row.formula}``")
    head = {
        "loss": "Loss ``L(p, y)`` of the prediction ``p = x . w + b`` (scikit-learn's "
        "definitions; classification labels are -1/+1 internally).",
        "penalty": "Penalty ``alpha R(w)``; the intercept is never penalised. With "
        "``optimizer='sgd'`` L2 is a multiplicative shrink and L1 Tsuruoka's "
        "cumulative penalty (as scikit-learn); the other optimizers add L2 to the "
        "gradient and soft-threshold for L1.",
        "optimizer": "Update rule, torch.optim's single-tensor formulas (``g`` the batch "
        "gradient, ``t`` the update number from 1, ``eta`` the learning rate):",
        "schedule": "Learning rate ``eta`` of update ``t`` (``k = t - 1`` updates made):",
    }[kind]
    return head + "\n\n" + "\n".join(lines)


def _default(value) -> str:
    return repr(value)


def parameters_section(cls, losses) -> str:
    """The numpydoc ``Parameters`` section of ``cls``, in its ``__init__`` order."""
    sig = inspect.signature(cls.__init__)
    out = ["Parameters", "----------"]
    hypers = {h.name: h for h in options.HYPERS + options.STATE_INIT}
    for p in sig.parameters.values():
        if p.name == "self":
            continue
        default = p.default
        if p.name in _KIND_OF_ARGUMENT:
            kind = _KIND_OF_ARGUMENT[p.name]
            choices = losses if kind == "loss" else list(options.KINDS[kind])
            names = ", ".join(repr(c) for c in choices)
            head = f"{p.name} : {{{names}}}, default={_default(default)}"
            body = _option_doc(kind, choices)
        elif p.name in hypers:
            h = hypers[p.name]
            typ = _TYPE[h.kind]
            if p.name == "average":
                typ = "bool or int"
            if default is None:
                typ += " or None"
            head = f"{p.name} : {typ}, default={_default(default)}"
            rng = (
                ""
                if h.kind == "bool" or (h.low is None and h.high is None)
                else f" Range {h.interval}."
            )
            readers = [
                f"'{o.name}'"
                for t in (options.OPTIMIZERS, options.SCHEDULES)
                for o in t.values()
                if p.name in o.reads
            ]
            used = f" Read by {', '.join(readers)}." if readers and len(readers) < 6 else ""
            body = h.doc + rng + used
        elif p.name in ESTIMATOR_PARAMS:
            typ, body = ESTIMATOR_PARAMS[p.name]
            head = f"{p.name} : {typ}, default={_default(default)}"
        else:  # pragma: no cover - a parameter without a row is a registry bug
            raise AssertionError(f"no documentation row for parameter {p.name!r}")
        out.append(head)
        for para in body.split("\n\n"):
            if para.startswith("- "):
                out.extend("    " + line for line in para.splitlines())
            else:
                out.extend(textwrap.wrap(para, 88, initial_indent="    ", subsequent_indent="    "))
            out.append("")
        if out[-1] == "":
            out.pop()
    return "\n".join(out)


ATTRIBUTES = """Attributes
----------
coef_ : ndarray of shape (n_features,) or (n_classes, n_features)
    Coefficients ``w`` (the running average once averaging has started), in the dtype
    of the X that ``fit`` (or the first ``partial_fit``) saw: float32 for float32 X,
    else float64, as in scikit-learn; training accumulates in float64 either way. A
    scipy.sparse CSR matrix after ``sparsify()``.
intercept_ : ndarray of shape (1,) or (n_classes,)
    Intercept ``b``: float64, or float32 for a one-vs-rest model fitted on float32 X
    (scikit-learn's dtypes).
n_iter_ : int
    Epochs run by the last ``fit`` (the most over one-vs-rest problems).
t_ : float
    Number of updates made plus one (scikit-learn's convention; samples seen plus one
    with ``batch_size=1``).
loss_curve_ : list of float
    Per epoch, the mean loss of each row at the moment it was visited (before its
    update); one-vs-rest problems are averaged.
n_features_in_ : int
    Number of features seen during ``fit``.
feature_names_in_ : ndarray of shape (n_features,)
    Column names, when ``X`` was a DataFrame (pandas, polars) with string column names;
    later calls check them and warn as scikit-learn does."""


def class_doc(cls, summary: str, losses, extra_attributes: str = "", examples: str = "") -> str:
    """The whole class docstring: summary, parameters, attributes, examples."""
    parts = [summary.strip("\n"), parameters_section(cls, losses), ATTRIBUTES + extra_attributes]
    if examples:
        parts.append("Examples\n--------\n" + textwrap.dedent(examples).strip("\n"))
    return "\n\n".join(parts) + "\n"
