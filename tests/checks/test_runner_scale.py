"""The runner's fleet-scale shortcuts give exactly what the plain versions give: scrubbing, isolation,
restamping a verdict that stands and a profile kept from the last run."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from opsdash.checks import isolation
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.context import CheckContext
from opsdash.checks.runner import Scrubber, TenantState, _profile_of, isolation_results, sharing_groups
from opsdash.config.fleet import load_fleet
from opsdash.config.resolve import CompanyRead
from opsdash.testing.fleetfile import TenantFiles, write_fleet

SECRETS = ["cnry-token-1234", "cnry-token", "pw-secret", "abc", ""]


def result(summary: str, details: dict[str, object]) -> CheckResult:
    return CheckResult(
        tenant="acme", check="config:whatsapp", status=Status.WARN, summary=summary, details=details
    )


def test_scrubbing_matches_check_result_scrubbed_and_keeps_clean_results_as_they_are() -> None:
    dirty = result(
        "failed: mongodb://ops:pw-secret@db.example/acme said cnry-token-1234 (abc)",
        {
            "cnry-token": {"nested": ["x cnry-token-1234 y", ("tuple", "pw-secret"), 3, None]},
            "url": "https://user:hidden@host.example/path",
            Status.OK: Status.WARN,
            "plain": 1.5,
        },
    )
    clean = result("complete (db)", {"fields": {"a": {"source": "db", "value": "<set sha256:12345678>"}}})
    with_tuple = result("ok", {"list": ("a", "b")})
    scrubber = Scrubber(SECRETS)
    for original in (dirty, clean):
        assert scrubber.result(original) == original.scrubbed(SECRETS)
    for original in (dirty, clean, with_tuple):
        assert scrubber.result(original).model_dump_json() == original.scrubbed(SECRETS).model_dump_json()
    assert scrubber.result(clean) is clean
    assert scrubber.result(with_tuple) is with_tuple
    assert "pw-secret" not in scrubber.result(dirty).model_dump_json()
    assert "cnry-token" not in scrubber.result(dirty).model_dump_json()


def profile(name: str, **kwargs: object) -> isolation.TenantProfile:
    defaults: dict[str, object] = {
        "database": name,
        "db_addresses": frozenset({"127.0.0.1:27017"}),
        "db_display": f"127.0.0.1:27017/{name}",
    }
    return isolation.TenantProfile(tenant=name, **{**defaults, **kwargs})  # type: ignore[arg-type]


PROFILES = [
    profile("a", database="shared"),
    profile("b", database="shared", db_addresses=frozenset({"10.0.0.1:27017", "127.0.0.1:27017"})),
    profile("c", whatsapp_phone_id="111"),
    profile("d", whatsapp_phone_id="111", cloudinary=("cloud", "f")),
    profile("e", cloudinary=("cloud", "f"), smtp=("smtp.x", "u", "fp")),
    profile("f", smtp=("smtp.x", "u", "fp")),
    profile("g", database="shared", db_addresses=frozenset({"10.9.9.9:27017"})),
    profile("h", cloudinary=("cloud", "other")),
    profile("i"),
]


def test_tenants_that_share_nothing_land_in_different_groups() -> None:
    groups = [[PROFILES[i].tenant for i in g] for g in sharing_groups(PROFILES)]
    assert sorted(groups) == [["a", "b"], ["c", "d", "e", "f"], ["g"], ["h"], ["i"]]


def test_isolation_by_groups_is_isolation_over_the_whole_fleet() -> None:
    started = datetime(2026, 5, 1, tzinfo=UTC)
    notes = {"i": "env unreadable: nope"}
    for order in itertools.islice(itertools.permutations(PROFILES), 0, 200, 7):
        assert isolation_results(order, started, 0.5, notes) == isolation.results(order, started, 0.5, notes)


def test_a_secret_that_json_escapes_is_still_found_in_every_place() -> None:
    odd = ['pa"ss\\word', "line\nbreak\tsecret", "ünïcødé-sécret", "ctl\x01char"]
    scrubber = Scrubber(odd)
    for secret in odd:
        for placed in (
            result(f"said {secret}", {}),
            result("ok", {"deep": [{"k": f"x{secret}y"}]}),
            result("ok", {f"key {secret}": 1}),
        ):
            cleaned = scrubber.result(placed)
            assert cleaned == placed.scrubbed(odd)
            assert secret not in cleaned.summary
            assert secret not in repr(cleaned.details)


def test_a_dsn_password_is_removed_wherever_it_sits_in_the_details() -> None:
    scrubber = Scrubber([])
    for details in (
        {"url": "mongodb://ops:hunter22@db.example/acme"},
        {"quoted": 'said "mongodb://ops:hunter22@db.example/acme"'},
        {"from": "mailer@acme.example", "nested": [{"k": "x mongodb://ops:hunter22@db.example"}]},
    ):
        placed = result("ok", details)
        cleaned = scrubber.result(placed)
        assert cleaned == placed.scrubbed([])
        assert "hunter22" not in cleaned.model_dump_json()


def test_a_restamped_result_is_the_model_copy_with_the_new_time_sharing_the_rest() -> None:
    earlier = result("WhatsApp: 2 fields missing", {"fields": {"token": "missing"}})
    later = earlier.timestamp + timedelta(seconds=15)
    restamped = earlier.restamped(later)
    copied = earlier.model_copy(update={"timestamp": later})
    assert restamped == copied
    assert restamped.model_fields_set == copied.model_fields_set
    assert restamped.model_dump_json() == copied.model_dump_json()
    assert restamped.details is earlier.details
    twice = restamped.restamped(later + timedelta(seconds=15))
    assert twice.timestamp == later + timedelta(seconds=15)
    assert twice.model_fields_set == copied.model_fields_set


def test_a_kept_profile_is_given_again_only_for_the_same_tenant_state_and_addresses(tmp_path: Path) -> None:
    urls = {"acme": "mongodb://db.example/acme", "moved": "mongodb://db.example/acme_moved"}
    fleet = load_fleet(write_fleet(tmp_path, [TenantFiles("acme", urls["acme"])]))
    moved_fleet = load_fleet(write_fleet(tmp_path / "moved", [TenantFiles("acme", urls["moved"])]))
    ctx = CheckContext.create(fleet)
    tenant, moved = fleet.tenant("acme"), moved_fleet.tenant("acme")
    state = TenantState({}, CompanyRead(documents=()), None, [])
    ctx.reuse.remember_derived("acme", {}, (), state)
    here, there = frozenset({"10.0.0.1:27017"}), frozenset({"10.0.0.2:27017"})

    first = _profile_of(ctx, tenant, state, here)
    assert _profile_of(ctx, tenant, state, frozenset(here)) is first
    assert _profile_of(ctx, tenant, state, there)[0].db_addresses == there
    assert _profile_of(ctx, moved, state, there)[0].database == "acme_moved"
    other_state = TenantState({}, CompanyRead(error="timed out"), None, [])
    assert _profile_of(ctx, tenant, other_state, here)[1] == "Company not read: timed out"


def test_a_result_built_from_known_types_is_the_validated_result() -> None:
    started = datetime(2026, 5, 1, tzinfo=UTC)
    for status, error_class, source, details in itertools.product(
        Status, [None, "timeout", "condition"], [None, "db", "env"], [{}, {"fields": {"a": [1, None]}}]
    ):
        fields: dict[str, object] = {
            "tenant": "acme", "check": "config:email", "status": status, "summary": "one line",
            "error_class": error_class, "details": details, "duration_s": 0.25, "timestamp": started,
            "source": source,
        }
        fast = CheckResult.of_known_types(**fields)  # type: ignore[arg-type]
        validated = CheckResult(**fields)  # type: ignore[arg-type]
        assert fast == validated
        assert fast.model_fields_set == validated.model_fields_set
        assert fast.model_dump_json() == validated.model_dump_json()
        assert fast.restamped(started + timedelta(seconds=1)).timestamp == started + timedelta(seconds=1)
    coerced = CheckResult.of_known_types("acme", "db", "CRIT", "down", "connect", {}, 1, started, None)  # type: ignore[arg-type]
    assert (coerced.status, coerced.duration_s) == (Status.CRIT, 1.0)
    with pytest.raises(ValidationError):
        CheckResult.of_known_types("acme", "db", Status.CRIT, "down", "bogus", {}, 0.5, started, None)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        CheckResult.of_known_types("acme", "db", Status.OK, "up", None, {}, 0.5, started, "cache")  # type: ignore[arg-type]
