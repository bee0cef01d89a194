"""The ``fastgd`` command: ``verify``, ``fit``, ``predict``, ``demo`` and ``bench``.

``fastgd verify``   kernels against fastgd.reference over the option grid on this machine
``fastgd fit``      stream a CSV/.npy/Parquet/svmlight file or directory through partial_fit
``fastgd predict``  predictions of a model ``fastgd fit --out`` wrote, as CSV
``fastgd demo``     the tutorials' examples with tables and figures (fastgd/demo.py)
``fastgd bench``    the benchmark sweep and its report (fastgd/benchmark.py)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import itertools
import json
import sys
import time
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np

_SUBCOMMAND_MODULES = ("fastgd.demo", "fastgd.benchmark")


def _warm_kernels(out=print) -> None:
    """Compile (or load from numba's cache) every path ``verify`` runs, saying which.

    A first run on a machine compiles each path once per dtype (seconds each); later
    runs load them from the cache (``__pycache__`` next to fastgd, or NUMBA_CACHE_DIR).
    """
    from . import _layout as C
    from . import options
    from ._driver import run_epoch

    paths = (
        ("per-sample SGD (carried dot)", "sgd", "l2", 1),
        ("per-sample SGD (L1 / averaging)", "sgd", "l1", 1),
        ("mini- and full-batch optimizers", "adam", "l2", 4),
        ("CSR per-sample SGD", "sgd", "l2", 1),
        ("CSR batches and optimizers", "adam", "l2", 4),
    )
    out(
        "Preparing the compiled kernels (compiled on the first run on this machine, "
        "then loaded from numba's cache):",
        flush=True,
    )
    rng = np.random.default_rng(0)
    for label, opt, penalty, batch in paths:
        for dtype in (np.float64, np.float32):
            X = rng.normal(size=(8, 3)).astype(dtype)
            if label.startswith("CSR"):
                X = _csr(X)
            hp = C.make_hp(
                eta0=0.01, alpha=1e-4, fit_intercept=1.0, beta1=0.9, beta2=0.999, eps=1e-8
            )
            t0 = time.perf_counter()
            run_epoch(
                X,
                np.zeros(8),
                np.ones(8),
                np.arange(8),
                np.zeros(4),
                C.new_state(3),
                C.new_counters(0.01),
                hp,
                C.LOSS_SQUARED_ERROR,
                options.PENALTIES[penalty].code,
                options.OPTIMIZERS[opt].code,
                C.SCHED_CONSTANT,
                batch,
            )
            took = time.perf_counter() - t0
            how = "compiled" if took > 0.5 else "from the cache"
            out(f"  {label:<34} {np.dtype(dtype).name:<8} {took:6.1f} s  {how}", flush=True)


def _csr(X):
    import scipy.sparse as sp

    return sp.csr_matrix(X)


def _verify(args: argparse.Namespace) -> int:
    from . import _grid

    batch_sizes = (1, None) if args.quick else (1, 5, None)
    losses = ("squared_error", "log_loss", "hinge") if args.quick else _grid.LOSSES
    worst_by_group: dict[tuple, tuple[float, str]] = defaultdict(lambda: (0.0, ""))
    n_configs = 0
    failures = 0
    t0 = time.perf_counter()
    _warm_kernels()
    # two widths: d = 3 runs the scalar loops, d = 40 the SIMD ones (the carried dot of
    # per-sample SGD, the vectorised dot of the batch epochs)
    configs = list(_grid.configurations(batch_sizes=batch_sizes, losses=losses))
    cases = list(itertools.product(configs, (3, 40)))
    progress = None
    if not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(
            total=6 * len(cases),
            desc="kernel = reference",
            unit="cfg",
            mininterval=0.5,
            file=sys.stderr,
        )
    for (name, cfg), width in cases:
        X, y, sw = _grid.make_data(cfg.loss, d=width)
        name = f"{name}/d={width}"
        for dtype, tol in (("float64", args.rtol), ("float32", 1e-4)):
            for weighted in (False, True):
                weights = sw if weighted else np.ones_like(sw)
                X_kernel = X.astype(np.float32) if dtype == "float32" else None
                dev = _grid.compare(
                    _grid.Config(**vars(cfg)),
                    X,
                    y,
                    weights,
                    X_kernel=X_kernel,
                    model_only=dtype == "float32",
                )
                n_configs += 1
                if progress is not None:
                    progress.update()
                label = f"{name}/{dtype}/weighted={weighted}"
                if args.all:
                    print(f"{dev:10.3g}  {label}")
                if not dev <= tol:
                    failures += 1
                    print(f"FAIL {dev:.3g} > {tol:g}: {label}")
                key = (cfg.loss, name.split("/")[2], dtype)
                if dev >= worst_by_group[key][0]:
                    worst_by_group[key] = (dev, label)
        # CSR input: the sparse kernels against the dense reference (sparse = dense), and
        # the lazy updates against the reference's CSR twin
        Xz = X.copy()
        Xz[np.random.default_rng(width).random(Xz.shape) < 0.6] = 0.0
        Xs = _csr(Xz)
        for mode in ("csr", "csr-lazy"):
            c = _grid.Config(**vars(cfg))
            if mode == "csr-lazy":
                c.lazy_updates, c.intercept_decay = True, 0.5
            dev = _grid.compare(c, Xz, y, sw, X_kernel=Xs, sparse_reference=mode == "csr-lazy")
            n_configs += 1
            if progress is not None:
                progress.update()
            label = f"{name}/{mode}"
            if args.all:
                print(f"{dev:10.3g}  {label}")
            if not dev <= args.rtol:
                failures += 1
                print(f"FAIL {dev:.3g} > {args.rtol:g}: {label}")
            key = (cfg.loss, name.split("/")[2], mode)
            if dev >= worst_by_group[key][0]:
                worst_by_group[key] = (dev, label)
    if progress is not None:
        progress.close()
    print(f"{'loss':<28} {'optimizer':<26} {'dtype':<8} {'worst rel. dev':>14}")
    for (loss, opt, dtype), (dev, _) in sorted(worst_by_group.items()):
        print(f"{loss:<28} {opt:<26} {dtype:<8} {dev:>14.3g}")
    elapsed = time.perf_counter() - t0
    print(
        f"{n_configs} configurations (loss x penalty x optimizer x schedule x batch x "
        f"intercept x width x weights x dtype, dense and CSR) in {elapsed:.1f} s: "
        + ("all within tolerance" if failures == 0 else f"{failures} FAILED")
        + f" (float64 rtol {args.rtol:g}, float32 rtol 1e-4)"
    )
    return 0 if failures == 0 else 1


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None if text == "None" else text


def _column(text: str):
    """A column on the command line: an integer index, else a name."""
    try:
        return int(text)
    except ValueError:
        return text


_target = _column  # ``--target``: an integer index, else a column name


def _columns(text: str | None) -> list | None:
    """``--features`` / ``--drop``: comma-separated names or indices."""
    if text is None:
        return None
    items = [item.strip() for item in text.split(",")]
    if not all(items):
        raise ValueError(f"empty column name in {text!r}: give names or indices separated by ','.")
    return [_column(item) for item in items]


def _load_table(
    path: Path,
    target,
    delimiter: str,
    chunk_rows: int,
    n_features=None,
    zero_based="auto",
    features=None,
    drop=None,
):
    """A re-iterable reader of ``(X, y)`` chunks of a file or a directory of chunk files.

    svmlight files (``.svm``, ``.svmlight``, ``.libsvm``) give ``scipy.sparse`` CSR
    chunks, read with ``n_features`` and ``zero_based`` (see
    :func:`fastgd.stream.read_svmlight`); the other formats ignore both.
    """
    from . import stream

    return stream.read_path(
        path,
        target=target,
        chunk_rows=chunk_rows,
        delimiter=delimiter,
        n_features=n_features,
        zero_based=zero_based,
        features=features,
        drop=drop,
    )


_ZERO_BASED = {"auto": "auto", "true": True, "false": False}


def _finite_or_none(values) -> list:
    return [float(v) if np.isfinite(v) else None for v in np.asarray(values, dtype=np.float64)]


def _load_resume(path: str, load):
    """``load(path)`` for ``--resume``: any failure becomes one ``ValueError`` line.

    ``fastgd.load`` refuses a malformed checkpoint with a ``ValueError`` naming the
    problem; anything else escaping it (a bug, or an exhausted resource) is still
    reported in one line by :func:`main` rather than as a traceback.
    """
    try:
        return load(path)
    except (ValueError, OSError):
        raise
    except Exception as exc:
        raise ValueError(
            f"--resume {path}: cannot load the checkpoint ({type(exc).__name__}: {exc})."
        ) from None


def _shorten(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")


def describe_columns(reader, target_given: bool) -> str:
    """What ``fastgd fit`` reads as the target and as features, in one or two lines."""
    if reader.feature_columns is None:  # svmlight
        return (
            f"target: the first field of each line; features: {reader.n_features} sparse "
            "columns (svmlight/libsvm)"
        )
    named = reader.feature_names is not None
    if named:
        target = f"target: {reader.target_column!r}"
        features = f"{len(reader.feature_columns)} features: {_shorten(reader.feature_columns)}"
    else:
        target = f"target: column {reader.target_column}"
        features = (
            f"{len(reader.feature_columns)} features: columns {_shorten(reader.feature_columns)}"
        )
    if not target_given:
        target += " (the last column; --target to choose another)"
    return f"{target}\n{features} (--features / --drop to choose)"


def _outputs(args) -> tuple[Path | None, str | None]:
    """``(model file, JSON report)`` of ``fastgd fit``'s ``--out`` and ``--report``.

    ``--out FILE.json`` is what ``--out`` wrote before it wrote the model: the run's
    JSON summary, still written there (with a note on stderr), as ``--report`` does.
    """
    if args.out is None or Path(args.out).suffix.lower() != ".json":
        return (None if args.out is None else Path(args.out)), args.report
    if args.report is not None:
        raise ValueError(
            f"--out {args.out}: --out writes the model (.npz, fastgd's checkpoint format), "
            "--report the JSON summary; give the model file a .npz name."
        )
    print(
        f"fastgd fit: note: --out {args.out} writes the run's JSON summary, as before; that "
        "is --report now, and --out MODEL.npz writes the model (fastgd predict, fastgd.load).",
        file=sys.stderr,
    )
    return None, args.out


def _write_model(model, path: Path, reader) -> None:
    """``path``: the model in the checkpoint format, with the data's column names."""
    from . import checkpoint

    state = model.training_state()
    if reader.feature_names is not None:
        state["feature_names_in"] = np.asarray(reader.feature_names, dtype=object)
    state["target_name"] = reader.target_name
    checkpoint.write(path, state)


# exit status of ``fastgd fit`` when the training loss grew by orders of magnitude
# (fastgd.DivergenceWarning): the results are still written, but they are not a model
EXIT_DIVERGED = 3


def _fit(args: argparse.Namespace) -> int:
    from .estimators import SGDClassifier, SGDRegressor, load
    from .stream import fit_stream, stream_position

    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}.")
    if args.checkpoint_every is not None and args.checkpoint is None:
        raise ValueError("--checkpoint-every needs --checkpoint FILE.")
    out, report_path = _outputs(args)
    target_given = args.target is not None
    reader = _load_table(
        Path(args.data),
        _target(args.target) if target_given else -1,
        args.delimiter,
        args.chunk_rows,
        n_features=args.n_features,
        zero_based=_ZERO_BASED[args.zero_based],
        features=_columns(args.features),
        drop=_columns(args.drop),
    )
    params = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in args.param)
    params = {k: _parse_value(v) for k, v in params.items()}
    cls = SGDClassifier if args.classifier else SGDRegressor
    position = 0
    if args.resume:
        model = _load_resume(args.resume, load)
        if not isinstance(model, cls):
            raise ValueError(
                f"--resume {args.resume} holds a {type(model).__name__}; "
                + ("drop" if args.classifier else "add")
                + " --classifier."
            )
        current = model.get_params()
        for name, value in params.items():
            if name not in current:
                raise ValueError(f"--param {name}: {cls.__name__} has no parameter {name!r}.")
            if current[name] != value:
                raise ValueError(
                    f"--param {name}={value!r} differs from the checkpoint's {name}="
                    f"{current[name]!r}; a resumed run keeps the checkpoint's parameters "
                    "(drop the --param)."
                )
        try:
            position = stream_position(args.resume, model)
        except (ValueError, TypeError, OSError):
            raise
        except Exception as exc:  # a malformed position record: one line, no traceback
            raise ValueError(
                f"--resume {args.resume}: unreadable stream position ({type(exc).__name__}: {exc})."
            ) from None
    else:
        model = cls(**params)
    print(f"{args.data}: {describe_columns(reader, target_given)}", flush=True)

    per_epoch = reader.total_rows
    if args.resume and per_epoch is not None and position >= per_epoch * args.epochs:
        print(_finished(args, position, per_epoch))
        if out is not None:
            _write_model(model, out, reader)
            print(f"model: {out}")
        return 0

    classes = None
    if args.classifier and not hasattr(model, "classes_"):
        if args.classes:
            classes = np.array([float(v) for v in args.classes.split(",")])
        else:  # a first pass over the targets: partial_fit must know every class up front
            found = [np.unique(y) for _, y in reader]
            classes = np.unique(np.concatenate(found)) if found else np.zeros(0)

    epoch_ends: list[int] = []  # stream position at the end of each epoch

    def stream():
        pos = 0
        for _ in range(args.epochs):
            for X, y in reader:
                pos += len(y)
                yield X, y
            epoch_ends.append(pos)

    from ._driver import DivergenceWarning

    class _Stream:
        """The epochs' chunks, with the reader's column names (for fit_stream)."""

        feature_names = reader.feature_names
        target_name = reader.target_name

        def __iter__(self):
            return stream()

    diverged = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            try:
                report = fit_stream(
                    model,
                    _Stream(),
                    classes=classes,
                    progress=not args.no_progress,
                    checkpoint=args.checkpoint,
                    checkpoint_every=args.checkpoint_every,
                    total_rows=None if per_epoch is None else per_epoch * args.epochs,
                    skip_rows=position,
                )
            finally:
                for w in caught:  # divergence is reported below; the rest as usual
                    if issubclass(w.category, DivergenceWarning):
                        diverged.append(str(w.message))
                    else:
                        warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    except KeyboardInterrupt as exc:
        done = getattr(exc, "stream_report", None)
        where = "" if done is None else f" at row {done.position} of the stream"
        saved = (
            (
                f"; the model up to there is in {args.checkpoint}: continue with "
                f"--resume {args.checkpoint}"
            )
            if args.checkpoint
            else ""
        )
        print(f"fastgd fit: interrupted{where}{saved}.", file=sys.stderr)
        return 130
    if not hasattr(model, "coef_"):
        raise ValueError(f"{args.data}: no rows to train on.")
    if args.resume and report.rows == 0 and epoch_ends and position >= epoch_ends[-1]:
        print(_finished(args, position, epoch_ends[0]))
        if out is not None:
            _write_model(model, out, reader)
            print(f"model: {out}")
        return 0

    starts = position + np.concatenate([[0], np.cumsum(report.chunk_rows)[:-1]]).astype(np.int64)
    epoch_of = np.searchsorted(np.asarray(epoch_ends, dtype=np.int64), starts, side="right")
    epochs = []  # (epoch, rows, loss, score) of the epochs this run trained on
    for e in range(args.epochs):
        mask = epoch_of == e
        if not mask.any():
            continue
        epochs.append(
            (
                e + 1,
                int(report.chunk_rows[mask].sum()),
                _nanmean(report.loss[mask], report.chunk_rows[mask]),
                _nanmean(report.score[mask], report.chunk_rows[mask]),
            )
        )
    name = report.score_name
    score, score_kind = (epochs[-1][3] if epochs else np.nan), "progressive"
    training = None
    if not np.isfinite(score):
        # nothing was measured before it was learned (the stream is one chunk): the
        # final model on the data instead, one more pass
        training = _training_score(model, reader)
        score, score_kind = training[1], "training"
    result = {
        "estimator": cls.__name__,
        "params": {
            k: v
            for k, v in model.get_params().items()
            if v is None or isinstance(v, (bool, int, float, str))
        },
        "data": str(args.data),
        "target": reader.target_column,
        "features": reader.feature_columns,
        "rows_per_epoch": epoch_ends[0] if epoch_ends else per_epoch,
        "n_features": int(model.n_features_in_),
        "epochs": args.epochs,
        "resumed_at_row": position,
        "rows": report.rows,
        "chunks": report.chunks,
        "coef": np.asarray(model.coef_).tolist(),
        "intercept": np.asarray(model.intercept_).tolist(),
        "t": float(model.t_),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "progressive": {
            "chunk_rows": report.chunk_rows.tolist(),
            "epoch": (epoch_of + 1).tolist(),
            "loss": _finite_or_none(report.loss),
            name: _finite_or_none(report.score),
        },
        "epoch_loss": _finite_or_none([v[2] for v in epochs]),
        f"epoch_{name}": _finite_or_none([v[3] for v in epochs]),
        "score_name": name,
        "score": _finite_or_none([score])[0],
        "score_kind": score_kind,
        "fit_seconds": report.seconds,
        "rows_per_second": report.rows_per_second,
        "checkpoint": args.checkpoint,
        "model": None if out is None else str(out),
    }
    if training is not None:
        result["training_loss"] = _finite_or_none([training[0]])[0]
    if hasattr(model, "classes_"):
        result["classes"] = np.asarray(model.classes_).tolist()
    if out is not None:
        _write_model(model, out, reader)
    if report_path:
        Path(report_path).write_text(json.dumps(result, indent=2))
    print(
        f"{cls.__name__} on {report.rows} rows x {model.n_features_in_} features "
        f"({report.chunks} chunk{'s' if report.chunks != 1 else ''}, {args.epochs} "
        f"epoch{'s' if args.epochs > 1 else ''}"
        f"{f', resumed at row {position}' if position else ''}) in {report.seconds:.3f} s, "
        f"{report.rows_per_second:,.0f} rows/s"
    )
    print("coef:", np.array2string(np.asarray(model.coef_), precision=6))
    print("intercept:", np.array2string(np.asarray(model.intercept_), precision=6))
    if epochs:
        print("progressive validation (each chunk scored before it is learned), per epoch:")
        for e, rows, loss, s in epochs:
            if np.isfinite(loss):
                print(f"  epoch {e}: loss {loss:.6g}  {name} {s:.4f}  ({rows} rows)")
            else:
                print(
                    f"  epoch {e}: not measured ({rows} rows in one chunk: the first chunk "
                    "of a stream trains the model before anything can be scored)"
                )
    if training is not None:
        print(
            f"training {name} (the final model on all {epoch_ends[0] if epoch_ends else '?'} "
            f"rows of the data; progressive validation needs 2+ chunks, see --chunk-rows): "
            f"loss {training[0]:.6g}  {name} {training[1]:.4f}"
        )
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    if out is not None:
        print(f"model: {out} (fastgd predict {out} DATA; fastgd.load)")
    if diverged:
        print(f"fastgd fit: error: {diverged[0]}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _finished(args, position: int, per_epoch: int) -> str:
    return (
        f"fastgd fit: the stream is finished: {args.resume} has learned all {position} rows "
        f"({args.epochs} epoch{'s' if args.epochs > 1 else ''} x {per_epoch} rows); nothing "
        "left to train (a larger --epochs continues it)."
    )


def _training_score(model, reader) -> tuple[float, float]:
    """Mean loss and R^2 / accuracy of the final model over every chunk of ``reader``."""
    clf = getattr(model, "_estimator_type", None) == "classifier"
    names = model.__dict__.pop("feature_names_in_", None)  # plain-array chunks: no names
    try:
        return _score_chunks(model, reader, clf)
    finally:
        if names is not None:
            model.feature_names_in_ = names


def _score_chunks(model, reader, clf: bool) -> tuple[float, float]:
    from .stream import _progressive

    rows = 0
    losses = []
    hits = 0.0
    y_sum = y_sq = resid = 0.0
    for X, y in reader:
        n = len(y)
        if n == 0:
            continue
        loss, score = _progressive(model, X, y, None)
        losses.append(loss * n)
        rows += n
        if clf:
            hits += score * n
        else:
            pred = np.asarray(model.predict(X), dtype=np.float64).reshape(n)
            yf = np.asarray(y, dtype=np.float64)
            resid += float(np.sum((yf - pred) ** 2))
            y_sum += float(yf.sum())
            y_sq += float(np.sum(yf * yf))
    if rows == 0:
        return float("nan"), float("nan")
    loss = sum(losses) / rows
    if clf:
        return loss, hits / rows
    ss_tot = y_sq - y_sum * y_sum / rows
    return loss, (1.0 - resid / ss_tot) if ss_tot > 0 else (1.0 if resid == 0 else 0.0)


def _nanmean(values, weights) -> float:
    ok = np.isfinite(values)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")


# ------------------------------------------------------------------------------ predict
def _read_model(path: str):
    """The estimator of a model file and the target name it records (or None)."""
    from . import checkpoint
    from .estimators import SGDClassifier, SGDRegressor

    state = checkpoint.read(path)  # ValueError naming the file for anything malformed
    cls = {"SGDRegressor": SGDRegressor, "SGDClassifier": SGDClassifier}[state["estimator"]]
    try:
        model = cls.from_training_state(state)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as exc:
        raise ValueError(f"{path}: the model's contents do not fit together ({exc})") from None
    return model, state.get("target_name")


def _predict_reader(args, model, target_name):
    """A reader of DATA's feature columns in the model's order, and a note on what it reads.

    With recorded feature names, DATA's columns are found by name (any order, other
    columns ignored); without, DATA has the model's columns, or one more (the target,
    ``--target``, default the last), by position.
    """
    from . import stream

    data = Path(args.data)
    zero_based = _ZERO_BASED[args.zero_based]
    d = int(model.n_features_in_)
    common = dict(chunk_rows=args.chunk_rows, delimiter=args.delimiter)
    names = model.__dict__.get("feature_names_in_")
    files = stream._walk(data) if data.is_dir() else [data]
    if any(stream._file_kind(f) == "svmlight" for f in files):
        # its first field is the target, its columns numbered: the model's width
        reader = stream.read_path(data, n_features=d, zero_based=zero_based, **common)
        return reader, f"{d} sparse columns (svmlight/libsvm)", True
    probe = stream.read_path(data, target=None, **common)
    columns = probe.feature_columns
    if names is not None:
        names = [str(n) for n in names]
        if probe.feature_names is None:
            raise ValueError(
                f"{args.data}: its columns have no names, but {args.model} was trained on "
                f"named columns ({_shorten(names)}); give DATA a header."
            )
        missing = [n for n in names if n not in columns]
        if missing:
            raise ValueError(
                f"{args.data} lacks the column{'s' if len(missing) > 1 else ''} "
                f"{', '.join(map(repr, missing))} that {args.model} was trained on (its "
                f"features: {_shorten(names)}; DATA's columns: {_shorten(columns)})."
            )
        has_target = target_name is not None and target_name in columns
        reader = stream.read_path(
            data, target=target_name if has_target else None, features=names, **common
        )
        note = f"{len(names)} features by name: {_shorten(names)}"
        if has_target:
            note += f"; target {target_name!r} found, scored"
        return reader, note, has_target
    if len(columns) == d and args.target is None:
        return probe, f"all {d} columns as features", False
    if len(columns) == d + 1 or args.target is not None:
        target = -1 if args.target is None else _column(args.target)
        reader = stream.read_path(data, target=target, **common)
        if reader.feature_columns is not None and len(reader.feature_columns) != d:
            raise ValueError(
                f"{args.data}: {len(reader.feature_columns)} feature columns after taking out "
                f"the target, but {args.model} has {d} features."
            )
        which = "the last" if args.target is None else "--target"
        return reader, f"column {reader.target_column} ({which}) taken as the target, scored", True
    raise ValueError(
        f"{args.data} has {len(columns)} columns, but {args.model} has {d} features (and no "
        "recorded column names to find them by); give DATA those columns, or one more for "
        "the target (--target)."
    )


def _predict(args: argparse.Namespace) -> int:
    if args.proba and args.decision:
        raise ValueError("--proba and --decision: choose one.")
    model, target_name = _read_model(args.model)
    clf = getattr(model, "_estimator_type", None) == "classifier"
    if (args.proba or args.decision) and not clf:
        raise ValueError(
            f"--{'proba' if args.proba else 'decision'}: {args.model} holds a regressor, whose "
            "only output is the prediction."
        )
    if args.proba and not hasattr(model, "predict_proba"):
        raise ValueError(
            f"--proba: {args.model} was trained with loss={model.loss!r}, which gives no "
            "probabilities (loss 'log_loss' or 'modified_huber' do); use --decision for "
            "its scores."
        )
    reader, note, scored = _predict_reader(args, model, target_name)
    model.__dict__.pop("feature_names_in_", None)  # the columns were found by name above
    classes = list(getattr(model, "classes_", []))
    header = ["prediction"]
    if args.proba:
        header += [f"proba_{c}" for c in classes]
    elif args.decision:
        header += ["decision"] if len(classes) == 2 else [f"decision_{c}" for c in classes]
    out = None if args.out in (None, "-") else Path(args.out)
    print(f"{args.data}: {note}", file=sys.stderr)
    import csv
    import os
    import tempfile

    if out is None:
        fh, tmp = sys.stdout, None
    else:
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent or ".")
        fh = os.fdopen(fd, "w", newline="")
    rows = hits = 0
    resid = y_sum = y_sq = 0.0
    try:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for X, y in reader:
            pred = model.predict(X)
            cols = [np.asarray(pred)]
            if args.proba:
                P = model.predict_proba(X)
                cols += [P[:, k] for k in range(P.shape[1])]
            elif args.decision:
                D = np.asarray(model.decision_function(X), dtype=np.float64)
                cols += [D] if D.ndim == 1 else [D[:, k] for k in range(D.shape[1])]
            values = [c.tolist() for c in cols]
            writer.writerows(zip(*[[_cell(v) for v in c] for c in values], strict=True))
            if scored and y is not None:
                if clf:
                    hits += int(np.sum(np.asarray(pred) == np.asarray(y)))
                else:
                    p = np.asarray(pred, dtype=np.float64)
                    resid += float(np.sum((y - p) ** 2))
                    y_sum += float(y.sum())
                    y_sq += float(np.sum(y * y))
            rows += len(pred)
        if tmp is not None:
            fh.close()
            os.replace(tmp, out)
            tmp = None
    finally:
        if tmp is not None:
            fh.close()
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    where = "stdout" if out is None else str(out)
    line = f"{rows} predictions -> {where}"
    if scored and rows:
        if clf:
            line += f"; accuracy against the target column {hits / rows:.4f}"
        else:
            ss_tot = y_sq - y_sum * y_sum / rows
            r2 = 1.0 - resid / ss_tot if ss_tot > 0 else float("nan")
            line += f"; r2 against the target column {r2:.4f}"
    print(line, file=sys.stderr)
    return 0


def _cell(value):
    """A CSV field: floats written so that they read back to the same float64."""
    return repr(value) if isinstance(value, float) else value


def _version() -> str:
    from . import __version__

    return f"fastgd {__version__}"


_DESCRIPTION = (
    "fastgd: linear models trained by gradient descent (numba kernels). Check the kernels "
    "on this machine (verify), train on files and directories as a stream (fit), predict "
    "with the model file it writes (predict), run the tutorials' examples (demo) and the "
    "benchmarks (bench)."
)
_EPILOG = "'fastgd COMMAND --help' describes a command's options."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastgd",
        description=_DESCRIPTION,
        epilog=_EPILOG,
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("verify", help="check the compiled kernels against fastgd.reference")
    p.add_argument("--quick", action="store_true", help="3 losses and batch sizes 1 / full")
    p.add_argument("--all", action="store_true", help="print every configuration")
    p.add_argument("--rtol", type=float, default=1e-10, help="float64 tolerance")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_verify)

    p = sub.add_parser(
        "fit",
        help="stream a model over a CSV/.npy/Parquet/svmlight file or a directory of them",
        description="Train with partial_fit chunk by chunk (memory bounded by --chunk-rows), "
        "with a progress bar, progressive validation and optional checkpoints. It prints "
        "which column is the target and which are the features before it starts. At the "
        "end of the stream a waiting incomplete mini-batch is applied (flush). Exit "
        "status: 0 done, 2 bad input, 3 the training loss grew by orders of magnitude "
        "(diverged: scale the features or lower eta0), 130 interrupted.",
    )
    _data_arguments(p)
    p.add_argument(
        "--target",
        default=None,
        help="target column: index or CSV/Parquet name (default: the last column)",
    )
    p.add_argument(
        "--features",
        metavar="A,B,...",
        help="the feature columns, by name or index, in this order (default: all but the target)",
    )
    p.add_argument("--drop", metavar="A,B,...", help="columns to leave out of the features")
    p.add_argument("--classifier", action="store_true", help="SGDClassifier (default regressor)")
    p.add_argument(
        "--classes",
        metavar="A,B,...",
        help="classifier labels (default: found by a first pass over the targets)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="estimator parameter, e.g. --param optimizer=adam --param batch_size=32",
    )
    p.add_argument(
        "--epochs", type=int, default=1, help="passes over the data, one stream (default 1)"
    )
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="save the training state here at the end, on Ctrl-C and every "
        "--checkpoint-every chunks (.npz; FILE.stream.json holds the position)",
    )
    p.add_argument("--checkpoint-every", type=int, metavar="N", help="chunks between checkpoints")
    p.add_argument(
        "--resume",
        metavar="FILE",
        help="load the estimator from this checkpoint and continue the stream where "
        "it stopped (same data, --chunk-rows and --epochs count from the start)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--out",
        metavar="MODEL",
        help="write the model here (.npz, fastgd's checkpoint format with the target and "
        "feature names: fastgd predict and fastgd.load read it)",
    )
    p.add_argument(
        "--report",
        metavar="FILE.json",
        help="write coefficients, loss and progressive scores to this JSON file",
    )
    p.set_defaults(func=_fit)

    p = sub.add_parser(
        "predict",
        help="predict with a model written by fastgd fit --out, to CSV",
        description="Read DATA (the file kinds fastgd fit reads) chunk by chunk and write "
        "one CSV row per data row: the prediction (a classifier's label), and with "
        "--proba / --decision the class probabilities or decision scores. A model with "
        "recorded feature names finds its columns in DATA by name (their order and other "
        "columns do not matter; a missing one is an error naming it); when DATA also "
        "holds the recorded target column, the predictions are scored against it.",
    )
    p.add_argument(
        "model", metavar="MODEL", help="the model file (fastgd fit --out, estimator.save)"
    )
    _data_arguments(p)
    p.add_argument(
        "--target",
        default=None,
        help="DATA without column names: its target column, left out (default: the last, "
        "when DATA has one column more than the model)",
    )
    p.add_argument("--out", metavar="FILE.csv", help="where to write the CSV (default stdout)")
    p.add_argument("--proba", action="store_true", help="classifiers: add each class's probability")
    p.add_argument("--decision", action="store_true", help="classifiers: add the decision scores")
    p.set_defaults(func=_predict)

    # Subcommands that live in their own modules register themselves: each module
    # defines ``register(subparsers)`` adding a parser whose ``func`` runs it.
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def _data_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "data",
        metavar="DATA",
        help="a .csv (optional header; also .csv.gz, .csv.bz2, .csv.zst), .npy, .parquet "
        "or svmlight/libsvm (.svm, .svmlight, .libsvm; sparse) file, or a directory of "
        "such files (read recursively in sorted path order; key=value directories are hive "
        "partition columns)",
    )
    p.add_argument("--delimiter", default=",", help="CSV delimiter")
    p.add_argument("--chunk-rows", type=int, default=10_000, help="rows per chunk (10000)")
    p.add_argument(
        "--n-features",
        type=int,
        metavar="N",
        help="svmlight files: columns of X (default: the largest feature index in the "
        "data plus one, found by a first pass)",
    )
    p.add_argument(
        "--zero-based",
        choices=sorted(_ZERO_BASED),
        default="auto",
        help="svmlight files: whether feature index 0 is the first column (true) or index 1 "
        "is (false); auto (default): one-based unless index 0 occurs in the data",
    )


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # fastgd predict ... | head: the reader stopped reading
        import os

        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastgd {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
