"""The one place that sets numba's compile policy for every fastgd kernel.

* ``cache=True``: compiled code is stored next to the sources and reused by the
  next process (import plus first fit stays well under a second). The cache
  entries are stamped with all kernel sources, not only their own file (``_cache``).
* ``error_model='numpy'``: division by zero gives inf/nan instead of raising; the
  Python error model adds a check that stops the update loops from vectorising.
* ``nogil=True``: kernels release the GIL, so one-vs-rest classes can train on
  threads.
* ``FASTMATH`` allows fused multiply-add only: no ``nnan``/``ninf`` (divisions
  by ``sqrt(v) + eps`` and the non-finite checks must stay honest) and no
  reassociation -- the dot products sum in a fixed lane order instead (see
  ``leaves``), so results do not depend on how a stream is chunked. Two loops
  are the exception: the carried dot of the per-sample fast path and the batch
  epochs' dot (``carry``) are LLVM-IR intrinsics with ``reassoc`` on their own
  reduction instructions, so LLVM vectorises them; each model's rows always run
  through the same compiled copy of its loop, so chunking still changes no bit.
"""

from __future__ import annotations

from numba import njit

from ._cache import install as _install_cache_locator

# before any kernel is decorated: their cache stamps cover every kernel source file
_install_cache_locator()

FASTMATH = frozenset({"contract"})

_POLICY = dict(cache=True, nogil=True, error_model="numpy")


def kernel(fn):
    """Compile an epoch loop with fastgd's policy."""
    return njit(fastmath=set(FASTMATH), **_POLICY)(fn)


def leaf(fn):
    """Compile a small helper that is inlined into its callers (numba IR inlining).

    Calls between separately compiled numba functions are real calls that LLVM
    cannot inline; in the per-sample loop they cost more than the arithmetic.
    """
    return njit(fastmath=set(FASTMATH), inline="always", **_POLICY)(fn)
