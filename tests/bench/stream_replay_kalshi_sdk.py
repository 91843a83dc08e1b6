"""Replays recorded order book frames through kalshi-sdk 22.4.0 (see BENCHMARKS.md).

    python stream_replay_kalshi_sdk.py FRAMES.jsonl ROUNDS

Each round decodes and applies every frame the way kalshi-sdk's WebSocket
receive loop does (`KalshiWebSocket._handle_raw`): `json.loads`, the
`SequenceTracker` fast path, `model_validate` into its pydantic message
models and the `OrderbookManager`'s in-place apply. Handing the message to a
consumer queue is left out, as it is on the Rust side. Prints one JSON
object: the frame count, the seconds of each round, and the final books
(so the two implementations can be checked against each other).
"""

import json
import sys
import time
from decimal import Decimal

from kalshi.ws.models.orderbook_delta import OrderbookDeltaMessage, OrderbookSnapshotMessage
from kalshi.ws.orderbook import OrderbookManager
from kalshi.ws.sequence import SequenceTracker


def replay(frames):
    books, tracker = OrderbookManager(), SequenceTracker()
    started = time.perf_counter()
    for raw in frames:
        data = json.loads(raw)
        sid, seq, kind = data.get("sid"), data.get("seq"), data.get("type", "")
        if sid is not None and seq is not None:
            ok, gap = tracker.track_sync(sid, seq, kind)
            if gap is not None or not ok:
                raise SystemExit(f"the recording has a gap or a repeat at sid {sid} seq {seq}")
        if kind == "orderbook_snapshot":
            snapshot = OrderbookSnapshotMessage.model_validate(data)
            books._apply_snapshot_inplace(snapshot, sid=snapshot.sid)
        elif kind == "orderbook_delta":
            books._apply_delta_inplace(OrderbookDeltaMessage.model_validate(data))
    return time.perf_counter() - started, books


def levels(side):
    return [[format(level.price.normalize(), "f"), format(level.quantity.normalize(), "f")] for level in side]


def accepted(raw):
    """kalshi-sdk 22.4.0 requires both sides of a snapshot, which Kalshi's
    document says are left out when empty (a new market's first snapshot):
    such snapshots get empty lists, before any timing."""
    data = json.loads(raw)
    if data.get("type") != "orderbook_snapshot":
        return raw
    data["msg"].setdefault("yes_dollars_fp", [])
    data["msg"].setdefault("no_dollars_fp", [])
    return json.dumps(data, separators=(",", ":"))


def main():
    path, rounds = sys.argv[1], int(sys.argv[2])
    with open(path, encoding="utf-8") as file:
        frames = [accepted(raw) for raw in file.read().splitlines()]
    seconds = []
    books = None
    for _ in range(rounds):
        elapsed, books = replay(frames)
        seconds.append(elapsed)
    markets = sorted({json.loads(f)["msg"]["market_ticker"] for f in frames})
    final = {}
    for market in markets:
        book = books.get(market)
        final[market] = {"yes": levels(book.yes), "no": levels(book.no)}
    print(json.dumps({"frames": len(frames), "seconds": seconds, "books": final}))


if __name__ == "__main__":
    main()
