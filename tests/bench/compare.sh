#!/usr/bin/env bash
# Side-by-side comparison of this client with the Python SDKs (see BENCHMARKS.md):
#
#   bash tests/bench/compare.sh [--rounds 15] [--scale 1.0] [--pin split|same|none]
#
# Builds the Rust runner (release), creates the virtual environments under
# target/bench/ from the pinned requirements (once; again when a requirements
# file changes), starts one exchange simulator and runs every client against
# it, round by round. Results: target/bench/results.md and results.json.
# Needs network access to PyPI only the first time.
set -euo pipefail
cd "$(dirname "$0")/../.."

OUT=target/bench
PY312=${PYTHON312:-$HOME/.pyenv/versions/3.12.1/bin/python3}
PY313=${PYTHON313:-$HOME/.pyenv/versions/3.13.0/bin/python3}
mkdir -p "$OUT"

cargo build --release --quiet -p kalshi-client --example bench_runner --features rsa

source tests/bench/venv.sh
venv kalshi-sdk "$PY312" tests/bench/requirements-kalshi-sdk.txt
venv official "$PY313" tests/bench/requirements-official.txt

exec python3 tests/bench/compare.py --runner target/release/examples/bench_runner --out "$OUT" "$@"
