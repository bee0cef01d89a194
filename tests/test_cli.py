"""The ``fastgd`` command line: fit / predict with one model file, --version, --help
(issue 18, item 2)."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest

import fastgd
from fastgd import SGDClassifier, SGDRegressor, checkpoint
from fastgd.cli import build_parser, main


def _data(n=600, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = X @ [1.0, -2.0, 0.5] + 0.3 + 0.05 * rng.normal(size=n)
    return X, y


def _write_csv(path, columns: dict):
    names = list(columns)
    rows = zip(*[np.asarray(columns[k]).tolist() for k in names], strict=True)
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(names)
        w.writerows([repr(v) if isinstance(v, float) else v for v in row] for row in rows)
    return path


@pytest.fixture
def table(tmp_path):
    """A CSV with three features, a second label and the target (last)."""
    X, y = _data()
    columns = {"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "label": (y > 0).astype(int), "y": y}
    return _write_csv(tmp_path / "d.csv", columns), X, y


def _run(capsys, *args):
    code = main([*map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def _read_csv(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[0], rows[1:]


# ------------------------------------------------------------------ --version, --help
def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.strip() == f"fastgd {fastgd.__version__}"


def test_help_is_current_and_plain(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("verify", "fit", "predict", "demo", "bench"):
        assert re.search(rf"^\s+{command}\s", text, re.M), command
    assert "``" not in text and ":func:" not in text
    for sub in ("fit", "predict"):
        help_text = build_parser()._subparsers._group_actions[0].choices[sub].format_help()
        assert "``" not in help_text


# ------------------------------------------------------------------ fit: columns
def test_fit_says_which_columns_and_selects_them(table, tmp_path, capsys):
    path, X, y = table
    code, out, _ = _run(capsys, "fit", path, "--no-progress", "--report", tmp_path / "r.json")
    assert code == 0
    assert "target: 'y' (the last column; --target to choose another)" in out
    assert "4 features: a, b, c, label (--features / --drop to choose)" in out
    code, out, _ = _run(
        capsys,
        "fit",
        path,
        "--no-progress",
        "--drop",
        "label",
        "--param",
        "shuffle=false",
        "--report",
        tmp_path / "r.json",
    )
    assert code == 0 and "3 features: a, b, c" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["features"] == ["a", "b", "c"] and report["target"] == "y"
    expected = SGDRegressor(shuffle=False).partial_fit(X, y)
    np.testing.assert_array_equal(report["coef"], expected.coef_)
    code, out, _ = _run(
        capsys,
        "fit",
        path,
        "--no-progress",
        "--target",
        "label",
        "--features",
        "c,a",
        "--classifier",
        "--report",
        tmp_path / "c.json",
    )
    assert code == 0
    assert "target: 'label'\n2 features: c, a" in out
    assert json.loads((tmp_path / "c.json").read_text())["features"] == ["c", "a"]
    code, _, err = _run(capsys, "fit", path, "--features", "a", "--drop", "b")
    assert code == 2 and "not both" in err
    code, _, err = _run(capsys, "fit", path, "--features", "a,nope")
    assert code == 2 and "no column named 'nope'" in err


# ------------------------------------------------------------------ fit: summary
def test_per_epoch_summary_one_line_each_and_a_figure_for_one_chunk(table, tmp_path, capsys):
    path, X, y = table
    code, out, _ = _run(
        capsys,
        "fit",
        path,
        "--no-progress",
        "--drop",
        "label",
        "--epochs",
        3,
        "--chunk-rows",
        100,
        "--report",
        tmp_path / "r.json",
    )
    assert code == 0
    lines = [line for line in out.splitlines() if line.startswith("  epoch ")]
    assert len(lines) == 3
    for e, line in enumerate(lines, 1):
        assert re.match(rf"  epoch {e}: loss \S+  r2 0\.\d{{4}}  \(600 rows\)$", line), line
    # the whole file is one chunk: nothing is scored before it is learned, so the
    # final model is scored on the data, and the figure is a number, not nan
    code, out, _ = _run(
        capsys,
        "fit",
        path,
        "--no-progress",
        "--drop",
        "label",
        "--param",
        "shuffle=false",
        "--report",
        tmp_path / "one.json",
    )
    assert code == 0 and "nan" not in out
    assert "epoch 1: not measured" in out and "training r2" in out
    report = json.loads((tmp_path / "one.json").read_text())
    model = SGDRegressor(shuffle=False).partial_fit(X, y)
    assert report["score_kind"] == "training"
    np.testing.assert_allclose(report["score"], model.score(X, y), rtol=1e-9)


def test_resume_of_a_finished_stream_says_so(table, tmp_path, capsys):
    path, X, y = table
    ck = tmp_path / "ck.npz"
    np.save(tmp_path / "d.npy", np.column_stack([X, y]))
    for data in (path, tmp_path / "d.npy"):  # row count unknown (CSV) and known (.npy)
        args = ["fit", data, "--no-progress", "--epochs", 2, "--chunk-rows", 200]
        assert _run(capsys, *args, "--checkpoint", ck)[0] == 0
        before = fastgd.load(ck).coef_.copy()
        code, out, _ = _run(capsys, *args, "--resume", ck)
        assert code == 0
        assert f"the stream is finished: {ck} has learned all 1200 rows (2 epochs x 600" in out
        np.testing.assert_array_equal(fastgd.load(ck).coef_, before)
        code, out, _ = _run(capsys, *args[:4], 3, *args[5:], "--resume", ck)
        assert code == 0 and "resumed at row 1200" in out and "stream is finished" not in out


# ------------------------------------------------------------------ the model file
def test_fit_out_writes_the_model_that_predict_and_load_read(table, tmp_path, capsys):
    path, X, y = table
    model_path = tmp_path / "model.npz"
    code, out, _ = _run(
        capsys,
        "fit",
        path,
        "--no-progress",
        "--drop",
        "label",
        "--param",
        "shuffle=false",
        "--out",
        model_path,
    )
    assert code == 0 and f"model: {model_path}" in out
    model = fastgd.load(model_path)
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    state = checkpoint.read(model_path)
    assert state["target_name"] == "y"
    np.testing.assert_array_equal(model.coef_, SGDRegressor(shuffle=False).partial_fit(X, y).coef_)
    # predict: one row per data row, a header, floats that read back exactly
    code, _, err = _run(capsys, "predict", model_path, path, "--out", tmp_path / "p.csv")
    assert code == 0 and "600 predictions" in err and "r2 against the target column" in err
    header, rows = _read_csv(tmp_path / "p.csv")
    assert header == ["prediction"]
    model.__dict__.pop("feature_names_in_")
    np.testing.assert_array_equal([float(r[0]) for r in rows], model.predict(X))
    # columns found by name: another order, extra columns and no target are fine
    _write_csv(
        tmp_path / "new.csv", {"c": X[:, 2], "note": ["x"] * 600, "a": X[:, 0], "b": X[:, 1]}
    )
    code, out, err = _run(capsys, "predict", model_path, tmp_path / "new.csv")
    assert code == 0 and "3 features by name: a, b, c" in err
    header, rows = list(csv.reader(out.splitlines()))[0], list(csv.reader(out.splitlines()))[1:]
    np.testing.assert_array_equal([float(r[0]) for r in rows], model.predict(X))
    # a missing column is named
    _write_csv(tmp_path / "ab.csv", {"a": X[:, 0], "b": X[:, 1]})
    code, _, err = _run(
        capsys, "predict", model_path, tmp_path / "ab.csv", "--out", tmp_path / "x.csv"
    )
    assert code == 2 and "lacks the column 'c' that" in err
    assert not (tmp_path / "x.csv").exists()


def test_predict_a_classifier_labels_proba_decision(table, tmp_path, capsys):
    path, X, y = table
    labels = np.where(y > 0, 1, 0)
    m = tmp_path / "clf.npz"
    args = ["fit", path, "--no-progress", "--classifier", "--target", "label", "--drop", "y"]
    assert _run(capsys, *args, "--param", "loss=log_loss", "--out", m)[0] == 0
    model = fastgd.load(m)
    model.__dict__.pop("feature_names_in_")
    code, out, err = _run(capsys, "predict", m, path, "--proba")
    assert code == 0 and "accuracy against the target column" in err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction", "proba_0.0", "proba_1.0"]  # CSV labels are numbers
    np.testing.assert_array_equal([int(float(r[0])) for r in rows[1:]], model.predict(X))
    P = np.array([[float(v) for v in r[1:]] for r in rows[1:]])
    np.testing.assert_allclose(P, model.predict_proba(X), rtol=1e-15)
    assert np.mean(model.predict(X) == labels) > 0.9
    code, out, _ = _run(capsys, "predict", m, path, "--decision")
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction", "decision"]
    np.testing.assert_array_equal([float(r[1]) for r in rows[1:]], model.decision_function(X))
    # hinge: no probabilities; a regressor: no scores
    hinge = tmp_path / "hinge.npz"
    assert _run(capsys, *args, "--out", hinge)[0] == 0
    code, _, err = _run(capsys, "predict", hinge, path, "--proba")
    assert code == 2 and "loss='hinge'" in err and "--decision" in err
    reg = tmp_path / "reg.npz"
    assert _run(capsys, "fit", path, "--no-progress", "--out", reg)[0] == 0
    code, _, err = _run(capsys, "predict", reg, path, "--decision")
    assert code == 2 and "regressor" in err


def test_string_labels_through_the_model_file(tmp_path, capsys):
    """Object class labels (here set by partial_fit from strings) are stored without pickle."""
    X, y = _data(200)
    model = SGDClassifier(random_state=0).partial_fit(
        X, np.where(y > 0, "up", "down").astype(object), classes=np.array(["down", "up"], object)
    )
    model.save(tmp_path / "m.npz")
    np.save(tmp_path / "x.npy", X)
    code, out, _ = _run(capsys, "predict", tmp_path / "m.npz", tmp_path / "x.npy")
    assert code == 0
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["prediction"] and [r[0] for r in rows[1:]] == list(model.predict(X))


def test_predict_unnamed_columns_by_position(tmp_path, capsys):
    X, y = _data(300)
    np.save(tmp_path / "t.npy", np.column_stack([X, y]))
    m = tmp_path / "m.npz"
    assert _run(capsys, "fit", tmp_path / "t.npy", "--no-progress", "--out", m)[0] == 0
    model = fastgd.load(m)
    assert not hasattr(model, "feature_names_in_")
    assert checkpoint.read(m)["target_name"] is None
    code, out, err = _run(capsys, "predict", m, tmp_path / "t.npy")  # the target included
    assert code == 0 and "column 3 (the last) taken as the target" in err
    np.testing.assert_array_equal(
        [float(r[0]) for r in list(csv.reader(out.splitlines()))[1:]], model.predict(X)
    )
    np.save(tmp_path / "x.npy", X)
    code, out, err = _run(capsys, "predict", m, tmp_path / "x.npy")
    assert code == 0 and "all 3 columns as features" in err
    np.save(tmp_path / "w.npy", np.column_stack([X, y, y]))
    code, _, err = _run(capsys, "predict", m, tmp_path / "w.npy")
    assert code == 2 and "has 5 columns, but" in err


def test_svmlight_fit_and_predict(tmp_path, capsys):
    X, y = _data(200)
    X[np.abs(X) < 0.5] = 0.0
    lines = []
    for row, target in zip(X, y.tolist(), strict=True):
        feats = " ".join(f"{j + 1}:{v!r}" for j, v in enumerate(row.tolist()) if v != 0.0)
        lines.append(f"{target!r} {feats}\n")
    (tmp_path / "d.svm").write_text("".join(lines))
    m = tmp_path / "m.npz"
    code, out, _ = _run(capsys, "fit", tmp_path / "d.svm", "--no-progress", "--out", m)
    assert code == 0 and "target: the first field of each line; features: 3 sparse" in out
    code, out, err = _run(capsys, "predict", m, tmp_path / "d.svm")
    assert code == 0 and "r2 against the target column" in err
    model = fastgd.load(m)
    np.testing.assert_allclose(
        [float(r[0]) for r in list(csv.reader(out.splitlines()))[1:]],
        model.predict(X),
        rtol=1e-12,
    )


def test_out_json_still_writes_the_summary_with_a_note(table, tmp_path, capsys):
    path, _, _ = table
    code, _, err = _run(capsys, "fit", path, "--no-progress", "--out", tmp_path / "r.json")
    assert code == 0 and "--report now" in err
    assert json.loads((tmp_path / "r.json").read_text())["estimator"] == "SGDRegressor"
    code, _, err = _run(
        capsys, "fit", path, "--out", tmp_path / "r.json", "--report", tmp_path / "s.json"
    )
    assert code == 2 and ".npz name" in err


def test_model_file_keeps_the_target_name_through_load_and_save(tmp_path):
    """``fastgd fit --out`` records the target's name; ``fastgd.load`` exposes it as
    ``target_name_`` and a re-save keeps it."""
    import fastgd
    from fastgd import cli

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    path = tmp_path / "d.csv"
    header = "a,b,c,price"
    np.savetxt(path, np.column_stack([X, X @ [1.0, 2.0, 3.0]]), delimiter=",", header=header,
               comments="")  # fmt: skip
    assert cli.main(["fit", str(path), "--target", "price", "--out", str(tmp_path / "m.npz"),
                     "--no-progress"]) == 0  # fmt: skip
    model = fastgd.load(tmp_path / "m.npz")
    assert model.target_name_ == "price"
    assert list(model.feature_names_in_) == ["a", "b", "c"]
    model.save(tmp_path / "again.npz")
    assert fastgd.load(tmp_path / "again.npz").target_name_ == "price"
