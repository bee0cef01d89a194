"""Software prefetch (``fastgd._kernels.prefetch``): which lines it requests, how far
ahead, and that it adds no per-row cost of its own.

A prefetch is only a hint, so a wrong one shows up as a slower epoch, never as a
wrong model. These tests pin what can be checked without a timer: the lines
requested for a row are exactly the lines the row spans (the last one included),
the distance follows the row size, and the prefetch stays an LLVM intrinsic (an
inlined numba helper taking the arrays cost an NRT call pair per row).
"""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit

from fastgd._kernels.prefetch import (
    AHEAD_MAX,
    AHEAD_MIN,
    LINE,
    prefetch_ahead,
    prefetch_sample,
    row_span,
)


@njit
def _spans(X):
    out = np.empty((X.shape[0], 2), dtype=np.int64)
    for r in range(X.shape[0]):
        line0, count = row_span(X, r)
        out[r, 0] = line0
        out[r, 1] = count
    return out


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("d", [1, 3, 10, 17, 100])
@pytest.mark.parametrize("skip", [0, 1, 5])
def test_row_span_is_every_line_the_row_touches(dtype, d, skip):
    """Rows of every length, starting anywhere in a line (``skip`` leading items move
    the array's start off the line boundary)."""
    itemsize = np.dtype(dtype).itemsize
    flat = np.zeros(skip + 9 * d, dtype=dtype)
    X = flat[skip:].reshape(9, d)
    assert X.flags.c_contiguous
    got = _spans(X)
    for r in range(X.shape[0]):
        start = X.ctypes.data + r * d * itemsize
        end = start + d * itemsize - 1
        assert got[r, 0] == start // LINE * LINE
        assert got[r, 1] == end // LINE - start // LINE + 1


def test_row_span_of_a_row_without_columns_is_empty():
    assert _spans(np.zeros((3, 0)))[:, 1].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("d", "dtype", "ahead"),
    [
        (100, np.float64, AHEAD_MIN),  # 800-byte rows: 5 would fit 4 KB, at least 8
        (100, np.float32, 10),
        (10, np.float64, AHEAD_MAX),  # 80-byte rows: 51 would fit, at most 32
        (1000, np.float64, AHEAD_MIN),
    ],
)
def test_prefetch_ahead_follows_the_row_size(d, dtype, ahead):
    assert prefetch_ahead(np.zeros((2, d), dtype=dtype)) == ahead


def test_prefetch_ahead_of_empty_rows():
    assert prefetch_ahead(np.zeros((2, 0))) == AHEAD_MAX


def _loop(with_prefetch):
    @njit
    def run(X, y, sw, order):
        s = 0.0
        for i in range(order.shape[0]):
            if with_prefetch:
                prefetch_sample(X, y, sw, order[i])
            s += y[order[i]]
        return s

    return run


def test_prefetch_sample_is_an_intrinsic():
    """Not an inlined numba function: inlined into the shuffled carry loop, such a
    helper kept an NRT incref/decref call pair per array per row (the d = 10 shuffled
    epoch ran 2.4x slower). A small loop does not show it -- LLVM prunes the calls
    there -- so the form itself is pinned."""
    from numba.extending import _Intrinsic

    assert isinstance(prefetch_sample, _Intrinsic)
    X, y, order = np.zeros((4, 3)), np.arange(4.0), np.array([3, 0, 2, 1])
    for sw in (np.empty(0), np.ones(4)):  # compiles and runs with and without weights
        assert _loop(True)(X, y, sw, order) == 6.0


def test_prefetch_sample_emits_both_localities():
    """Rows of X non-temporal (locality 0), y and sw temporal (locality 3): both appear."""
    fn = _loop(True)
    X, y = np.zeros((4, 3)), np.arange(4.0)
    fn(X, y, np.ones(4), np.arange(4))
    ir = fn.inspect_llvm(fn.signatures[0])
    calls = [line for line in ir.splitlines() if "call void @llvm.prefetch" in line]
    assert any("i32 0, i32 0, i32 1" in c for c in calls)
    assert any("i32 0, i32 3, i32 1" in c for c in calls)


def test_prefetch_sample_rejects_a_strided_matrix():
    with pytest.raises(Exception, match="C-contiguous"):
        _loop(True)(np.zeros((4, 6))[:, ::2], np.zeros(4), np.empty(0), np.arange(4))
