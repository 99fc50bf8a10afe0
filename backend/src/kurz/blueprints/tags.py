"""An org's tags: list with counts, rename or recolour, delete."""

from databases import Database
from pydantic import BaseModel, Field
from quart import Blueprint
from quart_schema import validate_request, validate_response

from ..auth import require_org_role
from ..errors import APIError
from ..models.links import Link, LinkFilter, select_links, update_links
from ..models.tags import Tag, delete_tag, name_taken, select_tag, select_tags, update_tag
from ..schemas import Input, TagName, no_content, problems
from ..services import get_db
from ..slugs import check_tag_names
from ..webhooks import emit
from .links import link_out

blueprint = Blueprint("tags", __name__)

TAGS = "/api/v1/orgs/<org_id>/tags"
TAG = TAGS + "/<name>"


class TagOut(BaseModel):
    name: str
    color: str = Field(description="#rrggbb")
    links: int = Field(description="How many of the org's links carry the tag.")


class TagList(BaseModel):
    items: list[TagOut]


class TagUpdate(Input):
    # None as the default means "unchanged"; an explicit null is refused (not nullable).
    name: TagName = Field(None, description="The new name; every link follows.")  # type: ignore[assignment]
    color: str = Field(None, pattern=r"^#[0-9A-Fa-f]{6}$")  # type: ignore[assignment]


@blueprint.get(TAGS)
@validate_response(TagList)
@problems(401, 404, 503)
async def list_tags(org_id: str) -> TagList:
    """The org's tags, alphabetical, each with how many links carry it."""
    caller = await require_org_role(org_id)
    return TagList(items=[_out(tag) for tag in await select_tags(get_db(), caller.org_id)])


@blueprint.patch(TAG)
@validate_request(TagUpdate)
@validate_response(TagOut)
@problems(400, 401, 403, 404, 409, 503)
async def edit_tag(org_id: str, name: str, data: TagUpdate) -> TagOut:
    """Rename or recolour a tag (admins). A rename shows on every link that carries the tag
    (each gets a ``link.updated`` event); 409 TAG_TAKEN when another tag of the org has the new
    name in any letter case."""
    caller = await require_org_role(org_id, "admin")
    new_name = None if data.name is None else check_tag_names([data.name], "name", 1)[0]
    db = get_db()
    async with db.transaction():
        tag = await _existing(caller.org_id, name, lock=True)
        if new_name is not None and await name_taken(db, caller.org_id, new_name, tag.id):
            raise APIError(409, "TAG_TAKEN", f"The org already has a tag {new_name!r}.")
        await update_tag(
            db,
            caller.org_id,
            tag.id,
            new_name or tag.name,
            tag.color if data.color is None else data.color.lower(),
        )
        updated = await _existing(caller.org_id, new_name or tag.name)
        if updated.name != tag.name:
            links = await _links_with(db, caller.org_id, tag)
            await emit(db, caller.org_id, "link.updated", *(link_out(link) for link in links))
    return _out(updated)


@blueprint.delete(TAG)
@no_content
@problems(401, 403, 404, 503)
async def remove_tag(org_id: str, name: str) -> tuple[str, int]:
    """Delete a tag (admins): it is taken off every link of the org (each gets a
    ``link.updated`` event)."""
    caller = await require_org_role(org_id, "admin")
    db = get_db()
    async with db.transaction():
        tag = await _existing(caller.org_id, name, lock=True)
        ids = [link.id for link in await _links_with(db, caller.org_id, tag)]
        changed = await update_links(db, caller.org_id, ids, remove_tag_ids=[tag.id])
        await emit(db, caller.org_id, "link.updated", *(link_out(link) for link in changed))
        await delete_tag(db, caller.org_id, tag.id)
    return "", 204


async def _links_with(db: Database, org_id: str, tag: Tag) -> list[Link]:
    return await select_links(db, org_id, LinkFilter(tag_ids=[tag.id]))


async def _existing(org_id: str, name: str, *, lock: bool = False) -> Tag:
    tag = await select_tag(get_db(), org_id, name, lock=lock)
    if tag is None:
        raise APIError(404, "TAG_NOT_FOUND", "No such tag in this organization.")
    return tag


def _out(tag: Tag) -> TagOut:
    return TagOut(name=tag.name, color=tag.color, links=tag.links)
