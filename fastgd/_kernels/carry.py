"""The carried dot product: per-sample SGD whose dot product is off the critical path.

Per-sample SGD is a dependency chain: row ``i + 1``'s prediction needs the weights
updated by row ``i``, so a plain loop waits for a whole dot product (and its
reduction tree) on every row. With the update ``w_{i+1} = s_i w_i + u_i x_i``
(``s`` the L2 shrink, ``u`` the step) the next dot product splits into two parts
that do not depend on ``u_i``::

    x_{i+1} . w_{i+1} = s_i (x_{i+1} . w_i) + u_i (x_{i+1} . x_i)

Both parts are computed while row ``i``'s step is still being worked out, and
the chain per row shrinks to a few scalar operations. The loop that computes
them (:func:`carry_step`) also applies the pending update ``w_i = s w + u x``.

How the loop is compiled matters as much as the algebra:

* numba leaves LLVM's SLP vectoriser off, so hand-unrolled lanes stay scalar;
  only the loop vectoriser runs, and it vectorises a floating-point sum only
  when the additions may be reassociated.
* numba sets fast-math flags per function. A separately compiled ``reassoc``
  helper is a real call, which LLVM does not inline (the vectorised loop is too
  large): at d = 10 the call, with about 35 scalar arguments, cost more than the
  loop.

So :func:`carry_step` (and :func:`batch_dot`) are numba intrinsics that emit
their loop straight into the caller's LLVM IR, with ``reassoc`` on their own
reduction instructions and nowhere else. Measured here (AMD Zen 5): the whole
per-sample kernel went from 21.5 to 14.0 ns/row at d = 10 and from 41 to 35
ns/row at d = 100.

The carry -- ``wp = w_{i-1}`` (state row ``ST_WP``), ``xp = x_{i-1}`` (``ST_XP``),
``s`` and ``u`` (counters ``SC_SP``, ``SC_UP``) -- is kept between calls, and the
published coefficients are ``s wp + u xp`` (:func:`carry_weights`). A call
continues the carry only when that formula reproduces the coefficients it is
given, bit for bit; otherwise (a new model, weights set from outside, another
optimizer's step in between) it restarts from them with ``wp = w``, ``xp = 0``,
``s = 1``, ``u = 0``. So chunked ``partial_fit`` calls run exactly the arithmetic
of one pass, and no caller has to keep the carry in sync.

Every dot of the fast path comes from :func:`carry_step`, and a given order of rows
always runs through the same compiled copy of it (rows are read in place when the
order is sequential), so chunking a stream changes no bit.
"""

from __future__ import annotations

from llvmlite import ir
from numba import config, types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import leaf

_REASSOC = ("reassoc", "contract")  # the reduction instructions of the loops below
_CONTRACT = ("contract",)  # everything else: fused multiply-add only, as FASTMATH
_DOUBLE = ir.DoubleType()


def _load_double(builder, ptr):
    """Load ``*ptr`` as float64 (float32 data is widened)."""
    value = builder.load(ptr)
    return value if value.type == _DOUBLE else builder.fpext(value, _DOUBLE)


def _data(context, builder, aty, arr):
    """Data pointer of a C-contiguous 1-D array."""
    return context.make_array(aty)(context, builder, arr).data


def _row(context, builder, aty, arr, r):
    """``(pointer to arr[r, 0], ncols)`` of a C-contiguous 2-D array."""
    ary = context.make_array(aty)(context, builder, arr)
    zero = context.get_constant(types.intp, 0)
    ptr = cgutils.get_item_pointer(context, builder, aty, ary, [r, zero])
    return ptr, cgutils.unpack_tuple(builder, ary.shape, 2)[1]


def _accumulate(builder, acc, a, b):
    """``*acc += a * b`` with reassociation allowed (a lane of a SIMD reduction)."""
    total = builder.fadd(builder.load(acc), builder.fmul(a, b, flags=_REASSOC), flags=_REASSOC)
    builder.store(total, acc)


def _check_carry_types(wp, xp, xq, src):
    vec = types.Array(types.float64, 1, "C")
    for name, arg in (("wp", wp), ("xp", xp), ("xq", xq)):
        if arg != vec:
            raise TypeError(f"carry_step: {name} must be a C-contiguous float64 vector, got {arg}")
    if not (
        isinstance(src, types.Array)
        and src.ndim == 2
        and src.layout == "C"
        and src.dtype in (types.float32, types.float64)
    ):
        raise TypeError(f"carry_step: src must be a C-contiguous 2-D float array, got {src}")


@intrinsic
def carry_step(typingctx, wp, xp, xq, src, r, sp, up):
    """Apply the pending update to ``wp`` and return the dot parts of row ``r`` of ``src``.

    For ``j < d`` (``d = src.shape[1]``), with ``x = src[r]``::

        C  += wp_j x_j          (old wp: the weights before the pending update)
        G  += xp_j x_j
        wp_j <- sp wp_j + up xp_j
        N  += wp_j^2            (new wp)
        xq_j <- x_j             (float64 copy: the next row's xp)

    Returns ``(C, G, N)``; the row's dot product with the updated weights is
    ``sp C + up G`` and ``N = ||w||^2`` of the updated weights. ``wp``, ``xp``,
    ``xq`` are C-contiguous float64 vectors of length ``d`` (not checked: the
    callers slice them from the state); ``src`` is C-contiguous float32/float64.
    """
    _check_carry_types(wp, xp, xq, src)
    sig = types.UniTuple(types.float64, 3)(
        wp, xp, xq, src, types.intp, types.float64, types.float64
    )

    def codegen(context, builder, sig, args):
        wpv, xpv, xqv, srcv, r, sp, up = args
        pw = _data(context, builder, sig.args[0], wpv)
        pp = _data(context, builder, sig.args[1], xpv)
        pq = _data(context, builder, sig.args[2], xqv)
        px, d = _row(context, builder, sig.args[3], srcv, r)
        acc = [cgutils.alloca_once_value(builder, _DOUBLE(0.0)) for _ in range(3)]
        with cgutils.for_range(builder, d) as loop:
            j = loop.index
            w = builder.load(builder.gep(pw, [j]))
            xo = builder.load(builder.gep(pp, [j]))
            x = _load_double(builder, builder.gep(px, [j]))
            _accumulate(builder, acc[0], w, x)
            _accumulate(builder, acc[1], xo, x)
            wn = builder.fadd(
                builder.fmul(sp, w, flags=_CONTRACT),
                builder.fmul(up, xo, flags=_CONTRACT),
                flags=_CONTRACT,
            )
            _accumulate(builder, acc[2], wn, wn)
            builder.store(wn, builder.gep(pw, [j]))
            builder.store(x, builder.gep(pq, [j]))
        out = [builder.load(a) for a in acc]
        return context.make_tuple(builder, sig.return_type, out)

    return sig, codegen


@leaf
def carry_weights(wp, xp, sp, up, out):
    """``out[j] = sp * wp[j] + up * xp[j]`` for ``j < len(out)``: the published weights."""
    for j in range(out.shape[0]):
        out[j] = sp * wp[j] + up * xp[j]


@intrinsic
def batch_dot(typingctx, X, r, w):
    """``X[r] . w`` accumulated in float64 by one SIMD-vectorised loop, inlined.

    The mini-batch and full-batch epochs compute every prediction of a model with
    this one loop (one call site), so the summation order LLVM picks is the same for
    every row (what keeps buffered mini-batches chunk-invariant). ``X`` is a
    C-contiguous float32/float64 matrix, ``w`` a C-contiguous float64 vector of
    length ``X.shape[1]``.
    """
    if not (
        isinstance(X, types.Array)
        and X.ndim == 2
        and X.layout == "C"
        and X.dtype in (types.float32, types.float64)
    ):
        raise TypeError(f"batch_dot: X must be a C-contiguous 2-D float array, got {X}")
    if w != types.Array(types.float64, 1, "C"):
        raise TypeError(f"batch_dot: w must be a C-contiguous float64 vector, got {w}")
    sig = types.float64(X, types.intp, w)

    def codegen(context, builder, sig, args):
        Xv, r, wv = args
        px, d = _row(context, builder, sig.args[0], Xv, r)
        pw = _data(context, builder, sig.args[2], wv)
        acc = cgutils.alloca_once_value(builder, _DOUBLE(0.0))
        with cgutils.for_range(builder, d) as loop:
            j = loop.index
            _accumulate(
                builder,
                acc,
                builder.load(builder.gep(pw, [j])),
                _load_double(builder, builder.gep(px, [j])),
            )
        return builder.load(acc)

    return sig, codegen


# ----------------------------------------------------------- NUMBA_DISABLE_JIT=1
def _carry_step_python(wp, xp, xq, src, r, sp, up):
    """:func:`carry_step` in plain Python (same steps, summed in index order)."""
    cdot = gdot = norm = 0.0
    for j in range(src.shape[1]):
        w = wp[j]
        xo = xp[j]
        x = float(src[r, j])
        cdot += w * x
        gdot += xo * x
        wn = sp * w + up * xo
        norm += wn * wn
        wp[j] = wn
        xq[j] = x
    return cdot, gdot, norm


def _batch_dot_python(X, r, w):
    """:func:`batch_dot` in plain Python."""
    total = 0.0
    for j in range(X.shape[1]):
        total += w[j] * float(X[r, j])
    return total


if config.DISABLE_JIT:  # the kernels run as Python: the intrinsics get plain twins
    carry_step = _carry_step_python  # noqa: F811
    batch_dot = _batch_dot_python  # noqa: F811
