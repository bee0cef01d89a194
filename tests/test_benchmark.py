"""The benchmark report generator and ``fastgd bench`` (not timed; no speed is asserted).

1. From a small saved pytest-benchmark JSON (tests/data/bench_small.json, a ``--tiny``
   run of bench/), the generator writes every section and every figure, the goals of the
   core issue with a verdict computed from the data, and consistent ratios.
2. ``fastgd bench --tiny`` runs the suites end to end on tiny sizes into a tmp dir.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")
pytest.importorskip("matplotlib")

from fastgd import benchmark, cli  # noqa: E402

DATA = Path(__file__).parent / "data" / "bench_small.json"
REPO = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def _check_report(out: Path):
    text = (out / benchmark.REPORT_NAME).read_text()
    for heading in benchmark.SECTIONS:
        assert f"\n{heading}" in text, heading
    for name in benchmark.FIGURES.values():
        png = out / name
        assert png.is_file() and png.stat().st_size > 5_000, name
        assert png.read_bytes()[:8] == PNG
        assert f"]({name})" in text
    return text


def test_report_from_saved_json(tmp_path):
    out = tmp_path / "reports"
    assert cli.main(["bench", "--report-only", str(DATA), "--out", str(out)]) == 0
    text = _check_report(out)
    res = benchmark.load_results(DATA)
    kinds = {
        "bandwidth": res["bandwidth"],
        "throughput": res["throughput"],
        "accuracy": res["accuracy"],
        "startup": res["startup"],
    }
    assert all(kinds.values()), "the fixture must hold every kind of benchmark"
    assert set(res["startup"]) == {"cold", "warm"}
    # machine description and versions come from the JSON
    for item in ("CPU", "cores", "numba", "numpy", "scikit-learn", "BLAS (threadpoolctl)"):
        assert f"| {item} |" in text
    # every goal has a computed verdict; the generator never types a number in
    goals = benchmark.evaluate_goals(res)
    assert len(goals) == 5
    assert all(g["verdict"] in ("PASS", "FAIL", "NOT MEASURED") for g in goals)
    for g in goals:
        assert f"**{g['verdict']}**" in text
    n_fail = sum(g["verdict"] == "FAIL" for g in goals)
    assert ("falls short" in text) == (n_fail > 0)


def test_ratios_come_from_the_same_json():
    res = benchmark.load_results(DATA)
    rows = {(r["impl"], r["mode"], r["n"], r["d"], r["dtype"]): r for r in res["throughput"]}
    assert res["speedups"]
    for s in res["speedups"]:
        peer = rows[(s["peer"], s["mode"], s["n"], s["d"], s["dtype"])]
        fast = rows[("fastgd", s["mode"], s["n"], s["d"], s["dtype"])]
        assert s["ratio"] == pytest.approx(peer["seconds"] / fast["seconds"])
    for r in res["throughput"]:
        assert r["samples_s"] == pytest.approx(r["n"] / r["seconds"])
        assert r["frac_plain"] == pytest.approx(r["gbs"] / res["bandwidth"][benchmark.PLAIN_PROBE])


def test_goal_verdicts_follow_the_numbers():
    res = benchmark.load_results(DATA)
    warm = dict(res["startup"]["warm"])
    res["startup"]["warm"] = dict(warm, first_fit_total_s=0.5)
    assert benchmark.evaluate_goals(res)[-1]["verdict"] == "PASS"
    res["startup"]["warm"] = dict(warm, first_fit_total_s=1.5)
    assert benchmark.evaluate_goals(res)[-1]["verdict"] == "FAIL"
    res["startup"] = {}
    assert benchmark.evaluate_goals(res)[-1]["verdict"] == "NOT MEASURED"


def test_time_to_reach():
    curve = [(1, 0.1, 0.5), (2, 0.2, 5e-3), (3, 0.3, 5e-5)]
    assert benchmark.time_to_reach(curve, 1e-2) == (0.2, 2)
    assert benchmark.time_to_reach(curve, 1e-4) == (0.3, 3)
    assert benchmark.time_to_reach(curve, 1e-6) is None


@pytest.mark.slow
def test_fastgd_bench_tiny_completes(tmp_path, monkeypatch):
    if not (REPO / "bench" / "benchlib.py").is_file():
        pytest.skip("needs the bench/ directory of a source checkout")
    monkeypatch.chdir(REPO)
    out = tmp_path / "reports"
    rc = cli.main(
        [
            "bench",
            "--tiny",
            "--skip-cold",
            "--sizes",
            "300",
            "--dims",
            "10",
            "--impls",
            "fastgd,fastgd-kernel,sklearn,textbook",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    data = json.loads((out / benchmark.JSON_NAME).read_text())
    kinds = {b["extra_info"].get("kind") for b in data["benchmarks"]}
    assert kinds == {"bandwidth", "throughput", "accuracy", "startup"}
    _check_report(out)
    shutil.rmtree(out)


def test_readme_headline_is_generated(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(
        f"# x\n\n## Speed\n\n{benchmark.README_START}\nold\n{benchmark.README_END}\n\n## Next\n"
    )
    out = tmp_path / "reports"
    assert (
        cli.main(["bench", "--report-only", str(DATA), "--out", str(out), "--readme", str(readme)])
        == 0
    )
    text = readme.read_text()
    assert "old" not in text and text.endswith("\n## Next\n")
    assert "](reports/benchmark.md)" in text and "](reports/throughput_vs_n.png)" in text
    for g in benchmark.evaluate_goals(benchmark.load_results(DATA)):
        assert f"| {g['verdict']} |" in text
