"""``with server:`` for anything that has ``start()`` and ``stop()``."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self


class StartStop:
    """Mixin: entering starts the server, leaving stops it."""

    def start(self) -> Any:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
