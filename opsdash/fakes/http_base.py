"""Shared plumbing for the loopback HTTP fakes.
from opsdash.fakes.lifecycle import StartStop

A fake subclasses :class:`FakeHTTPServer`, registers routes on its :class:`Router`
and returns :class:`Response` objects. The server runs a
``http.server.ThreadingHTTPServer`` bound to ``127.0.0.1`` port 0 in a daemon thread,
records every request it receives (secrets included, since this is test
infrastructure) and never writes anything to stdout or stderr.
"""

from __future__ import annotations

import json
import re
import ssl
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from opsdash.fakes.lifecycle import StartStop

__all__ = [
    "FakeHTTPServer",
    "RecordedRequest",
    "Response",
    "Router",
    "json_response",
]


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    path_params: dict[str, str] = field(default_factory=dict)

    def param(self, name: str, default: str | None = None) -> str | None:
        """Return the first value of query parameter ``name``."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """Return a request header, looked up case-insensitively."""
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """Decode the body as JSON (``None`` for an empty body)."""
        return json.loads(self.body) if self.body else None

    def bearer_token(self) -> str | None:
        """Return the token of an ``Authorization: Bearer`` header, if any."""
        value = self.header("authorization")
        if value is None:
            return None
        scheme, _, token = value.partition(" ")
        return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@dataclass
class Response:
    """A response to send back: status, raw body and headers."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """Decode the body as JSON."""
        return json.loads(self.body)


def json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> Response:
    """Build a JSON :class:`Response`."""
    all_headers = {"Content-Type": "application/json; charset=utf-8"}
    all_headers.update(headers or {})
    return Response(status, json.dumps(payload).encode(), all_headers)


Handler = Callable[[RecordedRequest], Response]


class Router:
    """Maps ``(method, path regex)`` to handlers; named groups become path params."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        """Register ``handler`` for ``method`` on paths fully matching ``pattern``."""
        self._routes.append((method.upper(), re.compile(pattern), handler))

    def match(self, method: str, path: str) -> tuple[Handler, dict[str, str]] | None:
        """Return the handler and path params for a request, or ``None``."""
        for route_method, pattern, handler in self._routes:
            found = pattern.fullmatch(path)
            if found and route_method == method:
                return handler, found.groupdict()
        return None


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeHTTPServer
    tls_context: ssl.SSLContext | None = None

    def finish_request(self, request: Any, client_address: Any) -> None:
        """Serve one connection, with the TLS handshake (if any) in the connection's own thread."""
        if self.tls_context is not None:
            try:
                request = self.tls_context.wrap_socket(request, server_side=True)
            except (ssl.SSLError, OSError):
                return
        super().finish_request(request, client_address)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Swallow handler errors (e.g. client resets) instead of printing them."""


class _RequestHandler(BaseHTTPRequestHandler):
    server: _QuietServer
    server_version = "opsdash-fake/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default per-request logging."""

    def _serve(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = RecordedRequest(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        response = self.server.fake._dispatch(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve


class FakeHTTPServer(StartStop):
    """Base class: threaded loopback server, routing and request recording.

    Handlers run one at a time under :attr:`lock`; tests that mutate a running fake's
    state from another thread can hold the same lock.
    """

    def __init__(self, *, tls_context: ssl.SSLContext | None = None) -> None:
        self.tls_context = tls_context
        self.router = Router()
        self.requests: list[RecordedRequest] = []
        self.errors: list[BaseException] = []
        self.lock = threading.RLock()
        self._cond = threading.Condition()
        self._server: _QuietServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Bind to a free loopback port, start serving and return the base URL."""
        if self._server is not None:
            return self.url
        server = _QuietServer(("127.0.0.1", 0), _RequestHandler)
        server.fake = self
        server.tls_context = self.tls_context
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-http",
            daemon=True,
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and release the port."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    @property
    def url(self) -> str:
        """Base URL such as ``http://127.0.0.1:54321`` (no trailing slash)."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not running")
        host, port = self._server.server_address[:2]
        scheme = "https" if self.tls_context is not None else "http"
        return f"{scheme}://{host}:{port}"

    def clear_requests(self) -> None:
        """Forget the recorded requests."""
        with self._cond:
            self.requests.clear()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> bool:
        """Block until at least ``count`` requests were handled; ``False`` on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.requests) >= count, timeout)

    def requests_to(self, path_regex: str, method: str | None = None) -> list[RecordedRequest]:
        """Recorded requests whose path fully matches ``path_regex``."""
        pattern = re.compile(path_regex)
        with self._cond:
            return [
                r
                for r in self.requests
                if pattern.fullmatch(r.path) and (method is None or r.method == method)
            ]

    def not_found(self, request: RecordedRequest) -> Response:
        """Response for unrouted requests; fakes may override to match their API."""
        return json_response(404, {"error": {"message": f"No route for {request.path}"}})

    def intercept(self, request: RecordedRequest) -> Response | None:
        """Hook run before routing; a returned response short-circuits the route."""
        return None

    def _dispatch(self, request: RecordedRequest) -> Response:
        found = self.router.match(request.method, request.path)
        if found is not None:
            handler, params = found
            request = RecordedRequest(
                request.method,
                request.path,
                request.query,
                request.headers,
                request.body,
                params,
            )
        try:
            with self.lock:
                response = self.intercept(request)
                if response is None:
                    response = handler(request) if found is not None else self.not_found(request)
        except Exception as exc:
            self.errors.append(exc)
            response = json_response(500, {"error": {"message": f"fake server error: {type(exc).__name__}"}})
        with self._cond:
            self.requests.append(request)
            self._cond.notify_all()
        return response
