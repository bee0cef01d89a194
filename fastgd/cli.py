"""The ``fastgd`` command: ``verify``, ``fit`` and ``demo``.

``fastgd verify``  kernels against fastgd.reference over the option grid on this machine
``fastgd fit``     train on a CSV or .npy file; print/save coefficients and the loss curve
``fastgd demo``    a short fit next to scikit-learn's, with timings (fastgd/demo.py)
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

_SUBCOMMAND_MODULES = ("fastgd.demo", "fastgd.benchmark")


def _verify(args: argparse.Namespace) -> int:
    from . import _grid

    batch_sizes = (1, None) if args.quick else (1, 5, None)
    losses = ("squared_error", "log_loss", "hinge") if args.quick else _grid.LOSSES
    worst_by_group: dict[tuple, tuple[float, str]] = defaultdict(lambda: (0.0, ""))
    n_configs = 0
    failures = 0
    t0 = time.perf_counter()
    for name, cfg in _grid.configurations(batch_sizes=batch_sizes, losses=losses):
        X, y, sw = _grid.make_data(cfg.loss)
        for dtype, tol in (("float64", args.rtol), ("float32", 1e-4)):
            for weighted in (False, True):
                weights = sw if weighted else np.ones_like(sw)
                X_kernel = X.astype(np.float32) if dtype == "float32" else None
                dev = _grid.compare(
                    _grid.Config(**vars(cfg)), X, y, weights, X_kernel=X_kernel,
                    model_only=dtype == "float32",
                )
                n_configs += 1
                label = f"{name}/{dtype}/weighted={weighted}"
                if args.all:
                    print(f"{dev:10.3g}  {label}")
                if not dev <= tol:
                    failures += 1
                    print(f"FAIL {dev:.3g} > {tol:g}: {label}")
                key = (cfg.loss, name.split("/")[2], dtype)
                if dev >= worst_by_group[key][0]:
                    worst_by_group[key] = (dev, label)
    print(f"{'loss':<28} {'optimizer':<26} {'dtype':<8} {'worst rel. dev':>14}")
    for (loss, opt, dtype), (dev, _) in sorted(worst_by_group.items()):
        print(f"{loss:<28} {opt:<26} {dtype:<8} {dev:>14.3g}")
    elapsed = time.perf_counter() - t0
    print(
        f"{n_configs} configurations (loss x penalty x optimizer x schedule x batch x "
        f"intercept x weights x dtype) in {elapsed:.1f} s: "
        + ("all within tolerance" if failures == 0 else f"{failures} FAILED")
        + f" (float64 rtol {args.rtol:g}, float32 rtol 1e-4)"
    )
    return 0 if failures == 0 else 1


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None if text == "None" else text


def _load_table(path: Path, target: int, delimiter: str):
    if path.suffix == ".npy":
        data = np.load(path, allow_pickle=False)
    else:
        with path.open() as fh:
            first = fh.readline()
        has_header = any(c.isalpha() for c in first.replace("e", "").replace("E", ""))
        data = np.loadtxt(path, delimiter=delimiter, skiprows=1 if has_header else 0, ndmin=2)
    if data.ndim != 2 or data.shape[1] < 2:
        raise SystemExit(f"{path}: expected a 2-D table with features and a target column.")
    y = data[:, target]
    X = np.delete(data, target % data.shape[1], axis=1)
    return np.ascontiguousarray(X), y


def _fit(args: argparse.Namespace) -> int:
    from .estimators import SGDClassifier, SGDRegressor

    X, y = _load_table(Path(args.data), args.target, args.delimiter)
    params = dict(kv.split("=", 1) for kv in args.param)
    params = {k: _parse_value(v) for k, v in params.items()}
    cls = SGDClassifier if args.classifier else SGDRegressor
    model = cls(**params)
    t0 = time.perf_counter()
    model.fit(X, y)
    elapsed = time.perf_counter() - t0
    result = {
        "estimator": cls.__name__,
        "params": {k: v for k, v in model.get_params().items() if v is not None},
        "n_samples": int(X.shape[0]),
        "n_features": int(X.shape[1]),
        "coef": np.asarray(model.coef_).tolist(),
        "intercept": np.asarray(model.intercept_).tolist(),
        "n_iter": int(model.n_iter_),
        "loss_curve": [float(v) for v in model.loss_curve_],
        "score": float(model.score(X, y)),
        "fit_seconds": elapsed,
    }
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    print(f"{cls.__name__} on {X.shape[0]} x {X.shape[1]} in {elapsed:.3f} s, "
          f"{model.n_iter_} epochs, training score {result['score']:.6g}")
    print("coef:", np.array2string(np.asarray(model.coef_), precision=6))
    print("intercept:", np.array2string(np.asarray(model.intercept_), precision=6))
    curve = result["loss_curve"]
    shown = curve if len(curve) <= 10 else curve[:5] + curve[-5:]
    print("loss curve (mean loss per epoch):", ", ".join(f"{v:.6g}" for v in shown),
          "" if len(curve) <= 10 else f"({len(curve)} epochs, first and last 5)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastgd", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("verify", help="check the compiled kernels against fastgd.reference")
    p.add_argument("--quick", action="store_true", help="3 losses and batch sizes 1 / full")
    p.add_argument("--all", action="store_true", help="print every configuration")
    p.add_argument("--rtol", type=float, default=1e-10, help="float64 tolerance")
    p.set_defaults(func=_verify)

    p = sub.add_parser("fit", help="fit a model on a CSV or .npy table")
    p.add_argument("data", help="CSV (optional header) or .npy file: features and a target column")
    p.add_argument("--target", type=int, default=-1, help="index of the target column")
    p.add_argument("--delimiter", default=",")
    p.add_argument("--classifier", action="store_true", help="SGDClassifier (default regressor)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="estimator parameter, e.g. --param optimizer=adam --param batch_size=32")
    p.add_argument("--out", help="write coefficients and loss curve to this JSON file")
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
