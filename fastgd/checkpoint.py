"""Checkpoints: the complete training state of an estimator in one ``.npz`` file.

``estimator.save(path)`` / ``fastgd.load(path)``. The file holds everything a
resumed ``partial_fit`` stream needs to continue bit for bit: parameters,
optimizer moments, the step counter, Tsuruoka's L1 accumulators (``u``, ``q``),
the averaging state, the adaptive learning rate, the shuffling RNG's state and
the rows waiting in the mini-batch buffer -- plus the constructor parameters.

Format (version 1): a NumPy ``.npz`` archive loaded with ``allow_pickle=False``,
so loading never executes code. ``__meta__`` is a JSON document (format name,
version, estimator class, parameters, scalar attributes, RNG state and the
SHA-256 digest of every array); the other members are plain numeric or string
arrays. A file that is truncated, altered, from a newer format or not a fastgd
checkpoint is refused with a ``ValueError`` saying which.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from . import _codes as C

FORMAT = "fastgd-checkpoint"
VERSION = 1


def _encode_param(name, value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, dict):
        return {"__dict__": [[_encode_param(name, k), _encode_param(name, v)]
                             for k, v in value.items()]}
    if name == "random_state":
        return None  # a RandomState object: the RNG's own state is saved separately
    raise ValueError(f"parameter {name}={value!r} cannot be stored in a checkpoint.")


def _decode_param(value):
    if isinstance(value, dict) and "__dict__" in value:
        return {k: v for k, v in value["__dict__"]}
    return value


def _digest(arrays: dict) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _string_array(values, name):
    arr = np.asarray(values)
    if arr.dtype.kind not in "biufU":
        raise ValueError(
            f"{name} of dtype {arr.dtype} cannot be stored without pickle; use numeric or "
            "string labels."
        )
    return arr


def save(estimator, path) -> Path:
    """Write the complete training state of a fitted ``estimator`` to ``path`` (.npz)."""
    if type(estimator).__name__ not in ("SGDRegressor", "SGDClassifier") or (
            type(estimator).__module__ != "fastgd.estimators"):
        raise TypeError(
            f"checkpoints hold fastgd.SGDRegressor and fastgd.SGDClassifier, not "
            f"{type(estimator).__qualname__}; pickle a subclass instead."
        )
    if not hasattr(estimator, "_lins"):
        raise ValueError(f"{type(estimator).__name__} is not fitted: nothing to save.")
    arrays = {}
    for k, lin in enumerate(estimator._lins):
        arrays[f"lin{k}_params"] = lin.params
        arrays[f"lin{k}_state"] = lin.state
        arrays[f"lin{k}_counters"] = lin.counters
        arrays[f"lin{k}_curve"] = np.asarray(lin.loss_curve, dtype=np.float64)
    if hasattr(estimator, "classes_"):
        arrays["classes"] = _string_array(estimator.classes_, "classes_")
    if "feature_names_in_" in estimator.__dict__:
        arrays["feature_names_in"] = _string_array(
            estimator.feature_names_in_.astype(str), "feature_names_in_")
    pending = getattr(estimator, "_pending", None)
    if pending is not None:
        arrays["pending_X"], arrays["pending_Y"], arrays["pending_sw"] = pending
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": type(estimator).__name__,
        "params": {k: _encode_param(k, v) for k, v in estimator.get_params().items()},
        "n_models": len(estimator._lins),
        "n_features_in": int(estimator.n_features_in_),
        "n_iter": int(estimator.n_iter_),
        "optimizer": estimator._optimizer_name,
        "rng": estimator._rng_state.bit_generator.state,
        "sha256": _digest(arrays),
    }
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
    os.replace(tmp, path)  # atomic: an interrupted save never leaves half a checkpoint
    return path


def load(path):
    """Load an estimator saved by :func:`save` (or ``estimator.save``), ready to continue.

    Raises
    ------
    ValueError
        The file is not a fastgd checkpoint, is corrupted (digest or archive check
        fails), or comes from a newer format version.
    """
    from ._driver import LinearState
    from .estimators import SGDClassifier, SGDRegressor

    path = Path(path)
    with open(path, "rb") as fh:  # our own handle: np.load leaks its own on a bad archive
        try:
            with np.load(fh, allow_pickle=False) as data:
                members = {name: data[name] for name in data.files}
        except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as exc:
            raise ValueError(f"{path} is not a readable fastgd checkpoint ({exc}).") from None
    if "__meta__" not in members:
        raise ValueError(f"{path} is not a fastgd checkpoint (no __meta__ record).")
    try:
        meta = json.loads(str(members.pop("__meta__")))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: corrupted checkpoint metadata ({exc}).") from None
    if meta.get("format") != FORMAT:
        raise ValueError(f"{path} is not a fastgd checkpoint (format {meta.get('format')!r}).")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise ValueError(
            f"{path} was written by checkpoint format version {meta.get('version')}; this "
            f"fastgd reads version {VERSION} and older. Upgrade fastgd."
        )
    if _digest(members) != meta.get("sha256"):
        raise ValueError(f"{path}: checkpoint is corrupted (SHA-256 of its arrays differs).")
    classes = {"SGDRegressor": SGDRegressor, "SGDClassifier": SGDClassifier}
    if meta.get("estimator") not in classes:
        raise ValueError(f"{path}: unknown estimator {meta.get('estimator')!r}.")
    est = classes[meta["estimator"]](**{k: _decode_param(v) for k, v in meta["params"].items()})
    problem = est._make_problem()
    d = int(meta["n_features_in"])
    lins = []
    for k in range(int(meta["n_models"])):
        params = members[f"lin{k}_params"]
        state = members[f"lin{k}_state"]
        counters = members[f"lin{k}_counters"]
        if (params.shape != (d + 1,) or state.ndim != 2 or state.shape[1] != d + 1
                or not 5 <= state.shape[0] <= C.N_ST or counters.ndim != 1
                or not 3 <= counters.shape[0] <= C.N_SC):
            raise ValueError(f"{path}: model {k} has arrays of the wrong shape.")
        # files written before the carried dot have 5 state rows and 3 counters: the
        # missing carry restarts from the coefficients (see fastgd._kernels.carry)
        full_state = C.new_state(d)
        full_state[: state.shape[0]] = state
        full_counters = C.new_counters()
        full_counters[: counters.shape[0]] = counters
        lins.append(LinearState(params.astype(np.float64), full_state, full_counters,
                                members[f"lin{k}_curve"].tolist()))
    est.n_features_in_ = d
    if "feature_names_in" in members:
        est.feature_names_in_ = members["feature_names_in"].astype(object)
    if "classes" in members:
        est.classes_ = members["classes"]
        est._classes_arg = None
    rng_state = meta["rng"]
    rng = np.random.Generator(getattr(np.random, rng_state["bit_generator"])())
    rng.bit_generator.state = rng_state
    pending = None
    if "pending_X" in members:
        pending = (members["pending_X"], members["pending_Y"], members["pending_sw"])
    est._commit(lins, problem, rng, n_iter=int(meta["n_iter"]), pending=pending)
    return est
