"""Fake next-auth v5 route handler (``/api/auth/providers``, ``/csrf``, ``/session``).

``callback_origin`` sets the origin used in each provider's ``callbackUrl`` (defaults to
the fake's own URL); set it to ``http://localhost:3000`` to model an ``AUTH_URL`` left
pointing at a dev machine. ``mode`` picks the failure, if any:

* ``"ok"``: 200 JSON providers.
* ``"config_error"``: 500 ``{"message": "There was a problem with the server configuration..."}``
  as next-auth answers when e.g. ``AUTH_SECRET`` is missing.
* ``"html"``: 200 ``text/html`` page (a catch-all route or SPA fallback answered instead).
* ``"protected"``: 401 HTML like Vercel Deployment Protection on preview URLs.
"""

from __future__ import annotations

import secrets
import ssl
from collections.abc import Iterable
from typing import Literal

from opsdash.fakes.http_base import FakeHTTPServer, RecordedRequest, Response, json_response

__all__ = ["AuthMode", "FakeAuthRoute"]

AuthMode = Literal["ok", "config_error", "html", "protected"]

CONFIG_ERROR_MESSAGE = (
    "There was a problem with the server configuration. Check the server logs for more information."
)

_PROVIDER_NAMES = {"google": "Google", "github": "GitHub", "credentials": "Credentials"}


class FakeAuthRoute(FakeHTTPServer):
    """Loopback stand-in for a Next.js app's next-auth v5 route handler."""

    def __init__(
        self,
        *,
        providers: Iterable[str] = ("google",),
        callback_origin: str | None = None,
        base_path: str = "/api/auth",
        mode: AuthMode = "ok",
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        super().__init__(tls_context=tls_context)
        self.providers = list(providers)
        self.callback_origin = callback_origin
        self.base_path = base_path.rstrip("/")
        self.mode: AuthMode = mode
        self.csrf_token = secrets.token_hex(32)
        base = self.base_path
        self.router.add("GET", base + r"/providers", self._providers)
        self.router.add("GET", base + r"/csrf", self._csrf)
        self.router.add("GET", base + r"/session", self._session)

    def _origin(self) -> str:
        return (self.callback_origin or self.url).rstrip("/")

    def intercept(self, request: RecordedRequest) -> Response | None:
        """Serve the failure selected by :attr:`mode` for every path."""
        if self.mode == "config_error":
            return json_response(500, {"message": CONFIG_ERROR_MESSAGE})
        if self.mode == "html":
            return _html(
                200,
                "<!DOCTYPE html><html><head><title>Shop</title></head>"
                '<body><div id="__next"></div></body></html>',
            )
        if self.mode == "protected":
            return _html(
                401,
                "<!DOCTYPE html><html><head><title>Authentication Required"
                "</title></head><body>Vercel Authentication</body></html>",
            )
        return None

    def not_found(self, request: RecordedRequest) -> Response:
        """Next.js's 404 page."""
        return _html(404, "<!DOCTYPE html><html><body>404: This page could not be found.</body></html>")

    def _providers(self, request: RecordedRequest) -> Response:
        origin = self._origin()
        body = {
            pid: {
                "id": pid,
                "name": _PROVIDER_NAMES.get(pid, pid.title()),
                "type": "credentials" if pid == "credentials" else "oidc",
                "signinUrl": f"{origin}{self.base_path}/signin/{pid}",
                "callbackUrl": f"{origin}{self.base_path}/callback/{pid}",
            }
            for pid in self.providers
        }
        return json_response(200, body)

    def _csrf(self, request: RecordedRequest) -> Response:
        return json_response(200, {"csrfToken": self.csrf_token})

    def _session(self, request: RecordedRequest) -> Response:
        return json_response(200, None)


def _html(status: int, text: str) -> Response:
    return Response(status, text.encode(), {"Content-Type": "text/html; charset=utf-8"})
