"""A shop's order API on 127.0.0.1 (a real HTTP server in a thread) for `HttpOrderLookup` tests.

`ShopServer.orders` maps order numbers to the JSON object served at `/api/orders/<number>`;
`script` queues per-request behaviours ("500", "slow" (sleeps past the client's timeout), "ok"),
consumed in order before the normal answer; `requests` records (path, headers) of every request.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ShopServer:
    def __init__(self, *, token: str | None = None, slow_s: float = 1.0) -> None:
        self.orders: dict[str, dict[str, Any]] = {}
        self.script: list[str] = []
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.token = token
        self.slow_s = slow_s
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                with server._lock:
                    server.requests.append((self.path, {k: v for k, v in self.headers.items()}))
                    step = server.script.pop(0) if server.script else "ok"
                if step == "slow":
                    time.sleep(server.slow_s)
                if step == "500":
                    self._send(500, {"error": "boom"})
                    return
                if server.token is not None and self.headers.get("Authorization") != server.token:
                    self._send(401, {"error": "unauthorised"})
                    return
                number = self.path.rsplit("/", 1)[-1]
                order = server.orders.get(number)
                if order is None:
                    self._send(404, {"error": "not found"})
                else:
                    self._send(200, order)

            def _send(self, status: int, body: dict[str, Any]) -> None:
                raw = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout tests)
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}/api/orders/{{order_number}}"

    def __enter__(self) -> ShopServer:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
