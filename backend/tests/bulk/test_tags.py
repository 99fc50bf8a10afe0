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


async def test_a_bad_tag_filter_is_refused_even_with_an_unknown_domain(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="kept")
    response = await owner.client.get(links_path(org_id) + "?domain=nowhere.example&tag=a%7Cb")
    await assert_problem(response, 400, "VALIDATION_ERROR", field="tag")
    response = await owner.client.post(
        links_path(org_id) + "/bulk-delete",
        json={"filter": {"domain": "nowhere.example", "tag": ["a\nb"]}},
    )
    await assert_problem(response, 400, "VALIDATION_ERROR")
    assert await slugs(owner, org_id, "") == ["kept"]


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


# --- bulk: tags added to and taken off many links ------------------------------------------


async def bulk_update(account, org_id: str, body: dict) -> dict:
    response = await account.client.post(links_path(org_id, "bulk-update"), json=body)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return await response.get_json()


async def tags_of(account, org_id: str, slug: str) -> list[str]:
    response = await account.client.get(links_path(org_id, slug))
    assert response.status_code == 200, await response.get_data(as_text=True)
    return (await response.get_json())["tags"]


async def tag_counts(account, org_id: str) -> dict[str, int]:
    items = (await (await account.client.get(tags_path(org_id))).get_json())["items"]
    return {tag["name"]: tag["links"] for tag in items}


async def audit(account, org_id: str, **query) -> list[dict]:
    response = await account.client.get(f"/api/v1/orgs/{org_id}/audit", query_string=query)
    assert response.status_code == 200, await response.get_data(as_text=True)
    return (await response.get_json())["items"]


async def test_bulk_add_and_remove_tags_by_slugs(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="red-one", tags=["Red"])
    await make_link(org_id, owner, slug="bare-one")
    await make_link(org_id, owner, slug="left-out", tags=["Red"])
    chosen = ["red-one", "bare-one"]
    body = await bulk_update(owner, org_id, {"slugs": chosen, "add_tags": ["red", "Q4"]})
    assert body == {"count": 2, "slugs": chosen}
    # The existing tag keeps its spelling; the unknown name became a tag of the org.
    assert await tags_of(owner, org_id, "red-one") == ["Q4", "Red"]
    assert await tags_of(owner, org_id, "bare-one") == ["Q4", "Red"]
    assert await tag_counts(owner, org_id) == {"Q4": 2, "Red": 3}
    # Adding what every link has already changes nothing.
    body = await bulk_update(owner, org_id, {"slugs": chosen, "add_tags": ["q4"]})
    assert body == {"count": 0, "slugs": []}

    everything = ["red-one", "bare-one", "left-out"]
    body = await bulk_update(owner, org_id, {"slugs": everything, "remove_tags": ["Q4"]})
    assert body == {"count": 2, "slugs": chosen}
    assert await tags_of(owner, org_id, "left-out") == ["Red"]
    # A name that is no tag of the org is not created, and takes nothing off.
    body = await bulk_update(owner, org_id, {"slugs": everything, "remove_tags": ["nope"]})
    assert body == {"count": 0, "slugs": []}
    assert await tag_counts(owner, org_id) == {"Q4": 0, "Red": 3}
    assert await slugs(owner, org_id, "?tag=q4") == []


async def test_bulk_tags_by_filter_with_disabled_are_audited_per_link(client, make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="sale-one", tags=["sale"])
    await make_link(org_id, owner, slug="sale-two", tags=["Sale", "keep"])
    await make_link(org_id, owner, slug="no-sale")
    body = await bulk_update(
        owner,
        org_id,
        {
            "filter": {"tag": ["SALE"]},
            "remove_tags": ["sale"],
            "add_tags": ["Archived"],
            "disabled": True,
        },
    )
    assert body == {"count": 2, "slugs": ["sale-one", "sale-two"]}
    assert await tags_of(owner, org_id, "sale-two") == ["Archived", "keep"]
    assert await slugs(owner, org_id, "?status=disabled") == ["sale-one", "sale-two"]
    assert (await client.get("/sale-one")).status_code == 410
    assert await tags_of(owner, org_id, "no-sale") == []

    entries = await audit(owner, org_id, action="link.update")
    changes = {entry["target"]: entry["detail"]["changes"] for entry in entries}
    assert changes == {
        "sale-one": {"tags": {"from": ["sale"], "to": ["Archived"]}},
        "sale-two": {"tags": {"from": ["keep", "sale"], "to": ["Archived", "keep"]}},
    }
    disabled = await audit(owner, org_id, action="link.disable")
    assert sorted(entry["target"] for entry in disabled) == ["sale-one", "sale-two"]

    # Enabling alone leaves the tags as they are and adds no tag entries.
    body = await bulk_update(owner, org_id, {"filter": {"tag": ["archived"]}, "disabled": False})
    assert body["count"] == 2
    assert await tags_of(owner, org_id, "sale-one") == ["Archived"]
    assert len(await audit(owner, org_id, action="link.update")) == 2


async def test_a_single_edit_of_tags_is_audited_like_a_bulk_one(make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="edited", tags=["a"])
    response = await owner.client.patch(links_path(org_id, "edited"), json={"tags": ["B", "a"]})
    assert response.status_code == 200
    [entry] = await audit(owner, org_id, action="link.update")
    assert entry["detail"]["changes"] == {"tags": {"from": ["a"], "to": ["a", "B"]}}


async def test_bulk_tags_keep_a_link_to_ten(make_org, make_link):
    org_id, owner = await make_org()
    ten = [f"t{n}" for n in range(10)]
    await make_link(org_id, owner, slug="full-link", tags=ten)
    await make_link(org_id, owner, slug="bare-link")
    both = ["bare-link", "full-link"]
    response = await owner.client.post(
        links_path(org_id, "bulk-update"), json={"slugs": both, "add_tags": ["new"]}
    )
    error = await assert_problem(response, 400, "VALIDATION_ERROR")
    assert "full-link" in error["detail"] and error["errors"][0]["field"] == "add_tags"
    # Nothing changed, not even the link with room, and no tag was created.
    assert await tags_of(owner, org_id, "bare-link") == []
    assert "new" not in await tag_counts(owner, org_id)
    # A tag the full link has already, or one in place of one taken off, fits.
    body = await bulk_update(owner, org_id, {"slugs": both, "add_tags": ["T1"]})
    assert body == {"count": 1, "slugs": ["bare-link"]}
    body = await bulk_update(
        owner, org_id, {"slugs": both, "add_tags": ["new"], "remove_tags": ["t0"]}
    )
    assert body["count"] == 2
    assert await tags_of(owner, org_id, "full-link") == sorted([*ten[1:], "new"], key=str.lower)


@pytest.mark.parametrize(
    "change",
    [
        {"add_tags": [""]},
        {"add_tags": ["a|b"]},
        {"add_tags": ["x" * 41]},
        {"add_tags": [f"t{n}" for n in range(11)]},
        {"add_tags": "red"},
        {"add_tags": [1]},
        {"add_tags": None},
        {"remove_tags": ["bad\x00name"]},
        {"remove_tags": None},
        {"add_tags": ["Red"], "remove_tags": ["red"]},
        {"add_tags": [], "remove_tags": []},
        {"add_tags": ["new"], "disabled": "yes"},
    ],
)
async def test_bad_bulk_tag_changes_are_a_400_and_change_nothing(change, make_org, make_link):
    org_id, owner = await make_org()
    await make_link(org_id, owner, slug="steady", tags=["Red"])
    response = await owner.client.post(
        links_path(org_id, "bulk-update"), json={"slugs": ["steady"], **change}
    )
    await assert_problem(response, 400, "VALIDATION_ERROR")
    link = await (await owner.client.get(links_path(org_id, "steady"))).get_json()
    assert (link["tags"], link["disabled"]) == (["Red"], False)
    assert await tag_counts(owner, org_id) == {"Red": 1}


async def test_members_bulk_tag_only_their_own_links(make_org, add_member, make_link, make_token):
    org_id, owner = await make_org()
    member = await add_member(org_id, owner)
    admin = await add_member(org_id, owner, "admin")
    await make_link(org_id, member, slug="members")
    await make_link(org_id, owner, slug="owners")
    both = {"slugs": ["members", "owners"]}
    for change in ({"add_tags": ["mine"]}, {"remove_tags": ["mine"]}):
        response = await member.client.post(
            links_path(org_id, "bulk-update"), json={**both, **change}
        )
        assert (
            "1 of the selected links"
            in (await assert_problem(response, 403, "FORBIDDEN"))["detail"]
        )
    assert await tags_of(owner, org_id, "members") == []
    assert await tag_counts(owner, org_id) == {}
    # A filter holding someone else's link is refused too; "my links" is not.
    response = await member.client.post(
        links_path(org_id, "bulk-update"), json={"filter": {}, "add_tags": ["mine"]}
    )
    await assert_problem(response, 403, "FORBIDDEN")
    body = await bulk_update(
        member, org_id, {"filter": {"created_by": "me"}, "add_tags": ["mine"]}
    )
    assert body["slugs"] == ["members"]
    # A member token acts as a member; an admin may tag anyone's links.
    token = await make_token(org_id, owner, "member")
    response = await owner.client.post(
        links_path(org_id, "bulk-update"), json={**both, "add_tags": ["x"]}, headers=token
    )
    await assert_problem(response, 403, "FORBIDDEN")
    body = await bulk_update(admin, org_id, {**both, "add_tags": ["Team"]})
    assert body["count"] == 2
    assert await tag_counts(owner, org_id) == {"mine": 1, "Team": 2}


async def test_bulk_tags_never_reach_another_org(make_org, make_link):
    org_id, owner = await make_org()
    other_org, stranger = await make_org()
    await make_link(other_org, stranger, slug="theirs", tags=["shared"])
    await make_link(org_id, owner, slug="ours", tags=["shared"])
    response = await owner.client.post(
        links_path(org_id, "bulk-update"),
        json={"slugs": ["ours", "theirs"], "remove_tags": ["shared"]},
    )
    await assert_problem(response, 404, "LINK_NOT_FOUND")
    body = await bulk_update(owner, org_id, {"filter": {}, "add_tags": ["new"]})
    assert body["slugs"] == ["ours"]
    body = await bulk_update(
        owner, org_id, {"filter": {"tag": ["shared"]}, "remove_tags": ["shared"]}
    )
    assert body["slugs"] == ["ours"]
    assert await tags_of(stranger, other_org, "theirs") == ["shared"]
    assert await tag_counts(stranger, other_org) == {"shared": 1}
    # Not a member of the other org: as if it did not exist.
    response = await owner.client.post(
        links_path(other_org, "bulk-update"), json={"filter": {}, "add_tags": ["mine"]}
    )
    await assert_problem(response, 404, "ORG_NOT_FOUND")
    assert await tags_of(stranger, other_org, "theirs") == ["shared"]
