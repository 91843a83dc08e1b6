"""Instructions each HTTP stack spends per signed request besides signing it
(system python3, standard library only; valgrind's callgrind); see ``load.sh``
and BENCHMARKS.md.

    python3 tests/bench/load_instructions.py --runner target/release/examples/bench_runner \\
        --load target/release/examples/load_bench --out target/bench

Needs valgrind and the release examples ``load.sh`` builds (``cargo build
--release -p kalshi-client --example bench_runner --example load_bench
--features rsa``).

The load benchmark's shares of the signing limit drift with the machine by
several points between runs minutes apart; instruction counts barely do
(identical code: within 0.5 k a request between runs). For
each stack (``load_bench run --transport``) two runs under callgrind, of
``--short`` and ``--long`` seconds, 64 concurrent Ed25519-signed
``GET /portfolio/balance`` requests each; the difference of the two runs'
instructions outside ``Credentials::sign``, divided by the difference of
their signature counts, is what one request costs besides its signature
(start-up, key loading and the warm-up cancel out). Writes
``load-instructions.md`` and ``load-instructions.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import tempfile
from pathlib import Path

import load

# The Rust rows of the load benchmark, under the same names.
STACKS = [stack for stack in load.STACKS if stack[0] in load.RUST]
SIGN = "kalshi_client::auth::credentials::Credentials::sign"


def counts(profile: Path) -> tuple[int, int, int]:
    """(all instructions, instructions inside signing, signatures) of one
    callgrind profile: in the caller tree, the block of ``<`` lines above the
    ``*`` line of ``Credentials::sign`` counts its calls."""
    tree = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--tree=caller", "--threshold=100", str(profile)],
        capture_output=True, text=True, check=True,
    ).stdout
    # `1,234 ( 5.12%)  <  file:caller (7x) [object]`; percentages below 10 are
    # padded, and file is `???` without debug information.
    cost = r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+"
    number = lambda text: int(text.replace(",", ""))
    total, callers = None, []
    for line in tree.splitlines():
        if "PROGRAM TOTALS" in line:
            total = number(line.split()[0])
        elif re.match(cost + "<", line):
            callers.append(number(re.search(r"\((\d[\d,]*)x\)", line)[1]))
        elif found := re.match(cost + rf"\*\s+\S*:{re.escape(SIGN)} \[", line):
            if total is None or not callers:
                raise SystemExit(f"{profile}: cannot read the totals or the calls of {SIGN}")
            return total, number(found[1]), sum(callers)
        elif not line.strip():
            callers = []
    raise SystemExit(f"{profile}: no {SIGN} in the profile")


def profile(args, info, transport: str, seconds: int, work: Path) -> tuple[int, int, int]:
    key = info["keys"]["ed25519"]
    out = work / f"{transport}-{seconds}.callgrind"
    subprocess.run(
        ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", args.load, "run",
         "--base-url", info["base_url"], "--key-id", key["key_id"], "--key", key["pem"],
         "--seconds", str(seconds), "--concurrency", "64", "--transport", transport],
        capture_output=True, text=True, check=True,
    )
    return counts(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runner", required=True, help="bench_runner (serves the simulator)")
    parser.add_argument("--load", required=True, help="load_bench")
    parser.add_argument("--out", required=True)
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=6)
    parser.add_argument("--stacks", default=",".join(t for t, _ in STACKS),
                        help="which stacks, by --transport name (this client first when listed)")
    args = parser.parse_args()
    wanted = [name for name in args.stacks.split(",") if name]
    if not wanted:
        raise SystemExit("--stacks: name at least one stack")
    if unknown := set(wanted) - {t for t, _ in STACKS}:
        raise SystemExit(f"--stacks: unknown {', '.join(sorted(unknown))}")
    out = Path(args.out)
    server = subprocess.Popen(
        [args.runner, "serve", "--dir", str(out / "load-instructions-run"), "--orders", "0"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    rows = []
    try:
        info = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory() as work:
            for transport, name in [s for s in STACKS if s[0] in wanted]:
                short = profile(args, info, transport, args.short, Path(work))
                long = profile(args, info, transport, args.long, Path(work))
                requests = long[2] - short[2]
                if requests <= 0:
                    raise SystemExit(f"{transport}: the {args.long} s run signed no more than the "
                                     f"{args.short} s one")
                outside = (long[0] - long[1]) - (short[0] - short[1])
                rows.append({"transport": transport, "stack": name, "requests": requests,
                             "besides_signing": outside / requests,
                             "signing": (long[1] - short[1]) / requests})
                print(json.dumps(rows[-1]), flush=True)
    finally:
        server.stdin.close()
        server.wait(timeout=10)
    (out / "load-instructions.json").write_text(json.dumps(rows, indent=2))
    # Relative to the first stack measured: this client, unless --stacks left it out.
    client = rows[0]["besides_signing"]
    lines = [f"| stack | instructions per request besides signing | of {rows[0]['stack']}'s | requests compared |",
             "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['stack']} | {r['besides_signing'] / 1000:,.1f} k "
                     f"| {100 * r['besides_signing'] / client:.0f} % | {r['requests']:,} |")
    lines.append(f"\nAn Ed25519 signature: {rows[0]['signing'] / 1000:,.1f} k instructions.")
    (out / "load-instructions.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
