"""No kernel allocates per row or per batch: heap allocations do not grow with n.

A leaf that created ``np.zeros(8)`` per row made the L1/elasticnet/averaging path
2-4x slower than scikit-learn and no test noticed (results were right). numba's
runtime counts its allocations when ``NUMBA_NRT_STATS=1`` is set before numba is
imported, so the check runs in a fresh interpreter: every configuration of the grid
(both dtypes, both row orders, sample weights) is run on 40 and on 400 rows, and the
allocation counts of the two runs must be equal.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_SCRIPT = r"""
import json
import numpy as np
from numba.core.runtime import rtsys
from fastgd import _layout as C, _grid
from fastgd._driver import LinearState
from fastgd._driver import epoch_path, guarded_kernel, run_epoch, Problem, _GUARDED

def allocations(cfg, n, dtype, shuffled, guarded):
    X, y, sw = _grid.make_data(cfg.loss, n=n, d=12)
    X = np.ascontiguousarray(X.astype(dtype))
    loss, penalty, optimizer, schedule, batch, hp = _grid.kernel_args(cfg, n)
    order = np.random.default_rng(0).permutation(n) if shuffled else np.arange(n)
    lin = LinearState(np.zeros(13), C.new_state(12), C.new_counters(cfg.eta0))
    arrays = (lin.params, lin.state, lin.counters)
    spec = loss | penalty << 4 | optimizer << 8 | schedule << 12 | (0 if batch == n else batch) << 16
    before = rtsys.get_allocation_stats().alloc
    if guarded:
        kernel = _GUARDED[epoch_path(optimizer, penalty, batch, hp[C.HP_AVERAGE])]
        kernel(X, y, sw, order, n, lin.arena, hp, spec)
    else:
        run_epoch(X, y, sw, order, *arrays, hp, loss, penalty, optimizer, schedule, batch)
    return rtsys.get_allocation_stats().alloc - before

_GUARDED["plain"](np.ones((2, 12)), np.ones(2), np.ones(2), np.arange(2), 2,
                  np.zeros(C.arena_size(12)), np.zeros(C.N_HP), 1 << 16)  # starts numba's runtime
growing = []
for name, cfg in _grid.configurations(batch_sizes=(1, 4, None), losses=("squared_error", "hinge")):
    for dtype in (np.float64, np.float32):
        for shuffled in (False, True):
            guarded = cfg.batch_size == 1 and not shuffled
            small = allocations(cfg, 40, dtype, shuffled, guarded)
            large = allocations(cfg, 400, dtype, shuffled, guarded)
            if large != small:
                growing.append(f"{name} {np.dtype(dtype).name} shuffled={shuffled}: "
                               f"{small} -> {large}")
print(json.dumps(growing))
"""


@pytest.mark.slow
def test_no_allocation_grows_with_the_number_of_rows():
    env = dict(os.environ, NUMBA_NRT_STATS="1")
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, env=env, timeout=1200
    )
    assert out.returncode == 0, out.stderr[-3000:]
    growing = json.loads(out.stdout.strip().splitlines()[-1])
    assert growing == [], "\n".join(growing[:20])
