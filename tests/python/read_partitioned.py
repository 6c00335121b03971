"""Reads a partitioned table the way analysts' engines do (tests/it/partitioned.rs).

Usage: read_partitioned.py TABLE_DIR KEY VALUE YEAR

Prints one JSON object: for DuckDB and for polars, the rows of the partition KEY=VALUE, year=YEAR
read through Hive partitioning with a filter on both keys, the type each engine gives `year`, and
the total rows of the whole table (or the error reading it whole).
"""

import json
import sys

import duckdb
import polars as pl

table, key, value, year = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
files = f"{table}/**/*.parquet"
result = {}

con = duckdb.connect()
rows = con.execute(
    f"SELECT count(*) FROM read_parquet(?, hive_partitioning = true) "
    f"WHERE {key} = ? AND year = ?",
    [files, value, year],
).fetchone()[0]
year_type = con.execute(
    f"SELECT typeof(year) FROM read_parquet(?, hive_partitioning = true) "
    f"WHERE {key} = ? AND year = ? LIMIT 1",
    [files, value, year],
).fetchone()[0]
try:
    total = con.execute(
        "SELECT count(*) FROM read_parquet(?, hive_partitioning = true)", [files]
    ).fetchone()[0]
except Exception as e:  # the whole table, when a partition cannot be read
    total = f"error: {e}"
result["duckdb"] = {"rows": rows, "year_type": year_type, "total": total}

lf = pl.scan_parquet(files, hive_partitioning=True)
part = lf.filter((pl.col(key) == value) & (pl.col("year") == year)).collect()
try:
    total = lf.select(pl.len()).collect().item()
except Exception as e:
    total = f"error: {e}"
result["polars"] = {
    "rows": part.height,
    "year_type": str(part.schema["year"]),
    "total": total,
}
print(json.dumps(result))
