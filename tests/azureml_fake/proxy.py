"""A CONNECT proxy that sends `*.blob.core.windows.net` to the fake, so storage URLs keep their real shape in tests.

The azure-ai-ml SDK builds storage URLs as `https://<account>.blob.<cloud storage endpoint>` with no override, and
no test machine resolves those names. With HTTPS_PROXY pointing here, requests tunnels those connections to the
fake's TLS port (whose certificate covers `*.blob.core.windows.net`); any other host is refused, so nothing leaves
the machine.
"""
from __future__ import annotations

import select
import socket
import socketserver
import threading

TUNNELLED_SUFFIX = ".blob.core.windows.net"


class _TunnelHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        request_line = self.rfile.readline(65537).decode("latin-1").strip()
        while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
            pass
        parts = request_line.split()
        if len(parts) < 2 or parts[0].upper() != "CONNECT":
            self.wfile.write(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            return
        host = parts[1].rsplit(":", 1)[0].lower()
        if not host.endswith(TUNNELLED_SUFFIX):
            self.wfile.write(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.server.target_port), timeout=10)
        except OSError:
            self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            return
        self.wfile.write(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        self.wfile.flush()
        _pump(self.connection, upstream)


def _pump(a: socket.socket, b: socket.socket) -> None:
    sockets = [a, b]
    try:
        while True:
            readable, _, errored = select.select(sockets, [], sockets, 30)
            if errored or not readable:
                return
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    return
                (b if sock is a else a).sendall(data)
    except OSError:
        return
    finally:
        b.close()


class _ThreadingTCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class TunnelProxy:
    """Listens on 127.0.0.1 (ephemeral port) and tunnels CONNECTs for blob hosts to `target_port`."""

    def __init__(self, target_port: int) -> None:
        self._server = _ThreadingTCPServer(("127.0.0.1", 0), _TunnelHandler)
        self._server.target_port = target_port  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-blob-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "TunnelProxy":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
