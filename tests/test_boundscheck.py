"""Every kernel path run once with numba's bounds checking on (DESIGN: one CI run with it).

The kernels are compiled without bounds checks, so an index past the end of an array
reads or writes whatever lies there. Here a fresh interpreter recompiles them with
``NUMBA_BOUNDSCHECK=1`` (into a private cache directory, so the checked code never
mixes with the normal cache) and drives every loss, penalty, optimizer, schedule and
batch mode, both dtypes, the CSR paths (exact and lazy), the shuffled and in-place
per-sample paths, chunked
``partial_fit`` and the carried dot's restart; any out-of-range index raises
``IndexError`` there and fails this test.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

_SCRIPT = r"""
import dataclasses
import warnings
import numpy as np
import scipy.sparse as sp
from numba.core import config
assert config.BOUNDSCHECK == 1, "bounds checking is not on"
from fastgd import SGDClassifier, SGDRegressor, _grid
warnings.simplefilter("ignore")
for name, cfg in _grid.configurations(batch_sizes=(1, 4, None)):
    if cfg.fit_intercept is False and cfg.learning_rate not in ("constant", "optimal"):
        continue  # the intercept switch changes no index; keep the run short
    X, y, sw = _grid.make_data(cfg.loss, n=9, d=3)
    for dtype in (np.float64, np.float32):
        dev = _grid.compare(cfg, X, y, sw, epochs=2, X_kernel=X.astype(dtype))
        assert dev == dev, name  # ran to the end (nan would mean a broken comparison)
    # the CSR paths (exact and lazy), on rows with empty and partly empty columns
    Xz = X.copy()
    Xz[::2, 1] = 0.0
    Xz[3] = 0.0
    Xs = sp.csr_matrix(Xz)
    dev = _grid.compare(cfg, Xz, y, sw, epochs=2, X_kernel=Xs)
    assert dev == dev, name
    for average in (0, 2):  # canonical rows: per-sample lazy steps take their own kernel
        lazy = dataclasses.replace(cfg, lazy_updates=True, average=average)
        dev = _grid.compare(lazy, Xz, y, sw, epochs=2, X_kernel=Xs, sparse_reference=True)
        assert dev == dev, name
rng = np.random.default_rng(0)
for d in (1, 7, 70):  # the carried loop below and above its SIMD width, gather blocks
    X = rng.normal(size=(600, d))
    y = X @ rng.normal(size=d)
    for dtype in (np.float64, np.float32):
        Xd = X.astype(dtype)
        for shuffle in (False, True):
            SGDRegressor(max_iter=2, tol=None, shuffle=shuffle, random_state=0).fit(Xd, y)
            SGDClassifier(max_iter=2, tol=None, average=10, shuffle=shuffle,
                          penalty="elasticnet").fit(Xd, y > 0)
        m = SGDRegressor(shuffle=False, batch_size=8, optimizer="adam")
        p = SGDRegressor(shuffle=False)
        for a, b in ((0, 1), (1, 300), (300, 600)):
            m.partial_fit(Xd[a:b], y[a:b])
            p.partial_fit(Xd[a:b], y[a:b])
        q = SGDRegressor(warm_start=True, max_iter=1, tol=None, shuffle=False)
        q.fit(Xd, y)
        q.fit(Xd, y)  # warm start: the carry restarts from coef_
        SGDClassifier(max_iter=2, tol=None).fit(Xd, np.arange(600) % 3)
print("ok")
"""


@pytest.mark.slow
def test_every_kernel_path_in_bounds(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=1200
    )
    assert out.returncode == 0, out.stderr[-4000:]
    assert out.stdout.strip().splitlines()[-1] == "ok"
