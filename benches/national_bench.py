#!/usr/bin/env python3
"""Driver of benches/run.sh: the national benchmark, mittari vs DuckDB vs pandas.

  national_bench.py MITTARI_BINARY BENCH_DIR RESULTS_JSON RUNS SCALE [SCALE ...]

For each scale: generates the data (`mittari generate`), runs mittari, the DuckDB peer and the
pandas peer RUNS times each, in turn (so drift hits every implementation alike), each into a
fresh output folder; checks after the first round that both peers' indicators equal mittari's
(benches/peers/compare.py, 1e-9 relative); times an up-to-date rerun of mittari; prints the
table and writes it as JSON. Exits 1 if a peer's values differ or a run fails. BENCH_YEARS
(default 20) makes a smaller data set, for the smoke test.
"""
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def stage_seconds(out):
    """Seconds per stage of the newest full run in OUT (its manifest's `timings_ms`)."""
    for path in sorted((out / "_runs").glob("*.json"), reverse=True):
        timings = json.loads(path.read_text()).get("timings_ms") or []
        if any(name == "derive" for name, _ in timings):
            return {name: ms / 1000 for name, ms in timings}
    sys.exit(f"no manifest with stage timings in {out}/_runs")


def measure(cmd):
    out = subprocess.run([sys.executable, str(HERE / "measure.py"), *cmd], capture_output=True, text=True, check=True)
    wall, rss, code = out.stdout.split()
    if int(code) != 0:
        sys.exit(f"failed (exit {code}): {' '.join(cmd)}")
    return float(wall), int(rss)


def fresh(path):
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def observation_rows(binary, out):
    text = subprocess.run([binary, "inspect", str(out / "observations.parquet"), "--rows", "0"],
                          capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        if line.startswith("rows"):
            return int(line.split()[-1])
    sys.exit(f"no row count in `mittari inspect`: {text}")


def main():
    binary, bench, results_path, runs = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    scales = [float(s) for s in sys.argv[5:]]
    rows_out = []
    for scale in scales:
        data = bench / f"scale-{scale:g}"
        if not (data / "pipeline.toml").exists():
            print(f"== generating scale {scale:g} in {data}", file=sys.stderr)
            fresh(data)
            years = os.environ.get("BENCH_YEARS", "20")
            subprocess.run([binary, "-q", "generate", str(data), "--scale", str(scale), "--years", years],
                           check=True, stdout=sys.stderr)
        outs = {name: data / f"out-{name}" for name in ("mittari", "duckdb", "pandas")}
        impls = {
            "mittari": lambda o: [binary, "-qq", "run", str(data / "pipeline.toml"), "--out", str(o),
                                  "--cache", str(data / "cache"), "--force"],
            "duckdb": lambda o: [sys.executable, str(HERE / "peers/duckdb_peer.py"), str(data), str(o)],
            "pandas": lambda o: [sys.executable, str(HERE / "peers/pandas_peer.py"), str(data), str(o)],
        }
        samples = {name: [] for name in impls}
        for r in range(runs):
            for name, cmd in impls.items():
                # mittari keeps its folder (its state and lock live there; --force rebuilds);
                # the peers get an empty one each time.
                out = outs[name] if name == "mittari" else fresh(outs[name])
                out.mkdir(parents=True, exist_ok=True)
                print(f"   scale {scale:g} run {r + 1}/{runs}: {name}", file=sys.stderr)
                samples[name].append(measure(cmd(out)))
            if r == 0:
                for peer in ("duckdb", "pandas"):
                    subprocess.run([sys.executable, str(HERE / "peers/compare.py"), str(outs["mittari"]),
                                    str(outs[peer]), peer], check=True, stdout=sys.stderr)
        stages = stage_seconds(outs["mittari"])
        # An up-to-date rerun: nothing changed since the last mittari run.
        noop = [measure([binary, "-qq", "run", str(data / "pipeline.toml"), "--out", str(outs["mittari"]),
                         "--cache", str(data / "cache")])[0] for _ in range(runs)]
        n_rows = observation_rows(binary, outs["mittari"])
        row = {"scale": scale, "observation_rows": n_rows, "noop_rerun_s": statistics.median(noop),
               "mittari_stage_s": stages}
        for name, s in samples.items():
            wall = statistics.median(x[0] for x in s)
            row[name] = {"wall_s": wall, "peak_rss_mb": max(x[1] for x in s) / 1e6,
                         "rows_per_s": n_rows / wall}
        row["mittari_over_duckdb"] = row["mittari"]["wall_s"] / row["duckdb"]["wall_s"]
        row["mittari_over_pandas"] = row["mittari"]["wall_s"] / row["pandas"]["wall_s"]
        row["rss_mittari_over_duckdb"] = row["mittari"]["peak_rss_mb"] / row["duckdb"]["peak_rss_mb"]
        rows_out.append(row)
        pathlib.Path(results_path).write_text(json.dumps(rows_out, indent=2))  # after every scale

    print()
    print(f"{'scale':>5} {'rows':>11} | {'mittari s':>9} {'MB':>6} | {'duckdb s':>8} {'MB':>6} | "
          f"{'pandas s':>8} {'MB':>6} | {'m/duck':>6} {'m/pandas':>8} {'rss m/d':>7} | {'noop s':>6}")
    for r in rows_out:
        m, d, p = r["mittari"], r["duckdb"], r["pandas"]
        print(f"{r['scale']:>5g} {r['observation_rows']:>11,} | {m['wall_s']:>9.2f} {m['peak_rss_mb']:>6.0f} | "
              f"{d['wall_s']:>8.2f} {d['peak_rss_mb']:>6.0f} | {p['wall_s']:>8.2f} {p['peak_rss_mb']:>6.0f} | "
              f"{r['mittari_over_duckdb']:>6.2f} {r['mittari_over_pandas']:>8.3f} {r['rss_mittari_over_duckdb']:>7.2f} | "
              f"{r['noop_rerun_s']:>6.2f}")
    print("rows per second:", ", ".join(
        f"scale {r['scale']:g}: mittari {r['mittari']['rows_per_s']:,.0f}, duckdb {r['duckdb']['rows_per_s']:,.0f}, "
        f"pandas {r['pandas']['rows_per_s']:,.0f}" for r in rows_out))
    print("mittari stages (s), last timed run:", "; ".join(
        f"scale {r['scale']:g}: " + ", ".join(f"{k} {v:.1f}" for k, v in r["mittari_stage_s"].items())
        for r in rows_out))
    if len(rows_out) > 1:
        a, b = rows_out[0], rows_out[-1]
        growth = (b["mittari"]["wall_s"] / a["mittari"]["wall_s"]) / (b["observation_rows"] / a["observation_rows"])
        per_scale = (b["mittari"]["wall_s"] / a["mittari"]["wall_s"]) / (b["scale"] / a["scale"])
        print(f"mittari time growth from scale {a['scale']:g} to {b['scale']:g}, relative to linear "
              f"(1 = linear, below 1 = better): {per_scale:.2f} per scale factor, {growth:.2f} per observation row")
    pathlib.Path(results_path).write_text(json.dumps(rows_out, indent=2))
    print(f"results: {results_path}")


if __name__ == "__main__":
    main()
