"""Acting on a live server as its users do: an owner's httpx client, an org, links."""

import uuid
from dataclasses import dataclass

import httpx

from tests.support import PASSWORD


@dataclass
class Owner:
    client: httpx.Client
    org_id: str

    def create_link(self, **fields) -> dict:
        response = self.client.post(
            f"/api/v1/orgs/{self.org_id}/links", json={"url": "https://example.com/", **fields}
        )
        assert response.status_code == 201, response.text
        return response.json()

    def edit_link(self, slug: str, **fields) -> dict:
        response = self.client.patch(f"/api/v1/orgs/{self.org_id}/links/{slug}", json=fields)
        assert response.status_code == 200, response.text
        return response.json()

    def link(self, slug: str) -> dict:
        response = self.client.get(f"/api/v1/orgs/{self.org_id}/links/{slug}")
        assert response.status_code == 200, response.text
        return response.json()


def sign_up(base_url: str) -> Owner:
    client = httpx.Client(base_url=base_url, timeout=30)
    email = f"owner-{uuid.uuid4().hex[:8]}@example.com"
    response = client.post("/api/v1/users", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    response = client.post("/api/v1/session", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    response = client.post("/api/v1/orgs", json={"name": "Acme"})
    assert response.status_code == 201, response.text
    return Owner(client=client, org_id=response.json()["id"])


def visitor(base_url: str, **headers: str) -> httpx.Client:
    """A client that sees redirects rather than following them."""
    return httpx.Client(base_url=base_url, timeout=30, follow_redirects=False, headers=headers)
