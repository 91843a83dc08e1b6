"""Concurrent signed requests through a Python SDK, as concurrently as it
documents (see ``load.py`` and ``BENCHMARKS.md``).

- ``kalshi-sdk``: its ``AsyncKalshiClient`` (httpx.AsyncClient), ``--concurrency``
  asyncio tasks each awaiting ``client.portfolio.balance()`` in a loop.
- ``official`` (``kalshi-python-sync``): synchronous only, so
  ``--concurrency`` threads sharing one ``KalshiClient`` (urllib3's pool),
  each calling ``client.get_balance()`` in a loop.

After a one-second warm-up, counts the calls completed in ``--seconds`` and
prints one JSON line like ``load_bench run``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import threading
import time


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sdk", choices=["kalshi-sdk", "official"], required=True)
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--key-id", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=64)
    return parser.parse_args()


class Counter:
    def __init__(self) -> None:
        self.counting = False
        self.stop = False
        self.done = 0
        self.failed = 0
        self.lock = threading.Lock()

    def record(self, ok: bool) -> None:
        if self.counting:
            with self.lock:
                if ok:
                    self.done += 1
                else:
                    self.failed += 1


def report(counter: Counter, seconds: float, cpu: float, args: argparse.Namespace) -> None:
    print(json.dumps({
        "requests": counter.done,
        "errors": counter.failed,
        "seconds": seconds,
        "per_second": counter.done / seconds,
        "cpu_seconds": cpu,
        "concurrency": args.concurrency,
    }), flush=True)


async def kalshi_sdk(args: argparse.Namespace) -> None:
    from kalshi import AsyncKalshiClient

    client = AsyncKalshiClient(key_id=args.key_id, private_key_path=args.key, base_url=args.base_url)
    counter = Counter()

    async def worker() -> None:
        while not counter.stop:
            try:
                await client.portfolio.balance()
                counter.record(True)
            except Exception:
                counter.record(False)

    tasks = [asyncio.create_task(worker()) for _ in range(args.concurrency)]
    await asyncio.sleep(1)
    cpu, started = time.process_time(), time.perf_counter()
    counter.counting = True
    await asyncio.sleep(args.seconds)
    counter.counting = False
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    counter.stop = True
    await asyncio.gather(*tasks)
    report(counter, elapsed, cpu, args)


def official(args: argparse.Namespace) -> None:
    from kalshi_python_sync import Configuration, KalshiClient

    config = Configuration(host=args.base_url)
    with open(args.key) as f:
        config.private_key_pem = f.read()
    config.api_key_id = args.key_id
    # urllib3's pool holds connection_pool_maxsize connections (default 4);
    # one per thread, as its documentation suggests for threaded use.
    config.connection_pool_maxsize = args.concurrency
    client = KalshiClient(config)
    counter = Counter()

    def worker() -> None:
        while not counter.stop:
            try:
                client.get_balance()
                counter.record(True)
            except Exception:
                counter.record(False)

    threads = [threading.Thread(target=worker) for _ in range(args.concurrency)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    cpu, started = time.process_time(), time.perf_counter()
    counter.counting = True
    time.sleep(args.seconds)
    counter.counting = False
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    counter.stop = True
    for thread in threads:
        thread.join()
    report(counter, elapsed, cpu, args)


def main() -> None:
    args = arguments()
    if args.sdk == "kalshi-sdk":
        asyncio.run(kalshi_sdk(args))
    else:
        official(args)


if __name__ == "__main__":
    main()
