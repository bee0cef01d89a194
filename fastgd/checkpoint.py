"""Checkpoints: the complete training state of an estimator in one ``.npz`` file.

``estimator.save(path)`` / ``fastgd.load(path)``. The file holds everything a
resumed ``partial_fit`` stream needs to continue bit for bit: parameters,
optimizer moments, the step counter, Tsuruoka's L1 accumulators (``u``, ``q``),
the averaging state, the adaptive learning rate, the shuffling RNG's state and
the rows waiting in the mini-batch buffer -- plus the constructor parameters.

Format (version 3): a zip archive of ``.npy`` members, as ``numpy.savez`` writes it
(uncompressed). ``__meta__`` is a JSON document (format name, version, estimator
class, parameters, scalar attributes and RNG state); the other members are plain
numeric or string arrays: per linear model ``lin{k}_params`` (d+1,),
``lin{k}_state`` (rows, d+1), ``lin{k}_counters`` and ``lin{k}_curve``; optionally
``classes``, ``feature_names_in`` and the waiting rows (``pending_X`` or the CSR
``pending_X_data`` / ``_indices`` / ``_indptr`` / ``_shape``, ``pending_Y``,
``pending_sw``). Two SHA-256 digests in the JSON seal the file: ``sha256`` over every
array (name, dtype, shape, bytes) and ``meta_sha256`` over the JSON itself (all of it
but the two digests, canonically serialised).

Version 3 adds three optional metadata fields: ``target_name`` (the name of the column the
model was trained to predict, as ``fastgd fit`` records it), ``classes_dtype``
(``"object"`` when ``classes_`` was an object array -- string labels from pandas, a
categorical, Python ints -- stored as a plain string, boolean, integer or float member and
turned back into an object array on reading) and ``coef_dtype`` (``"float32"`` when the
model was fitted on float32 X and publishes a float32 ``coef_``; the parameters are float64
either way). A file that needs none of them is written as version 2, which earlier fastgd
releases read. Version 1 files (fastgd before the metadata
digest) have the same members as version 2 and only the array digest; both are still read.

The file is untrusted input. Reading never executes code and never unpickles; before
any member is inflated, its declared size (the zip entry's and its ``.npy`` header's)
is checked against what the metadata implies and against the archive's own size
(compressed members: at most ``MAX_INFLATED`` bytes in all), so a small file
cannot make ``read`` allocate much; only regular files are opened, without blocking.
Every array is then checked against every shape the metadata implies. A file that is
not a checkpoint, truncated, altered, inconsistent or from a newer format is refused
with a ``ValueError`` that names the file and the problem. The contents (finite
parameters, sane counters, valid constructor parameters) are checked once more by
the estimator's ``from_training_state``, which :func:`check_state` serves.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import numbers
import os
import stat
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path

import numpy as np

from . import _layout as C

FORMAT = "fastgd-checkpoint"
VERSION = 3  # the newest format this module reads; write() uses the oldest that fits

MAX_META_BYTES = 16 << 20  # the JSON member (UTF-32 in the .npy: 4 bytes a character)
MAX_INFLATED = 64 << 20  # bytes all compressed members may inflate to together
_MAX_HEADER = 10_000  # .npy header bytes (numpy's own default limit)
_INT32_MAX = np.iinfo(np.int32).max  # most columns a model may have (fastgd._sparse)
_INT_MAX = 2**62  # counts (fastgd.options.INT_MAX)
_T_MAX = 2.0**53  # the step counter is a float64 holding an integer

# the bit generators whose state a checkpoint may hold (nothing in a file names a function)
_BIT_GENERATORS = {"PCG64": np.random.PCG64}

_MODEL_PARTS = ("params", "state", "counters", "curve")
_PENDING_DENSE = ("pending_X", "pending_Y", "pending_sw")
_PENDING_CSR = (
    "pending_X_data",
    "pending_X_indices",
    "pending_X_indptr",
    "pending_X_shape",
    "pending_Y",
    "pending_sw",
)
_META_KEYS = {
    "format",
    "version",
    "estimator",
    "params",
    "n_models",
    "n_features_in",
    "n_iter",
    "optimizer",
    "rng",
    "sha256",
}
# keys a version may hold beyond _META_KEYS, and the ones of those it may leave out
_EXTRA_META_KEYS = {
    1: set(),
    2: {"meta_sha256"},
    3: {"meta_sha256", "target_name", "classes_dtype", "coef_dtype"},
}
_OPTIONAL_META_KEYS = {
    1: {"optimizer"},
    2: set(),
    3: {"target_name", "classes_dtype", "coef_dtype"},
}
_DIGEST_KEYS = ("sha256", "meta_sha256")


# ------------------------------------------------------------------------- encoding
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


def _decode_param(value, name: str = "a parameter"):
    """A JSON parameter value back as the estimator took it; ValueError if it cannot be one."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if (
        isinstance(value, dict)
        and set(value) == {"__dict__"}
        and isinstance(value["__dict__"], list)
    ):
        out = {}
        for pair in value["__dict__"]:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and (pair[0] is None or isinstance(pair[0], (bool, int, float, str)))
                and (pair[1] is None or isinstance(pair[1], (bool, int, float, str)))
            ):
                raise ValueError(f"parameter {name} holds an invalid mapping entry {pair!r:.80}")
            out[pair[0]] = pair[1]
        return out
    raise ValueError(f"parameter {name} has a value of unsupported type {type(value).__name__}")


def _digest(arrays: dict) -> str:
    """SHA-256 of the arrays: every name, dtype, shape and the bytes (C order)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = np.ascontiguousarray(arrays[name])
        h.update(name.encode())
        h.update(str(a.dtype).encode())
        h.update(repr(a.shape).encode())
        h.update(a.tobytes())
    return h.hexdigest()


def _meta_digest(meta: dict) -> str:
    """SHA-256 of the metadata but its two digests, as canonical JSON (sorted keys)."""
    body = {k: v for k, v in meta.items() if k not in _DIGEST_KEYS}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _seal(meta: dict, arrays: dict) -> dict:
    """Set both digests of ``meta`` (in place) for these arrays; returns ``meta``."""
    meta["sha256"] = _digest(arrays)
    meta["meta_sha256"] = _meta_digest(meta)
    return meta


_LABEL_FIX = (
    "a checkpoint stores labels that are all strings, all booleans, all integers or all "
    "floats (it never pickles); convert y before fitting, e.g. y.astype(str)"
)


def _label_kind(value) -> str | None:
    """``'U'``, ``'b'``, ``'i'`` or ``'f'`` for a label a checkpoint can store, else None."""
    if isinstance(value, str):
        return "U"
    if isinstance(value, (bool, np.bool_)):
        return "b"
    if isinstance(value, (numbers.Integral, np.integer)):
        return "i"
    if isinstance(value, (float, np.floating)):
        return "f"
    return None


def _string_array(values, name):
    """``values`` as a plain array a checkpoint can hold; ValueError saying why not."""
    arr = np.asarray(values)
    if arr.dtype.kind == "O":
        return _object_labels(arr, name)
    if arr.dtype.kind not in "biufU":
        raise ValueError(
            f"{name} of dtype {arr.dtype} cannot be stored in a checkpoint: {_LABEL_FIX}."
        )
    return arr


def _object_labels(arr: np.ndarray, name: str) -> np.ndarray:
    """An object array of labels of one kind as a string / bool / int64 / float64 array."""
    kinds = {}
    for value in arr.ravel().tolist():
        kind = _label_kind(value)
        if kind is None:
            raise ValueError(
                f"{name} holds {value!r:.60} of type {type(value).__name__}, which cannot be "
                f"stored in a checkpoint: {_LABEL_FIX}."
            )
        kinds.setdefault(kind, type(value).__name__)
    if len(kinds) > 1:
        raise ValueError(
            f"{name} mixes labels of types {', '.join(sorted(kinds.values()))}, which cannot be "
            f"stored in a checkpoint: {_LABEL_FIX}."
        )
    kind = next(iter(kinds), "U")
    items = arr.tolist()
    if kind == "U":
        return np.array(items, dtype=str).reshape(arr.shape)
    if kind == "b":
        return np.array(items, dtype=bool).reshape(arr.shape)
    if kind == "i":
        try:
            return np.array(items, dtype=np.int64).reshape(arr.shape)
        except OverflowError:
            raise ValueError(
                f"{name} holds integers beyond int64, which cannot be stored in a checkpoint: "
                f"{_LABEL_FIX}."
            ) from None
    return np.array(items, dtype=np.float64).reshape(arr.shape)


def _as_object(arr: np.ndarray) -> np.ndarray:
    """A stored label array back as the object array (of Python values) it was saved from."""
    out = np.empty(arr.shape, dtype=object)
    out[...] = arr.tolist() if arr.ndim else arr.item()
    return out


def _umask_mode() -> int | None:
    """``0o666`` less the process umask (read without changing it), or None if unknown."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return None


# -------------------------------------------------------------------------- writing
def write(path, state: dict) -> Path:
    """Write an estimator's ``training_state()`` to ``path`` (.npz); atomic.

    The file is written to a unique temporary file created exclusively (``mkstemp``)
    in the target directory, then renamed over ``path`` (``os.replace``): an
    interrupted save never leaves half a checkpoint, two saves to one path both
    succeed (the last rename wins) and a planted ``<path>.tmp`` link is never
    followed. The new file gets the mode a plain ``open(path, "w")`` would give it.

    Parameters
    ----------
    path : path-like
        The checkpoint to write (replaced if it exists).
    state : dict
        ``estimator.training_state()``, optionally with ``target_name`` (str: the name
        of the column the model predicts; ``fastgd fit`` records it). Object ``classes``
        (pandas string or categorical labels, Python ints) are stored as a plain array
        of their one kind of value and read back as an object array.

    Raises
    ------
    ValueError
        ``classes`` hold values other than strings, booleans, integers (int64) or
        floats, or mix them (nothing is written).

    Returns
    -------
    Path
        ``path``.
    """
    arrays = {}
    for k, model in enumerate(state["models"]):
        arrays[f"lin{k}_params"] = model["params"]
        arrays[f"lin{k}_state"] = model["state"]
        arrays[f"lin{k}_counters"] = model["counters"]
        arrays[f"lin{k}_curve"] = np.asarray(model["loss_curve"], dtype=np.float64)
    extra = {}
    if state.get("classes") is not None:
        arrays["classes"] = _string_array(state["classes"], "classes_")
        if np.asarray(state["classes"]).dtype.kind == "O":
            extra["classes_dtype"] = "object"
    target_name = state.get("target_name")
    if target_name is not None:
        if not isinstance(target_name, str):
            raise TypeError(
                f"target_name must be a string (a column name), got {type(target_name).__name__}."
            )
        extra["target_name"] = target_name
    coef_dtype = state.get("coef_dtype", "float64")
    if coef_dtype != "float64":  # a float32 fit publishes a float32 coef_
        if coef_dtype != "float32":
            raise ValueError(f"coef_dtype must be 'float32' or 'float64', got {coef_dtype!r}.")
        extra["coef_dtype"] = coef_dtype
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
        "version": 3 if extra else 2,
        "estimator": state["estimator"],
        "params": {k: _encode_param(k, v) for k, v in state["params"].items()},
        "n_models": len(state["models"]),
        "n_features_in": int(state["n_features_in"]),
        "n_iter": int(state["n_iter"]),
        "optimizer": state["optimizer"],
        "rng": rng,
        **extra,
    }
    _seal(meta, arrays)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        mode = _umask_mode()
        if mode is not None and hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, __meta__=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return path


# -------------------------------------------------------------------------- reading
class _Refused(ValueError):
    """A problem found in the file (the message names it; :func:`read` adds the path)."""


def _int(value, name: str, low: int, high: int) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise _Refused(f"{name} must be an integer, got {value!r:.80}")
    if not low <= value <= high:
        raise _Refused(f"{name} = {value} is outside [{low}, {high}]")
    return int(value)


def check_rng_state(rng) -> dict:
    """A copy of a shuffling generator's state dict, checked; ValueError if it is not one.

    Only NumPy's ``PCG64`` state is accepted: ``{"bit_generator": "PCG64", "state":
    {"state": int, "inc": int}, "has_uint32": 0 or 1, "uinteger": int}``, each integer
    in its range. Nothing in it names a function.
    """
    name = rng.get("bit_generator") if isinstance(rng, dict) else rng
    if not isinstance(name, str) or name not in _BIT_GENERATORS:
        raise _Refused(f"unsupported random generator state (bit generator {name!r:.80})")
    if set(rng) != {"bit_generator", "state", "has_uint32", "uinteger"}:
        raise _Refused(f"the random generator state has keys {sorted(map(str, rng))!r:.200}")
    inner = rng["state"]
    if not isinstance(inner, dict) or set(inner) != {"state", "inc"}:
        raise _Refused("the random generator state has no PCG64 state and increment")
    return {
        "bit_generator": "PCG64",
        "state": {
            "state": _int(inner["state"], "the PCG64 state", 0, 2**128 - 1),
            "inc": _int(inner["inc"], "the PCG64 increment", 0, 2**128 - 1),
        },
        "has_uint32": _int(rng["has_uint32"], "the PCG64 has_uint32 flag", 0, 1),
        "uinteger": _int(rng["uinteger"], "the PCG64 buffered value", 0, 2**32 - 1),
    }


def _open_regular(path: Path):
    """A binary file object of ``path``, which must be a regular file; never blocks.

    ``os.stat`` first (a FIFO, device or directory is refused before it is opened),
    then ``O_NONBLOCK`` (a FIFO swapped in meanwhile cannot block the open) and
    ``fstat`` of what was actually opened.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise _Refused("no such file") from None
    except OSError as exc:
        raise _Refused(f"cannot be read ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
        raise _Refused(f"is {kind}: not a fastgd checkpoint")
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise _Refused(f"cannot be read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _Refused("is not a regular file: not a fastgd checkpoint")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


class _Member:
    """One ``.npy`` member of the archive: its zip entry and (once read) its header."""

    __slots__ = ("name", "info", "shape", "dtype", "fortran", "nbytes")

    def __init__(self, name: str, info: zipfile.ZipInfo):
        self.name = name
        self.info = info


def _check_entry(member: _Member, archive_size: int, inflated: list) -> None:
    """Refuse a zip entry that could inflate past the archive (or the compressed cap).

    ``inflated``: the bytes the compressed entries checked so far inflate to, in all.
    """
    info = member.info
    if info.flag_bits & 0x1:
        raise _Refused(f"member {member.name} is encrypted")
    if info.file_size < 10:
        raise _Refused(f"member {member.name} is too short for an .npy array")
    if info.compress_type == zipfile.ZIP_STORED:
        if info.compress_size != info.file_size or info.file_size > archive_size:
            raise _Refused(
                f"member {member.name} declares {info.file_size} bytes, more than the "
                f"{archive_size}-byte file holds"
            )
    elif info.compress_type == zipfile.ZIP_DEFLATED:
        inflated[0] += info.file_size
        if inflated[0] > MAX_INFLATED:
            raise _Refused(
                f"member {member.name} is compressed and declares {info.file_size} bytes; "
                f"compressed members may inflate to {MAX_INFLATED >> 20} MiB in all "
                "(estimator.save writes them uncompressed)"
            )
    else:
        raise _Refused(f"member {member.name} uses unsupported compression {info.compress_type}")


def _read_header(zf: zipfile.ZipFile, member: _Member) -> None:
    """Parse the member's ``.npy`` header (no data read) and check it against the entry."""
    fmt = np.lib.format
    with zf.open(member.info) as fp:
        try:
            version = fmt.read_magic(fp)
            if version == (1, 0):
                shape, fortran, dtype = fmt.read_array_header_1_0(fp, max_header_size=_MAX_HEADER)
            elif version == (2, 0):
                shape, fortran, dtype = fmt.read_array_header_2_0(fp, max_header_size=_MAX_HEADER)
            else:
                raise _Refused(f"member {member.name} has .npy format version {version}")
        except _Refused:
            raise
        except Exception as exc:  # numpy's header parser: ValueError, tokenize errors, ...
            raise _Refused(
                f"member {member.name} is not an .npy array ({type(exc).__name__}: {exc})"
            ) from None
        offset = fp.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        # never unpickled: a checkpoint holds plain numeric and string arrays only
        raise _Refused(f"member {member.name} has dtype {dtype}, which no checkpoint holds")
    if dtype.kind not in "biufU" or dtype.itemsize == 0:
        raise _Refused(f"member {member.name} has dtype {dtype}, which no checkpoint holds")
    if any(n < 0 for n in shape):
        raise _Refused(f"member {member.name} declares the shape {shape}")
    nbytes = math.prod(shape) * dtype.itemsize
    if offset + nbytes != member.info.file_size:
        raise _Refused(
            f"member {member.name} declares {shape} x {dtype} ({nbytes} bytes) but its "
            f"entry holds {member.info.file_size - offset} bytes of data"
        )
    member.shape, member.fortran, member.dtype, member.nbytes = shape, fortran, dtype, nbytes


def _read_data(zf: zipfile.ZipFile, member: _Member) -> np.ndarray:
    """The member's array (writable), read in bounded chunks into one exact allocation."""
    with zf.open(member.info) as fp:
        fp.read(member.info.file_size - member.nbytes)  # the header, parsed before
        buf = bytearray(member.nbytes)
        view = memoryview(buf)
        pos = 0
        while pos < member.nbytes:
            got = fp.readinto(view[pos : pos + (16 << 20)])
            if not got:
                raise _Refused(f"member {member.name} is truncated")
            pos += got
        fp.read(1)  # at the end: zipfile checks the CRC-32 here
    if member.nbytes == 0:
        return np.empty(member.shape, member.dtype)
    arr = np.frombuffer(buf, dtype=member.dtype)
    if member.fortran:
        return arr.reshape(member.shape[::-1]).T
    return arr.reshape(member.shape)


def _kind(member: _Member, kinds: str, what: str, ndim: int) -> None:
    if member.dtype.kind not in kinds or len(member.shape) != ndim:
        raise _Refused(
            f"{member.name} must be a {ndim}-D {what} array, got {member.shape} x {member.dtype}"
        )


def _float_kind(member: _Member, ndim: int) -> None:
    _kind(member, "f", "float", ndim)
    if member.dtype.itemsize not in (4, 8):
        raise _Refused(f"{member.name} must be float32 or float64, got {member.dtype}")


def _check_meta(meta, n_entries: int) -> dict:
    """The metadata's scalar fields, checked (the arrays are checked against them later)."""
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise _Refused(f"is not a fastgd checkpoint (format {fmt!r:.80})")
    version = meta.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise _Refused(f"has an invalid checkpoint format version {version!r:.80}")
    if version > VERSION:
        raise _Refused(
            f"was written by checkpoint format version {version}; this fastgd reads "
            f"version {VERSION} and older. Upgrade fastgd"
        )
    keys = _META_KEYS | _EXTRA_META_KEYS[version]
    unknown = set(meta) - keys
    missing = keys - _OPTIONAL_META_KEYS[version] - set(meta)
    if unknown or missing:
        raise _Refused(
            f"checkpoint metadata has unknown keys {sorted(unknown)!r:.200} / lacks "
            f"{sorted(missing)!r}"
        )
    for key in _DIGEST_KEYS:
        if key in meta and not (
            isinstance(meta[key], str)
            and len(meta[key]) == 64
            and all(c in "0123456789abcdef" for c in meta[key])
        ):
            raise _Refused(f"checkpoint metadata has an invalid {key}")
    if "meta_sha256" in meta and _meta_digest(meta) != meta["meta_sha256"]:
        raise _Refused("checkpoint is corrupted (SHA-256 of its metadata differs)")
    if meta["estimator"] not in ("SGDRegressor", "SGDClassifier"):
        raise _Refused(f"unknown estimator {meta['estimator']!r:.80}")
    if not isinstance(meta["params"], dict):
        raise _Refused("checkpoint metadata has no parameter mapping")
    optimizer = meta.get("optimizer")
    if not (optimizer is None or isinstance(optimizer, str)):
        raise _Refused(f"checkpoint metadata names the optimizer {optimizer!r:.80}")
    target_name = meta.get("target_name")
    if not (target_name is None or (isinstance(target_name, str) and len(target_name) <= 10_000)):
        raise _Refused(f"checkpoint metadata has the target name {target_name!r:.80}")
    if meta.get("classes_dtype", "object") != "object":
        raise _Refused(f"checkpoint metadata has classes_dtype {meta['classes_dtype']!r:.80}")
    if meta.get("coef_dtype", "float32") != "float32":  # written only for float32
        raise _Refused(f"checkpoint metadata has coef_dtype {meta['coef_dtype']!r:.80}")
    return {
        "version": version,
        "n_models": _int(meta["n_models"], "n_models", 1, max(1, n_entries // 4)),
        "n_features_in": _int(meta["n_features_in"], "n_features_in", 1, _INT32_MAX),
        "n_iter": _int(meta["n_iter"], "n_iter", 0, _INT_MAX),
    }


def _expected_names(n_models: int, names) -> list[str]:
    """Every member a checkpoint of ``n_models`` models with these members must hold."""
    expected = ["__meta__"]
    for k in range(n_models):
        expected += [f"lin{k}_{part}" for part in _MODEL_PARTS]
    for name in ("classes", "feature_names_in"):
        if name in names:
            expected.append(name)
    if "pending_X" in names:
        expected += _PENDING_DENSE
    elif any(name.startswith("pending_") for name in names):
        expected += _PENDING_CSR
    return expected


def _check_shapes(members: dict, meta: dict, classifier: bool) -> None:
    """Every header against the shapes the metadata and the other headers imply."""
    d, n_models = meta["n_features_in"], meta["n_models"]
    for k in range(n_models):
        p, st, ct, cv = (members[f"lin{k}_{part}"] for part in _MODEL_PARTS)
        for m, ndim in ((p, 1), (st, 2), (ct, 1), (cv, 1)):
            _float_kind(m, ndim)
        if p.shape != (d + 1,):
            raise _Refused(f"{p.name} has shape {p.shape}, expected ({d + 1},)")
        if st.shape[1] != d + 1 or not C.ST_Q + 1 <= st.shape[0] <= C.N_ST:
            raise _Refused(
                f"{st.name} has shape {st.shape}, expected ({C.ST_Q + 1} to {C.N_ST}, {d + 1})"
            )
        if not C.SC_ETA + 1 <= ct.shape[0] <= C.N_SC:
            raise _Refused(
                f"{ct.name} has shape {ct.shape}, expected {C.SC_ETA + 1} to {C.N_SC} counters"
            )
    classes = members.get("classes")
    if classifier != (classes is not None):
        raise _Refused(
            "a classifier's checkpoint needs classes"
            if classifier
            else "a regressor has no classes"
        )
    if classes is not None:
        _kind(classes, "biufU", "label", 1)
        n = classes.shape[0]
        if n < 2 or n_models != (1 if n == 2 else n):
            raise _Refused(f"{n} classes do not fit {n_models} models")
    names = members.get("feature_names_in")
    if names is not None:
        _kind(names, "U", "string", 1)
        if names.shape != (d,):
            raise _Refused(f"{names.shape[0]} feature names for {d} features")
    if "pending_Y" not in members:
        return
    Y, sw = members["pending_Y"], members["pending_sw"]
    _float_kind(Y, 2)
    _float_kind(sw, 1)
    if "pending_X" in members:
        X = members["pending_X"]
        _float_kind(X, 2)
        if X.shape[1] != d:
            raise _Refused(f"pending_X has {X.shape[1]} columns for {d} features")
        m = X.shape[0]
    else:
        data, indices, indptr, shape = (members[n] for n in _PENDING_CSR[:4])
        _float_kind(data, 1)
        for arr in (indices, indptr, shape):
            _kind(arr, "iu", "integer", 1)
        for arr in (indices, indptr):  # as scipy.sparse keeps them
            if arr.dtype.kind != "i" or arr.dtype.itemsize not in (4, 8):
                raise _Refused(f"{arr.name} must be int32 or int64, got {arr.dtype}")
        if shape.shape != (2,):
            raise _Refused(f"pending_X_shape has shape {shape.shape}, expected (2,)")
        if indices.shape != data.shape:
            raise _Refused(
                f"pending_X_indices has {indices.shape[0]} entries, pending_X_data {data.shape[0]}"
            )
        m = indptr.shape[0] - 1
        if m < 1:
            raise _Refused("pending_X_indptr is empty")
    if Y.shape != (m, n_models) or sw.shape != (m,):
        raise _Refused(
            f"the waiting rows do not fit together: {m} rows of X, pending_Y {Y.shape} "
            f"(expected ({m}, {n_models})), pending_sw {sw.shape}"
        )


def read(path) -> dict:
    """Read a checkpoint written by :func:`write` into a training-state dict.

    Parameters
    ----------
    path : path-like
        The ``.npz`` file (untrusted: see the module docstring for what is checked).

    Returns
    -------
    dict
        The ``training_state()`` it was written from: ``estimator``, ``params``,
        ``n_features_in``, ``n_iter``, ``optimizer``, ``models`` (per model ``params``,
        ``state``, ``counters``, ``loss_curve``), ``rng``, ``pending``, ``classes`` (an
        object array again where it was saved from one), ``feature_names_in`` and
        ``target_name`` (None unless recorded); every array of the shape the metadata
        implies.

    Raises
    ------
    ValueError
        The file is not a fastgd checkpoint, is corrupted (digest or archive check
        fails), is inconsistent (an array's shape or size does not fit the metadata),
        or comes from a newer format version. The message names the file.
    """
    path = Path(path)
    try:
        return _read(path)
    except _Refused as exc:
        raise ValueError(f"{path}: {exc}.") from None
    except RecursionError:
        raise ValueError(f"{path}: corrupted checkpoint metadata (nested too deeply).") from None
    except (
        zipfile.BadZipFile,
        zlib.error,
        EOFError,
        OSError,
        struct.error,
        NotImplementedError,
        RuntimeError,
        OverflowError,
        ValueError,
    ) as exc:
        raise ValueError(f"{path} is not a readable fastgd checkpoint ({exc}).") from None


def _read(path: Path) -> dict:
    with _open_regular(path) as fh:
        archive_size = os.fstat(fh.fileno()).st_size
        try:
            zf = zipfile.ZipFile(fh)
        except zipfile.BadZipFile:
            raise _Refused(
                "is not a fastgd checkpoint: not an .npz archive (estimator.save writes one)"
            ) from None
        with zf:
            return _read_archive(zf, archive_size)


def _read_archive(zf: zipfile.ZipFile, archive_size: int) -> dict:
    infos = zf.infolist()
    members: dict[str, _Member] = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy") or name[:-4] in members:
            what = "a duplicate" if name[:-4] in members else "an unexpected"
            raise _Refused(f"is not a fastgd checkpoint ({what} member {name!r:.80})")
        members[name[:-4]] = _Member(name[:-4], info)
    if "__meta__" not in members:
        raise _Refused("is not a fastgd checkpoint (no __meta__ record)")
    # the entries of a genuine archive do not overlap, so their stored bytes add up to no
    # more than the file; overlapping entries would let one stretch count many times
    stored = sum(info.compress_size for info in infos)
    if stored > archive_size:
        raise _Refused(
            f"its members' sizes add up to {stored} bytes, more than the {archive_size}-byte "
            "file (overlapping zip entries)"
        )
    inflated = [0]
    meta_member = members["__meta__"]
    _check_entry(meta_member, archive_size, inflated)
    if meta_member.info.file_size > MAX_META_BYTES:
        raise _Refused(f"checkpoint metadata of {meta_member.info.file_size} bytes is too large")
    _read_header(zf, meta_member)
    _kind(meta_member, "U", "string", 0)
    meta_text = str(_read_data(zf, meta_member)[()])
    try:
        raw_meta = json.loads(meta_text)
    except ValueError as exc:  # JSONDecodeError, and integers of too many digits
        raise _Refused(f"corrupted checkpoint metadata ({exc})") from None
    meta = _check_meta(raw_meta, len(infos))
    expected = _expected_names(meta["n_models"], members)
    if set(expected) != set(members):
        unexpected = sorted(set(members) - set(expected))
        missing = sorted(set(expected) - set(members))
        raise _Refused(
            f"incomplete or inconsistent checkpoint (missing members {missing!r:.200}, "
            f"unexpected {unexpected!r:.200})"
        )
    for name in expected[1:]:
        _check_entry(members[name], archive_size, inflated)
        _read_header(zf, members[name])
    classifier = raw_meta["estimator"] == "SGDClassifier"
    _check_shapes(members, meta, classifier)
    arrays = {name: _read_data(zf, members[name]) for name in expected[1:]}
    if _digest(arrays) != raw_meta["sha256"]:
        raise _Refused("checkpoint is corrupted (SHA-256 of its arrays differs)")
    rng = check_rng_state(raw_meta["rng"])
    params = {}
    for key, value in raw_meta["params"].items():
        params[key] = _decode_param(value, key)
    classes = arrays.get("classes")
    if raw_meta.get("classes_dtype") == "object":
        if classes is None:
            raise _Refused("checkpoint metadata declares object classes but has no classes")
        classes = _as_object(classes)
    pending = None
    if "pending_X" in arrays:
        pending = (arrays["pending_X"], arrays["pending_Y"], arrays["pending_sw"])
    elif "pending_X_data" in arrays:
        pending = (
            _read_csr(arrays, meta["n_features_in"]),
            arrays["pending_Y"],
            arrays["pending_sw"],
        )
    return {
        "estimator": raw_meta["estimator"],
        "params": params,
        "n_features_in": meta["n_features_in"],
        "n_iter": meta["n_iter"],
        "optimizer": raw_meta.get("optimizer"),
        "models": [
            {
                "params": arrays[f"lin{k}_params"],
                "state": arrays[f"lin{k}_state"],
                "counters": arrays[f"lin{k}_counters"],
                "loss_curve": arrays[f"lin{k}_curve"].astype(np.float64).tolist(),
            }
            for k in range(meta["n_models"])
        ],
        "rng": rng,
        "pending": pending,
        "classes": classes,
        "feature_names_in": arrays.get("feature_names_in"),
        "target_name": raw_meta.get("target_name"),
        "coef_dtype": raw_meta.get("coef_dtype"),
    }


def _read_csr(arrays: dict, n_features: int):
    """The waiting CSR rows from their arrays, validated in full (``_sparse.check_csr``)."""
    import scipy.sparse as sp

    from ._sparse import check_csr

    shape = arrays["pending_X_shape"]
    rows, cols = int(shape[0]), int(shape[1])
    indptr = arrays["pending_X_indptr"]
    if rows != indptr.shape[0] - 1 or cols != n_features:
        raise _Refused(
            f"pending_X_shape {(rows, cols)} does not fit {indptr.shape[0]} indptr entries "
            f"and {n_features} features"
        )
    X = sp.csr_matrix((rows, cols), dtype=arrays["pending_X_data"].dtype)
    # assigned past scipy's constructor, which would convert (or reject) before we check
    X.data, X.indices, X.indptr = (
        arrays["pending_X_data"],
        arrays["pending_X_indices"],
        indptr,
    )
    try:
        return check_csr(X, n_features=n_features, argument="pending_X")
    except (TypeError, ValueError) as exc:
        raise _Refused(f"the waiting CSR rows are invalid ({exc})") from None


# ----------------------------------------------------------------- the state's contents
def _real_array(value, name: str, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != ndim:
        raise _Refused(f"{name} must be a {ndim}-D real array, got {arr.shape} x {arr.dtype}")
    return np.array(arr, dtype=np.float64)  # a native, C-contiguous, writable copy


def check_models(models, n_features: int) -> list[tuple]:
    """Per linear model ``(params, state, counters, loss_curve)``, checked and completed.

    ``params`` must be ``(d + 1,)``, ``state`` ``(rows, d + 1)`` with ``ST_Q + 1 <= rows
    <= N_ST`` and ``counters`` ``SC_ETA + 1`` to ``N_SC`` long (files written before
    the carried dot have 5 state rows and 3 counters: the carry then restarts from the
    coefficients), all finite; the step counter an integer in ``[1, 2**53]``, Tsuruoka's
    ``u`` non-negative. Returns float64 arrays of the full layout (``fastgd._layout``).

    Raises
    ------
    ValueError
        Naming the model and what is wrong.
    """
    if not isinstance(models, (list, tuple)) or not models:
        raise _Refused("the state has no list of models")
    d = n_features
    out = []
    for k, model in enumerate(models):
        if not isinstance(model, dict):
            raise _Refused(f"model {k} is not a mapping")
        try:
            p, st, ct = (model[key] for key in ("params", "state", "counters"))
            curve = model["loss_curve"]
        except KeyError as exc:
            raise _Refused(f"model {k} lacks {exc}") from None
        p = _real_array(p, f"model {k} params", 1)
        st = _real_array(st, f"model {k} state", 2)
        ct = _real_array(ct, f"model {k} counters", 1)
        if (
            p.shape != (d + 1,)
            or st.shape[1] != d + 1
            or not C.ST_Q + 1 <= st.shape[0] <= C.N_ST
            or not C.SC_ETA + 1 <= ct.shape[0] <= C.N_SC
        ):
            raise _Refused(
                f"model {k} has arrays of the wrong shape: params {p.shape}, state "
                f"{st.shape}, counters {ct.shape} for {d} features"
            )
        if not (np.isfinite(p).all() and np.isfinite(st).all() and np.isfinite(ct).all()):
            raise _Refused(f"model {k} has NaN or infinite parameters or optimizer state")
        t = ct[C.SC_T]
        if not (1.0 <= t <= _T_MAX and t == math.floor(t)):
            raise _Refused(f"model {k} has the step counter t = {t!r}")
        if ct[C.SC_U] < 0.0:
            raise _Refused(f"model {k} has a negative L1 accumulator u = {ct[C.SC_U]!r}")
        curve = np.asarray(curve)
        if curve.ndim != 1 or curve.dtype.kind not in "iuf":
            raise _Refused(f"model {k} has a loss curve of shape {curve.shape} x {curve.dtype}")
        full_state = C.new_state(d)
        full_state[: st.shape[0]] = st
        full_counters = C.new_counters()
        full_counters[: ct.shape[0]] = ct
        out.append((p, full_state, full_counters, curve.astype(np.float64).tolist()))
    return out


def check_classes(classes, n_models: int, classifier: bool):
    """The classes as an array (None for a regressor): 1-D numeric or string labels,
    strictly increasing (as ``np.unique`` gives them), finite, and as many as the models
    need (two for one binary model, else one per model)."""
    if not classifier:
        if classes is not None:
            raise _Refused("a regressor's state has no classes")
        if n_models != 1:
            raise _Refused(f"a regressor's state has one model, got {n_models}")
        return None
    if classes is None:
        raise _Refused("a classifier's state needs its classes")
    classes = np.asarray(classes)
    if classes.ndim != 1 or classes.dtype.kind not in "biufUO":
        raise _Refused(
            f"classes must be a 1-D array of labels, got {classes.shape} x {classes.dtype}"
        )
    n = classes.shape[0]
    if n < 2:
        raise _Refused("a classifier's state needs at least two classes")
    if n_models != (1 if n == 2 else n):
        raise _Refused(f"{n} classes need {1 if n == 2 else n} models, got {n_models}")
    if classes.dtype.kind == "f" and not np.isfinite(classes).all():
        raise _Refused("classes contain NaN or infinity")
    try:
        increasing = bool((classes[1:] > classes[:-1]).all())
    except TypeError:  # object labels of types that do not compare
        increasing = False
    if not increasing:
        raise _Refused("classes are not sorted and unique")
    return classes.astype(classes.dtype.newbyteorder("=")) if classes.dtype.kind != "O" else classes


def check_pending(pending, n_features: int, n_models: int, classifier: bool):
    """The rows waiting in the mini-batch buffer, ``(X, Y, sw)``, checked; or None.

    ``X`` dense (2-D float32 / float64, ``n_features`` columns; a native C-contiguous
    copy) or CSR (validated in full by ``fastgd._sparse.check_csr``), all finite; ``Y``
    ``(rows, n_models)`` float64 (a classifier's: -1 or +1, and with more than one model
    exactly one +1 a row); ``sw`` ``(rows,)`` finite and non-negative. No rows: None.
    """
    from . import _sparse

    if pending is None:
        return None
    if not isinstance(pending, (tuple, list)) or len(pending) != 3:
        raise _Refused("the waiting rows are not an (X, Y, sample_weight) triple")
    X, Y, sw = pending
    if _sparse.issparse(X):
        try:
            X = _sparse.check_csr(X, n_features=n_features, argument="the waiting rows")
        except (TypeError, ValueError) as exc:
            raise _Refused(str(exc).rstrip(".")) from None
        data = X.data
    else:
        X = np.asarray(X)
        if X.ndim != 2 or X.dtype.kind != "f" or X.dtype.itemsize not in (4, 8):
            raise _Refused(f"the waiting rows are {X.shape} x {X.dtype}, not 2-D float32/64")
        if X.shape[1] != n_features:
            raise _Refused(f"the waiting rows have {X.shape[1]} columns for {n_features} features")
        X = np.array(X, dtype=X.dtype.newbyteorder("="), order="C")
        data = X
    Y = _real_array(Y, "the waiting rows' targets", 2)
    sw = _real_array(sw, "the waiting rows' weights", 1)
    m = X.shape[0]
    if Y.shape != (m, n_models) or sw.shape != (m,):
        raise _Refused(
            f"the waiting rows do not fit together: X {X.shape}, Y {Y.shape} (expected "
            f"({m}, {n_models})), sample weights {sw.shape}"
        )
    if not (np.isfinite(data).all() and np.isfinite(Y).all()):
        raise _Refused("the waiting rows contain NaN or infinity")
    if not (np.isfinite(sw).all() and (sw >= 0).all()):
        raise _Refused("the waiting rows have negative or non-finite sample weights")
    if classifier and not (
        np.isin(Y, (-1.0, 1.0)).all() and (n_models == 1 or ((Y == 1.0).sum(axis=1) == 1).all())
    ):
        raise _Refused("the waiting rows' class targets are not one-vs-rest +1 / -1")
    if m == 0:
        return None
    return X, Y, sw


def check_state(state, classifier: bool) -> dict:
    """A training-state dict's scalars and arrays, checked against each other.

    The counterpart of :func:`read` for a dict from anywhere (``from_training_state``):
    returns ``n_features_in``, ``n_iter``, ``optimizer``, ``models`` (see
    :func:`check_models`), ``classes`` (:func:`check_classes`), ``feature_names_in``,
    ``rng`` (:func:`check_rng_state`) and ``pending`` (:func:`check_pending`). The
    constructor parameters are left to the estimator's own validation.

    Raises
    ------
    ValueError
        Naming what does not fit.
    """
    if not isinstance(state, dict):
        raise _Refused(f"a training state is a dict, got {type(state).__name__}")
    try:
        d = _int(state["n_features_in"], "n_features_in", 1, _INT32_MAX)
        n_iter = _int(state["n_iter"], "n_iter", 0, _INT_MAX)
        models = check_models(state["models"], d)
        rng = check_rng_state(state["rng"])
    except KeyError as exc:
        raise _Refused(f"the training state lacks {exc}") from None
    optimizer = state.get("optimizer")
    if not (optimizer is None or isinstance(optimizer, str)):
        raise _Refused(f"the training state names the optimizer {optimizer!r:.80}")
    classes = check_classes(state.get("classes"), len(models), classifier)
    names = state.get("feature_names_in")
    if names is not None:
        names = np.asarray(names)
        if names.shape != (d,) or names.dtype.kind not in "OU":
            raise _Refused(f"feature names {names.shape} x {names.dtype} for {d} features")
        if names.dtype.kind == "O" and not all(isinstance(n, str) for n in names):
            raise _Refused("feature names must be strings")
        names = names.astype(object)
    pending = check_pending(state.get("pending"), d, len(models), classifier)
    return {
        "n_features_in": d,
        "n_iter": n_iter,
        "optimizer": optimizer,
        "models": models,
        "classes": classes,
        "feature_names_in": names,
        "rng": rng,
        "pending": pending,
    }


def save(estimator, path) -> Path:
    """``estimator.save(path)``: write its :meth:`~fastgd.SGDRegressor.training_state` with :func:`write`."""
    if not callable(getattr(estimator, "training_state", None)):
        raise TypeError(
            f"checkpoints hold fastgd.SGDRegressor and fastgd.SGDClassifier, not "
            f"{type(estimator).__qualname__}."
        )
    return write(path, estimator.training_state())
