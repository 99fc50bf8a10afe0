"""Secrets kept encrypted at rest, so that a copy of the database alone gives none of them away.

AES-GCM under a key per purpose derived from ``KURZ_SECRET_KEY``. ``context`` (associated data)
binds a sealed value to what owns it: copied onto another row, it does not open.
"""

import base64
import binascii
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12


class UnreadableSecret(Exception):  # noqa: N818 (named for what it means to callers)
    """A sealed value that does not open: sealed under another ``KURZ_SECRET_KEY``, for another
    owner, or damaged."""


def _cipher(secret_key: str, purpose: str) -> AESGCM:
    label = f"kurz {purpose}".encode()
    return AESGCM(hmac.new(secret_key.encode(), label, hashlib.sha256).digest())


def seal(secret_key: str, purpose: str, secret: str, context: str = "") -> str:
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher(secret_key, purpose).encrypt(nonce, secret.encode(), context.encode())
    return base64.b64encode(nonce + sealed).decode()


def unseal(secret_key: str, purpose: str, sealed: str, context: str = "") -> str:
    try:
        raw = base64.b64decode(sealed, validate=True)
        opened = _cipher(secret_key, purpose).decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()
        )
        return opened.decode()
    except (binascii.Error, InvalidTag, ValueError):
        raise UnreadableSecret(purpose) from None
