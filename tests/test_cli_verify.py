"""``fastgd verify``: covers both widths and every dtype, and fails on a deviation."""

from __future__ import annotations

from fastgd import _grid, cli


def _fake_compare(bad_width=None):
    """A stand-in for _grid.compare that records what it was asked and deviates once."""
    seen = []

    def compare(cfg, X, y, sw, X_kernel=None, model_only=False, **kw):
        dtype = "float64" if X_kernel is None else str(X_kernel.dtype)
        seen.append((X.shape[1], dtype))
        if (
            bad_width == X.shape[1]
            and cfg.loss == "hinge"
            and dtype == "float64"
            and cfg.optimizer == "adam"
        ):
            return 1.0
        return 1e-13

    return compare, seen


def test_verify_runs_both_widths_and_dtypes(monkeypatch, capsys):
    compare, seen = _fake_compare()
    monkeypatch.setattr(_grid, "compare", compare)
    assert cli.main(["verify", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "all within tolerance" in out
    assert {w for w, _ in seen} == {3, 40}
    assert {dt for _, dt in seen} == {"float64", "float32"}
    assert f"{len(seen)} configurations" in out


def test_verify_fails_and_names_the_configuration(monkeypatch, capsys):
    compare, _ = _fake_compare(bad_width=40)
    monkeypatch.setattr(_grid, "compare", compare)
    assert cli.main(["verify", "--quick"]) == 1
    out = capsys.readouterr().out
    assert "FAIL 1 > 1e-10: hinge/" in out
    assert "/d=40/float64/" in out
    assert "FAILED" in out
