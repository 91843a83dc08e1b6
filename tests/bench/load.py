"""Load driver (system python3, standard library only); see ``load.sh``.

Starts one simulator (``bench_runner serve``, one tokio worker, in its own
process), measures how many signatures one core makes per second
(``load_bench sign``, RSA-2048 and Ed25519), then drives concurrent signed
``GET /portfolio/balance`` requests from each client and key for
``--seconds``: this client (``load_bench run``, one runtime worker per core
it may use), the same requests through the layers under it (``--transport
reqwest``: a default reqwest client; ``--transport pool``: hyper-util's pooled
client reqwest is built on), through hyper alone (``--transport hyper``,
the floor under this client's HTTP stack), the same requests as bytes on a
raw socket (``--transport raw``, the floor under any HTTP library), kalshi-sdk (asyncio) and
kalshi-python-sync (threads). Two placements: ``split`` pins the simulator to CPU 1 and the client to CPU 0
(the client has one core: its limit is 1 x the signing rate); ``shared``
pins nothing (the client may use both cores, but the simulator takes its
share of them). The machine's speed drifts, so each run is reported as a
share of the mean of the signing measurements just before and after it; ``--rounds`` runs
of each client and ``--concurrency`` level, the median shown. That speed
also drifts within a run, by up to 30 % from one second to the next, so
where the client runs on one core (this client and the stacks under it,
``split``) ``load_bench run --probe-ms`` measures the signing rate inside
the run itself, 50 ms of every 250 on the client's only worker, and the
share divides by that instead. ``--stacks``, ``--keys`` and
``--placements`` run a subset. Writes ``load-results.md`` and
``load-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from pathlib import Path


# (--stacks name, the row's name), in the table's order.
STACKS = [
    ("client", "this client"),
    ("reqwest", "reqwest alone"),
    ("pool", "hyper-util pool"),
    ("hyper", "hyper alone (floor)"),
    ("raw", "raw socket (no HTTP library)"),
    ("kalshi-sdk", "kalshi-sdk 22.4.0 (asyncio)"),
    ("official", "kalshi-python-sync 3.34.0 (threads)"),
]
RUST = {"client", "reqwest", "pool", "hyper", "raw"}
# The option naming each Python SDK's interpreter.
PYTHON = {"kalshi-sdk": "kalshi_sdk_python", "official": "official_python"}


def pinned(cpus):
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def run_json(command, cpus) -> dict:
    out = subprocess.run(command, capture_output=True, text=True, preexec_fn=pinned(cpus))
    if out.returncode != 0:
        raise SystemExit(f"{command[0]} failed ({out.returncode}):\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def median(values):
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def measure(args, info, kind, client_cpus, cores, here):
    """Rounds of each client at each concurrency for one key, a signing
    measurement between every two runs: the machine's speed drifts, so a
    share of the limit divides by the signing rate probed inside the run
    where the client has one core (this client and the stacks under it), and
    by the mean of the signing rates measured just before and just after it
    otherwise (kept as ``share_before_after`` for every run)."""
    key = info["keys"][kind]
    # One core: the signing rate is probed inside the run (see the module doc).
    probe = ["--probe-ms", "50", "--probe-every-ms", "250"] if cores == 1 else []
    ours = lambda transport: lambda c: [args.load, "run", "--base-url", info["base_url"],
                                        "--key-id", key["key_id"], "--key", key["pem"],
                                        "--seconds", str(args.seconds), "--concurrency", str(c),
                                        "--transport", transport, *probe]
    python = lambda sdk, exe: lambda c: [exe, str(here / "load_python.py"), "--sdk", sdk,
                                         "--base-url", info["base_url"], "--key-id", key["key_id"],
                                         "--key", key["pem"], "--seconds", str(args.seconds),
                                         "--concurrency", str(c)]
    clients = [(name, ours(stack) if stack in RUST else python(stack, getattr(args, PYTHON[stack])))
               for stack, name in STACKS if stack in args.stacks
               # kalshi-sdk signs with RSA keys only
               and not (stack == "kalshi-sdk" and kind != "rsa")]
    sign = lambda: run_json([args.load, "sign", "--key", key["pem"], "--seconds", "2"],
                            client_cpus)["per_second"]
    samples = {}
    before = sign()
    for _ in range(args.rounds):
        for name, command in clients:
            for concurrency in args.concurrency:
                measured = run_json(command(concurrency), client_cpus)
                after = sign()
                around, before = (before + after) / 2, after
                measured["share_before_after"] = measured["per_second"] / (cores * around)
                inside = (measured.get("probe") or {}).get("per_second")
                signing = inside or around
                measured["limit_from"] = "in-run probes" if inside else "before and after"
                measured["share_of_limit"] = measured["per_second"] / (cores * signing)
                measured["signatures_per_core_second"] = signing
                print(json.dumps({"client": name, "key": kind, **measured}), flush=True)
                samples.setdefault((name, concurrency), []).append(measured)
    rows = []
    for (name, concurrency), runs in samples.items():
        middle = sorted(runs, key=lambda r: r["share_of_limit"])[len(runs) // 2]
        rows.append({"client": name, "key": kind, "client_cores": cores, "concurrency": concurrency,
                     "rounds": len(runs), **{k: middle[k] for k in
                     ["per_second", "share_of_limit", "signatures_per_core_second", "cpu_seconds", "requests",
                      "limit_from"]},
                     "share_range": [min(r["share_of_limit"] for r in runs),
                                     max(r["share_of_limit"] for r in runs)],
                     "round_shares": [{"share_of_limit": r["share_of_limit"],
                                       "share_before_after": r["share_before_after"]} for r in runs],
                     "errors": sum(r["errors"] for r in runs),
                     "limit": cores * middle["signatures_per_core_second"]})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True, help="bench_runner (serves the simulator)")
    parser.add_argument("--load", required=True, help="load_bench")
    parser.add_argument("--kalshi-sdk-python", help="needed when --stacks has kalshi-sdk")
    parser.add_argument("--official-python", help="needed when --stacks has official")
    parser.add_argument("--out", required=True)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=lambda text: [int(c) for c in text.split(",")], default=[8, 64])
    parser.add_argument("--placements", default="split,shared")
    parser.add_argument("--keys", default="rsa,ed25519")
    parser.add_argument("--stacks", default=",".join(stack for stack, _ in STACKS),
                        help="which clients, by name: " + ", ".join(stack for stack, _ in STACKS))
    args = parser.parse_args()
    args.stacks = [stack for stack in args.stacks.split(",") if stack]
    if not args.stacks:
        raise SystemExit("--stacks: name at least one client")
    if unknown := set(args.stacks) - {stack for stack, _ in STACKS}:
        raise SystemExit(f"--stacks: unknown {', '.join(sorted(unknown))}")
    keys = [kind for kind in args.keys.split(",") if kind]
    if not keys or set(keys) - {"rsa", "ed25519"}:
        raise SystemExit("--keys: rsa, ed25519 or both")
    for stack, option in PYTHON.items():
        # kalshi-sdk runs with RSA keys only.
        runs = stack in args.stacks and (stack != "kalshi-sdk" or "rsa" in keys)
        if runs and not getattr(args, option):
            raise SystemExit(f"--stacks has {stack}: pass --{option.replace('_', '-')}")
    out = Path(args.out)
    here = Path(__file__).parent
    placements = {"split": ({1}, {0}), "shared": (None, None)}
    results = []
    for placement in args.placements.split(","):
        sim_cpus, client_cpus = placements[placement]
        server = subprocess.Popen(
            [args.runner, "serve", "--dir", str(out / "load-run"), "--orders", "0"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, preexec_fn=pinned(sim_cpus),
        )
        try:
            info = json.loads(server.stdout.readline())
            cores = len(client_cpus) if client_cpus else os.cpu_count()
            for kind in keys:
                for row in measure(args, info, kind, client_cpus, cores, here):
                    results.append({"placement": placement, **row})
        finally:
            server.stdin.close()
            server.wait(timeout=10)
    (out / "load-results.json").write_text(json.dumps(results, indent=2))
    lines = [
        "| placement | client | key | client cores | concurrency | signing limit (req/s) | limit measured | requests/s | of the limit | rounds' range | errors | client CPU per request |",
        "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        cpu_per = r["cpu_seconds"] / max(r["requests"], 1) * 1e6
        lines.append(
            f"| {r['placement']} | {r['client']} | {r['key']} | {r['client_cores']} | {r['concurrency']} "
            f"| {r['limit']:,.0f} | {r['limit_from']} | {r['per_second']:,.0f} | {100 * r['share_of_limit']:.1f} % "
            f"| {100 * r['share_range'][0]:.1f}–{100 * r['share_range'][1]:.1f} % "
            f"| {r['errors']} | {cpu_per:,.0f} µs |"
        )
    (out / "load-results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
