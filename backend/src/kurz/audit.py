"""``record_audit``: append what a caller changed in an org to its audit log.

Call it inside the same ``async with db.transaction():`` as the change it records, so that the
change and its record commit (or roll back) together: ``databases`` gives each task one
connection, so the insert joins the caller's open transaction.
"""

import hashlib
import hmac
from typing import Any

from quart import has_request_context, request

from .auth import Caller
from .models.audit import insert_audit
from .services import get_db, get_settings


def _ip_salt() -> bytes:
    # Derived from the signing key, so the salt is secret without being another setting.
    return hmac.new(
        get_settings().secret_key.encode(), b"kurz audit ip salt", hashlib.sha256
    ).digest()


def ip_hash(ip: str) -> str:
    """A salted digest of the client address: lets entries be correlated, never reversed."""
    return hashlib.sha256(ip.encode() + _ip_salt()).hexdigest()


async def record_audit(
    caller: Caller, action: str, target: str, detail: dict[str, Any] | None = None
) -> None:
    """Record ``action`` (e.g. ``"link.delete"``) on ``target`` (e.g. a slug) by ``caller``."""
    await record_audits(caller, action, [(target, detail or {})])


async def record_audits(
    caller: Caller, action: str, entries: list[tuple[str, dict[str, Any]]]
) -> None:
    """Record ``action`` once per (target, detail) of ``entries``, as for ``record_audit``."""
    if not entries:
        return
    remote = request.remote_addr if has_request_context() else None
    await insert_audit(
        get_db(),
        org_id=caller.org_id,
        actor_id=caller.user_id,
        token_id=caller.token_id,
        action=action,
        entries=entries,
        ip_hash=ip_hash(remote) if remote else None,
    )
