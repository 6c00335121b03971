#!/usr/bin/env python3
"""Writes the SYNTHETIC Sotkanet files of the sample pipeline (see sample-data/NOTICE).

Deterministic: running it again writes the same bytes. Inputs are the real files beside it:
- statfin/11s5_population_by_municipality_2024M12.json: real population at 31.12.2024;
- ../registry/municipality_key_2013-2026.csv: municipality -> wellbeing services county (2025);
- sotkanet/regions_2015.json: Sotkanet region ids.

Outputs (shaped exactly like Sotkanet /rest/1.1/json responses):
- sotkanet/SYNTHETIC_127_population_2024.json: indicator 127 (population 31.12.), values copied
  from the real StatFin figures, for all municipalities and the whole country (id 658);
- sotkanet/SYNTHETIC_171_share_75plus_2024.json: indicator 171 (75+ as % of population) with
  absValue = an invented count of people aged 75+, from a county baseline plus deterministic
  per-municipality variation (smaller municipalities are older, as in the real data).
"""
import csv
import hashlib
import json
import pathlib

HERE = pathlib.Path(__file__).resolve().parent.parent
ROOT = HERE.parent

# Invented county baselines for the share of people aged 75+, in per cent (not real figures;
# chosen so that older eastern and rural counties sit above the country, Helsinki below).
BASE = {"90": 8.4, "01": 11.0, "02": 8.6, "03": 9.0, "04": 7.4, "05": 12.1, "06": 14.6,
        "07": 13.4, "08": 11.3, "09": 14.0, "10": 15.2, "11": 15.0, "12": 17.6, "13": 14.2,
        "14": 15.3, "15": 12.6, "16": 14.1, "17": 12.0, "18": 11.2, "19": 10.1, "20": 16.0,
        "21": 14.4, "91": 11.0}


def jitter(code: str) -> float:
    h = int(hashlib.sha256(code.encode()).hexdigest()[:8], 16)
    return (h % 2001) / 1000.0 - 1.0  # -1.0 .. +1.0


def main() -> None:
    js = json.loads((HERE / "statfin/11s5_population_by_municipality_2024M12.json").read_text("utf-8"))
    alue = js["dimension"]["alue"]["category"]["index"]
    population = {code[2:]: int(v) for code, v in zip(alue, js["value"])}
    county = {}
    with open(ROOT / "registry/municipality_key_2013-2026.csv", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if row["year"] == "2025":
                county[row["kunta_code"]] = row["hyvinvointialue_code"]
    regions = json.loads((HERE / "sotkanet/regions_2015.json").read_text("utf-8"))
    sotkanet_id = {r["code"]: r["id"] for r in regions if r["category"] == "KUNTA"}

    rows127, rows171 = [], []
    total_pop = total_75 = 0
    for code in sorted(population):
        pop = population[code]
        share = BASE[county[code]] + 1.5 * jitter(code) + (2.0 if pop < 5000 else 0.0)
        old = round(pop * share / 100.0)
        rid = sotkanet_id[code]
        rows127.append({"indicator": 127, "region": rid, "year": 2024, "gender": "total", "value": pop})
        rows171.append({"indicator": 171, "region": rid, "year": 2024, "gender": "total",
                        "value": round(100.0 * old / pop, 1), "absValue": old})
        total_pop += pop
        total_75 += old
    rows127.append({"indicator": 127, "region": 658, "year": 2024, "gender": "total", "value": total_pop})
    rows171.append({"indicator": 171, "region": 658, "year": 2024, "gender": "total",
                    "value": round(100.0 * total_75 / total_pop, 1), "absValue": total_75})
    for name, rows in (("SYNTHETIC_127_population_2024.json", rows127),
                       ("SYNTHETIC_171_share_75plus_2024.json", rows171)):
        (HERE / "sotkanet" / name).write_text(json.dumps(rows, indent=1) + "\n", "utf-8")


if __name__ == "__main__":
    main()
