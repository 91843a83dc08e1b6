"""The runner protocol shared by the Python runners (stdlib only).

A runner is a long-lived process: it prints one JSON line when ready
(``{"ready": true, ...}`` or ``{"ready": false, "error": ...}`` when the SDK
cannot be set up, e.g. cannot sign with the given key), then reads one
command per line, ``{"op": "balance", "n": 20}``, runs the operation ``n``
times and answers with one JSON line::

    {"op": "balance", "n": 20, "wall_ns": [one per call], "cpu_ns": CPU of the batch}

Wall time is ``time.perf_counter_ns`` around each call; CPU time is
``time.process_time_ns`` (the whole process, every thread) around the
batch. ``kalshi-client/examples/bench_runner.rs`` speaks the same protocol.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable

BALANCE_PATH = "/trade-api/v2/portfolio/balance"


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--key", required=True, help="PEM private key file")
    parser.add_argument("--ticker", required=True)
    parser.add_argument("--markets", required=True, help="a GetMarkets page (JSON file)")
    return parser.parse_args()


def emit(value: dict) -> None:
    sys.stdout.write(json.dumps(value) + "\n")
    sys.stdout.flush()


def serve(ops: dict[str, Callable[[], object]], ready: dict) -> None:
    """Answers commands on stdin until it closes."""
    emit({"ready": True, **ready})
    for line in sys.stdin:
        if not line.strip():
            continue
        command = json.loads(line)
        op = command.get("op", "")
        n = int(command.get("n", 1))
        call = ops.get(op)
        if call is None:
            emit({"op": op, "error": f"unknown op {op}"})
            continue
        wall = []
        try:
            cpu_before = time.process_time_ns()
            for _ in range(n):
                started = time.perf_counter_ns()
                call()
                wall.append(time.perf_counter_ns() - started)
            cpu = time.process_time_ns() - cpu_before
        except Exception as error:  # reported to the driver, which stops
            emit({"op": op, "error": f"{type(error).__name__}: {error}"})
            continue
        emit({"op": op, "n": n, "wall_ns": wall, "cpu_ns": cpu})


def not_ready(error: BaseException) -> None:
    emit({"ready": False, "error": f"{type(error).__name__}: {error}"})
    # Stay until the driver closes stdin, so it never sees a broken pipe.
    for _ in sys.stdin:
        pass
