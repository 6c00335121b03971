#!/usr/bin/env bash
# JSON-stat -> Parquet benchmark: mittari vs pyjstat + pandas vs a parse-only baseline, on a
# national-scale population table (310 areas x 101 ages x 3 sexes x 30 years, dense and sparse).
#
#   benches/jsonstat.sh            # RUNS=3 by default; BENCH_DIR keeps the data and results
#   RUNS=5 PYJSTAT_RUNS=1 benches/jsonstat.sh   # pyjstat (minutes a run) in the first run only
#
# Installs pyjstat, pandas and pyarrow into a virtualenv ($BENCH_VENV, default
# ~/.cache/mittari-bench-venv), builds mittari as it is installed (the `dist` profile: release with
# whole-program LTO), generates the data, and prints
# wall time (median), peak RSS and the ratios, then convert's peak RSS on the dense table and on
# one with 8 times its cells side by side; writes results.json beside the data.
# BENCH_STRICT=1 makes a missed target exit 1.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${RUNS:-3}"
DIR="${BENCH_DIR:-$(mktemp -d)}"
VENV="${BENCH_VENV:-$HOME/.cache/mittari-bench-venv}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mittari-build/target}"

# PROFILE=release measures the quicker-to-build release binary instead of the installed one.
PROFILE="${PROFILE:-dist}"
echo "== building mittari (profile $PROFILE)" >&2
cargo build --profile "$PROFILE" --locked -q
BIN="$CARGO_TARGET_DIR/$PROFILE/mittari"

echo "== peers: pyjstat, pandas, pyarrow in $VENV" >&2
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q pyjstat pandas pyarrow

echo "== generating data in $DIR" >&2
python3 benches/gen_jsonstat.py "$DIR" >&2
# The memory-scaling comparison: the same table with 8 measures, 8 times the cells.
python3 benches/gen_jsonstat.py "$DIR/x8" --measures 8 --only dense >&2

echo "== timing ($RUNS runs each, in turn)" >&2
"$VENV/bin/python" benches/jsonstat_bench.py "$BIN" "$DIR" "$DIR/results.json" "$RUNS"
