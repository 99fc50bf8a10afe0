"""An org's branded domains: add, list, verify by DNS TXT, edit, delete; and the TLS check."""

from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from quart import Blueprint
from quart_rate_limiter import rate_limit
from quart_schema import validate_querystring, validate_request, validate_response

from ..audit import record_audit
from ..auth import require_org_role
from ..domains import (
    challenge_name,
    check_challenge,
    new_verification_value,
    normalise_hostname,
    own_hostname,
    stored_hostname,
)
from ..errors import APIError
from ..models.domains import (
    Domain,
    delete_domain,
    domain_in_use,
    insert_domain,
    is_verified_hostname,
    mark_verified,
    record_failed_verification,
    select_domain,
    select_domains,
    update_domain,
    verified_elsewhere,
)
from ..ratelimits import LINK_CREATION_LIMITS
from ..schemas import NO_NUL, Input, Query, Timestamp, WebUrl, no_content, problems, public
from ..services import current_services, get_db, get_settings
from ..slugs import check_url

blueprint = Blueprint("domains", __name__)

DOMAINS = "/api/v1/orgs/<org_id>/domains"
DOMAIN = DOMAINS + "/<hostname>"


class DomainCreate(Input):
    hostname: str = Field(
        max_length=253,
        # Names in other scripts are taken too, once IDNA-encoded (xn--...).
        json_schema_extra={
            "pattern": r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+"
            r"[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$"
        },
        description="e.g. go.example.com; IDNA-encoded.",
    )
    root_url: WebUrl | None = Field(None, description="Where / on the domain redirects (302).")
    not_found_url: WebUrl | None = Field(
        None, description="Where unknown slugs on the domain redirect (302)."
    )


class DomainUpdate(Input):
    """Only the fields sent change; null removes one."""

    root_url: WebUrl | None = None
    not_found_url: WebUrl | None = None


class Verification(BaseModel):
    type: str = Field(description="Always TXT.")
    name: str = Field(description="The DNS name of the record to create.")
    value: str = Field(description="The record's value.")


class DomainOut(BaseModel):
    hostname: str
    verified: bool
    verification: Verification
    root_url: str | None
    not_found_url: str | None
    created_at: Timestamp
    verified_at: Timestamp | None
    last_checked_at: Timestamp | None = Field(
        description="The last DNS check, by verify or re-check."
    )
    last_check_result: str | None = Field(description="What DNS answered at the last check.")
    check_failures: int = Field(description="Failed re-checks in a row (0: all well).")


class DomainList(BaseModel):
    items: list[DomainOut]


class TlsQuery(Query):
    domain: str = Field(min_length=1, max_length=300, pattern=NO_NUL)


class TlsAllowed(BaseModel):
    domain: str = Field(description="The name, as Kurz stores it; a certificate may be issued.")


@blueprint.post(DOMAINS)
@rate_limit(limits=LINK_CREATION_LIMITS)
@validate_request(DomainCreate)
@validate_response(DomainOut, 201)
@problems(400, 401, 403, 404, 409, 429, 503)
async def add_domain(org_id: str, data: DomainCreate) -> tuple[DomainOut, int]:
    """Add a hostname (admin). It serves nothing until verified: create the TXT record that
    ``verification`` names, then call ``verify``. 409 DOMAIN_TAKEN when this org has it
    already or another org has verified it."""
    caller = await require_org_role(org_id, "admin")
    base_url = get_settings().base_url
    hostname = normalise_hostname(data.hostname, base_url)
    db = get_db()
    async with db.transaction():
        if await verified_elsewhere(db, caller.org_id, hostname):
            raise _taken(hostname)
        domain = await insert_domain(
            db,
            org_id=caller.org_id,
            hostname=hostname,
            verification_value=new_verification_value(),
            root_url=_target(data.root_url, "root_url", hostname),
            not_found_url=_target(data.not_found_url, "not_found_url", hostname),
        )
        if domain is None:
            raise _taken(hostname)
        await record_audit(caller, "domain.add", hostname)
    return _out(domain), 201


@blueprint.get(DOMAINS)
@validate_response(DomainList)
@problems(401, 404, 503)
async def list_domains(org_id: str) -> DomainList:
    """The org's domains, verified or not, by hostname, with their check state."""
    caller = await require_org_role(org_id)
    domains = await select_domains(get_db(), caller.org_id)
    return DomainList(items=[_out(domain) for domain in domains])


@blueprint.post(DOMAIN + "/verify")
@rate_limit(limits=LINK_CREATION_LIMITS)
@validate_response(DomainOut)
@problems(401, 403, 404, 409, 429, 503)
async def verify_domain(org_id: str, hostname: str) -> DomainOut:
    """Ask DNS for the TXT record now (admin). 409 DOMAIN_NOT_VERIFIED says what DNS answered;
    409 DOMAIN_TAKEN when another org has verified the hostname first."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    domain = await _existing(caller.org_id, hostname)
    if await verified_elsewhere(db, caller.org_id, domain.hostname):
        raise _taken(domain.hostname)
    result = await check_challenge(get_settings(), domain.hostname, domain.verification_value)
    if not result.ok:
        await record_failed_verification(db, domain.id, result.detail)
        raise APIError(409, "DOMAIN_NOT_VERIFIED", result.detail)
    async with db.transaction():
        verified = await mark_verified(db, domain.id, result.detail)
        if verified is None:
            raise _taken(domain.hostname)
        if not domain.verified:
            await record_audit(caller, "domain.verify", domain.hostname)
    await _refresh_served_domains()
    return _out(verified)


@blueprint.patch(DOMAIN)
@validate_request(DomainUpdate)
@validate_response(DomainOut)
@problems(400, 401, 403, 404, 503)
async def edit_domain(org_id: str, hostname: str, data: DomainUpdate) -> DomainOut:
    """Change where ``/`` and unknown slugs of the domain redirect (admin)."""
    caller = await require_org_role(org_id, "admin")
    domain = await _existing(caller.org_id, hostname)
    changes = {
        field: _target(getattr(data, field), field, domain.hostname)
        for field in data.model_fields_set
    }
    if not changes:
        return _out(domain)
    domain = await update_domain(get_db(), domain.id, changes)
    await _refresh_served_domains()
    return _out(domain)


@blueprint.delete(DOMAIN)
@no_content
@problems(401, 403, 404, 409, 503)
async def remove_domain(org_id: str, hostname: str) -> tuple[str, int]:
    """Remove a domain (admin); 409 DOMAIN_IN_USE while links use it (delete them first)."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        domain = await select_domain(db, caller.org_id, stored_hostname(hostname), lock=True)
        if domain is None:
            raise _not_found()
        if await domain_in_use(db, domain.id):
            raise APIError(
                409, "DOMAIN_IN_USE", f"Links use {domain.hostname}; delete them first."
            )
        await delete_domain(db, domain.id)
        await record_audit(caller, "domain.delete", domain.hostname)
    await _refresh_served_domains()
    return "", 204


@blueprint.get("/api/v1/tls-check")
@public
@validate_querystring(TlsQuery)
@validate_response(TlsAllowed)
@problems(400, 404, 503)
async def tls_check(query_args: TlsQuery) -> TlsAllowed:
    """For a reverse proxy's on-demand TLS (Caddy's ``on_demand_tls ask``): 200 when ``domain``
    is the service's own host or a verified domain, else 404, so that certificates are only
    ever requested for names Kurz serves."""
    hostname = stored_hostname(query_args.domain)
    if hostname == own_hostname(get_settings().base_url) or (
        await is_verified_hostname(get_db(), hostname)
    ):
        return TlsAllowed(domain=hostname)
    raise APIError(404, "DOMAIN_NOT_FOUND", "Kurz serves no such domain.")


async def _existing(org_id: str, hostname: str) -> Domain:
    domain = await select_domain(get_db(), org_id, stored_hostname(hostname))
    if domain is None:
        raise _not_found()
    return domain


def _not_found() -> APIError:
    return APIError(404, "DOMAIN_NOT_FOUND", "No such domain in this organization.")


def _taken(hostname: str) -> APIError:
    return APIError(409, "DOMAIN_TAKEN", f"{hostname} is already in use.")


def _target(url: str | None, field: str, hostname: str) -> str | None:
    """``root_url``/``not_found_url``: a URL as a link's, reported under its own field name,
    and not on the domain itself (an unknown slug sent to another unknown slug would loop)."""
    if url is None:
        return None
    try:
        url = check_url(url, get_settings().base_url)
        if (urlsplit(url).hostname or "").rstrip(".").lower() == hostname:
            raise APIError(400, "INVALID_URL", "This URL points back at the domain itself.")
    except APIError as error:
        error.errors = [{"field": field, "message": error.detail or ""}]
        raise
    return url


async def _refresh_served_domains() -> None:
    """This instance serves the change at once; the others on the database's notification."""
    await current_services().link_cache.load_domains()


def _out(domain: Domain) -> DomainOut:
    return DomainOut(
        hostname=domain.hostname,
        verified=domain.verified,
        verification=Verification(
            type="TXT", name=challenge_name(domain.hostname), value=domain.verification_value
        ),
        root_url=domain.root_url,
        not_found_url=domain.not_found_url,
        created_at=domain.created_at,
        verified_at=domain.verified_at,
        last_checked_at=domain.last_checked_at,
        last_check_result=domain.last_check_result,
        check_failures=domain.check_failures,
    )
