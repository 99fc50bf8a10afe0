"""Tags through the API: on links, the list's tag filters, rename, delete, counts."""

import pytest

from tests.blueprints.test_links import links_path
from tests.support import assert_problem


def tags_path(org_id: str, name: str = "") -> str:
    return f"/api/v1/orgs/{org_id}/tags" + (f"/{name}" if name else "")


async def slugs(account, org_id: str, query: str) -> list[str]:
    response = await account.client.get(links_path(org_id) + query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return sorted(link["slug"] for link in (await response.get_json())["items"])


async def test_tags_on_create_and_edit(make_org, make_link):
    org_id, owner = await make_org()
    link = await make_link(org_id, owner, slug="tagged", tags=["Sales", "sales", " Q4 "])
    assert link["tags"] == ["Q4", "Sales"]  # one per name in any case, trimmed, alphabetical
    response = await owner.client.patch(links_path(org_id, "tagged"), json={"tags": ["SALES"]})
    assert response.status_code == 200
    assert (await response.get_json())["tags"] == ["Sales"]  # the existing tag's spelling
    plain = await make_link(org_id, owner, slug="plain")
    assert plain["tags"] == []
    response = await owner.client.get(tags_path(org_id))
    items = (await response.get_json())["items"]
    assert [(tag["name"], tag["links"]) for tag in items] == [("Q4", 0), ("Sales", 1)]
    assert all(len(tag["color"]) == 7 and tag["color"].startswith("#") for tag in items)


@pytest.mark.parametrize(
    "tags",
    [[f"t{i}" for i in range(11)], [""], ["x" * 41], ["a|b"], "sales", [1]],
)
async def test_bad_tags_are_refused(make_org, tags):
    org_id, owner = await make_org()
    response = await owner.client.post(
        links_path(org_id), json={"url": "https://example.com/", "tags": tags}
    )
    await assert_problem(response, 400, "VALIDATION_ERROR")
    assert (await (await owner.client.get(tags_path(org_id))).get_json())["items"] == []


async def test_filters_any_and_all(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="both", tags=["red", "blue"])
    await make_link(org_id, owner, slug="red-only", tags=["red"])
    await make_link(org_id, owner, slug="blue-only", tags=["Blue"])
    await make_link(org_id, owner, slug="none")
    assert await slugs(owner, org_id, "?tag=RED") == ["both", "red-only"]
    assert await slugs(owner, org_id, "?tag=red&tag=blue") == ["blue-only", "both", "red-only"]
    assert await slugs(owner, org_id, "?tag=red&tag=blue&tags_mode=all") == ["both"]
    assert await slugs(owner, org_id, "?tag=red&tag=green&tags_mode=all") == []
    assert await slugs(owner, org_id, "?tag=red&tag=green") == ["both", "red-only"]
    assert await slugs(owner, org_id, "?tag=green") == []
    assert await slugs(owner, org_id, "?tag=red&q=only") == ["red-only"]
    response = await owner.client.get(links_path(org_id) + "?tag=red&tags_mode=some")
    await assert_problem(response, 400, "VALIDATION_ERROR")


async def test_tags_belong_to_their_org(make_org, make_link):
    org_id, owner = await make_org()
    other_org, other = await make_org()
    await make_link(org_id, owner, slug="mine", tags=["shared-name"])
    await make_link(other_org, other, slug="theirs", tags=["shared-name"])
    assert await slugs(owner, org_id, "?tag=shared-name") == ["mine"]
    response = await other.client.delete(tags_path(org_id, "shared-name"))
    assert response.status_code == 404
    response = await other.client.get(tags_path(other_org))
    assert [tag["links"] for tag in (await response.get_json())["items"]] == [1]


async def test_rename_recolour_and_conflict(make_org, make_link, add_member):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="one", tags=["old"])
    await make_link(org_id, owner, slug="two", tags=["old", "other"])
    member = await add_member(org_id, owner)
    response = await member.client.patch(tags_path(org_id, "old"), json={"name": "new"})
    await assert_problem(response, 403, "FORBIDDEN")
    response = await owner.client.patch(tags_path(org_id, "OLD"), json={"name": "OTHER"})
    await assert_problem(response, 409, "TAG_TAKEN")
    response = await owner.client.patch(
        tags_path(org_id, "old"), json={"name": "New", "color": "#AABBCC"}
    )
    assert response.status_code == 200
    assert await response.get_json() == {"name": "New", "color": "#aabbcc", "links": 2}
    link = await (await owner.client.get(links_path(org_id, "two"))).get_json()
    assert link["tags"] == ["New", "other"]
    assert await slugs(owner, org_id, "?tag=new") == ["one", "two"]
    assert await slugs(owner, org_id, "?tag=old") == []
    response = await owner.client.patch(tags_path(org_id, "new"), json={"name": "NEW"})
    assert (await response.get_json())["name"] == "NEW"  # a change of case is no conflict
    response = await owner.client.patch(tags_path(org_id, "NEW"), json={"color": "red"})
    await assert_problem(response, 400, "VALIDATION_ERROR")
    response = await owner.client.patch(tags_path(org_id, "missing"), json={"color": "#000000"})
    await assert_problem(response, 404, "TAG_NOT_FOUND")


async def test_delete_takes_the_tag_off_every_link(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="one", tags=["gone", "kept"])
    await make_link(org_id, owner, slug="two", tags=["gone"])
    response = await owner.client.delete(tags_path(org_id, "Gone"))
    assert response.status_code == 204
    assert (await (await owner.client.get(links_path(org_id, "one"))).get_json())["tags"] == [
        "kept"
    ]
    assert (await (await owner.client.get(links_path(org_id, "two"))).get_json())["tags"] == []
    items = (await (await owner.client.get(tags_path(org_id))).get_json())["items"]
    assert [tag["name"] for tag in items] == ["kept"]
    assert await slugs(owner, org_id, "?tag=gone") == []
    # Used again, the name is a new tag.
    link = await make_link(org_id, owner, slug="three", tags=["gone"])
    assert link["tags"] == ["gone"]
