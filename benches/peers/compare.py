"""Checks that a peer's indicators equal mittari's: the same (indicator, region, year) keys, and
`value` and `index_country` equal to 1e-9 relative, missing where mittari's are missing.

    python compare.py MITTARI_OUT PEER_OUT NAME

Exits 1 naming the first differences.
"""

import sys

import numpy as np
import pandas as pd

KEY = ["indicator", "region", "year"]


def main(mittari_out, peer_out, name):
    m = pd.read_parquet(f"{mittari_out}/indicators.parquet", columns=KEY + ["value", "index_country"])
    p = pd.read_parquet(f"{peer_out}/indicators.parquet", columns=KEY + ["value", "index_country"])
    for df in (m, p):
        df["indicator"] = df["indicator"].astype(str)
        df["region"] = df["region"].astype(str)
        df["year"] = df["year"].astype("int64")
    j = m.merge(p, on=KEY, how="outer", suffixes=("_m", "_p"), indicator=True)
    problems = []
    only = j[j["_merge"] != "both"]
    if len(only):
        problems.append(f"{len(only)} keys in only one side, e.g.\n{only.head(5).to_string()}")
    both = j[j["_merge"] == "both"]
    for col in ("value", "index_country"):
        a = both[f"{col}_m"].to_numpy(dtype="float64", na_value=np.nan)
        b = both[f"{col}_p"].to_numpy(dtype="float64", na_value=np.nan)
        null_diff = np.isnan(a) != np.isnan(b)
        ok = ~np.isnan(a) & ~np.isnan(b)
        rel = np.zeros_like(a)
        rel[ok] = np.abs(a[ok] - b[ok]) / np.maximum(np.abs(a[ok]), 1e-300)
        bad = null_diff | (rel > 1e-9)
        if bad.any():
            problems.append(f"{col}: {int(bad.sum())} of {len(a)} differ, e.g.\n{both[bad].head(5).to_string()}")
    if problems:
        print(f"{name}: indicators differ from mittari's", file=sys.stderr)
        for pr in problems:
            print(pr, file=sys.stderr)
        sys.exit(1)
    print(f"{name}: {len(both)} indicator rows equal to mittari's (1e-9 relative)")


if __name__ == "__main__":
    main(*sys.argv[1:4])
