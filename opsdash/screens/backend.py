"""What the dashboard needs from the outside world, as two small interfaces it is handed.

``ResultsSource`` is satisfied by ``opsdash.engine.store.ResultStore``; ``Backend`` wraps the operator
actions. Screens call these only from thread workers, so a slow DB or env write never blocks input.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Protocol

from opsdash.checks.base import CheckResult
from opsdash.config.fleet import Fleet

ResultsCallback = Callable[[list[CheckResult], list[Any]], None]


class ResultsSource(Protocol):
    """Latest results and history (``ResultStore`` fits)."""

    def latest(self, tenant: str | None = None) -> list[CheckResult]: ...

    def history(
        self, tenant: str, check: str, since: datetime | None = None, limit: int | None = None
    ) -> list[CheckResult]: ...

    def uptime(
        self, tenant: str, check: str, window: timedelta, now: datetime | None = None
    ) -> float | None: ...


class EngineLike(Protocol):
    """A running check engine (``EngineThread`` fits)."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def check_now(self, tenant: str | None = None) -> None: ...

    def store_refusal(self) -> str | None: ...


class Backend(Protocol):
    """The operator actions, bound to one fleet and one operator."""

    operator: Any
    read_only: bool

    def refusal(self) -> str | None: ...

    def preflight_flip(self, tenant: str, service: str, target: str) -> Any: ...

    def flip(self, tenant: str, service: str, target: str, *, reason: str, force: bool) -> Any: ...

    def read_company(self, tenant: str) -> dict[str, Any]: ...

    def edit(
        self, tenant: str, changes: Mapping[str, str], *, reason: str, expected: Mapping[str, Any]
    ) -> Any: ...

    def list_audit(self, tenant: str | None = None) -> Sequence[Any]: ...

    def undo(self, audit_id: str) -> Any: ...


class FleetBackend:
    """The real actions (``opsdash.actions``), for one fleet and the operator running this process."""

    def __init__(self, fleet: Fleet, *, read_only: bool = False, store: Any = None) -> None:
        from opsdash.actions.operator import current_operator

        self.fleet = fleet
        self.store = store
        self.operator = current_operator(fleet, read_only=read_only)
        self.read_only = read_only or self.operator.role != "admin"

    def refusal(self) -> str | None:
        from opsdash.actions.operator import viewer_refusal

        return viewer_refusal(self.operator)

    def preflight_flip(self, tenant: str, service: str, target: str) -> Any:
        from opsdash.actions.preflight import preflight_flip

        return preflight_flip(self.fleet, tenant, service, target, self.store)  # type: ignore[arg-type]

    def flip(self, tenant: str, service: str, target: str, *, reason: str, force: bool) -> Any:
        from opsdash.actions.flip import flip

        return flip(
            self.fleet,
            tenant,
            service,
            target,
            reason=reason,
            operator=self.operator,
            force=force,
            store=self.store,
        )

    def read_company(self, tenant: str) -> dict[str, Any]:
        from opsdash.actions.edit import read_company_for_edit

        return read_company_for_edit(self.fleet, tenant)

    def edit(
        self, tenant: str, changes: Mapping[str, str], *, reason: str, expected: Mapping[str, Any]
    ) -> Any:
        from opsdash.actions.edit import edit

        return edit(self.fleet, tenant, changes, reason=reason, operator=self.operator, expected=expected)

    def list_audit(self, tenant: str | None = None) -> Sequence[Any]:
        from opsdash.actions.audit import list_audit

        return list_audit(self.fleet, tenant)

    def undo(self, audit_id: str) -> Any:
        from opsdash.actions.undo import undo

        return undo(self.fleet, audit_id, operator=self.operator)
