"""The machine's own limit: single-core and all-core memory read bandwidth.

Each probe sums a float64 array larger than the caches (at least 4x the largest cache
and the profile's size); the report divides each run's effective GB/s of X read by
these figures.
"""

from __future__ import annotations

import gc

import benchlib
import numba
import numpy as np
import pytest

from fastgd.benchmark import GOAL_ROUNDS


@pytest.fixture(scope="module")
def big_array(profile):
    nbytes = max(
        benchlib.PROFILES[profile]["bw_bytes"], 4 * benchlib.l3_bytes() if profile != "tiny" else 0
    )
    a = np.ones(nbytes // 8)  # np.ones touches every page
    yield a
    del a
    gc.collect()


@pytest.mark.parametrize("probe", list(benchlib.BANDWIDTH_PROBES))
def test_bandwidth(benchmark, big_array, probe):
    fn = benchlib.BANDWIDTH_PROBES[probe]
    fn(np.ones(64))  # compile or load from the numba cache outside the timing
    benchmark.group = "memory bandwidth"
    benchmark.extra_info.update(
        kind="bandwidth",
        probe=probe,
        bytes=int(big_array.nbytes),
        threads=numba.get_num_threads() if "all-core" in probe else 1,
    )
    total = benchmark.pedantic(
        fn, args=(big_array,), rounds=GOAL_ROUNDS, warmup_rounds=1
    )  # as many as the fits it divides
    assert total == pytest.approx(big_array.size)
