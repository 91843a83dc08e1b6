#!/usr/bin/env bash
# Concurrent signed requests, this client next to the Python SDKs, against
# the simulator in another process (see BENCHMARKS.md):
#
#   bash tests/bench/load.sh [--seconds 5] [--rounds 3] [--concurrency 8,64]
#
# Results: target/bench/load-results.md and load-results.json.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=target/bench
PY312=${PYTHON312:-$HOME/.pyenv/versions/3.12.1/bin/python3}
PY313=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}
mkdir -p "$OUT"

cargo build --release --quiet -p kalshi-client --example bench_runner --example load_bench --features rsa

source tests/bench/venv.sh
venv kalshi-sdk "$PY312" tests/bench/requirements-kalshi-sdk.txt
venv official "$PY313" tests/bench/requirements-official.txt

exec python3 tests/bench/load.py --runner target/release/examples/bench_runner \
    --load target/release/examples/load_bench \
    --kalshi-sdk-python "$OUT/venv-kalshi-sdk/bin/python" \
    --official-python "$OUT/venv-official/bin/python" --out "$OUT" "$@"
