"""What every check needs from the outside world, passed in so checks stay testable and share clients."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from opsdash.checks.reuse import Reuse
from opsdash.config.fleet import Fleet, PollSettings
from opsdash.engine.mongo import MongoClients

if TYPE_CHECKING:
    import httpx

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


def trust_for(fleet: Fleet) -> ssl.SSLContext:
    """The system CAs plus ``[endpoints] extra_ca_file``; certificate verification is always on."""
    context = ssl.create_default_context()
    if fleet.endpoints.extra_ca_file:
        context.load_verify_locations(cafile=fleet.endpoints.extra_ca_file)
    return context


@dataclass
class CheckContext:
    """Shared drivers for one process: MongoDB clients per cluster, one HTTP client, TLS trust, and what
    one pass may reuse from the previous one (``opsdash.checks.reuse``).

    The HTTP client and the TLS context are made on first use, so a run without live probes (``opsdash
    check --check db``, unconfigured integrations) never loads httpx or the system certificate store.
    """

    fleet: Fleet
    clients: MongoClients
    http_client: httpx.AsyncClient | None = None
    tls: ssl.SSLContext | None = field(default=None, repr=False)
    reuse: Reuse = field(default_factory=Reuse, repr=False)

    @classmethod
    def create(cls, fleet: Fleet) -> CheckContext:
        """Build the shared drivers (the HTTP client and TLS trust lazily)."""
        return cls(
            fleet=fleet,
            clients=MongoClients(timeout_s=fleet.poll.db_timeout),
            reuse=Reuse(env_files=dict(fleet.env_at_load)),
        )

    @property
    def ssl_context(self) -> ssl.SSLContext:
        if self.tls is None:
            self.tls = trust_for(self.fleet)
        return self.tls

    @property
    def http(self) -> httpx.AsyncClient:
        if self.http_client is None:
            import httpx

            self.http_client = httpx.AsyncClient(verify=self.ssl_context, follow_redirects=False)
        return self.http_client

    async def aclose(self) -> None:
        if self.http_client is not None:
            await self.http_client.aclose()
        await self.clients.close()
