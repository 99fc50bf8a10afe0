"""Password rules (length, strength) and bcrypt hashing off the event loop, bounded.

bcrypt is made to be slow: a few hundred logins at once would queue for seconds and starve the
worker's threads. Each worker runs at most one hash per CPU at a time and lets a few more wait;
any beyond that are answered 503 ``BUSY`` at once, and every other route stays unaffected.
"""

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cache

import bcrypt
from quart import has_app_context
from zxcvbn import zxcvbn

from .errors import APIError, validation_error
from .services import current_services

BCRYPT_COST = 12
# Link passwords are checked on a public path anyone can post to, so a cheaper hash keeps
# guessers from turning it into a CPU sink (per-address tries are limited anyway).
LINK_PASSWORD_COST = 8
LINK_PASSWORD_MIN_BYTES = 4
MIN_CHARACTERS = 8
MAX_BYTES = 72  # bcrypt reads no further; longer passwords would be silently cut
# zxcvbn's estimate of the guesses a password needs: at least those of 8 random characters
# (10^8 to zxcvbn, which no 8-character password beats; its score 3 would demand 9 or more).
MIN_GUESSES = 10**8
# Hashes that may wait per CPU: at cost 12, about two seconds of waiting at most.
WAITING_PER_CPU = 8


@cache
def _dummy_hash(cost: int) -> bytes:
    """Verified against when the email is unknown, so that a login costs one bcrypt either way
    and its timing does not reveal whether an account exists. Made at the current cost, so the
    two stay equally slow; its password is random and forgotten, so nothing ever matches it.
    """
    return bcrypt.hashpw(secrets.token_urlsafe(32).encode(), bcrypt.gensalt(cost))


def check_new_password(password: str, field: str, user_inputs: list[str]) -> None:
    """Refuse a password that is too short, too long for bcrypt, or too easy to guess.

    ``user_inputs`` (email, name) count as known to an attacker. Raises a 400 naming ``field``.
    """
    if len(password) < MIN_CHARACTERS:
        raise validation_error(
            field, f"Use at least {MIN_CHARACTERS} characters.", "PASSWORD_TOO_SHORT"
        )
    if len(password.encode()) > MAX_BYTES:
        raise validation_error(
            field, f"Use at most {MAX_BYTES} bytes (UTF-8).", "PASSWORD_TOO_LONG"
        )
    result = zxcvbn(password, user_inputs=[value for value in user_inputs if value])
    if result["guesses"] < MIN_GUESSES:
        hint = result["feedback"]["warning"] or "Add more words or characters."
        raise validation_error(
            field, f"This password is too easy to guess. {hint}", "WEAK_PASSWORD"
        )


class HashingGate:
    """At most one hash per CPU at a time and a few more in line; 503 BUSY beyond."""

    def __init__(self) -> None:
        slots = len(os.sched_getaffinity(0))
        self.limit = slots * (1 + WAITING_PER_CPU)
        self.admitted = 0
        self._semaphore = asyncio.Semaphore(slots)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self.admitted >= self.limit:
            raise APIError(
                503,
                "BUSY",
                "Too many sign-ins at once; try again in a moment.",
                headers={"Retry-After": "1"},
            )
        self.admitted += 1
        try:
            async with self._semaphore:
                yield
        finally:
            self.admitted -= 1


@asynccontextmanager
async def _hashing() -> AsyncIterator[None]:
    gate = current_services().hashing if has_app_context() else None
    if gate is None:
        yield
    else:
        async with gate.slot():
            yield


async def hash_password(password: str, cost: int | None = None) -> str:
    """bcrypt in a worker thread; ``cost`` defaults to that of account passwords."""
    salt = bcrypt.gensalt(BCRYPT_COST if cost is None else cost)
    async with _hashing():
        hashed = await asyncio.to_thread(bcrypt.hashpw, password.encode(), salt)
    return hashed.decode()


def check_link_password(password: str, field: str = "password") -> None:
    """A link password is shared with its visitors, so only bcrypt's bounds apply."""
    size = len(password.encode())
    if size < LINK_PASSWORD_MIN_BYTES:
        raise validation_error(
            field, f"Use at least {LINK_PASSWORD_MIN_BYTES} bytes.", "PASSWORD_TOO_SHORT"
        )
    if size > MAX_BYTES:
        raise validation_error(
            field, f"Use at most {MAX_BYTES} bytes (UTF-8).", "PASSWORD_TOO_LONG"
        )


async def verify_password(password: str, password_hash: str | None) -> bool:
    """Whether ``password`` matches; with no hash (unknown user) it still spends the time."""
    candidate = password.encode()
    if len(candidate) > MAX_BYTES:  # can never have been set; bcrypt would refuse it
        candidate, password_hash = candidate[:MAX_BYTES], None
    async with _hashing():
        if password_hash is None:
            expected = await asyncio.to_thread(_dummy_hash, BCRYPT_COST)
        else:
            expected = password_hash.encode()
        matches = await asyncio.to_thread(bcrypt.checkpw, candidate, expected)
    return matches and password_hash is not None
