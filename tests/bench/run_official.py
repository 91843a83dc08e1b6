"""Runner for Kalshi's official synchronous SDK, ``kalshi-python-sync``,
pinned in ``requirements-official.txt``.

Configured as its README shows: ``Configuration(host=...)`` with
``api_key_id`` and ``private_key_pem`` set on it, then ``KalshiClient(config)``,
whose methods forward to the generated API classes. It signs with RSA and
Ed25519 keys alike.

Protocol: see ``protocol.py``.
"""

from __future__ import annotations

import uuid
from importlib.metadata import version

import protocol
from kalshi_python_sync import Configuration, KalshiClient


def main() -> None:
    args = protocol.arguments()
    try:
        config = Configuration(host=args.base_url)
        with open(args.key) as f:
            config.private_key_pem = f.read()
        config.api_key_id = args.key_id
        client = KalshiClient(config)
    except Exception as error:
        protocol.not_ready(error)
        return
    with open(args.markets, "rb") as f:
        markets_body = f.read()

    def orders() -> None:
        page = client.get_orders(status="resting", limit=100)
        assert len(page.orders) > 0

    def create_cancel() -> None:
        placed = client.create_order_v2(
            ticker=args.ticker,
            client_order_id=str(uuid.uuid4()),
            side="bid",
            count="1.00",
            price="0.0300",
            time_in_force="good_till_canceled",
            self_trade_prevention_type="taker_at_cross",
        )
        client.cancel_order_v2(order_id=placed.order_id)

    def decode_markets() -> None:
        # What `ApiClient.response_deserialize` does with a 200 body:
        # decode the bytes, then `deserialize` into the response model.
        text = markets_body.decode("utf-8")
        page = client.deserialize(text, "GetMarketsResponse", "application/json")
        assert len(page.markets) == 1000

    ops = {
        "status": lambda: client.get_exchange_status(),
        "balance": lambda: client.get_balance(),
        "orders": orders,
        "create_cancel": create_cancel,
        "sign": lambda: client.kalshi_auth.create_auth_headers("GET", protocol.BALANCE_PATH),
        "decode_markets": decode_markets,
    }
    protocol.serve(ops, {"client": f"kalshi-python-sync {version('kalshi-python-sync')}"})


if __name__ == "__main__":
    main()
