"""Compile time and start-up, each in a fresh interpreter.

* cold: ``NUMBA_CACHE_DIR`` pointing to a new empty directory, so every kernel the first
  fits need is compiled (float64 per-sample, float64 mini-batch Adam, float32 per-sample);
* warm: the same again with that cache filled -- what a user sees on every later start.

``import sklearn.base`` (which the estimators' ``BaseEstimator`` needs) is timed apart, so
``first_fit_total_s`` is fastgd's own import plus its first fit, on top of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

import pytest

SNIPPET = """\
import json, time, warnings
t0 = time.perf_counter()
import numpy as np
import sklearn.base  # what inheriting scikit-learn's BaseEstimator costs, timed apart
t1 = time.perf_counter()
import fastgd
out = {"sklearn_import_s": t1 - t0, "import_s": time.perf_counter() - t1}
warnings.simplefilter("ignore")
rng = np.random.default_rng(0)
X = rng.standard_normal((1000, 10))
y = X @ np.arange(1.0, 11.0) + 0.1 * rng.standard_normal(1000)
for key, Xi, kw in (("fit_float64_s", X, {}),
                    ("fit_adam_batch32_s", X, {"optimizer": "adam", "batch_size": 32}),
                    ("fit_float32_s", X.astype(np.float32), {})):
    t = time.perf_counter()
    fastgd.SGDRegressor(random_state=0, **kw).fit(Xi, y)
    out[key] = time.perf_counter() - t
out["total_s"] = time.perf_counter() - t0
# fastgd's own import plus its first fit, on top of numpy's and scikit-learn's imports
out["first_fit_total_s"] = out["import_s"] + out["fit_float64_s"]
print("FASTGD_STARTUP", json.dumps(out))
"""


def _run(cache_dir):
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    res = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, env=env, check=True
    )
    line = [ln for ln in res.stdout.splitlines() if ln.startswith("FASTGD_STARTUP")][-1]
    return json.loads(line.split(" ", 1)[1])


@pytest.fixture(scope="module")
def cache_dir():
    with tempfile.TemporaryDirectory(prefix="fastgd-numba-cache-") as d:
        yield d


def test_cold_compile(benchmark, cache_dir, request):
    if request.config.getoption("--fastgd-skip-cold"):
        pytest.skip("--fastgd-skip-cold")
    result = benchmark.pedantic(_run, args=(cache_dir,), rounds=1, iterations=1)
    benchmark.group = "start-up"
    benchmark.extra_info.update(kind="startup", stage="cold", **result)


def test_warm_start(benchmark, cache_dir, request):
    # With the cold test skipped the fresh directory is empty: use numba's default cache
    # (next to fastgd's sources) and let one unmeasured run fill it if needed.
    skipped = request.config.getoption("--fastgd-skip-cold")
    where = None if skipped else cache_dir
    results = []

    def run():
        results.append(_run(where))

    benchmark.pedantic(run, rounds=2, iterations=1, warmup_rounds=1 if skipped else 0)
    best = min(results[-2:], key=lambda r: r["first_fit_total_s"])
    benchmark.group = "start-up"
    benchmark.extra_info.update(kind="startup", stage="warm", **best)
