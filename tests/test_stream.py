"""fastgd.stream: fit_stream, the chunk readers, bounded memory, interruption, ``fastgd fit``."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgd
from fastgd import SGDClassifier, SGDRegressor, stream
from fastgd.cli import main

N, D = 1_000, 5


def _data(seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.5 + 0.1 * rng.normal(size=n)
    return X, y


def _pieces(X, y, sizes):
    """(X, y) chunks of the given sizes (the last takes what is left)."""
    cuts = np.cumsum(sizes)
    cuts = cuts[cuts < len(y)]
    return list(zip(np.split(X, cuts), np.split(y, cuts), strict=True))


def _same(a, b):
    np.testing.assert_array_equal(a.coef_, b.coef_)
    np.testing.assert_array_equal(a.intercept_, b.intercept_)
    assert a.t_ == b.t_
    assert a.n_pending_ == b.n_pending_


SIZES = [1, 37, 100, 3, 250, 64, 9, 200]


# --------------------------------------------------------------------------- equivalence
@pytest.mark.parametrize("batch_size", [1, 8])
def test_fit_stream_equals_partial_fit_and_one_pass(batch_size):
    X, y = _data()
    kw = dict(shuffle=False, batch_size=batch_size, penalty="elasticnet", average=50)
    chunks = _pieces(X, y, SIZES)
    streamed = SGDRegressor(**kw)
    report = stream.fit_stream(streamed, iter(chunks), progress=False)
    by_hand = SGDRegressor(**kw)
    for Xc, yc in chunks:
        by_hand.partial_fit(Xc, yc)
    by_hand.flush()
    one_pass = SGDRegressor(**kw).partial_fit(X, y).flush()
    _same(streamed, by_hand)
    _same(streamed, one_pass)
    assert report.rows == N and report.chunks == len(chunks) and report.position == N
    assert report.flushed_rows == (N % batch_size)
    assert report.chunk_rows.tolist() == [len(c[1]) for c in chunks]
    assert report.rows_per_second > 0 and report.seconds > 0


def test_fit_stream_classifier_and_sample_weights_equal_one_pass():
    X, y = _data(1)
    labels = np.digitize(y, [-1.0, 1.0])
    sw = np.random.default_rng(2).uniform(0.5, 2.0, size=N)
    kw = dict(
        loss="log_loss", shuffle=False, batch_size=8, optimizer="adam", learning_rate="constant"
    )
    cuts = np.cumsum(SIZES)[:-1]
    chunks = zip(np.split(X, cuts), np.split(labels, cuts), np.split(sw, cuts), strict=True)
    streamed = SGDClassifier(**kw)
    report = stream.fit_stream(streamed, chunks, classes=[0, 1, 2], progress=False)
    one_pass = (
        SGDClassifier(**kw).partial_fit(X, labels, classes=[0, 1, 2], sample_weight=sw).flush()
    )
    _same(streamed, one_pass)
    assert report.score_name == "accuracy"


def test_flush_false_keeps_the_buffer():
    X, y = _data()
    model = SGDRegressor(shuffle=False, batch_size=8)
    stream.fit_stream(model, _pieces(X, y, [101]), progress=False, flush=False)
    assert model.n_pending_ == N % 8
    stream.fit_stream(model, [], progress=False)  # the end of the stream: flushed
    assert model.n_pending_ == 0


# --------------------------------------------------------------------------- validation, progress
def test_progressive_validation_is_finite_and_improves():
    rng = np.random.default_rng(3)
    w = rng.normal(size=D)

    def chunks():
        for _ in range(40):
            X = rng.normal(size=(200, D))
            yield X, X @ w + 1.0

    report = stream.fit_stream(SGDRegressor(random_state=0), chunks(), progress=False)
    assert np.isnan(report.loss[0]) and np.isnan(report.score[0])  # nothing to test yet
    assert np.isfinite(report.loss[1:]).all() and np.isfinite(report.score[1:]).all()
    assert report.loss[-5:].mean() < 0.05 * report.loss[1:6].mean()
    assert report.score[-1] > 0.99 > report.score[1]
    assert np.isfinite(report.progressive_loss())

    clf = SGDClassifier(loss="hinge", random_state=0)
    X, y = _data(4, n=4_000)
    report = stream.fit_stream(
        clf, _pieces(X, (y > 0.5).astype(int), [250] * 16), classes=[0, 1], progress=False
    )
    acc = report.score[1:]
    assert np.isfinite(report.loss[1:]).all() and ((acc >= 0) & (acc <= 1)).all()
    assert acc[-5:].mean() > 0.9 and acc[-5:].mean() > acc[0]
    assert report.loss[-5:].mean() < report.loss[1]


def test_validate_false_records_nan():
    X, y = _data()
    report = stream.fit_stream(
        SGDRegressor(), _pieces(X, y, [100] * 10), progress=False, validate=False
    )
    assert np.isnan(report.loss).all() and len(report.loss) == 10


def test_progress_bar_on_stderr_and_switchable(capsys):
    X, y = _data()
    stream.fit_stream(SGDRegressor(), _pieces(X, y, [100] * 10), progress=True, total_rows=N)
    out, err = capsys.readouterr()
    assert out == "" and "rows/s" in err and "r2=" in err
    stream.fit_stream(SGDRegressor(), _pieces(X, y, [100] * 10), progress=False)
    assert capsys.readouterr() == ("", "")


def test_import_fastgd_imports_neither_pyarrow_nor_tqdm():
    """fastgd's own modules import neither (scikit-learn's base, which the estimators
    inherit, imports pyarrow itself where it is installed)."""
    code = (
        "import sys, sklearn.base; before = 'pyarrow' in sys.modules; "
        "import fastgd, fastgd.stream; "
        "print(('pyarrow' in sys.modules) == before, 'tqdm' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=120
    ).stdout
    assert out.split() == ["True", "False"]


def test_bad_chunks_are_refused():
    with pytest.raises(TypeError, match=r"\(X, y\)"):
        stream.fit_stream(SGDRegressor(), [np.zeros((3, 2))], progress=False)
    with pytest.raises(ValueError, match="checkpoint path"):
        stream.fit_stream(SGDRegressor(), [], progress=False, checkpoint_every=2)


# --------------------------------------------------------------------------- readers
def _table(n=1_003, d=4, seed=5):
    X, y = _data(seed, n=n, d=d)
    return np.c_[X, y]


def _rows(reader):
    parts = list(reader)
    for X, y in parts:
        assert X.flags.c_contiguous and X.dtype == np.float64 and y.dtype == np.float64
    return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts]), parts


def test_read_npy_round_trip(tmp_path):
    T = _table()
    np.save(tmp_path / "t.npy", T)
    X, y, parts = _rows(stream.read_npy(tmp_path / "t.npy", chunk_rows=100))
    np.testing.assert_array_equal(X, T[:, :-1])
    np.testing.assert_array_equal(y, T[:, -1])
    assert [len(p[1]) for p in parts] == [100] * 10 + [3]
    reader = stream.read_npy(tmp_path / "t.npy", target_column=1, chunk_rows=1000)
    X, y, _ = _rows(reader)
    np.testing.assert_array_equal(X, np.delete(T, 1, axis=1))
    np.testing.assert_array_equal(y, T[:, 1])
    assert reader.total_rows == len(T)
    assert len(list(reader)) == 2  # a reader can be iterated again
    np.save(tmp_path / "X.npy", T[:, :-1].astype(np.float32))
    np.save(tmp_path / "y.npy", T[:, -1].astype(np.int64))
    chunks = list(stream.read_npy(tmp_path / "X.npy", tmp_path / "y.npy", chunk_rows=400))
    assert chunks[0][0].dtype == np.float32 and chunks[0][0].flags.c_contiguous
    np.testing.assert_array_equal(
        np.concatenate([c[1] for c in chunks]), T[:, -1].astype(np.int64).astype(np.float64)
    )
    np.save(tmp_path / "s.npy", np.array([["a", "b"], ["c", "d"]]))
    with pytest.raises(ValueError, match="non-numeric"):
        stream.read_npy(tmp_path / "s.npy")


def _write_csv(path, T, header):
    with open(path, "w") as fh:
        if header:
            fh.write(",".join(header) + "\n")
        for row in T:
            fh.write(",".join(repr(float(v)) for v in row) + "\n")


@pytest.mark.parametrize("engine", ["pyarrow", "python"])
def test_read_csv_round_trip(tmp_path, engine):
    T = _table()
    names = ["a", "b", "c", "d", "price"]
    _write_csv(tmp_path / "h.csv", T, names)
    _write_csv(tmp_path / "n.csv", T, None)
    for path, target in (
        (tmp_path / "h.csv", "price"),
        (tmp_path / "h.csv", -1),
        (tmp_path / "n.csv", 4),
    ):
        X, y, parts = _rows(stream.read_csv(path, target=target, chunk_rows=128, engine=engine))
        np.testing.assert_array_equal(X, T[:, :-1])  # repr() round-trips floats exactly
        np.testing.assert_array_equal(y, T[:, -1])
        assert [len(p[1]) for p in parts] == [128] * 7 + [107]
    X, y, _ = _rows(stream.read_csv(tmp_path / "h.csv", target="b", engine=engine))
    np.testing.assert_array_equal(y, T[:, 1])
    with pytest.raises(ValueError, match="no column named 'nope'"):
        stream.read_csv(tmp_path / "h.csv", target="nope", engine=engine)
    (tmp_path / "t.tsv").write_text("x;y\n1;2\n3;4\n")
    X, y, _ = _rows(stream.read_csv(tmp_path / "t.tsv", delimiter=";", engine=engine))
    np.testing.assert_array_equal(X, [[1.0], [3.0]])
    (tmp_path / "bad.csv").write_text("a,b,c\n1,2,3\n4,five,6\n")
    with pytest.raises(ValueError, match="column 'b' is not numeric"):
        list(stream.read_csv(tmp_path / "bad.csv", engine=engine))


def test_read_csv_without_pyarrow_falls_back(tmp_path, monkeypatch):
    T = _table(n=50)
    _write_csv(tmp_path / "h.csv", T, ["a", "b", "c", "d", "e"])
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    monkeypatch.setitem(sys.modules, "pyarrow.csv", None)
    X, y, _ = _rows(stream.read_csv(tmp_path / "h.csv", chunk_rows=7))
    np.testing.assert_array_equal(X, T[:, :-1])
    with pytest.raises(ImportError, match=r"pip install 'fastgd\[stream\]'"):
        stream.read_parquet(tmp_path / "x.parquet")


def _write_parquet(path, T, names, row_group_size=300):
    import pyarrow as pa
    import pyarrow.parquet as pq

    cols = {name: T[:, j] for j, name in enumerate(names)}
    cols[names[0]] = T[:, 0].astype(np.float32).astype(np.float64)  # exact in float32
    table = pa.table({**cols, names[0]: pa.array(cols[names[0]].astype(np.float32))})
    pq.write_table(table.select(names), path, row_group_size=row_group_size)
    T = T.copy()
    T[:, 0] = cols[names[0]]
    return T


def test_read_parquet_round_trip(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = ["a", "b", "c", "d", "price"]
    T = _write_parquet(tmp_path / "p.parquet", _table(), names)
    reader = stream.read_parquet(tmp_path / "p.parquet", target="price", chunk_rows=128)
    assert reader.total_rows == len(T)
    X, y, parts = _rows(reader)
    np.testing.assert_array_equal(X, T[:, :-1])
    np.testing.assert_array_equal(y, T[:, -1])
    assert [len(p[1]) for p in parts] == [128] * 7 + [107]  # re-cut across row groups
    X, y, _ = _rows(stream.read_parquet(tmp_path / "p.parquet", target=0))
    np.testing.assert_array_equal(y, T[:, 0])
    pq.write_table(
        pa.table({"x": [1.0, 2.0], "city": ["a", "b"], "y": [0.0, 1.0]}), tmp_path / "s.parquet"
    )
    with pytest.raises(ValueError, match="column 'city' is not numeric"):
        stream.read_parquet(tmp_path / "s.parquet")


def test_read_path_directory_of_mixed_chunk_files(tmp_path):
    T = _table(n=700)
    parts = tmp_path / "parts"
    parts.mkdir()
    names = ["a", "b", "c", "d", "y"]
    np.save(parts / "00.npy", T[:200])
    _write_csv(parts / "01.csv", T[200:450], names)
    T[450:] = _write_parquet(parts / "02.parquet", T[450:], names, row_group_size=100)
    (parts / ".hidden").write_text("ignored")
    reader = stream.read_path(parts, chunk_rows=64)
    X, y, chunks = _rows(reader)
    np.testing.assert_array_equal(X, T[:, :-1])
    np.testing.assert_array_equal(y, T[:, -1])
    assert reader.total_rows is None  # a CSV file's row count is not known up front
    assert [len(c[1]) for c in chunks] == [64] * 3 + [8] + [64] * 3 + [58] + [64] * 3 + [58]
    for name, sub in (("t.npy", "npy"), ("t.csv", "csv")):
        path = tmp_path / name
        (np.save(path, T) if sub == "npy" else _write_csv(path, T, None))
        X, y, _ = _rows(stream.read_path(path, chunk_rows=1000))
        np.testing.assert_array_equal(X, T[:, :-1])
    (parts / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match="unknown file type '.txt'"):
        stream.read_path(parts)


# --------------------------------------------------------------------------- bounded memory
_MEMORY_SCRIPT = """
import resource, sys, numpy as np, fastgd
from fastgd.stream import fit_stream, read_npy

def peak_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB

rng = np.random.default_rng(0)
w = rng.normal(size=20)
# warm up: imports, compiled kernels, numpy's buffers
fit_stream(fastgd.SGDRegressor(), [(np.ones((1000, 20)), np.ones(1000))] * 3, progress=False)
mode = sys.argv[1]
if mode == "generator":
    def chunks():
        for _ in range(2_000):  # 2,000 x 1,000 x 20 float64: 320 MB in all
            X = rng.standard_normal((1_000, 20))
            yield X, X @ w
    source = chunks()
else:
    source = read_npy(sys.argv[2], chunk_rows=10_000)
start = peak_mb()
report = fit_stream(fastgd.SGDRegressor(random_state=0), source, progress=False)
print(report.rows, peak_mb() - start, report.score[-1])
"""


def _write_big_npy(path, n_rows, n_cols, seed=0):
    rng = np.random.default_rng(seed)
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(
            fh, {"descr": "<f8", "fortran_order": False, "shape": (n_rows, n_cols)}
        )
        for start in range(0, n_rows, 50_000):
            block = rng.standard_normal((min(50_000, n_rows - start), n_cols))
            block[:, -1] = block[:, :-1].sum(axis=1)
            block.tofile(fh)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="ru_maxrss in KiB on Linux")
@pytest.mark.parametrize("mode", ["generator", "npy"])
def test_memory_stays_bounded_on_a_long_stream(tmp_path, mode):
    """Peak RSS growth is a few chunks, not the stream (320 MB / 200 MB here)."""
    args = [mode]
    expected_rows = 2_000_000
    if mode == "npy":
        expected_rows = 1_200_000  # x 21 columns x 8 bytes: ~200 MB
        _write_big_npy(tmp_path / "big.npy", expected_rows, 21)
        args.append(str(tmp_path / "big.npy"))
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_MEMORY_SCRIPT), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    ).stdout
    rows, growth_mb, last_r2 = out.split()
    assert int(rows) == expected_rows
    assert float(growth_mb) < 60, f"peak RSS grew by {float(growth_mb):.1f} MB"
    assert float(last_r2) > 0.99


# --------------------------------------------------------------------------- interruption
class _Boom(RuntimeError):
    pass


def _failing(chunks, after, exc):
    """The chunks, then ``exc`` raised by the data source after ``after`` of them."""
    for i, chunk in enumerate(chunks):
        if i == after:
            raise exc
        yield chunk


@pytest.mark.parametrize(
    "exc", [_Boom("disk gone"), KeyboardInterrupt()], ids=["source-error", "ctrl-c"]
)
@pytest.mark.parametrize("batch_size", [1, 8])
def test_interrupted_stream_keeps_completed_chunks_and_resumes(tmp_path, exc, batch_size):
    X, y = _data()
    kw = dict(
        shuffle=True,
        random_state=3,
        batch_size=batch_size,
        optimizer="adam",
        learning_rate="constant",
        eta0=0.01,
    )
    chunks = _pieces(X, y, SIZES)
    done = 5
    ck = tmp_path / "ck.npz"
    model = SGDRegressor(**kw)
    with pytest.raises(type(exc)) as info:
        stream.fit_stream(model, _failing(chunks, done, exc), progress=False, checkpoint=ck)
    assert info.value.stream_report.chunks == done
    expected = SGDRegressor(**kw)
    for Xc, yc in chunks[:done]:
        expected.partial_fit(Xc, yc)  # no flush: the interrupted stream did not end
    _same(model, expected)
    assert model.predict(X[:3]).shape == (3,)  # usable

    # the checkpoint saved on interrupt continues to the uninterrupted model
    resumed = fastgd.load(ck)
    _same(resumed, expected)
    position = stream.stream_position(ck, resumed)
    assert position == sum(len(c[1]) for c in chunks[:done])
    stream.fit_stream(resumed, iter(chunks), progress=False, skip_rows=position, checkpoint=ck)
    full = SGDRegressor(**kw)
    stream.fit_stream(full, iter(chunks), progress=False)
    _same(resumed, full)
    assert stream.stream_position(ck) == N


def test_ctrl_c_just_after_an_update_counts_that_chunk(tmp_path):
    X, y = _data()
    chunks = _pieces(X, y, SIZES)
    model = SGDRegressor(shuffle=False, batch_size=8)
    calls = []

    def partial_fit(X, y, sample_weight=None):
        """Ctrl-C arriving just after partial_fit returned, before fit_stream's bookkeeping."""
        SGDRegressor.partial_fit(model, X, y, sample_weight=sample_weight)
        calls.append(len(y))
        if len(calls) == 3:
            raise KeyboardInterrupt
        return model

    model.partial_fit = partial_fit
    ck = tmp_path / "ck.npz"
    with pytest.raises(KeyboardInterrupt) as info:
        stream.fit_stream(model, chunks, progress=False, checkpoint=ck)
    assert info.value.stream_report.chunks == 3
    position = stream.stream_position(ck, fastgd.load(ck))
    assert position == sum(SIZES[:3])
    resumed = fastgd.load(ck)
    stream.fit_stream(resumed, chunks, progress=False, skip_rows=position)
    _same(resumed, SGDRegressor(shuffle=False, batch_size=8).partial_fit(X, y).flush())


@settings(max_examples=15, deadline=None)
@given(
    chunk_rows=st.integers(1, 400), batch_size=st.sampled_from([1, 3, 8]), skip=st.integers(0, 600)
)
def test_read_npy_any_chunk_rows_equals_one_pass(tmp_path_factory, chunk_rows, batch_size, skip):
    path = tmp_path_factory.getbasetemp() / "hyp.npy"
    if not path.exists():
        np.save(path, _table(n=600))
    T = np.load(path)
    kw = dict(shuffle=False, batch_size=batch_size, optimizer="momentum", momentum=0.5)
    streamed = SGDRegressor(**kw)
    stream.fit_stream(streamed, stream.read_npy(path, chunk_rows=chunk_rows), progress=False)
    one = SGDRegressor(**kw).partial_fit(T[:, :-1], T[:, -1]).flush()
    _same(streamed, one)
    # resuming after `skip` rows learned in one piece gives the same model again
    head = SGDRegressor(**kw)
    if skip:
        head.partial_fit(T[:skip, :-1], T[:skip, -1])
    stream.fit_stream(
        head, stream.read_npy(path, chunk_rows=chunk_rows), progress=False, skip_rows=skip
    )
    _same(head, one)


def test_failed_chunk_leaves_model_at_previous_chunk(tmp_path):
    X, y = _data()
    chunks = _pieces(X, y, [100] * 10)
    bad = chunks[4][0].copy()
    bad[7, 2] = np.nan
    chunks[4] = (bad, chunks[4][1])
    model = SGDRegressor(shuffle=False)
    with pytest.raises(ValueError, match="NaN"):
        stream.fit_stream(model, chunks, progress=False, checkpoint=tmp_path / "ck.npz")
    expected = SGDRegressor(shuffle=False)
    for Xc, yc in chunks[:4]:
        expected.partial_fit(Xc, yc)
    _same(model, expected)
    _same(fastgd.load(tmp_path / "ck.npz"), expected)


def test_periodic_checkpoints(tmp_path):
    X, y = _data()
    ck = tmp_path / "ck.npz"
    report = stream.fit_stream(
        SGDRegressor(shuffle=False),
        _pieces(X, y, [100] * 10),
        progress=False,
        checkpoint=ck,
        checkpoint_every=3,
        flush=False,
    )
    assert report.checkpoints == 3 + 1  # after chunks 3, 6, 9 and at the end
    report = stream.fit_stream(
        SGDRegressor(shuffle=False),
        _pieces(X, y, [100] * 10),
        progress=False,
        checkpoint=ck,
        checkpoint_every_rows=250,
    )
    assert report.checkpoints == 3 + 1  # after 300, 600, 900 rows and at the end
    assert not list(tmp_path.glob("*.tmp"))
    # a position record that does not belong to the checkpoint is refused
    other = SGDRegressor(shuffle=False).partial_fit(X[:10], y[:10])
    with pytest.raises(ValueError, match="does not match"):
        stream.stream_position(ck, other)


def test_skip_rows_cuts_a_straddling_chunk():
    X, y = _data()
    chunks = list(stream.skip_rows(_pieces(X, y, [100] * 10), 250))
    assert [len(c[1]) for c in chunks] == [50] + [100] * 7
    np.testing.assert_array_equal(np.concatenate([c[0] for c in chunks]), X[250:])


# --------------------------------------------------------------------------- command line
def _cli_data(tmp_path):
    T = _table(n=600)
    _write_csv(tmp_path / "d.csv", T, ["a", "b", "c", "d", "y"])
    np.save(tmp_path / "d.npy", T)
    return T


def _fit_cli(*args):
    return main(["fit", *map(str, args), "--no-progress"])


def test_cli_fit_file_and_directory(tmp_path, capsys):
    T = _cli_data(tmp_path)
    for data in ("d.csv", "d.npy"):
        out = tmp_path / f"{data}.json"
        assert (
            _fit_cli(
                tmp_path / data,
                "--chunk-rows",
                64,
                "--epochs",
                3,
                "--param",
                "shuffle=false",
                "--param",
                "batch_size=8",
                "--report",
                out,
            )
            == 0
        )
        result = json.loads(out.read_text())
        assert result["rows"] == 3 * 600 and result["rows_per_epoch"] == 600
        assert len(result["epoch_loss"]) == 3 and result["epoch_loss"][2] < result["epoch_loss"][0]
        assert result["progressive"]["loss"][0] is None and len(result["progressive"]["r2"]) == 30
        assert result["score"] > 0.5 and result["score_name"] == "r2"
    a, b = (json.loads((tmp_path / f"{d}.json").read_text()) for d in ("d.csv", "d.npy"))
    assert a["coef"] == b["coef"]  # the same rows in the same order: the same model
    model = SGDRegressor(shuffle=False, batch_size=8)
    for _ in range(3):
        model.partial_fit(T[:, :-1], T[:, -1])
    model.flush()
    np.testing.assert_array_equal(a["coef"], model.coef_)
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "0.npy", T[:250])
    np.save(tmp_path / "dir" / "1.npy", T[250:])
    assert (
        _fit_cli(
            tmp_path / "dir",
            "--param",
            "shuffle=false",
            "--param",
            "batch_size=8",
            "--epochs",
            3,
            "--report",
            tmp_path / "dir.json",
        )
        == 0
    )
    assert json.loads((tmp_path / "dir.json").read_text())["coef"] == a["coef"]
    assert "progressive validation" in capsys.readouterr().out


def test_cli_classifier_target_by_name(tmp_path):
    T = _table(n=600)
    T[:, 2] = (T[:, -1] > 0.5).astype(float)
    _write_csv(tmp_path / "c.csv", T, ["a", "b", "label", "d", "e"])
    out = tmp_path / "c.json"
    assert (
        _fit_cli(
            tmp_path / "c.csv",
            "--classifier",
            "--target",
            "label",
            "--report",
            out,
            "--param",
            "random_state=0",
            "--epochs",
            2,
        )
        == 0
    )
    result = json.loads(out.read_text())
    assert result["classes"] == [0.0, 1.0] and result["score"] > 0.8
    assert result["estimator"] == "SGDClassifier"


def test_cli_resume_continues_to_the_uninterrupted_model(tmp_path, monkeypatch, capsys):
    _cli_data(tmp_path)
    data = tmp_path / "d.npy"
    common = [
        "--chunk-rows",
        50,
        "--epochs",
        3,
        "--param",
        "batch_size=8",
        "--param",
        "random_state=1",
    ]
    assert _fit_cli(data, *common, "--report", tmp_path / "full.json") == 0
    full = json.loads((tmp_path / "full.json").read_text())

    # epochs: one epoch with a checkpoint, then resume to three
    ck = tmp_path / "ck.npz"
    assert _fit_cli(data, *common[:2], "--epochs", 1, *common[4:], "--checkpoint", ck) == 0
    assert _fit_cli(data, *common, "--resume", ck, "--report", tmp_path / "r.json") == 0
    resumed = json.loads((tmp_path / "r.json").read_text())
    assert resumed["resumed_at_row"] == 600 and resumed["rows"] == 1200
    assert resumed["coef"] == full["coef"] and resumed["intercept"] == full["intercept"]

    # Ctrl-C in the middle of the second epoch, then --resume
    real = stream.read_path
    calls = {"n": 0}

    def interrupted_reader(*args, **kwargs):
        reader = real(*args, **kwargs)
        factory = reader._factory

        def chunks():
            for chunk in factory():
                calls["n"] += 1
                if calls["n"] == 17:
                    raise KeyboardInterrupt
                yield chunk

        reader._factory = chunks
        return reader

    ck2 = tmp_path / "ck2.npz"
    monkeypatch.setattr(stream, "read_path", interrupted_reader)
    assert _fit_cli(data, *common, "--checkpoint", ck2, "--checkpoint-every", 5) == 130
    assert "--resume" in capsys.readouterr().err
    monkeypatch.setattr(stream, "read_path", real)
    assert stream.stream_position(ck2) == 16 * 50
    assert _fit_cli(data, *common, "--resume", ck2, "--report", tmp_path / "r2.json") == 0
    resumed = json.loads((tmp_path / "r2.json").read_text())
    assert resumed["coef"] == full["coef"] and resumed["intercept"] == full["intercept"]

    # parameters of a resumed run are the checkpoint's
    assert _fit_cli(data, "--resume", ck, "--param", "batch_size=8") == 0
    assert _fit_cli(data, "--resume", ck, "--param", "batch_size=4") == 2
    assert "differs from the checkpoint" in capsys.readouterr().err
    assert _fit_cli(data, "--resume", ck, "--classifier") == 2
