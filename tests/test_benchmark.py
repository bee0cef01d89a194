"""The benchmark report generator and ``fastgd bench`` (not timed; no speed is asserted).

1. From a small saved pytest-benchmark JSON (tests/data/bench_small.json, a ``--tiny``
   run of bench/), the generator writes every section and every figure, the goals of the
   core issue with a verdict computed from the data, and consistent ratios.
2. ``fastgd bench --tiny`` runs the suites end to end on tiny sizes into a tmp dir.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
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
def test_fastgd_bench_tiny_completes(tmp_path, monkeypatch, capsys):
    """End to end, from a folder that is not the checkout and without ``--out``: the
    report lands in ``reports/tiny/`` of the working folder and nowhere else, records the
    machine's load, and the last line says where it is and how many goals passed."""
    if not (REPO / "bench" / "benchlib.py").is_file():
        pytest.skip("needs the bench/ directory of a source checkout")
    monkeypatch.chdir(tmp_path)
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
        ]
    )
    assert rc == 0
    out = tmp_path / "reports" / "tiny"
    assert [p.relative_to(tmp_path) for p in tmp_path.iterdir()] == [Path("reports")]
    assert list((tmp_path / "reports").iterdir()) == [out]
    data = json.loads((out / benchmark.JSON_NAME).read_text())
    kinds = {b["extra_info"].get("kind") for b in data["benchmarks"]}
    assert kinds == {"bandwidth", "throughput", "accuracy", "startup"}
    load = data["machine_info"]["fastgd"]["load"]
    assert load["usable_cores"] >= 1 and load["seconds"] > 0
    assert len(load["loadavg_before"]) == 3 and len(load["loadavg_after"]) == 3
    assert load["own_cpu_cores"] > 0 and load["other_cpu_cores"] >= 0
    text = _check_report(out)
    assert "Not recorded" not in text and "CPU use of other processes" in text
    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    goals = benchmark.evaluate_goals(benchmark.load_results(out / benchmark.JSON_NAME))
    passed = sum(g["verdict"] == "PASS" for g in goals)
    assert last.startswith(f"fastgd bench: {passed} of {len(goals)} goals passed")
    assert last.endswith(f"report: {Path('reports/tiny') / benchmark.REPORT_NAME}")
    shutil.rmtree(out)


# ------------------------------------------------- where the report goes, and the load
@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], "reports/quick"),
        (["--quick"], "reports/quick"),
        (["--tiny"], "reports/tiny"),
        (["--full"], "reports"),
        (["--out", "elsewhere"], "elsewhere"),
        (["--full", "--out", "mine"], "mine"),
        (["--report-only", "saved/run/bench.json"], "saved/run"),
    ],
)
def test_only_the_full_sweep_writes_the_committed_reports(argv, expected):
    args = cli.build_parser().parse_args(["bench", *argv])
    assert benchmark.output_dir(args) == Path(expected)


def test_command_text_names_out_only_when_it_is_not_the_default():
    parse = cli.build_parser().parse_args
    assert benchmark.command_text(parse(["bench"])) == "fastgd bench"
    assert benchmark.command_text(parse(["bench", "--full"])) == "fastgd bench --full"
    assert benchmark.command_text(parse(["bench", "--out", "x"])) == "fastgd bench --out x"
    assert benchmark.command_text(parse(["bench", "--out", "reports/quick"])) == "fastgd bench"


def test_quick_and_tiny_reports_are_ignored_by_git():
    """The README's main job (``fastgd bench``, ``fastgd demo``) writes only ignored paths;
    the committed full report is tracked."""
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    args = cli.build_parser().parse_args(["bench"])
    quick = benchmark.output_dir(args)
    ignored = [
        str(quick / benchmark.REPORT_NAME),
        str(quick / benchmark.JSON_NAME),
        str(quick / benchmark.FIGURES["throughput"]),
        str(Path(benchmark.DEFAULT_OUT["tiny"]) / benchmark.REPORT_NAME),
    ]
    tracked = ["reports/benchmark.md", "reports/bench.json", "reports/throughput_vs_n.png"]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *ignored, *tracked],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sorted(proc.stdout.split()) == sorted(ignored), proc.stdout + proc.stderr


def _with_load(tmp_path, **load):
    data = json.loads(DATA.read_text())
    base = dict(
        seconds=120.0,
        usable_cores=2,
        loadavg_before=[0.1, 0.2, 0.3],
        loadavg_after=[1.1, 0.5, 0.4],
        loadavg_max_1min=1.1,
        cpu_busy_cores=1.05,
        own_cpu_cores=1.0,
        other_cpu_cores=0.05,
    )
    base.update(load)
    data["machine_info"]["fastgd"]["load"] = base
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(data))
    return path


def test_load_verdict():
    quiet = dict(usable_cores=2, other_cpu_cores=0.2, loadavg_max_1min=9.0)
    assert benchmark.load_verdict(quiet)[0] is False  # CPU times decide over load averages
    busy, why = benchmark.load_verdict(dict(quiet, other_cpu_cores=0.6))
    assert busy and "0.60 of the 2 usable cores" in why and "30% of their time" in why
    assert benchmark.load_verdict(dict(quiet, other_cpu_cores=0.5))[0] is True  # 25%: busy
    # without CPU times: the 1-minute load average beyond the benchmark's own thread
    fallback = dict(usable_cores=2, other_cpu_cores=None)
    assert benchmark.load_verdict(dict(fallback, loadavg_max_1min=1.9))[0] is False
    busy, why = benchmark.load_verdict(dict(fallback, loadavg_max_1min=2.5))
    assert busy and "2.50" in why and "not measured" in why
    assert benchmark.load_verdict(None) == (
        False,
        "the machine's load was not recorded for this run",
    )
    assert benchmark.load_verdict({"usable_cores": 2})[0] is False


def test_report_warns_when_the_machine_was_busy(tmp_path, capsys):
    out = tmp_path / "busy"
    path = _with_load(tmp_path, cpu_busy_cores=1.9, other_cpu_cores=0.9, loadavg_max_1min=3.4)
    assert cli.main(["bench", "--report-only", str(path), "--out", str(out)]) == 0
    text = _check_report(out)
    head = text.split(benchmark.SECTIONS[0])[0]
    assert "**Warning: the machine was busy during this run**" in head
    assert "0.90 of the 2 usable cores" in head
    section = text.split(benchmark.SECTIONS[2])[1].split("\n## ")[0]
    for row in (
        "| load average before (1 / 5 / 15 min) | 0.10 / 0.20 / 0.30 |",
        "| highest 1-min load average during the run | 3.40 |",
        "| CPU use of other processes | 0.90 cores |",
    ):
        assert row in section
    assert "**The machine was busy during this run**" in section
    printed = capsys.readouterr().out.rstrip("\n").splitlines()
    assert "warning: the machine was busy" in printed[-2]
    assert "the machine was busy, see the report" in printed[-1]


def test_report_says_when_the_machine_was_quiet_or_not_recorded(tmp_path):
    out = tmp_path / "quiet"
    assert cli.main(["bench", "--report-only", str(_with_load(tmp_path)), "--out", str(out)]) == 0
    text = _check_report(out)
    assert "Warning" not in text and "The machine was quiet during this run" in text
    out = tmp_path / "old"
    assert cli.main(["bench", "--report-only", str(DATA), "--out", str(out)]) == 0
    text = _check_report(out)
    assert "Warning" not in text and "Not recorded" in text


def test_last_line_says_where_the_report_is_and_how_many_goals_passed(tmp_path, capsys):
    out = tmp_path / "r"
    assert cli.main(["bench", "--report-only", str(DATA), "--out", str(out)]) == 0
    last = capsys.readouterr().out.rstrip("\n").splitlines()[-1]
    goals = benchmark.evaluate_goals(benchmark.load_results(DATA))
    counts = {v: sum(g["verdict"] == v for g in goals) for v in ("PASS", "FAIL")}
    assert last == (
        f"fastgd bench: {counts['PASS']} of {len(goals)} goals passed "
        f"({counts['FAIL']} failed); report: {out / benchmark.REPORT_NAME}"
    )
    summary = benchmark.summary_line(
        [{"verdict": "PASS"}, {"verdict": "NOT MEASURED"}], Path("r.md"), busy=True
    )
    assert summary == (
        "fastgd bench: 1 of 2 goals passed (0 failed, 1 not measured); the machine was busy, "
        "see the report; report: r.md"
    )


def test_load_monitor_measures_this_run_and_the_others():
    # the child burns 0.5 s of CPU (however long that takes on a shared machine)
    spin = "import time\nwhile time.process_time() < 0.5: pass"
    with benchmark.LoadMonitor(interval=0.05) as monitor:
        subprocess.run([sys.executable, "-c", spin], check=True)
    load = monitor.result()
    cores = len(benchmark._usable_cpus())
    assert load["usable_cores"] == cores >= 1
    assert load["seconds"] >= 0.4
    assert len(load["loadavg_before"]) == 3 and load["loadavg_max_1min"] >= 0
    # this run's CPU time (the child's, through getrusage) is the 0.5 s it burnt
    own_seconds = load["own_cpu_cores"] * load["seconds"]
    assert 0.4 <= own_seconds <= 0.5 + 0.1 * cores + 0.5
    assert 0 <= load["cpu_busy_cores"] <= cores + 0.1 and load["other_cpu_cores"] >= 0
    assert load["busy"] == benchmark.load_verdict(load)[0]
    with pytest.raises(RuntimeError, match="after the with block"):
        benchmark.LoadMonitor().result()


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
