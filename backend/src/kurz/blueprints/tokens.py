"""Org API tokens: ``Authorization: Bearer kurz_...`` acts inside its org with its role.

The secret is ``kurz_`` and 32 random bytes (URL-safe base64); it is answered once, when the
token is made, and only its SHA-256 is stored. Tokens are ``member`` or ``admin``, never owner.
Every token belongs to a person, its creator (the creator of the token that made it, if a token
did): it acts with at most that person's current role, and stops working when they leave.
"""

from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, StringConstraints
from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..audit import record_audit
from ..auth import TOKEN_PREFIX, hash_secret, new_secret, require_org_role
from ..errors import APIError
from ..models.tokens import delete_token, insert_token, select_tokens
from ..schemas import NOT_BLANK, Answer, Input, Timestamp, no_content, problems
from ..services import get_db

blueprint = Blueprint("tokens", __name__)
TokenRole = Literal["member", "admin"]


class TokenIn(Input):
    name: Annotated[
        str,
        StringConstraints(strip_whitespace=True, min_length=1, max_length=100, pattern=NOT_BLANK),
    ]
    role: TokenRole


class TokenOut(Answer):
    id: str
    name: str
    role: TokenRole
    created_at: Timestamp
    last_used_at: Timestamp | None


class NewToken(BaseModel):
    """The new token; ``token`` is the secret, shown this once."""

    id: str
    name: str
    role: TokenRole
    token: str
    created_at: Timestamp


class TokenList(BaseModel):
    items: list[TokenOut]


@blueprint.post("/api/v1/orgs/<org_id>/tokens")
@validate_request(TokenIn)
@validate_response(NewToken, 201)
@problems(400, 401, 403, 404)
async def create_token(org_id: str, data: TokenIn) -> tuple[NewToken, int, dict[str, Any]]:
    """Make an API token (admin). Store the ``token`` now: it cannot be shown again.

    The token acts with at most the current role of the person who made it (or who made the
    token that made it), and stops working (401) once that person leaves the org.
    """
    caller = await require_org_role(org_id, "admin")
    secret = new_secret(TOKEN_PREFIX)
    db = get_db()
    async with db.transaction():
        token = await insert_token(
            db, caller.org_id, data.name, data.role, hash_secret(secret), caller.author_id
        )
        await record_audit(
            caller, "token.create", token.id, {"name": token.name, "role": token.role}
        )
    body = NewToken(
        id=token.id, name=token.name, role=data.role, token=secret, created_at=token.created_at
    )
    return body, 201, {"Cache-Control": "no-store"}


@blueprint.get("/api/v1/orgs/<org_id>/tokens")
@validate_response(TokenList, 200)
@problems(401, 403, 404)
async def list_tokens(org_id: str) -> TokenList:
    """The org's tokens, newest first, without their secrets (admin)."""
    caller = await require_org_role(org_id, "admin")
    return TokenList(
        items=[
            TokenOut.model_validate(token)
            for token in await select_tokens(get_db(), caller.org_id)
        ]
    )


@blueprint.delete("/api/v1/orgs/<org_id>/tokens/<token_id>")
@no_content
@problems(401, 403, 404)
async def revoke_token(org_id: str, token_id: str) -> tuple[str, int]:
    """Revoke a token (admin); requests with it answer 401 from now on."""
    caller = await require_org_role(org_id, "admin")
    try:
        canonical_id: str | None = str(UUID(token_id))
    except ValueError:
        canonical_id = None
    db = get_db()
    async with db.transaction():
        token = canonical_id and await delete_token(db, caller.org_id, canonical_id)
        if not token:
            raise APIError(404, "TOKEN_NOT_FOUND", "No such token in this organization.")
        await record_audit(
            caller, "token.revoke", token.id, {"name": token.name, "role": token.role}
        )
    return "", 204
