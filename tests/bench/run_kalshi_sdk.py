"""Runner for ``kalshi-sdk`` (TexasCoding/kalshi-python-sdk), the leading
community SDK on PyPI, pinned in ``requirements-kalshi-sdk.txt``.

Configured the documented way: ``KalshiClient(key_id=..., private_key_path=...,
base_url=...)`` (loopback URLs are accepted without ``allow_unknown_host``).
The SDK signs only with RSA keys; with an Ed25519 key it refuses to build
the client, which is reported to the driver as "not ready".

Protocol: see ``protocol.py``.
"""

from __future__ import annotations

import json
import uuid
from importlib.metadata import version

import protocol
from kalshi import KalshiClient
from kalshi.models.common import Page
from kalshi.models.markets import Market
from kalshi.models.orders import CreateOrderV2Request


def main() -> None:
    args = protocol.arguments()
    try:
        client = KalshiClient(
            key_id=args.key_id, private_key_path=args.key, base_url=args.base_url
        )
    except Exception as error:  # e.g. KalshiAuthError for an Ed25519 key
        protocol.not_ready(error)
        return
    with open(args.markets, "rb") as f:
        markets_body = f.read()
    auth = client._auth  # the KalshiAuth the client signs every request with

    def orders() -> None:
        page = client.orders.list(status="resting", limit=100)
        assert len(page.items) > 0

    def create_cancel() -> None:
        placed = client.orders.create_v2(
            request=CreateOrderV2Request(
                ticker=args.ticker,
                client_order_id=str(uuid.uuid4()),
                side="bid",
                count="1",
                price="0.03",
                time_in_force="good_till_canceled",
                self_trade_prevention_type="taker_at_cross",
            )
        )
        client.orders.cancel_v2(placed.order_id)

    def decode_markets() -> None:
        # Exactly what `MarketsResource.list` does with a response body:
        # httpx's `Response.json()` (json.loads) then `SyncResource._list`.
        data = json.loads(markets_body)
        raw_items = data.get("markets") or []
        items = [Market.model_validate(item) for item in raw_items]
        cursor = data.get("cursor")
        page = Page(items=items, cursor=cursor if cursor else None)
        assert len(page.items) == 1000

    ops = {
        "status": lambda: client.exchange.status(),
        "balance": lambda: client.portfolio.balance(),
        "orders": orders,
        "create_cancel": create_cancel,
        "sign": lambda: auth.sign_request("GET", protocol.BALANCE_PATH),
        "decode_markets": decode_markets,
    }
    protocol.serve(ops, {"client": f"kalshi-sdk {version('kalshi-sdk')}"})


if __name__ == "__main__":
    main()
