"""Dashboard test fixtures: no cursor blink, a fixed clock, fixed results in a real ResultStore."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input

from opsdash.checks.base import CheckResult
from opsdash.engine.store import ResultStore
from opsdash.screens.app import OpsdashApp
from tests.screens.fake_backend import FixedBackend
from tests.screens.scenarios import TENANTS, clock, make_fleet


@pytest.fixture(autouse=True)
def _no_cursor_blink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterable[Callable[..., OpsdashApp]]:
    """Build an app over a fleet file, a ResultStore holding ``results`` and a fixed backend."""
    stores: list[ResultStore] = []

    def build(
        results: Iterable[CheckResult] = (),
        *,
        backend: Any = None,
        tenants=TENANTS,
        keymap: dict[str, str] | None = None,
        read_only: bool = False,
        engine_factory: Callable[..., Any] | None = None,
    ) -> OpsdashApp:
        fleet = make_fleet(tmp_path / f"fleet{len(stores)}", tenants, keymap)
        store = ResultStore(tmp_path / f"store{len(stores)}.sqlite3")
        stores.append(store)
        ordered = sorted(results, key=lambda r: r.timestamp)
        if ordered:
            store.record(ordered)
        return OpsdashApp(
            fleet,
            store,
            backend=backend if backend is not None else FixedBackend(read_only),
            clock=clock,
            read_only=read_only,
            refresh_s=3600,
            engine_factory=engine_factory,
        )

    yield build
    for store in stores:
        store.close()
