"""pytest configuration of the benchmark suites: profile options and the grid.

Run through ``fastgd bench`` (which picks the options and writes the report), or by hand::

    python -m pytest bench -p no:cacheprovider --fastgd-profile quick \
        --benchmark-json reports/bench.json

Options: ``--fastgd-profile tiny|quick|full``, ``--fastgd-sizes 1000,10000`` and
``--fastgd-dims 10,100`` (override the profile's n and d), ``--fastgd-impls`` (a subset of
implementations) and ``--fastgd-skip-cold`` (skip the cold-compile subprocess, ~20 s).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import benchlib  # noqa: E402


def _ints(text):
    return tuple(int(float(v)) for v in text.split(",") if v.strip()) if text else None


def pytest_addoption(parser):
    g = parser.getgroup("fastgd", "fastgd benchmark grid")
    g.addoption(
        "--fastgd-profile",
        default="quick",
        choices=sorted(benchlib.PROFILES),
        help="grid of sizes, modes and peers (default quick)",
    )
    g.addoption("--fastgd-sizes", default="", help="comma-separated n values")
    g.addoption("--fastgd-dims", default="", help="comma-separated d values")
    g.addoption("--fastgd-impls", default="", help="comma-separated implementations")
    g.addoption(
        "--fastgd-skip-cold",
        action="store_true",
        help="do not time the cold compile (fresh NUMBA_CACHE_DIR subprocess)",
    )


def pytest_generate_tests(metafunc):
    config = metafunc.config
    profile = config.getoption("--fastgd-profile")
    if "case" in metafunc.fixturenames:
        impls = config.getoption("--fastgd-impls")
        cases = benchlib.throughput_cases(
            profile,
            ns=_ints(config.getoption("--fastgd-sizes")),
            ds=_ints(config.getoption("--fastgd-dims")),
            impls=tuple(impls.split(",")) if impls else None,
        )
        metafunc.parametrize("case", cases, ids=[c.id for c in cases])
    if "accuracy_run" in metafunc.fixturenames:
        names = [(p, c) for p in range(4) for c in benchlib.ACCURACY_CONFIGS]
        metafunc.parametrize(
            "accuracy_run", names, ids=[f"problem{p}-{c.replace(' ', '_')}" for p, c in names]
        )


@pytest.fixture(scope="session")
def profile(request):
    """Name of the profile (``tiny``, ``quick`` or ``full``)."""
    return request.config.getoption("--fastgd-profile")


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add what the report needs: CPU, cores, caches, library versions and BLAS."""
    from fastgd.benchmark import machine_info as fastgd_machine_info

    machine_info["fastgd"] = fastgd_machine_info()
    machine_info["fastgd"]["profile"] = config.getoption("--fastgd-profile")
    machine_info["fastgd"]["argv"] = list(sys.argv)
