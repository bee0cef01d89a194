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

import contextlib
import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "fastgd-checkpoint"
VERSION = 1


def _encode_param(name, value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float, np.integer, np.floating, np.bool_)):
        return value.item() if hasattr(value, "item") else value
    if isinstance(value, dict):
        return {
            "__dict__": [[_encode_param(name, k), _encode_param(name, v)] for k, v in value.items()]
        }
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


def write(path, state: dict) -> Path:
    """Write an estimator's ``training_state()`` to ``path`` (.npz); atomic.

    The file is written to a unique temporary file created exclusively in the target
    directory, then renamed over ``path``: an interrupted save never leaves half a
    checkpoint, and a planted ``<path>.tmp`` link is never followed.
    """
    import tempfile

    arrays = {}
    for k, model in enumerate(state["models"]):
        arrays[f"lin{k}_params"] = model["params"]
        arrays[f"lin{k}_state"] = model["state"]
        arrays[f"lin{k}_counters"] = model["counters"]
        arrays[f"lin{k}_curve"] = np.asarray(model["loss_curve"], dtype=np.float64)
    if state.get("classes") is not None:
        arrays["classes"] = _string_array(state["classes"], "classes_")
    if state.get("feature_names_in") is not None:
        arrays["feature_names_in"] = _string_array(
            np.asarray(state["feature_names_in"]).astype(str), "feature_names_in_"
        )
    if state.get("pending") is not None:
        pX, arrays["pending_Y"], arrays["pending_sw"] = state["pending"]
        if hasattr(pX, "indptr"):  # CSR rows stay sparse: its three arrays and shape
            arrays["pending_X_data"] = pX.data
            arrays["pending_X_indices"] = pX.indices
            arrays["pending_X_indptr"] = pX.indptr
            arrays["pending_X_shape"] = np.asarray(pX.shape, dtype=np.int64)
        else:
            arrays["pending_X"] = pX
    rng = state["rng"]
    if rng.get("bit_generator") not in _BIT_GENERATORS:
        raise ValueError(f"cannot save the state of bit generator {rng.get('bit_generator')!r}.")
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "estimator": state["estimator"],
        "params": {k: _encode_param(k, v) for k, v in state["params"].items()},
        "n_models": len(state["models"]),
        "n_features_in": int(state["n_features_in"]),
        "n_iter": int(state["n_iter"]),
        "optimizer": state["optimizer"],
        "rng": rng,
        "sha256": _digest(arrays),
    }
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# the bit generators whose state a checkpoint may hold (nothing in a file names a function)
_BIT_GENERATORS = {"PCG64": np.random.PCG64}


def read(path) -> dict:
    """Read a checkpoint written by :func:`write` into a training-state dict.

    Raises
    ------
    ValueError
        The file is not a fastgd checkpoint, is corrupted (digest or archive check
        fails), or comes from a newer format version.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} is not a regular file: not a fastgd checkpoint.")
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
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(f"{path} is not a fastgd checkpoint (format {fmt!r}).")
    if not isinstance(meta.get("version"), int) or meta["version"] > VERSION:
        raise ValueError(
            f"{path} was written by checkpoint format version {meta.get('version')}; this "
            f"fastgd reads version {VERSION} and older. Upgrade fastgd."
        )
    if _digest(members) != meta.get("sha256"):
        raise ValueError(f"{path}: checkpoint is corrupted (SHA-256 of its arrays differs).")
    rng = meta.get("rng")
    if not isinstance(rng, dict) or rng.get("bit_generator") not in _BIT_GENERATORS:
        raise ValueError(f"{path}: unsupported random generator state in the checkpoint.")
    try:
        n_models = int(meta["n_models"])
        models = [
            {
                "params": members[f"lin{k}_params"],
                "state": members[f"lin{k}_state"],
                "counters": members[f"lin{k}_counters"],
                "loss_curve": members[f"lin{k}_curve"].tolist(),
            }
            for k in range(n_models)
        ]
        pending = None
        if "pending_X" in members:
            pending = (members["pending_X"], members["pending_Y"], members["pending_sw"])
        elif "pending_X_data" in members:
            pending = (_read_csr(members), members["pending_Y"], members["pending_sw"])
        return {
            "estimator": meta["estimator"],
            "params": {k: _decode_param(v) for k, v in dict(meta["params"]).items()},
            "n_features_in": int(meta["n_features_in"]),
            "n_iter": int(meta["n_iter"]),
            "optimizer": meta.get("optimizer"),
            "models": models,
            "rng": rng,
            "pending": pending,
            "classes": members.get("classes"),
            "feature_names_in": members.get("feature_names_in"),
        }
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: incomplete checkpoint ({exc!r}).") from None


def _read_csr(members: dict):
    """The pending CSR rows from their arrays; validated later (``from_training_state``)."""
    import scipy.sparse as sp

    shape = members["pending_X_shape"]
    if shape.shape != (2,) or shape.dtype.kind not in "iu" or (shape < 0).any():
        raise ValueError(f"pending_X_shape {shape!r} is not a matrix shape")
    arrays = (
        members["pending_X_data"],
        members["pending_X_indices"],
        members["pending_X_indptr"],
    )
    if any(a.ndim != 1 for a in arrays) or arrays[0].dtype.kind != "f":
        raise ValueError("the pending CSR arrays have the wrong dimensions or dtype")
    if arrays[2].shape[0] != int(shape[0]) + 1:
        raise ValueError("pending_X_indptr does not match the pending row count")
    return sp.csr_matrix(arrays, shape=(int(shape[0]), int(shape[1])))


def save(estimator, path) -> Path:
    """``estimator.save(path)``: write its :meth:`training_state` with :func:`write`."""
    if not callable(getattr(estimator, "training_state", None)):
        raise TypeError(
            f"checkpoints hold fastgd.SGDRegressor and fastgd.SGDClassifier, not "
            f"{type(estimator).__qualname__}."
        )
    return write(path, estimator.training_state())
