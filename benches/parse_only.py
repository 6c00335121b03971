#!/usr/bin/env python3
"""Baseline for benches/jsonstat.sh: parse the file into a JSON tree and drop it."""
import json
import sys

with open(sys.argv[1], encoding="utf-8") as f:
    json.load(f)
