#!/usr/bin/env bash
# National benchmark: mittari vs DuckDB vs pandas on synthetic national-scale data, at three
# scales (1x, 4x, 16x; the largest about 22 M observation rows).
#
#   benches/run.sh                    # RUNS=3 SCALES="1 4 16" by default
#   BENCH_DIR=/data/bench RUNS=1 SCALES="0.05" benches/run.sh   # a quick look
#
# Installs duckdb, pandas and pyarrow into a virtualenv ($BENCH_VENV, default
# ~/.cache/mittari-bench-venv), builds mittari as it is installed (the `dist` profile: release with
# whole-program LTO), generates the data (kept in
# BENCH_DIR between runs), checks that both peers' indicators equal mittari's, and prints median
# wall time, peak RSS, rows per second, the ratios, and an up-to-date rerun of mittari; writes the
# table as JSON to $BENCH_DIR/results.json. Disk: about 4 GB for the 16x data and outputs.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
SCALES="${SCALES:-1 4 16}"
DIR="${BENCH_DIR:-$HOME/.cache/mittari-bench-national}"
VENV="${BENCH_VENV:-$HOME/.cache/mittari-bench-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mittari-build/target}"

echo "== building mittari (profile dist)" >&2
cargo build --profile dist --locked -q
BIN="$CARGO_TARGET_DIR/dist/mittari"

echo "== peers: duckdb, pandas, pyarrow in $VENV" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q duckdb pandas pyarrow

mkdir -p "$DIR"
# shellcheck disable=SC2086 # SCALES is a list
"$VENV/bin/python" benches/national_bench.py "$BIN" "$DIR" "$DIR/results.json" "$RUNS" $SCALES
