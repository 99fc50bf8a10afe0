"""Visitor hashes: unique counts without storing IP addresses.

A visitor is SHA-256(salt + IP + user agent), cut to 128 bits (ample against collisions among
one link's visitors of one day). The salt is random per UTC day, stored in ``visitor_salts`` so
that every instance hashes alike, and deleted once its day is over: after that, nobody (not even
the database's owner) can tell which IP a hash came from. The price is that a visitor returning
on another day cannot be recognised, so unique visitors over a window are the sum of each day's.
"""

import datetime
import hashlib
import secrets

from databases import Database

from ..models.clicks import select_visitor_salt


class VisitorHasher:
    """Hashes visitors with the salt of their day, fetched once per day and instance."""

    def __init__(self) -> None:
        self._salts: dict[datetime.date, bytes] = {}

    async def load_salts(self, db: Database, days: set[datetime.date]) -> None:
        for day in sorted(days - self._salts.keys()):
            self._salts[day] = await select_visitor_salt(db, day, secrets.token_bytes(32))

    def forget_before(self, day: datetime.date) -> None:
        """Drop cached salts of days whose stored salt the retention deleted."""
        for old in [old for old in self._salts if old < day]:
            del self._salts[old]

    def hash(self, day: datetime.date, client_ip: str, user_agent: str) -> bytes:
        """The salts of ``day`` must have been loaded."""
        data = self._salts[day] + f"\0{client_ip}\0{user_agent}".encode(errors="replace")
        return hashlib.sha256(data).digest()[:16]
