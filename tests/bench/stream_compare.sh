#!/usr/bin/env bash
# The stream benchmark, side by side with kalshi-sdk (see BENCHMARKS.md):
#
#   bash tests/bench/stream_compare.sh [--orders 20000] [--markets 10] [--rounds 5] [--passes 20] [--samples 5000]
#
# Records the order book frames of random order flow on the simulator once,
# replays them through this client (`BookReplay`) and through kalshi-sdk
# 22.4.0's models and order book manager, alternating three times, checks
# that both end with the same books, and measures this client's loopback
# latency from an exchange action to the session delivering its delta.
# Results: target/bench/stream-results.md and stream-results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=target/bench
PY312=${PYTHON312:-$HOME/.pyenv/versions/3.12.1/bin/python3}
mkdir -p "$OUT"

cargo build --release --quiet -p kalshi-client --example stream_bench
source tests/bench/venv.sh
venv kalshi-sdk "$PY312" tests/bench/requirements-kalshi-sdk.txt

exec python3 tests/bench/stream_compare.py --runner target/release/examples/stream_bench \
    --python "$OUT/venv-kalshi-sdk/bin/python" --out "$OUT" "$@"
