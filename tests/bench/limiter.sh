#!/usr/bin/env bash
# What one rate-limit acquisition costs in memory and with the Redis store
# (see BENCHMARKS.md): starts a redis-server on a free loopback port, runs
# the release `limiter_bench` example against it, stops the server.
#
#   bash tests/bench/limiter.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

cargo build --release --quiet -p kalshi-client --example limiter_bench --features redis
PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${REDIS_SERVER:-redis-server}" --port "$PORT" --bind 127.0.0.1 --save "" --appendonly no \
    --loglevel warning >/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    (echo PING > "/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
    sleep 0.05
done
"${REDIS_SERVER:-redis-server}" --version
target/release/examples/limiter_bench "redis://127.0.0.1:$PORT/"
