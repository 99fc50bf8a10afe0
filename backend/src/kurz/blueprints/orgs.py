"""Organisations: create, list, read, rename, delete."""

from typing import Annotated

from databases import Database
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..audit import record_audit
from ..auth import Caller, recheck_role, require_org_role, require_user, user_required
from ..errors import org_not_found
from ..models.orgs import (
    Org,
    delete_org,
    insert_org,
    lock_org,
    select_memberships,
    select_org,
    update_org_name,
    update_org_security,
)
from ..schemas import Input, Role, Timestamp, no_content, problems
from ..services import get_db

blueprint = Blueprint("orgs", __name__)

OrgName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class OrgIn(Input):
    name: OrgName


Domain = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        to_lower=True,
        max_length=253,
        pattern=r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$",
    ),
]


class OrgChange(Input):
    """Only the fields to change; null is no value for any of them."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    name: OrgName = None  # type: ignore[assignment]
    require_2fa: bool = Field(  # type: ignore[assignment]
        None, description="Owner: members without two-factor get 403 on this org's routes."
    )
    sso_domains: list[Domain] = Field(
        None,  # type: ignore[arg-type]
        max_length=50,
        description="Owner: who signs in by SSO with an email of these domains joins as member.",
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> "OrgChange":
        if not self.model_fields_set:
            raise ValueError("Send name, require_2fa or sso_domains.")
        return self


class OrgSummary(BaseModel):
    id: str
    name: str
    role: Role


class OrgList(BaseModel):
    items: list[OrgSummary]


class OrgOut(OrgSummary):
    created_at: Timestamp
    require_2fa: bool
    sso_domains: list[str]


@blueprint.post("/api/v1/orgs")
@user_required
@validate_request(OrgIn)
@validate_response(OrgSummary, 201)
@problems(400, 401, 403)
async def create_org(data: OrgIn) -> tuple[OrgSummary, int]:
    """Create an org; the caller becomes its owner (API tokens cannot create orgs)."""
    user = await require_user()
    db = get_db()
    async with db.transaction():
        org = await insert_org(db, data.name, user.id)
        await record_audit(Caller(org.id, "owner", user=user), "org.create", org.name)
    return OrgSummary(id=org.id, name=org.name, role="owner"), 201


@blueprint.get("/api/v1/orgs")
@validate_response(OrgList, 200)
@problems(401)
async def list_orgs() -> OrgList:
    """The orgs the logged-in user belongs to, with their role in each."""
    user = await require_user()
    orgs = await select_memberships(get_db(), user.id)
    return OrgList(items=[OrgSummary(id=org.id, name=org.name, role=org.role) for org in orgs])


async def _existing_org(db: Database, org_id: str) -> Org:
    """The org, or 404 when another request deleted it since the caller was authorised."""
    org = await select_org(db, org_id)
    if org is None:
        raise org_not_found()
    return org


def _org_out(org: Org, role: Role) -> OrgOut:
    return OrgOut(
        id=org.id,
        name=org.name,
        role=role,
        created_at=org.created_at,
        require_2fa=org.require_2fa,
        sso_domains=org.sso_domains,
    )


@blueprint.get("/api/v1/orgs/<org_id>")
@validate_response(OrgOut, 200)
@problems(401, 404)
async def get_org(org_id: str) -> OrgOut:
    """The org, with the caller's role in it (a token's role for a token)."""
    caller = await require_org_role(org_id)
    return _org_out(await _existing_org(get_db(), caller.org_id), caller.role)


@blueprint.patch("/api/v1/orgs/<org_id>")
@validate_request(OrgChange)
@validate_response(OrgOut, 200)
@problems(400, 401, 403, 404)
async def change_org(org_id: str, data: OrgChange) -> OrgOut:
    """Rename the org (admin); turn ``require_2fa`` on or off and set ``sso_domains`` (owner).

    Fields left out stay as they are.
    """
    security = data.require_2fa is not None or data.sso_domains is not None
    caller = await require_org_role(org_id, "owner" if security else "admin")
    db = get_db()
    async with db.transaction():
        await lock_org(db, caller.org_id)  # a deletion meanwhile then finds it changed, or not
        caller = await recheck_role(caller, "owner" if security else "admin")
        org = before = await _existing_org(db, caller.org_id)
        if data.name is not None:
            org = await update_org_name(db, caller.org_id, data.name)
            await record_audit(caller, "org.rename", org.name, {"from": before.name})
        if security:
            require_2fa = before.require_2fa if data.require_2fa is None else data.require_2fa
            domains = (
                before.sso_domains if data.sso_domains is None else sorted(set(data.sso_domains))
            )
            org = await update_org_security(db, caller.org_id, require_2fa, domains)
            await record_audit(
                caller,
                "org.security",
                org.name,
                {"require_2fa": require_2fa, "sso_domains": domains},
            )
    return _org_out(org, caller.role)


@blueprint.delete("/api/v1/orgs/<org_id>")
@no_content
@problems(401, 403, 404)
async def remove_org(org_id: str) -> tuple[str, int]:
    """Delete the org (owner) with its members, invitations, tokens, links and audit log.

    Its short links stop redirecting at once (404).
    """
    caller = await require_org_role(org_id, "owner")
    await delete_org(get_db(), caller.org_id)
    return "", 204
