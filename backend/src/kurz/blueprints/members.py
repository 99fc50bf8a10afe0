"""Members of an org, their roles, and invitations of emails not registered yet.

Who may do what (owner > admin > member):
- any member lists members and pending invitations (admins also see who has two-factor on);
- admins add and remove members with the ``member`` role and invite with it;
- only owners grant, change or take the ``owner`` and ``admin`` roles (adding, inviting,
  changing, removing someone with such a role);
- anyone may leave; the last owner can neither leave nor be removed or demoted (409
  ``LAST_OWNER``): the org must always have someone who can delete it.
"""

from dataclasses import asdict
from uuid import UUID

from pydantic import BaseModel, EmailStr, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..accounts import ui_link, wake_jobs
from ..audit import record_audit
from ..auth import Caller, recheck_role, require_org_role, role_at_least
from ..errors import APIError, org_not_found
from ..mail import added_message, invitation_message, queue_mail
from ..models.members import (
    Member,
    count_owners,
    delete_invitation,
    delete_member,
    insert_member,
    lock_email,
    select_invitation,
    select_invitations,
    select_member,
    select_members,
    select_two_factor_members,
    update_member_role,
    upsert_invitation,
)
from ..models.orgs import lock_org, select_org
from ..models.users import select_user_by_email
from ..schemas import Answer, Input, Role, Timestamp, no_content, problems
from ..services import get_db, get_settings
from ..webhooks import emit

blueprint = Blueprint("members", __name__)
POWERFUL = ("owner", "admin")


class MemberAdd(Input):
    email: EmailStr = Field(max_length=254)
    role: Role


class MemberChange(Input):
    role: Role


class MemberOut(Answer):
    user_id: str
    email: str
    name: str
    role: Role
    joined_at: Timestamp


class MemberSecurityOut(MemberOut):
    """A member as admins and owners see them."""

    two_factor: bool = Field(description="Whether the member signs in with two-factor.")


class InvitationOut(Answer):
    email: str
    role: Role
    created_at: Timestamp


class MemberList(BaseModel):
    items: list[MemberSecurityOut | MemberOut]
    invitations: list[InvitationOut]


def _require_owner_for(caller: Caller, *roles: str) -> None:
    if caller.role != "owner" and any(role in POWERFUL for role in roles):
        raise APIError(403, "FORBIDDEN", "Only owners grant, change or take owner and admin.")


def _member_not_found() -> APIError:
    return APIError(404, "MEMBER_NOT_FOUND", "No such member of this organization.")


def _canonical_id(user_id: str) -> str | None:
    """A user id as stored (any spelling UUID reads: upper case, no hyphens), or None."""
    try:
        return str(UUID(user_id))
    except ValueError:
        return None


async def _lock_members(caller: Caller, minimum: Role) -> Caller:
    """Lock the org's memberships until the transaction ends; the caller as it stands then."""
    await lock_org(get_db(), caller.org_id)
    return await recheck_role(caller, minimum)


async def _existing_member(caller: Caller, user_id: str, minimum: Role) -> tuple[Caller, Member]:
    """``_lock_members``, then the member, or 404."""
    canonical_id = _canonical_id(user_id)
    if canonical_id is None:
        raise _member_not_found()
    caller = await _lock_members(caller, minimum)
    member = await select_member(get_db(), caller.org_id, canonical_id)
    if member is None:
        raise _member_not_found()
    return caller, member


async def _refuse_last_owner(caller: Caller, member: Member) -> None:
    if member.role == "owner" and await count_owners(get_db(), caller.org_id) == 1:
        raise APIError(409, "LAST_OWNER", "The org needs at least one other owner first.")


@blueprint.get("/api/v1/orgs/<org_id>/members")
@validate_response(MemberList, 200)
@problems(401, 404)
async def list_members(org_id: str) -> MemberList:
    """Members by joining date, and pending invitations. Admins and owners also see whether
    each member signs in with two-factor (``two_factor``); plain members do not."""
    caller = await require_org_role(org_id)
    db = get_db()
    members = await select_members(db, caller.org_id)
    if role_at_least(caller.role, "admin"):
        two_factor = await select_two_factor_members(db, caller.org_id)
        items: list[MemberSecurityOut | MemberOut] = [
            MemberSecurityOut(**asdict(member), two_factor=member.user_id in two_factor)
            for member in members
        ]
    else:
        items = [MemberOut.model_validate(member) for member in members]
    return MemberList(
        items=items,
        invitations=[
            InvitationOut.model_validate(invitation)
            for invitation in await select_invitations(db, caller.org_id)
        ],
    )


@blueprint.post("/api/v1/orgs/<org_id>/members")
@validate_request(MemberAdd)
@validate_response(MemberOut, 201)
@validate_response(InvitationOut, 202)
@problems(400, 401, 403, 404, 409)
async def add_member(org_id: str, data: MemberAdd) -> tuple[MemberOut | InvitationOut, int]:
    """Add a registered user (201 member) or invite an email (202 invitation); admin.

    The invited address gets a mail with a link to register; a user added is told by mail. An
    invitation becomes a membership when its email registers, or, with email verification on,
    once the address is verified; with it on, adding a registered but unverified address
    invites it (202).
    Adding someone who already is a member is a 409 ``ALREADY_MEMBER`` (change their role with
    PATCH instead): silently keeping or changing the role could surprise either side. Inviting
    an email that has a pending invitation updates that invitation's role (202 again), so
    re-sending is harmless.
    """
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        await lock_email(db, data.email)
        caller = await _lock_members(caller, "admin")
        _require_owner_for(caller, data.role)
        user = await select_user_by_email(db, data.email)
        # An unverified registration may be a squatter's, who must not take the seat.
        settings = get_settings()
        if user is None or (settings.require_email_verification and not user.email_verified):
            if user is not None and await select_member(db, caller.org_id, user.id):
                raise APIError(409, "ALREADY_MEMBER", "This user already is a member.")
            pending = await select_invitation(db, caller.org_id, data.email)
            if pending is not None:  # re-inviting changes its role: the same rule as PATCH
                _require_owner_for(caller, pending.role)
            invitation = await upsert_invitation(
                db, caller.org_id, data.email, data.role, caller.user_id
            )
            await record_audit(caller, "invitation.create", invitation.email, {"role": data.role})
            org = await select_org(db, caller.org_id)
            if org is None:  # deleted since the caller was authorised
                raise org_not_found()
            link = ui_link(settings.base_url, "register", email=invitation.email)
            await queue_mail(
                db, invitation.email, invitation_message(org.name, invitation.role, link)
            )
            answer: tuple[MemberOut | InvitationOut, int] = (
                InvitationOut.model_validate(invitation),
                202,
            )
        else:
            member = await insert_member(db, caller.org_id, user.id, data.role)
            if member is None:
                raise APIError(409, "ALREADY_MEMBER", "This user already is a member.")
            await record_audit(
                caller, "member.add", member.email, {"user_id": member.user_id, "role": data.role}
            )
            org = await select_org(db, caller.org_id)
            if org is None:  # deleted since the caller was authorised
                raise org_not_found()
            link = ui_link(settings.base_url, f"orgs/{org.id}/links")
            await queue_mail(db, member.email, added_message(org.name, data.role, link))
            await emit(db, caller.org_id, "member.added", MemberOut.model_validate(member))
            answer = MemberOut.model_validate(member), 201
    wake_jobs()
    return answer


@blueprint.patch("/api/v1/orgs/<org_id>/members/<user_id>")
@validate_request(MemberChange)
@validate_response(MemberOut, 200)
@problems(400, 401, 403, 404, 409)
async def change_member(org_id: str, user_id: str, data: MemberChange) -> MemberOut:
    """Change a member's role: admin; owner when ``owner`` or ``admin`` is given or taken."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        caller, member = await _existing_member(caller, user_id, "admin")
        _require_owner_for(caller, member.role, data.role)
        if data.role == member.role:
            return MemberOut.model_validate(member)
        await _refuse_last_owner(caller, member)
        changed = await update_member_role(db, caller.org_id, member.user_id, data.role)
        await record_audit(
            caller,
            "member.role",
            member.email,
            {"user_id": member.user_id, "from": member.role, "to": data.role},
        )
    return MemberOut.model_validate(changed)


@blueprint.delete("/api/v1/orgs/<org_id>/members/<user_id>")
@no_content
@problems(401, 403, 404, 409)
async def remove_member(org_id: str, user_id: str) -> tuple[str, int]:
    """Remove a member (admin; owner to remove an owner or admin), or leave the org yourself."""
    caller = await require_org_role(org_id)
    leaving = caller.user_id is not None and caller.user_id == _canonical_id(user_id)
    db = get_db()
    async with db.transaction():
        caller, member = await _existing_member(caller, user_id, "member" if leaving else "admin")
        if not leaving:
            _require_owner_for(caller, member.role)
        await _refuse_last_owner(caller, member)
        await delete_member(db, caller.org_id, member.user_id)
        await emit(db, caller.org_id, "member.removed", MemberOut.model_validate(member))
        await record_audit(
            caller,
            "member.leave" if leaving else "member.remove",
            member.email,
            {"user_id": member.user_id, "role": member.role},
        )
    return "", 204


@blueprint.delete("/api/v1/orgs/<org_id>/invitations/<email>")
@no_content
@problems(401, 403, 404)
async def cancel_invitation(org_id: str, email: str) -> tuple[str, int]:
    """Withdraw a pending invitation (admin; owner for an owner or admin invitation)."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        caller = await _lock_members(caller, "admin")
        invitation = await select_invitation(db, caller.org_id, email)
        if invitation is None:
            raise APIError(404, "INVITATION_NOT_FOUND", "No pending invitation for this email.")
        _require_owner_for(caller, invitation.role)
        await delete_invitation(db, caller.org_id, invitation.email)
        await record_audit(
            caller, "invitation.delete", invitation.email, {"role": invitation.role}
        )
    return "", 204
