"""partial_fit on DataFrame chunks against the same chunks as NumPy arrays (issue 18, item 4).

    python bench/bench_dataframe.py [--shapes 1000x10,10000x10,1000x100,10000x100]
                                    [--chunks 40] [--rounds 7]

For each chunk shape, a regressor (``shuffle=False``) streams ``--chunks`` chunks given
as C-contiguous float64 arrays, as pandas DataFrames + Series and as polars DataFrames +
Series, and scikit-learn's SGDRegressor streams the array and the pandas chunks. Each
configuration is timed ``--rounds`` times, interleaved, and the best round is kept (the
machine is shared). Printed: microseconds per call and each frame path's ratio to
fastgd's array path; ``to_numpy`` is the array path fed ``np.ascontiguousarray(
frame.to_numpy())`` per chunk, i.e. what a user converting by hand pays.

A DataFrame stores its columns apart and the kernels read rows, so every frame chunk is
transposed once (``to_numpy`` + a C-order copy): that copy, about 0.6-1 ns per value
here, is the floor of the frame paths' overhead, largest at large d, where the kernel
itself is fastest per value.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def _chunks(n: int, d: int, count: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n * count, d))
    y = X @ rng.normal(size=d) + 0.1 * rng.normal(size=n * count)
    return [(X[i * n : (i + 1) * n].copy(), y[i * n : (i + 1) * n].copy()) for i in range(count)]


def _time(make, chunks, convert=None) -> float:
    """Seconds per partial_fit call over ``chunks`` (after one call that arms the model)."""
    model = make()
    first = chunks[0] if convert is None else convert(*chunks[0])
    model.partial_fit(*first)
    start = time.perf_counter()
    if convert is None:
        for X, y in chunks:
            model.partial_fit(X, y)
    else:
        for X, y in chunks:
            model.partial_fit(*convert(X, y))
    return (time.perf_counter() - start) / len(chunks)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", default="1000x10,10000x10,1000x100,10000x100")
    p.add_argument("--chunks", type=int, default=40)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args(argv)

    import pandas as pd
    import polars as pl
    from sklearn.linear_model import SGDRegressor as SkRegressor

    import fastgd

    warnings.simplefilter("ignore")  # scikit-learn's own per-call warnings, if any

    def ours():
        return fastgd.SGDRegressor(shuffle=False, random_state=0)

    def theirs():
        return SkRegressor(shuffle=False, random_state=0)

    print(f"fastgd {fastgd.__version__}, pandas {pd.__version__}, polars {pl.__version__}")
    print(f"best of {args.rounds} rounds of {args.chunks} partial_fit calls, us per call")
    header = "chunk        array  to_numpy   pandas   polars | sklearn array  sklearn pandas"
    print(header + " | pandas/array  polars/array")
    for shape in args.shapes.split(","):
        n, d = (int(v) for v in shape.lower().split("x"))
        arrays = _chunks(n, d, args.chunks)
        names = [f"x{j}" for j in range(d)]
        pandas = [(pd.DataFrame(X, columns=names), pd.Series(y, name="y")) for X, y in arrays]
        polars = [(pl.DataFrame(X, schema=names), pl.Series("y", y)) for X, y in arrays]

        def by_hand(X, y):
            return np.ascontiguousarray(X.to_numpy()), y.to_numpy()

        runs = {
            "array": (ours, arrays, None),
            "to_numpy": (ours, pandas, by_hand),
            "pandas": (ours, pandas, None),
            "polars": (ours, polars, None),
            "sk array": (theirs, arrays, None),
            "sk pandas": (theirs, pandas, None),
        }
        best = dict.fromkeys(runs, float("inf"))
        for _ in range(args.rounds):
            for name, (make, chunks, convert) in runs.items():
                best[name] = min(best[name], _time(make, chunks, convert))
        us = {k: v * 1e6 for k, v in best.items()}
        print(
            f"{n:>6} x {d:<4} {us['array']:8.1f} {us['to_numpy']:9.1f} {us['pandas']:8.1f} "
            f"{us['polars']:8.1f} | {us['sk array']:13.1f} {us['sk pandas']:15.1f} | "
            f"{us['pandas'] / us['array']:12.2f}  {us['polars'] / us['array']:12.2f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
