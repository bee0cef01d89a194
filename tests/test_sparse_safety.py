"""Safety of the sparse (scipy.sparse CSR) input path: malformed matrices and wide ones.

The estimators hand the three arrays of a CSR matrix (``data``, ``indices``,
``indptr``) to numba kernels that check no bounds, so a matrix whose arrays do not
fit together must be refused before any kernel reads them; otherwise a fit reads or
writes memory past an array's end, which at best gives a wrong model and at worst
kills the interpreter.

Tests
-----
test_malformed_csr_fuzz
    A hypothesis fuzz (fixed seed) of CSR matrices whose arrays are built past scipy's
    own validation (plain attribute assignment and ``_shape``; scipy 1.17 re-checks
    nothing then): ``data`` float32 / float64 with NaN, inf, huge values and explicit
    zeros; ``indices`` int32 / int64, negative, too large (also ``2**32``, which an
    unchecked cast to int32 would wrap into range), unsorted, duplicated within a row;
    ``indptr`` int32 / int64 of the wrong length, not starting at 0, decreasing, ending
    past ``indices`` or ``data``; unused entries past ``indptr[-1]``; declared shapes
    that do not match the arrays. Every example goes through ``fit``, ``partial_fit``
    (per sample, and with ``batch_size=4`` so that rows wait in the buffer, also on a
    model with rows already waiting), ``flush``, ``predict`` and ``decision_function``
    of both estimators, fresh and already fitted (with the matrix's column count and
    with another one). An independent NumPy oracle decides whether the matrix is
    valid: a valid one must be accepted (and score as the oracle's dense matrix times
    ``coef_.T`` plus ``intercept_``), anything else must raise ``ValueError`` or
    ``TypeError`` -- never ``IndexError``, a numba error or ``SystemError`` -- and a
    failed call must leave a fitted model's ``coef_``, ``intercept_``, ``n_iter_`` (and
    the rows waiting in its buffer) as they were. The input arrays must never be
    modified.
test_malformed_csr_fuzz_boundscheck
    The same fuzz in an interpreter that compiled the kernels with
    ``NUMBA_BOUNDSCHECK=1`` (into a private cache directory, as in
    ``test_boundscheck.py``): an out-of-bounds access in any kernel raises
    ``IndexError`` there, so an invalid matrix that reached a kernel fails the test
    even where the unchecked read happened to land in mapped memory. The child first
    shows that the checks are live: with the validation switched off, a bad column
    index does raise ``IndexError`` in the per-sample and in the batch kernel.
test_wide_csr_memory_fit, test_wide_csr_memory_partial_fit
    A CSR matrix of 2**20 columns (20,000 rows, 50 nonzeros each): the peak memory of a
    hinge fit, a lazy Adam mini-batch fit and a chunked ``partial_fit`` (the lazy Adam
    fit in four chunks) stays within the matrix's own bytes plus 256 bytes per column,
    far below what densifying one 64-row batch (512 MiB) would take. The
    ``partial_fit`` one is an expected failure for now (see its reason).
test_sparse_input_tag
    scikit-learn's ``input_tags.sparse`` is set.
test_nonnative_byte_order_index_arrays
    Byte-swapped index arrays are converted or refused (an expected failure for now).

Notes
-----
The fuzz and the memory tests run in a child interpreter (``sys.executable``, this
file loaded as a module): a segmentation fault there, the likely symptom of an
out-of-bounds write, fails the test with the child's output instead of ending the
pytest process, and a memory test measures a process of its own. The child loads
this file by path, so the fuzz itself is ordinary code below (``_fuzz_main``,
``_memory_main``), not a string.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from _child import run_child

ROOT = Path(__file__).resolve().parents[1]

D_FIT = 5  # columns of the fitted models the fuzzed matrices are tried on
D_OTHER = 7  # ... and of the models fitted with another column count
TAME = 100.0  # |data| up to this trains without diverging under the settings below

REG = dict(max_iter=3, tol=None, eta0=1e-4, random_state=0)
BATCH = dict(batch_size=4, optimizer="adam", lazy_updates=True)
CLF = dict(max_iter=3, tol=None, random_state=0)

# ------------------------------------------------------------------ child processes


def _run_child(function: str, *args: str, env=None, timeout: float = 600.0):
    """Run ``function(*args)`` of this file in a fresh interpreter (``_child.run_child``)."""
    return run_child(__file__, function, *args, env=env, timeout=timeout)


def _env_without_boundscheck():
    env = dict(os.environ)
    env.pop("NUMBA_BOUNDSCHECK", None)
    return env


# --------------------------------------------------------------------- the fuzzed input


@dataclasses.dataclass
class _Case:
    """One CSR matrix as its raw parts (``changes``: the corruptions applied, for reports)."""

    data: np.ndarray
    indices: np.ndarray
    indptr: np.ndarray
    shape: tuple
    array_api: bool = False  # scipy.sparse.csr_array instead of csr_matrix
    readonly: bool = False
    changes: tuple = ()

    def build(self):
        """The matrix, past scipy's validation: fresh copies of the arrays, assigned."""
        import scipy.sparse as sp

        m = (sp.csr_array if self.array_api else sp.csr_matrix)((1, 1))
        arrays = [a.copy() for a in (self.data, self.indices, self.indptr)]
        if self.readonly:
            for a in arrays:
                a.flags.writeable = False
        m.data, m.indices, m.indptr = arrays
        m._shape = self.shape  # no check_shape, no reshape
        assert m.indptr is arrays[2] and m.shape == self.shape  # scipy coerced nothing
        return m, arrays

    def stripped(self, nnz: int):
        """The same matrix without the entries past ``indptr[-1]`` (a scipy-valid tail)."""
        return dataclasses.replace(
            self, data=self.data[:nnz], indices=self.indices[:nnz], changes=("stripped",)
        )


@dataclasses.dataclass
class _Verdict:
    """What the oracle found (``why``: the first reason the matrix is invalid)."""

    valid: bool
    why: str = ""
    finite: bool = False
    tame: bool = False
    lenient: bool = False  # len(data) != len(indices), both covering indptr[-1]
    nnz: int = 0
    dense: np.ndarray | None = None


def _judge(case: _Case) -> _Verdict:
    """An oracle independent of fastgd's checks: plain Python over the raw arrays."""
    data, indices, indptr = case.data, case.indices, case.indptr
    n, d = case.shape
    if data.dtype.kind not in "f":
        return _Verdict(False, f"data dtype {data.dtype}")
    if n < 1 or d < 1:
        return _Verdict(False, f"shape {case.shape}")
    if data.ndim != 1 or indices.ndim != 1 or indptr.ndim != 1:
        return _Verdict(False, "an array is not 1-D")
    if indices.dtype.kind not in "iu" or indptr.dtype.kind not in "iu":
        return _Verdict(False, "non-integer indices or indptr")
    ptr = [int(v) for v in indptr]
    if len(ptr) != n + 1:
        return _Verdict(False, f"indptr has {len(ptr)} entries for {n} rows")
    if ptr[0] != 0:
        return _Verdict(False, "indptr[0] != 0")
    if any(b < a for a, b in zip(ptr, ptr[1:], strict=False)):
        return _Verdict(False, "indptr decreases")
    nnz = ptr[-1]
    if nnz > len(indices) or nnz > len(data):
        return _Verdict(False, "indptr[-1] past indices or data")
    cols = [int(v) for v in indices[:nnz]]
    if any(c < 0 or c >= d for c in cols):
        return _Verdict(False, "column index out of range")
    vals = [float(v) for v in data[:nnz]]
    finite = all(math.isfinite(v) for v in vals)
    dense = None
    if finite:
        dense = np.zeros((n, d))
        for r in range(n):
            for k in range(ptr[r], ptr[r + 1]):
                dense[r, cols[k]] += vals[k]  # duplicates add up, as in X.toarray()
    return _Verdict(
        True,
        finite=finite,
        tame=finite and all(abs(v) <= TAME for v in vals),
        lenient=len(indices) != len(data),
        nnz=nnz,
        dense=dense,
    )


_WILD = (math.nan, math.inf, -math.inf, 1e300, -1e300, 3e38, -3e38, 1e6)
_CORRUPTIONS = (
    "index_negative",
    "index_too_large",
    "indptr_short",
    "indptr_long",
    "indptr_empty",
    "indptr_start",
    "indptr_shifted",
    "indptr_decreasing",
    "indptr_end_past",
    "data_short",
    "indices_short",
    "data_long",
    "rows_mismatch",
    "cols_mismatch",
    "indices_float",
    "indptr_float",
    "data_2d",
    "indices_2d",
    "data_complex",
)


def _strategies():
    from hypothesis import strategies as st

    # explicit zeros are entries too; 1e-310 is subnormal
    tame = st.one_of(st.sampled_from((0.0, -0.0, 1e-310)), st.floats(-10.0, 10.0))

    @st.composite
    def cases(draw):
        n = draw(st.integers(0, 6))
        d = draw(st.sampled_from((D_FIT, D_FIT, D_FIT, D_OTHER, 1, 0)))
        fdt = draw(st.sampled_from((np.float64, np.float32)))
        idt = draw(st.sampled_from((np.int32, np.int64)))
        pdt = draw(st.sampled_from((np.int32, np.int64)))
        # unsorted, and duplicated within a row, as drawn
        col = st.integers(0, max(d - 1, 0))
        rows = []
        for _ in range(n):
            size = draw(st.sampled_from((0, 1, 2, 3, 4)))
            rows.append(draw(st.lists(col, min_size=size, max_size=size)))
        cols = [c for r in rows for c in r]
        ptr = [0]
        for r in rows:
            ptr.append(ptr[-1] + len(r))
        # tame or wild values, times no, one or two corruptions (repeats weigh more)
        plan = draw(st.sampled_from(("tame", "wild", "tame1", "wild1", "tame2", "wild1", "wild")))
        wild = plan.startswith("wild")
        value = st.one_of(tame, st.sampled_from(_WILD)) if wild else tame
        vals = draw(st.lists(value, min_size=len(cols), max_size=len(cols)))
        for _ in range(draw(st.sampled_from((0, 0, 0, 1, 2)))):
            # entries past indptr[-1]: valid for scipy.sparse, and never read
            cols.append(draw(st.sampled_from((0, -1, d, 2**31 - 1))))
            vals.append(draw(st.sampled_from((1.0, math.nan))))
        with np.errstate(over="ignore"):
            data = np.array(vals, dtype=np.float64).astype(fdt)
        indices = np.array(cols, dtype=np.int64).astype(idt)
        indptr = np.array(ptr, dtype=pdt)
        shape = (n, d)
        k = int(plan[-1]) if plan[-1].isdigit() else 0
        corruption = st.sampled_from(_CORRUPTIONS)
        changes = draw(st.lists(corruption, min_size=k, max_size=k, unique=True))
        nnz = ptr[-1]
        for change in changes:
            if change == "index_negative" and nnz > 0:
                pos = draw(st.integers(0, nnz - 1))
                indices[pos] = draw(st.sampled_from((-1, -d - 1, int(np.iinfo(idt).min))))
            elif change == "index_too_large" and nnz > 0:
                pos = draw(st.integers(0, nnz - 1))
                big = (d, d + 1, int(np.iinfo(idt).max))
                if idt is np.int64:
                    big += (2**32, 2**32 + 1)  # a cast to int32 would wrap these to 0, 1
                indices[pos] = draw(st.sampled_from(big))
            elif change == "indptr_short":
                indptr = indptr[:-1]
            elif change == "indptr_long":
                indptr = np.append(indptr, indptr[-1:]).astype(pdt)
            elif change == "indptr_empty":
                indptr = indptr[:0]
            elif change == "indptr_start" and len(indptr) > 0:
                indptr[0] = draw(st.sampled_from((1, -1)))
            elif change == "indptr_shifted":
                indptr = (indptr + 1).astype(pdt)
            elif change == "indptr_decreasing" and len(indptr) >= 2:
                if len(indptr) == 2:
                    indptr[1] = -1
                else:
                    r = draw(st.integers(1, len(indptr) - 2))
                    indptr[r] = int(indptr[-1]) + draw(st.integers(1, 3))
            elif change == "indptr_end_past" and len(indptr) > 0:
                indptr[-1] = draw(st.sampled_from((int(indptr[-1]) + 1, int(np.iinfo(pdt).max))))
            elif change == "data_short" and len(data) > 0:
                data = data[: -draw(st.integers(1, len(data)))]
            elif change == "indices_short" and len(indices) > 0:
                indices = indices[: -draw(st.integers(1, len(indices)))]
            elif change == "data_long":
                data = np.append(data, np.ones(draw(st.integers(1, 2)), dtype=fdt))
            elif change == "rows_mismatch":
                shape = (shape[0] + draw(st.sampled_from((-1, 1, 2))), shape[1])
            elif change == "cols_mismatch":
                shape = (shape[0], shape[1] + draw(st.sampled_from((-1, 1, -shape[1]))))
            elif change == "indices_float":
                indices = indices.astype(np.float64)
            elif change == "indptr_float":
                indptr = indptr.astype(np.float64)
            elif change == "data_2d":
                data = data.reshape(1, -1)
            elif change == "indices_2d":
                indices = indices.reshape(1, -1)
            elif change == "data_complex":
                data = data.astype(np.complex128)
        return _Case(
            data,
            indices,
            indptr,
            shape,
            array_api=draw(st.integers(0, 3)) == 0,
            readonly=draw(st.integers(0, 7)) == 0,
            changes=tuple(changes),
        )

    return cases()


def _examples():
    """Hand-picked cases that every run tries first."""
    f64, i32, i64 = np.float64, np.int32, np.int64

    def case(data, indices, indptr, shape, changes, ddt=f64, idt=i32, pdt=i64):
        return _Case(
            np.array(data, dtype=ddt),
            np.array(indices, dtype=idt),
            np.array(indptr, dtype=pdt),
            shape,
            changes=(changes,),
        )

    return [
        case([1.0, 2.0, 3.0], [4, 0, 4], [0, 2, 3], (2, D_FIT), "unsorted+duplicate"),
        case([1.0, 2.0], [0, 2**32], [0, 1, 2], (2, D_FIT), "int64 2**32", idt=i64),
        case([1.0, 2.0], [0, -(2**32) + 1], [0, 1, 2], (2, D_FIT), "int64 -2**32+1", idt=i64),
        case([1.0, 2.0], [0, 1], [0, 1, 3], (2, D_FIT), "end past", pdt=i32),
        case([1.0, 2.0], [0, 1], [1, 1, 2], (2, D_FIT), "start 1"),
        case([1.0, 2.0, 3.0], [0, 1, 2], [0, 3, 1, 3], (3, D_FIT), "decreasing"),
        case([1.0, 2.0, 9.0], [0, 1, 10**6], [0, 1, 2], (2, D_FIT), "tail index"),
        case([1.0, 2.0, np.nan], [0, 1, 0], [0, 1, 2], (2, D_FIT), "tail NaN", ddt=np.float32),
        case([1.0, 2.0, 3.0], [0, 1], [0, 1, 2], (2, D_FIT), "data longer"),
        case([1.0, np.inf], [0, 1], [0, 1, 2], (2, D_FIT), "inf"),
        case([0.0] * 4, [0, 1, 2, 3], [0, 4, 4, 4, 4, 4], (5, D_FIT), "explicit zeros"),
    ]


# --------------------------------------------------------------------- the fuzz (child)

OK, EITHER, ERROR, STRICT = "ok", "either", "error", "strict"
# OK: must succeed. EITHER: may succeed or raise ValueError/TypeError. ERROR: must raise
# ValueError/TypeError (divergence allowed: non-finite and huge values together).
# STRICT: must raise ValueError/TypeError before training (no DivergenceError).


def _snapshot(model):
    if not hasattr(model, "coef_"):
        return None
    return (
        np.array(model.coef_, copy=True),
        np.array(model.intercept_, copy=True),
        model.n_iter_,
        model.n_features_in_,
        model.n_pending_,
    )


def _same(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return (
        np.array_equal(a[0], b[0], equal_nan=True)
        and np.array_equal(a[1], b[1], equal_nan=True)
        and a[2:] == b[2:]
    )


def _check_case(case: _Case, templates, stats: Counter) -> list[str]:
    """Run every call on ``case``; the violations found (empty: all as the oracle says)."""
    from fastgd import SGDClassifier, SGDRegressor
    from fastgd._driver import DivergenceError

    v = _judge(case)
    n, d = case.shape
    ny = max(n, 0)
    y = np.linspace(-1.0, 1.0, ny)
    y2, y3 = np.arange(ny) % 2, np.arange(ny) % 3
    stats["valid" if v.valid else "invalid"] += 1
    if v.valid:
        stats["finite" if v.finite else "nonfinite"] += 1
        stats["tame" if v.tame else "wild"] += 1
    failures: list[str] = []

    def training(model_d=None, classes_needed=0):
        """The expectation for fit (``model_d`` None) or partial_fit on a fitted model."""
        if not v.valid or (model_d is not None and d != model_d):
            return STRICT
        if not v.finite:
            return ERROR
        if classes_needed and ny < classes_needed:
            return STRICT  # a classifier's fit needs two classes
        if v.lenient or not v.tame:
            return EITHER
        return OK

    def prediction(model_d):
        if not v.valid or d != model_d or not v.finite:
            return STRICT
        return EITHER if v.lenient else OK

    def call(label, model, method, expect, *args, **kwargs):
        X, arrays = case.build()
        before = _snapshot(model)
        originals = [a.copy() for a in arrays]
        outcome = None
        try:
            result = getattr(model, method)(X, *args, **kwargs)
        except Exception as exc:
            kind = f"{type(exc).__module__}.{type(exc).__name__}"
            stats[f"raised {type(exc).__name__}"] += 1
            if not isinstance(exc, (ValueError, TypeError)) or type(exc).__module__.startswith(
                "numba"
            ):
                failures.append(f"{label}: {kind} (expected ValueError/TypeError): {exc}")
            elif expect == OK:
                failures.append(f"{label}: {kind} on a valid matrix: {exc}")
            elif isinstance(exc, DivergenceError) and expect == STRICT:
                failures.append(f"{label}: trained on a matrix it must refuse ({v.why}): {exc}")
            elif not isinstance(exc, DivergenceError) and not _same(before, _snapshot(model)):
                failures.append(f"{label}: the failed call changed the model ({kind}: {exc})")
            outcome = exc
        else:
            stats["succeeded"] += 1
            if expect in (STRICT, ERROR):
                why = v.why or "non-finite data"
                failures.append(f"{label}: accepted a matrix it must refuse ({why})")
            outcome = result
        for name, a, o in zip(("data", "indices", "indptr"), arrays, originals, strict=True):
            if not np.array_equal(a, o, equal_nan=a.dtype.kind in "fc"):
                failures.append(f"{label}: modified X.{name} in place")
        if X.data is not arrays[0] or X.indices is not arrays[1] or X.indptr is not arrays[2]:
            failures.append(f"{label}: replaced an array of the caller's X")
        return outcome

    def fitted(name):
        return copy.deepcopy(templates[name])

    def check_scores(label, scores, model):
        if isinstance(scores, Exception) or v.dense is None or not v.tame or v.lenient:
            return
        coef = np.atleast_2d(model.coef_)
        want = v.dense @ coef.T + np.atleast_1d(model.intercept_)
        want = want[:, 0] if want.shape[1] == 1 else want
        scale = np.abs(v.dense) @ np.abs(coef).T + np.abs(np.atleast_1d(model.intercept_)) + 1.0
        scale = scale[:, 0] if scale.shape[1] == 1 else scale
        if scores.shape != want.shape or not (np.abs(scores - want) <= 1e-4 * scale).all():
            failures.append(f"{label}: scores {scores!r}, the oracle's dense X gives {want!r}")

    def then(label, fn):
        """A follow-up call on a model that accepted the matrix: it must work on the rows."""
        try:
            fn()
        except Exception as exc:
            kind = f"{type(exc).__module__}.{type(exc).__name__}"
            if not isinstance(exc, (ValueError, TypeError)) or kind.startswith("numba"):
                failures.append(f"{label}: {kind} (expected ValueError/TypeError): {exc}")
            elif v.tame and not v.lenient:
                failures.append(f"{label}: {kind} after the rows were accepted: {exc}")
            return False
        return True

    def same_as_stripped(label, model, fit):
        """A fit that accepted unused entries past indptr[-1] equals one without them."""
        if v.valid and v.tame and max(len(case.data), len(case.indices)) > v.nnz:
            X0, _ = case.stripped(v.nnz).build()
            ref = fit(X0)
            if not np.array_equal(model.coef_, ref.coef_):
                failures.append(f"{label}: unused entries past indptr[-1] changed the fit")

    # fresh estimators
    reg = SGDRegressor(**REG)
    if not isinstance(call("SGDRegressor.fit", reg, "fit", training(), y), Exception):
        same_as_stripped("SGDRegressor.fit", reg, lambda X0: SGDRegressor(**REG).fit(X0, y))
    call("SGDClassifier.fit", SGDClassifier(**CLF), "fit", training(classes_needed=2), y3)
    call("SGDRegressor.partial_fit", SGDRegressor(**REG), "partial_fit", training(), y)
    reg4 = SGDRegressor(**REG, **BATCH)
    if not isinstance(call("batched partial_fit", reg4, "partial_fit", training(), y), Exception):
        if then("flush after a batched partial_fit", reg4.flush):
            same_as_stripped(
                "batched partial_fit + flush",
                reg4,
                lambda X0: SGDRegressor(**REG, **BATCH).partial_fit(X0, y).flush(),
            )
    for bs in (1, 4):
        call(
            f"SGDClassifier(batch_size={bs}).partial_fit",
            SGDClassifier(**CLF, batch_size=bs),
            "partial_fit",
            training(),
            y3,
            classes=[0, 1, 2],
        )

    # models fitted on valid matrices of D_FIT columns
    call("fitted SGDRegressor.fit", fitted("reg"), "fit", training(), y)
    call("fitted SGDClassifier.fit", fitted("clf"), "fit", training(classes_needed=2), y3)
    call("fitted SGDRegressor.partial_fit", fitted("reg"), "partial_fit", training(D_FIT), y)
    pend = fitted("reg_pending")
    if not isinstance(
        call("SGDRegressor.partial_fit, 2 rows waiting", pend, "partial_fit", training(D_FIT), y),
        Exception,
    ):
        then("flush after 2 waiting rows", pend.flush)
    call("fitted SGDClassifier.partial_fit", fitted("clf"), "partial_fit", training(D_FIT), y3)
    call(
        "SGDClassifier.partial_fit, 2 rows waiting",
        fitted("clf_pending"),
        "partial_fit",
        training(D_FIT),
        y2,
    )
    model = fitted("reg")
    check_scores(
        "SGDRegressor.predict",
        call("SGDRegressor.predict", model, "predict", prediction(D_FIT)),
        model,
    )
    model = fitted("clf")
    label = "SGDClassifier.decision_function (3 classes)"
    check_scores(label, call(label, model, "decision_function", prediction(D_FIT)), model)
    labels = call("SGDClassifier.predict", model, "predict", prediction(D_FIT))
    if not isinstance(labels, Exception) and not np.isin(labels, model.classes_).all():
        failures.append(f"SGDClassifier.predict: labels {labels!r} not in classes_")
    model = fitted("clf_pending")
    label = "SGDClassifier.decision_function (binary)"
    check_scores(label, call(label, model, "decision_function", prediction(D_FIT)), model)

    # models fitted with D_OTHER columns
    model = fitted("reg_other")
    check_scores(
        "other SGDRegressor.predict",
        call("other SGDRegressor.predict", model, "predict", prediction(D_OTHER)),
        model,
    )
    call("other SGDRegressor.partial_fit", fitted("reg_other"), "partial_fit", training(D_OTHER), y)
    model = fitted("clf_other")
    label = "other SGDClassifier.decision_function"
    check_scores(label, call(label, model, "decision_function", prediction(D_OTHER)), model)
    call(
        "other SGDClassifier.partial_fit", fitted("clf_other"), "partial_fit", training(D_OTHER), y3
    )
    return failures


def _templates():
    """Fitted models the fuzzed matrices are tried on, trained on valid CSR matrices."""
    import scipy.sparse as sp

    from fastgd import SGDClassifier, SGDRegressor

    rng = np.random.default_rng(0)
    out = {}
    for suffix, d in (("", D_FIT), ("_other", D_OTHER)):
        dense = rng.normal(size=(12, d)) * (rng.random((12, d)) < 0.6)
        X = sp.csr_matrix(dense)
        y = dense @ rng.normal(size=d)
        y3 = np.arange(12) % 3
        out["reg" + suffix] = SGDRegressor(**REG).fit(X, y)
        out["clf" + suffix] = SGDClassifier(**CLF).fit(X, y3)
        if suffix == "":
            out["reg_pending"] = SGDRegressor(**REG, **BATCH).partial_fit(X[:6], y[:6])
            out["clf_pending"] = SGDClassifier(**CLF, batch_size=4).partial_fit(
                X[:6], y3[:6] % 2, classes=[0, 1]
            )
            assert out["reg_pending"].n_pending_ == 2 and out["clf_pending"].n_pending_ == 2
    return out


def _show_checks_are_live():
    """With validation off, a bad column index reaches the kernels: IndexError, not a crash."""
    import scipy.sparse as sp

    from fastgd import SGDRegressor, _sparse

    X = sp.csr_matrix((np.array([1.0, 2.0]), np.array([0, 10**6]), np.array([0, 1, 2])), (2, 3))
    check = _sparse.check_csr
    _sparse.check_csr = lambda X, **kwargs: X
    try:
        for params in ({}, dict(batch_size=2, optimizer="adam")):
            try:
                SGDRegressor(max_iter=1, tol=None, **params).fit(X, np.ones(2))
            except IndexError:
                continue
            raise AssertionError(f"NUMBA_BOUNDSCHECK=1 but no IndexError with {params}")
    finally:
        _sparse.check_csr = check
    print("bounds checks are live: an unvalidated bad index raises IndexError")


def _fuzz_main(n_examples: str = "200", mode: str = "plain", last: str = "") -> int:
    """The child of the fuzz tests: 0 when every example behaves as the oracle says.

    ``last``: a file that holds the example being checked (read after a crash).
    """
    import warnings

    from hypothesis import HealthCheck, example, given, settings
    from numba.core import config

    warnings.simplefilter("ignore")  # overflow in huge-value predictions, scipy's notes
    if mode == "boundscheck":
        assert config.BOUNDSCHECK == 1, "NUMBA_BOUNDSCHECK is not on"
        _show_checks_are_live()
    else:
        assert not config.BOUNDSCHECK, "this run should use the normal (unchecked) kernels"
    start = time.perf_counter()
    templates = _templates()
    print(f"templates fitted in {time.perf_counter() - start:.1f} s")
    stats: Counter = Counter()
    changes: Counter = Counter()

    @settings(
        max_examples=int(n_examples),
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(_strategies())
    def fuzz(case):
        if last:
            Path(last).write_text(repr(case))
        stats["examples"] += 1
        changes.update(case.changes or ("none",))
        failures = _check_case(case, templates, stats)
        if failures:
            raise AssertionError(
                f"{case!r}\noracle: {_judge(case).why or 'valid'}\n" + "\n".join(failures)
            )

    for case in reversed(_examples()):
        fuzz = example(case)(fuzz)
    start = time.perf_counter()
    try:
        fuzz()
    except Exception:
        import traceback

        traceback.print_exc(file=sys.stdout)
        print("FAILED", dict(stats))
        return 1
    print(f"{stats['examples']} examples in {time.perf_counter() - start:.1f} s")
    print("outcomes:", dict(sorted(stats.items())))
    print("corruptions:", dict(sorted(changes.items())))
    # the fuzz must reach both sides of the oracle, and the kernels
    assert stats["tame"] >= 20 and stats["invalid"] >= 40 and stats["succeeded"] >= 200, stats
    return 0


# --------------------------------------------------------------------- the memory (child)


def _peak_kib() -> int:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) where Linux allows it."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _trim_heap() -> None:
    """glibc's ``malloc_trim(0)``, where there is one (no-op elsewhere)."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _memory_main(which: str = "fit") -> int:
    """The child of the memory tests: training on a 2**20-column CSR, peak RSS against a bound.

    ``which``: "fit" (a hinge fit and a lazy Adam mini-batch fit) or "partial_fit" (the
    lazy Adam fit as a stream of four chunks, rows waiting between them). Returns 0 when
    within the bound, 1 when not, 3 when this platform cannot measure one call's peak
    (only for "partial_fit", whose model persists between calls).
    """
    import gc
    import warnings

    import scipy.sparse as sp

    from fastgd import SGDClassifier, SGDRegressor

    warnings.simplefilter("ignore")
    rng = np.random.default_rng(0)
    n, k, d = 20_000, 50, 2**20
    indptr = np.arange(0, n * k + 1, k, dtype=np.int32)
    indices = rng.integers(0, d, size=n * k, dtype=np.int32)
    data = rng.random(n * k) + 0.5
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    assert X.indices.dtype == np.int32 and X.indptr.dtype == np.int32
    y_clf = (rng.random(n) < 0.5).astype(np.int64)
    y_reg = rng.normal(size=n)
    x_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    # O(n_features): a model keeps 17 float64 values per column at rest (parameters,
    # optimizer state, counters and their snapshot); during a call the general path holds
    # about twice that (the call's working copy and its rollback snapshots: ~32 measured).
    # Densifying even one 64-row batch of this X would take 512 MiB more.
    bound = x_bytes + 48 * 8 * d
    built = _peak_kib()

    def clf_fit(X, y):
        return SGDClassifier(loss="hinge", max_iter=2, tol=None, random_state=0).fit(X, y)

    def reg_fit(X, y):
        params = dict(optimizer="adam", batch_size=64, lazy_updates=True, max_iter=1, tol=None)
        return SGDRegressor(**params, random_state=0).fit(X, y)

    def reg_stream(X, y, chunks=4):
        model = SGDRegressor(optimizer="adam", batch_size=64, lazy_updates=True, random_state=0)
        edges = np.linspace(0, X.shape[0], chunks + 1).astype(int)  # 5,000 rows: 8 wait
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            model.partial_fit(X[a:b], y[a:b])
        return model.flush()

    if which == "fit":
        phases = (("hinge fit", clf_fit, y_clf), ("adam fit", reg_fit, y_reg))
    else:
        phases = (("adam partial_fit, 4 chunks", reg_stream, y_reg),)
    # warm-up: the same rows and dtypes in 8 columns, so that every kernel -- and every
    # path that depends on the row count, such as the compiled shuffle -- compiles (or
    # loads from the cache) here and not in a measured call
    narrow = sp.csr_matrix((data.copy(), indices % 8, indptr.copy()), shape=(n, 8))
    assert narrow.indices.dtype == np.int32 and narrow.indptr.dtype == np.int32
    for _, fit, y in phases:
        fit(narrow, y)
    del narrow
    gc.collect()
    base = _peak_kib()
    print(f"X: {x_bytes / 2**20:.1f} MiB, bound {bound / 2**20:.1f} MiB (X + 256 B x {d} columns)")
    print(f"peak RSS: {built / 1024:.0f} MiB after building X, {base / 1024:.0f} MiB after warm-up")
    worst = 0
    for name, fit, y in phases:
        gc.collect()
        _trim_heap()  # the previous phase's freed memory, kept by malloc, back to the system
        rss_before = _status_kib("VmRSS")
        exact = rss_before is not None and _reset_peak()
        if not exact and which != "fit":
            print("cannot reset the peak-RSS mark here (/proc/self/clear_refs)")
            return 3
        start = time.perf_counter()
        model = fit(X, y)
        elapsed = time.perf_counter() - start
        coef = np.asarray(model.coef_)
        assert coef.shape[-1] == d and np.isfinite(coef).all(), name
        assert np.isfinite(model.intercept_).all() and np.abs(coef).max() > 0, name
        if exact:  # the peak of this call alone
            growth = (_status_kib("VmHWM") - rss_before) * 1024
            how = "over its start"
        else:  # ru_maxrss cannot be reset here: the peak since the warm-up
            growth = (_peak_kib() - base) * 1024
            how = "over the warm-up's peak"
        print(
            f"{name}: {elapsed:.2f} s, peak RSS +{growth / 2**20:.1f} MiB {how} "
            f"({(growth - x_bytes) / d:.0f} B per column beyond the size of X)"
        )
        worst = max(worst, growth)
        del model, coef
    if worst > bound:
        print(f"FAILED: peak memory grew by {worst / 2**20:.1f} MiB > {bound / 2**20:.1f} MiB")
        return 1
    print("ok")
    return 0


# ---------------------------------------------------------------------------- tests


def _fuzz(tmp_path, n_examples, mode, env):
    last = tmp_path / "last_example.txt"
    out, report = _run_child("_fuzz_main", n_examples, mode, str(last), env=env, timeout=1200)
    print(report)
    if out.returncode < 0 and last.exists():  # killed by a signal: name the example
        report += f"\n--- the example being checked ---\n{last.read_text()}"
    assert out.returncode == 0, report


def test_malformed_csr_fuzz(tmp_path):
    _fuzz(tmp_path, "250", "plain", _env_without_boundscheck())


@pytest.mark.slow
def test_malformed_csr_fuzz_boundscheck(tmp_path):
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    _fuzz(tmp_path, "150", "boundscheck", env)


def test_wide_csr_memory_fit():
    out, report = _run_child("_memory_main", "fit", env=_env_without_boundscheck(), timeout=600)
    print(report)
    assert out.returncode == 0, report
    assert out.stdout.strip().splitlines()[-1] == "ok", report


def test_wide_csr_memory_partial_fit():
    out, report = _run_child(
        "_memory_main", "partial_fit", env=_env_without_boundscheck(), timeout=600
    )
    print(report)
    if out.returncode == 3:
        pytest.skip("this platform cannot measure the peak of one call")
    assert out.returncode == 0, report
    assert out.stdout.strip().splitlines()[-1] == "ok", report


def test_sparse_input_tag():
    import fastgd

    assert fastgd.SGDClassifier().__sklearn_tags__().input_tags.sparse is True
    assert fastgd.SGDRegressor().__sklearn_tags__().input_tags.sparse is True


def test_nonnative_byte_order_index_arrays():
    """Index arrays in non-native byte order are converted (one copy): the dense fit.

    scipy's constructors convert such arrays to native order; a matrix gets them when
    its arrays are assigned afterwards, e.g. arrays read from a big-endian file.
    """
    import scipy.sparse as sp

    from fastgd import SGDRegressor

    swapped = "<" if sys.byteorder == "big" else ">"
    for name in ("indices", "indptr"):
        X = sp.csr_matrix(np.array([[1.0, 0.0], [0.0, 2.0]]))
        setattr(X, name, getattr(X, name).astype(swapped + getattr(X, name).dtype.str[1:]))
        model = SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X, np.ones(2))
        dense = SGDRegressor(max_iter=3, tol=None, random_state=0).fit(X.toarray(), np.ones(2))
        np.testing.assert_allclose(model.coef_, dense.coef_, rtol=1e-12)
        np.testing.assert_allclose(model.predict(X), dense.predict(X.toarray()), rtol=1e-12)
