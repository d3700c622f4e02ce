"""Fake Meta Graph API (WhatsApp Cloud API phone-number node and ``debug_token``).

Routes:

* ``GET /{version}/{phoneNumberId}?fields=...&appsecret_proof=...`` with
  ``Authorization: Bearer TOKEN`` (or ``access_token=`` in the query).
* ``GET /{version}/debug_token?input_token=...&access_token={app_id}|{app_secret}``.

Checks run in the real API's order: token present (2500) -> token valid (190, HTTP 401)
-> ``appsecret_proof`` (100) -> object exists and token may see it (100/33) -> forced
error -> field echo. Only the requested fields are returned (plus ``id``). On v23.0 and
older ``messaging_limit_tier`` is served and ``whatsapp_business_manager_messaging_limit``
is an unknown field (100); on v24.0+ the new field is served and the deprecated
``messaging_limit_tier`` is silently left out.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsdash.fakes.http_base import FakeHTTPServer, RecordedRequest, Response, json_response

__all__ = [
    "DEFAULT_SCOPES",
    "FakeGraphAPI",
    "ForcedGraphError",
    "GraphApp",
    "GraphNumber",
    "appsecret_proof",
    "build_health_status",
]

DEFAULT_SCOPES = ("whatsapp_business_messaging", "whatsapp_business_management")

_SEVERITY = {"AVAILABLE": 0, "LIMITED": 1, "BLOCKED": 2}

_KNOWN_ERRORS: dict[int, tuple[str, str, int]] = {
    0: ("OAuthException", "(#0) Access denied", 400),
    4: ("OAuthException", "(#4) Application request limit reached", 400),
    10: ("OAuthException", "(#10) Application does not have permission for this action", 400),
    100: ("OAuthException", "(#100) Invalid parameter", 400),
    190: ("OAuthException", "Error validating access token: Session has expired", 401),
    200: ("OAuthException", "(#200) Permissions error", 400),
    368: (
        "OAuthException",
        "(#368) Temporarily blocked for policies violations",
        400,
    ),
    80007: ("OAuthException", "(#80007) Rate limit issues", 429),
    130429: ("OAuthException", "(#130429) Rate limit hit", 429),
    130497: (
        "OAuthException",
        "(#130497) Business account is restricted from messaging users in this country",
        400,
    ),
}

_WHATSAPP_CODES = {80007, 130429, 130497}


def appsecret_proof(app_secret: str, token: str) -> str:
    """Return hex HMAC-SHA256(key=app_secret, msg=token), the Graph ``appsecret_proof``."""
    return hmac.new(app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()


def build_health_status(entities: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Build a ``health_status`` object whose overall value is the worst entity's."""
    entity_list = [dict(e) for e in entities]
    worst = max(
        (e.get("can_send_message", "AVAILABLE") for e in entity_list),
        key=lambda v: _SEVERITY.get(v, 0),
        default="AVAILABLE",
    )
    return {"can_send_message": worst, "entities": entity_list}


@dataclass
class ForcedGraphError:
    """An error the fake returns instead of the node, ``times`` times (``None`` = always)."""

    code: int
    message: str
    type: str = "OAuthException"
    http_status: int = 400
    error_subcode: int | None = None
    times: int | None = None

    def body(self) -> dict[str, Any]:
        """The Graph error body for this error."""
        error: dict[str, Any] = {"message": self.message, "type": self.type, "code": self.code}
        if self.error_subcode is not None:
            error["error_subcode"] = self.error_subcode
        if self.code in _WHATSAPP_CODES:
            error["error_data"] = {"messaging_product": "whatsapp", "details": self.message}
        return {"error": error}


@dataclass
class GraphApp:
    """A Meta app: its secret and whether server calls must carry an ``appsecret_proof``."""

    app_id: str
    app_secret: str | None = None
    require_proof: bool = False
    name: str = "Opsdash Test App"


@dataclass
class GraphToken:
    """An access token and what ``debug_token`` says about it."""

    token: str
    app_id: str
    scopes: list[str] = field(default_factory=lambda: list(DEFAULT_SCOPES))
    valid: bool = True
    expires_at: int = 0
    type: str = "SYSTEM_USER"
    user_id: str = "10000000000001"
    issued_at: int = field(default_factory=lambda: int(time.time()) - 86400)


@dataclass
class GraphNumber:
    """A registered phone number: node fields, who may read it, and error knobs."""

    phone_number_id: str
    tokens: set[str]
    app_id: str
    waba_id: str
    business_id: str
    fields: dict[str, Any]
    force_error: ForcedGraphError | None = None


class FakeGraphAPI(FakeHTTPServer):
    """Loopback stand-in for ``https://graph.facebook.com``.

    ``business_use_case_usage``, when set, is sent as ``X-Business-Use-Case-Usage``
    (JSON-encoded) on every node response; ``app_usage`` likewise as ``X-App-Usage``.
    """

    def __init__(self) -> None:
        super().__init__()
        self.apps: dict[str, GraphApp] = {}
        self.tokens: dict[str, GraphToken] = {}
        self.numbers: dict[str, GraphNumber] = {}
        self.business_use_case_usage: dict[str, Any] | None = None
        self.app_usage: dict[str, Any] | None = None
        self.router.add("GET", r"/(?P<version>[^/]+)/debug_token", self._debug_token)
        self.router.add("GET", r"/(?P<version>[^/]+)/(?P<node>[^/]+)", self._node)

    def add_number(
        self,
        phone_number_id: str,
        *,
        token: str,
        app_secret: str | None = None,
        require_appsecret_proof: bool = False,
        app_id: str = "1234567890123456",
        waba_id: str = "102290129340398",
        business_id: str = "998877665544332",
        scopes: Iterable[str] = DEFAULT_SCOPES,
        **fields: Any,
    ) -> GraphNumber:
        """Register a number readable with ``token``; ``fields`` override healthy defaults.

        ``messaging_limit`` sets the tier served under both messaging-limit field names.
        ``health_status`` may be given whole; otherwise it is built from the entity ids.
        """
        with self.lock:
            app = self.apps.setdefault(app_id, GraphApp(app_id=app_id))
            if app_secret is not None:
                app.app_secret = app_secret
            app.require_proof = app.require_proof or require_appsecret_proof
            if token not in self.tokens:
                self.tokens[token] = GraphToken(token=token, app_id=app_id, scopes=list(scopes))
            digits = re.sub(r"\D", "", phone_number_id)[-4:].rjust(4, "0")
            node: dict[str, Any] = {
                "id": phone_number_id,
                "display_phone_number": f"+1 555-010-{digits}",
                "verified_name": "Opsdash Test",
                "status": "CONNECTED",
                "quality_rating": "GREEN",
                "name_status": "APPROVED",
                "code_verification_status": "VERIFIED",
                "platform_type": "CLOUD_API",
                "throughput": {"level": "STANDARD"},
                "account_mode": "LIVE",
                "messaging_limit": "TIER_2K",
            }
            node.update(fields)
            node.setdefault(
                "health_status",
                build_health_status(
                    [
                        {
                            "entity_type": "PHONE_NUMBER",
                            "id": phone_number_id,
                            "can_send_message": "AVAILABLE",
                        },
                        {"entity_type": "WABA", "id": waba_id, "can_send_message": "AVAILABLE"},
                        {
                            "entity_type": "BUSINESS",
                            "id": business_id,
                            "can_send_message": "AVAILABLE",
                        },
                        {"entity_type": "APP", "id": app_id, "can_send_message": "AVAILABLE"},
                    ]
                ),
            )
            number = GraphNumber(
                phone_number_id=phone_number_id,
                tokens={token},
                app_id=app_id,
                waba_id=waba_id,
                business_id=business_id,
                fields=node,
            )
            self.numbers[phone_number_id] = number
            return number

    def set_fields(self, phone_number_id: str, **fields: Any) -> None:
        """Change node fields of a registered number (e.g. ``quality_rating="RED"``)."""
        with self.lock:
            self.numbers[phone_number_id].fields.update(fields)

    def force_error(
        self,
        phone_number_id: str,
        code: int,
        *,
        message: str | None = None,
        http_status: int | None = None,
        error_subcode: int | None = None,
        error_type: str | None = None,
        times: int | None = None,
    ) -> ForcedGraphError:
        """Make reads of this number fail with Graph error ``code``.

        Defaults for message, type and HTTP status come from a table of the documented
        codes (rate-limit codes 80007/130429 answer 429, the rest 400, 190 answers 401).
        """
        default_type, default_message, default_status = _KNOWN_ERRORS.get(
            code, ("OAuthException", f"(#{code}) Forced error", 400)
        )
        forced = ForcedGraphError(
            code=code,
            message=message or default_message,
            type=error_type or default_type,
            http_status=http_status or default_status,
            error_subcode=error_subcode,
            times=times,
        )
        with self.lock:
            self.numbers[phone_number_id].force_error = forced
        return forced

    def clear_error(self, phone_number_id: str) -> None:
        """Undo :meth:`force_error`."""
        with self.lock:
            self.numbers[phone_number_id].force_error = None

    def expire_token(self, token: str) -> None:
        """Mark a token invalid; node reads then answer 190 / HTTP 401."""
        with self.lock:
            self.tokens[token].valid = False

    def _graph_error(
        self,
        status: int,
        code: int,
        message: str,
        error_type: str = "OAuthException",
        subcode: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        error: dict[str, Any] = {"message": message, "type": error_type, "code": code}
        if subcode is not None:
            error["error_subcode"] = subcode
        error["fbtrace_id"] = _trace_id()
        return json_response(status, {"error": error}, headers)

    def not_found(self, request: RecordedRequest) -> Response:
        """Graph's answer to a path it does not know."""
        return self._graph_error(400, 100, f"Unknown path components: {request.path}", "OAuthException")

    def _usage_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        if self.business_use_case_usage is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps(self.business_use_case_usage)
        if self.app_usage is not None:
            headers["X-App-Usage"] = json.dumps(self.app_usage)
        return headers

    def _authenticate(self, request: RecordedRequest) -> GraphToken | Response:
        token = request.bearer_token() or request.param("access_token")
        if not token:
            return self._graph_error(
                400,
                2500,
                "An active access token must be used to query information about the current user.",
            )
        info = self.tokens.get(token)
        if info is None:
            return self._graph_error(401, 190, "Error validating access token: Invalid OAuth access token.")
        if not info.valid:
            return self._graph_error(
                401,
                190,
                "Error validating access token: Session has expired on Friday, "
                "01-Jan-2021 00:00:00 PST. The current time is later.",
                subcode=463,
            )
        app = self.apps[info.app_id]
        proof = request.param("appsecret_proof")
        if proof is not None and app.app_secret is not None:
            if not hmac.compare_digest(proof, appsecret_proof(app.app_secret, token)):
                return self._graph_error(
                    400,
                    100,
                    "Invalid appsecret_proof provided in the API argument",
                    "GraphMethodException",
                )
        elif proof is None and app.require_proof:
            return self._graph_error(
                400,
                100,
                "API calls from the server require an appsecret_proof argument",
                "GraphMethodException",
            )
        return info

    def _node(self, request: RecordedRequest) -> Response:
        version = _parse_version(request.path_params["version"])
        if version is None:
            return self.not_found(request)
        auth = self._authenticate(request)
        if isinstance(auth, Response):
            return auth
        node_id = request.path_params["node"]
        number = self.numbers.get(node_id)
        if number is None or auth.token not in number.tokens:
            return self._graph_error(
                400,
                100,
                f"Unsupported get request. Object with ID '{node_id}' does not exist, cannot "
                "be loaded due to missing permissions, or does not support this operation. "
                "Please read the Graph API documentation at "
                "https://developers.facebook.com/docs/graph-api",
                "GraphMethodException",
                subcode=33,
            )
        forced = number.force_error
        if forced is not None:
            if forced.times is not None:
                forced.times -= 1
                if forced.times <= 0:
                    number.force_error = None
            body = forced.body()
            body["error"]["fbtrace_id"] = _trace_id()
            return json_response(forced.http_status, body, self._usage_headers())
        requested = [
            f.strip()
            for f in (
                request.param("fields") or "id,display_phone_number,verified_name,quality_rating"
            ).split(",")
            if f.strip()
        ]
        result: dict[str, Any] = {}
        for name in requested:
            value = _field_value(number.fields, name, version)
            if value is _UNKNOWN:
                return self._graph_error(
                    400,
                    100,
                    f"(#100) Tried accessing nonexisting field ({name}) on node type "
                    "(WhatsAppBusinessPhoneNumber)",
                )
            if value is not _OMIT:
                result[name] = value
        result["id"] = number.phone_number_id
        return json_response(200, result, self._usage_headers())

    def _debug_token(self, request: RecordedRequest) -> Response:
        access = request.bearer_token() or request.param("access_token")
        input_token = request.param("input_token")
        if not access:
            return self._graph_error(400, 2500, "An active access token must be used to query information.")
        caller_app: GraphApp | None = None
        if "|" in access:
            app_id, _, secret = access.partition("|")
            app = self.apps.get(app_id)
            if app is not None and app.app_secret is not None and hmac.compare_digest(secret, app.app_secret):
                caller_app = app
        else:
            info = self.tokens.get(access)
            if info is not None and info.valid:
                caller_app = self.apps[info.app_id]
        if caller_app is None:
            return self._graph_error(401, 190, "Error validating access token: Invalid OAuth access token.")
        if not input_token:
            return self._graph_error(400, 100, "(#100) The parameter input_token is required")
        target = self.tokens.get(input_token)
        if target is None or not target.valid:
            data: dict[str, Any] = {
                "is_valid": False,
                "scopes": [],
                "error": {
                    "code": 190,
                    "message": "Invalid OAuth access token." if target is None else "Session has expired.",
                },
            }
            return json_response(200, {"data": data})
        if target.app_id != caller_app.app_id:
            return self._graph_error(
                400,
                100,
                "(#100) You must provide an app access token, or a user access token that "
                "is an owner or developer of the app",
            )
        target_app = self.apps[target.app_id]
        waba_ids = sorted({n.waba_id for n in self.numbers.values() if target.token in n.tokens})
        data = {
            "app_id": target.app_id,
            "type": target.type,
            "application": target_app.name,
            "data_access_expires_at": 0,
            "expires_at": target.expires_at,
            "is_valid": True,
            "issued_at": target.issued_at,
            "scopes": list(target.scopes),
            "granular_scopes": [
                {"scope": s, "target_ids": waba_ids} for s in target.scopes if s.startswith("whatsapp_")
            ],
            "user_id": target.user_id,
        }
        return json_response(200, {"data": data})


_UNKNOWN = object()
_OMIT = object()

_NODE_FIELDS = {
    "id",
    "display_phone_number",
    "verified_name",
    "status",
    "quality_rating",
    "name_status",
    "new_name_status",
    "code_verification_status",
    "platform_type",
    "throughput",
    "account_mode",
    "health_status",
    "is_official_business_account",
    "is_pin_enabled",
    "last_onboarded_time",
    "messaging_limit_tier",
    "whatsapp_business_manager_messaging_limit",
}


def _field_value(fields: Mapping[str, Any], name: str, version: tuple[int, int]) -> Any:
    new_api = version >= (24, 0)
    if name == "messaging_limit_tier":
        if new_api:
            return _OMIT
        return fields.get("messaging_limit_tier", fields.get("messaging_limit", _OMIT))
    if name == "whatsapp_business_manager_messaging_limit":
        if not new_api:
            return _UNKNOWN
        return fields.get(name, fields.get("messaging_limit", _OMIT))
    if name in fields:
        return fields[name]
    return _OMIT if name in _NODE_FIELDS else _UNKNOWN


def _parse_version(text: str) -> tuple[int, int] | None:
    found = re.fullmatch(r"v(\d+)\.(\d+)", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _trace_id() -> str:
    return "A" + secrets.token_urlsafe(16)
