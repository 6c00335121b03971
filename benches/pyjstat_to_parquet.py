#!/usr/bin/env python3
"""Peer for benches/jsonstat.sh: pyjstat + pandas, JSON-stat -> long table -> Parquet."""
import sys

import pandas  # noqa: F401  (pyjstat's dependency; imported here so its cost is counted)
from pyjstat import pyjstat

with open(sys.argv[1], encoding="utf-8") as f:
    dataset = pyjstat.Dataset.read(f.read())
df = dataset.write("dataframe")
df.to_parquet(sys.argv[2], compression="zstd")
print(len(df), file=sys.stderr)
