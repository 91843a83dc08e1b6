"""Writes a fresh Ed25519 API key for one Schemathesis run.

usage: python keygen.py DIR

Creates DIR/private.pem (PKCS#8, mode 0600), which the hooks sign with, and
DIR/public.pem (SPKI), which kalshi-sim is given with `--public-key`.
"""

import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    directory = sys.argv[1]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    private_path = os.path.join(directory, "private.pem")
    if os.path.exists(private_path):
        os.remove(private_path)
    fd = os.open(private_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(private)
    with open(os.path.join(directory, "public.pem"), "wb") as file:
        file.write(public)


if __name__ == "__main__":
    main()
