"""Load driver (system python3, standard library only); see ``load.sh``.

Starts one simulator (``bench_runner serve``, one tokio worker, in its own
process), measures how many signatures one core makes per second
(``load_bench sign``, RSA-2048 and Ed25519), then drives concurrent signed
``GET /portfolio/balance`` requests from each client and key for
``--seconds``: this client (``load_bench run``, one runtime worker per core
it may use), kalshi-sdk (asyncio) and kalshi-python-sync (threads). Two
placements: ``split`` pins the simulator to CPU 1 and the client to CPU 0
(the client has one core: its limit is 1 x the signing rate); ``shared``
pins nothing (the client may use both cores, but the simulator takes its
share of them). Writes ``load-results.md`` and ``load-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path


def pinned(cpus):
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def run_json(command, cpus) -> dict:
    out = subprocess.run(command, check=True, capture_output=True, text=True, preexec_fn=pinned(cpus))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True, help="bench_runner (serves the simulator)")
    parser.add_argument("--load", required=True, help="load_bench")
    parser.add_argument("--kalshi-sdk-python", required=True)
    parser.add_argument("--official-python", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    out = Path(args.out)
    here = Path(__file__).parent
    placements = {"split": ({1}, {0}), "shared": (None, None)}
    results = []
    for placement, (sim_cpus, client_cpus) in placements.items():
        server = subprocess.Popen(
            [args.runner, "serve", "--dir", str(out / "load-run"), "--orders", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=pinned(sim_cpus),
        )
        try:
            info = json.loads(server.stdout.readline())
            cores = len(client_cpus) if client_cpus else os.cpu_count()
            for kind in ["rsa", "ed25519"]:
                key = info["keys"][kind]
                signing = run_json([args.load, "sign", "--key", key["pem"]], client_cpus)
                limit = cores * signing["per_second"]
                clients = [
                    ("this client", [args.load, "run", "--base-url", info["base_url"],
                                     "--key-id", key["key_id"], "--key", key["pem"],
                                     "--seconds", str(args.seconds), "--concurrency", str(args.concurrency)]),
                ]
                python_args = ["--base-url", info["base_url"], "--key-id", key["key_id"], "--key", key["pem"],
                               "--seconds", str(args.seconds), "--concurrency", str(args.concurrency)]
                if kind == "rsa":  # kalshi-sdk signs with RSA keys only
                    clients.append(("kalshi-sdk 22.4.0 (asyncio)",
                                    [args.kalshi_sdk_python, str(here / "load_python.py"), "--sdk", "kalshi-sdk", *python_args]))
                clients.append(("kalshi-python-sync 3.34.0 (threads)",
                                [args.official_python, str(here / "load_python.py"), "--sdk", "official", *python_args]))
                for name, command in clients:
                    measured = run_json(command, client_cpus)
                    row = {
                        "placement": placement, "client": name, "key": kind, "client_cores": cores,
                        "signatures_per_core_second": signing["per_second"], "limit": limit, **measured,
                        "share_of_limit": measured["per_second"] / limit,
                    }
                    print(json.dumps(row), flush=True)
                    results.append(row)
        finally:
            server.stdin.close()
            server.wait(timeout=10)
    (out / "load-results.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| placement | client | key | client cores | signing limit (req/s) | requests/s | of the limit | errors | client CPU per request |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cpu_per = r["cpu_seconds"] / max(r["requests"], 1) * 1e6
        lines.append(
            f"| {r['placement']} | {r['client']} | {r['key']} | {r['client_cores']} | {r['limit']:,.0f} "
            f"| {r['per_second']:,.0f} | {100 * r['share_of_limit']:.1f} % | {r['errors']} | {cpu_per:,.0f} µs |"
        )
    (out / "load-results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
