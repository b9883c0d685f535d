"""A real HTTP server on 127.0.0.1 that plays a Slack incoming webhook: records posts, answers as scripted."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SlackWebhookServer:
    """`responses` is a list of (status, headers) answered in order; after it runs out every post gets 200 'ok'."""

    path = "/services/T000TEST/B000TEST/testtoken0123456789"

    def __init__(self, responses: list[tuple[int, dict]] | None = None) -> None:
        self.responses = list(responses or [])
        self.posts: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.posts.append({"path": self.path, "json": json.loads(body or b"{}")})
                status, headers = server.responses.pop(0) if server.responses else (200, {})
                text = b"ok" if status == 200 else b"invalid_payload" if status == 400 else b"error"
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.path}"

    def __enter__(self) -> "SlackWebhookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
