"""A TokenCredential for the fake Azure ML: unsigned JWTs with the audience the SDK asks for."""
from __future__ import annotations

import base64
import json
import time

from tests.azurite import IdentityEndpoint


class StaticTokenCredential:
    """A TokenCredential handing out unsigned JWTs for the requested audience (the SDK reads `aud` and `tid` from
    the token for user-identity jobs); the fake only checks that a token is present and not marked expired."""

    def __init__(self, subject: str = "ghostwatch-test") -> None:
        self.subject = subject
        self.issued: list[str] = []

    def _token(self, scopes: tuple[str, ...]) -> tuple[str, int]:
        expires = int(time.time()) + 3600
        audience = (scopes[0] if scopes else "https://management.azure.com/.default").removesuffix("/.default")
        header = {"alg": "none", "typ": "JWT"}
        claims = {"aud": audience, "tid": "22222222-2222-2222-2222-222222222222", "oid": self.subject, "exp": expires}
        token = ".".join(_b64(part) for part in (header, claims)) + ".c2ln"
        self.issued.append(token)
        return token, expires

    def get_token(self, *scopes: str, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken(*self._token(scopes))

    def get_token_info(self, *scopes: str, options=None):
        from azure.core.credentials import AccessTokenInfo

        return AccessTokenInfo(*self._token(scopes))


def _b64(part: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")


class ManagedIdentityEndpoint(IdentityEndpoint):
    """A managed-identity token endpoint on 127.0.0.1, announced as Azure ML compute announces its own (MSI_ENDPOINT,
    MSI_SECRET), so azure-identity's DefaultAzureCredential signs in to the fake without any code knowing it is a test.

    Unlike the storage-only default of tests/azurite.IdentityEndpoint, it issues tokens for any resource, the Azure
    Resource Manager audience the azure-ai-ml SDK asks for included. Tokens are StaticTokenCredential's unsigned JWTs.
    """

    def __init__(self) -> None:
        tokens = StaticTokenCredential(subject="ghostwatch-managed-identity")
        super().__init__(issue=lambda resource: tokens._token((resource,)))
