"""Software prefetch of rows of ``X`` (LLVM's ``llvm.prefetch`` intrinsic).

A shuffled epoch visits rows in random order, so every row is a cache miss and
per-sample SGD (each row waits for the previous update) becomes bound by memory
latency, not bandwidth. Asking for row ``order[i + ahead]`` while row
``order[i]`` is processed hides that latency (measured here: 3x faster at d=10,
2x at d=100 on a shuffled epoch); on a sequential order it costs nothing
measurable. A prefetch never faults, but callers only pass valid rows anyway.

Two choices, both measured on a shuffled d = 100 float64 epoch (AMD Zen 5) against
the earlier "every line of the row, temporal, 8 rows ahead":

* **Rows of X are prefetched non-temporally** (``prefetchnta``): a shuffled row is
  read once per epoch, and temporal fills push ``y`` (8 MB at n = 1e6, one random
  line per row) and ``order`` out of the last-level cache. ``y`` and ``sw`` are
  prefetched temporally, so they stay cached across rows that share a line. Same
  speed on a quiet host, 25-30% faster while other tenants load the memory system
  (51 against 70-77 ms per epoch; the yardstick sum moves much less).
* **The distance adapts to the row size** (:func:`prefetch_ahead`): about 4 KB of
  rows in flight, 8 to 32 rows. Eight rows of 80 bytes are a few hundred
  nanoseconds of work, less than one memory latency: at d = 10 the shuffled epoch
  ran 30% faster with 32 rows ahead; at d = 100 float64 (800-byte rows) 8 stays
  best.

Together, on the whole ``SGDRegressor(max_iter=1, tol=None, shuffle=True).fit`` at
n = 1e6 (alternating processes, best of 5, three pairs): d = 100 float64 80-88 ms ->
60-63 ms, d = 10 float64 38-40 -> 25-27 ms, d = 100 float32 53-57 -> 47-51 ms.

Every line a row spans is requested, the last one included (an 80-byte row can
start 56 bytes into a line and span three).
"""

from __future__ import annotations

from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import leaf as kernel

AHEAD_BYTES = 4096  # bytes of rows requested ahead of the row being processed
AHEAD_MIN = 8  # rows
AHEAD_MAX = 32  # rows
LINE = 64  # bytes per cache line

_I8P = ir.IntType(8).as_pointer()
_I32 = ir.IntType(32)
_LOCALITY_NTA = 0  # llvm.prefetch locality 0: prefetchnta
_LOCALITY_T0 = 3  # locality 3: prefetcht0, into every cache level


def _emit_prefetch(builder, ptr, locality):
    """Emit ``llvm.prefetch(ptr, read, locality, data)``."""
    fnty = ir.FunctionType(ir.VoidType(), [_I8P, _I32, _I32, _I32])
    fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
    builder.call(fn, [builder.bitcast(ptr, _I8P), _I32(0), _I32(locality), _I32(1)])


def _row_span(context, builder, aty, arr, r):
    """``(address of the first cache line, number of lines)`` spanned by row ``r`` of the
    C-contiguous 2-D array ``arr``, as intp values; 0 lines when it has no columns."""
    ary = context.make_array(aty)(context, builder, arr)
    zero = context.get_constant(types.intp, 0)
    first = cgutils.get_item_pointer(context, builder, aty, ary, [r, zero])
    ncols = cgutils.unpack_tuple(builder, ary.shape, 2)[1]
    intp = context.get_value_type(types.intp)
    itemsize = context.get_abi_sizeof(context.get_data_type(aty.dtype))
    lo = builder.ptrtoint(first, intp)
    last = builder.add(lo, builder.sub(builder.mul(ncols, intp(itemsize)), intp(1)))
    mask = intp(~(LINE - 1))
    line0 = builder.and_(lo, mask)
    lines = builder.add(
        builder.lshr(builder.sub(builder.and_(last, mask), line0), intp(LINE.bit_length() - 1)),
        intp(1),
    )
    return line0, builder.select(builder.icmp_signed(">", ncols, zero), lines, zero)


def _check_matrix(fn, X):
    if not (isinstance(X, types.Array) and X.ndim == 2 and X.layout == "C"):
        raise TypeError(f"{fn}: X must be a C-contiguous 2-D array, got {X}")


@intrinsic
def row_span(typingctx, X, r):
    """``(address of the first cache line, number of lines)`` that row ``r`` of ``X``
    spans: the lines :func:`prefetch_sample` requests (for tests)."""
    _check_matrix("row_span", X)

    def codegen(context, builder, sig, args):
        span = _row_span(context, builder, sig.args[0], args[0], args[1])
        return context.make_tuple(builder, sig.return_type, list(span))

    return types.UniTuple(types.intp, 2)(X, types.intp), codegen


def _emit_row_nta(context, builder, aty, arr, r):
    """Emit a non-temporal prefetch of every cache line spanned by row ``r`` of ``arr``."""
    line0, count = _row_span(context, builder, aty, arr, r)
    intp = line0.type
    with cgutils.for_range(builder, count) as loop:
        addr = builder.add(line0, builder.mul(loop.index, intp(LINE)))
        _emit_prefetch(builder, builder.inttoptr(addr, _I8P), _LOCALITY_NTA)


def _emit_item(context, builder, aty, arr, i):
    """Emit a temporal prefetch of the cache line holding ``arr[i]`` (1-D)."""
    ary = context.make_array(aty)(context, builder, arr)
    _emit_prefetch(builder, cgutils.get_item_pointer(context, builder, aty, ary, [i]), _LOCALITY_T0)


@intrinsic
def prefetch_sample(typingctx, X, y, sw, r):
    """Prefetch row ``r`` of ``X`` (non-temporal, every line it spans) and ``y[r]`` and,
    when ``sw`` is not empty, ``sw[r]`` (temporal).

    An intrinsic, not an inlined numba function: inlined at the numba level, the
    three array arguments cost an NRT incref/decref call pair each per row (measured:
    the d = 10 shuffled epoch 2.4x slower).
    """
    _check_matrix("prefetch_sample", X)
    for name, arg in (("y", y), ("sw", sw)):
        if not (isinstance(arg, types.Array) and arg.ndim == 1):
            raise TypeError(f"prefetch_sample: {name} must be a 1-D array, got {arg}")

    def codegen(context, builder, sig, args):
        Xv, yv, swv, r = args
        _emit_row_nta(context, builder, sig.args[0], Xv, r)
        _emit_item(context, builder, sig.args[1], yv, r)
        swa = context.make_array(sig.args[2])(context, builder, swv)
        n_sw = cgutils.unpack_tuple(builder, swa.shape, 1)[0]
        with builder.if_then(builder.icmp_signed("!=", n_sw, n_sw.type(0))):
            _emit_item(context, builder, sig.args[2], swv, r)
        return context.get_dummy_value()

    return types.void(X, y, sw, types.intp), codegen


@intrinsic
def prefetch_span(typingctx, a, lo, hi):
    """Prefetch (non-temporal) every cache line of ``a[lo:hi]`` of a 1-D array: the
    stretch of a CSR matrix's ``data`` or ``indices`` that holds one row."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        raise TypeError(f"prefetch_span: a must be a 1-D array, got {a}")

    def codegen(context, builder, sig, args):
        aty = sig.args[0]
        arr, lo_v, hi_v = args
        ary = context.make_array(aty)(context, builder, arr)
        intp = context.get_value_type(types.intp)
        lo_v = context.cast(builder, lo_v, sig.args[1], types.intp)
        hi_v = context.cast(builder, hi_v, sig.args[2], types.intp)
        with builder.if_then(builder.icmp_signed("<", lo_v, hi_v)):
            first = builder.ptrtoint(
                cgutils.get_item_pointer(context, builder, aty, ary, [lo_v]), intp
            )
            itemsize = context.get_abi_sizeof(context.get_data_type(aty.dtype))
            nbytes = builder.mul(builder.sub(hi_v, lo_v), intp(itemsize))
            mask = intp(~(LINE - 1))
            line0 = builder.and_(first, mask)
            last = builder.and_(builder.sub(builder.add(first, nbytes), intp(1)), mask)
            count = builder.add(builder.udiv(builder.sub(last, line0), intp(LINE)), intp(1))
            with cgutils.for_range(builder, count) as loop:
                addr = builder.add(line0, builder.mul(loop.index, intp(LINE)))
                _emit_prefetch(builder, builder.inttoptr(addr, _I8P), _LOCALITY_NTA)
        return context.get_dummy_value()

    return types.void(a, lo, hi), codegen


@intrinsic
def prefetch_item(typingctx, a, i):
    """Prefetch (temporal) the cache line holding ``a[i]`` of a 1-D array (any integer
    ``i``: the shuffle's draws, a CSR row's ``indptr`` entry)."""
    if not (isinstance(a, types.Array) and a.ndim == 1):
        raise TypeError(f"prefetch_item: a must be a 1-D array, got {a}")

    def codegen(context, builder, sig, args):
        i_v = context.cast(builder, args[1], sig.args[1], types.intp)
        _emit_item(context, builder, sig.args[0], args[0], i_v)
        return context.get_dummy_value()

    return types.void(a, i), codegen


@kernel
def weight(sw, r):
    """``sw[r]``, or 1 when ``sw`` is empty (no sample weights: nothing to read)."""
    return 1.0 if sw.shape[0] == 0 else sw[r]


@kernel
def prefetch_ahead(X):
    """Rows to prefetch ahead of the current one: ``AHEAD_BYTES`` of rows, clamped to
    ``[AHEAD_MIN, AHEAD_MAX]`` (8 rows at d = 100 float64, 32 at d = 10)."""
    row_bytes = max(1, X.shape[1] * X.itemsize)
    return min(AHEAD_MAX, max(AHEAD_MIN, AHEAD_BYTES // row_bytes))


# ----------------------------------------------------------- NUMBA_DISABLE_JIT=1
def _prefetch_sample_python(X, y, sw, r):
    """A prefetch is only a hint: nothing to do in Python."""


def _row_span_python(X, r):
    """:func:`row_span` from the array's address and strides."""
    if X.ndim != 2 or not X.flags.c_contiguous:
        raise TypeError(f"row_span: X must be a C-contiguous 2-D array, got {X.dtype}{X.shape}")
    lo = X.ctypes.data + int(r) * X.strides[0]
    ncols = X.shape[1]
    if ncols == 0:
        return lo & ~(LINE - 1), 0
    last = lo + ncols * X.itemsize - 1
    line0 = lo & ~(LINE - 1)
    return line0, ((last & ~(LINE - 1)) - line0) // LINE + 1


def _prefetch_item_python(a, i):
    """Nothing to do in Python."""


def _prefetch_span_python(a, lo, hi):
    """Nothing to do in Python."""


if config.DISABLE_JIT:  # the kernels run as Python: the intrinsics get plain twins
    prefetch_sample = _prefetch_sample_python  # noqa: F811
    prefetch_span = _prefetch_span_python  # noqa: F811
    prefetch_item = _prefetch_item_python  # noqa: F811
    row_span = _row_span_python  # noqa: F811
