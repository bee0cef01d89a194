"""The carried dot product: per-sample SGD whose dot product is off the critical path.

Per-sample SGD is a dependency chain: row ``i + 1``'s prediction needs the weights
updated by row ``i``, so a plain loop waits for a whole dot product (and its
reduction tree) on every row. With the update ``w_{i+1} = s_i w_i + u_i x_i``
(``s`` the L2 shrink, ``u`` the step) the next dot product splits into two parts
that do not depend on ``u_i``::

    x_{i+1} . w_{i+1} = s_i (x_{i+1} . w_i) + u_i (x_{i+1} . x_i)

Both parts are computed while row ``i``'s step is still being worked out, and
the chain per row shrinks to a few scalar operations. The loop that computes
them (:func:`carry_step`) also applies the pending update ``w_i = s w + u x``
and is vectorised by LLVM's loop vectoriser (it is compiled with
reassociation so its three reductions run in SIMD lanes; numba leaves LLVM's
SLP vectoriser off, so hand-unrolled lanes stay scalar). Measured here: 2-3x
faster than the fused update-then-dot loop at d = 10 and d = 100.

The carry -- ``wp = w_{i-1}`` (state row ``ST_WP``), ``xp = x_{i-1}`` (``ST_XP``),
``s`` and ``u`` (counters ``SC_SP``, ``SC_UP``) -- is kept between calls, and the
published coefficients are ``s wp + u xp`` (:func:`carry_weights`). A call
continues the carry only when that formula reproduces the coefficients it is
given, bit for bit; otherwise (a new model, weights set from outside, another
optimizer's step in between) it restarts from them with ``wp = w``, ``xp = 0``,
``s = 1``, ``u = 0``. So chunked ``partial_fit`` calls run exactly the arithmetic
of one pass, and no caller has to keep the carry in sync.

Every dot of the fast path comes from the one loop in :func:`carry_step`, so the
summation order LLVM picks for it is the same for every row of every call.
"""

from __future__ import annotations

from numba import njit

from ._jit import _POLICY, FASTMATH

# reassociation only here: the loop's reductions must be free to run in SIMD lanes.
# Not inlined by numba (its IR would take the caller's flags); LLVM inlines it.
REASSOC = frozenset(FASTMATH | {"reassoc"})


@njit(fastmath=set(REASSOC), **_POLICY)
def carry_step(wp, xp, xq, src, r, sp, up):
    """Apply the pending update to ``wp`` and return the dot parts of row ``r`` of ``src``.

    For ``j < d`` (``d = src.shape[1]``), with ``x = src[r]``::

        C  += wp_j x_j          (old wp: the weights before the pending update)
        G  += xp_j x_j
        wp_j <- sp wp_j + up xp_j
        N  += wp_j^2            (new wp)
        xq_j <- x_j             (float64 copy: the next row's xp)

    Returns ``(C, G, N)``; the row's dot product with the updated weights is
    ``sp C + up G`` and ``N = ||w||^2`` of the updated weights.
    """
    c = 0.0
    g = 0.0
    n2 = 0.0
    for j in range(src.shape[1]):
        w = wp[j]
        xo = xp[j]
        x = src[r, j]
        c += w * x
        g += xo * x
        wn = sp * w + up * xo
        n2 += wn * wn
        wp[j] = wn
        xq[j] = x
    return c, g, n2


@njit(fastmath=set(FASTMATH), **_POLICY)
def carry_weights(wp, xp, sp, up, out):
    """``out[j] = sp * wp[j] + up * xp[j]`` for ``j < len(out)``: the published weights."""
    for j in range(out.shape[0]):
        out[j] = sp * wp[j] + up * xp[j]


@njit(fastmath=set(REASSOC), **_POLICY)
def batch_dot(X, r, w):
    """``X[r] . w`` accumulated in float64 by one SIMD-vectorised loop.

    The mini-batch and full-batch epochs compute every prediction of a model with
    this one function, so the summation order LLVM picks is the same for every row
    (what keeps buffered mini-batches chunk-invariant). The hand-unrolled lanes of
    ``leaves.dot_row`` stay scalar under numba (no SLP vectoriser); measured here
    this is 1.2-2x faster per row from d = 100 on.
    """
    s = 0.0
    for j in range(w.shape[0]):
        s += w[j] * X[r, j]
    return s
