"""Single sign-on with OpenID Connect: the authorization code flow with PKCE, state and
nonce, and the ID token checked against the provider's published keys (JWKS).

The provider's metadata and keys are fetched when first needed and kept; the keys are fetched
again when a token names a key not among them (the provider rotated its keys).
"""

import time
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization

from .config import Settings

HTTP_TIMEOUT = 10.0
SCOPES = "openid email profile"
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA"]
LEEWAY = 60  # seconds of clock difference tolerated with the provider


class SSOError(Exception):
    """The provider's answer cannot log anyone in; ``code`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class Start:
    """What a login keeps until its callback, and where the browser goes now."""

    state: str
    nonce: str
    code_verifier: str
    url: str


@dataclass
class Provider:
    settings: Settings
    _metadata: dict[str, Any] | None = None
    _keys: KeySet | None = field(default=None, repr=False)

    @property
    def redirect_uri(self) -> str:
        return f"{self.settings.base_url}/api/v1/sso/callback"

    async def _get(self, url: str) -> dict[str, Any]:
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                response = await client.get(url)
                response.raise_for_status()
                document: dict[str, Any] = response.json()
                return document
        except (httpx.HTTPError, ValueError) as error:
            raise SSOError("SSO_UNAVAILABLE", f"The sign-in provider failed: {error}") from None

    async def metadata(self) -> dict[str, Any]:
        if self._metadata is None:
            metadata = await self._get(
                f"{self.settings.oidc_issuer}/.well-known/openid-configuration"
            )
            if metadata.get("issuer", "").rstrip("/") != self.settings.oidc_issuer:
                raise SSOError("SSO_UNAVAILABLE", "The provider names another issuer.")
            self._metadata = metadata
        return self._metadata

    async def _key_set(self, refresh: bool = False) -> KeySet:
        if self._keys is None or refresh:
            jwks = await self._get((await self.metadata())["jwks_uri"])
            # The provider's JSON, read by joserfc as the key set it should be.
            self._keys = KeySet.import_key_set(cast(KeySetSerialization, jwks))
        return self._keys

    async def start(self) -> Start:
        state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
        query = {
            "response_type": "code",
            "client_id": self.settings.oidc_client_id,
            "redirect_uri": self.redirect_uri,
            "scope": SCOPES,
            "state": state,
            "nonce": nonce,
            # types-authlib leaves this function unannotated.
            "code_challenge": create_s256_code_challenge(verifier),  # type: ignore[no-untyped-call]
            "code_challenge_method": "S256",
        }
        url = f"{(await self.metadata())['authorization_endpoint']}?{urlencode(query)}"
        return Start(state, nonce, verifier, url)

    async def finish(self, code: str, code_verifier: str, nonce: str) -> dict[str, Any]:
        """Exchange the code for tokens; the ID token's claims once signature and claims hold."""
        metadata = await self.metadata()
        client_id, client_secret = self.settings.oidc_client_id, self.settings.oidc_client_secret
        assert client_id and client_secret  # a Provider exists only while SSO is configured
        try:
            async with httpx.AsyncClient(timeout=HTTP_TIMEOUT) as client:
                response = await client.post(
                    metadata["token_endpoint"],
                    data={
                        "grant_type": "authorization_code",
                        "code": code,
                        "redirect_uri": self.redirect_uri,
                        "code_verifier": code_verifier,
                    },
                    auth=(client_id, client_secret),
                )
        except httpx.HTTPError as error:
            raise SSOError("SSO_UNAVAILABLE", f"The sign-in provider failed: {error}") from None
        if response.status_code != 200:
            raise SSOError("SSO_REFUSED", "The provider refused the sign-in code.")
        id_token = response.json().get("id_token")
        if not isinstance(id_token, str):
            raise SSOError("SSO_REFUSED", "The provider sent no ID token.")
        return await self.check_id_token(id_token, nonce)

    async def check_id_token(self, id_token: str, nonce: str) -> dict[str, Any]:
        issuer, client_id = self.settings.oidc_issuer, self.settings.oidc_client_id
        assert issuer and client_id  # a Provider exists only while SSO is configured
        try:
            try:
                token = jwt.decode(id_token, await self._key_set(), algorithms=ALGORITHMS)
            except (JoseError, ValueError):  # perhaps signed with a key published since
                token = jwt.decode(id_token, await self._key_set(True), algorithms=ALGORITHMS)
            jwt.JWTClaimsRegistry(
                now=lambda: int(time.time()),
                leeway=LEEWAY,
                iss={"essential": True, "value": issuer},
                aud={"essential": True, "value": client_id},
                sub={"essential": True},
                exp={"essential": True},
                iat={"essential": True},
                nonce={"essential": True, "value": nonce},
            ).validate(token.claims)
        except (JoseError, ValueError) as error:
            raise SSOError("SSO_INVALID_TOKEN", f"The ID token is not valid: {error}") from None
        claims = token.claims
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise SSOError("SSO_INVALID_TOKEN", "The ID token was issued to another party.")
        return claims
