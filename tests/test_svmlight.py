"""fastgd.stream.read_svmlight: svmlight / libsvm files as CSR chunks, and ``fastgd fit`` on them."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_svmlight_file

from fastgd import SGDRegressor, stream
from fastgd.cli import main


# --------------------------------------------------------------------------- helpers
def _matrix(n=120, d=9, density=0.4, seed=0):
    """A random sparse (X, y): X a CSR matrix with some empty rows, y linear in X plus noise."""
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, format="csr", random_state=seed, dtype=np.float64)
    X.data = np.round(X.data * 4 - 2, 3)  # short decimals: the text round-trips exactly
    X.eliminate_zeros()
    y = np.round(X @ rng.normal(size=d) + 0.5 + 0.05 * rng.normal(size=n), 4)
    return X, y


def _write(path, lines):
    path.write_bytes("".join(lines).encode())
    return path


def _lines(X, y, *, one_based, qid=None):
    """svmlight lines of (X, y), one per row ('<y> [qid:q] i:v ...')."""
    out = []
    X = sp.csr_matrix(X, copy=True)
    X.eliminate_zeros()  # a stored 0 would still be a feature index in the text
    for i in range(X.shape[0]):
        lo, hi = X.indptr[i], X.indptr[i + 1]
        fields = [repr(float(y[i]))]
        if qid is not None:
            fields.append(f"qid:{qid[i]}")
        fields += [
            f"{j + one_based}:{float(v)!r}"
            for j, v in zip(X.indices[lo:hi], X.data[lo:hi], strict=True)
        ]
        out.append(" ".join(fields) + "\n")
    return out


def _stack(reader):
    """The chunks of a reader, stacked: (X as CSR, y, the chunk sizes)."""
    chunks = list(reader)
    sizes = [len(y) for _, y in chunks]
    X = sp.vstack([X for X, _ in chunks], format="csr")
    return X, np.concatenate([y for _, y in chunks]), sizes


def _assert_same(X, y, X_ref, y_ref):
    X_ref = sp.csr_matrix(X_ref)
    assert X.shape == X_ref.shape and X.dtype == X_ref.dtype
    assert (X != X_ref).nnz == 0
    np.testing.assert_array_equal(X.toarray(), X_ref.toarray())
    np.testing.assert_array_equal(y, y_ref)
    assert y.dtype == np.float64


@pytest.fixture(params=[1 << 22, 40], ids=["4MB-blocks", "40B-blocks"])
def block_bytes(request, monkeypatch):
    """The default block size, and one so small that every few lines start a new block."""
    monkeypatch.setattr(stream, "_SVM_BLOCK_BYTES", request.param)
    return request.param


# --------------------------------------------------------------------------- same as sklearn
def _file_zero_based(tmp_path):
    X, y = _matrix()
    X = X.tolil()
    X[3, 0] = 1.5  # index 0 occurs
    return _write(tmp_path / "zero.svm", _lines(X, y, one_based=False))


def _file_one_based(tmp_path):
    X, y = _matrix(seed=1)
    return _write(tmp_path / "one.svm", _lines(X, y, one_based=True))


def _file_late_zero(tmp_path):
    """Zero-based, but only the second-to-last row has a feature at index 0."""
    X, y = _matrix(seed=2)
    X = X.tolil()
    X[:, 0] = 0.0
    X[X.shape[0] - 2, 0] = 2.5
    return _write(tmp_path / "late.svm", _lines(sp.csr_matrix(X), y, one_based=False))


def _file_comments_qid(tmp_path):
    X, y = _matrix(seed=3)
    qid = np.arange(X.shape[0]) // 10
    lines = _lines(X, y, one_based=True, qid=qid)
    out = ["# svmlight file with comments\n", "\n"]
    for i, line in enumerate(lines):
        if i % 4 == 0:
            line = line.rstrip("\n") + "  # row comment: 1:2 3:4\n"
        out.append(line)
        if i % 7 == 0:
            out += ["   \n", "# 99:1 a comment-only line\n"]
    out[-1] = out[-1].rstrip("\n")  # no newline at the end of the file
    return _write(tmp_path / "comments.libsvm", out)


FILES = {
    "zero-based": _file_zero_based,
    "one-based": _file_one_based,
    "zero-based, index 0 only near the end": _file_late_zero,
    "comments, blank lines, qid": _file_comments_qid,
}


@pytest.mark.parametrize("name", list(FILES))
@pytest.mark.parametrize("chunk_rows", [1, 7, 1000])
def test_chunks_equal_load_svmlight_file(tmp_path, block_bytes, name, chunk_rows):
    path = FILES[name](tmp_path)
    reader = stream.read_svmlight(path, chunk_rows=chunk_rows)
    X, y, sizes = _stack(reader)
    X_ref, y_ref = load_svmlight_file(path)
    _assert_same(X, y, X_ref, y_ref)
    assert reader.total_rows == X_ref.shape[0] and reader.n_features == X_ref.shape[1]
    for chunk, _ in reader:
        assert isinstance(chunk, sp.csr_matrix) and chunk.has_sorted_indices
        assert chunk.indices.dtype == np.int32 and chunk.indptr.dtype == np.int32
    for zero_based in (True, False):
        if zero_based is False and name.startswith("zero"):
            continue
        X, y, _ = _stack(stream.read_svmlight(path, chunk_rows=chunk_rows, zero_based=zero_based))
        _assert_same(X, y, *load_svmlight_file(path, zero_based=zero_based))


def test_auto_is_decided_once_for_the_whole_file(tmp_path, block_bytes):
    """The first chunks have no index 0; a per-range 'auto' would shift them (one-based)."""
    path = _file_late_zero(tmp_path)
    reader = stream.read_svmlight(path, chunk_rows=5)
    assert reader.zero_based is True
    first, _ = next(iter(reader))
    X_ref, _ = load_svmlight_file(path, zero_based=True)
    np.testing.assert_array_equal(first.toarray(), X_ref[:5].toarray())
    assert stream.read_svmlight(_file_one_based(tmp_path)).zero_based is False


def test_exact_chunk_sizes_and_reiteration(tmp_path, block_bytes):
    path = _file_comments_qid(tmp_path)
    reader = stream.read_svmlight(path, chunk_rows=13)
    _, _, sizes = _stack(reader)
    assert sizes == [13] * (120 // 13) + [120 % 13]
    a, b = _stack(reader), _stack(reader)  # a reader can be iterated again
    assert (a[0] != b[0]).nnz == 0 and np.array_equal(a[1], b[1])
    assert "n_features=9" in repr(reader) and "total_rows=120" in repr(reader)


def test_a_line_longer_than_a_block(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "_SVM_BLOCK_BYTES", 16)
    long = "2 " + " ".join(f"{j}:{j}.25" for j in range(1, 200)) + "\n"
    path = _write(tmp_path / "long.svm", ["1 1:1\n", long, "3 2:1\r\n", long, "4 5:1"])
    X, y, sizes = _stack(stream.read_svmlight(path, chunk_rows=2))
    _assert_same(X, y, *load_svmlight_file(path))
    assert sizes == [2, 2, 1]


def test_blocks_are_line_aligned_and_bounded(tmp_path, monkeypatch):
    path = _file_comments_qid(tmp_path)
    blocks = list(stream._svm_blocks(path, 64))
    longest = max(len(line) for line in path.read_bytes().split(b"\n")) + 1
    assert b"".join(b for _, b, _ in blocks) == path.read_bytes()
    assert all(b.endswith(b"\n") for _, b, _ in blocks[:-1])
    assert all(len(b) <= 64 + longest for _, b, _ in blocks)
    assert [off for off, _, _ in blocks] == list(
        np.cumsum([0] + [len(b) for _, b, _ in blocks[:-1]])
    )
    assert [n for _, _, n in blocks] == list(
        np.cumsum([0] + [b.count(b"\n") for _, b, _ in blocks[:-1]])
    )


# --------------------------------------------------------------------------- n_features, dtype
def test_n_features_given_or_inferred(tmp_path, block_bytes):
    path = _file_one_based(tmp_path)
    X_ref, y_ref = load_svmlight_file(path, n_features=25)
    for zero_based in ("auto", False):  # the second reads without a first pass
        reader = stream.read_svmlight(path, n_features=25, chunk_rows=10, zero_based=zero_based)
        X, y, _ = _stack(reader)
        _assert_same(X, y, X_ref, y_ref)
        assert all(c.shape[1] == 25 for c, _ in reader) and reader.n_features == 25
    assert stream.read_svmlight(path, n_features=25, zero_based=False).total_rows is None
    inferred = stream.read_svmlight(path)
    assert inferred.n_features == load_svmlight_file(path)[0].shape[1] == 9
    assert inferred.total_rows == 120
    exact = stream.read_svmlight(path, n_features=9)  # the inferred width, given
    _assert_same(*_stack(exact)[:2], *load_svmlight_file(path))


def test_float32(tmp_path, block_bytes):
    path = _file_comments_qid(tmp_path)
    reader = stream.read_svmlight(path, dtype=np.float32, chunk_rows=16)
    X, y, _ = _stack(reader)
    X_ref, y_ref = load_svmlight_file(path, dtype=np.float32)
    assert X.dtype == np.float32 and y.dtype == np.float64
    _assert_same(X, y, X_ref, y_ref.astype(np.float64))


def test_index_beyond_n_features_names_the_line_and_the_fix(tmp_path, block_bytes):
    lines = ["# header\n"] + [f"{i} 1:1 {2 + i % 4}:2\n" for i in range(30)]
    lines[21] = "5 2:1 17:3\n"  # line 22, row 20
    path = _write(tmp_path / "wide.svm", lines)
    message = (
        rf"{re.escape(str(path))}: line 22 \(row 20, counting from 0\) has feature index 17, "
        r"column 16 \(one-based indices\), but n_features=8 .*pass n_features >= 17"
    )
    with pytest.raises(ValueError, match=message):  # found by the first pass
        stream.read_svmlight(path, n_features=8)
    reader = stream.read_svmlight(path, n_features=8, zero_based=False, chunk_rows=4)
    with pytest.raises(ValueError, match=message):  # found when its chunk is read
        list(reader)
    assert stream.read_svmlight(path, n_features=17).n_features == 17


def test_index_zero_with_zero_based_false(tmp_path, block_bytes):
    path = _write(tmp_path / "z.svm", ["1 1:1\n", "2 2:1\n", "3 0:1 4:1\n"])
    with pytest.raises(ValueError, match=r"line 3 \(row 2.*index 0.*zero_based=True"):
        stream.read_svmlight(path, zero_based=False)
    with pytest.raises(ValueError, match=r"line 3 \(row 2.*index 0.*zero_based=True"):
        list(stream.read_svmlight(path, zero_based=False, n_features=5))


# --------------------------------------------------------------------------- malformed, empty
MALFORMED = {
    "1 3": "without ':'",
    "1 a:2": "invalid literal",
    "x 1:2": "could not convert",
    "1 1:y": "could not convert",
    "1 3:1 2:1": "sorted and unique",
    "1 2:1 2:1": "sorted and unique",
    "1 -1:2": "Invalid index -1",
    "1 99999999999:1": "beyond 2147483647",
}


@pytest.mark.parametrize("bad", list(MALFORMED))
def test_malformed_line_names_the_file_line_and_row(tmp_path, block_bytes, bad):
    lines = [f"{i} 1:{i} 3:1\n" for i in range(40)]
    lines[5:5] = ["# comment\n", "\n"]
    lines[30] = bad + "  # the bad one\n"  # line 31; rows before it: 30 - 2 = 28
    path = _write(tmp_path / "bad.svm", lines)
    message = (
        rf"{re.escape(str(path))}: line 31 \(row 28, counting from 0\) is not svmlight/libsvm: "
        rf".*{re.escape(MALFORMED[bad])}.*{re.escape(repr(bad)[:-1])}.*index>:<value>"
    )
    with pytest.raises(ValueError, match=message):
        stream.read_svmlight(path)
    # no first pass: raised when its block is read (with 4 MB blocks, the first: at once)
    with pytest.raises(ValueError, match=message):
        list(stream.read_svmlight(path, n_features=4, zero_based=True, chunk_rows=3))


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n  \n# 1:2\n"])
def test_a_file_without_data_lines(tmp_path, text):
    path = tmp_path / "empty.svm"
    path.write_text(text)
    for kwargs in ({}, {"n_features": 3, "zero_based": True}):
        with pytest.raises(ValueError, match=rf"{re.escape(str(path))}: the file holds no data"):
            stream.read_svmlight(path, **kwargs)


def test_rows_without_features(tmp_path):
    path = _write(tmp_path / "sparse.svm", ["1\n", "2 3:1\n", "-1 # nothing\n", "4\n"])
    X, y, _ = _stack(stream.read_svmlight(path, chunk_rows=3))
    _assert_same(X, y, *load_svmlight_file(path))
    assert X.shape == (4, 3)
    path = _write(tmp_path / "none.svm", ["1\n", "2\n"])  # rows, but no feature at all
    _assert_same(*_stack(stream.read_svmlight(path))[:2], *load_svmlight_file(path))


def test_bad_arguments(tmp_path):
    path = _file_one_based(tmp_path)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="n_features must be a positive integer"):
            stream.read_svmlight(path, n_features=bad)
    with pytest.raises(ValueError, match="zero_based must be True, False or 'auto'"):
        stream.read_svmlight(path, zero_based="yes")
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        stream.read_svmlight(path, dtype=np.int64)
    with pytest.raises(ValueError, match="chunk_rows must be a positive integer"):
        stream.read_svmlight(path, chunk_rows=0)
    gz = tmp_path / "d.svm.gz"
    gz.write_bytes(b"")
    with pytest.raises(ValueError, match="decompress it first"):
        stream.read_svmlight(gz)
    with pytest.raises(FileNotFoundError):
        stream.read_svmlight(tmp_path / "missing.svm")


# --------------------------------------------------------------------------- read_path
@pytest.mark.parametrize("suffix", [".svm", ".svmlight", ".libsvm", ".SVM"])
def test_read_path_dispatches_svmlight_suffixes(tmp_path, suffix):
    src = _file_one_based(tmp_path)
    path = tmp_path / f"data{suffix}"
    path.write_bytes(src.read_bytes())
    reader = stream.read_path(path, chunk_rows=50)
    X, y, sizes = _stack(reader)
    _assert_same(X, y, *load_svmlight_file(src))
    assert sizes == [50, 50, 20] and reader.total_rows == 120
    wide = stream.read_path(path, n_features=30, zero_based=False)
    assert wide.n_features == 30 and wide.zero_based is False


def test_read_path_refuses_txt_and_a_target(tmp_path):
    src = _file_one_based(tmp_path)
    txt = tmp_path / "data.txt"
    txt.write_bytes(src.read_bytes())
    with pytest.raises(ValueError, match=r"unknown file type '\.txt'.*\.svm"):
        stream.read_path(txt)
    X, y, _ = _stack(stream.read_svmlight(txt))  # read_svmlight takes any name
    _assert_same(X, y, *load_svmlight_file(src))
    for target in (0, "y"):
        with pytest.raises(ValueError, match="first field of each line.*drop target"):
            stream.read_path(src, target=target)


def test_read_path_directory_decides_columns_and_base_once(tmp_path, block_bytes):
    """Part 0 has no index 0 and fewer columns; part 1 has index 0 and the widest index."""
    X, y = _matrix(n=60, d=12, seed=4)
    X = X.tolil()
    X[:30, 0] = 0.0
    X[:30, 8:] = 0.0
    X[40, 0] = 1.0
    X[41, 11] = 2.0
    X = sp.csr_matrix(X)
    (tmp_path / "dir").mkdir()
    _write(tmp_path / "dir" / "part0.svm", _lines(X[:30], y[:30], one_based=False))
    _write(tmp_path / "dir" / "part1.libsvm", _lines(X[30:], y[30:], one_based=False))
    reader = stream.read_path(tmp_path / "dir", chunk_rows=8)
    Xs, ys, sizes = _stack(reader)
    _assert_same(Xs, ys, X, y)
    assert sizes == [8, 8, 8, 6, 8, 8, 8, 6] and reader.total_rows == 60
    assert {c.shape[1] for c, _ in reader} == {12}


def test_read_path_directory_mixing_dense_and_sparse_files(tmp_path):
    X, y = _matrix(n=40, d=5, seed=5)
    (tmp_path / "dir").mkdir()
    np.save(tmp_path / "dir" / "a.npy", np.column_stack([X[:20].toarray(), y[:20]]))
    _write(tmp_path / "dir" / "b.svm", _lines(X[20:], y[20:], one_based=False))
    chunks = list(stream.read_path(tmp_path / "dir", chunk_rows=15, n_features=5, zero_based=True))
    assert [type(c).__name__ for c, _ in chunks] == [
        "ndarray",
        "ndarray",
        "csr_matrix",
        "csr_matrix",
    ]
    np.testing.assert_array_equal(
        np.vstack([c.toarray() if sp.issparse(c) else c for c, _ in chunks]), X.toarray()
    )


# --------------------------------------------------------------------------- fit_stream
class _Recorder:
    """A regressor that takes any X: records the chunks, predicts an (n, 1) column."""

    _estimator_type = "regressor"
    loss = "squared_error"

    def __init__(self, coef):
        self.coef = np.asarray(coef, dtype=np.float64)
        self.seen = []

    def partial_fit(self, X, y, sample_weight=None):
        self.seen.append((X, y, sample_weight))
        self.coef_ = self.coef
        self.t_ = getattr(self, "t_", 0) + X.shape[0]

    def predict(self, X):
        return (X @ self.coef)[:, None]  # shape (n, 1), as an np.matrix product gives


def test_fit_stream_passes_dense_and_csr_chunks_unchanged(tmp_path):
    X, y = _matrix(n=90, d=4, seed=6)
    coef = np.array([1.0, -1.0, 0.5, 2.0])
    chunks = [
        (X[:30], y[:30]),
        (X[30:60].toarray(), y[30:60]),
        (X[60:].astype(np.float32), y[60:], np.full(30, 2.0)),
    ]
    model = _Recorder(coef)
    report = stream.fit_stream(model, chunks, progress=False)
    assert all(a[0] is b[0] for a, b in zip(model.seen, chunks, strict=True))
    assert report.rows == 90 and report.chunk_rows.tolist() == [30, 30, 30]
    for i in (1, 2):  # progressive validation of chunks 1 and 2 with the recorded coef
        Xi, yi = chunks[i][0], chunks[i][1]
        pred = np.asarray(Xi @ coef, dtype=np.float64).ravel()
        r2 = 1 - np.sum((yi - pred) ** 2) / np.sum((yi - yi.mean()) ** 2)
        np.testing.assert_allclose(report.score[i], r2, rtol=1e-6)
        np.testing.assert_allclose(report.loss[i], np.mean(0.5 * (pred - yi) ** 2), rtol=1e-6)
    resumed = _Recorder(coef)
    stream.fit_stream(resumed, chunks, progress=False, skip_rows=45)
    first = resumed.seen[0][0]
    assert sp.issparse(first) is False and first.shape == (15, 4)  # cut inside chunk 1
    resumed = _Recorder(coef)
    stream.fit_stream(resumed, chunks, progress=False, skip_rows=10)
    first = resumed.seen[0][0]
    assert isinstance(first, sp.csr_matrix) and first.shape == (20, 4)
    np.testing.assert_array_equal(first.toarray(), X[10:30].toarray())


def test_fit_stream_over_read_svmlight_chunks(tmp_path):
    path = _file_one_based(tmp_path)
    model = _Recorder(np.ones(9))
    report = stream.fit_stream(model, stream.read_svmlight(path, chunk_rows=32), progress=False)
    assert report.rows == 120 and report.chunk_rows.tolist() == [32, 32, 32, 24]
    assert all(isinstance(X, sp.csr_matrix) and X.shape[1] == 9 for X, _, _ in model.seen)
    assert np.isfinite(report.score[1:]).all()


# --------------------------------------------------------------------------- fastgd fit
def _fit_cli(*args):
    return main(["fit", *map(str, args), "--no-progress"])


def test_cli_refuses_a_target_and_a_small_n_features(tmp_path, capsys):
    path = _file_one_based(tmp_path)
    assert _fit_cli(path, "--target", 0) == 2
    assert "drop target=0 (--target)" in capsys.readouterr().err
    assert _fit_cli(path, "--n-features", 3) == 2
    assert "pass n_features >= 9" in capsys.readouterr().err
    bad = _write(tmp_path / "bad.svm", ["1 1:1\n", "2 x\n"])
    assert _fit_cli(bad) == 2
    assert "line 2 (row 1, counting from 0)" in capsys.readouterr().err


# The two tests below need estimators whose partial_fit / predict accept scipy.sparse CSR.
def test_cli_fit_regressor_on_an_svmlight_file(tmp_path, capsys):
    X, y = _matrix(n=300, d=6, density=0.5, seed=7)
    path = _write(tmp_path / "d.svm", _lines(X, y, one_based=True))
    out = tmp_path / "r.json"
    common = ["--param", "shuffle=false", "--param", "batch_size=1", "--epochs", 2]
    assert _fit_cli(path, "--chunk-rows", 64, *common, "--report", out) == 0
    result = json.loads(out.read_text())
    assert result["rows"] == 600 and result["rows_per_epoch"] == 300
    assert result["n_features"] == 6 and len(result["progressive"]["r2"]) == 10
    model = SGDRegressor(shuffle=False, batch_size=1)
    dense = X.toarray()
    for _ in range(2):
        model.partial_fit(dense, y)
    model.flush()
    np.testing.assert_allclose(result["coef"], model.coef_, rtol=1e-9, atol=1e-12)
    assert result["score"] > 0.5
    wide = tmp_path / "w.json"
    assert _fit_cli(path, "--n-features", 10, "--zero-based", "false", "--report", wide) == 0
    assert json.loads(wide.read_text())["n_features"] == 10
    assert "progressive validation" in capsys.readouterr().out


def test_cli_fit_classifier_on_an_svmlight_file(tmp_path):
    X, y = _matrix(n=400, d=6, density=0.5, seed=8)
    labels = np.where(y > np.median(y), 1.0, -1.0)
    path = _write(tmp_path / "c.svm", _lines(X, labels, one_based=False))
    out = tmp_path / "c.json"
    args = ["--classifier", "--param", "random_state=0", "--epochs", 3, "--chunk-rows", 50]
    assert _fit_cli(path, *args, "--report", out) == 0
    result = json.loads(out.read_text())
    assert result["classes"] == [-1.0, 1.0] and result["estimator"] == "SGDClassifier"
    assert result["score"] > 0.7
    assert result["n_features"] == 6
