"""Sparse (CSR) input on the Python side: conversion, validation, the kernels' arrays.

scipy.sparse is imported only when a sparse matrix is actually passed (it cannot be one
unless scipy.sparse is already loaded): dense-only users pay nothing at import.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_INT32_MAX = np.iinfo(np.int32).max

# nonzeros from which a prediction's product runs on threads when n_jobs asks (below,
# starting numba's threads costs more than they save)
PARALLEL_NNZ = 1 << 18


class CSRArrays(NamedTuple):
    """The three arrays of a CSR matrix as the kernels take them, and its shape.

    ``data`` (nnz,) float32 or float64, ``indices`` (nnz,) uint32 (validated int32 column
    indices, viewed unsigned), ``indptr`` (n + 1,) int64, all C-contiguous and typed writable (the kernels never write them).
    ``canonical``: every row's indices are known to be strictly increasing.
    """

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple[int, int]
    canonical: bool = False


def issparse(X) -> bool:
    """Whether ``X`` is a scipy.sparse matrix or array (without importing scipy.sparse)."""
    sp = sys.modules.get("scipy.sparse")
    return sp is not None and sp.issparse(X)


def _check_dtype(X, argument: str):
    if X.dtype in _FLOATS:
        return X
    if X.dtype.kind in "biuf":
        return X.astype(np.float64)  # a one-off conversion: the kernels read float32/64
    raise TypeError(
        f"{argument} is a sparse matrix of dtype {X.dtype}; pass real numbers "
        "(float32 and float64 are used as they are, integers are converted to float64)."
    )


def check_csr(
    X,
    *,
    n_features: int | None = None,
    argument: str = "X",
    owner: str = "",
    finite: bool = True,
    check_indices: bool = True,
):
    """Validate a scipy.sparse matrix and return it in CSR format, float32 or float64.

    Other formats (CSC, COO, ...) are converted once (a copy), integer data to float64.
    Unsorted indices and explicit zeros are accepted as they are (neither changes a fit);
    duplicate entries add up, as in ``X.toarray()``. Raises ``ValueError`` naming the
    problem for: no rows or no columns, a column count other than ``n_features``, an
    ``indptr`` of the wrong length, not starting at 0, decreasing or pointing past the
    end of ``indices``, a negative or too large column index, NaN or infinity in ``data``
    (``finite=False`` skips that last pass: the training kernels detect non-finite values
    themselves, as for dense X, and the fit then raises the same error with the model
    unchanged). Nothing is densified.

    ``check_indices=False`` leaves out the column index pass, for the one caller that
    checks the indices as it reads them: a threaded prediction
    (:func:`matvecs` with ``checked=False``), which must then follow.
    """
    from ._kernels.sparse import (
        CSR_INDEX_NEGATIVE,
        CSR_INDEX_TOO_LARGE,
        CSR_INDPTR_DECREASES,
        CSR_INDPTR_END,
        CSR_INDPTR_START,
        csr_check,
    )

    if getattr(X, "ndim", 2) != 2:
        raise ValueError(f"{argument} must be 2-D, got a sparse array of shape {X.shape}.")
    if X.format != "csr":
        X = X.tocsr()
    X = _check_dtype(X, argument)
    n, d = X.shape
    if n == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if d == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is required."
        )
    if n_features is not None and d != n_features:
        raise ValueError(
            f"X has {d} features, but {owner or 'the model'} is expecting {n_features} "
            "features as input."
        )
    if d > _INT32_MAX:
        raise ValueError(
            f"{argument} has {d} columns; fastgd keeps one float64 coefficient per column and "
            f"supports at most {_INT32_MAX}. Hash the features into fewer columns."
        )
    data, indices, indptr = X.data, X.indices, X.indptr
    for name, arr in (("indices", indices), ("indptr", indptr)):
        if arr.ndim != 1 or arr.dtype.kind not in "iu":
            raise ValueError(f"{argument}.{name} must be a 1-D integer array, got {arr.dtype}.")
    if not (indices.dtype.isnative and indptr.dtype.isnative):
        # byte-swapped index arrays (read from a big-endian file): one native copy
        X = X.copy()
        X.indices = indices = indices.astype(indices.dtype.newbyteorder("="))
        X.indptr = indptr = indptr.astype(indptr.dtype.newbyteorder("="))
    if data.ndim != 1:
        raise ValueError(f"{argument}.data must be 1-D, got shape {data.shape}.")
    if indptr.shape[0] != n + 1:
        raise ValueError(
            f"{argument}.indptr has {indptr.shape[0]} entries; a CSR matrix with {n} rows needs "
            f"{n + 1}. Rebuild the matrix (scipy.sparse.csr_matrix((data, indices, indptr), "
            "shape=...))."
        )
    code, where = csr_check(data, indices, indptr, d, check_indices)
    if code == 0 and finite:
        bad = first_nonfinite(data, int(indptr[-1]))
        if bad >= 0:
            from ._driver import BadRowError  # (_driver imports this module)

            raise BadRowError(argument, int(np.searchsorted(indptr, bad, side="right")) - 1)
    if code == 0:
        return X
    where = int(where)
    fix = " Rebuild the matrix with scipy.sparse (e.g. X.tocoo().tocsr())."
    if code == CSR_INDPTR_START:
        msg = f"{argument}.indptr must start at 0, got {indptr[0]}."
    elif code == CSR_INDPTR_DECREASES:
        msg = (
            f"{argument}.indptr decreases at row {where} "
            f"({indptr[where]} -> {indptr[where + 1]}); it must be non-decreasing."
        )
    elif code == CSR_INDPTR_END:
        msg = (
            f"{argument}.indptr[-1] = {indptr[-1]} points past the end of indices "
            f"({indices.shape[0]} entries) or data ({data.shape[0]} entries)."
        )
    elif code in (CSR_INDEX_NEGATIVE, CSR_INDEX_TOO_LARGE):
        row = int(np.searchsorted(indptr, where, side="right")) - 1
        msg = (
            f"{argument} has column index {indices[where]} in row {row}, outside [0, {d}) "
            f"for a matrix of {d} columns."
        )
    else:  # pragma: no cover - csr_check returns one of the codes above
        msg = f"{argument} is not a valid CSR matrix (code {code})."
    raise ValueError(msg + fix)


def threaded_product(nnz: int, n_threads: int) -> bool:
    """Whether a prediction multiplies a CSR matrix of ``nnz`` stored values on threads
    (:func:`matvecs`): ``n_threads`` > 1, at least :data:`PARALLEL_NNZ` nonzeros, and a
    thread-safe layer that loads."""
    from ._driver import _threading_ok

    return n_threads > 1 and nnz >= PARALLEL_NNZ and _threading_ok()


def matvecs(X, W: np.ndarray, n_threads: int = 1, *, threaded: bool = False) -> np.ndarray:
    """``X @ W`` for a CSR matrix and ``W`` of shape (d,) or (d, K) in ``X``'s dtype,
    shape (n,) or (n, K).

    ``threaded=False``: scipy's product, for X that passed :func:`check_csr`.
    ``threaded=True`` (where :func:`threaded_product` holds): the same bits from row
    blocks on ``n_threads`` of numba's threads
    (:func:`fastgd._kernels.parallel.csr_matvecs_parallel`), for X that passed
    ``check_csr(..., check_indices=False)``: the kernel checks each column index as it
    reads it, so the indices cost no pass of their own, and a bad one raises
    ``check_csr``'s ``ValueError``.
    """
    if threaded:
        from ._driver import on_threads
        from ._kernels.parallel import SCORE_BLOCK_ROWS, csr_matvecs_parallel

        ka = kernel_arrays(X)
        W2 = np.ascontiguousarray(W.reshape(W.shape[0], -1))
        out = np.empty((X.shape[0], W2.shape[1]), dtype=X.dtype)
        with on_threads(n_threads):
            ok = csr_matvecs_parallel(ka.data, ka.indices, ka.indptr, W2, out, SCORE_BLOCK_ROWS)
        if ok:
            return out.reshape(X.shape[0]) if W.ndim == 1 else out
        check_csr(X, finite=False)  # an index is out of range: this names it and raises
    return X @ W


def first_nonfinite(data: np.ndarray, nnz: int) -> int:
    """The first position in ``data[:nnz]`` (float32 or float64) holding NaN or inf, or -1."""
    from ._kernels.sparse import csr_first_nonfinite

    data = np.ascontiguousarray(data)
    if data.dtype == np.float64:
        return int(csr_first_nonfinite(data.view(np.uint64), np.uint64(0x7FF0000000000000), nnz))
    return int(csr_first_nonfinite(data.view(np.uint32), np.uint32(0x7F800000), nnz))


def kernel_arrays(X, canonical: bool = False) -> CSRArrays:
    """The arrays of a validated CSR matrix (:func:`check_csr`) as the kernels take them.

    ``canonical``: find out whether every row's indices are strictly increasing (one more
    pass over ``indices``; only lazy per-sample fits use it), else assume they are not.

    ``indices`` become int32 (a copy only when they are not), passed as a uint32 view,
    and ``indptr`` int64;
    read-only arrays are passed through a writable-typed alias (``_driver.kernel_view``).
    """
    from ._driver import kernel_view

    data = np.ascontiguousarray(X.data)
    indices = np.ascontiguousarray(X.indices, dtype=np.int32)
    indptr = np.ascontiguousarray(X.indptr, dtype=np.int64)
    if canonical:
        from ._kernels.sparse import csr_canonical

        canonical = bool(csr_canonical(kernel_view(indices), kernel_view(indptr)))
    # validated non-negative: the same bits as uint32, which the kernels index without
    # numba's negative-index wraparound (measured: the sparse dot 10% faster)
    unsigned = kernel_view(indices).view(np.uint32)
    return CSRArrays(kernel_view(data), unsigned, kernel_view(indptr), X.shape, canonical)


def row_has_nonfinite(X, row: int) -> bool:
    """Whether row ``row`` of the CSR matrix (or :class:`CSRArrays`) holds NaN or inf."""
    lo, hi = int(X.indptr[row]), int(X.indptr[row + 1])
    return not np.isfinite(X.data[lo:hi]).all()


def vstack(top, bottom):
    """Rows of ``top`` then ``bottom`` (each dense or CSR): CSR when either is sparse.

    Mixed float32 / float64 give float64. Used for the rows a mini-batch keeps waiting.
    """
    if not (issparse(top) or issparse(bottom)):
        if top.dtype == bottom.dtype:
            return np.concatenate([top, bottom])
        return np.concatenate([top.astype(np.float64), bottom.astype(np.float64)])
    import scipy.sparse as sp

    dtype = top.dtype if top.dtype == bottom.dtype else np.float64
    out = sp.vstack([top, bottom], format="csr", dtype=dtype)
    return out
