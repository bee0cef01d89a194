"""Streaming: train on an endless sequence of ``(X, y)`` chunks with bounded memory.

:func:`fit_stream` feeds chunks to ``estimator.partial_fit`` with a progress bar
(tqdm, rows/s), progressive validation (test-then-train: each chunk is scored by
the current model before the model learns it), periodic atomic checkpoints and
interrupt safety. The readers :func:`read_npy`, :func:`read_csv`,
:func:`read_parquet`, :func:`read_svmlight` (svmlight / libsvm text files, as
``scipy.sparse`` CSR chunks) and :func:`read_path` turn files (or a directory of
chunk files) into such chunks, holding one chunk (plus one reader block) in memory
whatever the file size. CSV and Parquet are read through ``pyarrow.dataset``:
directories recursively, ``key=value`` directories as hive partition columns, only
the selected columns (``features=``, ``target=``, ``drop=``), compressed CSV
(``.csv.gz``, ``.csv.bz2``, ``.csv.zst``); the readers' ``feature_names`` go into the
model's ``feature_names_in_`` and, with the target's name, into its checkpoints.

Because ``partial_fit`` is chunk-invariant, streaming a data set through
:func:`fit_stream` with ``shuffle=False`` gives, bit for bit, the model that one
``partial_fit`` call over the concatenated data gives (followed by ``flush()``),
whatever the chunk sizes.

Example
-------
>>> import numpy as np, fastgd
>>> from fastgd.stream import fit_stream
>>> rng = np.random.default_rng(0)
>>> def chunks():
...     for _ in range(20):
...         X = rng.normal(size=(500, 3))
...         yield X, X @ [1.0, -2.0, 0.5] + 0.3
>>> report = fit_stream(fastgd.SGDRegressor(random_state=0), chunks(), progress=False)
>>> report.rows, report.chunks, bool(report.score[-1] > 0.99)
(10000, 20, True)

Importing this module imports neither tqdm nor pyarrow (nor scipy.sparse and
scikit-learn's svmlight parser): each is imported when first needed (a progress
bar; a CSV or Parquet file; an svmlight file). Parquet needs pyarrow
(``pip install 'fastgd[stream]'``); CSV falls back to a slower pure-Python
reader without it.
"""

from __future__ import annotations

import contextlib
import csv
import json
import math
import os
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = [
    "ChunkReader",
    "StreamReport",
    "fit_stream",
    "read_csv",
    "read_npy",
    "read_parquet",
    "read_path",
    "read_svmlight",
    "skip_rows",
    "stream_position",
]

DEFAULT_CHUNK_ROWS = 10_000
#: Suffixes of svmlight / libsvm text files (:func:`read_svmlight`). Not ``.txt``:
#: text files of other layouts share it, so an svmlight ``.txt`` file is read with
#: :func:`read_svmlight` directly.
SVMLIGHT_SUFFIXES = (".svm", ".svmlight", ".libsvm")
#: Suffixes :func:`read_path` understands (a directory may mix them).
SUFFIXES = (".npy", ".csv", ".parquet", ".pq", *SVMLIGHT_SUFFIXES)
_POSITION_SUFFIX = ".stream.json"
_NPY_WINDOW_BYTES = 16 << 20  # re-map a .npy file after this many bytes: bounded RSS
_SVM_BLOCK_BYTES = 4 << 20  # svmlight files are parsed in line-aligned blocks of ~this size


# --------------------------------------------------------------------------- report
@dataclass
class StreamReport:
    """What :func:`fit_stream` did.

    Attributes
    ----------
    rows : int
        Rows passed to ``partial_fit`` by this call (rows skipped with ``skip_rows``
        not counted; rows still waiting in the mini-batch buffer counted).
    chunks : int
        Chunks passed to ``partial_fit``.
    seconds : float
        Wall-clock time of the whole call (reading, validation, training, checkpoints).
    rows_per_second : float
        ``rows / seconds``.
    position : int
        Rows of the stream consumed, counting ``skip_rows``: where a resumed run starts.
    chunk_rows : ndarray of shape (chunks,), int64
        Rows of each chunk.
    loss : ndarray of shape (chunks,), float64
        Progressive validation: mean loss (the estimator's ``loss``, sample-weighted,
        one-vs-rest problems averaged) of each chunk under the model *before* it
        learned the chunk. NaN where not measured (the first chunk of an unfitted
        estimator, or ``validate=False``).
    score : ndarray of shape (chunks,), float64
        Progressive R^2 (regressor) or accuracy (classifier), measured as ``loss``.
    score_name : str
        ``"r2"`` or ``"accuracy"``.
    flushed_rows : int
        Rows applied by the final ``flush()`` (0 if none waited or ``flush=False``).
    checkpoints : int
        Checkpoints written.
    """

    rows: int = 0
    chunks: int = 0
    seconds: float = 0.0
    rows_per_second: float = 0.0
    position: int = 0
    chunk_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    score_name: str = "r2"
    flushed_rows: int = 0
    checkpoints: int = 0

    def progressive_loss(self) -> float:
        """Row-weighted mean of the measured progressive losses (NaN if none)."""
        return _weighted_nanmean(self.loss, self.chunk_rows)

    def progressive_score(self) -> float:
        """Row-weighted mean of the measured progressive scores (NaN if none)."""
        return _weighted_nanmean(self.score, self.chunk_rows)


def _weighted_nanmean(values: np.ndarray, weights: np.ndarray) -> float:
    ok = np.isfinite(values)
    if not ok.any():
        return float("nan")
    return float(np.average(values[ok], weights=weights[ok]))


class _History:
    """Per-chunk records in compact arrays (8 bytes per value, not Python floats)."""

    def __init__(self):
        self.rows = array("q")
        self.loss = array("d")
        self.score = array("d")

    def fill(self, report: StreamReport) -> None:
        report.chunk_rows = np.array(self.rows, dtype=np.int64)
        report.loss = np.array(self.loss, dtype=np.float64)
        report.score = np.array(self.score, dtype=np.float64)


# --------------------------------------------------------------------------- losses
def _log1pexp(x: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, x)


def _loss_values(loss: str, p: np.ndarray, y: np.ndarray, epsilon: float) -> np.ndarray:
    """Vectorised ``L(p, y)`` of :func:`fastgd.reference.loss_value` (y in {-1, 1} for classifiers)."""
    if loss == "squared_error":
        return 0.5 * (p - y) ** 2
    if loss == "huber":
        a = np.abs(y - p)
        return np.where(a <= epsilon, 0.5 * a * a, epsilon * (a - 0.5 * epsilon))
    if loss == "epsilon_insensitive":
        return np.maximum(np.abs(y - p) - epsilon, 0.0)
    if loss == "squared_epsilon_insensitive":
        return np.maximum(np.abs(y - p) - epsilon, 0.0) ** 2
    if loss == "log_loss":
        return _log1pexp(p) - (y > 0) * p
    z = p * y
    if loss == "hinge":
        return np.maximum(1.0 - z, 0.0)
    if loss == "perceptron":
        return np.maximum(-z, 0.0)
    if loss == "squared_hinge":
        return np.maximum(1.0 - z, 0.0) ** 2
    if loss == "modified_huber":
        return np.where(z >= 1.0, 0.0, np.where(z >= -1.0, (1.0 - z) ** 2, -4.0 * z))
    raise ValueError(f"unknown loss {loss!r}")


def _is_classifier(estimator) -> bool:
    return getattr(estimator, "_estimator_type", None) == "classifier"


def _progressive(estimator, X, y, sw) -> tuple[float, float]:
    """Mean loss and R^2 / accuracy of the current model on a chunk it has not seen yet.

    X goes to the estimator as it came (a dense array or a scipy.sparse matrix); only
    y, the weights and the estimator's outputs are handled here. An output of shape
    (n, 1), what a sparse product with an ``np.matrix`` gives, is read as (n,).
    """
    weights = np.ones(len(y)) if sw is None else np.asarray(sw, dtype=np.float64)
    if weights.sum() <= 0:
        return float("nan"), float("nan")
    loss_name = getattr(estimator, "loss", "squared_error")
    epsilon = float(getattr(estimator, "epsilon", 0.1))
    y = np.asarray(y)
    if _is_classifier(estimator):
        scores = np.asarray(estimator.decision_function(X), dtype=np.float64)
        if scores.ndim == 2 and scores.shape[1] == 1:
            scores = scores[:, 0]
        classes = estimator.classes_
        if scores.ndim == 1:
            signs = np.where(y == classes[1], 1.0, -1.0)
            pred = classes[(scores > 0).astype(np.intp)]
        else:
            signs = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
            pred = classes[scores.argmax(axis=1)]
        per_row = _loss_values(loss_name, scores, signs, epsilon)
        if per_row.ndim == 2:
            per_row = per_row.mean(axis=1)
        score = np.average(pred == y, weights=weights)
    else:
        pred = np.asarray(estimator.predict(X), dtype=np.float64).reshape(len(y))
        yf = y.astype(np.float64, copy=False)
        per_row = _loss_values(loss_name, pred, yf, epsilon)
        resid = np.sum(weights * (yf - pred) ** 2)
        total = np.sum(weights * (yf - np.average(yf, weights=weights)) ** 2)
        score = 1.0 - resid / total if total > 0 else (1.0 if resid == 0 else 0.0)
    return float(np.average(per_row, weights=weights)), float(score)


# --------------------------------------------------------------------------- checkpoints
def _position_path(checkpoint: Path) -> Path:
    return checkpoint.with_name(checkpoint.name + _POSITION_SUFFIX)


def _save_checkpoint(
    estimator, checkpoint: Path, position: int, chunks: int, names: dict | None = None
) -> bool:
    """Save the estimator (atomically, by ``estimator.save``) and its stream position.

    ``names``: ``feature_names_in`` and ``target_name`` of the stream's columns, written
    into the checkpoint with the estimator's state (:func:`fastgd.checkpoint.write`).
    The position goes to ``<checkpoint>.stream.json`` (also written atomically) with
    the estimator's ``t_`` and buffered rows, so that :func:`stream_position` can tell
    when the two files do not belong together. Returns False for an unfitted estimator.
    """
    if not hasattr(estimator, "coef_"):
        return False
    names = {k: v for k, v in (names or {}).items() if v is not None}
    if names and callable(getattr(estimator, "training_state", None)):
        from . import checkpoint as _checkpoint

        _checkpoint.write(checkpoint, {**estimator.training_state(), **names})
    else:
        estimator.save(checkpoint)
    record = {
        "rows": int(position),
        "chunks": int(chunks),
        "t": float(estimator.t_),
        "n_pending": int(getattr(estimator, "n_pending_", 0)),
    }
    side = _position_path(checkpoint)
    # a unique temporary file created exclusively beside it (a planted "<name>.tmp"
    # link is never followed), renamed over it: readers see the old or the new record
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{side.name}.", suffix=".tmp", dir=side.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(json.dumps(record))
        os.replace(tmp, side)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return True


def stream_position(checkpoint: str | os.PathLike, estimator=None) -> int:
    """Rows of the stream that the checkpoint written by :func:`fit_stream` has consumed.

    Parameters
    ----------
    checkpoint : path-like
        The ``checkpoint`` file given to :func:`fit_stream`.
    estimator : SGDRegressor or SGDClassifier, optional
        The estimator loaded from it (``fastgd.load(checkpoint)``); when given, its
        ``t_`` and buffered rows must match the position record.

    Returns
    -------
    int
        Pass it as ``skip_rows`` to :func:`fit_stream` over the same stream to
        continue where the checkpoint stands; 0 when there is no position record
        (a checkpoint saved by ``estimator.save`` directly).

    Raises
    ------
    ValueError
        The position record is unreadable or belongs to another checkpoint.
    """
    side = _position_path(Path(checkpoint))
    if not side.exists():
        return 0
    try:
        record = json.loads(side.read_text())
        rows = int(record["rows"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{side}: unreadable stream position ({exc}).") from None
    if estimator is not None and (
        float(record.get("t", -1)) != float(estimator.t_)
        or int(record.get("n_pending", -1)) != int(getattr(estimator, "n_pending_", 0))
    ):
        raise ValueError(
            f"{side} does not match {checkpoint} (the checkpoint was replaced or the save "
            "was interrupted); delete the position file to start the stream from its beginning."
        )
    return rows


def skip_rows(chunks: Iterable, n: int) -> Iterator[tuple]:
    """Drop the first ``n`` rows of a stream of ``(X, y[, sample_weight])`` chunks.

    A chunk straddling row ``n`` is cut; the rest pass unchanged.
    """
    if n < 0:
        raise ValueError(f"skip_rows must be >= 0, got {n}.")
    left = int(n)
    for chunk in chunks:
        if left == 0:
            yield chunk
            continue
        rows = len(chunk[1])
        if rows <= left:
            left -= rows
            continue
        yield tuple(None if a is None else a[left:] for a in chunk)
        left = 0


_skip_rows = skip_rows  # fit_stream's parameter of the same name hides the function


# --------------------------------------------------------------------------- fit_stream
def _unpack(chunk, index: int):
    if not isinstance(chunk, (tuple, list)) or len(chunk) not in (2, 3):
        raise TypeError(
            f"chunk {index} is a {type(chunk).__name__}; the stream must yield (X, y) or "
            "(X, y, sample_weight) tuples."
        )
    X, y = chunk[0], chunk[1]
    if y is None:
        raise TypeError(
            f"chunk {index} has no target (y is None): fit_stream learns (X, y) chunks; read "
            "the data with its target column (target=...)."
        )
    sw = chunk[2] if len(chunk) == 3 else None
    return X, y, sw


def fit_stream(
    estimator,
    chunks: Iterable,
    *,
    classes=None,
    progress: bool = True,
    validate: bool = True,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_every: int | None = None,
    checkpoint_every_rows: int | None = None,
    flush: bool = True,
    total_rows: int | None = None,
    skip_rows: int = 0,
) -> StreamReport:
    """Train ``estimator`` with ``partial_fit`` over a stream of chunks.

    Parameters
    ----------
    estimator : SGDRegressor or SGDClassifier
        Unfitted, or fitted / loaded from a checkpoint to continue a stream. Any
        estimator with scikit-learn's ``partial_fit`` works; checkpoints need ``save``.
    chunks : iterable of tuples
        ``(X, y)`` or ``(X, y, sample_weight)``: X of shape (n_rows, n_features),
        float32 or float64 (float64 C-contiguous X and float64 y take the fastest
        path), dense or a ``scipy.sparse`` CSR matrix (as :func:`read_svmlight`
        yields; passed to ``partial_fit`` unchanged, so the estimator must take it),
        y of shape (n_rows,), sample_weight of shape (n_rows,). Chunk sizes
        may vary, and so may the kind of X from one chunk to the next. A generator is
        consumed once; readers of this module can be iterated again. Where ``chunks``
        has ``feature_names`` (the readers of this module, for named columns), the
        trained estimator gets them as ``feature_names_in_`` (an estimator that
        already has names must have these: ValueError before anything is learned),
        and checkpoints record them with ``target_name``.
    classes : array-like of shape (n_classes,), optional
        All class labels; required for an unfitted classifier (passed on to
        ``partial_fit``).
    progress : bool, default=True
        Show a tqdm progress bar on stderr, counting rows (rate in rows/s) with the
        latest progressive loss and score in its postfix.
    validate : bool, default=True
        Progressive validation: before learning a chunk, record its mean loss and R^2
        (regressor) or accuracy (classifier) under the current model. Skipped for the
        first chunk of an unfitted estimator. Costs one prediction per chunk.
    checkpoint : path-like, optional
        Where to save the estimator (``estimator.save``, atomic: a crash mid-save
        leaves the previous checkpoint) every ``checkpoint_every`` chunks /
        ``checkpoint_every_rows`` rows, at the end, and when the stream is
        interrupted. ``<checkpoint>.stream.json`` records the stream position; see
        :func:`stream_position`.
    checkpoint_every : int, optional
        Save after every this many chunks.
    checkpoint_every_rows : int, optional
        Save as soon as this many rows were learned since the last save.
    flush : bool, default=True
        At the end of the stream call ``estimator.flush()``: with ``batch_size=B > 1``
        the last ``n % B`` rows of the stream wait in ``partial_fit``'s buffer for a
        complete mini-batch; ``flush`` applies them as one smaller batch (what ``fit``
        does with the last batch of an epoch), so that no row is left unlearned. Pass
        False when this stream will be continued later (the buffer is kept, also in
        checkpoints, and the continued stream stays identical to one pass).
    total_rows : int, optional
        Length of the stream, for the progress bar's total and ETA (default: the
        stream's ``total_rows`` attribute when it has one, as the readers here do).
    skip_rows : int, default=0
        Rows at the start of the stream already learned (resuming from a checkpoint:
        ``skip_rows=stream_position(checkpoint)``); they are read and dropped.

    Returns
    -------
    StreamReport
        Rows, chunks, time, throughput and the progressive-validation history.

    Raises
    ------
    KeyboardInterrupt, Exception
        Whatever interrupts the stream (Ctrl-C, an error of the data source, a chunk
        ``partial_fit`` refuses) is re-raised after the estimator is left at its last
        completed chunk (``partial_fit`` applies a chunk entirely or not at all) and,
        when ``checkpoint`` is given, saved there. The partial :class:`StreamReport`
        is attached to the exception as ``exc.stream_report``. Divergence
        (``fastgd``'s ``DivergenceError``) is re-raised without a checkpoint, so that a
        diverged model does not replace the last good one.
    """
    if checkpoint_every is not None and int(checkpoint_every) < 1:
        raise ValueError(
            f"checkpoint_every must be a positive number of chunks, got {checkpoint_every}."
        )
    if checkpoint_every_rows is not None and int(checkpoint_every_rows) < 1:
        raise ValueError(
            f"checkpoint_every_rows must be a positive number of rows, got {checkpoint_every_rows}."
        )
    if (checkpoint_every or checkpoint_every_rows) and checkpoint is None:
        raise ValueError("checkpoint_every / checkpoint_every_rows need a checkpoint path.")
    if skip_rows < 0:
        raise ValueError(f"skip_rows must be >= 0, got {skip_rows}.")
    ck_path = None if checkpoint is None else Path(checkpoint)
    if total_rows is None:
        total_rows = getattr(chunks, "total_rows", None)
    names, held = _stream_names(estimator, chunks)
    is_clf = _is_classifier(estimator)
    score_name = "accuracy" if is_clf else "r2"
    report = StreamReport(score_name=score_name, position=int(skip_rows))
    history = _History()
    fit = estimator.partial_fit
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=total_rows,
            initial=int(skip_rows),
            unit="rows",
            unit_scale=True,
            file=sys.stderr,
            dynamic_ncols=True,
            smoothing=0.1,
        )
    since_ck_chunks = since_ck_rows = 0
    in_flight = None
    t0 = time.perf_counter()
    source = iter(chunks)
    if skip_rows:
        source = _skip_rows(source, skip_rows)
    saving = False  # a checkpoint is being written (its failure is not an interruption)
    if held is not None:  # the chunks are plain arrays: learned without the names' checks
        del estimator.feature_names_in_
    try:
        index = 0
        while True:
            chunk = next(source, None)  # the data source's errors propagate from here
            if chunk is None:
                break
            X, y, sw = _unpack(chunk, index)
            n = len(y)
            loss = score = math.nan
            try:
                if validate and n and hasattr(estimator, "coef_"):
                    loss, score = _progressive(estimator, X, y, sw)
                # a Ctrl-C landing after partial_fit returned but before the bookkeeping
                # below is told apart by the estimator's update counter (see the handler)
                in_flight = (n, loss, score, _signature(estimator))
                if is_clf:
                    fit(X, y, classes=classes, sample_weight=sw)
                elif sw is None:
                    fit(X, y)
                else:
                    fit(X, y, sample_weight=sw)
            except ValueError as exc:  # count a bad row from the start of the stream
                from ._driver import BadRowError

                if not isinstance(exc, BadRowError):
                    raise
                raise exc.moved(
                    report.position, f" of the stream: row {exc.row}{exc.where} of chunk {index}"
                ) from None
            _account(report, history, n, loss, score)  # the chunk is learned
            in_flight = None
            index += 1
            since_ck_chunks += 1
            since_ck_rows += n
            if bar is not None:
                if not math.isnan(loss):
                    bar.set_postfix(
                        {"loss": f"{loss:.4g}", score_name: f"{score:.4f}"}, refresh=False
                    )
                bar.update(n)
            if ck_path is not None and (
                (checkpoint_every and since_ck_chunks >= checkpoint_every)
                or (checkpoint_every_rows and since_ck_rows >= checkpoint_every_rows)
            ):
                saving = True
                report.checkpoints += _save_checkpoint(
                    estimator, ck_path, report.position, report.chunks, names
                )
                saving = False
                since_ck_chunks = since_ck_rows = 0
        if flush and hasattr(estimator, "flush") and getattr(estimator, "n_pending_", 0):
            report.flushed_rows = int(estimator.n_pending_)
            estimator.flush()
        if ck_path is not None:
            saving = True
            report.checkpoints += _save_checkpoint(
                estimator, ck_path, report.position, report.chunks, names
            )
            saving = False
    except BaseException as exc:
        if in_flight is not None and in_flight[0] and _signature(estimator) != in_flight[3]:
            _account(report, history, *in_flight[:3])  # applied, not yet accounted
        _finish(report, history, t0)
        from ._driver import DivergenceError

        if saving and isinstance(exc, (ValueError, TypeError)):
            # the checkpoint itself failed (not an interruption): say so, once
            failed = type(exc)(
                f"{ck_path}: could not write the checkpoint at row {report.position} of the "
                f"stream ({exc}); the model stands there, unchanged by the failed save."
            )
            failed.stream_report = report
            raise failed from exc
        if ck_path is not None and not saving and not isinstance(exc, DivergenceError):
            try:
                report.checkpoints += _save_checkpoint(
                    estimator, ck_path, report.position, report.chunks, names
                )
            except Exception as save_exc:  # never hide the original error
                what = "the interruption" if isinstance(exc, KeyboardInterrupt) else "the error"
                print(
                    f"fastgd.stream: could not save the checkpoint after {what} "
                    f"({type(exc).__name__}): {save_exc}",
                    file=sys.stderr,
                )
        try:
            exc.stream_report = report
        except AttributeError:  # pragma: no cover - exceptions without a __dict__
            pass
        raise
    finally:
        if bar is not None:
            bar.close()
        _restore_names(estimator, names, held)
    _finish(report, history, t0)
    return report


def _stream_names(estimator, chunks) -> tuple[dict, object]:
    """The stream's column names (a reader's ``feature_names`` / ``target_name``), checked
    against the names the estimator was trained on; and those names, if it has any.

    Raises ValueError (before anything is learned) when both name the columns and differ.
    """
    feature_names = getattr(chunks, "feature_names", None)
    names = {
        "feature_names_in": None
        if feature_names is None
        else np.asarray([str(n) for n in feature_names], dtype=object),
        "target_name": getattr(chunks, "target_name", None),
    }
    held = getattr(estimator, "__dict__", {}).get("feature_names_in_")
    new = names["feature_names_in"]
    if new is None:
        return names, None  # chunks that name nothing: the estimator checks them itself
    if held is not None and not np.array_equal(np.asarray(held, dtype=object), new):
        raise ValueError(
            f"the stream's feature columns {list(new)} are not the ones "
            f"{type(estimator).__name__} was trained on ({list(held)}); read the data with "
            "those columns (features=, --features)."
        )
    n_in = getattr(estimator, "n_features_in_", None)
    if n_in is not None and n_in != len(new):
        raise ValueError(
            f"the stream has {len(new)} feature columns ({list(new)}), but "
            f"{type(estimator).__name__} was trained on {n_in}."
        )
    return names, held


def _restore_names(estimator, names: dict, held) -> None:
    """Give the trained estimator the stream's feature names (``feature_names_in_``)."""
    new = names["feature_names_in"]
    if new is None:
        return
    if getattr(estimator, "n_features_in_", None) == len(new):
        estimator.feature_names_in_ = new
    elif held is not None:
        estimator.feature_names_in_ = held


def _signature(estimator) -> tuple:
    """Changes whenever ``partial_fit`` applies a non-empty chunk (updates or buffered rows)."""
    return getattr(estimator, "t_", None), getattr(estimator, "n_pending_", None)


def _account(report: StreamReport, history: _History, n: int, loss: float, score: float) -> None:
    history.rows.append(n)
    history.loss.append(loss)
    history.score.append(score)
    report.rows += n
    report.chunks += 1
    report.position += n


def _finish(report: StreamReport, history: _History, t0: float) -> None:
    report.seconds = time.perf_counter() - t0
    report.rows_per_second = report.rows / report.seconds if report.seconds > 0 else 0.0
    history.fill(report)


# --------------------------------------------------------------------------- readers
class ChunkReader:
    """An iterable of ``(X, y)`` chunks read from a file; iterate it again to re-read.

    Attributes
    ----------
    path : Path
        The file or directory.
    chunk_rows : int
        Rows per chunk (the last chunk of a file, or of a run of files of one format in
        a directory, may be shorter).
    total_rows : int or None
        Rows in the file(s) when known without reading them (.npy, Parquet), else None.
    feature_names : list of str or None
        Names of X's columns, in order, where the data names them (a CSV header, Parquet
        columns, hive partition keys); None for ``.npy`` files, CSV files without a
        header and svmlight files. :func:`fit_stream` carries them into the model's
        ``feature_names_in_``.
    target_name : str or None
        Name of the target column where the data names it.
    feature_columns : list of str or None
        X's columns as names or, where the data has none, as column indices (``"0"``,
        ``"1"``, ...); None for svmlight files (sparse columns).
    target_column : str or None
        The target column, as a name or index; None when no target is read
        (``target=None``: the chunks are ``(X, None)``).
    """

    def __init__(
        self,
        path: Path,
        chunk_rows: int,
        total_rows: int | None,
        factory: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
        *,
        feature_names: list[str] | None = None,
        target_name: str | None = None,
        feature_columns: list[str] | None = None,
        target_column: str | None = None,
        counted: Callable[[int], Iterator[tuple]] | None = None,
    ):
        self.path = path
        self.chunk_rows = chunk_rows
        self.total_rows = total_rows
        self.feature_names = None if feature_names is None else list(feature_names)
        self.target_name = target_name
        self.feature_columns = None if feature_columns is None else list(feature_columns)
        self.target_column = target_column
        self._factory = factory
        # the chunks with errors counting rows from ``start_row`` (a reader inside a
        # directory's stream is told how many rows came before it)
        self._counted = counted

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        return self._factory()

    def _iter_from(self, start_row: int) -> Iterator[tuple]:
        return self._factory() if self._counted is None else self._counted(start_row)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, chunk_rows={self.chunk_rows}, "
            f"total_rows={self.total_rows})"
        )


def _counted_reader(path, chunk_rows, total, chunks, **names) -> ChunkReader:
    """A :class:`ChunkReader` of ``chunks(start_row)``; iterating it starts at row 0."""
    return ChunkReader(path, chunk_rows, total, lambda: chunks(0), counted=chunks, **names)


def _check_chunk_rows(chunk_rows) -> int:
    if (
        isinstance(chunk_rows, bool)
        or not isinstance(chunk_rows, (int, np.integer))
        or chunk_rows < 1
    ):
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}.")
    return int(chunk_rows)


def _column_index(col, names: list[str], path, what: str) -> int:
    """Index of column ``col`` (a name, or an index counting from the end if negative)."""
    n = len(names)
    if isinstance(col, (int, np.integer)) and not isinstance(col, bool):
        if not -n <= col < n:
            raise ValueError(f"{path}: {what} column {col} is out of range for {n} columns.")
        return int(col) % n
    if isinstance(col, str):
        if col in names:
            return names.index(col)
        raise ValueError(f"{path}: no column named {col!r}; columns are {names}.")
    raise TypeError(f"{what} must be a column name or index, got {col!r}.")


def _resolve_target(target, names: list[str], path) -> int:
    """Column index of ``target`` (a name, or an index counting from the end if negative)."""
    return _column_index(target, names, path, "target")


def _column_list(value, what: str) -> list:
    if isinstance(value, (str, int, np.integer)) and not isinstance(value, bool):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(
            f"{what} must be a list of column names or indices, got {value!r:.80}."
        ) from None
    for item in items:
        if isinstance(item, bool) or not isinstance(item, (str, int, np.integer)):
            raise TypeError(f"{what} must hold column names or indices, got {item!r:.80}.")
    return items


def _select_columns(names: list[str], target, features, drop, path) -> tuple[int | None, list[int]]:
    """``(target index or None, feature indices)`` of ``names`` for the readers' arguments.

    ``features`` (names or indices, in the order X gets them) or ``drop`` (columns
    left out); by default every column but the target is a feature.
    """
    t = None if target is None else _column_index(target, names, path, "target")
    if features is not None and drop is not None:
        raise ValueError(
            "give the feature columns (features=, --features) or the columns to leave out "
            "(drop=, --drop), not both."
        )
    if features is not None:
        idx = [_column_index(c, names, path, "feature") for c in _column_list(features, "features")]
        if not idx:
            raise ValueError(f"{path}: features= selects no column; columns are {names}.")
        seen = set()
        for j in idx:
            if j in seen:
                raise ValueError(f"{path}: features= names column {names[j]!r} twice.")
            seen.add(j)
        if t is not None and t in seen:
            raise ValueError(
                f"{path}: column {names[t]!r} is the target; it cannot also be a feature."
            )
        return t, idx
    dropped = set()
    if drop is not None:
        dropped = {_column_index(c, names, path, "drop") for c in _column_list(drop, "drop")}
    if t is not None and t in dropped:
        raise ValueError(f"{path}: drop= names the target column {names[t]!r}.")
    idx = [j for j in range(len(names)) if j != t and j not in dropped]
    if not idx:
        raise ValueError(f"{path}: no feature columns are left (columns: {names}).")
    return t, idx


def _column_names(names: list[str], t: int | None, idx: list[int], named: bool) -> dict:
    """The naming attributes of a :class:`ChunkReader` for these selected columns."""
    return {
        "feature_names": [names[j] for j in idx] if named else None,
        "target_name": names[t] if named and t is not None else None,
        "feature_columns": [names[j] for j in idx],
        "target_column": None if t is None else names[t],
    }


def _take(block: np.ndarray, idx: list[int], t: int | None):
    """(X, y) copies of a 2-D block: X its columns ``idx`` (C-contiguous), y column ``t``."""
    X = block[:, idx] if idx != list(range(block.shape[1])) else np.array(block, order="C")
    X = np.ascontiguousarray(X)
    if X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    y = None if t is None else np.array(block[:, t], dtype=np.float64)
    return X, y


def read_npy(
    path_X: str | os.PathLike,
    path_y: str | os.PathLike | None = None,
    *,
    target_column: int | None = -1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    features=None,
    drop=None,
) -> ChunkReader:
    """Chunks of a ``.npy`` file, memory-mapped: only the rows being read are in memory.

    Parameters
    ----------
    path_X : path-like
        2-D ``.npy`` array of shape (n_rows, n_columns), numeric dtype. Without
        ``path_y`` it holds the features and the target column.
    path_y : path-like, optional
        1-D ``.npy`` array of shape (n_rows,): the target.
    target_column : int or None, default=-1
        Index of the target column in ``path_X`` when ``path_y`` is not given. None:
        no target (the chunks are ``(X, None)``, for prediction).
    chunk_rows : int, default=10000
        Rows per chunk.
    features : list of int, optional
        The columns of ``path_X`` that make X, in this order (default: all but the
        target).
    drop : list of int, optional
        Columns left out of X (instead of ``features``).

    Returns
    -------
    ChunkReader
        Yields ``(X, y)``: X of shape (chunk_rows, n_features), C-contiguous float32
        (for float32 files) or float64, and y of shape (chunk_rows,), float64, both
        copies (the mapping is released as reading proceeds, so the process's
        resident memory stays bounded by ~16 MB of mapped file plus one chunk).
    """
    chunk_rows = _check_chunk_rows(chunk_rows)
    path_X = Path(path_X)
    mm = np.load(path_X, mmap_mode="r", allow_pickle=False)
    with_target = path_y is None and target_column is not None
    if mm.ndim != 2 or (with_target and mm.shape[1] < 2):
        raise ValueError(
            f"{path_X}: expected a 2-D array (rows x columns{', target included' if with_target else ''}), "
            f"got shape {mm.shape}."
        )
    if mm.dtype.kind not in "biuf":
        raise ValueError(
            f"{path_X}: columns 0..{mm.shape[1] - 1} have non-numeric dtype {mm.dtype}; "
            "fastgd reads numeric .npy arrays only."
        )
    n_rows, n_cols = mm.shape
    row_bytes = max(1, mm.itemsize * n_cols)
    del mm
    labels = [str(i) for i in range(n_cols)]
    for value in (features, drop):
        if value is not None and any(isinstance(c, str) for c in _column_list(value, "features")):
            raise ValueError(f"{path_X}: .npy columns have no names; give the columns as indices.")
    t, idx = _select_columns(
        labels, target_column if path_y is None else None, features, drop, path_X
    )
    if path_y is not None:
        path_y = Path(path_y)
        my = np.load(path_y, mmap_mode="r", allow_pickle=False)
        if my.ndim != 1 or my.shape[0] != n_rows:
            raise ValueError(
                f"{path_y}: expected a 1-D target of {n_rows} rows, got shape {my.shape}."
            )
        if my.dtype.kind not in "biuf":
            raise ValueError(f"{path_y}: the target has non-numeric dtype {my.dtype}.")
        del my

    window_rows = max(chunk_rows, _NPY_WINDOW_BYTES // row_bytes)

    def chunks():
        mx = my = None
        mapped_from = 0
        for start in range(0, n_rows, chunk_rows):
            stop = min(start + chunk_rows, n_rows)
            if mx is None or stop - mapped_from > window_rows:
                # drop the old mapping (its pages leave the resident set) and map anew
                mx = np.load(path_X, mmap_mode="r", allow_pickle=False)
                my = None if path_y is None else np.load(path_y, mmap_mode="r", allow_pickle=False)
                mapped_from = start
            X, y = _take(mx[start:stop], idx, t)
            if my is not None:
                y = np.array(my[start:stop], dtype=np.float64)
            yield X, y
        mx = my = None

    names = _column_names(labels, t, idx, named=False)
    if path_y is not None:
        names["target_column"] = str(path_y)
    return ChunkReader(path_X, chunk_rows, n_rows, chunks, **names)


class _Rechunker:
    """Collect blocks of any length into (X, y) chunks of exactly ``chunk_rows``.

    A block holds the selected feature columns, then (``has_target``) the target.
    """

    def __init__(self, chunk_rows: int, has_target: bool):
        self.chunk_rows = chunk_rows
        self.has_target = has_target
        self.pieces: list[np.ndarray] = []
        self.count = 0

    def _split(self, block: np.ndarray):
        if not self.has_target:
            return np.ascontiguousarray(block), None
        return np.ascontiguousarray(block[:, :-1]), np.array(block[:, -1])

    def add(self, block: np.ndarray) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        self.pieces.append(block)
        self.count += block.shape[0]
        if self.count < self.chunk_rows:
            return
        data = np.concatenate(self.pieces) if len(self.pieces) > 1 else self.pieces[0]
        full = (data.shape[0] // self.chunk_rows) * self.chunk_rows
        for start in range(0, full, self.chunk_rows):
            yield self._split(data[start : start + self.chunk_rows])
        rest = data[full:]
        self.pieces = [rest.copy()] if rest.shape[0] else []
        self.count = rest.shape[0]

    def finish(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        if self.count:
            data = np.concatenate(self.pieces)
            self.pieces, self.count = [], 0
            yield self._split(data)


def _import_pyarrow(what: str):
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise ImportError(
            f"{what} needs pyarrow, which is not installed: pip install 'fastgd[stream]' "
            "(or pip install pyarrow)."
        ) from None
    import pyarrow

    return pyarrow


def _have_pyarrow() -> bool:
    try:
        import pyarrow.dataset  # noqa: F401
    except ImportError:
        return False
    return True


#: Compression suffixes of CSV files (``data.csv.gz``), by codec.
CSV_COMPRESSION = {".gz": "gzip", ".gzip": "gzip", ".bz2": "bz2", ".zst": "zstd", ".zstd": "zstd"}


def _compression(path: Path) -> str | None:
    return CSV_COMPRESSION.get(path.suffix.lower())


def _file_kind(path: Path) -> str | None:
    """``'csv'``, ``'parquet'``, ``'npy'`` or ``'svmlight'`` by the name; None if unknown."""
    name = path.name.lower()
    if _compression(path) is not None:
        name = name[: -len(path.suffix)]
    if name.endswith(".csv"):
        return "csv"
    if _compression(path) is not None:
        return None
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith(".npy"):
        return "npy"
    if name.endswith(SVMLIGHT_SUFFIXES):
        return "svmlight"
    return None


def _open_text(path: Path):
    """A text file object of a (possibly compressed) CSV file, for the Python engine."""
    codec = _compression(path)
    if codec is None:
        return path.open(newline="")
    if codec == "gzip":
        import gzip

        return gzip.open(path, "rt", newline="")
    if codec == "bz2":
        import bz2

        return bz2.open(path, "rt", newline="")
    if _have_pyarrow():
        import io

        import pyarrow as pa

        return io.TextIOWrapper(pa.input_stream(str(path), compression=codec), newline="")
    raise ImportError(
        f"{path}: reading {codec}-compressed CSV needs pyarrow: pip install 'fastgd[stream]'."
    )


def _first_line(path: Path) -> str | None:
    with _open_text(path) as fh:
        line = fh.readline()
    return line if line else None


def _looks_numeric(field_text: str) -> bool:
    try:
        float(field_text)
    except ValueError:
        return field_text.strip() == ""
    return True


def _csv_layout(path: Path, delimiter: str, header) -> tuple[list[str], bool]:
    """Column names and whether the first line is a header."""
    line = _first_line(path)
    first = next(csv.reader([line], delimiter=delimiter), None) if line else None
    if first is None:
        raise ValueError(f"{path}: the file is empty.")
    if header == "infer":
        has_header = not all(_looks_numeric(v) for v in first)
    elif header in (True, False, None):
        has_header = bool(header)
    else:
        raise ValueError(f"header must be 'infer', True or False, got {header!r}.")
    names = [v.strip() for v in first] if has_header else [str(i) for i in range(len(first))]
    return names, has_header


def _block_to_float(columns: list) -> np.ndarray:
    """Stack converted columns into a C-ordered float64 block (rows x columns)."""
    n = len(columns[0]) if columns else 0
    block = np.empty((n, len(columns)), dtype=np.float64)
    for j, col in enumerate(columns):
        block[:, j] = col
    return block


def _column_error(path, name, detail, where: str = "") -> ValueError:
    return ValueError(
        f"{path}{where}: column {name!r} is not numeric ({detail}); fastgd trains on numbers "
        "only: encode it, or leave it out (drop=, --drop)."
    )


def _where(file_row: int, start_row: int) -> str:
    return f": data row {file_row} of the file (row {start_row + file_row} of the stream, counting from 0)"


def read_csv(
    path: str | os.PathLike,
    *,
    target: int | str | None = -1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str = ",",
    header: str | bool = "infer",
    engine: str = "auto",
    features=None,
    drop=None,
) -> ChunkReader:
    """Chunks of a CSV file of numbers, read as a stream (bounded memory).

    Parameters
    ----------
    path : path-like
        CSV file: one row per line, the columns that are read numeric (empty fields
        become NaN, which ``partial_fit`` then refuses). Compressed files are read as
        a stream too, by their suffix: ``.gz`` / ``.gzip``, ``.bz2``, ``.zst`` /
        ``.zstd``.
    target : int, str or None, default=-1
        The target column, by index (negative counts from the end) or header name.
        None: no target (the chunks are ``(X, None)``, for prediction).
    chunk_rows : int, default=10000
        Rows per chunk.
    delimiter : str, default=","
    header : {'infer', True, False}, default='infer'
        Whether the first line holds column names; 'infer': it does when one of its
        fields is not a number.
    engine : {'auto', 'pyarrow', 'python'}, default='auto'
        pyarrow's dataset scanner (``pyarrow.dataset``: only the selected columns are
        converted) when installed, else a pure-Python line reader (slower, same
        result).
    features : list of str or int, optional
        The columns that make X, by header name or index, in this order (default:
        every column but the target). Columns not selected are not converted, so they
        may hold text.
    drop : list of str or int, optional
        Columns left out of X (instead of ``features``).

    Returns
    -------
    ChunkReader
        Yields ``(X, y)``: X of shape (chunk_rows, n_features), C-contiguous float64;
        y of shape (chunk_rows,), float64. ``feature_names`` / ``target_name`` hold
        the header's names (None without a header).

    Raises
    ------
    ValueError
        A non-numeric value in a selected column (the message names the column and
        the row, counted from the start of the file and of the stream), an unknown
        target or feature, an empty file.
    """
    chunk_rows = _check_chunk_rows(chunk_rows)
    path = Path(path)
    if len(delimiter) != 1:
        raise ValueError(f"delimiter must be one character, got {delimiter!r}.")
    if engine not in ("auto", "pyarrow", "python"):
        raise ValueError(f"engine must be 'auto', 'pyarrow' or 'python', got {engine!r}.")
    use_arrow = engine == "pyarrow" or (engine == "auto" and _have_pyarrow())
    if use_arrow:
        _import_pyarrow("read_csv(engine='pyarrow')")
        return _dataset_reader(
            path,
            [path],
            None,
            "csv",
            target=target,
            features=features,
            drop=drop,
            chunk_rows=chunk_rows,
            delimiter=delimiter,
            header=header,
        )
    names, has_header = _csv_layout(path, delimiter, header)
    t, idx = _select_columns(names, target, features, drop, path)

    def chunks(start_row):
        return _python_csv_chunks(path, names, has_header, t, idx, chunk_rows, delimiter, start_row)

    return _counted_reader(
        path, chunk_rows, None, chunks, **_column_names(names, t, idx, has_header)
    )


def _python_csv_chunks(path, names, has_header, t, idx, chunk_rows, delimiter, start_row):
    order = idx + ([] if t is None else [t])
    rechunk = _Rechunker(chunk_rows, t is not None)
    width = len(names)
    seen = 0  # data rows of the file before the current block

    def convert(rows, first_line):
        if any(len(r) != width for r in rows):
            bad = next(i for i, r in enumerate(rows) if len(r) != width)
            raise ValueError(
                f"{path}: line {first_line + bad}{_where(seen + bad, start_row)} has "
                f"{len(rows[bad])} fields, expected {width}."
            )
        cols = []
        for j in order:
            col = np.array([r[j] for r in rows], dtype=object)
            try:
                cols.append(col.astype(np.float64))
            except ValueError:
                col = np.where(np.char.strip(col.astype(str)) == "", "nan", col)
                try:
                    cols.append(col.astype(np.float64))
                except ValueError as exc:
                    bad = 0
                    for bad, v in enumerate(col):  # noqa: B007 - the first bad value
                        try:
                            float(v)
                        except ValueError:
                            break
                    raise _column_error(
                        path, names[j], str(exc), _where(seen + bad, start_row)
                    ) from None
        return _block_to_float(cols)

    with _open_text(path) as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        if has_header:
            next(reader, None)
        line = 2 if has_header else 1
        rows: list[list[str]] = []
        lines = 0
        for row in reader:
            lines += 1
            if not row:
                continue
            if not rows:
                first = line + lines - 1
            rows.append(row)
            if len(rows) == chunk_rows:
                yield from rechunk.add(convert(rows, first))
                seen += len(rows)
                rows = []
        if rows:
            yield from rechunk.add(convert(rows, first))
    yield from rechunk.finish()


def _walk(root: Path) -> list[Path]:
    """Every file under ``root``, in sorted order of the path below it; names starting
    with ``.`` or ``_`` (hidden files, ``_SUCCESS`` markers, ``_metadata``) skipped."""
    out = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith((".", "_")):
            continue
        if entry.is_dir():
            out.extend(_walk(entry))
        elif entry.is_file():
            out.append(entry)
    return out


def _partition_keys(files: list[Path], root: Path | None) -> tuple[list[str], list[dict]]:
    """The hive partition keys (``key=value`` directories) of the files below ``root``."""
    from urllib.parse import unquote

    per_file = []
    for f in files:
        kv = {}
        if root is not None:
            for seg in f.relative_to(root).parts[:-1]:
                if "=" in seg:
                    key, value = seg.split("=", 1)
                    kv[unquote(key)] = unquote(value)
        per_file.append(kv)
    keys = list(per_file[0]) if per_file else []
    for f, kv in zip(files, per_file, strict=True):
        if set(kv) != set(keys):
            raise ValueError(
                f"{f}: its partition directories name {sorted(kv)}, those of {files[0]} "
                f"name {sorted(keys)}; every file of a hive-partitioned directory needs the "
                "same keys."
            )
    return keys, per_file


def read_parquet(
    path: str | os.PathLike,
    *,
    target: int | str | None = -1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    features=None,
    drop=None,
) -> ChunkReader:
    """Chunks of a Parquet file or directory of Parquet files (``pyarrow.dataset``).

    Parameters
    ----------
    path : path-like
        A Parquet file, or a directory of them (read recursively in sorted path order;
        ``key=value`` directories are hive partitions, their keys columns). The columns
        that are read must be numeric (integer, float or boolean; nulls become NaN,
        which ``partial_fit`` then refuses); the others may be of any type.
    target : int, str or None, default=-1
        The target column, by name or index (negative counts from the end). None: no
        target (the chunks are ``(X, None)``).
    chunk_rows : int, default=10000
        Rows per chunk (batches are re-cut across row groups and files to this size).
    features : list of str or int, optional
        The columns that make X, in this order (default: every column but the target).
    drop : list of str or int, optional
        Columns left out of X (instead of ``features``).

    Returns
    -------
    ChunkReader
        Yields ``(X, y)``: X of shape (chunk_rows, n_features), C-contiguous float64;
        y of shape (chunk_rows,), float64. ``total_rows`` is known (from the files'
        metadata); ``feature_names`` / ``target_name`` hold the column names.

    Raises
    ------
    ImportError
        pyarrow is not installed (``pip install 'fastgd[stream]'``).
    ValueError
        A non-numeric selected column (named), an unknown target or feature, a file of
        the directory that is not Parquet.
    """
    chunk_rows = _check_chunk_rows(chunk_rows)
    _import_pyarrow("read_parquet")
    path = Path(path)
    root = None
    files = [path]
    if path.is_dir():
        root = path
        files = _walk(path)
        others = [f for f in files if _file_kind(f) != "parquet"]
        if others:
            raise ValueError(
                f"{others[0]}: read_parquet reads a directory of Parquet files (.parquet, "
                ".pq); use read_path for a directory of other or mixed formats."
            )
        if not files:
            raise ValueError(f"{path}: the directory holds no Parquet files.")
    elif not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory.")
    return _dataset_reader(
        path,
        files,
        root,
        "parquet",
        target=target,
        features=features,
        drop=drop,
        chunk_rows=chunk_rows,
    )


def _dataset_reader(
    path: Path,
    files: list[Path],
    root: Path | None,
    kind: str,
    *,
    target,
    features,
    drop,
    chunk_rows: int,
    delimiter: str = ",",
    header="infer",
) -> ChunkReader:
    """A reader of CSV or Parquet ``files`` (one format) as one ``pyarrow.dataset``.

    The dataset's schema is the selected columns (float64) and the hive partition keys
    of the paths below ``root``; each file is one fragment, scanned in order with only
    the selected columns, its batches re-cut into chunks of ``chunk_rows``.
    """
    pa = _import_pyarrow(f"reading {kind} files")
    import pyarrow.dataset as ds

    keys, per_file = _partition_keys(files, root)
    first = files[0]
    if kind == "csv":
        file_names, has_header = _csv_layout(first, delimiter, header)
        named = has_header
        types = None
    else:
        import pyarrow.parquet as pq

        try:
            schema = pq.read_schema(first)
        except (pa.ArrowException, OSError) as exc:
            raise ValueError(f"{first}: not a readable Parquet file ({exc}).") from None
        file_names, named = list(schema.names), True
        types = {fld.name: fld.type for fld in schema}
    clash = sorted(set(keys) & set(file_names))
    if clash:
        raise ValueError(f"{root}: partition keys {clash} are also columns of {first}.")
    names = file_names + keys
    if keys and isinstance(target, (int, np.integer)) and not isinstance(target, bool):
        # an index counts the files' own columns (the default -1: their last), not the
        # partition keys after them, which are named by name
        target = file_names[_column_index(target, file_names, path, "target")]
    t, idx = _select_columns(names, target, features, drop, path)
    order = idx + ([] if t is None else [t])
    selected = [names[j] for j in order]
    from_files = [n for n in selected if n in file_names]
    if types is not None:
        for name in from_files:
            typ = types[name]
            if not (
                pa.types.is_integer(typ) or pa.types.is_floating(typ) or pa.types.is_boolean(typ)
            ):
                raise _column_error(first, name, f"type {typ}")
    for key in keys:
        if key not in selected:
            continue
        for f, kv in zip(files, per_file, strict=True):
            if not _looks_numeric(kv[key]) or not kv[key].strip():
                raise ValueError(
                    f"{f.parent}: partition {key}={kv[key]!r} is not a number; fastgd trains "
                    f"on numbers only: leave {key!r} out (drop=, --drop) or encode it."
                )
    part_fields = [(k, pa.float64() if k in selected else pa.string()) for k in keys]
    schema = pa.schema([(n, pa.float64()) for n in from_files] + part_fields)
    if kind == "csv":
        import pyarrow.csv as pcsv

        csv_options = {
            # columns by position, under the first file's (stripped) names: every file's
            # header is checked against them before it is read (_check_file_columns)
            "read_options": pcsv.ReadOptions(
                column_names=file_names, skip_rows=1 if has_header else 0, block_size=4 << 20
            ),
            "parse_options": pcsv.ParseOptions(delimiter=delimiter),
            "convert_options": pcsv.ConvertOptions(
                column_types={n: pa.float64() for n in from_files}, include_columns=from_files
            ),
        }
        # the dataset scanner converts only the projected columns itself (include_columns
        # would name them twice); the zstd path's own reader (_fragment_batches) needs it
        fmt = ds.CsvFileFormat(
            read_options=csv_options["read_options"],
            parse_options=csv_options["parse_options"],
            convert_options=pcsv.ConvertOptions(column_types={n: pa.float64() for n in from_files}),
        )
    else:
        csv_options = None
        fmt = ds.ParquetFileFormat()
    kwargs = {}
    if keys:
        kwargs = {
            "partitioning": ds.partitioning(pa.schema(part_fields), flavor="hive"),
            "partition_base_dir": str(root),
        }
    try:
        dataset = ds.dataset([str(f) for f in files], schema=schema, format=fmt, **kwargs)
        total = dataset.count_rows() if kind == "parquet" else None
    except (pa.ArrowException, OSError) as exc:
        raise ValueError(f"{path}: cannot read the {kind} data ({exc}).") from None
    fragments = list(dataset.get_fragments())

    def chunks(start_row):
        rechunk = _Rechunker(chunk_rows, t is not None)
        row = start_row
        for fragment, f in zip(fragments, files, strict=True):
            have = _check_file_columns(f, fragment, kind, from_files, file_names, delimiter, named)
            file_rows = 0
            try:
                for batch in _fragment_batches(
                    fragment, dataset, selected, from_files, csv_options, f
                ):
                    if batch.num_rows == 0:
                        continue
                    block = _block_to_float(
                        [
                            batch.column(j).to_numpy(zero_copy_only=False)
                            for j in range(batch.num_columns)
                        ]
                    )
                    file_rows += batch.num_rows
                    yield from rechunk.add(block)
            except pa.ArrowInvalid as exc:
                raise _arrow_error(f, str(exc), kind == "csv" and named, row, have) from None
            row += file_rows
        yield from rechunk.finish()

    return _counted_reader(path, chunk_rows, total, chunks, **_column_names(names, t, idx, named))


def _check_file_columns(f, fragment, kind, from_files, file_names, delimiter, has_header) -> list:
    """The file's column names; refuse a file that lacks a selected column (it would
    read as NaN), or a CSV file whose header differs from the first file's (its columns
    are read by position)."""
    if kind == "csv":
        if not has_header:
            return file_names  # columns by position: a row of another width is a parse error
        have, _ = _csv_layout(f, delimiter, True)
        if have != file_names:
            raise ValueError(
                f"{f}: its header {have} differs from the first file's ({file_names}); "
                "every CSV file of a directory must have the same columns in the same order."
            )
        return have
    else:
        have = fragment.physical_schema.names
    missing = [n for n in from_files if n not in have]
    if missing:
        raise ValueError(
            f"{f}: has no column {', '.join(map(repr, missing))} (its columns: {list(have)}); "
            f"every file must have the columns that are read, as the first file has "
            f"({file_names})."
        )
    return list(have)


def _fragment_batches(fragment, dataset, columns, from_files, csv_options, f: Path):
    """The record batches of one file, columns in the order of ``columns``."""
    if csv_options is not None and f.suffix.lower() == ".zst":
        # pyarrow.dataset recognises zstd by ".zstd" only: stream the file through the
        # codec, and put the partition keys' values beside its columns
        import pyarrow as pa
        import pyarrow.csv as pcsv
        import pyarrow.dataset as ds

        consts = ds.get_partition_keys(fragment.partition_expression)
        with pcsv.open_csv(pa.input_stream(str(f), compression="zstd"), **csv_options) as reader:
            for batch in reader:
                arrays = [
                    batch.column(name)
                    if name in from_files
                    else pa.array(np.full(batch.num_rows, float(consts[name])))
                    for name in columns
                ]
                yield pa.RecordBatch.from_arrays(arrays, names=columns)
        return
    yield from fragment.to_batches(schema=dataset.schema, columns=columns)


def _arrow_error(f: Path, message: str, has_header: bool, start_row: int, names) -> ValueError:
    """A pyarrow parse / conversion error as a ValueError naming the file, column and row."""
    import re

    first = message.splitlines()[0] if message else message
    row = re.search(r"Row #(\d+)", first)
    where = ""
    if row:
        where = _where(int(row.group(1)) - (2 if has_header else 1), start_row)
    col = re.search(r"column #(\d+)", first)
    if col and "conversion error" in first and int(col.group(1)) < len(names):
        value = re.search(r"invalid value (.*)$", first)
        detail = f"invalid value {value.group(1)}" if value else first
        return _column_error(f, names[int(col.group(1))], detail, where)
    detail = first.split("Invalid: ")[-1]
    detail = re.sub(r"^CSV parse error: (Row #\d+: )?", "", detail)
    return ValueError(f"{f}{where}: {detail}.")


# --------------------------------------------------------------------------- svmlight
class _SvmlightReader(ChunkReader):
    """A :class:`ChunkReader` of an svmlight file that also says how it reads the file."""

    def __init__(self, path, chunk_rows, total_rows, factory, n_features: int, zero_based: bool):
        super().__init__(path, chunk_rows, total_rows, factory)
        self.n_features = n_features
        self.zero_based = zero_based

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, chunk_rows={self.chunk_rows}, "
            f"total_rows={self.total_rows}, n_features={self.n_features}, "
            f"zero_based={self.zero_based})"
        )


@dataclass
class _SvmScan:
    """What the first pass over an svmlight file found.

    ``blocks`` holds, per block of :func:`_svm_blocks`: byte offset, byte length, lines
    before it, rows before it, non-zeros, smallest and largest raw feature index.
    """

    rows: int = 0
    nnz: int = 0
    min_raw: int = 0
    max_raw: int = -1
    blocks: list = field(default_factory=list)


def _svm_blocks(path: Path, block_bytes: int) -> Iterator[tuple[int, bytes, int]]:
    """Line-aligned blocks of about ``block_bytes`` bytes: ``(byte offset, bytes, lines before)``.

    Every block but the last ends with a newline, so that no line is cut; a line longer
    than ``block_bytes`` makes its block longer (memory: one block plus one line).
    """
    offset = lines = 0
    pending: list[bytes] = []
    with path.open("rb") as fh:
        while True:
            data = fh.read(block_bytes)
            if not data:
                if pending:
                    yield offset, b"".join(pending), lines
                return
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # no line ends in this read: a line longer than a block
                pending.append(data)
                continue
            block = b"".join([*pending, data[:cut]]) if pending else data[:cut]
            pending = [data[cut:]] if cut < len(data) else []
            yield offset, block, lines
            offset += len(block)
            lines += block.count(b"\n")


def _svm_load(buf: bytes, dtype):
    """Parse svmlight bytes with scikit-learn's parser: raw indices, no heuristic."""
    import io

    from sklearn.datasets import load_svmlight_file

    # offset=0, length=-1: the whole buffer (blocks are line-aligned by _svm_blocks)
    return load_svmlight_file(io.BytesIO(buf), dtype=dtype, zero_based=True)


def _svm_lines(buf: bytes) -> list[bytes]:
    """The lines of a block as the parser sees them (split at ``\\n`` only), ends kept."""
    lines = [line + b"\n" for line in buf.split(b"\n")]
    lines[-1] = lines[-1][:-1]
    if not lines[-1]:
        lines.pop()
    return lines


def _svm_is_data(line: bytes) -> bool:
    """Whether the parser makes a row of this line (text before any ``#``, not blank)."""
    return bool(line.split(b"#", 1)[0].split())


def _svm_show(line: bytes) -> str:
    text = line.rstrip(b"\r\n").decode("utf-8", "replace")
    return repr(text if len(text) <= 80 else text[:77] + "...")


_SVM_FORMAT = (
    "each line must read '<target> [qid:<int>] <index>:<value> ...' with integer indices "
    "in increasing order ('#' starts a comment)"
)


def _svm_parse_error(path: Path, buf: bytes, dtype, line_base: int, row_base: int) -> ValueError:
    """The error naming the first line of ``buf`` that the parser refuses.

    Found by bisection over the block's lines (a line's error does not depend on the
    lines after it): O(log lines) parses of a prefix, only on this error path.
    """
    lines = _svm_lines(buf)
    good, bad, good_rows = 0, len(lines), 0
    reason = "unparseable"
    while bad - good > 1:
        mid = (good + bad) // 2
        try:
            _, y = _svm_load(b"".join(lines[:mid]), dtype)
        except (ValueError, OverflowError) as exc:
            bad, reason = mid, str(exc)
        else:
            good, good_rows = mid, len(y)
    line = lines[bad - 1] if lines else b""
    try:  # the reason of that line alone (bisection may not have parsed a prefix ending there)
        _svm_load(line, dtype)
    except (ValueError, OverflowError) as exc:
        reason = str(exc)
    if "unpack" in reason:
        reason = "a feature without ':' (expected index:value)"
    elif "too large" in reason or "out of range" in reason:
        reason = f"a feature index beyond {2**31 - 1} ({reason})"
    return ValueError(
        f"{path}: line {line_base + bad} (row {row_base + good_rows}, counting from 0) is not "
        f"svmlight/libsvm: {reason}, in {_svm_show(line)}; {_SVM_FORMAT}."
    )


def _svm_parse(path: Path, buf: bytes, dtype, line_base: int, row_base: int):
    """``(data, raw indices as int64, indptr as int64, y)`` of a block; located errors."""
    try:
        X, y = _svm_load(buf, dtype)
    except (ValueError, OverflowError):
        raise _svm_parse_error(path, buf, dtype, line_base, row_base) from None
    indices = np.asarray(X.indices, dtype=np.int64)
    indptr = np.asarray(X.indptr, dtype=np.int64)
    return np.asarray(X.data), indices, indptr, np.asarray(y, dtype=np.float64)


def _svm_row_line(buf: bytes, row: int) -> tuple[int, bytes]:
    """Line number within the block (from 1) and text of the block's ``row``-th data line."""
    seen = -1
    for number, line in enumerate(_svm_lines(buf), 1):
        if _svm_is_data(line):
            seen += 1
            if seen == row:
                return number, line
    return 0, b""  # pragma: no cover - the parser made that row of one of these lines


def _svm_columns(
    path: Path,
    buf: bytes,
    line_base: int,
    row_base: int,
    indices: np.ndarray,
    indptr: np.ndarray,
    shift: int,
    n_features: int,
    needed: int | None = None,
) -> np.ndarray:
    """Column indices of a block (raw minus ``shift``), checked against ``n_features``."""
    if indices.size == 0:
        return indices
    bad = None
    if shift and indices.min() < shift:
        bad = int(np.argmax(indices < shift))
    elif indices.max() - shift >= n_features:
        bad = int(np.argmax(indices - shift >= n_features))
    if bad is None:
        return indices - shift if shift else indices
    row = int(np.searchsorted(indptr, bad, side="right")) - 1
    number, line = _svm_row_line(buf, row)
    where = f"{path}: line {line_base + number} (row {row_base + row}, counting from 0)"
    raw = int(indices[bad])
    if shift and raw < shift:
        raise ValueError(
            f"{where} has feature index {raw}, but zero_based=False says that indices start "
            f"at 1, in {_svm_show(line)}; pass zero_based=True (or 'auto')."
        )
    base = "one" if shift else "zero"
    at_least = raw - shift + 1 if needed is None else max(needed, raw - shift + 1)
    raise ValueError(
        f"{where} has feature index {raw}, column {raw - shift} ({base}-based indices), but "
        f"n_features={n_features} allows columns 0..{n_features - 1}, in {_svm_show(line)}; "
        f"pass n_features >= {at_least}, or n_features=None to infer it from the file."
    )


def _svm_scan(path: Path, dtype, block_bytes: int) -> _SvmScan:
    """The first pass: parse every block (bounded memory), count rows, find the index range."""
    scan = _SvmScan()
    for offset, buf, line_base in _svm_blocks(path, block_bytes):
        _, indices, _, y = _svm_parse(path, buf, dtype, line_base, scan.rows)
        lo = int(indices.min()) if indices.size else 0
        hi = int(indices.max()) if indices.size else -1
        scan.blocks.append((offset, len(buf), line_base, scan.rows, indices.size, lo, hi))
        if indices.size:
            scan.min_raw = lo if scan.nnz == 0 else min(scan.min_raw, lo)
            scan.max_raw = max(scan.max_raw, hi)
        scan.nnz += indices.size
        scan.rows += len(y)
    return scan


def _svm_check_scan(path: Path, scan: _SvmScan, dtype, shift: int, n_features: int) -> None:
    """Raise the located error of the first block whose indices do not fit, if any."""
    needed = scan.max_raw - shift + 1
    for offset, nbytes, line_base, row_base, nnz, lo, hi in scan.blocks:
        if nnz and (lo < shift or hi - shift >= n_features):
            with path.open("rb") as fh:
                fh.seek(offset)
                buf = fh.read(nbytes)
            _, indices, indptr, _ = _svm_parse(path, buf, dtype, line_base, row_base)
            _svm_columns(path, buf, line_base, row_base, indices, indptr, shift, n_features, needed)


def _svm_no_rows(path: Path) -> ValueError:
    return ValueError(
        f"{path}: the file holds no data lines (it is empty, or only blank and '#' comment "
        f"lines); an svmlight/libsvm file has one line per row: {_SVM_FORMAT}."
    )


class _SparseRechunker:
    """Collect parsed CSR blocks of any length into ``(X, y)`` chunks of exactly ``chunk_rows``."""

    def __init__(self, chunk_rows: int, n_features: int):
        self.chunk_rows = chunk_rows
        self.n_features = n_features
        self.index_dtype = np.int32 if n_features <= np.iinfo(np.int32).max else np.int64
        self.pieces: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.count = 0

    def _merged(self):
        if len(self.pieces) == 1:
            return self.pieces[0]
        data = np.concatenate([p[0] for p in self.pieces])
        indices = np.concatenate([p[1] for p in self.pieces])
        starts = np.cumsum([0] + [p[2][-1] for p in self.pieces])
        indptr = np.concatenate(
            [p[2][:-1] + s for p, s in zip(self.pieces, starts, strict=False)] + [starts[-1:]]
        )
        y = np.concatenate([p[3] for p in self.pieces])
        return data, indices, indptr, y

    def _chunk(self, data, indices, indptr, y, start: int, stop: int):
        import scipy.sparse as sp

        a, b = int(indptr[start]), int(indptr[stop])
        ptr_dtype = np.int32 if b - a <= np.iinfo(np.int32).max else np.int64
        X = sp.csr_matrix(
            (
                data[a:b].copy(),
                indices[a:b].astype(self.index_dtype),
                (indptr[start : stop + 1] - a).astype(ptr_dtype),
            ),
            shape=(stop - start, self.n_features),
            copy=False,
        )
        X.has_canonical_format = True  # the parser refuses unsorted or repeated indices
        return X, y[start:stop].copy()

    def add(self, data, indices, indptr, y) -> Iterator[tuple]:
        if len(y) == 0:
            return
        self.pieces.append((data, indices, indptr, y))
        self.count += len(y)
        if self.count < self.chunk_rows:
            return
        merged = self._merged()
        full = (self.count // self.chunk_rows) * self.chunk_rows
        for start in range(0, full, self.chunk_rows):
            yield self._chunk(*merged, start, start + self.chunk_rows)
        data, indices, indptr, y = merged
        self.pieces, self.count = [], self.count - full
        if self.count:
            a = int(indptr[full])
            self.pieces = [
                (data[a:].copy(), indices[a:].copy(), indptr[full:] - a, y[full:].copy())
            ]

    def finish(self) -> Iterator[tuple]:
        if self.count:
            merged = self._merged()
            count, self.pieces, self.count = self.count, [], 0
            yield self._chunk(*merged, 0, count)


def _check_zero_based(zero_based):
    if isinstance(zero_based, str) and zero_based == "auto":
        return "auto"
    if isinstance(zero_based, (bool, np.bool_)):
        return bool(zero_based)
    raise ValueError(f"zero_based must be True, False or 'auto', got {zero_based!r}.")


def _svmlight_readers(
    paths: list[Path], *, n_features, zero_based, chunk_rows: int, dtype
) -> list[_SvmlightReader]:
    """Readers of svmlight files that agree on ``n_features`` and the index base.

    ``zero_based='auto'`` and ``n_features=None`` are decided once over all the files
    (scikit-learn's ``load_svmlight_files`` rule), from a first pass over each.
    """
    if n_features is not None and (
        isinstance(n_features, bool)
        or not isinstance(n_features, (int, np.integer))
        or n_features < 1
    ):
        raise ValueError(
            f"n_features must be a positive integer or None (inferred from the file), "
            f"got {n_features!r}."
        )
    zero_based = _check_zero_based(zero_based)
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}.")
    for p in paths:
        if p.suffix.lower() in (".gz", ".bz2", ".xz", ".zst", ".zip"):
            raise ValueError(
                f"{p}: read_svmlight reads uncompressed files only (the suffix says this one "
                "is compressed); decompress it first."
            )
    block_bytes = _SVM_BLOCK_BYTES
    scans: list[_SvmScan] | None = None
    if n_features is None or zero_based == "auto":
        scans = [_svm_scan(p, dtype, block_bytes) for p in paths]
        for p, s in zip(paths, scans, strict=True):
            if s.rows == 0:
                raise _svm_no_rows(p)
    else:  # no first pass: only make sure a data line comes (parse errors of it included)
        for p in paths:
            rows = 0
            for _, buf, line_base in _svm_blocks(p, block_bytes):
                rows = len(_svm_parse(p, buf, dtype, line_base, 0)[3])
                if rows:
                    break
            if not rows:
                raise _svm_no_rows(p)
    if zero_based == "auto":
        zero_based = not all(s.nnz and s.min_raw > 0 for s in scans)
    shift = 0 if zero_based else 1
    if n_features is None:
        n_features = max(1, *(s.max_raw - shift + 1 for s in scans))
    n_features = int(n_features)
    if scans is not None:
        for p, s in zip(paths, scans, strict=True):
            _svm_check_scan(p, s, dtype, shift, n_features)

    def reader(path: Path, total: int | None) -> _SvmlightReader:
        def chunks():
            rechunk = _SparseRechunker(chunk_rows, n_features)
            row = 0
            for _, buf, line_base in _svm_blocks(path, block_bytes):
                data, indices, indptr, y = _svm_parse(path, buf, dtype, line_base, row)
                indices = _svm_columns(
                    path, buf, line_base, row, indices, indptr, shift, n_features
                )
                del buf
                row += len(y)
                yield from rechunk.add(data, indices, indptr, y)
            yield from rechunk.finish()

        return _SvmlightReader(path, chunk_rows, total, chunks, n_features, zero_based)

    totals = [None] * len(paths) if scans is None else [s.rows for s in scans]
    return [reader(p, t) for p, t in zip(paths, totals, strict=True)]


def read_svmlight(
    path: str | os.PathLike,
    *,
    n_features: int | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    dtype=np.float64,
    zero_based: bool | str = "auto",
) -> ChunkReader:
    """Chunks of an svmlight / libsvm text file as scipy CSR matrices (bounded memory).

    The file is read in line-aligned blocks of about 4 MB, each parsed by
    scikit-learn's ``load_svmlight_file`` (its Cython parser), and the rows are re-cut
    into chunks of exactly ``chunk_rows``: memory holds one chunk plus one block,
    whatever the file size. Concatenated, the chunks equal ``load_svmlight_file`` of
    the whole file with the same ``n_features``, ``dtype`` and ``zero_based``.

    Parameters
    ----------
    path : path-like
        Uncompressed text file, one row per line: ``<target> [qid:<int>]
        <index>:<value> ...`` with integer indices in increasing order; features not
        listed are 0. ``qid:`` fields are accepted and ignored. Text after ``#`` is a
        comment; blank and comment-only lines make no row.
    n_features : int, optional
        Columns of every chunk's X. None: inferred, the largest feature index in the
        file plus one (after the one-based shift), found by a first pass. Give it to
        keep columns that the file never uses (e.g. a test file of a wider training
        set); an index that does not fit is a ValueError naming the line.
    chunk_rows : int, default=10000
        Rows per chunk (the last chunk may be shorter).
    dtype : {np.float64, np.float32}, default=np.float64
        dtype of X's values; y is always float64.
    zero_based : {'auto', True, False}, default='auto'
        Whether the file's index 0 is column 0 (True) or its index 1 is (False: every
        index is shifted down by one). 'auto' decides once for the whole file, with
        scikit-learn's rule, from the first pass: one-based when no index 0 occurs
        anywhere in the file (and it has a feature at all), else zero-based. A
        zero-based file that never uses feature 0 is therefore read as one-based: pass
        ``zero_based=True`` when you know the file's convention.

    Returns
    -------
    ChunkReader
        Yields ``(X, y)``: X a ``scipy.sparse.csr_matrix`` of shape (chunk_rows,
        n_features), ``dtype`` values, sorted indices, int32 indices and indptr (int64
        when they do not fit); y of shape (chunk_rows,), float64. Its attributes
        ``n_features`` and ``zero_based`` hold what was given or decided;
        ``total_rows`` is known when a first pass ran.

    Raises
    ------
    ValueError
        A malformed line (the message names the file, the line and the row), a
        feature index outside ``n_features`` or an index 0 with ``zero_based=False``
        (named likewise, with the fix), a file without data lines, a compressed file.

    Notes
    -----
    The first pass runs when ``n_features`` is None or ``zero_based`` is 'auto': one
    parse of the whole file, one block at a time (bounded memory, about the time of
    reading the file once more). It also checks every line and counts the rows, so
    that a malformed line is reported before training starts and the progress bar
    knows its total. Give both ``n_features`` and ``zero_based`` to skip it; then
    errors surface when the chunk that holds them is read, and ``total_rows`` is None.

    scikit-learn's own ``offset`` / ``length`` byte ranges are not used to cut the
    file: its parser reads one line past a range that ends on a blank or comment line
    (or inside a line longer than the range), and that line would come twice. The
    blocks here end on line boundaries found by this reader, and each is parsed whole.
    """
    chunk_rows = _check_chunk_rows(chunk_rows)
    return _svmlight_readers(
        [Path(path)],
        n_features=n_features,
        zero_based=zero_based,
        chunk_rows=chunk_rows,
        dtype=dtype,
    )[0]


def _svm_target(path: Path, target) -> None:
    if not (
        isinstance(target, (int, np.integer)) and not isinstance(target, bool) and target == -1
    ):
        raise ValueError(
            f"{path}: an svmlight/libsvm file holds the target in the first field of each "
            f"line, not in a column; drop target={target!r} (--target)."
        )


def _unknown_type(path: Path) -> ValueError:
    return ValueError(
        f"{path}: unknown file type {path.suffix!r}; fastgd reads {', '.join(SUFFIXES)} files "
        f"(CSV also compressed: {', '.join('.csv' + s for s in CSV_COMPRESSION)})."
    )


def _reader_for(
    path: Path,
    target,
    chunk_rows,
    delimiter,
    header,
    n_features=None,
    zero_based="auto",
    features=None,
    drop=None,
) -> ChunkReader:
    kind = _file_kind(path)
    if kind == "svmlight":
        _svm_target(path, target)
        if features is not None or drop is not None:
            raise ValueError(
                f"{path}: an svmlight/libsvm file has numbered sparse columns; features= / "
                "drop= (--features, --drop) select columns of CSV, Parquet and .npy files."
            )
        return read_svmlight(
            path, n_features=n_features, chunk_rows=chunk_rows, zero_based=zero_based
        )
    if kind == "npy":
        if isinstance(target, str):
            raise ValueError(f"{path}: .npy columns have no names; give target as an index.")
        return read_npy(
            path, target_column=target, chunk_rows=chunk_rows, features=features, drop=drop
        )
    if kind == "csv":
        return read_csv(
            path,
            target=target,
            chunk_rows=chunk_rows,
            delimiter=delimiter,
            header=header,
            features=features,
            drop=drop,
        )
    if kind == "parquet":
        return read_parquet(
            path, target=target, chunk_rows=chunk_rows, features=features, drop=drop
        )
    raise _unknown_type(path)


def read_path(
    path_or_dir: str | os.PathLike,
    *,
    target: int | str | None = -1,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    delimiter: str = ",",
    header: str | bool = "infer",
    n_features: int | None = None,
    zero_based: bool | str = "auto",
    features=None,
    drop=None,
) -> ChunkReader:
    """Chunks of a ``.npy`` / CSV / Parquet / svmlight file, or of a directory of them.

    Parameters
    ----------
    path_or_dir : path-like
        A file (dispatched on its suffix to :func:`read_npy`, :func:`read_csv` for
        ``.csv`` and compressed ``.csv.gz`` / ``.csv.bz2`` / ``.csv.zst`` /
        ``.csv.zstd``, :func:`read_parquet` for ``.parquet`` / ``.pq``, or
        :func:`read_svmlight` for ``.svm``, ``.svmlight`` and ``.libsvm``) or a
        directory, read recursively: every file below it, in sorted order of its path
        (names starting with ``.`` or ``_`` skipped, as pyarrow does; any other
        unknown suffix is an error, so that no data is skipped silently). ``key=value``
        directories are hive partitions: each key becomes a column of the CSV and
        Parquet files below it. Consecutive CSV files, and consecutive Parquet files,
        are read as one ``pyarrow.dataset`` (chunks run across their files); the
        files may mix formats but must have the same columns.
    target : int, str or None, default=-1
        Target column, by index or (CSV header, Parquet, partition key) name; None:
        no target (the chunks are ``(X, None)``). svmlight files hold the target in
        each line's first field: leave it at -1.
    chunk_rows : int, default=10000
        Rows per chunk; the last chunk of each file (of each run of CSV or Parquet
        files) may be shorter.
    delimiter, header :
        For CSV files, see :func:`read_csv`.
    n_features, zero_based :
        For svmlight files, see :func:`read_svmlight` (ignored for other formats).
        In a directory, ``n_features=None`` and ``zero_based='auto'`` are decided
        once over all its svmlight files, so that every chunk has the same columns.
    features, drop : list of str or int, optional
        The columns that make X, or the columns left out of it (see
        :func:`read_csv`); not for svmlight files.

    Returns
    -------
    ChunkReader
        Yields ``(X, y)`` as the readers above (svmlight files: X a
        ``scipy.sparse.csr_matrix``); ``total_rows`` is known when every file's row
        count is (no CSV, no svmlight file read without a first pass);
        ``feature_names`` when every file names its columns.

    Raises
    ------
    ValueError
        An unknown file type, files whose selected columns differ in number or name,
        partition keys on files other than CSV and Parquet, and what the readers
        above raise (a reader's row numbers count from the start of the stream).
    """
    chunk_rows = _check_chunk_rows(chunk_rows)
    path = Path(path_or_dir)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or directory.")
    if not path.is_dir():
        return _reader_for(
            path, target, chunk_rows, delimiter, header, n_features, zero_based, features, drop
        )
    files = _walk(path)
    if not files:
        raise ValueError(f"{path}: the directory holds no chunk files.")
    kinds = [_file_kind(f) for f in files]
    for f, kind in zip(files, kinds, strict=True):
        if kind is None:
            raise _unknown_type(f)
    keys, per_file = _partition_keys(files, path)
    if keys:
        odd = [f for f, k in zip(files, kinds, strict=True) if k not in ("csv", "parquet")]
        if odd:
            raise ValueError(
                f"{odd[0]}: hive partition keys ({', '.join(keys)}) become columns of CSV and "
                "Parquet files only; this file would be read without them."
            )
    # svmlight files first, together: they must agree on n_features and the index base
    svm_files = [f for f, k in zip(files, kinds, strict=True) if k == "svmlight"]
    for f in svm_files:
        _svm_target(f, target)
        if features is not None or drop is not None:
            _reader_for(f, target, chunk_rows, delimiter, header, features=features, drop=drop)
    svm_readers = {}
    if svm_files:
        svm = _svmlight_readers(
            svm_files,
            n_features=n_features,
            zero_based=zero_based,
            chunk_rows=chunk_rows,
            dtype=np.float64,
        )
        svm_readers = dict(zip(svm_files, svm, strict=True))
    readers: list[ChunkReader] = []
    firsts: list[Path] = []  # the first file of each reader, for messages
    i = 0
    while i < len(files):
        kind = kinds[i]
        if kind in ("csv", "parquet"):  # a run of one format: one dataset
            j = i
            while j < len(files) and kinds[j] == kind:
                j += 1
            readers.append(
                _dataset_reader(
                    path,
                    files[i:j],
                    path,
                    kind,
                    target=target,
                    features=features,
                    drop=drop,
                    chunk_rows=chunk_rows,
                    delimiter=delimiter,
                    header=header,
                )
            )
            firsts.append(files[i])
            i = j
            continue
        f = files[i]
        readers.append(
            svm_readers.get(f)
            or _reader_for(f, target, chunk_rows, delimiter, header, features=features, drop=drop)
        )
        firsts.append(f)
        i += 1
    widths = {}
    for f, r in zip(firsts, readers, strict=True):
        width = r.n_features if r.feature_columns is None else len(r.feature_columns)
        widths.setdefault(width, f)
    if len(widths) > 1:
        raise ValueError(
            f"{path}: its files give X different numbers of columns "
            f"({', '.join(f'{w} in {p}' for w, p in widths.items())}); every file must have "
            "the same columns."
        )
    named = [r.feature_names for r in readers]
    feature_names = named[0] if all(n is not None and n == named[0] for n in named) else None
    if all(n is not None for n in named) and feature_names is None:
        raise ValueError(
            f"{path}: its files name different feature columns ({named[0]} and "
            f"{next(n for n in named if n != named[0])}); every file must have the same columns."
        )
    targets = [r.target_name for r in readers]
    totals = [r.total_rows for r in readers]
    total = None if any(v is None for v in totals) else int(sum(totals))

    def chunks(start_row):
        row = start_row
        for reader in readers:
            for chunk in reader._iter_from(row):
                row += chunk[0].shape[0]
                yield chunk

    return _counted_reader(
        path,
        chunk_rows,
        total,
        chunks,
        feature_names=feature_names,
        target_name=targets[0] if feature_names is not None else None,
        feature_columns=readers[0].feature_columns,
        target_column=readers[0].target_column,
    )
