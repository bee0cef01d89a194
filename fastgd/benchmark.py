"""``fastgd bench``: run the benchmark suites in ``bench/`` and write a report.

The suites are pytest-benchmark files (``bench/test_*.py``, the grid in
``bench/benchlib.py``). This module runs them in a subprocess with ``--benchmark-json``,
then turns that JSON into ``benchmark.md`` and PNG figures. Every figure in the report is
computed here from the JSON; nothing is typed in. Ratios compare runs of the same pytest
session. While the suites run, :class:`LoadMonitor` records the machine's load (load
averages, and the CPU time other processes took on the usable cores); the report shows
it and warns when the machine was busy (:func:`load_verdict`).

Where the report goes (``--out`` overrides it): only the full sweep writes the committed
``reports/``; the quick sweep writes ``reports/quick/`` and the tiny one ``reports/tiny/``,
both ignored by git, so running the README's main job leaves the checkout (its committed
report and the README's table) as it was.

- ``fastgd bench``: the quick sweep (a few minutes on 2 cores), into ``reports/quick/``;
- ``fastgd bench --full``: the whole grid (n up to 1e7, d up to 1000, every mode and
  peer), into ``reports/``;
- ``fastgd bench --tiny``: seconds, for tests, into ``reports/tiny/``;
- ``fastgd bench --report-only reports/bench.json``: rebuild the report from saved JSON
  (into the JSON's folder).

The last line ``fastgd bench`` prints says where the report is and how many goals passed.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import shlex
import subprocess
import sys
import threading
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPORT_NAME = "benchmark.md"
JSON_NAME = "bench.json"
FIGURES = {
    "throughput": "throughput_vs_n.png",
    "speedup": "speedup.png",
    "bandwidth": "bandwidth_fraction.png",
    "accuracy": "time_to_accuracy.png",
    "startup": "compile_time.png",
}
SECTIONS = (
    "## How to reproduce",
    "## Machine",
    "## Machine load during the run",
    "## Memory read bandwidth",
    "## Speed goals of the core issue",
    "## Throughput",
    "## Effective bandwidth of fastgd",
    "## Speed-up of fastgd over each peer",
    "## Time to accuracy",
    "## Compile time and start-up",
    "## Figures",
)
#: The probe that the core issue's bandwidth goal names ("a plain njit sum").
PLAIN_PROBE = "single-core plain sum"
THRESHOLDS = (1e-2, 1e-4, 1e-6)
IMPL_LABELS = {
    "fastgd": "fastgd SGDRegressor.fit",
    "fastgd-kernel": "fastgd run_epoch (kernel only)",
    "reference": "fastgd.reference (NumPy twin) [slow peer: small n]",
    "textbook": "seeds' textbook NumPy loop [slow peer: subset]",
    "sklearn": "scikit-learn SGDRegressor.fit",
    "river": "River learn_one/learn_many [slow peer: small n]",
    "torch": "PyTorch torch.optim loop [slow peer: subset]",
}
PEERS = ("sklearn", "textbook", "reference", "torch", "river")
# The core issue's speed goals: per-sample SGD, squared loss, n = 1,000,000, whole fit.
GOAL_N = 1_000_000
GOAL_MODE = "sgd/1"
GOAL_IMPLS = ("fastgd", "sklearn")  # the pairs the goals compare
#: Rounds each goal pair (and each bandwidth probe) is timed over, as ``bench/bench_core.py``
#: takes its best of 7: on a shared 2-core host three rounds can all land in a noisy spell
#: (a d = 100 shuffled epoch varies 50-75 ms between minutes), and a verdict should not
#: hinge on that.
GOAL_ROUNDS = 7


def is_goal_row(impl: str, mode: str, n: int) -> bool:
    """Whether a throughput benchmark is one of the pairs the core speed goals use."""
    return impl in GOAL_IMPLS and mode == GOAL_MODE and n == GOAL_N


# --------------------------------------------------------------------------- machine
def _caches() -> str:
    parts = []
    for idx in sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*")):
        try:
            level = (idx / "level").read_text().strip()
            kind = (idx / "type").read_text().strip()
            size = (idx / "size").read_text().strip()
        except OSError:
            continue
        suffix = {"Data": "d", "Instruction": "i"}.get(kind, "")
        parts.append(f"L{level}{suffix} {size}")
    return ", ".join(parts) or "unknown"


def machine_info() -> dict:
    """Describe the machine and the libraries: CPU, cores, caches, versions, BLAS.

    Returns
    -------
    dict
        Human-readable strings keyed by item (``"CPU"``, ``"cores"``, ``"numba"``, ...).
    """
    import numba
    import sklearn

    model = platform.processor() or platform.machine()
    physical = set()
    try:
        phys_id = core_id = None
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            key, value = key.strip(), value.strip()
            if key == "model name":
                model = value
            elif key == "physical id":
                phys_id = value
            elif key == "core id":
                core_id = value
            elif not key and phys_id is not None:
                physical.add((phys_id, core_id))
                phys_id = core_id = None
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    blas = []
    try:
        from threadpoolctl import threadpool_info

        for info in threadpool_info():
            if info.get("user_api") == "blas":
                arch = info.get("architecture")
                blas.append(
                    f"{info.get('internal_api')} {info.get('version')} "
                    f"({'kernel ' + arch + ', ' if arch else ''}"
                    f"{info.get('num_threads')} threads)"
                )
        forced = [
            f"{k}={os.environ[k]}"
            for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
            if k in os.environ
        ]
        if forced:
            blas.append("set: " + ", ".join(forced))
    except ImportError:
        blas.append("threadpoolctl not installed")
    mem = "unknown"
    try:
        kb = int(Path("/proc/meminfo").read_text().split("MemTotal:")[1].split()[0])
        mem = f"{kb / 2**20:.1f} GiB"
    except (OSError, IndexError, ValueError):
        pass
    from . import __version__

    versions = {}
    for name in ("river", "torch"):
        try:
            versions[name] = __import__(name).__version__
        except ImportError:
            versions[name] = "not installed (peer skipped)"
    return {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "CPU": model,
        "cores": f"{os.cpu_count()} logical, {len(physical) or '?'} physical, "
        f"{usable} usable by this process",
        "caches": _caches(),
        "memory": mem,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "fastgd": __version__,
        "numpy": np.__version__,
        "numba": f"{numba.__version__} ({numba.get_num_threads()} threads)",
        "scikit-learn": sklearn.__version__,
        "BLAS (threadpoolctl)": "; ".join(blas) or "none reported",
        "River": versions["river"],
        "PyTorch": versions["torch"],
    }


# --------------------------------------------------------------------------- machine load
#: The machine counts as busy when other processes took, on average, at least this share
#: of the usable cores' time during the run ...
BUSY_CPU_SHARE = 0.25
#: ... or, where CPU times cannot be read, when the highest 1-minute load average during
#: the run exceeded the benchmark's own one thread by this many per usable core.
BUSY_LOAD_PER_CORE = 0.5


def _usable_cpus() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return list(range(os.cpu_count() or 1))


def _loadavg() -> list[float] | None:
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # pragma: no cover - Windows
        return None


def _busy_cpu_seconds(cpus: list[int]) -> float | None:
    """CPU seconds the usable CPUs spent busy since boot (every process), or None."""
    try:
        import psutil

        per_cpu = psutil.cpu_times(percpu=True)
        fields = ("user", "nice", "system", "irq", "softirq", "steal")
        return float(
            sum(getattr(per_cpu[c], f, 0.0) for c in cpus if c < len(per_cpu) for f in fields)
        )
    except ImportError:
        pass
    try:  # Linux without psutil: /proc/stat, in clock ticks
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        wanted = {f"cpu{c}" for c in cpus}
        for line in Path("/proc/stat").read_text().splitlines():
            name, *values = line.split()
            if name in wanted:
                v = [int(x) for x in values]
                total += v[0] + v[1] + v[2] + v[5] + v[6] + (v[7] if len(v) > 7 else 0)
        return total / ticks
    except (OSError, ValueError, IndexError, AttributeError):  # pragma: no cover
        return None


def _own_cpu_seconds() -> float | None:
    """CPU seconds of this process and of its waited-for children (the suites)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class LoadMonitor:
    """Record the machine's load while a benchmark runs (a context manager).

    Before and after the run it reads the load averages (``os.getloadavg``) and the busy
    CPU time of the CPUs this process may use (psutil, or ``/proc/stat``); while the run
    goes on, a background thread samples the 1-minute load average every ``interval``
    seconds. The CPU time the run itself used (this process and its children, from
    ``resource.getrusage``) is subtracted from the machine's: what remains is the share
    of the usable cores that other processes took, the figure :func:`load_verdict`
    judges by.

    Parameters
    ----------
    interval : float, default=2.0
        Seconds between two samples of the load average.

    Examples
    --------
    >>> with LoadMonitor() as monitor:
    ...     pass  # the benchmark
    >>> load = monitor.result()
    >>> load["usable_cores"] >= 1, load["busy"] == load_verdict(load)[0]
    (True, True)
    """

    def __init__(self, interval: float = 2.0):
        self.interval = float(interval)
        self.cpus = _usable_cpus()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._samples: list[float] = []
        self._result: dict | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            avg = _loadavg()
            if avg is not None:
                self._samples.append(avg[0])

    def __enter__(self) -> LoadMonitor:
        self._before = _loadavg()
        self._busy0 = _busy_cpu_seconds(self.cpus)
        self._own0 = _own_cpu_seconds()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._sample, name="fastgd-load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        seconds = time.perf_counter() - self._t0
        after = _loadavg()
        busy1, own1 = _busy_cpu_seconds(self.cpus), _own_cpu_seconds()
        res = {
            "seconds": round(seconds, 1),
            "usable_cores": len(self.cpus),
            "loadavg_before": self._before,
            "loadavg_after": after,
            "loadavg_max_1min": max(
                [v[0] for v in (self._before, after) if v is not None] + self._samples,
                default=None,
            ),
            "cpu_busy_cores": None,
            "own_cpu_cores": None,
            "other_cpu_cores": None,
        }
        if seconds > 0 and None not in (self._busy0, busy1):
            res["cpu_busy_cores"] = round((busy1 - self._busy0) / seconds, 3)
            if None not in (self._own0, own1):
                res["own_cpu_cores"] = round((own1 - self._own0) / seconds, 3)
                res["other_cpu_cores"] = round(
                    max(0.0, res["cpu_busy_cores"] - res["own_cpu_cores"]), 3
                )
        res["busy"], res["reason"] = load_verdict(res)
        self._result = res

    def result(self) -> dict:
        """The record of the run: load averages, CPU use (in cores) and the verdict."""
        if self._result is None:
            raise RuntimeError("LoadMonitor.result() is available after the with block.")
        return dict(self._result)


def load_verdict(load: dict | None) -> tuple[bool, str]:
    """Whether the machine was busy during a run, and why (or why not), in words.

    Parameters
    ----------
    load : dict or None
        :meth:`LoadMonitor.result` (as stored in the benchmark JSON), or None for a run
        that did not record it.

    Returns
    -------
    busy : bool
        True when other processes took at least :data:`BUSY_CPU_SHARE` of the usable
        cores' time on average; where CPU times were not measured, when the highest
        1-minute load average exceeded 1 (the benchmark's own thread) by
        :data:`BUSY_LOAD_PER_CORE` per usable core.
    reason : str
        The figures the verdict rests on.
    """
    if not load:
        return False, "the machine's load was not recorded for this run"
    cores = max(1, int(load.get("usable_cores") or 1))
    other = load.get("other_cpu_cores")
    if other is not None:
        share = other / cores
        return share >= BUSY_CPU_SHARE, (
            f"other processes used {other:.2f} of the {cores} usable cores on average, "
            f"{share:.0%} of their time; busy from {BUSY_CPU_SHARE:.0%}"
        )
    peak = load.get("loadavg_max_1min")
    if peak is not None:
        excess = (peak - 1.0) / cores
        return excess >= BUSY_LOAD_PER_CORE, (
            f"the 1-minute load average reached {peak:.2f} on {cores} usable cores; busy "
            f"from {1 + BUSY_LOAD_PER_CORE * cores:.2f}, as CPU times were not measured"
        )
    return False, "neither CPU times nor load averages could be read on this machine"


def load_lines(load: dict | None) -> list[str]:
    """The report's "Machine load during the run" section (markdown lines)."""
    if not load:
        return [
            "Not recorded: these results come from a run before `fastgd bench` recorded "
            "the machine's load.",
            "",
        ]

    def avg(v):
        return "-" if v is None else " / ".join(f"{x:.2f}" for x in v)

    def cores(v):
        return "-" if v is None else f"{v:.2f} cores"

    busy, why = load_verdict(load)
    lines = [
        "Recorded by `fastgd bench` while the suites ran (`os.getloadavg`; CPU time of the "
        "usable cores from psutil or `/proc/stat`, minus this run's own from "
        "`getrusage`).",
        "",
    ]
    lines += _table(
        ["item", "value"],
        [
            ("run length", f"{load.get('seconds', float('nan')):.0f} s"),
            ("usable cores", load.get("usable_cores", "-")),
            ("load average before (1 / 5 / 15 min)", avg(load.get("loadavg_before"))),
            ("load average after (1 / 5 / 15 min)", avg(load.get("loadavg_after"))),
            (
                "highest 1-min load average during the run",
                "-" if load.get("loadavg_max_1min") is None else f"{load['loadavg_max_1min']:.2f}",
            ),
            ("CPU use of the usable cores, every process", cores(load.get("cpu_busy_cores"))),
            ("CPU use of this run", cores(load.get("own_cpu_cores"))),
            ("CPU use of other processes", cores(load.get("other_cpu_cores"))),
        ],
    )
    lines += [
        "",
        (
            f"**The machine was busy during this run**: {why}."
            if busy
            else f"The machine was quiet during this run: {why}."
        ),
        "",
    ]
    return lines


# --------------------------------------------------------------------------- analysis
def load_results(path) -> dict:
    """Read a pytest-benchmark JSON file and sort its benchmarks by kind.

    Parameters
    ----------
    path : str or Path
        The ``--benchmark-json`` output of the suites in ``bench/``.

    Returns
    -------
    dict
        ``machine``, ``datetime``, ``bandwidth`` (probe -> GB/s), ``throughput`` (list of
        rows with seconds, samples/s, GB/s and fractions of bandwidth), ``speedups``,
        ``accuracy`` and ``startup`` (stage -> timings).
    """
    data = json.loads(Path(path).read_text())
    out = {
        "machine": data.get("machine_info", {}).get("fastgd", {}),
        "datetime": data.get("datetime", ""),
        "bandwidth": {},
        "bandwidth_bytes": 0,
        "throughput": [],
        "accuracy": [],
        "startup": {},
    }
    for b in data.get("benchmarks", []):
        info, stats = b.get("extra_info", {}), b.get("stats", {})
        kind = info.get("kind")
        if kind == "bandwidth":
            out["bandwidth"][info["probe"]] = info["bytes"] / stats["min"] / 1e9
            out["bandwidth_bytes"] = info["bytes"]
        elif kind == "throughput":
            row = {k: info[k] for k in ("impl", "mode", "n", "d", "dtype", "x_bytes")}
            row.update(seconds=stats["min"], median_s=stats["median"], rounds=stats["rounds"])
            out["throughput"].append(row)
        elif kind == "accuracy":
            out["accuracy"].append(info)
        elif kind == "startup":
            out["startup"][info["stage"]] = info
    bw = out["bandwidth"]
    single = max((v for k, v in bw.items() if k.startswith("single")), default=np.nan)
    for row in out["throughput"]:
        row["samples_s"] = row["n"] / row["seconds"]
        row["gbs"] = row["x_bytes"] / row["seconds"] / 1e9
        row["frac_plain"] = row["gbs"] / bw.get(PLAIN_PROBE, np.nan)
        row["frac_single"] = row["gbs"] / single
        row["frac_all"] = row["gbs"] / bw.get("all-core parallel sum", np.nan)
    fast = {
        (r["mode"], r["n"], r["d"], r["dtype"]): r
        for r in out["throughput"]
        if r["impl"] == "fastgd"
    }
    out["speedups"] = []
    for r in out["throughput"]:
        f = fast.get((r["mode"], r["n"], r["d"], r["dtype"]))
        if r["impl"] in PEERS and f is not None:
            out["speedups"].append(
                dict(
                    peer=r["impl"],
                    mode=r["mode"],
                    n=r["n"],
                    d=r["d"],
                    dtype=r["dtype"],
                    ratio=r["seconds"] / f["seconds"],
                )
            )
    return out


def time_to_reach(curve, threshold):
    """Seconds of the first fit whose relative excess objective is <= ``threshold``.

    Parameters
    ----------
    curve : list of (epochs, seconds, relative excess)
        Fresh fits of growing length (see ``bench/benchlib.time_to_accuracy_curve``).
    threshold : float
        Relative excess objective to reach.

    Returns
    -------
    tuple of (float, int) or None
        Seconds and epochs of that fit, or None when no fit reached it.
    """
    for epochs, seconds, excess in curve:
        if excess <= threshold:
            return seconds, epochs
    return None


def evaluate_goals(res: dict) -> list[dict]:
    """The core issue's speed goals with their measured figures and a verdict each.

    Parameters
    ----------
    res : dict
        Output of :func:`load_results`.

    Returns
    -------
    list of dict
        ``goal``, ``target``, ``measured`` (text), ``verdict`` (``PASS``, ``FAIL`` or
        ``NOT MEASURED``) and ``note`` (where the run's size differs from the goal's).
    """
    rows = {(r["impl"], r["mode"], r["n"], r["d"], r["dtype"]): r for r in res["throughput"]}
    goals = []

    def pair(d, dtype):
        ns = sorted(
            r[2]
            for r in rows
            if r[0] == "fastgd"
            and r[1] == "sgd/1"
            and r[3] == d
            and r[4] == dtype
            and ("sklearn", "sgd/1", r[2], d, dtype) in rows
        )
        if not ns:
            return None, None, None
        n = GOAL_N if GOAL_N in ns else ns[-1]
        return n, rows[("fastgd", "sgd/1", n, d, dtype)], rows[("sklearn", "sgd/1", n, d, dtype)]

    def add(goal, target, value, ok, n, fmt):
        if value is None:
            goals.append(
                dict(
                    goal=goal,
                    target=target,
                    measured="-",
                    verdict="NOT MEASURED",
                    note="no run at this d in this sweep",
                )
            )
            return
        note = "" if n == GOAL_N else f"measured at n = {n:,}, not the goal's n = {GOAL_N:,}"
        goals.append(
            dict(
                goal=goal,
                target=target,
                measured=fmt.format(value),
                verdict="PASS" if ok(value) else "FAIL",
                note=note,
            )
        )

    for d, dtype, need in ((10, "float64", 3.0), (100, "float64", 3.0), (100, "float32", 6.0)):
        n, f, s = pair(d, dtype)
        ratio = None if f is None else s["seconds"] / f["seconds"]
        add(
            f"per-sample SGD fit vs scikit-learn, d = {d}, {dtype}",
            f">= {need:g}x",
            ratio,
            lambda v, need=need: v >= need,
            n,
            "{:.2f}x",
        )
    n, f, _ = pair(100, "float64")
    bw = res["bandwidth"].get(PLAIN_PROBE)
    frac = None if f is None or bw is None else f["gbs"] / bw
    add(
        "per-sample SGD fit, d = 100 float64: X read rate / single-core plain-sum bandwidth",
        ">= 80%",
        frac,
        lambda v: v >= 0.8,
        n,
        "{:.0%}",
    )
    warm = res["startup"].get("warm")
    if warm is None:
        goals.append(
            dict(
                goal="import + first fit (1,000 x 10), warm numba cache, beyond scikit-learn's import",
                target="< 1 s",
                measured="-",
                verdict="NOT MEASURED",
                note="",
            )
        )
    else:
        v = warm["first_fit_total_s"]
        goals.append(
            dict(
                goal="import + first fit (1,000 x 10), warm numba cache, beyond scikit-learn's import",
                target="< 1 s",
                measured=f"{v:.3f} s",
                verdict="PASS" if v < 1.0 else "FAIL",
                note="fresh interpreter",
            )
        )
    return goals


# --------------------------------------------------------------------------- formatting
def _si(x: float) -> str:
    if not np.isfinite(x):
        return "-"
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.3g} {unit}"
    return f"{x:.3g}"


def _table(header, rows):
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def _pivot(records, key_fields, value, fmt):
    """Rows keyed by ``key_fields``, one column per n."""
    ns = sorted({r["n"] for r in records})
    cells = defaultdict(dict)
    for r in records:
        cells[tuple(r[k] for k in key_fields)][r["n"]] = r[value]
    rows = [
        [*key, *(fmt(c[n]) if n in c else "" for n in ns)]
        for key, c in sorted(cells.items(), key=lambda kv: kv[0])
    ]
    return ns, rows


def build_report(res: dict, out_dir, command: str = "") -> Path:
    """Write ``benchmark.md`` and every figure into ``out_dir``.

    Parameters
    ----------
    res : dict
        Output of :func:`load_results`.
    out_dir : str or Path
        Directory for the report and its figures (created if missing).
    command : str, optional
        The command that produced the results (shown under "How to reproduce").

    Returns
    -------
    Path
        The markdown file.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    figures = make_figures(res, out)
    m = res["machine"]
    lines = [
        "# fastgd benchmark report",
        "",
        f"Generated by `fastgd bench` from `{JSON_NAME}` (pytest-benchmark JSON, "
        f"profile `{m.get('profile', '?')}`, run of {res['datetime'] or m.get('date', '?')}). "
        "Every number below is computed from that file; ratios compare runs of the same "
        "session. Times are the best of the rounds of each benchmark.",
        "",
    ]
    busy, why = load_verdict(m.get("load"))
    if busy:
        lines += [
            f"> **Warning: the machine was busy during this run** ({why}). Timings are "
            "slower and noisier than on a quiet machine, so a FAIL below may be the "
            "load's doing: compare ratios within this report, and rerun on a quiet "
            "machine before trusting a verdict.",
            "",
        ]
    lines += [
        SECTIONS[0],
        "",
        "```bash",
        "pip install '.[bench]'   # pytest-benchmark, matplotlib, threadpoolctl",
        command or "fastgd bench --full",
        f"fastgd bench --report-only {JSON_NAME}   # rebuild this report from the JSON",
        "```",
        "",
        "`fastgd bench` runs `python -m pytest bench ... --benchmark-json` and then this "
        "report generator (`fastgd/benchmark.py`).",
        "",
    ]
    lines += [SECTIONS[1], ""]
    lines += _table(["item", "value"], [(k, v) for k, v in m.items() if k not in ("argv", "load")])
    lines += ["", SECTIONS[2], ""]
    lines += load_lines(m.get("load"))

    bw = res["bandwidth"]
    lines += [
        "",
        SECTIONS[3],
        "",
        f"Each probe sums {res['bandwidth_bytes'] / 1e6:,.0f} MB of float64 "
        "(`@numba.njit`; the all-core probe uses `prange` over 8 blocks per thread). "
        "Effective bandwidths below are divided by these.",
        "",
    ]
    lines += _table(["probe", "GB/s"], [(k, f"{v:.2f}") for k, v in bw.items()] or [("-", "-")])

    goals = evaluate_goals(res)
    n_fail = sum(g["verdict"] == "FAIL" for g in goals)
    goal_rounds = sorted(
        {
            r["rounds"]
            for r in res["throughput"]
            if is_goal_row(r["impl"], r["mode"], r["n"]) and r.get("rounds")
        }
    )
    rounds = "/".join(str(k) for k in goal_rounds) or "?"
    lines += [
        "",
        SECTIONS[4],
        "",
        "One epoch of per-sample SGD (squared loss, `SGDRegressor(max_iter=1, tol=None, "
        "random_state=0).fit`, shuffled), whole call, side by side with scikit-learn in "
        f"the same session, best of {rounds} rounds.",
        "",
    ]
    lines += _table(
        ["goal", "target", "measured", "verdict", "note"],
        [(g["goal"], g["target"], g["measured"], f"**{g['verdict']}**", g["note"]) for g in goals],
    )
    lines += [
        "",
        (
            f"**fastgd falls short of {n_fail} of {len(goals)} goals on this machine.**"
            if n_fail
            else "No measured goal failed."
        ),
        "",
    ]

    tp = res["throughput"]
    lines += [
        SECTIONS[5],
        "",
        "Samples per second of one epoch (n / best time); columns are n. Slow peers "
        "run on a subset of sizes (marked) and are reported per sample, like every "
        "implementation. Modes: `optimizer/batch` (`full` = full batch).",
        "",
    ]
    if tp:
        ns, rows = _pivot(
            [dict(r, label=IMPL_LABELS.get(r["impl"], r["impl"])) for r in tp],
            ("label", "mode", "dtype", "d"),
            "samples_s",
            _si,
        )
        lines += _table(["implementation", "mode", "dtype", "d", *(f"n={n:,}" for n in ns)], rows)
    fg = [r for r in tp if r["impl"] in ("fastgd", "fastgd-kernel")]
    lines += [
        "",
        SECTIONS[6],
        "",
        "GB/s of X read per epoch (n d itemsize / best time) and as a fraction of the "
        "single-core plain-sum bandwidth (the core issue's yardstick); the fastest "
        "single-core and the all-core fractions are in the figure.",
        "",
    ]
    if fg:
        ns, rows = _pivot(fg, ("impl", "mode", "dtype", "d"), "gbs", lambda v: f"{v:.2f}")
        lines += _table(
            ["implementation", "mode", "dtype", "d", *(f"GB/s n={n:,}" for n in ns)], rows
        )
        lines += [""]
        ns, rows = _pivot(
            fg,
            ("impl", "mode", "dtype", "d"),
            "frac_plain",
            lambda v: f"{v:.0%}" if np.isfinite(v) else "-",
        )
        lines += _table(
            ["implementation", "mode", "dtype", "d", *(f"frac. n={n:,}" for n in ns)], rows
        )
    lines += [
        "",
        SECTIONS[7],
        "",
        "Peer's time / fastgd `fit` time for the same mode, n, d and dtype (> 1: fastgd "
        "is faster).",
        "",
    ]
    if res["speedups"]:
        ns, rows = _pivot(
            res["speedups"], ("peer", "mode", "dtype", "d"), "ratio", lambda v: f"{v:.1f}x"
        )
        lines += _table(["peer", "mode", "dtype", "d", *(f"n={n:,}" for n in ns)], rows)

    lines += [
        "",
        SECTIONS[8],
        "",
        "Seconds of one whole `fit(max_iter=k, tol=None)` call, for the first k whose "
        "objective (mean loss + 1e-4/2 |w|^2, scikit-learn's default L2, the same for "
        "every run) is within the relative tolerance of the optimum (regression: lstsq; "
        "logistic: Newton's method to machine precision). Classification runs use "
        "`loss='log_loss'`. The real data sets are scikit-learn's bundled diabetes "
        "and breast-cancer tables: shipped with the package (no download), real "
        "measurements with correlated features, but small, so their times are dominated "
        "by per-call overhead.",
        "",
    ]
    acc_rows = []
    for a in res["accuracy"]:
        cells = []
        for th in THRESHOLDS:
            hit = time_to_reach(a["curve"], th)
            cells.append(
                f"{hit[0]:.3g} s ({hit[1]} ep.)"
                if hit
                else f"not reached in {a['curve'][-1][0] if a['curve'] else 0} ep."
            )
        best = min((p[2] for p in a["curve"]), default=np.nan)
        acc_rows.append((a["problem"], a["config"], *cells, f"{best:.2g}"))
    lines += _table(
        ["problem", "configuration", *(f"<= {t:g}" for t in THRESHOLDS), "best rel. excess"],
        acc_rows or [("-",) * 6],
    )

    lines += [
        "",
        SECTIONS[9],
        "",
        "A fresh interpreter imports numpy and scikit-learn's base (timed apart: the "
        "estimators inherit `BaseEstimator`), then fastgd, and fits 1,000 x 10 rows three "
        "ways. Cold: `NUMBA_CACHE_DIR` is a new empty directory, so the kernels compile; "
        "warm: the same cache, filled (best of 2). `import s` is fastgd's own import.",
        "",
    ]
    st_rows = []
    for stage in ("cold", "warm"):
        s = res["startup"].get(stage)
        if s is None:
            st_rows.append((stage, "not measured", "", "", "", "", ""))
            continue
        sk_import = s.get("sklearn_import_s")
        st_rows.append(
            (
                stage,
                "-" if sk_import is None else f"{sk_import:.3f}",
                f"{s['import_s']:.3f}",
                f"{s['fit_float64_s']:.3f}",
                f"{s['fit_adam_batch32_s']:.3f}",
                f"{s['fit_float32_s']:.3f}",
                f"{s['total_s']:.3f}",
            )
        )
    lines += _table(
        [
            "cache",
            "numpy + sklearn.base import s",
            "fastgd import s",
            "first fit float64 s",
            "then adam batch 32 s",
            "then float32 s",
            "total s",
        ],
        st_rows,
    )
    lines += ["", SECTIONS[10], ""]
    for key, path in figures.items():
        lines += [f"![{key}]({path.name})", ""]
    report = out / REPORT_NAME
    report.write_text("\n".join(lines) + "\n")
    return report


# --------------------------------------------------------------------------- figures
def make_figures(res: dict, out: Path) -> dict:
    """Draw the five PNG figures into ``out``; returns ``{key: path}``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = {k: out / v for k, v in FIGURES.items()}
    tp = res["throughput"]
    impls = list(dict.fromkeys(r["impl"] for r in tp))
    modes = list(dict.fromkeys(r["mode"] for r in tp)) or ["-"]
    ds = sorted({r["d"] for r in tp})
    colors = {impl: plt.cm.tab10(i) for i, impl in enumerate(IMPL_LABELS)}
    styles = ["-", "--", ":", "-."]

    def grid(k):
        cols = min(4, max(1, k))
        rows = -(-k // cols)
        fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
        for ax in axes.flat[k:]:
            ax.set_visible(False)
        return fig, axes.flat

    # 1. throughput vs n, per implementation (float64)
    fig, axes = grid(len(modes))
    for ax, mode in zip(axes, modes, strict=False):
        for impl in impls:
            for j, d in enumerate(ds):
                pts = sorted(
                    (r["n"], r["samples_s"])
                    for r in tp
                    if r["impl"] == impl
                    and r["mode"] == mode
                    and r["d"] == d
                    and r["dtype"] == "float64"
                )
                if pts:
                    ax.loglog(
                        *zip(*pts, strict=True),
                        styles[j % 4],
                        marker="o",
                        ms=3,
                        color=colors[impl],
                        label=f"{IMPL_LABELS[impl]}, d={d}",
                    )
        ax.set(title=f"mode {mode} (float64)", xlabel="n (rows)", ylabel="samples / s")
        ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colors[i], marker="o", label=IMPL_LABELS[i]) for i in impls]
    handles += [
        Line2D([], [], color="k", ls=styles[j % 4], label=f"d = {d}") for j, d in enumerate(ds)
    ]
    fig.suptitle("Throughput of one epoch vs n (higher is better)")
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    fig.savefig(paths["throughput"], dpi=110)
    plt.close(fig)

    # 2. speed-up over each peer
    sp = res["speedups"]
    peers = list(dict.fromkeys(s["peer"] for s in sp)) or ["-"]
    fig, axes = grid(len(peers))
    for ax, peer in zip(axes, peers, strict=False):
        keys = sorted({(s["mode"], s["d"], s["dtype"]) for s in sp if s["peer"] == peer})
        for mode, d, dtype in keys:
            pts = sorted(
                (s["n"], s["ratio"])
                for s in sp
                if s["peer"] == peer and (s["mode"], s["d"], s["dtype"]) == (mode, d, dtype)
            )
            ax.loglog(
                *zip(*pts, strict=True),
                "--" if dtype == "float32" else "-",
                marker="o",
                ms=3,
                label=f"{mode} d={d} {dtype}",
            )
        ax.axhline(1.0, color="k", lw=0.8, label="parity")
        if peer == "sklearn":
            ax.axhline(3.0, color="r", lw=0.8, ls=":", label="goal 3x (float64)")
        ax.set(
            title=f"fastgd fit vs {peer}",
            xlabel="n (rows)",
            ylabel="speed-up (peer time / fastgd time)",
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("Speed-up of fastgd over each peer, same session")
    fig.tight_layout()
    fig.savefig(paths["speedup"], dpi=110)
    plt.close(fig)

    # 3. fraction of bandwidth
    fg = [r for r in tp if r["impl"] == "fastgd"]
    fig, axes = grid(max(1, len(ds)))
    for ax, d in zip(axes, ds or [0], strict=False):
        for mode in modes:
            for dtype, ls in (("float64", "-"), ("float32", "--")):
                pts = sorted(
                    (r["n"], r["frac_plain"])
                    for r in fg
                    if r["d"] == d and r["mode"] == mode and r["dtype"] == dtype
                )
                if pts:
                    ax.semilogx(
                        *zip(*pts, strict=True), ls, marker="o", ms=3, label=f"{mode} {dtype}"
                    )
        ax.axhline(0.8, color="r", lw=0.8, ls=":", label="goal 80% (sgd/1, d=100)")
        ax.set(
            title=f"fastgd fit, d = {d}",
            xlabel="n (rows)",
            ylabel="X read rate / single-core plain-sum bandwidth",
        )
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("Fraction of the measured single-core read bandwidth")
    fig.tight_layout()
    fig.savefig(paths["bandwidth"], dpi=110)
    plt.close(fig)

    # 4. time-to-accuracy curves
    problems = list(dict.fromkeys(a["problem"] for a in res["accuracy"])) or ["-"]
    fig, axes = grid(len(problems))
    for ax, prob in zip(axes, problems, strict=False):
        for a in res["accuracy"]:
            if a["problem"] == prob and a["curve"]:
                _, secs, exc = zip(*a["curve"], strict=True)
                ax.loglog(secs, np.maximum(exc, 1e-12), marker="o", ms=3, label=a["config"])
        for th in THRESHOLDS:
            ax.axhline(th, color="grey", lw=0.6, ls=":")
        ax.set(title=prob, xlabel="fit time (s)", ylabel="relative excess objective")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6)
    fig.suptitle("Time to accuracy (dotted: 1e-2, 1e-4, 1e-6)")
    fig.tight_layout()
    fig.savefig(paths["accuracy"], dpi=110)
    plt.close(fig)

    # 5. compile time and start-up
    fig, ax = plt.subplots(figsize=(7, 3.8))
    parts = ("import_s", "fit_float64_s", "fit_adam_batch32_s", "fit_float32_s")
    labels = ("import", "first fit float64", "adam batch 32", "float32")
    stages = [s for s in ("cold", "warm") if s in res["startup"]]
    for i, stage in enumerate(stages):
        left = 0.0
        for j, (key, lab) in enumerate(zip(parts, labels, strict=True)):
            v = res["startup"][stage][key]
            ax.barh(i, v, left=left, color=plt.cm.tab10(j), label=lab if i == 0 else None)
            left += v
    ax.set_yticks(range(len(stages)), [f"{s} numba cache" for s in stages])
    ax.axvline(1.0, color="r", lw=0.8, ls=":", label="goal: import + first fit < 1 s (warm)")
    ax.set(title="Compile time and start-up (fresh interpreter)", xlabel="seconds")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(paths["startup"], dpi=110)
    plt.close(fig)
    return paths


# --------------------------------------------------------------------------- command
def find_bench_dir(given=None) -> Path:
    """The ``bench/`` directory of a source checkout: ``given``, ./bench or next to fastgd."""
    candidates = (
        [Path(given)]
        if given
        else [Path.cwd() / "bench", Path(__file__).resolve().parents[1] / "bench"]
    )
    for c in candidates:
        if (c / "benchlib.py").is_file():
            return c
    raise OSError(
        "fastgd bench needs the bench/ directory of a fastgd source checkout; run "
        "it from the repository root or pass --bench-dir."
    )


def pytest_command(args, json_path: Path, bench_dir: Path) -> list[str]:
    """The pytest command line that runs the suites for ``args``.

    ``json_path`` should be absolute: the suites write it, and pytest-benchmark's (unused)
    storage folder next to it, from their own working folder.
    """
    profile = "full" if args.full else "tiny" if args.tiny else "quick"
    max_time = {"tiny": "0.01", "quick": "0.05", "full": "0.2"}[profile]
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        str(bench_dir),
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        "-W",
        "ignore",
        "-v",
        "--tb=short",
        f"--fastgd-profile={profile}",
        f"--benchmark-json={json_path}",
        # pytest-benchmark creates its storage folder even unused: next to the report,
        # not in the working folder
        f"--benchmark-storage=file://{json_path.parent / '.benchmarks'}",
        "--benchmark-min-rounds=3",
        f"--benchmark-max-time={max_time}",
        "--benchmark-warmup=off",
        "--benchmark-quiet",
    ]
    if args.sizes:
        cmd.append(f"--fastgd-sizes={args.sizes}")
    if args.dims:
        cmd.append(f"--fastgd-dims={args.dims}")
    if args.impls:
        cmd.append(f"--fastgd-impls={args.impls}")
    if args.skip_cold:
        cmd.append("--fastgd-skip-cold")
    return cmd


#: Where each profile writes its report when ``--out`` is not given: only the full sweep
#: writes the committed ``reports/``; the others write folders that git ignores.
DEFAULT_OUT = {"full": "reports", "quick": "reports/quick", "tiny": "reports/tiny"}


def profile_of(args: argparse.Namespace) -> str:
    """``'full'``, ``'tiny'`` or ``'quick'`` (the default) for parsed ``fastgd bench`` args."""
    return "full" if args.full else "tiny" if args.tiny else "quick"


def output_dir(args: argparse.Namespace) -> Path:
    """The report folder: ``--out``, else the saved JSON's folder (``--report-only``),
    else :data:`DEFAULT_OUT` of the profile."""
    if args.out:
        return Path(args.out)
    if args.report_only:
        return Path(args.report_only).parent
    return Path(DEFAULT_OUT[profile_of(args)])


def summary_line(goals: list[dict], report: Path, busy: bool = False) -> str:
    """The last line of ``fastgd bench``: where the report is and how many goals passed."""
    counts = {v: sum(g["verdict"] == v for g in goals) for v in ("PASS", "FAIL", "NOT MEASURED")}
    rest = [f"{counts['FAIL']} failed"]
    if counts["NOT MEASURED"]:
        rest.append(f"{counts['NOT MEASURED']} not measured")
    return (
        f"fastgd bench: {counts['PASS']} of {len(goals)} goals passed ({', '.join(rest)})"
        + ("; the machine was busy, see the report" if busy else "")
        + f"; report: {report}"
    )


def _store_results(path: Path, load: dict | None) -> None:
    """Drop every round's timing from the JSON (the statistics stay: it stays small) and
    record the machine's load of the run in its machine info."""
    data = json.loads(path.read_text())
    for b in data.get("benchmarks", []):
        b.get("stats", {}).pop("data", None)
    if load is not None:
        data.setdefault("machine_info", {}).setdefault("fastgd", {})["load"] = load
    path.write_text(json.dumps(data, indent=1) + "\n")


def run(args: argparse.Namespace) -> int:
    """Run the suites (unless ``--report-only``) and write the report; returns the exit code.

    The last line printed says where the report is and how many goals passed.
    """
    out = output_dir(args)
    rc = 0
    if args.report_only:
        json_path = Path(args.report_only)
        command = ""
    else:
        try:
            import matplotlib  # noqa: F401
            import pytest_benchmark  # noqa: F401
        except ImportError as exc:
            print(
                f"fastgd bench needs the bench extra ({exc.name} is missing): "
                "pip install 'fastgd[bench]'",
                file=sys.stderr,
            )
            return 2
        bench_dir = find_bench_dir(args.bench_dir)
        out.mkdir(parents=True, exist_ok=True)
        json_path = out / JSON_NAME
        cmd = pytest_command(args, json_path.resolve(), bench_dir)
        command = command_text(args)
        print(
            f"fastgd bench: running the suites in {bench_dir} "
            f"({profile_of(args)} sweep, report into {out}/; each line below is one "
            "benchmark)\n  " + " ".join(shlex.quote(c) for c in cmd),
            flush=True,
        )
        t0 = time.perf_counter()
        with LoadMonitor() as monitor:
            rc = subprocess.run(cmd).returncode
        load = monitor.result()
        print(
            f"fastgd bench: suites finished in {time.perf_counter() - t0:.0f} s "
            f"(pytest exit code {rc})",
            flush=True,
        )
        if not json_path.is_file():
            print("fastgd bench: no benchmark JSON was written", file=sys.stderr)
            return rc or 1
        _store_results(json_path, load)
    res = load_results(json_path)
    report = build_report(res, out, command=command)
    print(f"fastgd bench: report written to {report}")
    if args.readme:
        update_readme(Path(args.readme), res, report)
        print(f"fastgd bench: headline table written into {args.readme}")
    goals = evaluate_goals(res)
    for g in goals:
        print(
            f"  {g['verdict']:<12} {g['goal']}: {g['measured']} (target {g['target']})"
            + (f" [{g['note']}]" if g["note"] else "")
        )
    busy, why = load_verdict(res["machine"].get("load"))
    if busy:
        print(f"fastgd bench: warning: the machine was busy during the run ({why})")
    print(summary_line(goals, report, busy), flush=True)
    return rc


README_START = "<!-- fastgd-bench:start -->"
README_END = "<!-- fastgd-bench:end -->"


def update_readme(readme: Path, res: dict, report: Path) -> None:
    """Replace the text between the README's bench markers with the goals table and figure.

    Parameters
    ----------
    readme : Path
        The README holding ``README_START`` and ``README_END`` lines.
    res : dict
        Output of :func:`load_results`.
    report : Path
        The markdown report just written (linked, with its throughput figure).
    """
    text = readme.read_text()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme} has no {README_START} / {README_END} markers.")
    rel = os.path.relpath(report.parent, readme.parent)
    m = res["machine"]
    body = [
        README_START,
        f"Measured by `fastgd bench` ({m.get('profile', '?')} profile) on {m.get('CPU', '?')}, "
        f"{m.get('cores', '?')}, {m.get('date', '?')[:10]}; "
        f"full report: [{rel}/{REPORT_NAME}]({rel}/{REPORT_NAME}).",
        "",
    ]
    body += _table(
        ["goal", "target", "measured", "verdict"],
        [(g["goal"], g["target"], g["measured"], g["verdict"]) for g in evaluate_goals(res)],
    )
    body += ["", f"![throughput vs n]({rel}/{FIGURES['throughput']})", README_END]
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    readme.write_text(head + "\n".join(body) + tail)


def register(subparsers) -> None:
    """Add the ``bench`` subcommand to the ``fastgd`` command line.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``fastgd`` parser's subcommands.
    """
    p = subparsers.add_parser(
        "bench",
        help="run the benchmark suites and write a report (quick sweep: reports/quick/)",
        description="Run the pytest-benchmark suites in bench/ and write benchmark.md, its "
        "figures and bench.json: the quick sweep (default) into reports/quick/, --tiny into "
        "reports/tiny/ (both ignored by git), --full into the committed reports/. The "
        "report records the machine's load during the run and warns when it was busy; the "
        "last line printed says where the report is and how many goals passed.",
    )
    size = p.add_mutually_exclusive_group()
    size.add_argument(
        "--quick",
        action="store_true",
        help="quick sweep (the default): n up to 1e6 at d in {10, 100}",
    )
    size.add_argument(
        "--full",
        action="store_true",
        help="whole grid: n up to 1e7 at d in {10, 100, 1000}, every mode",
    )
    size.add_argument("--tiny", action="store_true", help="tiny sizes, seconds (for tests)")
    p.add_argument("--sizes", default="", help="comma-separated n values (override)")
    p.add_argument("--dims", default="", help="comma-separated d values (override)")
    p.add_argument("--impls", default="", help="comma-separated implementations (subset)")
    p.add_argument(
        "--skip-cold", action="store_true", help="skip the cold-compile measurement (~20 s)"
    )
    p.add_argument(
        "--out",
        default=None,
        help="report directory (default: reports/ for --full, which git tracks; "
        "reports/quick/ and reports/tiny/, which git ignores, for the other sweeps; with "
        "--report-only the JSON's folder)",
    )
    p.add_argument("--bench-dir", default=None, help="the suites (default ./bench)")
    p.add_argument(
        "--report-only",
        metavar="JSON",
        default=None,
        help="only rebuild the report from a saved benchmark JSON",
    )
    p.add_argument(
        "--readme",
        default=None,
        metavar="README.md",
        help="also write the goals table and headline figure into this README "
        "(between its fastgd-bench markers)",
    )
    p.set_defaults(func=run)


def command_text(args: argparse.Namespace) -> str:
    """The ``fastgd bench`` command line equivalent to ``args``."""
    parts = ["fastgd", "bench"]
    for flag in ("full", "tiny", "skip_cold"):
        if getattr(args, flag):
            parts.append("--" + flag.replace("_", "-"))
    for opt in ("sizes", "dims", "impls"):
        if getattr(args, opt):
            parts += [f"--{opt}", getattr(args, opt)]
    if args.out and Path(args.out) != Path(DEFAULT_OUT[profile_of(args)]):
        parts += ["--out", args.out]
    return " ".join(shlex.quote(p) for p in parts)
