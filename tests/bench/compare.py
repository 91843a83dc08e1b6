"""Side-by-side comparison of this client with the Python SDKs.

Run through ``bash tests/bench/compare.sh`` (which builds the Rust runner and
the virtual environments first). Standard library only.

One exchange simulator (``bench_runner serve``) serves every client. Each
client is a long-lived runner process (``bench_runner client``,
``run_kalshi_sdk.py``, ``run_official.py``) that answers commands on stdin
(see ``protocol.py``), so process start-up, imports and key loading are
never measured. Every client warms up first (connection opened, code paths
hot); then, for each of ``--rounds`` rounds and each operation, every client
runs a batch of the operation in turn, the order of clients rotating from
round to round, so drift on this shared machine hits every client alike.

Reported per client and operation: the median wall time per call (over
every call of every round), the median CPU time per call of the client
process (CPU of each batch divided by its size, median over rounds) and of
the simulator process during the same batches (the server's share of each
round trip), with ratios to this client. ``--pin`` chooses where the
simulator and the clients run (see ``PLACEMENTS``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (operation, calls per batch, what it is)
OPERATIONS = [
    ("status", 100, "GET /exchange/status (public: unsigned in this client)"),
    ("balance", 100, "GET /portfolio/balance (signed)"),
    ("orders", 40, "GET /portfolio/orders?status=resting&limit=100 (signed, 100 orders)"),
    ("create_cancel", 40, "POST /portfolio/events/orders then DELETE /portfolio/events/orders/{id}"),
    ("sign", 100, "signing headers for GET /trade-api/v2/portfolio/balance, no I/O"),
    ("decode_markets", 10, "a 1000-market GetMarkets body ({size}) into the SDK's models, no I/O"),
]

# Where processes run. Short loopback requests cost very different amounts
# depending on whether client and server share a core or must wake the
# other one (an idle vCPU), so every client gets the same placement. With
# the CPUs this process may use, first and second:
PLACEMENTS = {
    "split": lambda a, b: ({b}, {a}),  # simulator on the second, every client on the first (default)
    "same": lambda a, b: ({a}, {a}),  # simulator and clients on the first
    "none": lambda a, b: (None, None),  # wherever the scheduler puts them
}


class Runner:
    """One client process speaking the runner protocol."""

    def __init__(self, name: str, sdk: str, key: str, argv: list[str], cpus: set[int] | None):
        self.name, self.sdk, self.key = name, sdk, key
        self.process = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
            preexec_fn=pinned(cpus),
        )
        ready = self.read()
        self.ready = bool(ready.get("ready"))
        self.error = ready.get("error")
        self.description = ready.get("client", sdk)

    def read(self) -> dict:
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: runner exited (code {self.process.poll()})")
        return json.loads(line)

    def run(self, op: str, n: int) -> dict:
        self.process.stdin.write(json.dumps({"op": op, "n": n}) + "\n")
        self.process.stdin.flush()
        answer = self.read()
        if "error" in answer:
            raise RuntimeError(f"{self.name}: {op} failed: {answer['error']}")
        return answer

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def pinned(cpus: set[int] | None):
    """A `preexec_fn` that restricts the child (and its threads) to `cpus`."""
    if cpus is None:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def process_cpu_ns(pid: int) -> int:
    """CPU time of process `pid` (all threads), from /proc/PID/task/*/schedstat.

    Read only between batches, while the simulator sleeps on its sockets: a
    sleeping thread's figure is exact (it is brought up to date whenever the
    thread stops running)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def fmt_us(ns: float | None) -> str:
    if ns is None:
        return "—"
    us = ns / 1000
    if us >= 100:
        return f"{us:,.0f}"
    return f"{us:,.1f}"


def fmt_ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runner", required=True, help="the bench_runner binary")
    parser.add_argument("--out", required=True, help="where venvs live and results go")
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every batch size")
    parser.add_argument("--timeout", type=int, default=900, help="seconds before giving up")
    parser.add_argument("--pin", choices=sorted(PLACEMENTS), default="split",
                        help="CPU placement of simulator and clients (default: split)")
    args = parser.parse_args()
    allowed = sorted(os.sched_getaffinity(0))
    if args.pin != "none" and len(allowed) < 2:
        print("fewer than 2 CPUs: not pinning", file=sys.stderr)
        args.pin = "none"
    sim_cpus, client_cpus = PLACEMENTS[args.pin](allowed[0], allowed[-1])
    out = Path(args.out)

    def timed_out(signum, frame):
        raise TimeoutError(f"the comparison took more than {args.timeout} s")

    signal.signal(signal.SIGALRM, timed_out)
    signal.alarm(args.timeout)

    started = time.monotonic()
    server = subprocess.Popen(
        [args.runner, "serve", "--dir", str(out / "run")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=pinned(sim_cpus),
    )
    runners: list[Runner] = []
    try:
        info = json.loads(server.stdout.readline() or "{}")
        if "base_url" not in info:
            raise RuntimeError("the simulator did not start")
        print(f"simulator: {info['base_url']} ({info['resting_orders']} resting orders per account)")

        def common(kind: str) -> list[str]:
            key = info["keys"][kind]
            return [
                "--base-url", info["base_url"], "--key-id", key["key_id"], "--key", key["pem"],
                "--ticker", info["ticker"], "--markets", info["markets"],
            ]

        sdk_python = str(out / "venv-kalshi-sdk" / "bin" / "python")
        official_python = str(out / "venv-official" / "bin" / "python")
        specs = [
            ("rust/rsa", "this client", "rsa", [args.runner, "client", *common("rsa")]),
            ("rust/ed25519", "this client", "ed25519", [args.runner, "client", *common("ed25519")]),
            (
                "rust/rsa-crate",
                "this client, `rsa` crate backend",
                "rsa",
                [args.runner, "client", *common("rsa"), "--backend", "rust-crypto"],
            ),
            ("kalshi-sdk/rsa", "kalshi-sdk", "rsa",
             [sdk_python, str(HERE / "run_kalshi_sdk.py"), *common("rsa")]),
            ("kalshi-sdk/ed25519", "kalshi-sdk", "ed25519",
             [sdk_python, str(HERE / "run_kalshi_sdk.py"), *common("ed25519")]),
            ("official/rsa", "kalshi-python-sync", "rsa",
             [official_python, str(HERE / "run_official.py"), *common("rsa")]),
            ("official/ed25519", "kalshi-python-sync", "ed25519",
             [official_python, str(HERE / "run_official.py"), *common("ed25519")]),
        ]
        unsupported: dict[str, str] = {}
        for name, sdk, key, argv in specs:
            runner = Runner(name, sdk, key, argv, client_cpus)
            if runner.ready:
                runners.append(runner)
                print(f"  {name:<20} {runner.description}")
            else:
                unsupported[name] = runner.error or "not ready"
                print(f"  {name:<20} cannot run: {runner.error}")
                runner.close()

        size = f"{Path(info['markets']).stat().st_size / 1e6:.2f} MB"
        operations = [
            (op, max(1, round(n * args.scale)), what.replace("{size}", size)) for op, n, what in OPERATIONS
        ]
        for runner in runners:  # warm-up, not recorded
            for op, _, _ in operations:
                runner.run(op, 2)

        wall: dict[tuple[str, str], list[int]] = {}
        cpu: dict[tuple[str, str], list[float]] = {}
        sim_cpu: dict[tuple[str, str], list[float]] = {}
        for round_ in range(args.rounds):
            shift = round_ % len(runners)
            order = runners[shift:] + runners[:shift]
            for op, n, _ in operations:
                for runner in order:
                    sim_before = process_cpu_ns(server.pid)
                    answer = runner.run(op, n)
                    sim_used = process_cpu_ns(server.pid) - sim_before
                    wall.setdefault((runner.name, op), []).extend(answer["wall_ns"])
                    cpu.setdefault((runner.name, op), []).append(answer["cpu_ns"] / n)
                    sim_cpu.setdefault((runner.name, op), []).append(sim_used / n)
            print(f"  round {round_ + 1}/{args.rounds} done ({time.monotonic() - started:.0f} s)",
                  file=sys.stderr)
        elapsed = time.monotonic() - started
    finally:
        for runner in runners:
            runner.close()
        try:
            server.stdin.close()
            server.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            server.kill()
        signal.alarm(0)

    medians = {
        name: {
            op: {
                "wall_ns": statistics.median(wall[(name, op)]),
                "cpu_ns": statistics.median(cpu[(name, op)]),
                "sim_cpu_ns": statistics.median(sim_cpu[(name, op)]),
                "calls": len(wall[(name, op)]),
            }
            for op, _, _ in operations
        }
        for name in (r.name for r in runners)
    }

    def med(name: str, op: str, what: str) -> float | None:
        return medians.get(name, {}).get(op, {}).get(what)

    def ratio(name: str, base: str, op: str, what: str, base_op: str | None = None):
        a, b = med(name, op, what), med(base, base_op or op, what)
        return None if a is None or not b else a / b

    lines = []
    emit = lines.append
    emit(f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC on "
         f"{cpu_model()}, {os.cpu_count()} cores; {args.rounds} rounds, "
         f"{elapsed:.0f} s in all; placement `--pin {args.pin}`.")
    emit("")
    emit("| client | SDK | key |")
    emit("|---|---|---|")
    for runner in runners:
        emit(f"| `{runner.name}` | {runner.description} | {runner.key} |")
    for name, error in unsupported.items():
        emit(f"| `{name}` | cannot run | {error} |")
    emit("")
    emit("Median per call, µs. Wall: every call. CPU: the client process's (every thread), "
         "per batch / calls. Sim CPU: the simulator process's during the same batches (the "
         "server's share of each round trip, the same whichever client asks). "
         "Ratio: this SDK's time over this client's with the same kind of key "
         "(`rust/rsa` for RSA rows, `rust/ed25519` for Ed25519 rows); > 1 means this client is faster.")
    emit("")
    for op, n, what in operations:
        emit(f"**{op}**: {what}; {n} calls per batch")
        emit("")
        emit("| client | wall µs | CPU µs | sim CPU µs | wall ratio | CPU ratio |")
        emit("|---|---:|---:|---:|---:|---:|")
        for runner in runners:
            base = "rust/ed25519" if runner.key == "ed25519" else "rust/rsa"
            emit(
                f"| `{runner.name}` | {fmt_us(med(runner.name, op, 'wall_ns'))} "
                f"| {fmt_us(med(runner.name, op, 'cpu_ns'))} "
                f"| {fmt_us(med(runner.name, op, 'sim_cpu_ns'))} "
                f"| {fmt_ratio(ratio(runner.name, base, op, 'wall_ns'))} "
                f"| {fmt_ratio(ratio(runner.name, base, op, 'cpu_ns'))} |"
            )
        emit("")

    # The targets.
    def net(name: str, op: str) -> float | None:
        """Wall time less the simulator's CPU: the round trip without the server's work."""
        w, sc = med(name, op, "wall_ns"), med(name, op, "sim_cpu_ns")
        return None if w is None or sc is None else w - sc

    targets = []
    sign_cpu, status_cpu = med("rust/rsa", "sign", "cpu_ns"), med("rust/rsa", "status", "cpu_ns")
    balance_cpu = med("rust/rsa", "balance", "cpu_ns")
    if sign_cpu and status_cpu and balance_cpu:
        floor = sign_cpu + status_cpu
        targets.append((
            "client CPU per signed RSA request ≤ 1.2 × (RSA signature + unsigned request)",
            f"{fmt_us(balance_cpu)} µs vs {fmt_us(sign_cpu)} + {fmt_us(status_cpu)} "
            f"= {fmt_us(floor)} µs: {balance_cpu / floor:.2f}×",
            "yes" if balance_cpu / floor <= 1.2 else "**no**",
        ))
    for label, name, base, op, need in [
        ("signed RSA request ≥ 2× faster than kalshi-sdk (RSA)", "kalshi-sdk/rsa", "rust/rsa", "balance", 2),
        ("signed request with Ed25519 ≥ 15× faster than kalshi-sdk (RSA, its only key type)",
         "kalshi-sdk/rsa", "rust/ed25519", "balance", 15),
        ("1000-market page decoded ≥ 5× faster than kalshi-sdk's models",
         "kalshi-sdk/rsa", "rust/rsa", "decode_markets", 5),
    ]:
        w, c = ratio(name, base, op, "wall_ns"), ratio(name, base, op, "cpu_ns")
        if w is None:
            continue
        a, b = net(name, op), net(base, op)
        n = a / b if a is not None and b else None
        measured = f"wall {w:.2f}× ({fmt_us(med(name, op, 'wall_ns'))} vs {fmt_us(med(base, op, 'wall_ns'))} µs)"
        if op != "decode_markets":
            measured += f", wall less sim CPU {fmt_ratio(n)}"
        measured += f", client CPU {fmt_ratio(c)}"
        met = lambda r: "—" if r is None else ("yes" if r >= need else "**no**")
        targets.append((label, measured, f"wall {met(w)}, CPU {met(c)}"))
    emit("| target | measured | met |")
    emit("|---|---|---|")
    for label, measured, met in targets:
        emit(f"| {label} | {measured} | {met} |")
    emit("")

    report = "\n".join(lines)
    print()
    print(report)
    (out / "results.md").write_text(report + "\n")
    (out / "results.json").write_text(json.dumps({
        "cpu": cpu_model(),
        "rounds": args.rounds,
        "pin": args.pin,
        "operations": [{"op": op, "n": n, "what": what} for op, n, what in operations],
        "clients": {r.name: r.description for r in runners},
        "unsupported": unsupported,
        "medians": medians,
    }, indent=2) + "\n")
    print(f"\nwritten: {out / 'results.md'}, {out / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
