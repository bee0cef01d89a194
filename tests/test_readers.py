"""fastgd.stream's readers on pyarrow.dataset (issue 18, item 3).

Directories read recursively (subdirectories and hive partitions), column projection
(``features=``, ``target=``, ``drop=``), compressed CSV, ``read_parquet`` on a
directory, feature names carried into the model, and reader errors that name the file,
the column and the row counted from the start of the stream.
"""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import fastgd
from fastgd import SGDClassifier, SGDRegressor, checkpoint, stream


def _table(n, d=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + 0.5
    return np.column_stack([X, y])


def _csv_text(T, names):
    lines = [",".join(names)] + [",".join(repr(float(v)) for v in row) for row in T]
    return "\n".join(lines) + "\n"


def _write_csv(path, T, names=("a", "b", "c", "y")):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_csv_text(T, names))
    return path


def _write_parquet(path, T, names=("a", "b", "c", "y"), **extra):
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = {name: T[:, j] for j, name in enumerate(names)}
    pq.write_table(pa.table({**cols, **extra}), path, row_group_size=97)
    return path


def _stack(reader):
    parts = list(reader)
    X = np.concatenate([p[0] for p in parts])
    y = None if parts[0][1] is None else np.concatenate([p[1] for p in parts])
    return X, y, [len(p[0]) for p in parts]


# ------------------------------------------------------------------ directories
def test_subdirectories_are_read_not_skipped(tmp_path):
    """The issue's case: two subdirectories of 20,000 rows each; every row is read."""
    T = _table(40_000)
    _write_csv(tmp_path / "data" / "part1" / "rows.csv", T[:20_000])
    _write_csv(tmp_path / "data" / "part2" / "rows.csv", T[20_000:])
    (tmp_path / "data" / "_SUCCESS").write_text("")  # a marker file: skipped, as pyarrow does
    (tmp_path / "data" / ".part1.crc").write_text("")
    reader = stream.read_path(tmp_path / "data", chunk_rows=4096)
    X, y, sizes = _stack(reader)
    assert X.shape == (40_000, 3)
    np.testing.assert_array_equal(X, T[:, :3])
    np.testing.assert_array_equal(y, T[:, 3])
    # one dataset: chunks run across the two files
    assert sizes == [4096] * 9 + [40_000 - 9 * 4096]
    assert reader.feature_names == ["a", "b", "c"] and reader.target_name == "y"


def test_mixed_and_nested_directory_in_sorted_path_order(tmp_path):
    T = _table(600)
    root = tmp_path / "d"
    np.save(root.mkdir() or root / "0.npy", T[:100])
    _write_csv(root / "1" / "x.csv", T[100:300])
    _write_parquet(root / "1" / "y.parquet", T[300:450])
    _write_csv(root / "2.csv", T[450:])
    X, y, sizes = _stack(stream.read_path(root, chunk_rows=64))
    np.testing.assert_array_equal(X, T[:, :3])
    np.testing.assert_array_equal(y, T[:, 3])
    assert sizes == [64, 36, 64, 64, 64, 8, 64, 64, 22, 64, 64, 22]
    (root / "1" / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"notes\.txt: unknown file type '\.txt'"):
        stream.read_path(root)


def test_hive_partitions_become_columns(tmp_path):
    T = _table(400)
    root = tmp_path / "hive"
    parts = [(2020, 1), (2020, 2), (2021, 1), (2021, 2)]
    for k, (year, month) in enumerate(parts):
        _write_parquet(
            root / f"year={year}" / f"month={month}" / "part-0.parquet", T[100 * k : 100 * k + 100]
        )
    reader = stream.read_path(root, target="y", chunk_rows=128)
    X, y, _ = _stack(reader)
    assert reader.feature_names == ["a", "b", "c", "year", "month"]
    assert reader.total_rows == 400
    np.testing.assert_array_equal(X[:, :3], T[:, :3])
    np.testing.assert_array_equal(y, T[:, 3])
    expected_year = np.repeat([2020.0, 2020, 2021, 2021], 100)
    expected_month = np.repeat([1.0, 2, 1, 2], 100)
    np.testing.assert_array_equal(X[:, 3], expected_year)
    np.testing.assert_array_equal(X[:, 4], expected_month)
    # a key is a column like any other: selected, dropped, or the target
    X, y, _ = _stack(stream.read_path(root, target="year", features=["month", "a"]))
    np.testing.assert_array_equal(X, np.column_stack([expected_month, T[:, 0]]))
    np.testing.assert_array_equal(y, expected_year)
    X, _, _ = _stack(stream.read_path(root, target="y", drop=["year", "month"]))
    np.testing.assert_array_equal(X, T[:, :3])
    # CSV files under partitions too, and read_parquet on the directory
    X, _, _ = _stack(stream.read_parquet(root, target="y", drop=["month"]))
    np.testing.assert_array_equal(X[:, 3], expected_year)
    csv_root = tmp_path / "csvhive"
    _write_csv(csv_root / "city=3" / "a.csv.gz", T[:10])
    (csv_root / "city=3" / "a.csv.gz").write_bytes(
        gzip.compress(_csv_text(T[:10], "abcy").encode())
    )
    X, _, _ = _stack(stream.read_path(csv_root, target="y"))
    np.testing.assert_array_equal(X[:, 3], np.full(10, 3.0))


def test_a_text_partition_key_must_be_left_out(tmp_path):
    T = _table(20)
    root = tmp_path / "hive"
    _write_parquet(root / "city=paris" / "p.parquet", T[:10])
    _write_parquet(root / "city=rome" / "p.parquet", T[10:])
    with pytest.raises(ValueError, match=r"partition city='paris' is not a number.*drop"):
        stream.read_path(root)
    X, _, _ = _stack(stream.read_path(root, drop=["city"]))
    np.testing.assert_array_equal(X, T[:, :3])
    (root / "loose.parquet").write_bytes((root / "city=rome" / "p.parquet").read_bytes())
    with pytest.raises(ValueError, match="same keys"):
        stream.read_path(root, drop=["city"])


def test_read_parquet_on_a_directory(tmp_path):
    T = _table(1_000)
    for k in range(4):
        _write_parquet(tmp_path / "pq" / f"part-{k}.parquet", T[250 * k : 250 * (k + 1)])
    reader = stream.read_parquet(tmp_path / "pq", chunk_rows=300)
    assert reader.total_rows == 1_000
    X, y, sizes = _stack(reader)
    assert sizes == [300, 300, 300, 100]
    np.testing.assert_array_equal(X, T[:, :3])
    np.testing.assert_array_equal(y, T[:, 3])
    _write_csv(tmp_path / "pq" / "extra.csv", T[:5])
    with pytest.raises(ValueError, match="read_parquet reads a directory of Parquet files"):
        stream.read_parquet(tmp_path / "pq")


# ------------------------------------------------------------------ projection
def test_projection_features_target_drop(tmp_path):
    T = _table(300, d=4)
    names = ["a", "b", "c", "d", "y"]
    text = ["city"] + [f"c{i}" for i in range(300)]
    lines = _csv_text(T, names).splitlines()
    path = tmp_path / "t.csv"
    path.write_text("\n".join(f"{line},{t}" for line, t in zip(lines, text, strict=True)) + "\n")
    # the text column is never converted when it is not selected
    reader = stream.read_csv(path, target="y", features=["d", "a"])
    X, y, _ = _stack(reader)
    np.testing.assert_array_equal(X, T[:, [3, 0]])
    np.testing.assert_array_equal(y, T[:, 4])
    assert reader.feature_names == ["d", "a"] and reader.target_name == "y"
    X, y, _ = _stack(stream.read_csv(path, target="b", drop=["city", "y"]))
    np.testing.assert_array_equal(X, T[:, [0, 2, 3]])
    np.testing.assert_array_equal(y, T[:, 1])
    X, y, _ = _stack(stream.read_csv(path, target=None, features=[0, 1]))
    np.testing.assert_array_equal(X, T[:, :2])
    assert y is None
    with pytest.raises(ValueError, match="column 'city' is not numeric"):
        list(stream.read_csv(path))  # the last column is the target: text
    with pytest.raises(ValueError, match="not both"):
        stream.read_csv(path, features=["a"], drop=["b"])
    with pytest.raises(ValueError, match="'y' is the target; it cannot also be a feature"):
        stream.read_csv(path, target="y", features=["a", "y"])
    with pytest.raises(ValueError, match=r"no column named 'e'; columns are \['a'"):
        stream.read_csv(path, features=["a", "e"])
    with pytest.raises(ValueError, match="drop= names the target"):
        stream.read_csv(path, target="y", drop=["y"])
    with pytest.raises(TypeError, match="features must hold column names or indices"):
        stream.read_csv(path, features=[1.5])
    # the Python engine selects the same columns
    X, y, _ = _stack(stream.read_csv(path, target="y", features=["d", "a"], engine="python"))
    np.testing.assert_array_equal(X, T[:, [3, 0]])
    # Parquet: a string column is fine unless selected
    _write_parquet(tmp_path / "p.parquet", T, names, city=np.array(text[1:]))
    X, _, _ = _stack(stream.read_parquet(tmp_path / "p.parquet", target="y", drop=["city"]))
    np.testing.assert_array_equal(X, T[:, :4])
    with pytest.raises(ValueError, match="column 'city' is not numeric"):
        stream.read_parquet(tmp_path / "p.parquet", target="y")
    # .npy: by index
    np.save(tmp_path / "t.npy", T)
    X, y, _ = _stack(stream.read_npy(tmp_path / "t.npy", target_column=1, features=[4, 0]))
    np.testing.assert_array_equal(X, T[:, [4, 0]])
    np.testing.assert_array_equal(y, T[:, 1])
    with pytest.raises(ValueError, match="no names"):
        stream.read_npy(tmp_path / "t.npy", features=["a"])


def test_target_none_is_for_prediction_not_training(tmp_path):
    path = _write_csv(tmp_path / "t.csv", _table(50))
    reader = stream.read_path(path, target=None)
    assert reader.target_column is None and reader.feature_columns == ["a", "b", "c", "y"]
    with pytest.raises(TypeError, match="chunk 0 has no target"):
        stream.fit_stream(SGDRegressor(), reader, progress=False)


# ------------------------------------------------------------------ compressed CSV
@pytest.mark.parametrize("suffix", [".gz", ".gzip", ".bz2", ".zst", ".zstd"])
def test_compressed_csv(tmp_path, suffix):
    T = _table(2_000)
    text = _csv_text(T, "abcy").encode()
    path = tmp_path / f"t.csv{suffix}"
    if suffix in (".gz", ".gzip"):
        path.write_bytes(gzip.compress(text))
    elif suffix == ".bz2":
        path.write_bytes(bz2.compress(text))
    else:
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(text)
    for reader in (stream.read_path(path, chunk_rows=500), stream.read_csv(path, engine="python")):
        X, y, _ = _stack(reader)
        np.testing.assert_array_equal(X, T[:, :3])
        np.testing.assert_array_equal(y, T[:, 3])
        assert reader.feature_names == ["a", "b", "c"]
    # hive columns beside a zstd file (read outside pyarrow.dataset's own decompression)
    (tmp_path / "h" / "k=7").mkdir(parents=True)
    (tmp_path / "h" / "k=7" / path.name).write_bytes(path.read_bytes())
    X, _, _ = _stack(stream.read_path(tmp_path / "h", target="y"))
    np.testing.assert_array_equal(X, np.column_stack([T[:, :3], np.full(2_000, 7.0)]))


# ------------------------------------------------------------------ feature names
def test_feature_names_are_carried_into_the_model_and_its_checkpoints(tmp_path):
    T = _table(500)
    path = _write_csv(tmp_path / "t.csv", T, ("x1", "x2", "x3", "price"))
    ck = tmp_path / "ck.npz"
    model = SGDRegressor(shuffle=False)
    # filterwarnings=error: no "X does not have valid feature names" along the stream
    stream.fit_stream(
        model,
        stream.read_path(path, chunk_rows=100),
        progress=False,
        checkpoint=ck,
        checkpoint_every=2,
    )
    assert list(model.feature_names_in_) == ["x1", "x2", "x3"]
    expected = SGDRegressor(shuffle=False).partial_fit(T[:, :3], T[:, 3])
    np.testing.assert_array_equal(model.coef_, expected.coef_)
    loaded = fastgd.load(ck)
    assert list(loaded.feature_names_in_) == ["x1", "x2", "x3"]
    assert checkpoint.read(ck)["target_name"] == "price"
    # continuing the stream on the loaded model: its names are checked, not warned about
    stream.fit_stream(loaded, stream.read_path(path, chunk_rows=100), progress=False)
    assert list(loaded.feature_names_in_) == ["x1", "x2", "x3"]
    # other columns: refused before anything is learned
    other = _write_csv(tmp_path / "o.csv", T, ("x1", "x3", "x2", "price"))
    before = loaded.coef_.copy()
    with pytest.raises(ValueError, match=r"not the ones SGDRegressor was trained on"):
        stream.fit_stream(loaded, stream.read_path(other), progress=False)
    np.testing.assert_array_equal(loaded.coef_, before)
    assert list(loaded.feature_names_in_) == ["x1", "x2", "x3"]
    # columns without names: no names
    (tmp_path / "n.csv").write_text("\n".join(_csv_text(T, "abcy").splitlines()[1:]) + "\n")
    plain = SGDRegressor()
    stream.fit_stream(plain, stream.read_path(tmp_path / "n.csv"), progress=False)
    assert not hasattr(plain, "feature_names_in_")


def test_classifier_with_string_labels_checkpoints_in_a_stream(tmp_path):
    """Object labels used to make the first checkpoint fail, reported as an interrupt."""
    rng = np.random.default_rng(1)
    chunks = []
    for _ in range(6):
        X = rng.normal(size=(50, 3))
        chunks.append((X, np.where(X[:, 0] > 0, "yes", "no").astype(object)))
    model = SGDClassifier(random_state=0)
    ck = tmp_path / "ck.npz"
    report = stream.fit_stream(
        model,
        chunks,
        classes=np.array(["no", "yes"], dtype=object),
        progress=False,
        checkpoint=ck,
        checkpoint_every=2,
    )
    assert report.checkpoints == 4 and report.chunks == 6
    loaded = fastgd.load(ck)
    assert loaded.classes_.dtype == object and list(loaded.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(loaded.predict(chunks[0][0]), model.predict(chunks[0][0]))


def test_a_failed_checkpoint_is_not_reported_as_an_interrupt(tmp_path, capsys):
    X, y = _table(40)[:, :3], _table(40)[:, 3]
    model = SGDRegressor()

    def save(path):
        raise ValueError("the disk says no")

    model.save = save
    with pytest.raises(ValueError) as info:
        stream.fit_stream(
            model,
            [(X[:20], y[:20]), (X[20:], y[20:])],
            progress=False,
            checkpoint=tmp_path / "c.npz",
            checkpoint_every=1,
        )
    message = str(info.value)
    assert "could not write the checkpoint at row 20 of the stream (the disk says no)" in message
    assert info.value.stream_report.chunks == 1
    assert capsys.readouterr().err == ""  # no second attempt, no "on interrupt"
    assert model.t_ == 21.0  # the first chunk is learned, nothing else


# ------------------------------------------------------------------ errors
def test_reader_errors_count_rows_from_the_start_of_the_stream(tmp_path):
    T = _table(200)
    root = tmp_path / "d"
    _write_csv(root / "0.csv", T[:100])
    text = _csv_text(T[100:], "abcy").splitlines()
    text[6] = text[6].replace(text[6].split(",")[1], "oops", 1)  # data row 5 of 1.csv
    (root / "1.csv").write_text("\n".join(text) + "\n")
    with pytest.raises(ValueError) as info:
        list(stream.read_path(root, chunk_rows=32))
    message = str(info.value)
    assert "1.csv: data row 5 of the file (row 105 of the stream" in message
    assert "column 'b' is not numeric (invalid value 'oops')" in message
    with pytest.raises(ValueError, match=r"data row 5 of the file \(row 5 of the stream"):
        list(stream.read_csv(root / "1.csv", engine="python"))
    (root / "1.csv").write_text("a,b,c,y\n1,2,3,4\n1,2,3\n")
    with pytest.raises(ValueError, match=r"1\.csv: data row 1 of the file \(row 101 .*Expected 4"):
        list(stream.read_path(root))
    # a later file with other columns is refused, not read as NaN or shifted
    (root / "1.csv").write_text("a,b,y\n1,2,3\n")
    with pytest.raises(ValueError, match=r"1\.csv: its header \['a', 'b', 'y'\] differs"):
        list(stream.read_path(root))
    pq_root = tmp_path / "pq"
    _write_parquet(pq_root / "0.parquet", T[:10])
    _write_parquet(pq_root / "1.parquet", T[10:20, [0, 1, 3]], ("a", "b", "y"))
    with pytest.raises(ValueError, match=r"1\.parquet: has no column 'c'"):
        list(stream.read_path(pq_root))


def test_files_of_different_widths_are_refused(tmp_path):
    root = tmp_path / "d"
    np.save(root.mkdir() or root / "0.npy", _table(10, d=3))
    _write_csv(root / "1.csv", _table(10, d=2), ("a", "b", "y"))
    with pytest.raises(ValueError, match="different numbers of columns"):
        stream.read_path(root)
