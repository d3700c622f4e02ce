"""Every row of the issue's mapping tables, on the pure decision functions (no I/O)."""

from __future__ import annotations

import socket
import ssl
from datetime import UTC, datetime
from typing import Any

import aiosmtplib
import pytest

from opsdash.checks import auth, cloudinary, config, db, fallback, isolation, smtp, whatsapp
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.verdict import as_fallback, classify_network_error
from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.fleet import parse_mongo_url
from opsdash.config.resolve import CompanyRead, Finding, resolve_tenant
from opsdash.testing.fleetfile import TenantFiles
from opsdash.testing.seed import healthy_company
from tests.checks.conftest import FleetFactory, resolved

HEALTHY_NODE: dict[str, Any] = {
    "id": "1099000000001",
    "display_phone_number": "+1 555-010-0001",
    "verified_name": "Acme",
    "status": "CONNECTED",
    "quality_rating": "GREEN",
    "name_status": "APPROVED",
    "platform_type": "CLOUD_API",
    "account_mode": "LIVE",
    "messaging_limit_tier": "TIER_2K",
    "health_status": {"can_send_message": "AVAILABLE", "entities": []},
}


def graph_error(code: int, message: str = "boom", subcode: int | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"message": message, "type": "OAuthException", "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    return {"error": error}


# --- whatsapp ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "body", "status", "error_class", "words"),
    [
        (
            401,
            graph_error(190, "Error validating access token"),
            Status.CRIT,
            "auth",
            "token invalid or expired",
        ),
        (400, graph_error(100, "Unsupported get request", 33), Status.CRIT, "auth", "wrong phone number id"),
        (
            400,
            graph_error(100, "Invalid appsecret_proof provided in the API argument"),
            Status.CRIT,
            "auth",
            "wrong app secret",
        ),
        (
            400,
            graph_error(100, "API calls from the server require an appsecret_proof argument"),
            Status.CRIT,
            "auth",
            "requires appsecret_proof",
        ),
        (
            400,
            graph_error(4, "(#4) Application request limit reached"),
            Status.WARN,
            "condition",
            "rate limited",
        ),
        (429, graph_error(80007, "(#80007) Rate limit issues"), Status.WARN, "condition", "rate limited"),
        (429, graph_error(130429, "(#130429) Rate limit hit"), Status.WARN, "condition", "rate limited"),
        (400, graph_error(10, "no permission"), Status.CRIT, "auth", "permission"),
        (400, graph_error(200, "Permissions error"), Status.CRIT, "auth", "permission"),
        (400, graph_error(368, "blocked for policies"), Status.CRIT, "condition", "policy"),
        (500, graph_error(2, "Service temporarily unavailable"), Status.CRIT, "protocol", "Graph error 2"),
        (502, None, Status.CRIT, "protocol", "did not answer JSON"),
        (200, [1, 2], Status.CRIT, "protocol", "did not answer JSON"),
    ],
)
def test_whatsapp_errors_branch_on_graph_code(
    http_status: int, body: Any, status: Status, error_class: str, words: str
) -> None:
    verdict = whatsapp.decide(http_status, body, "v23.0")
    assert (verdict.status, verdict.error_class) == (status, error_class)
    assert words in verdict.summary


def test_whatsapp_branches_on_code_not_http_status() -> None:
    """A 190 served with HTTP 400 is still an expired token; a rate limit served 200 is still WARN."""
    assert "token invalid" in whatsapp.decide(400, graph_error(190), "v23.0").summary
    assert whatsapp.decide(200, graph_error(130429), "v23.0").status == Status.WARN


def test_whatsapp_subcode_33_needs_code_100() -> None:
    assert "wrong phone number id" not in whatsapp.decide(400, graph_error(2, subcode=33), "v23.0").summary


@pytest.mark.parametrize(
    ("fields", "status", "words"),
    [
        ({}, Status.OK, "ok: Acme"),
        ({"health_status": {"can_send_message": "BLOCKED", "entities": []}}, Status.CRIT, "health BLOCKED"),
        ({"health_status": {"can_send_message": "LIMITED", "entities": []}}, Status.WARN, "health LIMITED"),
        ({"quality_rating": "RED"}, Status.CRIT, "quality RED"),
        ({"quality_rating": "YELLOW"}, Status.WARN, "quality YELLOW"),
        ({"status": "FLAGGED"}, Status.WARN, "status FLAGGED"),
        ({"status": "RESTRICTED"}, Status.WARN, "status RESTRICTED"),
        ({"status": "BANNED"}, Status.CRIT, "status BANNED"),
        ({"name_status": "DECLINED"}, Status.WARN, "display name DECLINED"),
        ({"platform_type": "ON_PREMISE"}, Status.WARN, "not CLOUD_API"),
        ({"account_mode": "SANDBOX"}, Status.WARN, "SANDBOX"),
        ({"quality_rating": "NA"}, Status.OK, "quality NA"),
    ],
)
def test_whatsapp_node_conditions(fields: dict[str, Any], status: Status, words: str) -> None:
    verdict = whatsapp.decide(200, {**HEALTHY_NODE, **fields}, "v23.0")
    assert verdict.status == status
    assert words in verdict.summary


def test_whatsapp_worst_condition_wins_and_all_are_listed() -> None:
    node = {
        **HEALTHY_NODE,
        "quality_rating": "YELLOW",
        "status": "FLAGGED",
        "health_status": {
            "can_send_message": "BLOCKED",
            "entities": [
                {
                    "entity_type": "WABA",
                    "can_send_message": "BLOCKED",
                    "errors": [{"error_code": 141006, "error_description": "payment method missing"}],
                }
            ],
        },
    }
    verdict = whatsapp.decide(200, node, "v23.0")
    assert verdict.status == Status.CRIT
    assert verdict.summary.startswith("health BLOCKED")
    assert "payment method missing" in verdict.summary
    assert "quality YELLOW" in verdict.summary and "status FLAGGED" in verdict.summary


@pytest.mark.parametrize(
    ("version", "field"),
    [
        ("v19.0", "messaging_limit_tier"),
        ("v23.0", "messaging_limit_tier"),
        ("v24.0", "whatsapp_business_manager_messaging_limit"),
        ("v25.1", "whatsapp_business_manager_messaging_limit"),
    ],
)
def test_whatsapp_messaging_limit_field_depends_on_version(version: str, field: str) -> None:
    assert whatsapp.limit_field(version) == field
    assert whatsapp.requested_fields(version).split(",")[-1] == field
    node = {**HEALTHY_NODE, field: "TIER_10K"}
    assert whatsapp.decide(200, node, version).details["messaging_limit"] == "TIER_10K"


def test_appsecret_proof_is_hmac_sha256_hex() -> None:
    # Reference value: HMAC-SHA256(key="secret", msg="token"), computed independently.
    import hashlib
    import hmac

    expected = hmac.new(b"secret", b"token", hashlib.sha256).hexdigest()
    assert whatsapp.appsecret_proof("secret", "token") == expected
    assert len(expected) == 64


# --- cloudinary ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "status", "error_class", "words"),
    [
        ("Error 401 - Unknown API key 123", Status.CRIT, "auth", "Unknown API key 123"),
        ("Error 401 - Invalid cloud_name nope", Status.CRIT, "auth", "Invalid cloud_name nope"),
        ("Error 403 - Not allowed", Status.CRIT, "auth", "403"),
        ("Error 420 - Rate Limit Exceeded", Status.WARN, "condition", "rate limited"),
        ("Error 429 - Rate Limit Exceeded", Status.WARN, "condition", "rate limited"),
        ("Error 500 - General Error", Status.CRIT, "protocol", "500"),
        ("Error parsing server response (502) - b'<html>'. Got - x", Status.CRIT, "protocol", "unreachable"),
    ],
)
def test_cloudinary_http_failures(text: str, status: Status, error_class: str, words: str) -> None:
    verdict = cloudinary.decide_failure(cloudinary.failure_from("ping", Exception(text)))
    assert (verdict.status, verdict.error_class) == (status, error_class)
    assert words in verdict.summary


@pytest.mark.parametrize(
    ("text", "error_class"),
    [
        (
            "Unexpected error HTTPSConnectionPool(host='x', port=443): Max retries exceeded (Caused by "
            "NameResolutionError(\"Failed to resolve 'x' ([Errno -2] Name or service not known)\"))",
            "dns",
        ),
        (
            "Unexpected error HTTPConnectionPool(host='127.0.0.1', port=1): Max retries exceeded (Caused by "
            "NewConnectionError('Failed to establish a new connection: [Errno 111] Connection refused'))",
            "connect",
        ),
        (
            "Unexpected error HTTPConnectionPool(host='127.0.0.1', port=1): Read timed out. (read timeout=1)",
            "timeout",
        ),
        (
            "Unexpected error (Caused by SSLError(SSLCertVerificationError(1, 'certificate verify failed')))",
            "tls",
        ),
    ],
)
def test_cloudinary_network_failures(text: str, error_class: str) -> None:
    verdict = cloudinary.decide_failure(cloudinary.failure_from("ping", Exception(text)))
    assert (verdict.status, verdict.error_class) == (Status.CRIT, error_class)


@pytest.mark.parametrize(
    ("used", "status"),
    [
        (0, Status.OK),
        (79.9, Status.OK),
        (80, Status.WARN),
        (94.99, Status.WARN),
        (95, Status.CRIT),
        (120, Status.CRIT),
    ],
)
def test_cloudinary_usage_thresholds(used: float, status: Status) -> None:
    probe = cloudinary.CloudinaryProbe("acme", usage={"credits": {"used_percent": used}})
    assert cloudinary.decide(probe).status == status


def test_cloudinary_missing_preset_is_crit_and_ping_failure_stops() -> None:
    missing = cloudinary.CloudinaryProbe("acme", preset="p", preset_found=False, usage={})
    assert cloudinary.decide(missing).status == Status.CRIT
    assert "upload preset 'p' does not exist" in cloudinary.decide(missing).summary
    failed = cloudinary.CloudinaryProbe("acme", ping=cloudinary.ApiFailure("ping", "Unknown API key 1", 401))
    assert cloudinary.decide(failed).summary == "credentials rejected (401: Unknown API key 1)"
    ok = cloudinary.CloudinaryProbe(
        "acme", preset="p", preset_found=True, usage={"credits": {"used_percent": 5}}
    )
    assert cloudinary.decide(ok).status == Status.OK
    assert "preset 'p' exists" in cloudinary.decide(ok).summary


# --- smtp ----------------------------------------------------------------------------------------


def _caused(outer: BaseException, cause: BaseException) -> BaseException:
    outer.__cause__ = cause
    return outer


@pytest.mark.parametrize(
    ("exc", "stage", "implicit", "kind", "error_class"),
    [
        (
            _caused(aiosmtplib.SMTPConnectError("x"), socket.gaierror(-2, "Name or service not known")),
            "connect",
            False,
            "dns",
            "dns",
        ),
        (
            _caused(aiosmtplib.SMTPConnectError("x"), ConnectionRefusedError(111, "refused")),
            "connect",
            False,
            "refused",
            "connect",
        ),
        (
            aiosmtplib.SMTPConnectTimeoutError("Timed out waiting for server ready message"),
            "connect",
            False,
            "timeout",
            "timeout",
        ),
        (
            aiosmtplib.SMTPReadTimeoutError("Timed out waiting for server response"),
            "auth",
            False,
            "timeout",
            "timeout",
        ),
        (
            _caused(
                aiosmtplib.SMTPConnectError("x"),
                ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            ),
            "connect",
            True,
            "tls_mismatch",
            "tls",
        ),
        (
            _caused(
                aiosmtplib.SMTPConnectError("x"), ssl.SSLCertVerificationError(1, "certificate verify failed")
            ),
            "connect",
            True,
            "certificate",
            "tls",
        ),
        (
            ssl.SSLCertVerificationError(1, "certificate verify failed"),
            "starttls",
            False,
            "certificate",
            "tls",
        ),
        (ssl.SSLError(1, "[SSL] handshake failure"), "starttls", False, "tls", "tls"),
        (
            aiosmtplib.SMTPNotSupported("SMTP AUTH extension not supported by server."),
            "auth",
            False,
            "auth_not_offered",
            "auth",
        ),
        (
            aiosmtplib.SMTPNotSupported("STARTTLS extension not supported by server."),
            "starttls",
            False,
            "starttls_not_offered",
            "tls",
        ),
        (
            aiosmtplib.SMTPAuthenticationError(535, "5.7.8 Authentication credentials invalid"),
            "auth",
            False,
            "auth_rejected",
            "auth",
        ),
        (aiosmtplib.SMTPServerDisconnected("Connection lost"), "ehlo", False, "disconnected", "protocol"),
        (aiosmtplib.SMTPHeloError(501, "bad hostname"), "ehlo", False, "response", "protocol"),
    ],
)
def test_smtp_failure_classification(
    exc: BaseException, stage: smtp.Stage, implicit: bool, kind: str, error_class: str
) -> None:
    failure = smtp.classify(exc, stage, implicit)
    assert failure.kind == kind
    verdict = smtp.decide(smtp.SmtpProbe("mail.example", 465 if implicit else 587, implicit, failure))
    assert (verdict.status, verdict.error_class) == (Status.CRIT, error_class)


def test_smtp_summaries_name_the_cause() -> None:
    def summary(kind: smtp.FailureKind, implicit: bool = False, code: int | None = None) -> str:
        failure = smtp.SmtpFailure(kind, "auth", "5.7.8 invalid", code)
        return smtp.decide(smtp.SmtpProbe("h", 465 if implicit else 587, implicit, failure)).summary

    assert summary("auth_rejected", code=535) == "h:587: AUTH rejected (535): 5.7.8 invalid"
    assert "port 465 expects implicit TLS" in summary("tls_mismatch", implicit=True)
    assert "implicit TLS on 587" in summary("tls_mismatch")
    assert summary("auth_not_offered") == "h:587: server does not offer AUTH after STARTTLS"
    assert "connection refused" in summary("refused")
    assert "host name does not resolve" in summary("dns")


def test_smtp_421_is_transient_warn_and_success_is_ok() -> None:
    busy = smtp.SmtpProbe("h", 587, False, smtp.SmtpFailure("response", "connect", "try later", 421))
    assert smtp.decide(busy).status == Status.WARN
    ok = smtp.decide(smtp.SmtpProbe("h", 587, False, None, tls_version="TLSv1.3"))
    assert ok.status == Status.OK and "AUTH accepted" in ok.summary


# --- auth ----------------------------------------------------------------------------------------


ORIGIN = "https://shop.example"


def providers(*origins: str) -> dict[str, Any]:
    return {
        f"p{i}": {"id": f"p{i}", "callbackUrl": f"{o}/api/auth/callback/p{i}"} for i, o in enumerate(origins)
    }


@pytest.mark.parametrize(
    ("http_status", "body", "status", "error_class", "words"),
    [
        (200, providers(ORIGIN, ORIGIN), Status.OK, None, "2 provider(s)"),
        (200, providers(ORIGIN + ":443"), Status.OK, None, "1 provider(s)"),
        (200, providers("http://localhost:3000"), Status.CRIT, "condition", "http://localhost:3000"),
        (200, providers(ORIGIN, "https://other.example"), Status.CRIT, "condition", "https://other.example"),
        (200, providers("http://shop.example"), Status.CRIT, "condition", "http://shop.example"),
        (200, {"google": {"id": "google"}}, Status.CRIT, "condition", "no callbackUrl"),
        (200, {}, Status.WARN, "condition", "no auth providers"),
        (200, None, Status.CRIT, "protocol", "did not answer a JSON object"),
        (
            500,
            {"message": "There was a problem with the server configuration."},
            Status.CRIT,
            "protocol",
            "problem with the server configuration",
        ),
        (401, None, Status.CRIT, "auth", "protected"),
        (404, None, Status.CRIT, "protocol", "HTTP 404"),
        (307, None, Status.CRIT, "protocol", "redirects"),
    ],
)
def test_auth_providers_mapping(
    http_status: int, body: Any, status: Status, error_class: str | None, words: str
) -> None:
    verdict = auth.decide(http_status, body, ORIGIN, location="https://elsewhere/login")
    assert (verdict.status, verdict.error_class if verdict.status != Status.OK else None) == (
        status,
        error_class,
    )
    assert words in verdict.summary


def test_auth_origin_and_providers_url() -> None:
    assert auth.origin("https://Shop.Example:443/api/auth/callback") == "https://shop.example"
    assert auth.origin("http://127.0.0.1:8080/x") == "http://127.0.0.1:8080"
    assert auth.origin("/relative") is None
    assert auth.providers_url("https://a.example/api/auth/callback", "/api/auth/providers") == (
        "https://a.example/api/auth/providers"
    )


# --- db ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("count", "status", "finding"),
    [
        (1, Status.OK, None),
        (0, Status.CRIT, "no_company"),
        (2, Status.WARN, "multiple_company"),
        (7, Status.WARN, "multiple_company"),
    ],
)
def test_db_company_count(count: int, status: Status, finding: str | None) -> None:
    verdict = db.decide(
        db.DbProbe("h:1/x", "x", latency_ms=1.0, version="8.0", company_count=count, size_on_disk=2048)
    )
    assert verdict.status == status
    assert [f["code"] for f in verdict.details["findings"]] == ([finding] if finding else [])
    assert "h:1/x" in verdict.summary


def test_db_unreachable_is_crit_with_its_error_class() -> None:
    verdict = db.decide(db.DbProbe("h:1/x", "x", error="refused", error_class="connect"))
    assert (verdict.status, verdict.error_class) == (Status.CRIT, "connect")
    assert verdict.details["findings"][0]["code"] == "db_unreachable"


# --- config / fallback ---------------------------------------------------------------------------


def test_config_complete_and_incomplete() -> None:
    ok = config.decide(resolved("cloudinary", company=healthy_company(), use_db=True), [])
    assert ok.status == Status.OK
    assert ok.details["fields"]["cloudinaryApiSecret"]["value"].startswith("<set sha256:")
    missing = config.decide(resolved("cloudinary", env={"CLOUDINARY_CLOUD_NAME": "c"}), [])
    assert missing.status == Status.CRIT
    assert "CLOUDINARY_API_SECRET unset" in missing.summary
    assert missing.details["completeness"] == pytest.approx(1 / 3, abs=1e-3)


def test_config_invalid_optional_field_is_warn_and_findings_count() -> None:
    bad_optional = config.decide(
        resolved("whatsapp", company=healthy_company(whatsappNumber="not a number"), use_db=True), []
    )
    assert bad_optional.status == Status.WARN
    assert "whatsappNumber" in bad_optional.summary
    res = resolved("cloudinary", company=healthy_company(), use_db=True)
    finding = Finding("flag_not_true", "warn", "USE_DB_CLOUDINARY looks on", service="cloudinary")
    other = Finding("flag_not_true", "crit", "not mine", service="whatsapp")
    verdict = config.decide(res, [finding, other])
    assert verdict.status == Status.WARN
    assert [f["code"] for f in verdict.details["findings"]] == ["flag_not_true"]


ENV_CLOUD = {"CLOUDINARY_CLOUD_NAME": "env-cloud", "CLOUDINARY_API_KEY": "999888777666555"}


def test_fallback_to_env_names_the_missing_variable() -> None:
    spec = DEFAULT_CATALOG["cloudinary"]
    env = {"USE_DB_CLOUDINARY": "true", **ENV_CLOUD}
    read = CompanyRead(documents=(healthy_company(),))
    current = resolved("cloudinary", company=healthy_company(), env=env)
    verdict = fallback.decide(spec, env, read, current)
    assert verdict.status == Status.WARN
    assert verdict.summary == "safe to flip to env: no, CLOUDINARY_API_SECRET unset"
    assert verdict.details == {
        "target": "env",
        "ready": False,
        "problems": {"cloudinaryApiSecret": "CLOUDINARY_API_SECRET unset"},
    }
    ready_env = {**env, "CLOUDINARY_API_SECRET": "s3cret"}
    assert fallback.decide(spec, ready_env, read, current).summary == "safe to flip to env: yes"


def test_fallback_to_db_needs_a_readable_company() -> None:
    spec = DEFAULT_CATALOG["cloudinary"]
    env = {**ENV_CLOUD, "CLOUDINARY_API_SECRET": "s"}
    current = resolved("cloudinary", env=env)
    ready = fallback.decide(spec, env, CompanyRead(documents=(healthy_company(),)), current)
    assert (ready.status, ready.details["target"], ready.details["ready"]) == (Status.OK, "db", True)
    no_doc = fallback.decide(spec, env, CompanyRead(), current)
    assert no_doc.status == Status.WARN and "no Company document" in no_doc.summary
    down = fallback.decide(spec, env, CompanyRead(error="timed out"), current)
    assert down.status == Status.WARN and "DB unreachable" in down.summary


# --- isolation -----------------------------------------------------------------------------------


def profile(name: str, **kw: Any) -> isolation.TenantProfile:
    base: dict[str, Any] = {
        "database": f"db_{name}",
        "db_addresses": frozenset({"127.0.0.1:27017"}),
        "db_display": f"127.0.0.1:27017/db_{name}",
    }
    base.update(kw)
    return isolation.TenantProfile(tenant=name, **base)


@pytest.mark.parametrize(
    ("a", "b", "words"),
    [
        ({"database": "shared"}, {"database": "shared"}, "database"),
        ({"whatsapp_phone_id": "42"}, {"whatsapp_phone_id": "42"}, "WhatsApp phone number id 42"),
        ({"cloudinary": ("c", "f")}, {"cloudinary": ("c", "f")}, "Cloudinary cloud c folder 'f'"),
        ({"cloudinary": ("c", "")}, {"cloudinary": ("c", "")}, "no client folder"),
        (
            {"smtp": ("smtp.x", "u", "fp1")},
            {"smtp": ("smtp.x", "u", "fp1")},
            "SMTP credentials (u at smtp.x)",
        ),
    ],
)
def test_isolation_shared_things_warn_naming_both(a: dict[str, Any], b: dict[str, Any], words: str) -> None:
    verdicts = isolation.decide([profile("alpha", **a), profile("beta", **b), profile("gamma")])
    assert verdicts["alpha"].status == Status.WARN and verdicts["beta"].status == Status.WARN
    assert "alpha" in verdicts["alpha"].summary and "with beta" in verdicts["alpha"].summary
    assert "beta" in verdicts["beta"].summary and "with alpha" in verdicts["beta"].summary
    assert words in verdicts["alpha"].summary
    assert verdicts["gamma"].status == Status.OK


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (
            {"database": "same", "db_addresses": frozenset({"10.0.0.1:27017"})},
            {"database": "same", "db_addresses": frozenset({"10.0.0.2:27017"})},
        ),
        ({"cloudinary": ("c", "alpha")}, {"cloudinary": ("c", "beta")}),
        ({"smtp": ("smtp.x", "u", "fp1")}, {"smtp": ("smtp.x", "u", "fp2")}),
        ({"whatsapp_phone_id": "1"}, {"whatsapp_phone_id": "2"}),
    ],
)
def test_isolation_different_things_are_ok(a: dict[str, Any], b: dict[str, Any]) -> None:
    verdicts = isolation.decide([profile("alpha", **a), profile("beta", **b)])
    assert {v.status for v in verdicts.values()} == {Status.OK}


def test_isolation_names_every_tenant_of_a_small_group_and_each_thing_shared() -> None:
    relay = {"smtp": ("smtp.x", "u", "fp1")}
    verdicts = isolation.decide(
        [
            profile("alpha", whatsapp_phone_id="42", **relay),
            profile("beta", whatsapp_phone_id="42", **relay),
            profile("gamma", **relay),
            profile("delta"),
        ]
    )
    assert verdicts["alpha"].summary == (
        "alpha shares WhatsApp phone number id 42 with beta;"
        " shares SMTP credentials (u at smtp.x) with beta, gamma"
    )
    assert verdicts["alpha"].details == {
        "shared_with": {
            "beta": ["WhatsApp phone number id 42", "SMTP credentials (u at smtp.x)"],
            "gamma": ["SMTP credentials (u at smtp.x)"],
        },
        "shared_with_count": 2,
    }
    assert verdicts["gamma"].summary == "gamma shares SMTP credentials (u at smtp.x) with alpha, beta"
    assert verdicts["delta"].status == Status.OK


def test_isolation_of_a_thousand_tenants_on_one_smtp_relay_stays_one_short_line_each() -> None:
    relay = {"smtp": ("smtp.relay.example", "mailer", "fp")}
    profiles = [profile(f"t{i:04d}", **relay) for i in range(1_000)]
    profiles[7] = profile("t0007", whatsapp_phone_id="42", **relay)
    profiles[900] = profile("t0900", whatsapp_phone_id="42", **relay)
    verdicts = isolation.decide(profiles)
    assert {v.status for v in verdicts.values()} == {Status.WARN}
    assert verdicts["t0000"].summary == (
        "t0000 shares SMTP credentials (mailer at smtp.relay.example) with 999 tenants: "
        "t0001, t0002, t0003, t0004, t0005 and 994 more"
    )
    assert verdicts["t0900"].summary == (
        "t0900 shares WhatsApp phone number id 42 with t0007; shares SMTP credentials "
        "(mailer at smtp.relay.example) with 999 tenants: t0000, t0001, t0002, t0003, t0004 and 994 more"
    )
    assert max(len(v.summary) for v in verdicts.values()) < 250
    for name, verdict in verdicts.items():
        named = verdict.details["shared_with"]
        assert verdict.details["shared_with_count"] == 999
        assert len(named) <= isolation.NAMED_IN_DETAILS + 2 * isolation.NAMED_IN_SUMMARY
        assert name not in named
        assert all(other in named for other in verdict.summary.split(": ")[-1].split(" and ")[0].split(", "))
    assert verdicts["t0900"].details["shared_with"]["t0007"] == [
        "WhatsApp phone number id 42", "SMTP credentials (mailer at smtp.relay.example)"
    ]


def test_isolation_never_shows_the_smtp_password() -> None:
    company = healthy_company(smtpPass="canary-smtp-pass")
    res = resolve_tenant("a", DEFAULT_CATALOG, {}, CompanyRead(documents=(company,)))
    target = parse_mongo_url("mongodb://db.example:27017/a", "test")
    mine = isolation.profile_of("a", target, frozenset({"10.0.0.1:27017"}), res)
    assert mine.smtp is not None and "canary-smtp-pass" not in repr(mine)
    twin = isolation.TenantProfile("b", "b", frozenset(), "x", smtp=mine.smtp)
    text = isolation.decide([mine, twin])["a"].summary
    assert "canary-smtp-pass" not in text and "SMTP credentials" in text


# --- shared --------------------------------------------------------------------------------------


def test_fallback_results_are_capped_at_warn() -> None:
    now = datetime.now(UTC)
    crit = CheckResult(
        tenant="t",
        check="whatsapp",
        status=Status.CRIT,
        summary="token expired",
        error_class="auth",
        timestamp=now,
    )
    capped = as_fallback(crit)
    assert (capped.check, capped.status, capped.details["probe_status"]) == (
        "whatsapp:fallback",
        Status.WARN,
        "CRIT",
    )
    assert capped.summary == "env fallback: token expired"
    unknown = as_fallback(crit.model_copy(update={"status": Status.UNKNOWN}))
    assert unknown.status == Status.UNKNOWN


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (socket.gaierror(-2, "Name or service not known"), "dns"),
        (ConnectionRefusedError(111, "x"), "connect"),
        (TimeoutError(), "timeout"),
        (ssl.SSLCertVerificationError(1, "x"), "tls"),
        (ValueError("weird"), "protocol"),
    ],
)
def test_network_error_classes(exc: BaseException, kind: str) -> None:
    wrapped = RuntimeError("wrapper")
    wrapped.__cause__ = exc
    assert classify_network_error(wrapped) == kind


def test_a_size_the_server_did_not_give_is_unknown_with_its_reason() -> None:
    sizes = {"asked": frozenset({"x", "gone"}), "command": "listDatabases", "on_disk": {"x": 4096}}
    assert db.size_on_disk(sizes, "x", ()) == (4096, None)
    assert db.size_on_disk(sizes, "gone", ()) == (None, "not listed by listDatabases")
    assert db.size_on_disk(sizes, "later", ()) == (None, "not asked yet")
    assert db.size_on_disk({"late": True}, "x", ())[0] is None
    assert db.stats_on_disk({"totalSize": 90, "storageSize": 50, "indexSize": 40}) == 90
    assert db.stats_on_disk({"storageSize": 50, "indexSize": 40}) == 90
    reply = {"databases": [{"name": "x", "sizeOnDisk": 7}, {"name": "other", "sizeOnDisk": 9}]}
    assert db.listed_on_disk(reply, ["x", "gone"]) == {"x": 7}
    verdict = db.decide(db.DbProbe("h:1/x", "x", latency_ms=1.0, version="8.0", company_count=1))
    assert verdict.status == Status.OK
    assert verdict.summary.endswith("? on disk")


def test_the_sizes_ask_names_the_fleets_databases_reached_with_the_same_client(
    make_fleet: FleetFactory,
) -> None:
    fleet = make_fleet([
        TenantFiles("a", "mongodb://h1:27017/da"),
        TenantFiles("b", "mongodb://h1:27017/db"),
        TenantFiles("c", "mongodb://user:pw@h1:27017/dc"),
        TenantFiles("d", "mongodb://h2:27017/dd"),
    ])
    a, _, c, d = fleet.tenants
    assert db.size_command(["da"]) == "dbStats"
    assert db.size_command(["da", "db"]) == "listDatabases"
    assert db.databases_by_client(fleet.tenants) == {
        a.mongo.cluster_key: ["da", "db"], c.mongo.cluster_key: ["dc"], d.mongo.cluster_key: ["dd"]
    }
