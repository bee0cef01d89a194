"""First use, measured as a new user meets it: fresh processes, an empty numba cache.

    python bench/bench_coldstart.py [--repeats 3] [--out reports/cold_start.md] [--verify]

Every measurement starts a new interpreter with ``NUMBA_CACHE_DIR`` pointing at an empty
temporary directory (cold) or at the directory a previous run filled (warm):

* ``import sklearn.base`` alone: what inheriting scikit-learn's ``BaseEstimator`` costs;
* ``import fastgd`` plus the first default ``SGDRegressor().fit`` on 1,000 x 10, cold and
  warm (the goals: cold within 5 s, warm within 1 s beyond scikit-learn's import);
* in a fresh cold process, after that default fit, the first fit of each other single
  configuration (the goal: within 10 s more);
* with ``--verify``: ``fastgd verify --quick`` cold, its first line of output and total.

Each figure is the median of ``--repeats`` processes. Writes a markdown report.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_DEFAULT_FIT = r"""
import time
t0 = time.perf_counter()
import numpy as np
import fastgd
t1 = time.perf_counter()
rng = np.random.default_rng(0)
X = rng.normal(size=(1000, 10))
y = X @ rng.normal(size=10) + 0.5
fastgd.SGDRegressor().fit(X, y)
t2 = time.perf_counter()
out = {"import": t1 - t0, "fit": t2 - t1}
cfg = CONFIG
if cfg is not None:
    kind, params, dtype = cfg
    Xc = X.astype(dtype)
    yc = (y > 0.5).astype(int) if kind == "SGDClassifier" else y
    t3 = time.perf_counter()
    getattr(fastgd, kind)(**params).fit(Xc, yc)
    out["config"] = time.perf_counter() - t3
print("RESULT " + json.dumps(out))
"""

_SKLEARN = r"""
import time
t0 = time.perf_counter()
import sklearn.base
print("RESULT " + json.dumps({"import": time.perf_counter() - t0}))
"""

# one configuration per compiled path and dtype a user can reach, plus option changes
# that reuse a compiled path (they should cost nothing)
CONFIGS = {
    "SGDClassifier() (hinge, optimal)": ("SGDClassifier", {}, "float64"),
    "SGDRegressor() on float32 X": ("SGDRegressor", {}, "float32"),
    "loss='huber', learning_rate='constant'": (
        "SGDRegressor",
        {"loss": "huber", "learning_rate": "constant"},
        "float64",
    ),
    "penalty='l1'": ("SGDRegressor", {"penalty": "l1"}, "float64"),
    "average=True": ("SGDRegressor", {"average": True}, "float64"),
    "optimizer='adam', batch_size=32": (
        "SGDRegressor",
        {"optimizer": "adam", "batch_size": 32, "learning_rate": "constant"},
        "float64",
    ),
    "optimizer='adamax', batch_size=None": (
        "SGDRegressor",
        {"optimizer": "adamax", "batch_size": None, "learning_rate": "constant", "max_iter": 50},
        "float64",
    ),
    "SGDClassifier(loss='log_loss'), 3 classes": ("SGDClassifier", {"loss": "log_loss"}, "float64"),
}


def _run(code: str, cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run(
        [sys.executable, "-c", "import json\n" + code],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=True,
    )
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT ") :])


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _verify_cold(cache: str) -> tuple[float, float]:
    """Seconds to the first line ``fastgd verify --quick`` prints, and to its end."""
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastgd.cli", "verify", "--quick", "--no-progress"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    first = None
    for _ in proc.stdout:
        if first is None:
            first = time.perf_counter() - t0
    proc.wait(timeout=1800)
    return first or float("nan"), time.perf_counter() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", default="reports/cold_start.md")
    parser.add_argument("--verify", action="store_true", help="also time fastgd verify --quick")
    args = parser.parse_args(argv)

    sk = [_run(_SKLEARN, tempfile.mkdtemp()) for _ in range(args.repeats)]
    cold, warm = [], []
    for _ in range(args.repeats):
        cache = tempfile.mkdtemp(prefix="fastgd-cold-")
        cold.append(_run(_DEFAULT_FIT.replace("CONFIG", "None"), cache))
        warm.append(_run(_DEFAULT_FIT.replace("CONFIG", "None"), cache))
    configs = {}
    for label, cfg in CONFIGS.items():
        runs = [
            _run(_DEFAULT_FIT.replace("CONFIG", repr(cfg)), tempfile.mkdtemp())
            for _ in range(args.repeats)
        ]
        configs[label] = _median(runs, "config")
    sk_import = _median(sk, "import")
    cold_total = _median([{"t": r["import"] + r["fit"]} for r in cold], "t")
    warm_total = _median([{"t": r["import"] + r["fit"]} for r in warm], "t")
    lines = [
        "# fastgd first use: cold and warm starts",
        "",
        f"`python bench/bench_coldstart.py --repeats {args.repeats}"
        + (" --verify" if args.verify else "")
        + "` on "
        f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Each figure: the median of "
        f"{args.repeats} fresh processes; cold = an empty `NUMBA_CACHE_DIR`.",
        "",
        "## Import and the first default fit (1,000 x 10 float64)",
        "",
        "| run | import s | first fit s | total s | beyond `import sklearn.base` s |",
        "|---|---:|---:|---:|---:|",
        f"| `import sklearn.base` alone | {sk_import:.2f} | | {sk_import:.2f} | |",
        f"| cold cache | {_median(cold, 'import'):.2f} | {_median(cold, 'fit'):.2f} | "
        f"{cold_total:.2f} | {cold_total - sk_import:.2f} |",
        f"| warm cache | {_median(warm, 'import'):.2f} | {_median(warm, 'fit'):.2f} | "
        f"{warm_total:.2f} | {warm_total - sk_import:.2f} |",
        "",
        "## First fit of another configuration, after the default one (cold cache)",
        "",
        "| configuration | first fit s | goal (<= 10 s) |",
        "|---|---:|---|",
    ]
    for label, seconds in configs.items():
        lines.append(f"| {label} | {seconds:.2f} | {'PASS' if seconds <= 10 else 'FAIL'} |")
    goals = [
        (
            "import + first default fit, cold, beyond scikit-learn's import",
            "<= 5 s",
            cold_total - sk_import,
            cold_total - sk_import <= 5,
        ),
        ("import + first default fit, cold, in all", "<= 5 s", cold_total, cold_total <= 5),
        (
            "import + first fit, warm, beyond scikit-learn's import",
            "<= 1 s",
            warm_total - sk_import,
            warm_total - sk_import <= 1,
        ),
        (
            "slowest first fit of another configuration",
            "<= 10 s",
            max(configs.values()),
            max(configs.values()) <= 10,
        ),
    ]
    if args.verify:
        first, total = _verify_cold(tempfile.mkdtemp())
        lines += [
            "",
            "## `fastgd verify --quick`, cold cache",
            "",
            f"First line of output after {first:.1f} s; finished after {total:.1f} s.",
        ]
        goals.append(("fastgd verify --quick, cold", "<= 180 s", total, total <= 180))
    lines += ["", "## Goals", "", "| goal | target | measured s | verdict |", "|---|---|---:|---|"]
    for name, target, value, ok in goals:
        lines.append(f"| {name} | {target} | {value:.2f} | {'PASS' if ok else 'FAIL'} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
