"""What every check needs from the outside world, passed in so checks stay testable and share clients."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import Literal

import httpx

from opsdash.config.fleet import Fleet, PollSettings
from opsdash.engine.mongo import MongoClients

CheckGroup = Literal["db", "config", "integrations"]
CHECK_GROUPS: tuple[CheckGroup, ...] = ("db", "config", "integrations")
"""Checks are scheduled in groups; each group has its own interval (``[poll]``)."""


def group_interval(poll: PollSettings, group: CheckGroup) -> float:
    """The configured interval of a check group, in seconds."""
    return {
        "db": poll.db_interval,
        "config": poll.config_interval,
        "integrations": poll.integration_interval,
    }[group]


def group_deadline(poll: PollSettings, group: CheckGroup) -> float:
    """A hard deadline below the interval: the group's timeout, capped at 80% of its interval."""
    timeout = poll.db_timeout if group in ("db", "config") else poll.integration_timeout
    return min(timeout, 0.8 * group_interval(poll, group))


@dataclass
class CheckContext:
    """Shared drivers for one process: MongoDB clients per cluster, one HTTP client, TLS trust."""

    fleet: Fleet
    clients: MongoClients
    http: httpx.AsyncClient
    ssl_context: ssl.SSLContext = field(default_factory=ssl.create_default_context)

    @classmethod
    def create(cls, fleet: Fleet) -> CheckContext:
        """Build the shared drivers; certificate verification is always on."""
        ssl_context = ssl.create_default_context()
        if fleet.endpoints.extra_ca_file:
            ssl_context.load_verify_locations(cafile=fleet.endpoints.extra_ca_file)
        return cls(
            fleet=fleet,
            clients=MongoClients(timeout_s=fleet.poll.db_timeout),
            http=httpx.AsyncClient(verify=ssl_context, follow_redirects=False),
            ssl_context=ssl_context,
        )

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.clients.close()
