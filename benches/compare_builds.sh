#!/usr/bin/env bash
# Two builds of mittari side by side on the national benchmark, in one command: for a change
# that must not cost speed or memory (a refactoring, a new dependency).
#
#   benches/compare_builds.sh OLD_BINARY NEW_BINARY [SCALE] [RUNS]
#
# Runs benches/national_bench.py for each binary in turn, twice (old, new, old, new), so that the
# machine's drift hits both alike, each time with the DuckDB and pandas peers as in-command
# references, then prints each build's median wall time and peak memory, and both as ratios to
# DuckDB's in the same runs. SCALE defaults to 1, RUNS (per round) to 3. Needs the benchmark's
# Python (BENCH_VENV, default ~/.cache/mittari-bench-venv, with duckdb, pandas and pyarrow).
set -euo pipefail
cd "$(dirname "$0")/.."

OLD="$1"
NEW="$2"
SCALE="${3:-1}"
RUNS="${4:-3}"
VENV="${BENCH_VENV:-$HOME/.cache/mittari-bench-venv}"
DIR="${BENCH_DIR:-$(mktemp -d)}"

for round in 1 2; do
    for build in old new; do
        bin="$OLD"
        [ "$build" = new ] && bin="$NEW"
        echo "== round $round: $build ($bin)" >&2
        "$VENV/bin/python" benches/national_bench.py "$bin" "$DIR/$build-$round" \
            "$DIR/$build-$round.json" "$RUNS" "$SCALE" >&2
    done
done

"$VENV/bin/python" - "$DIR" <<'EOF'
import json, pathlib, statistics, sys
d = pathlib.Path(sys.argv[1])
rows = {}
for build in ("old", "new"):
    runs = [json.loads((d / f"{build}-{r}.json").read_text())[0] for r in (1, 2)]
    wall = statistics.median(r["mittari"]["wall_s"] for r in runs)
    rss = statistics.median(r["mittari"]["peak_rss_mb"] for r in runs)
    t_duck = statistics.median(r["mittari"]["wall_s"] / r["duckdb"]["wall_s"] for r in runs)
    m_duck = statistics.median(r["mittari"]["peak_rss_mb"] / r["duckdb"]["peak_rss_mb"] for r in runs)
    rows[build] = (wall, rss, t_duck, m_duck)
print(f"{'build':6} {'wall s':>8} {'peak MB':>9} {'time/DuckDB':>12} {'memory/DuckDB':>14}")
for build, (wall, rss, t, m) in rows.items():
    print(f"{build:6} {wall:8.2f} {rss:9.0f} {t:12.2f} {m:14.2f}")
(ow, orss, ot, om), (nw, nrss, nt, nm) = rows["old"], rows["new"]
print(f"new/old: time {nw / ow:.2f} (against DuckDB {nt / ot:.2f}), memory {nrss / orss:.2f} (against DuckDB {nm / om:.2f})")
EOF
