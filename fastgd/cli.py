"""The ``fastgd`` command: ``verify``, ``fit`` and ``demo``.

``fastgd verify``  kernels against fastgd.reference over the option grid on this machine
``fastgd fit``     stream a CSV/.npy/Parquet/svmlight file or directory through partial_fit (resumable)
``fastgd demo``    the tutorials' examples with tables and figures (fastgd/demo.py)
``fastgd bench``   the benchmark sweep and its report (fastgd/benchmark.py)
"""

from __future__ import annotations

import argparse
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


def _load_table(
    path: Path, target, delimiter: str, chunk_rows: int, n_features=None, zero_based="auto"
):
    """A re-iterable reader of ``(X, y)`` chunks of a file or a directory of chunk files.

    svmlight files (``.svm``, ``.svmlight``, ``.libsvm``) give ``scipy.sparse`` CSR
    chunks, read with ``n_features`` and ``zero_based`` (see
    :func:`fastgd.stream.read_svmlight`); the other formats ignore both.
    """
    from .stream import read_path

    return read_path(
        path,
        target=target,
        chunk_rows=chunk_rows,
        delimiter=delimiter,
        n_features=n_features,
        zero_based=zero_based,
    )


_ZERO_BASED = {"auto": "auto", "true": True, "false": False}


def _target(text: str):
    """``--target``: an integer index, else a column name."""
    try:
        return int(text)
    except ValueError:
        return text


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
    reader = _load_table(
        Path(args.data),
        _target(args.target),
        args.delimiter,
        args.chunk_rows,
        n_features=args.n_features,
        zero_based=_ZERO_BASED[args.zero_based],
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

    classes = None
    if args.classifier and not hasattr(model, "classes_"):
        if args.classes:
            classes = np.array([float(v) for v in args.classes.split(",")])
        else:  # a first pass over the targets: partial_fit must know every class up front
            found = [np.unique(y) for _, y in reader]
            classes = np.unique(np.concatenate(found)) if found else np.zeros(0)

    per_epoch = reader.total_rows
    epoch_ends: list[int] = []  # stream position at the end of each epoch

    def stream():
        pos = 0
        for _ in range(args.epochs):
            for X, y in reader:
                pos += len(y)
                yield X, y
            epoch_ends.append(pos)

    from ._driver import DivergenceWarning

    diverged = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", DivergenceWarning)
            try:
                report = fit_stream(
                    model,
                    stream(),
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

    starts = position + np.concatenate([[0], np.cumsum(report.chunk_rows)[:-1]]).astype(np.int64)
    epoch_of = np.searchsorted(np.asarray(epoch_ends, dtype=np.int64), starts, side="right")
    epoch_loss, epoch_score = [], []
    for e in range(args.epochs):
        mask = epoch_of == e
        if not mask.any():
            continue
        epoch_loss.append((e + 1, _nanmean(report.loss[mask], report.chunk_rows[mask])))
        epoch_score.append((e + 1, _nanmean(report.score[mask], report.chunk_rows[mask])))
    name = report.score_name
    result = {
        "estimator": cls.__name__,
        "params": {
            k: v
            for k, v in model.get_params().items()
            if v is None or isinstance(v, (bool, int, float, str))
        },
        "data": str(args.data),
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
        "epoch_loss": _finite_or_none([v for _, v in epoch_loss]),
        f"epoch_{name}": _finite_or_none([v for _, v in epoch_score]),
        "score_name": name,
        "score": _finite_or_none([epoch_score[-1][1] if epoch_score else np.nan])[0],
        "fit_seconds": report.seconds,
        "rows_per_second": report.rows_per_second,
        "checkpoint": args.checkpoint,
    }
    if hasattr(model, "classes_"):
        result["classes"] = np.asarray(model.classes_).tolist()
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(
        f"{cls.__name__} on {report.rows} rows x {model.n_features_in_} features "
        f"({report.chunks} chunks, {args.epochs} epoch{'s' if args.epochs > 1 else ''}"
        f"{f', resumed at row {position}' if position else ''}) in {report.seconds:.3f} s, "
        f"{report.rows_per_second:,.0f} rows/s"
    )
    print("coef:", np.array2string(np.asarray(model.coef_), precision=6))
    print("intercept:", np.array2string(np.asarray(model.intercept_), precision=6))
    if epoch_loss:
        print(
            "progressive validation (test-then-train) per epoch: "
            + ", ".join(
                f"epoch {e}: loss {v:.6g} {name} {s:.4f}"
                for (e, v), (_, s) in zip(epoch_loss, epoch_score, strict=True)
            )
        )
    if args.checkpoint:
        print(f"checkpoint: {args.checkpoint}")
    if diverged:
        print(f"fastgd fit: error: {diverged[0]}", file=sys.stderr)
        return EXIT_DIVERGED
    return 0


def _nanmean(values, weights) -> float:
    ok = np.isfinite(values)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else float("nan")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastgd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="check the compiled kernels against fastgd.reference")
    p.add_argument("--quick", action="store_true", help="3 losses and batch sizes 1 / full")
    p.add_argument("--all", action="store_true", help="print every configuration")
    p.add_argument("--rtol", type=float, default=1e-10, help="float64 tolerance")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=_verify)

    p = sub.add_parser(
        "fit",
        help="stream a model over a CSV/.npy/Parquet/svmlight file or a directory of chunk files",
        description="Train with partial_fit chunk by chunk (memory bounded by --chunk-rows), "
        "with a progress bar, progressive validation and optional checkpoints. At the end "
        "of the stream a waiting incomplete mini-batch is applied (flush). Exit status: 0 "
        "done, 2 bad input, 3 the training loss grew by orders of magnitude (diverged: "
        "scale the features or lower eta0), 130 interrupted.",
    )
    p.add_argument(
        "data",
        help="a .csv (optional header), .npy, .parquet or svmlight/libsvm (.svm, .svmlight, "
        ".libsvm; sparse) file, or a directory of such chunk files (read in sorted name order)",
    )
    p.add_argument(
        "--target",
        default="-1",
        help="target column: index (default -1, the last) or CSV/Parquet name",
    )
    p.add_argument("--delimiter", default=",", help="CSV delimiter")
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
    p.add_argument("--chunk-rows", type=int, default=10_000, help="rows per chunk (10000)")
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
    p.add_argument("--out", help="write coefficients, loss and progressive scores to this JSON")
    p.set_defaults(func=_fit)

    # Subcommands that live in their own modules register themselves: each module
    # defines ``register(subparsers)`` adding a parser whose ``func`` runs it.
    for name in _SUBCOMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"fastgd {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
