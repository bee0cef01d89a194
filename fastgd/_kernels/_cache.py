"""numba's on-disk cache, keyed on every kernel source file instead of one.

numba stamps a cached function with a hash of *its own* source file only. The
epoch loops inline helpers from other files (``leaves``, ``scalar``, ``carry``,
``prefetch``) and compile in the constants of ``fastgd._layout`` (generated from
``fastgd.options``), so editing one of those -- or checking out another version in
which only they differ -- left the old machine code in the cache, silently.
:class:`KernelCacheLocator` wraps the locator numba would pick for a file of
``fastgd/_kernels`` (so ``NUMBA_CACHE_DIR`` and the in-tree ``__pycache__`` work as
before) and adds to its stamp a digest of those files and of the codes and slots
themselves: any change to them recompiles every kernel (each path compiles in a few
seconds); an edit of the registry that changes no code or slot does not.

It is installed by :func:`install` through numba's ``CacheImpl._locator_classes``
locator list; if a numba release changes that, fastgd falls back to numba's own
locators (correct code, only the stale-cache hazard returns).
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

KERNEL_DIR = Path(__file__).resolve().parent
_EXTRA_SOURCES = (KERNEL_DIR.parent / "_layout.py",)


def sources_digest(directory: Path = KERNEL_DIR, extra=_EXTRA_SOURCES) -> bytes:
    """SHA-256 over the names and contents of ``directory/*.py`` and ``extra`` files."""
    h = hashlib.sha256()
    for path in sorted(Path(directory).glob("*.py")) + [Path(p) for p in extra]:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.digest()


def layout_constants() -> bytes:
    """The option codes and slots the kernels compile in (``fastgd._layout``'s integer
    constants, generated from the registry), as bytes: a registry edit that changes no
    code or slot -- a formula's text, a default -- leaves the cache valid."""
    from .. import _layout

    consts = sorted((k, v) for k, v in vars(_layout).items() if k.isupper() and isinstance(v, int))
    return repr(consts).encode()


@functools.lru_cache(maxsize=1)
def _digest() -> bytes:
    return hashlib.sha256(sources_digest() + layout_constants()).digest()


def install() -> bool:
    """Put :class:`KernelCacheLocator` first in numba's locator list; False if impossible."""
    from numba.core import caching

    _CacheImpl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)
    _CacheLocator = getattr(caching, "_CacheLocator", None)
    if (
        _CacheImpl is None
        or _CacheLocator is None
        or not isinstance(getattr(_CacheImpl, "_locator_classes", None), list)
    ):
        return False  # a numba without these internals: its own locators stay
    if getattr(_CacheImpl, "_fastgd_locator", None) is not None:
        return True

    class KernelCacheLocator(_CacheLocator):
        """numba's locator for a kernel file, with all kernel sources in the stamp."""

        _defaults = tuple(_CacheImpl._locator_classes)

        def __init__(self, inner):
            self._inner = inner

        def ensure_cache_path(self):
            self._inner.ensure_cache_path()

        def get_cache_path(self):
            return self._inner.get_cache_path()

        def get_source_stamp(self):
            return (self._inner.get_source_stamp(), _digest())

        def get_disambiguator(self):
            return self._inner.get_disambiguator()

        @classmethod
        def from_function(cls, py_func, py_file):
            try:
                inside = Path(py_file).resolve().parent == KERNEL_DIR
            except (OSError, TypeError):
                return None
            if not inside:
                return None
            for other in cls._defaults:
                inner = other.from_function(py_func, py_file)
                if inner is not None:
                    return cls(inner)
            return None

    _CacheImpl._locator_classes = [KernelCacheLocator, *_CacheImpl._locator_classes]
    _CacheImpl._fastgd_locator = KernelCacheLocator
    return True
