"""Time-based one-time passwords (RFC 6238) and recovery codes.

A code is accepted for its 30-second step and the one before and after it (clocks drift);
the caller records the step it matched so that no code works twice. Secrets are stored sealed
(encrypted under ``KURZ_SECRET_KEY``, bound to their user): a copy of the database alone gives
no one the codes.
"""

import hashlib
import hmac
import logging
import re
import secrets
import time

import pyotp
import segno
from quart import current_app

from .sealing import UnreadableSecret, seal, unseal

log = logging.getLogger(__name__)

ISSUER = "Kurz"
STEP_SECONDS = 30
RECOVERY_CODES = 10
_CODE = re.compile(r"\d{6}")
SEALING_PURPOSE = "totp secrets"


def clock() -> float:
    """Now, in Unix seconds (tests replace it to choose the time)."""
    return time.time()


def new_secret() -> str:
    return pyotp.random_base32()


def seal_secret(secret: str, user_id: str) -> str:
    """The secret as stored."""
    return seal(current_app.config["SECRET_KEY"], SEALING_PURPOSE, secret, user_id)


def open_secret(sealed: str, user_id: str) -> str | None:
    """The stored secret in clear; None when it cannot be read (``KURZ_SECRET_KEY`` changed:
    the user then logs in with a recovery code and sets two-factor up again)."""
    try:
        return unseal(current_app.config["SECRET_KEY"], SEALING_PURPOSE, sealed, user_id)
    except UnreadableSecret:
        log.warning("TOTP secret of user %s unreadable (KURZ_SECRET_KEY changed?)", user_id)
        return None


def otpauth_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> bytes:
    return segno.make(uri, error="m").svg_inline(scale=5).encode()


def matching_step(secret: str, code: str) -> int | None:
    """The time-step whose code ``code`` is (now, or one step either side), else None."""
    code = code.strip().replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    totp = pyotp.TOTP(secret)
    now = int(clock() // STEP_SECONDS)
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def new_recovery_codes() -> list[str]:
    """Ten codes of 10 hex digits, grouped for reading: ``3f9a1-c04be``."""
    codes = (secrets.token_hex(5) for _ in range(RECOVERY_CODES))
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def hash_recovery_code(code: str) -> str:
    """Codes are random (40 bits), so a plain digest of their canonical form will do."""
    canonical = re.sub(r"[\s-]", "", code).lower()
    return hashlib.sha256(canonical.encode()).hexdigest()
