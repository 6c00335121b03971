#!/usr/bin/env python3
"""Generates national-scale JSON-stat 2.0 population tables for benches/jsonstat.sh.

Shape (as Statistics Finland's population by single year of age, sex and area): 310 areas (the
country, a county and the 308 municipalities of 2025, so every region resolves) x 101 ages x 3
sexes x 30 years x 1 measure = 2 818 900 cells. About 1 % of cells are null with status "..".

  gen_jsonstat.py OUT_DIR [--scale F] [--measures N] [--only dense|sparse]

writes OUT_DIR/dense.json (value as an array) and OUT_DIR/sparse.json (value and status as
objects, about a third of the cells). `--measures N` gives the table N measures instead of one
(N times the cells, years and regions unchanged): the larger table of the memory-scaling
comparison. Deterministic: the same arguments give the same bytes.
Keys are written in Statistics Finland's order (value before size and role).
"""
import argparse
import csv
import json
import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parent.parent


def areas(n):
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        codes = sorted("KU" + r["kunta_code"] for r in csv.DictReader(f) if r["year"] == "2025")
    return (["SSS", "HVA12"] + codes)[:n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--scale", type=float, default=1.0, help="multiplies the number of years")
    ap.add_argument("--measures", type=int, default=1, help="number of measures (multiplies the cells)")
    ap.add_argument("--only", choices=["dense", "sparse"], help="write one of the two files")
    args = ap.parse_args()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    alue = areas(310)
    ika = [str(a) for a in range(101)]
    sukupuoli = ["SSS", "1", "2"]
    years = max(1, round(30 * args.scale))
    vuosi = [str(1995 + y) for y in range(years)]
    tiedot = ["vaesto"] + [f"vaesto_{k}" for k in range(1, args.measures)]
    dims = [("alue", alue), ("ika", ika), ("sukupuoli", sukupuoli), ("vuosi", vuosi), ("tiedot", tiedot)]
    total = 1
    for _, cats in dims:
        total *= len(cats)
    rng = random.Random(20261122)

    def dimension(name, cats):
        d = {"label": name, "category": {"index": cats, "label": {c: c for c in cats}}}
        if name == "tiedot":
            d["category"]["unit"] = {c: {"label": "Number", "decimals": 0} for c in cats}
        return d

    meta_head = {"version": "2.0", "class": "dataset", "id": [n for n, _ in dims],
                 "label": "Synthetic population by area, age, sex and year (benchmark)",
                 "source": "mittari benches/gen_jsonstat.py (synthetic)", "updated": "2026-11-22T08:00:00",
                 "dimension": {n: dimension(n, c) for n, c in dims}}
    meta_tail = {"extension": {"missingValueDescriptions": {"2": "Not applicable", "4": "Not available"}},
                 "size": [len(c) for _, c in dims],
                 "role": {"time": ["vuosi"], "geo": ["alue"], "metric": ["tiedot"]}}

    for kind in [args.only] if args.only else ("dense", "sparse"):
        path = out / f"{kind}.json"
        with open(path, "w", encoding="utf-8") as f:
            f.write(json.dumps(meta_head)[:-1])
            values, status = [], {}
            for pos in range(total):
                keep = kind == "dense" or rng.random() < 0.33
                if not keep:
                    continue
                if rng.random() < 0.01:
                    values.append((pos, None))
                    status[str(pos)] = ".."
                else:
                    values.append((pos, rng.randrange(0, 5000)))
            if kind == "dense":
                f.write(', "value": [' + ",".join("null" if v is None else str(v) for _, v in values) + "]")
            else:
                f.write(', "value": {' + ",".join(f'"{p}":' + ("null" if v is None else str(v)) for p, v in values) + "}")
            f.write(', "status": ' + json.dumps(status))
            f.write(", " + json.dumps(meta_tail)[1:-1] + "}")
        print(f"{path} {path.stat().st_size} bytes {len(values)} cells")


if __name__ == "__main__":
    main()
