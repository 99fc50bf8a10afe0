import io

import segno

from tests.support import assert_problem


def qr_path(org_id: str, slug: str) -> str:
    return f"/api/v1/orgs/{org_id}/links/{slug}/qr"


def expected(short_url: str, kind: str, scale: int) -> bytes:
    image = io.BytesIO()
    segno.make(short_url, error="m").save(image, kind=kind, scale=scale, border=4)
    return image.getvalue()


async def test_the_qr_code_is_svg_by_default_and_encodes_the_short_url(
    make_org, make_link
) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    response = await owner.client.get(qr_path(org_id, link["slug"]))
    assert response.status_code == 200
    assert response.content_type == "image/svg+xml"
    body = await response.get_data()
    assert body.startswith(b"<?xml") and b"<svg" in body
    assert body == expected(link["short_url"], "svg", 4)
    svg = await owner.client.get(qr_path(org_id, link["slug"]), query_string={"format": "svg"})
    assert await svg.get_data() == body


async def test_the_qr_code_as_png(make_org, make_link, make_token, client) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    token = await make_token(org_id, owner, "member")
    response = await client.get(
        qr_path(org_id, link["slug"]), query_string={"format": "png"}, headers=token
    )
    assert response.status_code == 200
    assert response.content_type == "image/png"
    body = await response.get_data()
    assert body.startswith(b"\x89PNG\r\n\x1a\n")
    assert body == expected(link["short_url"], "png", 10)


async def test_other_formats_are_a_400(make_org, make_link) -> None:
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    for fmt in ("gif", "SVG", "png,svg"):
        response = await owner.client.get(
            qr_path(org_id, link["slug"]), query_string={"format": fmt}
        )
        await assert_problem(response, 400)


async def test_qr_codes_are_for_members_of_the_links_org(make_org, make_link, signup, client):
    org_id, owner = await make_org()
    link = await make_link(org_id, owner)
    outsider = await signup()
    assert (await outsider.client.get(qr_path(org_id, link["slug"]))).status_code == 404
    assert (await client.get(qr_path(org_id, link["slug"]))).status_code == 401
    assert (await owner.client.get(qr_path(org_id, "missing1"))).status_code == 404
