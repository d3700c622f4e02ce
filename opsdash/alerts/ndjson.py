"""NDJSON sink: one compact JSON object per alert state change, newline-terminated, flushed at once."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TextIO

from opsdash.alerts.state import AlertEvent


def event_line(event: AlertEvent) -> str:
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False) + "\n"


class NdjsonSink:
    """Writes to a text stream (stdout by default for ``opsdash watch --ndjson``)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    async def start(self) -> None:
        return None

    def publish(self, events: Iterable[AlertEvent]) -> None:
        for event in events:
            self.stream.write(event_line(event))
            self.stream.flush()

    async def close(self, deadline_s: float) -> None:
        self.stream.flush()
