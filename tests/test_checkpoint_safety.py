"""Safety of checkpoints (``estimator.save`` / ``fastgd.load``): the file is untrusted input.

A checkpoint's arrays go straight into the models' arenas and, through ``partial_fit``
and ``flush``, into numba kernels that check no bounds; its JSON names parameters and
an RNG state. So ``fastgd.load`` must refuse anything that does not fit together, with a
``ValueError`` naming the problem, before any of it is used (issue 17, items 1-6, 10,
13 and 14).

Tests
-----
test_tampered_checkpoint_is_refused
    One tampered file per case, its digests recomputed (so only the consistency checks
    can catch it): the waiting rows' X, Y and sample weights of disagreeing lengths,
    widths or dtypes, the CSR arrays of waiting rows invalid (indptr decreasing, past the
    end, not from 0, a column index out of range, a shape that does not fit), model
    arrays of the wrong length, NaN / inf parameters, optimizer state or counters, a
    step counter that is not a positive integer, classes that do not fit the models,
    metadata fields of the wrong type or range, constructor parameters of the wrong
    type (or unknown), an RNG state that is not PCG64's, members missing, extra or of
    object dtype. Each must raise ``ValueError``.
test_metadata_is_covered_by_the_digest
    A parameter changed in the JSON (array digest intact) is refused as corrupted.
test_version_1_file_still_loads
    A version-1 file (array digest only) of today's estimator loads.
test_non_checkpoint_files_give_a_clear_error
    A JSON file, a plain ``.npy``, a text file, an ``.npz`` with an object member: a
    ``ValueError`` saying it is not a fastgd checkpoint, never suggesting loading it
    "unsafely" or with ``allow_pickle``.
test_fifo_directory_and_missing_path
    A FIFO at the path is refused at once (it would block an ``open``), a directory and
    a missing path give ``ValueError`` (not ``IsADirectoryError``).
test_deflate_bomb_is_refused_before_inflating
    A 1 MiB file holding a 1 GiB deflated member (child process): refused, with the
    peak RSS up by less than 8 MiB.
test_member_declaring_8_tib_is_a_value_error
    An ``.npy`` header declaring 8 TiB, a zip entry declaring more bytes than the file
    has, and entries overlapping each other: ``ValueError``, not ``MemoryError``.
test_save_does_not_follow_a_planted_tmp_symlink, test_saved_file_mode_follows_umask
    ``save`` writes a fresh temporary file (never through ``<path>.tmp``), leaves none
    behind, and gives the checkpoint the mode ``open(path, "w")`` would.
test_save_while_another_thread_trains_is_a_consistent_snapshot
    Saves taken while another thread runs ``partial_fit`` (one-vs-rest, rows waiting in
    the mini-batch buffer) each equal the state after some whole call.
test_two_threads_saving_to_one_path
    Both succeed; one valid file is left, and no temporary file.
test_classifier_with_buffered_rows_flushes_after_load
    The README's load-then-flush step for a classifier (``_cw_pairs``), with class
    weights, gives the same model as flushing the saved estimator.
test_optimizer_changed_before_save_is_refused_after_load
    As on the saved estimator, ``partial_fit`` refuses to continue another optimizer's
    state after ``set_params(optimizer=...)``.
test_cli_resume_with_a_bad_checkpoint
    ``fastgd fit --resume BAD`` prints one error line and exits 2, no traceback.
test_checkpoint_fuzz, test_checkpoint_fuzz_boundscheck
    A hypothesis fuzz (fixed seed, one child interpreter) of checkpoints of five kinds
    (dense and CSR waiting rows, one-vs-rest, string labels, a version-1 file): random
    byte flips, truncations, metadata fields replaced or removed with the digests
    recomputed, arrays dropped, added, cut, extended, reshaped, retyped or given NaN,
    inf or out-of-range values (digests recomputed). Every file is loaded; a loaded
    one is then used for ``partial_fit``, ``flush`` and ``predict``. Only ``ValueError``
    may come out; the child's exit status catches a crash. The boundscheck variant runs
    in an interpreter that compiled the kernels with ``NUMBA_BOUNDSCHECK=1`` (private
    cache directory, as ``test_boundscheck.py``), where an out-of-bounds access raises
    ``IndexError`` and fails it, after showing that those checks are live.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from _child import run_child

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
D = 3  # columns of the small checkpoints (one set of compiled kernels for all)

# ---------------------------------------------------------------------------- helpers


def _xy(n=40, d=D, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y = X @ np.linspace(1.0, -1.0, d) + 0.3
    return X, y, np.digitize(y, [-0.5, 0.5])


def _models():
    """name -> (fitted estimator with rows waiting where it can, X, y, partial_fit kwargs)."""
    import scipy.sparse as sp

    from fastgd import SGDClassifier, SGDRegressor

    X, y, labels = _xy()
    out = {}
    reg = SGDRegressor(batch_size=4, optimizer="adam", learning_rate="constant", random_state=0)
    out["reg"] = (reg.partial_fit(X[:22], y[:22]), X, y, {})
    clf = SGDClassifier(batch_size=4, class_weight={2: 2.0}, random_state=0)
    out["clf"] = (clf.partial_fit(X[:22], labels[:22], classes=[0, 1, 2]), X, labels, {})
    csr = SGDRegressor(batch_size=4, random_state=0)
    out["csr"] = (csr.partial_fit(sp.csr_matrix(X[:22]), y[:22]), X, y, {})
    words = np.where(labels > 0, "yes", "no")
    binary = SGDClassifier(loss="log_loss", penalty="l1", average=True, random_state=0)
    out["binary"] = (binary.partial_fit(X[:22], words[:22], classes=["no", "yes"]), X, words, {})
    return out


def _members(path):
    """The JSON and the arrays of a checkpoint, read with NumPy (trusted test files)."""
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    return json.loads(str(arrays.pop("__meta__"))), arrays


def _write(path, meta, arrays, *, seal=True):
    """Write a (tampered) checkpoint; ``seal``: recompute both digests first."""
    from fastgd import checkpoint

    if seal:
        checkpoint._seal(meta, arrays)
    np.savez(path, __meta__=np.array(json.dumps(meta)), **arrays)
    return path


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """name -> path of a valid checkpoint of each of :func:`_models`."""
    folder = tmp_path_factory.mktemp("checkpoints")
    paths = {}
    for name, (model, *_rest) in _models().items():
        paths[name] = folder / f"{name}.npz"
        model.save(paths[name])
    return paths


# ------------------------------------------------------------- tampered, digest recomputed


def _set(key, value):
    def change(meta, arrays):
        arrays[key] = value(arrays[key]) if callable(value) else value

    return change


def _meta(path, value):
    def change(meta, arrays):
        node = meta
        for key in path[:-1]:
            node = node[key]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return change


_DELETE = object()


def _nan_at(index):
    def put(a):
        a = a.copy()
        a[index] = np.nan
        return a

    return put


def _put(index, value):
    def put(a):
        a = a.copy()
        a[index] = value
        return a

    return put


TAMPERED = {
    # the waiting rows (item 1)
    "pending_sw_short": ("reg", _set("pending_sw", lambda a: a[:-1])),
    "pending_sw_long": ("reg", _set("pending_sw", lambda a: np.r_[a, a, a])),
    "pending_Y_long": ("reg", _set("pending_Y", lambda a: np.vstack([a] * 50))),
    "pending_Y_width": ("clf", _set("pending_Y", lambda a: a[:, :2])),
    "pending_Y_1d": ("reg", _set("pending_Y", lambda a: a.ravel())),
    "pending_X_columns": ("reg", _set("pending_X", lambda a: a[:, :-1])),
    "pending_X_rows": ("reg", _set("pending_X", lambda a: a[:1])),
    "pending_X_int": ("reg", _set("pending_X", lambda a: a.astype(np.int64))),
    "pending_X_1d": ("reg", _set("pending_X", lambda a: a.ravel())),
    "pending_X_nan": ("reg", _set("pending_X", _nan_at((0, 0)))),
    "pending_sw_negative": ("reg", _set("pending_sw", _put(0, -1.0))),
    "pending_Y_not_a_class": ("clf", _set("pending_Y", _put((0, 0), 0.5))),
    "pending_Y_two_classes": ("clf", _set("pending_Y", lambda a: np.ones_like(a))),
    "pending_missing_member": ("reg", lambda m, a: a.pop("pending_sw")),
    "csr_indptr_decreasing": ("csr", _set("pending_X_indptr", lambda a: a[::-1].copy())),
    "csr_indptr_past_end": ("csr", _set("pending_X_indptr", _put(-1, 10**6))),
    "csr_indptr_not_from_0": ("csr", _set("pending_X_indptr", _put(0, 1))),
    "csr_index_out_of_range": ("csr", _set("pending_X_indices", _put(0, 10**6))),
    "csr_index_negative": ("csr", _set("pending_X_indices", _put(0, -1))),
    "csr_index_2_32": (
        "csr",
        _set("pending_X_indices", lambda a: np.r_[np.int64(2**32), a[1:].astype(np.int64)]),
    ),
    "csr_shape_columns": ("csr", _set("pending_X_shape", np.array([2, 10**6]))),
    "csr_shape_rows": ("csr", _set("pending_X_shape", np.array([1000, D]))),
    "csr_shape_3d": ("csr", _set("pending_X_shape", np.array([2, D, 1]))),
    "csr_data_short": ("csr", _set("pending_X_data", lambda a: a[:-1])),
    "csr_data_int": ("csr", _set("pending_X_data", lambda a: a.astype(np.int64))),
    "csr_indices_float": ("csr", _set("pending_X_indices", lambda a: a.astype(np.float64))),
    "csr_data_nan": ("csr", _set("pending_X_data", _nan_at(0))),
    # the models' arrays (items 1 and 10)
    "params_short": ("reg", _set("lin0_params", lambda a: a[:-1])),
    "params_long": ("reg", _set("lin0_params", lambda a: np.r_[a, 0.0])),
    "params_2d": ("reg", _set("lin0_params", lambda a: a[None])),
    "params_nan": ("reg", _set("lin0_params", _nan_at(0))),
    "params_inf": ("clf", _set("lin2_params", _put(1, np.inf))),
    "state_inf": ("reg", _set("lin0_state", _put((1, 0), np.inf))),
    "state_columns": ("reg", _set("lin0_state", lambda a: a[:, :-1])),
    "state_rows": ("reg", _set("lin0_state", lambda a: np.vstack([a, a]))),
    "state_1d": ("reg", _set("lin0_state", lambda a: a.ravel())),
    "counters_short": ("reg", _set("lin0_counters", lambda a: a[:2])),
    "counters_long": ("reg", _set("lin0_counters", lambda a: np.r_[a, a])),
    "counters_nan": ("reg", _set("lin0_counters", _nan_at(2))),
    "t_zero": ("reg", _set("lin0_counters", _put(0, 0.0))),
    "t_fraction": ("reg", _set("lin0_counters", _put(0, 2.5))),
    "t_huge": ("reg", _set("lin0_counters", _put(0, 1e300))),
    "u_negative": ("binary", _set("lin0_counters", _put(1, -1.0))),
    "params_complex": ("reg", _set("lin0_params", lambda a: a.astype(complex))),
    "curve_2d": ("reg", _set("lin0_curve", lambda a: a[None])),
    "curve_strings": ("reg", _set("lin0_curve", np.array(["a"]))),
    # classes (item 1)
    "classes_short": ("clf", _set("classes", lambda a: a[:2])),
    "classes_long": ("clf", _set("classes", lambda a: np.r_[a, 7])),
    "classes_unsorted": ("clf", _set("classes", lambda a: a[::-1].copy())),
    "classes_repeated": ("binary", _set("classes", np.array(["no", "no"]))),
    "classes_nan": ("clf", _set("classes", np.array([0.0, 1.0, np.nan]))),
    "classes_2d": ("clf", _set("classes", lambda a: a[None])),
    "classes_missing": ("clf", lambda m, a: a.pop("classes")),
    "classes_on_a_regressor": ("reg", _set("classes", np.array([0, 1]))),
    "feature_names_wrong_length": ("reg", _set("feature_names_in", np.array(["a", "b"]))),
    "unexpected_member": ("reg", _set("lin1_params", np.zeros(D + 1))),
    "object_member": ("reg", _set("extra", np.array([None, 1], dtype=object))),
    "model_missing": ("clf", lambda m, a: a.pop("lin1_state")),
    # metadata (items 1, 2 and 5)
    "n_features_in_larger": ("reg", _meta(["n_features_in"], D + 1)),
    "n_features_in_zero": ("reg", _meta(["n_features_in"], 0)),
    "n_features_in_string": ("reg", _meta(["n_features_in"], "3")),
    "n_models_huge": ("reg", _meta(["n_models"], 10**9)),
    "n_models_two": ("reg", _meta(["n_models"], 2)),
    "n_models_zero": ("reg", _meta(["n_models"], 0)),
    "n_models_float": ("reg", _meta(["n_models"], 1.0)),
    "n_iter_negative": ("reg", _meta(["n_iter"], -1)),
    "n_iter_bool": ("reg", _meta(["n_iter"], True)),
    "n_iter_huge": ("reg", _meta(["n_iter"], 2**80)),
    "n_iter_missing": ("reg", _meta(["n_iter"], _DELETE)),
    "estimator_unknown": ("reg", _meta(["estimator"], "os.system")),
    "estimator_list": ("reg", _meta(["estimator"], ["SGDRegressor"])),
    "estimator_swapped": ("reg", _meta(["estimator"], "SGDClassifier")),
    "optimizer_unknown": ("reg", _meta(["optimizer"], "rmsprop2")),
    "optimizer_list": ("reg", _meta(["optimizer"], [1])),
    "version_zero": ("reg", _meta(["version"], 0)),
    "version_string": ("reg", _meta(["version"], "2")),
    "unknown_meta_key": ("reg", _meta(["extra"], 1)),
    "params_not_a_dict": ("reg", _meta(["params"], [1, 2])),
    "param_unknown": ("reg", _meta(["params", "n_estimators"], 10)),
    "param_batch_size_string": ("reg", _meta(["params", "batch_size"], "4")),
    "param_batch_size_huge": ("reg", _meta(["params", "batch_size"], 2**70)),
    "param_max_iter_float": ("reg", _meta(["params", "max_iter"], 1.5)),
    "param_eta0_nan": ("reg", _meta(["params", "eta0"], float("nan"))),
    "param_loss_of_a_classifier": ("reg", _meta(["params", "loss"], "hinge")),
    "param_loss_list": ("reg", _meta(["params", "loss"], ["squared_error"])),
    "param_penalty_unknown": ("reg", _meta(["params", "penalty"], "l3")),
    "param_shuffle_int": ("reg", _meta(["params", "shuffle"], 2)),
    "param_random_state_list": ("reg", _meta(["params", "random_state"], [1])),
    "param_random_state_huge": ("reg", _meta(["params", "random_state"], 2**40)),
    "param_plain_dict": ("reg", _meta(["params", "alpha"], {"a": 1})),
    "param_n_jobs_string": ("clf", _meta(["params", "n_jobs"], "all")),
    "class_weight_unknown_label": (
        "clf",
        _meta(["params", "class_weight"], {"__dict__": [[9, 1.0]]}),
    ),
    "class_weight_negative": ("clf", _meta(["params", "class_weight"], {"__dict__": [[1, -1.0]]})),
    "class_weight_bad_entry": ("clf", _meta(["params", "class_weight"], {"__dict__": [[[1], 2]]})),
    "class_weight_list": ("clf", _meta(["params", "class_weight"], [1, 2])),
    # the RNG state (item 2)
    "rng_bit_generator_test": ("reg", _meta(["rng", "bit_generator"], "test")),
    "rng_bit_generator_seed": ("reg", _meta(["rng", "bit_generator"], "seed")),
    "rng_state_negative": ("reg", _meta(["rng", "state", "state"], -1)),
    "rng_state_huge": ("reg", _meta(["rng", "state", "inc"], 2**200)),
    "rng_state_string": ("reg", _meta(["rng", "state", "state"], "1")),
    "rng_has_uint32": ("reg", _meta(["rng", "has_uint32"], 5)),
    "rng_uinteger_float": ("reg", _meta(["rng", "uinteger"], 1.5)),
    "rng_missing_key": ("reg", _meta(["rng", "uinteger"], _DELETE)),
    "rng_extra_key": ("reg", _meta(["rng", "extra"], 1)),
    "rng_not_a_dict": ("reg", _meta(["rng"], "PCG64")),
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_tampered_checkpoint_is_refused(saved, tmp_path, case):
    import fastgd

    template, change = TAMPERED[case]
    meta, arrays = _members(saved[template])
    change(meta, arrays)
    path = _write(tmp_path / "bad.npz", meta, arrays)
    with pytest.raises(ValueError) as info:
        fastgd.load(path)
    assert str(path) in str(info.value)


def test_metadata_is_covered_by_the_digest(saved, tmp_path):
    import fastgd
    from fastgd import checkpoint

    meta, arrays = _members(saved["reg"])
    # a file that needs no version-3 field is written as version 2 (earlier releases read it)
    assert meta["version"] == 2 and checkpoint.VERSION == 3
    assert meta["sha256"] == checkpoint._digest(arrays)
    for key, value in (("eta0", 0.5), ("batch_size", 5), ("shuffle", False)):
        changed = json.loads(json.dumps(meta))
        changed["params"][key] = value  # the array digest still matches
        path = _write(tmp_path / "m.npz", changed, arrays, seal=False)
        with pytest.raises(ValueError, match="metadata differs"):
            fastgd.load(path)
    # passing a version-2 file off as version 1 does not skip the metadata digest
    changed = dict(meta, version=1)
    path = _write(tmp_path / "m.npz", changed, arrays, seal=False)
    with pytest.raises(ValueError, match="metadata"):
        fastgd.load(path)


def test_version_1_file_still_loads(saved, tmp_path):
    """A file of format version 1 (array digest only, no ``meta_sha256``) loads as before."""
    import fastgd
    from fastgd import checkpoint

    meta, arrays = _members(saved["clf"])
    del meta["meta_sha256"]
    meta["version"] = 1
    meta["sha256"] = checkpoint._digest(arrays)
    path = _write(tmp_path / "v1.npz", meta, arrays, seal=False)
    model = fastgd.load(path)
    reference = fastgd.load(saved["clf"])
    np.testing.assert_array_equal(model.coef_, reference.coef_)
    assert model.n_pending_ == reference.n_pending_ == 2
    for name in ("regressor_sgd", "regressor_adam_batch", "classifier_l1_3class"):
        assert fastgd.load(DATA / f"checkpoint_v1_{name}.npz").n_features_in_ == 4


# ------------------------------------------- object labels, target name (format 3)


def _object_label_cases():
    import pandas as pd

    strings = np.array(["down", "flat", "up"], dtype=object)
    return {
        "pandas_object_strings": (pd.Series(strings), str),
        "pandas_categorical": (pd.Series(pd.Categorical(strings)), str),
        "pandas_string_dtype": (pd.Series(strings, dtype="string"), str),
        "object_ints": (np.array([3, 7, 11], dtype=object), int),
        "object_bools": (np.array([False, True], dtype=object), bool),
        "object_floats": (np.array([0.5, 1.5, 2.5], dtype=object), float),
    }


@pytest.mark.parametrize("case", sorted(_object_label_cases()))
def test_object_classes_are_saved_without_pickle(tmp_path, case):
    """Object ``classes_`` (pandas strings, categoricals, Python numbers): save and load."""
    import fastgd
    from fastgd import SGDClassifier

    values, kind = _object_label_cases()[case]
    X, _, labels = _xy(n=60)
    pool = np.asarray(values, dtype=object)
    classes = np.asarray(values, dtype=object)
    if case.startswith("pandas"):
        model = SGDClassifier(random_state=0, max_iter=3, tol=None)
        model.fit(X, values.iloc[labels % len(pool)])
    else:  # scikit-learn's label checks refuse object numbers as y: set them as classes_
        model = SGDClassifier(random_state=0).partial_fit(
            X, labels % len(pool), classes=np.arange(len(pool))
        )
        model.classes_ = classes
    assert model.classes_.dtype == object
    model.save(tmp_path / "m.npz")
    meta, arrays = _members(tmp_path / "m.npz")  # np.load(allow_pickle=False) reads it all
    assert meta["version"] == 3 and meta["classes_dtype"] == "object"
    assert arrays["classes"].dtype.kind in "Ubif"
    loaded = fastgd.load(tmp_path / "m.npz")
    assert loaded.classes_.dtype == object
    assert [type(c) for c in loaded.classes_] == [kind] * len(model.classes_)
    assert list(loaded.classes_) == list(model.classes_)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.predict(X).dtype == object


@pytest.mark.parametrize(
    "classes, message",
    [
        (np.array([1, "a"], dtype=object), "mixes labels of types int, str"),
        (np.array([1, 2.5], dtype=object), "mixes labels of types float, int"),
        (np.array([True, 2], dtype=object), "mixes labels of types bool, int"),
        (np.array([None, "a"], dtype=object), "holds None of type NoneType"),
        (np.array([(1, 2), (3, 4), None], dtype=object)[:2], "of type tuple"),
        (np.array([2**70, 1], dtype=object), "beyond int64"),
        (np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"), "dtype datetime64"),
        (np.array([b"a", b"b"]), "dtype |S1"),
    ],
    ids=["int_str", "int_float", "bool_int", "none", "tuple", "huge_int", "datetime", "bytes"],
)
def test_labels_a_checkpoint_cannot_hold_give_a_clear_error(tmp_path, classes, message):
    from fastgd import SGDClassifier

    X, _, labels = _xy()
    model = SGDClassifier(random_state=0).partial_fit(X, labels % 2, classes=[0, 1])
    model.classes_ = classes
    before = model.coef_.copy()
    with pytest.raises(ValueError, match=message) as info:
        model.save(tmp_path / "m.npz")
    assert "no pickle" in str(info.value) or "never pickles" in str(info.value)
    assert "y.astype(str)" in str(info.value)
    assert not list(tmp_path.iterdir())  # nothing written, no temporary file left
    np.testing.assert_array_equal(model.coef_, before)


def test_version_3_fields_are_checked(saved, tmp_path):
    import fastgd
    from fastgd import checkpoint

    model = fastgd.load(saved["reg"])
    state = model.training_state()
    checkpoint.write(tmp_path / "named.npz", {**state, "target_name": "price"})
    meta, arrays = _members(tmp_path / "named.npz")
    assert meta["version"] == 3 and meta["target_name"] == "price"
    assert checkpoint.read(tmp_path / "named.npz")["target_name"] == "price"
    assert checkpoint.read(saved["reg"])["target_name"] is None
    np.testing.assert_array_equal(fastgd.load(tmp_path / "named.npz").coef_, model.coef_)
    with pytest.raises(TypeError, match="target_name must be a string"):
        checkpoint.write(tmp_path / "bad.npz", {**state, "target_name": 3})
    cases = {
        "as_version_2": dict(meta, version=2),  # version 2 has no target_name
        "target_not_a_string": dict(meta, target_name=["price"]),
        "classes_dtype_unknown": dict(meta, classes_dtype="pickle"),
        "object_classes_without_classes": dict(meta, classes_dtype="object"),
    }
    for name, changed in cases.items():
        path = _write(tmp_path / f"{name}.npz", changed, dict(arrays))
        with pytest.raises(ValueError, match=str(path)):
            fastgd.load(path)
    meta4 = dict(meta, version=4)
    with pytest.raises(ValueError, match="version 4.*Upgrade fastgd"):
        fastgd.load(_write(tmp_path / "v4.npz", meta4, dict(arrays)))


# ----------------------------------------------------------------- not checkpoints (14)


def test_non_checkpoint_files_give_a_clear_error(tmp_path):
    import fastgd

    (tmp_path / "model.json").write_text(json.dumps({"coef": [1.0, 2.0]}))
    np.save(tmp_path / "plain.npy", np.arange(3.0))
    (tmp_path / "text.npz").write_text("not a zip archive\n")
    np.savez(tmp_path / "objects.npz", a=np.array([None, 1], dtype=object))
    np.savez(tmp_path / "numbers.npz", a=np.arange(3))
    (tmp_path / "empty.npz").write_bytes(b"")
    for name in ("model.json", "plain.npy", "text.npz", "objects.npz", "numbers.npz", "empty.npz"):
        with pytest.raises(ValueError, match="not a fastgd checkpoint") as info:
            fastgd.load(tmp_path / name)
        message = str(info.value)
        assert str(tmp_path / name) in message
        assert "unsafe" not in message and "allow_pickle" not in message and "pickle" not in message


def test_fifo_directory_and_missing_path(tmp_path):
    import fastgd

    fifo = tmp_path / "fifo.npz"
    os.mkfifo(fifo)
    outcome = {}

    def load():
        try:
            fastgd.load(fifo)
        except Exception as exc:  # noqa: BLE001 - the test reports whatever it is
            outcome["exc"] = exc

    thread = threading.Thread(target=load, daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():  # unblock the open (a writer) so the thread can end
        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.close(fd)
        pytest.fail("fastgd.load blocked on a FIFO")
    assert isinstance(outcome.get("exc"), ValueError), outcome
    assert "not a regular file" in str(outcome["exc"])
    with pytest.raises(ValueError, match="directory"):
        fastgd.load(tmp_path)
    with pytest.raises(ValueError, match="no such file"):
        fastgd.load(tmp_path / "missing.npz")


# ------------------------------------------------------------------ denial of service (4)


def _npy_header(shape, dtype="<f8") -> bytes:
    """An ``.npy`` version 1.0 header for ``shape`` x ``dtype`` (no data)."""
    import io

    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buf, {"descr": dtype, "fortran_order": False, "shape": tuple(shape)}
    )
    return buf.getvalue()  # the magic string included


def _with_member(src, dst, name, write):
    """Copy checkpoint ``src`` to ``dst`` with member ``name`` written by ``write(zf, info)``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", allowZip64=True) as zout:
        for info in zin.infolist():
            if info.filename == f"{name}.npy":
                write(zout, zipfile.ZipInfo(info.filename, info.date_time))
            else:
                zout.writestr(info, zin.read(info))
    return dst


def _deflated_zeros(header: bytes, n_mib: int) -> bytes:
    """A raw deflate stream of ``header`` then ``n_mib`` MiB of zeros, made in milliseconds:
    each MiB is the same block (a full flush resets the compressor's window between them)."""
    import zlib

    def block(data):
        c = zlib.compressobj(9, zlib.DEFLATED, -15)
        return c.compress(data) + c.flush(zlib.Z_FULL_FLUSH)

    return block(header) + block(bytes(1 << 20)) * n_mib + b"\x03\x00"  # empty final block


def _zip(entries) -> bytes:
    """A zip archive of ``(name, method, crc, size, payload)`` entries, written by hand."""
    import struct

    out, central = bytearray(), bytearray()
    for name, method, crc, size, payload in entries:
        offset, raw = len(out), name.encode()
        out += struct.pack(
            "<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0, crc, len(payload), size, len(raw), 0
        )
        out += raw + payload
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            method,
            0,
            0,
            crc,
            len(payload),
            size,
            len(raw),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += raw
    n = len(entries)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, len(central), len(out), 0)
    return bytes(out + central + end)


def _bomb(src, dst, member="lin0_curve", n_mib=1024):
    """Checkpoint ``src`` with ``member`` replaced by ``n_mib`` MiB of deflated zeros."""
    import zlib

    entries = []
    with zipfile.ZipFile(src) as zf:
        for info in zf.infolist():
            if info.filename == f"{member}.npy":
                header = _npy_header(((n_mib << 20) // 8,))
                payload = _deflated_zeros(header, n_mib)
                entries.append((info.filename, 8, 0, len(header) + (n_mib << 20), payload))
            else:
                data = zf.read(info)
                entries.append((info.filename, 0, zlib.crc32(data), len(data), data))
    Path(dst).write_bytes(_zip(entries))
    return dst


def _bomb_main(src: str, dst: str) -> int:
    """Child: a 1 GiB deflated member in a ~1 MiB checkpoint is refused without inflating."""
    import resource

    import fastgd

    _bomb(src, dst)
    size = os.path.getsize(dst)
    assert size < 2 << 20, size
    fastgd.load(src)  # imports and first allocations done before the measurement
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        fastgd.load(dst)
    except ValueError as exc:
        print("refused:", exc)
        assert "compressed" in str(exc), exc
    else:
        print("the bomb loaded")
        return 1
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    print(f"file {size} bytes, peak RSS grew by {grown_kib} KiB")
    return 0 if grown_kib < 8 * 1024 else 1


def test_deflate_bomb_is_refused_before_inflating(saved, tmp_path):
    out, report = _run_child("_bomb_main", str(saved["reg"]), str(tmp_path / "bomb.npz"))
    assert out.returncode == 0, report


def test_member_declaring_8_tib_is_a_value_error(saved, tmp_path):
    import fastgd

    def header_only(zf, info):
        zf.writestr(info, _npy_header((1 << 40,)))  # 8 TiB of float64, no data

    path = _with_member(saved["reg"], tmp_path / "huge.npz", "lin0_curve", header_only)
    with pytest.raises(ValueError, match="8796093022208 bytes"):
        fastgd.load(path)
    # a zip entry declaring more bytes than the whole file holds (central directory)
    raw = bytearray(saved["reg"].read_bytes())
    at = raw.rfind(b"PK\x01\x02")  # the last member's central directory record
    raw[at + 20 : at + 28] = (0xFFFFFFF0).to_bytes(4, "little") * 2  # compressed, size
    (tmp_path / "lying.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="more than the"):
        fastgd.load(tmp_path / "lying.npz")
    # an entry stretched over the ones after it (within the file): overlapping entries
    raw = bytearray(saved["clf"].read_bytes())
    at = raw.find(b"PK\x01\x02")  # the first member's central directory record
    raw[at + 20 : at + 28] = (len(raw) - 100).to_bytes(4, "little") * 2
    (tmp_path / "overlap.npz").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="overlapping zip entries"):
        fastgd.load(tmp_path / "overlap.npz")


# -------------------------------------------------------------------------- saving (3)


def test_save_does_not_follow_a_planted_tmp_symlink(tmp_path):
    import fastgd

    model = _models()["reg"][0]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = tmp_path / "model.npz"
    for planted in (tmp_path / "model.npz.tmp", tmp_path / ".model.npz.tmp"):
        planted.symlink_to(victim)
    model.save(path)
    model.save(path)  # and over an existing checkpoint
    assert victim.read_text() == "precious"
    assert path.is_file() and not path.is_symlink()
    assert fastgd.load(path).n_pending_ == model.n_pending_
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == [".model.npz.tmp", "model.npz", "model.npz.tmp", "victim.txt"], left


def test_saved_file_mode_follows_umask(tmp_path):
    model = _models()["reg"][0]
    old = os.umask(0o027)
    try:
        model.save(tmp_path / "m.npz")
    finally:
        os.umask(old)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o640


# ------------------------------------------------------------------------- threads (6)


def _state_of(model):
    return (
        tuple(lin.params.copy() for lin in model._lins),
        None if model._pending is None else model._pending[0].copy(),
    )


def test_save_while_another_thread_trains_is_a_consistent_snapshot(tmp_path):
    """Every save taken while another thread trains equals the state after a whole call.

    Three one-vs-rest models of 2,000 columns and a mini-batch buffer: without the
    training lock a save copied one model before the call's kernel ran and another
    after (the kernels run without the GIL), or rows waiting from another call.
    """
    import fastgd
    from fastgd import SGDClassifier

    rng = np.random.default_rng(0)
    d, chunk, calls = 2000, 37, 120
    X = rng.normal(size=(chunk * calls, d))
    labels = rng.integers(0, 3, chunk * calls)
    classes = np.arange(3)
    kw = dict(batch_size=16, shuffle=False, learning_rate="constant", eta0=1e-4)

    reference = SGDClassifier(**kw)
    by_t = {}
    for i in range(calls):
        rows = slice(i * chunk, (i + 1) * chunk)
        reference.partial_fit(X[rows], labels[rows], classes=classes)
        by_t[reference.t_] = _state_of(reference)
    assert len(by_t) == calls  # each call completes a batch: t names the call

    model = SGDClassifier(**kw)
    model.partial_fit(X[:chunk], labels[:chunk], classes=classes)
    done = threading.Event()

    def train():
        try:
            for i in range(1, calls):
                rows = slice(i * chunk, (i + 1) * chunk)
                model.partial_fit(X[rows], labels[rows], classes=classes)
                if i % 4 == 0:  # a lock is not fair: leave the saver a gap now and then
                    time.sleep(0.001)
        finally:
            done.set()

    paths = []
    thread = threading.Thread(target=train)
    thread.start()
    while not done.is_set() or not paths:
        paths.append(tmp_path / f"s{len(paths)}.npz")
        model.save(paths[-1])
    thread.join()
    steps = set()
    for path in paths:
        loaded = fastgd.load(path)
        ts = {lin.t for lin in loaded._lins}
        assert len(ts) == 1, f"{path.name}: models at different steps {ts}"
        params, pending = by_t[ts.pop()]
        got_params, got_pending = _state_of(loaded)
        for k in range(3):
            np.testing.assert_array_equal(got_params[k], params[k], err_msg=path.name)
        np.testing.assert_array_equal(got_pending, pending, err_msg=path.name)
        steps.add(loaded.t_)
    assert len(steps) >= 3, steps  # saves from the middle of the stream were checked


def test_two_threads_saving_to_one_path(tmp_path):
    import fastgd

    model = _models()["clf"][0]
    path = tmp_path / "shared.npz"
    errors = []

    def save():
        try:
            for _ in range(15):
                model.save(path)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=save) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    loaded = fastgd.load(path)
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["shared.npz"]


# --------------------------------------------------------------- load, then train (13)


def test_classifier_with_buffered_rows_flushes_after_load(tmp_path):
    import fastgd

    model, X, labels, _ = _models()["clf"]
    assert model.n_pending_ == 2
    model.save(tmp_path / "c.npz")
    loaded = fastgd.load(tmp_path / "c.npz")
    loaded.flush()
    model.flush()
    assert loaded.n_pending_ == 0
    np.testing.assert_array_equal(loaded.coef_, model.coef_)
    np.testing.assert_array_equal(loaded.intercept_, model.intercept_)
    # and the stream goes on identically (class weights included)
    loaded.partial_fit(X[22:], labels[22:])
    model.partial_fit(X[22:], labels[22:])
    np.testing.assert_array_equal(loaded.coef_, model.coef_)


def test_optimizer_changed_before_save_is_refused_after_load(tmp_path):
    import fastgd
    from fastgd import SGDRegressor

    X, y, _ = _xy()
    model = SGDRegressor(random_state=0).partial_fit(X, y)
    model.set_params(optimizer="adam")
    with pytest.raises(ValueError, match="optimizer changed"):
        model.partial_fit(X, y)
    model.save(tmp_path / "m.npz")
    loaded = fastgd.load(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="optimizer changed"):
        loaded.partial_fit(X, y)


# ------------------------------------------------------------------------------ CLI (5)


def test_cli_resume_with_a_bad_checkpoint(saved, tmp_path, capsys):
    from fastgd import cli

    X, y, _ = _xy()
    data = tmp_path / "table.npy"
    np.save(data, np.column_stack([X, y]))
    meta, arrays = _members(saved["reg"])
    deep = tmp_path / "deep.npz"
    np.savez(deep, __meta__=np.array("[" * 100_000 + "]" * 100_000), **arrays)
    meta["rng"]["state"]["state"] = "x"
    bad_rng = _write(tmp_path / "rng.npz", meta, arrays)
    (tmp_path / "json.npz").write_text("{}")
    for bad in (deep, bad_rng, tmp_path / "json.npz", tmp_path / "missing.npz"):
        code = cli.main(["fit", str(data), "--resume", str(bad), "--no-progress"])
        err = capsys.readouterr().err
        assert code == 2, (bad, err)
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert err.startswith("fastgd fit: error:") and str(bad) in err, err


# ------------------------------------------------------------------------------ the fuzz


def _run_child(function: str, *args: str, env=None, timeout: float = 300.0):
    """Run ``function(*args)`` of this file in a fresh interpreter (``_child.run_child``)."""
    return run_child(__file__, function, *args, env=env, timeout=timeout)


_JSON_VALUES = (
    None,
    True,
    False,
    0,
    1,
    -1,
    2,
    3,
    4,
    7,
    2**31,
    2**53 + 1,
    2**63,
    2**128,
    -(2**63),
    0.0,
    -0.0,
    0.5,
    1e-300,
    1e308,
    float("nan"),
    float("inf"),
    "",
    "PCG64",
    "test",
    "adam",
    "sgd",
    "l1",
    "SGDRegressor",
    "SGDClassifier",
    "hinge",
    [],
    [1],
    [[1, 2]],
    {},
    {"__dict__": []},
    {"__dict__": [[0, 1.0]]},
    {"__dict__": [[[0], 1.0]]},
    {"state": 1, "inc": 1},
)


def _meta_paths(meta, prefix=()):
    """Every key path in the metadata (dicts only), digests excluded."""
    for key, value in meta.items():
        if key in ("sha256", "meta_sha256"):
            continue
        yield (*prefix, key)
        if isinstance(value, dict):
            yield from _meta_paths(value, (*prefix, key))


def _array_ops():
    """name -> function(array, draw) of the array mutations (None: drop the member)."""
    from hypothesis import strategies as st

    def cut(a, draw):
        if a.ndim == 0 or a.shape[0] == 0:
            return a.reshape(-1)[:0]
        return a[: draw(st.integers(0, a.shape[0] - 1))]

    def extend(a, draw):
        return np.concatenate([a.reshape(-1)] * draw(st.integers(2, 4))) if a.size else a

    def reshape(a, draw):
        flat = a.reshape(-1)
        return flat[None] if draw(st.booleans()) else flat

    def retype(a, draw):
        dtype = draw(st.sampled_from(["f4", ">f8", "i8", "i1", "u4", "?", "U3", "c16"]))
        try:
            return a.astype(dtype)
        except (TypeError, ValueError):  # labels that are not numbers
            return a

    def poke(a, draw):
        if a.size == 0 or a.dtype.kind not in "iuf":
            return a
        a = a.copy()
        flat = a.reshape(-1)
        at = draw(st.integers(0, flat.size - 1))
        if a.dtype.kind == "f":
            flat[at] = draw(st.sampled_from([np.nan, np.inf, -np.inf, 1e308, -1.0, 0.5, 1e6]))
        else:
            info = np.iinfo(a.dtype)
            flat[at] = draw(st.sampled_from([-1, info.max, info.min, 10**6 % info.max, 3]))
        return a

    def fortran(a, draw):
        return np.asfortranarray(a.T) if a.ndim == 2 else a

    def replace(a, draw):
        shape = tuple(draw(st.lists(st.integers(0, 5), max_size=3)))
        return np.full(shape, draw(st.sampled_from([0.0, 1.0, -1.0, 7.0])))

    return {
        "drop": None,
        "cut": cut,
        "extend": extend,
        "reshape": reshape,
        "retype": retype,
        "poke": poke,
        "fortran": fortran,
        "replace": replace,
    }


_MEMBER_NAMES = (
    "lin0_params",
    "lin1_params",
    "lin0_state",
    "lin0_counters",
    "lin0_curve",
    "classes",
    "feature_names_in",
    "pending_X",
    "pending_Y",
    "pending_sw",
    "pending_X_data",
    "pending_X_indices",
    "pending_X_indptr",
    "pending_X_shape",
)


class _Fuzzed:
    """One fuzzed file: its template, bytes and the changes made (its repr, for reports)."""

    def __init__(self, name, raw, changes):
        self.name, self.raw, self.changes = name, raw, changes

    def __repr__(self):
        return f"_Fuzzed({self.changes!r})"


def _fuzz_strategy(templates):
    from hypothesis import strategies as st

    ops = _array_ops()

    @st.composite
    def mutated(draw):
        name = draw(st.sampled_from(sorted(templates)))
        raw, meta, arrays = (
            templates[name]["raw"],
            templates[name]["meta"],
            templates[name]["arrays"],
        )
        kind = draw(st.sampled_from(["flip", "truncate", "meta", "array", "both", "values"]))
        changes = [name, kind]
        if kind == "flip":
            data = bytearray(raw)
            for _ in range(draw(st.integers(1, 6))):
                at = draw(st.integers(0, len(data) - 1))
                data[at] ^= draw(st.integers(1, 255))
                changes.append(at)
            return _Fuzzed(name, bytes(data), changes)
        if kind == "truncate":
            at = draw(st.integers(0, len(raw) - 1))
            return _Fuzzed(name, raw[:at], changes + [at])
        meta = json.loads(json.dumps(meta))
        arrays = dict(arrays)
        if kind in ("meta", "both"):
            for _ in range(draw(st.integers(1, 3))):
                path = draw(st.sampled_from(sorted(_meta_paths(meta))))
                node = meta
                for key in path[:-1]:
                    node = node[key]
                if draw(st.integers(0, 9)) == 0:
                    del node[path[-1]]
                    changes.append(("del", path))
                else:
                    value = json.loads(json.dumps(draw(st.sampled_from(_JSON_VALUES))))
                    node[path[-1]] = value
                    changes.append((path, value))
        if kind == "values":  # other finite values of the same shapes: loads, then trains
            for _ in range(draw(st.integers(1, 3))):
                member = draw(
                    st.sampled_from(sorted(k for k in arrays if arrays[k].dtype.kind == "f"))
                )
                a = arrays[member].copy()
                flat = a.reshape(-1)
                if flat.size:
                    at = draw(st.integers(0, flat.size - 1))
                    flat[at] = draw(
                        st.sampled_from([0.0, -1.0, 1.0, 2.0, 1e6, -1e6, 1e-300, 3.5, 1e150])
                    )
                arrays[member] = a
                changes.append((member, "values"))
        if kind in ("array", "both"):
            for _ in range(draw(st.integers(1, 3))):
                member = draw(st.sampled_from(sorted(set(arrays) | set(_MEMBER_NAMES))))
                op = draw(st.sampled_from(sorted(ops)))
                base = arrays.get(member, np.zeros(D + 1))
                if ops[op] is None:
                    arrays.pop(member, None)
                else:
                    arrays[member] = ops[op](base, draw)
                changes.append((member, op))
        from fastgd import checkpoint

        checkpoint._seal(meta, arrays)
        import io

        buf = io.BytesIO()
        np.savez(buf, __meta__=np.array(json.dumps(meta)), **arrays)
        return _Fuzzed(name, buf.getvalue(), changes)

    return mutated()


def _fuzz_templates(folder: Path):
    """name -> raw bytes, metadata, arrays, data and partial_fit kwargs of each template."""
    import shutil

    out = {}
    for name, (model, X, y, kw) in _models().items():
        path = folder / f"{name}.npz"
        model.save(path)
        out[name] = dict(path=path, X=X, y=y, kw=kw)
    v1 = folder / "v1.npz"
    shutil.copy(DATA / "checkpoint_v1_regressor_adam_batch.npz", v1)
    X4, y4, _ = _xy(d=4)
    out["v1"] = dict(path=v1, X=X4, y=y4, kw={})
    for entry in out.values():
        entry["raw"] = entry["path"].read_bytes()
        entry["meta"], entry["arrays"] = _members(entry["path"])
    return out


def _use(model, entry, stats):
    """partial_fit, flush and predict on a loaded model: only ValueError may come out."""
    X, y = entry["X"], entry["y"]
    for label, call in (
        ("partial_fit", lambda: model.partial_fit(X[22:31], y[22:31], **entry["kw"])),
        ("flush", model.flush),
        ("predict", lambda: model.predict(X[:5])),
        ("partial_fit_again", lambda: model.partial_fit(X[31:], y[31:], **entry["kw"])),
    ):
        try:
            call()
            stats[f"{label} ok"] += 1
        except ValueError:
            stats[f"{label} ValueError"] += 1


def _show_checks_are_live():
    """Under NUMBA_BOUNDSCHECK, an unvalidated short params array raises IndexError."""
    from fastgd import SGDRegressor, _driver

    X, y, _ = _xy(n=8)
    problem = SGDRegressor(batch_size=4, optimizer="adam")._make_problem()
    from fastgd import _layout as C

    try:
        _driver.run_epoch(
            X,
            y,
            np.ones(8),
            np.arange(8),
            np.zeros(2),  # d + 1 = 4 entries needed
            C.new_state(D),
            C.new_counters(0.01),
            problem.hp,
            problem.loss,
            problem.penalty,
            problem.optimizer,
            problem.schedule,
            4,
        )
    except IndexError:
        print("bounds checks are live: a too-short params array raises IndexError")
        return
    raise AssertionError("NUMBA_BOUNDSCHECK=1 but no IndexError")


def _fuzz_main(n_examples: str, mode: str, folder: str) -> int:
    """The child of the fuzz tests: 0 when every file is refused with ValueError or works."""
    import tempfile
    import traceback
    import warnings
    from collections import Counter

    from hypothesis import HealthCheck, given, settings
    from numba.core import config

    import fastgd

    warnings.simplefilter("ignore")  # overflow in predictions of wild models, divergence
    if mode == "boundscheck":
        assert config.BOUNDSCHECK == 1, "NUMBA_BOUNDSCHECK is not on"
        _show_checks_are_live()
    else:
        assert not config.BOUNDSCHECK, "this run should use the normal (unchecked) kernels"
    templates = _fuzz_templates(Path(folder))
    stats: Counter = Counter()
    target = Path(tempfile.mkdtemp(dir=folder)) / "fuzzed.npz"
    last = Path(folder) / "last_example.txt"

    @settings(
        max_examples=int(n_examples),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_fuzz_strategy(templates))
    def fuzz(example):
        name = example.name
        last.write_text(repr(example))
        target.write_bytes(example.raw)
        stats["examples"] += 1
        kind = example.changes[1]
        try:
            model = fastgd.load(target)
        except ValueError as exc:
            stats["refused"] += 1
            stats[f"refused {kind}"] += 1
            assert str(target) in str(exc), exc
            return
        stats["loaded"] += 1
        stats[f"loaded {kind}"] += 1
        _use(model, templates[name], stats)

    start = time.perf_counter()
    for entry in templates.values():  # the templates themselves load and train
        _use(fastgd.load(entry["path"]), entry, stats)
    try:
        fuzz()
    except Exception:
        traceback.print_exc(file=sys.stdout)
        print("FAILED on", last.read_text() if last.exists() else "?", dict(stats))
        return 1
    print(f"{stats['examples']} examples in {time.perf_counter() - start:.1f} s")
    print("outcomes:", dict(sorted(stats.items())))
    assert stats["refused"] >= stats["examples"] // 4 and stats["loaded"] >= 10, stats
    return 0


def _fuzz(tmp_path, n_examples, mode, env):
    out, report = _run_child("_fuzz_main", n_examples, mode, str(tmp_path), env=env, timeout=600)
    print(report)
    last = tmp_path / "last_example.txt"
    if out.returncode < 0 and last.exists():  # killed by a signal: name the example
        report += f"\n--- the example being checked ---\n{last.read_text()}"
    assert out.returncode == 0, report


def test_checkpoint_fuzz(tmp_path):
    env = dict(os.environ)
    env.pop("NUMBA_BOUNDSCHECK", None)
    _fuzz(tmp_path, "2500", "plain", env)


@pytest.mark.slow
def test_checkpoint_fuzz_boundscheck(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    _fuzz(tmp_path, "500", "boundscheck", env)
