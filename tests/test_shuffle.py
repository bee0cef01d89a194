"""The compiled shuffle reproduces NumPy's Generator.permutation, draw for draw."""

from __future__ import annotations

import numpy as np
import pytest

from fastgd import SGDClassifier, SGDRegressor, _driver
from fastgd._driver import _FAST_SHUFFLE_MIN, _pcg64_shuffle_into, permutation

SIZES = [
    0,
    1,
    2,
    3,
    17,
    255,
    256,
    257,
    1000,
    _FAST_SHUFFLE_MIN - 1,
    _FAST_SHUFFLE_MIN,
    _FAST_SHUFFLE_MIN + 1,
    5003,
    70_001,
]


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("seed", [0, 1, 2**40 + 7])
@pytest.mark.parametrize("predraws", [0, 1, 3])  # 1 and 3 leave a buffered 32-bit half
def test_compiled_shuffle_is_numpys(n, seed, predraws):
    ours, theirs = np.random.default_rng(seed), np.random.default_rng(seed)
    if predraws:
        ours.integers(0, 1000, size=predraws)
        theirs.integers(0, 1000, size=predraws)
    out = np.arange(n, dtype=np.int64)
    _pcg64_shuffle_into(ours.bit_generator, out)  # the kernel itself, not the fallback
    np.testing.assert_array_equal(out, theirs.permutation(n))
    assert ours.bit_generator.state == theirs.bit_generator.state
    assert ours.random() == theirs.random()


def test_permutation_of_rows_uses_the_kernel_and_agrees():
    assert _driver._fast_shuffle_agrees()  # so the compiled path is what runs here
    rows = np.sort(np.random.default_rng(5).choice(10**6, size=40_000, replace=False))
    ours, theirs = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(3):  # consecutive epochs continue the same stream
        got = permutation(ours, rows)
        assert got.dtype == np.int64 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, theirs.permutation(rows))
        np.testing.assert_array_equal(permutation(ours, 4097), theirs.permutation(4097))
    assert ours.bit_generator.state == theirs.bit_generator.state
    np.testing.assert_array_equal(rows, np.sort(rows))  # the input is not shuffled


def test_other_bit_generators_use_numpy():
    ours = np.random.Generator(np.random.MT19937(3))
    theirs = np.random.Generator(np.random.MT19937(3))
    np.testing.assert_array_equal(permutation(ours, 5000), theirs.permutation(5000))


def test_shuffled_fit_is_the_same_model_as_with_numpys_permutation(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 4))
    y = X @ rng.normal(size=4)
    labels = (y > 0).astype(int)
    fast_r = SGDRegressor(max_iter=3, tol=None, random_state=4).fit(X, y)
    fast_c = (
        SGDClassifier(max_iter=2, tol=None, random_state=4)
        .partial_fit(X, labels, classes=[0, 1])
        .partial_fit(X, labels)
    )
    monkeypatch.setattr(_driver, "_FAST_SHUFFLE_MIN", 10**12)  # NumPy's shuffle only
    slow_r = SGDRegressor(max_iter=3, tol=None, random_state=4).fit(X, y)
    slow_c = (
        SGDClassifier(max_iter=2, tol=None, random_state=4)
        .partial_fit(X, labels, classes=[0, 1])
        .partial_fit(X, labels)
    )
    np.testing.assert_array_equal(fast_r.coef_, slow_r.coef_)
    np.testing.assert_array_equal(fast_c.coef_, slow_c.coef_)
