"""pandas peer of the national benchmark: the same work as `mittari run` on the generated data.

    python pandas_peer.py DATA_DIR OUT_DIR

Written as a careful pandas user would: each Sotkanet file parsed with `json.load` into a frame,
the JSON-stat value array turned into columns with numpy (coordinates from positions, no per-cell
Python objects), merges and group-bys for the levels. Same rules and outputs as
`duckdb_peer.py`.
"""

import glob
import json
import sys

import numpy as np
import pandas as pd


def main(data, out):
    reg = pd.read_csv(f"{data}/regions.csv", dtype={"code": str, "level": str, "county": str})
    cat = pd.read_csv(f"{data}/indicators.csv", dtype={"indicator": str, "kind": str})

    frames = []
    for path in sorted(glob.glob(f"{data}/sotkanet/*.json")):
        with open(path, "rb") as f:
            frames.append(pd.DataFrame(json.load(f)))
    sot = pd.concat(frames, ignore_index=True)
    sot = sot.merge(reg[["sotkanet_id", "code", "level"]], left_on="region", right_on="sotkanet_id")
    sot = pd.DataFrame({
        "dataset": "sotkanet:" + sot["indicator"].astype(str),
        "measure": sot["indicator"].astype(str),
        "region": sot["code"],
        "region_level": sot["level"],
        "year": sot["year"].astype("int16"),
        "sex": sot["gender"],
        "age": "total",
        "value": sot["value"].astype("float64") if "value" in sot else np.nan,
        "abs_value": sot["absValue"].astype("float64") if "absValue" in sot else np.nan,
        "status": None,
    })

    with open(f"{data}/statfin/population_by_age.json", "rb") as f:
        js = json.load(f)
    dims = [js["dimension"][d]["category"]["index"] for d in js["id"]]
    size = js["size"]
    n = int(np.prod(size))
    pos = np.arange(n)
    strides = np.cumprod([1] + size[::-1])[:-1][::-1]
    coord = [np.asarray(dims[k], dtype=object)[(pos // strides[k]) % size[k]] for k in range(len(size))]
    sexes = {"SSS": "total", "1": "male", "2": "female"}
    status = np.full(n, None, dtype=object)
    for k, v in js.get("status", {}).items():
        status[int(k)] = v
    pop = pd.DataFrame({
        "dataset": "statfin:11re",
        "measure": "vaesto",
        "region": coord[0],
        "region_level": "municipality",
        "year": coord[3].astype(int).astype("int16"),
        "sex": pd.Series(coord[1]).map(sexes).to_numpy(),
        "age": np.where(coord[2] == "SSS", "total", coord[2]),
        "value": np.array([np.nan if v is None else v for v in js["value"]], dtype="float64"),
        "abs_value": np.nan,
        "status": status,
    })
    obs = pd.concat([sot, pop], ignore_index=True)
    obs.to_parquet(f"{out}/observations.parquet", compression="zstd", index=False)

    munis = reg[reg["level"] == "municipality"][["code", "county"]].rename(columns={"code": "region"})
    expected = munis.groupby("county").size()
    p = pop[(pop["sex"] == "total") & (pop["age"] == "total")][["region", "year", "value"]].rename(columns={"value": "p"})
    s = sot[sot["sex"] == "total"].merge(cat, left_on="measure", right_on="indicator")
    s["indicator"] = "i" + s["measure"]
    parts = s.merge(munis, on="region").merge(p, on=["region", "year"], how="left")
    kind = parts["kind"]
    parts["x"] = np.where(kind == "share", parts["abs_value"],
                          np.where(kind == "rate", parts["value"] * parts["p"], parts["value"]))
    parts["d"] = np.where(kind.isin(["share", "rate"]), parts["p"], np.nan)
    popparts = p.merge(munis, on="region")
    popparts = pd.DataFrame({"indicator": "population", "kind": "count", "scale": 1.0,
                             "region": popparts["region"], "county": popparts["county"],
                             "year": popparts["year"], "x": popparts["p"], "d": np.nan})
    parts = pd.concat([parts[["indicator", "kind", "scale", "region", "county", "year", "x", "d"]], popparts],
                      ignore_index=True)

    def up(frame, by, n_expected):
        g = frame.groupby(["indicator", "kind", "scale", by, "year"], sort=False)
        r = g.agg(x=("x", "sum"), nx=("x", "count"), d=("d", "sum"), nd=("d", "count")).reset_index()
        need = r[by].map(n_expected) if isinstance(n_expected, pd.Series) else n_expected
        r["x"] = r["x"].where(r["nx"] == need)
        r["d"] = r["d"].where(r["nd"] == need)
        return r.rename(columns={by: "region"})[["indicator", "kind", "scale", "region", "year", "x", "d"]]

    country = parts.assign(country="SSS")
    levels = pd.concat([parts.drop(columns="county"), up(parts, "county", expected),
                        up(country, "country", len(munis))], ignore_index=True)
    published = sot[sot["sex"] == "total"][["measure", "region", "year", "value"]]
    published = published.assign(indicator="i" + published["measure"]).drop(columns="measure")
    levels = levels.merge(published.rename(columns={"value": "published"}), on=["indicator", "region", "year"], how="left")
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = levels["x"] / levels["d"] * levels["scale"]
    ratio = ratio.where(levels["d"] != 0)
    computed = np.where(levels["kind"] == "count", levels["x"], ratio)
    # Official values first: a count's or a rate's published value where there is one.
    first = levels["kind"].isin(["count", "rate"]) & levels["published"].notna()
    levels["value"] = np.where(levels["kind"] == "index", levels["published"],
                               np.where(first, levels["published"] * levels["scale"], computed))
    ind = levels.rename(columns={"x": "numerator", "d": "denominator"})[
        ["indicator", "region", "year", "value", "numerator", "denominator"]]
    c = ind[ind["region"] == "SSS"][["indicator", "year", "value"]].rename(columns={"value": "country"})
    ind = ind.merge(c, on=["indicator", "year"], how="left")
    ind["index_country"] = ind["value"] / ind["country"] * 100
    ind.drop(columns="country").to_parquet(f"{out}/indicators.parquet", compression="zstd", index=False)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
