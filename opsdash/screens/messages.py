"""Messages the dashboard's workers post to the UI; workers never touch widgets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textual.message import Message

from opsdash.checks.base import CheckResult


class ResultsArrived(Message):
    """A batch of check results from the engine thread."""

    def __init__(self, results: Sequence[CheckResult]) -> None:
        super().__init__()
        self.results = list(results)


class HistoryLoaded(Message):
    """History and uptime of a tenant's live checks, read from the store by a worker."""

    def __init__(self, tenant: str, history: dict[str, list[CheckResult]], uptime: dict[str, float | None]):
        super().__init__()
        self.tenant = tenant
        self.history = history
        self.uptime = uptime


class ActionDone(Message):
    """An action (preflight, flip, edit, undo, a read for a form) finished in a worker."""

    def __init__(self, kind: str, value: Any = None, error: str | None = None) -> None:
        super().__init__()
        self.kind = kind
        self.value = value
        self.error = error


class RowsRendered(Message):
    """A worker finished computing the overview (and, when it could, the diff against ``base``, the rows
    the table showed when the work started); the handler applies it unless a newer one was shown."""

    def __init__(
        self, rendering: Any, *, request: int = 0, query: str = "", base: Any = None, diff: Any = None
    ) -> None:
        super().__init__()
        self.rendering = rendering
        self.request = request
        self.query = query
        self.base = base
        self.diff = diff
