"""Schemathesis hooks for fuzzing kalshi-sim (`cargo xtask schemathesis`).

Loaded by Schemathesis through `SCHEMATHESIS_HOOKS`. Three pieces:

* `KalshiSigner` signs every request like Kalshi does. It is a `requests`
  auth, so it runs on the prepared request: the method and the
  percent-encoded path it signs are exactly the ones sent (path with
  `/trade-api/v2`, without the query), after Schemathesis has filled in
  path parameters. Reads `KALSHI_API_KEY_ID` and `KALSHI_PRIVATE_KEY_PATH`
  (an Ed25519 or RSA private key, PKCS#8 PEM).
* `undocumented_status_is_kalshi_error` replaces Schemathesis's
  `status_code_conformance`: a status the spec does not list for the
  operation is accepted only with Kalshi's error body
  `{"code": str, "message": str}`.
* `not_implemented` fails on the simulator's placeholder answer
  `{"code": "not_implemented"}`: every operation of the spec must be served.
"""

from __future__ import annotations

import base64
import json
import os
import time
from urllib.parse import urlsplit

import requests.auth
import schemathesis
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

#: The simulator's answer for an operation it has no handler for.
NOT_IMPLEMENTED = "not_implemented"


class KalshiSigner(requests.auth.AuthBase):
    """Adds `KALSHI-ACCESS-*` headers signed over `timestamp + METHOD + path`."""

    def __init__(self, key_id: str, private_key_pem: bytes) -> None:
        self.key_id = key_id
        self.key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(self.key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
            raise TypeError("KALSHI_PRIVATE_KEY_PATH must hold an Ed25519 or RSA key")

    def sign(self, message: bytes) -> bytes:
        if isinstance(self.key, ed25519.Ed25519PrivateKey):
            return self.key.sign(message)
        return self.key.sign(
            message,
            padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
            hashes.SHA256(),
        )

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        timestamp = str(int(time.time() * 1000))
        # `path_url` is what goes on the request line: encoded path and query.
        path = urlsplit(request.path_url).path
        message = f"{timestamp}{request.method.upper()}{path}".encode()
        request.headers["KALSHI-ACCESS-KEY"] = self.key_id
        request.headers["KALSHI-ACCESS-TIMESTAMP"] = timestamp
        request.headers["KALSHI-ACCESS-SIGNATURE"] = base64.b64encode(self.sign(message)).decode()
        return request


def _signer_from_env() -> KalshiSigner:
    key_id = os.environ.get("KALSHI_API_KEY_ID")
    key_path = os.environ.get("KALSHI_PRIVATE_KEY_PATH")
    if not key_id or not key_path:
        raise RuntimeError("set KALSHI_API_KEY_ID and KALSHI_PRIVATE_KEY_PATH to sign requests")
    with open(key_path, "rb") as file:
        return KalshiSigner(key_id, file.read())


# Global auth: applied to every operation (Kalshi ignores the headers on
# public endpoints), after every other part of the request is final.
schemathesis.auth.set_from_requests(_signer_from_env())


def _json_body(response: schemathesis.Response) -> object:
    try:
        return json.loads(response.content)
    except (ValueError, UnicodeDecodeError):
        return None


def _excerpt(response: schemathesis.Response, limit: int = 300) -> str:
    if not response.content:
        return "(empty body)"
    text = response.content.decode("utf-8", errors="replace")
    return text if len(text) <= limit else text[:limit] + "..."


@schemathesis.check
def undocumented_status_is_kalshi_error(ctx, response, case):
    """A status missing from the operation's responses needs Kalshi's error body."""
    if case.operation.responses.find_by_status_code(response.status_code) is not None:
        return None
    body = _json_body(response)
    if (
        isinstance(body, dict)
        and isinstance(body.get("code"), str)
        and isinstance(body.get("message"), str)
    ):
        return None
    documented = ", ".join(case.operation.responses.status_codes)
    raise AssertionError(
        f"status {response.status_code} is not documented for {case.operation.label} "
        f"(documented: {documented}) and its body is not Kalshi's error "
        f'{{"code": str, "message": str}}: {_excerpt(response)}'
    )


@schemathesis.check
def not_implemented(ctx, response, case):
    """The simulator must serve every operation of the spec."""
    body = _json_body(response)
    if isinstance(body, dict) and body.get("code") == NOT_IMPLEMENTED:
        raise AssertionError(
            f"the simulator does not implement {case.operation.label}: "
            f"{response.status_code} {_excerpt(response)}"
        )
    return None
