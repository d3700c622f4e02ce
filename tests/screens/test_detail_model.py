"""The detail and edit-form view models: masked values, fallback readiness, diff lines, validation."""

from __future__ import annotations

from opsdash.checks.base import CheckResult, Status
from opsdash.redact import fingerprint
from opsdash.screens.detail_model import service_view, tenant_findings, value_text
from opsdash.screens.forms import check_text, diff_lines, expected_values, initial_texts, pending_changes

CANARY = "canary-secret-5f1e"


def _config() -> CheckResult:
    return CheckResult(
        tenant="acme",
        check="config:cloudinary",
        status=Status.CRIT,
        summary="1 problem",
        details={
            "source": "db",
            "flag": {"name": "USE_DB_CLOUDINARY", "raw": "true", "on": True},
            "completeness": 0.5,
            "problems": {"cloudinaryApiKey": "must be a numeric id"},
            "fields": {
                "cloudinaryApiSecret": {
                    "source": "db",
                    "value": f"<set sha256:{fingerprint(CANARY)}>",
                    "secret": True,
                    "env_var": "CLOUDINARY_API_SECRET",
                    "error": None,
                },
                "cloudinaryApiKey": {
                    "source": "env",
                    "value": "abc",
                    "secret": False,
                    "env_var": "CLOUDINARY_API_KEY",
                    "error": "must be a numeric id",
                },
                "cloudinaryUploadPreset": {
                    "source": "missing",
                    "value": None,
                    "secret": False,
                    "env_var": None,
                    "error": None,
                },
            },
            "findings": [{"code": "empty_db_shadows_env", "severity": "warn", "message": "x hides y"}],
        },
    )


def test_service_view_shows_flag_fields_fallback_and_history() -> None:
    fallback = CheckResult(
        tenant="acme",
        check="fallback:cloudinary",
        status=Status.WARN,
        summary="no",
        details={"target": "env", "ready": False, "problems": {"CLOUDINARY_API_SECRET": "unset"}},
    )
    live = CheckResult(
        tenant="acme", check="cloudinary", status=Status.OK, summary="200 in 40ms", duration_s=0.04
    )
    history = [live.model_copy(update={"duration_s": d}) for d in (0.01, 0.02, 0.04)]
    by_check = {r.check: r for r in (_config(), fallback, live)}
    view = service_view("cloudinary", "Cloudinary", by_check, history, 0.995)
    assert view.flag_text == 'USE_DB_CLOUDINARY="true" (on)'
    assert view.target == "env"
    assert view.bar == "█████░░░░░ 50%"
    values = {f.name: f.value for f in view.fields}
    assert values == {
        "cloudinaryApiSecret": f"set sha256:{fingerprint(CANARY)}",
        "cloudinaryApiKey": "abc",
        "cloudinaryUploadPreset": "unset",
    }
    assert view.fallback_text == "fallback to ENV: NOT ready (CLOUDINARY_API_SECRET unset)"
    assert view.fallback_ready is False
    assert view.live_text == "live: ✓ OK 200 in 40ms"
    assert view.history_line == "▁▃█ uptime 99.5%"
    assert view.findings == ("WARN empty_db_shadows_env: x hides y",)


def test_unflagged_service_cannot_flip() -> None:
    view = service_view("business", "Business info", {})
    assert not view.flippable
    assert view.live_text == "live: no probe for this service"


def test_secret_values_never_pass_through() -> None:
    assert value_text("<set sha256:abcd1234>", True) == "set sha256:abcd1234"
    assert value_text(CANARY, True) == "set"
    assert value_text(None, True) == "unset"
    assert value_text(False, False) == "false"


def test_tenant_findings_lists_db_and_isolation() -> None:
    db = CheckResult(
        tenant="a",
        check="db",
        status=Status.WARN,
        summary="2 Company documents",
        details={"findings": [{"code": "multiple_company", "severity": "warn", "message": "2 docs"}]},
    )
    iso = CheckResult(tenant="a", check="isolation", status=Status.WARN, summary="shares smtp with b")
    assert tenant_findings({"db": db, "isolation": iso}) == (
        "DB ! WARN 2 Company documents",
        "WARN multiple_company: 2 docs",
        "isolation ! WARN shares smtp with b",
    )


def test_edit_form_validation_changes_and_masked_diff() -> None:
    company = {"smtpPort": "587", "smtpPass": CANARY, "smtpHost": "smtp.example"}
    fields = ["smtpHost", "smtpPort", "smtpPass"]
    initial = initial_texts(fields, company)
    assert initial == {"smtpHost": "smtp.example", "smtpPort": "587", "smtpPass": ""}
    assert check_text("smtpPort", "70000") == "must be a port number from 1 to 65535"
    assert check_text("smtpPort", "2525") is None
    assert check_text("smtpHost", "") == "is required"
    assert check_text("smtpPass", "") is None
    assert check_text("taxPercentage", "x") == "must be a whole number"
    current = {**initial, "smtpPort": "2525", "smtpPass": "new-pass-9"}
    changes = pending_changes(initial, current)
    assert changes == {"smtpPort": "2525", "smtpPass": "new-pass-9"}
    lines = diff_lines(changes, company)
    assert lines == [
        "smtpPort: 587 → 2525",
        f"smtpPass: set sha256:{fingerprint(CANARY)} → set sha256:{fingerprint('new-pass-9')}",
    ]
    assert not any(CANARY in line or "new-pass-9" in line for line in lines)
    assert expected_values(changes, company) == {"smtpPort": "587", "smtpPass": CANARY}
