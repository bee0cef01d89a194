"""The documentation site (docs/): it builds with warnings as errors and nitpicky
cross-reference checks, every internal link and image of the HTML exists, and the
pages generated from the checkout (API reference, gallery, contract tables, command
line, benchmark reports) hold what they are generated from.

The build runs once per module, in a fresh interpreter, exactly as the README's command
(``python -m sphinx -W --keep-going -n -b html docs OUT``) into a temporary folder; the
gallery's examples are re-run even when sphinx-gallery has cached their output.
"""

from __future__ import annotations

import html
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"


def _need_docs_tools():
    for name in ("sphinx", "numpydoc", "sphinx_gallery", "pydata_sphinx_theme", "myst_parser"):
        pytest.importorskip(name, reason=f"the docs extra is not installed ({name})")
    pytest.importorskip("matplotlib")


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build the site once; returns ``(html folder, build output, seconds)``."""
    _need_docs_tools()
    if not (DOCS / "conf.py").is_file():
        pytest.skip("needs the docs/ folder of a source checkout")
    out = tmp_path_factory.mktemp("docs")
    cmd = [
        sys.executable,
        "-m",
        "sphinx",
        "-W",
        "--keep-going",
        "-n",
        "-E",
        "-b",
        "html",
        "-D",
        "sphinx_gallery_conf.run_stale_examples=True",
        str(DOCS),
        str(out / "html"),
        "-d",
        str(out / "doctrees"),
    ]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "MPLBACKEND")}
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=REPO, capture_output=True, text=True, timeout=900, env=env, check=False
    )
    seconds = time.perf_counter() - t0
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"sphinx failed ({proc.returncode}):\n{log[-6000:]}"
    return out / "html", log, seconds


def _text(path: Path) -> str:
    """The visible text of an HTML page's main part, whitespace collapsed."""
    page = path.read_text(encoding="utf-8")
    main = page[page.find("<main") : page.rfind("</main>")] if "<main" in page else page
    main = re.sub(r"<(script|style)\b.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", main)))


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def _ids(path: Path) -> set[str]:
    return set(re.findall(r'\bid="([^"]+)"', path.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the build
@pytest.mark.slow
def test_build_has_no_warnings(site):
    root, log, seconds = site
    assert "WARNING" not in log and "ERROR" not in log, log[-4000:]
    assert (root / "index.html").is_file()
    print(f"docs build: {seconds:.1f} s")


@pytest.mark.slow
def test_internal_links_and_images_exist(site):
    """Every relative href / src of every page points at a file that exists, and every
    ``#fragment`` at an id of that file."""
    root, _, _ = site
    # every page but the theme's Jinja templates, which it copies into _static
    pages = sorted(p for p in root.rglob("*.html") if "_static" not in p.relative_to(root).parts)
    assert len(pages) > 30
    ids: dict[Path, set[str]] = {}
    broken = []
    checked = 0
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for attr, url in re.findall(r'\b(href|src)="([^"]*)"', text):
            parts = urlsplit(html.unescape(url))
            if parts.scheme or parts.netloc or url.startswith(("mailto:", "javascript:")):
                continue
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            checked += 1
            if not target.exists():
                broken.append(f"{page.relative_to(root)}: {attr}={url}")
                continue
            if parts.fragment and target.suffix == ".html":
                if target not in ids:
                    ids[target] = _ids(target)
                if unquote(parts.fragment) not in ids[target]:
                    broken.append(f"{page.relative_to(root)}: {attr}={url} (no such anchor)")
    assert checked > 1000
    assert not broken, "\n".join(broken[:40])


# --------------------------------------------------------------------------- API reference
@pytest.mark.slow
def test_api_reference_documents_every_public_name(site):
    import fastgd
    from fastgd import checkpoint, demo, options, plot, reference, stream

    root, _, _ = site
    documented = set()
    for page in (root / "api").glob("*.html"):
        documented |= {i for i in _ids(page) if i.startswith("fastgd.")}
    expected = {f"fastgd.{n}" for n in fastgd.__all__ if n != "__version__"}
    for mod in (stream, plot, options, demo):
        expected |= {f"{mod.__name__}.{n}" for n in mod.__all__}
    expected |= {f"fastgd.demo.{n}" for n in demo.EXAMPLES}
    expected |= {
        f"fastgd.reference.{n}"
        for n in (
            "Config",
            "run_epoch",
            "run_epoch_csr",
            "optimizer_step",
            "learning_rate",
            "loss_value",
            "loss_dloss",
            "cumulative_l1",
        )
    }
    expected |= {"fastgd.checkpoint.save", "fastgd.checkpoint.read"}
    for cls in ("SGDRegressor", "SGDClassifier"):
        for meth in ("fit", "partial_fit", "predict", "flush", "save"):
            expected.add(f"fastgd.{cls}.{meth}")
    expected |= {"fastgd.SGDClassifier.predict_proba", "fastgd.SGDClassifier.decision_function"}
    assert reference.__name__ == "fastgd.reference" and checkpoint.__name__
    missing = sorted(expected - documented)
    assert not missing, f"not in the API reference: {missing}"


@pytest.mark.slow
def test_estimator_parameters_come_from_the_registry(site):
    from fastgd import options

    root, _, _ = site
    text = _text(root / "api" / "estimators.html")
    for name in ("optimizer", "batch_size", "learning_rate", "eta0", "beta1", "T_max"):
        assert f"{name} :" in text or f"{name} " in text
    for opt in options.OPTIMIZERS.values():
        assert _norm(opt.formula) in text, opt.name
    assert "|r| <= epsilon" in text  # the formulas render as written, pipes included


# --------------------------------------------------------------------------- generated pages
@pytest.mark.slow
def test_gallery_runs_every_demo_example(site):
    from fastgd import demo

    root, _, _ = site
    scripts = sorted((DOCS / "examples").glob("plot_*.py"))
    called = {}
    for script in scripts:
        m = re.search(r"\bdemo\.(\w+)\(size=\"small\"\)", script.read_text())
        assert m, f"{script.name} calls no fastgd.demo example at size 'small'"
        called[m.group(1)] = script
    assert sorted(called) == sorted(demo.EXAMPLES)
    index = _text(root / "auto_examples" / "index.html")
    for name, script in called.items():
        page = root / "auto_examples" / f"{script.stem}.html"
        text = _text(page)
        assert f"== {name}: " in text, name  # the example's printed table
        assert "[ok]" in text and "[FAILED]" not in text, name  # its checks held
        images = re.findall(r'src="(\.\./_images/sphx_glr_[^"]+)"', page.read_text())
        assert images, f"{name}: no figure on its gallery page"
        for src in images:
            img = (page.parent / src).resolve()
            assert img.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and img.stat().st_size > 5000
        title = script.read_text().split('"""')[1].strip().splitlines()[0]
        assert title.replace("``", "") in index


@pytest.mark.slow
def test_contract_tables_are_the_registry(site):
    from fastgd import options

    root, _, _ = site
    text = _text(root / "contract.html")
    for kind, table in options.KINDS.items():
        for opt in table.values():
            assert repr(opt.name) in text, (kind, opt.name)
            assert _norm(opt.formula) in text, (kind, opt.name)
    for h in options.HYPERS + options.STATE_INIT:
        assert h.name in text
        if h.kind != "bool":
            assert h.interval in text, h.name
    # the reference twin's docstrings are on the page too
    assert "Tsuruoka et al. (2009)" in text
    assert "torch.optim.SparseAdam" in text


@pytest.mark.slow
def test_cli_page_is_the_parser_help(site):
    import argparse

    from fastgd import cli

    root, _, _ = site
    text = _text(root / "cli.html")
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert {"verify", "fit", "demo", "bench"} <= set(sub.choices)
    for name, p in sub.choices.items():
        assert f"usage: fastgd {name}" in text, name
        for action in p._actions:
            for flag in action.option_strings:
                assert flag in text, (name, flag)
    assert "usage: fastgd" in text


@pytest.mark.slow
def test_benchmark_reports_are_pages(site):
    root, _, _ = site
    reports = sorted((REPO / "reports").glob("*.md"))
    assert any(r.name == "benchmark.md" for r in reports)
    benchmarks = (root / "benchmarks.html").read_text()
    for report in reports:
        page = root / "reports" / f"{report.stem}.html"
        assert page.is_file(), report.name
        assert f'href="reports/{report.stem}.html"' in benchmarks
        heading = report.read_text().splitlines()[0].lstrip("# ").strip()
        assert heading.replace("`", "") in _text(page)
    bench = (root / "reports" / "benchmark.html").read_text()
    figures = re.findall(
        r"!\[[^\]]*\]\(([^)]+\.png)\)", (REPO / "reports" / "benchmark.md").read_text()
    )
    assert figures
    for fig in figures:
        assert re.search(rf'src="\.\./_images/{re.escape(fig)}"', bench), fig
        assert (root / "_images" / fig).read_bytes() == (REPO / "reports" / fig).read_bytes()


@pytest.mark.slow
def test_readme_and_streaming_pages(site):
    root, _, _ = site
    overview = _text(root / "overview.html")
    assert "Streaming and checkpoints" in overview and "Against scikit-learn" in overview
    streaming = _text(root / "streaming.html")
    assert "Chunk invariance" in streaming and "fit_stream" in streaming
    assert "version" in streaming.lower()  # the checkpoint format, from its docstring


# --------------------------------------------------------------------------- the checkout
def test_generated_sources_are_ignored_by_git():
    """What a build writes into docs/ (and the build folder) is ignored by git."""
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    paths = [
        "docs/_build/html/index.html",
        "docs/auto_examples/plot_01_worked_example.rst",
        "docs/reports/benchmark.md",
        "docs/sg_execution_times.rst",
    ]
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert sorted(proc.stdout.split()) == sorted(paths), proc.stdout + proc.stderr
    # and the sources themselves are not
    proc = subprocess.run(
        ["git", "check-ignore", "--no-index", "docs/conf.py", "docs/examples/plot_01.py"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.stdout.strip() == ""
