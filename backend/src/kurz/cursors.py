"""Page cursors that tell clients nothing: encrypted and authenticated, bound to one list.

A cursor holds the position of a page's last item (internal ids and times), sealed with
AES-GCM under a key derived from the secret key, with the list's name and org as associated
data: a client can neither read it nor forge one, nor use one list's cursor on another.
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from .errors import APIError, validation_error
from .services import get_settings

NONCE_BYTES = 12


def _cipher() -> AESGCM:
    key = hmac.new(get_settings().secret_key.encode(), b"kurz cursor key", hashlib.sha256).digest()
    return AESGCM(key)


def seal_cursor(kind: str, org_id: str, position: list[Any]) -> str:
    """``position`` (JSON values) as a cursor of the ``kind`` list of the org."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = _cipher().encrypt(nonce, json.dumps(position).encode(), f"{kind}|{org_id}".encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def open_cursor(kind: str, org_id: str, cursor: str) -> list[Any]:
    """The position a cursor of ``seal_cursor`` holds; 400 INVALID_CURSOR for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        opened = _cipher().decrypt(
            raw[:NONCE_BYTES], raw[NONCE_BYTES:], f"{kind}|{org_id}".encode()
        )
        position = json.loads(opened)
        if not isinstance(position, list):
            raise ValueError(cursor)
        return position
    except (binascii.Error, InvalidTag, ValueError):
        raise invalid_cursor() from None


def open_id_cursor(kind: str, owner: str, cursor: str) -> int:
    """The one id a cursor sealed as ``[id]`` holds (a list paged by internal id)."""
    position = open_cursor(kind, owner, cursor)
    if len(position) != 1 or not isinstance(position[0], int):
        raise invalid_cursor()
    return position[0]


def invalid_cursor() -> APIError:
    return validation_error("cursor", "Not a cursor from this list.", "INVALID_CURSOR")
