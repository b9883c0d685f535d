"""A TokenCredential for the fake Azure ML: unsigned JWTs with the audience the SDK asks for."""
from __future__ import annotations

import base64
import json
import time


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


class ManagedIdentityEndpoint:
    """A managed-identity token endpoint on 127.0.0.1, announced as Azure ML compute announces its own (MSI_ENDPOINT,
    MSI_SECRET), so azure-identity's DefaultAzureCredential signs in to the fake without any code knowing it is a test.

    Unlike tests/azurite.IdentityEndpoint (storage tokens only), it issues tokens for any resource, the Azure
    Resource Manager audience the azure-ai-ml SDK asks for included. Tokens are StaticTokenCredential's unsigned JWTs.
    Stops with `stop()` (or as a context manager); its thread is a daemon.
    """

    def __init__(self) -> None:
        import threading
        import uuid
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import parse_qs, urlsplit

        self.secret = uuid.uuid4().hex
        self.requests: list[dict] = []
        self.issued: list[str] = []
        tokens = StaticTokenCredential(subject="ghostwatch-managed-identity")
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                endpoint.requests.append(query)
                if self.headers.get("secret") != endpoint.secret:
                    return self._reply(401, {"error": "unauthorized", "error_description": "missing or wrong secret header"})
                resource = query.get("resource", "")
                token, expires = tokens._token((resource,))
                endpoint.issued.append(token)
                self._reply(200, {"access_token": token, "expires_on": str(expires), "resource": resource, "token_type": "Bearer"})

            def _reply(self, status: int, body: dict) -> None:
                payload = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/msi/token"
        threading.Thread(target=self._httpd.serve_forever, name="fake-managed-identity", daemon=True).start()

    def environment(self) -> dict[str, str]:
        """The variables azure-identity reads for Azure ML compute's managed identity."""
        return {"MSI_ENDPOINT": self.url, "MSI_SECRET": self.secret}

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> "ManagedIdentityEndpoint":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
