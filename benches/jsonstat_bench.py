#!/usr/bin/env python3
"""Driver of benches/jsonstat.sh: times mittari, pyjstat + pandas and a parse-only baseline on the
same JSON-stat files, in turn, RUNS times each, and prints medians, ratios and the targets.

  jsonstat_bench.py MITTARI_BINARY DATA_DIR RESULTS_JSON [RUNS]

PYJSTAT_RUNS (environment; default RUNS) sets how many of the runs include pyjstat, which takes
minutes a run where the others take a second.
"""
import json
import os
import pathlib
import statistics
import subprocess
import sys

HERE = pathlib.Path(__file__).resolve().parent


def measure(cmd):
    out = subprocess.run([sys.executable, str(HERE / "measure.py"), *cmd], capture_output=True, text=True, check=True)
    wall, rss, code = out.stdout.split()
    return float(wall), int(rss), int(code)


def settle(path):
    """Drops a freshly built binary's pages from the page cache (fsync, then POSIX_FADV_DONTNEED:
    no privileges needed), so its first run reads it from disk as an installed binary is read.
    Just after the linker wrote it, the kernel holds the file in large folios and maps the code a
    whole folio at a time, and the same conversion showed about 4 MB more peak RSS."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def main():
    binary, data, results_path = sys.argv[1], pathlib.Path(sys.argv[2]), sys.argv[3]
    settle(binary)
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 3
    pyjstat_runs = min(runs, int(os.environ.get("PYJSTAT_RUNS", runs)))
    results = []
    for kind in ("dense", "sparse"):
        src = data / f"{kind}.json"
        size = src.stat().st_size
        impls = {
            "mittari convert": [binary, "-qq", "convert", "jsonstat", str(src), "-o", str(data / f"{kind}.mittari.parquet"),
                                "--dataset", "statfin:bench", "--sex-dim", "sukupuoli", "--age-dim", "ika"],
            "pyjstat + pandas": [sys.executable, str(HERE / "pyjstat_to_parquet.py"), str(src), str(data / f"{kind}.pyjstat.parquet")],
            "parse only (python json.load)": [sys.executable, str(HERE / "parse_only.py"), str(src)],
        }
        samples = {name: [] for name in impls}
        for i in range(runs):
            for name, cmd in impls.items():  # in turn, so drift hits every implementation alike
                if name == "pyjstat + pandas" and i >= pyjstat_runs:
                    continue
                samples[name].append(measure(cmd))
        for name, s in samples.items():
            ok = all(code == 0 for _, _, code in s)
            results.append({
                "file": kind, "file_bytes": size, "implementation": name, "runs": len(s), "ok": ok,
                "wall_s": statistics.median(w for w, _, _ in s), "peak_rss_bytes": statistics.median(r for _, r, _ in s),
            })
    pathlib.Path(results_path).write_text(json.dumps(results, indent=1) + "\n")

    print(f"{'file':7} {'implementation':31} {'wall s':>8} {'peak RSS MB':>12} {'RSS/file':>9}  ok")
    for r in results:
        print(f"{r['file']:7} {r['implementation']:31} {r['wall_s']:8.3f} {r['peak_rss_bytes'] / 1e6:12.1f} "
              f"{r['peak_rss_bytes'] / r['file_bytes']:9.2f}  {'yes' if r['ok'] else 'FAILED'}")
    failed = False
    for kind in ("dense", "sparse"):
        by = {r["implementation"]: r for r in results if r["file"] == kind}
        m, p, b = by["mittari convert"], by["pyjstat + pandas"], by["parse only (python json.load)"]
        lines = []
        if p["ok"]:
            speedup = p["wall_s"] / m["wall_s"]
            lines.append((f"mittari is {speedup:.1f}x faster than pyjstat + pandas (target >= 20x)", speedup >= 20))
        else:
            lines.append(("pyjstat + pandas failed on this file (no ratio)", True))
        lines.append((f"mittari / parse-only wall = {m['wall_s'] / b['wall_s']:.2f} (target <= 1)", m["wall_s"] <= b["wall_s"]))
        for text, met in lines:
            print(f"{kind}: {text}: {'met' if met else 'MISSED'}")
            failed |= not met or not m["ok"]
    # Memory as the table grows: the same conversion on a table with 8 times the cells.
    big = data / "x8" / "dense.json"
    small = next(r for r in results if r["file"] == "dense" and r["implementation"] == "mittari convert")
    if big.exists():
        cmd = [binary, "-qq", "convert", "jsonstat", str(big), "-o", str(data / "x8.mittari.parquet"),
               "--dataset", "statfin:bench", "--sex-dim", "sukupuoli", "--age-dim", "ika"]
        s = [measure(cmd) for _ in range(runs)]
        large = {"file": "dense x8", "file_bytes": big.stat().st_size, "implementation": "mittari convert",
                 "runs": len(s), "ok": all(c == 0 for _, _, c in s),
                 "wall_s": statistics.median(w for w, _, _ in s), "peak_rss_bytes": statistics.median(r for _, r, _ in s)}
        results.append(large)
        pathlib.Path(results_path).write_text(json.dumps(results, indent=1) + "\n")
        print()
        print(f"{'table':9} {'file MB':>8} {'cells':>11} {'wall s':>8} {'peak RSS MB':>12}")
        for label, r, cells in (("dense", small, 1), ("dense x8", large, 8)):
            print(f"{label:9} {r['file_bytes'] / 1e6:8.1f} {cells:>10}x {r['wall_s']:8.3f} {r['peak_rss_bytes'] / 1e6:12.1f}")
        file_ratio = large["file_bytes"] / small["file_bytes"]
        rss_ratio = large["peak_rss_bytes"] / small["peak_rss_bytes"]
        met = rss_ratio < file_ratio / 2 and large["ok"]
        print(f"a file {file_ratio:.1f}x larger takes {rss_ratio:.2f}x the memory "
              f"(target: well under the file's growth, at most half of it): {'met' if met else 'MISSED'}")
        failed |= not met
    print(f"results written to {results_path}")
    sys.exit(1 if failed and os.environ.get("BENCH_STRICT") else 0)


if __name__ == "__main__":
    main()
