#!/usr/bin/env bash
# Regenerates link/order.txt, the order in which lld lays out the functions of mittari's binary
# (build.rs passes it as --symbol-ordering-file): the functions a run executes, found with
# callgrind, first and together.
#
#   link/profile.sh [BINARY]   # needs valgrind, python3, nm; a few minutes after the build
#
# BINARY defaults to a fresh `--profile dist` build. Which functions run does not depend on their
# order, so the binary profiled may be one linked with an older order file.
#
# Profiles, in this order: `convert jsonstat` of a dense and a sparse population table (a tenth
# of benches/jsonstat.sh's), then the sample pipeline, then a small national benchmark set
# (benches/run.sh's, at scale 0.05 over 3 years). Names the binary no longer defines are
# ignored by the linker, so an order file from an older commit still helps, only less; rerun
# this after larger changes and commit the result.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mittari-build/target}"

if [ $# -ge 1 ]; then
    BIN="$1"
else
    cargo build --profile dist --locked -q
    BIN="$CARGO_TARGET_DIR/dist/mittari"
fi
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

python3 benches/gen_jsonstat.py "$WORK" --scale 0.1 >&2
grind() {
    local name=$1
    shift
    valgrind -q --tool=callgrind --demangle=no --dump-instr=no --callgrind-out-file="$WORK/$name.out" \
        "$BIN" -qq "$@" >&2
}
for kind in dense sparse; do
    grind "$kind" convert jsonstat "$WORK/$kind.json" -o "$WORK/$kind.parquet" \
        --dataset statfin:bench --sex-dim sukupuoli --age-dim ika
done
grind sample run pipelines/sample.toml --out "$WORK/sample" --cache "$WORK/cache"
"$BIN" -q generate "$WORK/national" --scale 0.05 --years 3 >&2
grind national run "$WORK/national/pipeline.toml" --out "$WORK/national-out" --cache "$WORK/national/cache"

python3 link/hot_functions.py "$BIN" "$WORK/dense.out" "$WORK/sparse.out" "$WORK/sample.out" "$WORK/national.out" \
    >link/order.txt
echo "link/order.txt: $(wc -l <link/order.txt) functions" >&2
