#!/usr/bin/env python3
"""What pyarrow and polars (Python) see of a mittari Parquet file's metadata.

    read_metadata.py FILE.parquet

Prints one JSON document: the schema metadata pyarrow reads from the embedded Arrow schema
(`pyarrow.parquet.read_schema(f).metadata`), each field's `description` there, and the key-value
metadata polars reads (`polars.read_parquet_metadata`). The test (tests/it/dictionary.rs) decides
what is right.
"""
import json
import sys

import polars as pl
import pyarrow
import pyarrow.parquet as pq


def text(b):
    return b.decode("utf-8") if isinstance(b, bytes) else b


def main(path):
    schema = pq.read_schema(path)
    out = {
        "pyarrow": pyarrow.__version__,
        "polars": pl.__version__,
        "schema_metadata": {text(k): text(v) for k, v in (schema.metadata or {}).items()
                            if text(k) != "ARROW:schema"},
        "descriptions": {f.name: text((f.metadata or {}).get(b"description"))
                         for f in schema if f.metadata and b"description" in f.metadata},
        "polars_metadata": {k: v for k, v in pl.read_parquet_metadata(path).items()
                            if k.startswith("mittari.")},
    }
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1])
