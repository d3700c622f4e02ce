"""A result's content JSON: the model's own bytes, serialised once per result within a pass."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from opsdash.checks import content
from opsdash.checks.base import CheckResult, Status
from opsdash.checks.content import content_json
from opsdash.checks.runner import Scrubber
from opsdash.engine import pass_cache
from opsdash.engine.store import ResultStore

CONTENT_FIELDS = {"summary", "error_class", "details", "source"}
DETAILS: list[dict[str, Any]] = [
    {},
    {"fields": {"smtpPass": {"source": "db", "value": "<set sha256:1234abcd>", "secret": True}}},
    {"quote": 'said "hi"\\ \n\t\x01', "unicode": "ünïcødé ✓ 𝄞", "empty": ""},
    {"numbers": [1, -2, 3.5, 1e-7, 12345678901234567890, True, False, None]},
    {"nested": [{"a": ("tuple", 1)}, [], {}], "when": datetime(2026, 5, 1, 12, 30, tzinfo=UTC)},
    {Status.OK: Status.WARN, "status": Status.CRIT, "probe_status": "UNKNOWN"},
]


def results() -> list[CheckResult]:
    made = []
    for details, summary, error_class, source in itertools.product(
        DETAILS, ["complete (db, 100% of required fields)", 'env "fallback": ✓'], [None, "timeout"],
        [None, "db", "env"],
    ):
        made.append(
            CheckResult(
                tenant="acme", check="config:email", status=Status.WARN, summary=summary,
                error_class=error_class, details=details, source=source,
            )
        )
    return made


def test_content_json_gives_the_models_own_bytes() -> None:
    for result in results():
        assert content_json(result) == result.model_dump_json(include=CONTENT_FIELDS).encode()


def test_within_a_pass_a_result_is_serialised_once_and_forgotten_when_the_pass_ends() -> None:
    first, twin = results()[1], results()[1]
    assert content_json(first) is not content_json(first)
    with pass_cache.sweep() as cache:
        blob = content_json(first)
        assert content_json(first) is blob
        assert content_json(twin) == blob and content_json(twin) is not blob
        assert len(cache.serialised) == 2
    assert cache.serialised == {}


def test_a_pass_serialises_each_result_once_for_its_scrubber_and_its_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path / "store.sqlite3")
    made = results()
    serialised: list[CheckResult] = []
    encode = content._encode

    def counting(result: CheckResult) -> bytes:
        serialised.append(result)
        return encode(result)

    monkeypatch.setattr(content, "_encode", counting)
    with pass_cache.sweep():
        scrubbed = [Scrubber(["hunter22"]).result(result) for result in made]
        store.record(scrubbed)
    assert serialised == made
    recorded = store.history("acme", "config:email")
    assert [r.model_dump_json() for r in recorded] == [r.model_dump_json() for r in made]
    store.close()
