"""Drives the stream benchmark (see stream_compare.sh and BENCHMARKS.md)."""

import argparse
import json
import os
import statistics
import subprocess


def run(command):
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True)
    parser.add_argument("--python", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--orders", type=int, default=20000)
    parser.add_argument("--markets", type=int, default=10)
    # Timed rounds per batch, the same number on both sides; one of ours
    # makes --passes passes over the frames so that it lasts about as long as
    # one pass of kalshi-sdk's (a round of either is then as exposed to the
    # machine's drift as the other).
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--passes", type=int, default=20)
    parser.add_argument("--samples", type=int, default=5000)
    args = parser.parse_args()

    frames = os.path.join(args.out, "stream-frames.jsonl")
    recorded = run([args.runner, "record", frames, "--orders", str(args.orders),
                    "--markets", str(args.markets)])
    here = os.path.dirname(os.path.abspath(__file__))
    rust, python = [], []
    for _ in range(3):
        ours = run([args.runner, "replay", frames, "--rounds", str(args.rounds),
                    "--passes", str(args.passes)])
        theirs = run([args.python, os.path.join(here, "stream_replay_kalshi_sdk.py"), frames,
                      str(args.rounds)])
        if ours["books"] != theirs["books"]:
            raise SystemExit("the two implementations ended with different books")
        rust += ours["seconds"]
        python += theirs["seconds"]
    count = recorded["frames"]
    rust_rate = count / statistics.median(rust)
    python_rate = count / statistics.median(python)
    # The fastest round of each side too: on a machine whose speed drifts
    # (a shared VM), the fastest round is the least disturbed one.
    rust_best, python_best = count / min(rust), count / min(python)
    latency = run([args.runner, "latency", "--samples", str(args.samples)])
    results = {"recorded": recorded, "rust_frames_per_s": rust_rate,
               "kalshi_sdk_frames_per_s": python_rate, "ratio": rust_rate / python_rate,
               "rust_best_frames_per_s": rust_best, "kalshi_sdk_best_frames_per_s": python_best,
               "best_ratio": rust_best / python_best,
               "latency": latency}
    with open(os.path.join(args.out, "stream-results.json"), "w", encoding="utf-8") as file:
        json.dump(results, file, indent=2)
    table = [
        "| order book frames decoded and applied | this client | kalshi-sdk 22.4.0 |",
        "|---|---:|---:|",
        f"| frames per second (median round) | {rust_rate:,.0f} | {python_rate:,.0f} |",
        f"| ratio | {rust_rate / python_rate:.1f}x | 1x |",
        f"| frames per second (fastest round) | {rust_best:,.0f} | {python_best:,.0f} |",
        f"| ratio | {rust_best / python_best:.1f}x | 1x |",
        "",
        f"{count:,} frames of {recorded['markets']} markets from {recorded['orders']:,} orders; "
        f"the books both end with are identical.",
        "",
        "| loopback, exchange action to delta delivered | p50 | p90 | p99 | mean |",
        "|---|---:|---:|---:|---:|",
        f"| this client ({latency['samples']:,} samples) | {latency['p50_us']:.0f} µs | "
        f"{latency['p90_us']:.0f} µs | {latency['p99_us']:.0f} µs | {latency['mean_us']:.0f} µs |",
    ]
    with open(os.path.join(args.out, "stream-results.md"), "w", encoding="utf-8") as file:
        file.write("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
