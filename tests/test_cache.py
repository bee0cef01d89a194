"""numba's cache of the kernels is stamped with every kernel source file."""

from __future__ import annotations

import shutil

from fastgd._kernels import _cache, fill_rates, sgd_plain_epoch


def test_digest_changes_with_any_kernel_source(tmp_path):
    src = tmp_path / "kernels"
    shutil.copytree(_cache.KERNEL_DIR, src, ignore=shutil.ignore_patterns("__pycache__"))
    codes = tmp_path / "_layout.py"
    shutil.copy(_cache.KERNEL_DIR.parent / "_layout.py", codes)
    before = _cache.sources_digest(src, (codes,))
    assert before == _cache.sources_digest(src, (codes,))
    for path in (src / "leaves.py", codes):  # a helper file, then the option codes
        text = path.read_text()
        path.write_text(text + "\n# edited\n")
        assert _cache.sources_digest(src, (codes,)) != before
        path.write_text(text)
    assert _cache.sources_digest(src, (codes,)) == before


def test_kernels_use_the_all_sources_locator():
    from numba.core.caching import CacheImpl

    locator_cls = getattr(CacheImpl, "_fastgd_locator", None)
    assert locator_cls is not None
    for dispatcher in (sgd_plain_epoch, fill_rates):
        locator = dispatcher._cache._impl._locator
        assert isinstance(locator, locator_cls)
        own, digest = locator.get_source_stamp()
        assert digest == _cache._digest()
