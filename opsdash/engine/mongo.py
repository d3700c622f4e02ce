"""MongoDB at the edge: one shared async client per cluster and credentials, and the Company read.

Within a pass (``opsdash.engine.pass_cache.sweep``) a tenant's Company documents are read once and a
cluster's ``buildInfo`` is asked once, whichever check asks first.

A read is never cancelled on purpose (see ``pass_cache.joined``): Python 3.11's ``asyncio.wait_for``,
which the async driver waits on its topology's condition with, can leave the topology lock held by a
task that no longer exists when the read is cancelled at the wrong moment of a server selection, and
from then on that client selects no server again, however healthy the cluster. A client whose lock a
read found broken (``RuntimeError`` from the driver) is replaced by a new one all the same.

A cluster that a check's read found unreachable (no server could be selected, or the server stopped
answering) is an outage of every tenant on that client: until a read reaches it again, one read at a
time tries it and the others end at once with the same error, instead of each holding a concurrency
slot until its own deadline while the healthy clusters' checks wait for one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import bson
import pymongo
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import (
    AutoReconnect,
    ConfigurationError,
    ExecutionTimeout,
    NetworkTimeout,
    OperationFailure,
    PyMongoError,
    ServerSelectionTimeoutError,
    WTimeoutError,
)

from opsdash.checks.base import ErrorClass
from opsdash.config.fleet import MongoTarget, Tenant
from opsdash.config.resolve import CompanyRead
from opsdash.engine.pass_cache import joined, shared
from opsdash.redact import scrub

COMPANY_READ_LIMIT = 10
MAX_POOL_SIZE = 256
"""Connections per cluster: checks are latency-bound, so a pass keeps many requests in flight."""
MAX_CONNECTING = 32
"""Connections a pool may open at once (the driver's default, 2, makes a cold pass wait on handshakes)."""
CompanyDocuments = tuple[RawBSONDocument, ...] | PyMongoError
"""What a Company read returned: up to ``COMPANY_READ_LIMIT`` documents as raw BSON (decoded only when
they changed since the last pass, see ``opsdash.checks.reuse``), or the driver's error."""
RAW_DOCUMENTS: CodecOptions[RawBSONDocument] = CodecOptions(document_class=RawBSONDocument, tz_aware=True)
DECODED: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)
_AUTH_CODES = {13, 18, 8000}
CLOSE_TIMEOUT_S = 2.0
OUTAGE_ERRORS = (ServerSelectionTimeoutError, NetworkTimeout)
"""Driver errors that say the cluster did not answer: every read on the same client ends the same way."""
log = logging.getLogger(__name__)
Answer = TypeVar("Answer")


@dataclass
class Outage:
    """A cluster found unreachable: the error that showed it, since when, and whether a read is trying it."""

    error: PyMongoError
    since: float
    probing: bool = False


@dataclass(frozen=True)
class Admission:
    """Leave for one read: ``probe`` when it is the one read trying a cluster that is down."""

    probe: bool = False


def unreached(outage: Outage, now: float) -> PyMongoError:
    """The error a read not sent to a down cluster reports: the outage's own, saying so."""
    reason = _DRIVER_NOISE.sub("", _first_part(outage.error))
    note = f" (cluster unreachable for {now - outage.since:.0f} s: not asked again until a read reaches it)"
    return type(outage.error)(reason + note)


class MongoClients:
    """Shares one ``AsyncMongoClient`` among every tenant on the same cluster with the same credentials.

    Clients are lazy and bound to the event loop that first uses them.
    """

    def __init__(
        self, *, timeout_s: float = 5.0, app_name: str = "opsdash", event_listeners: Sequence[Any] = ()
    ) -> None:
        self._timeout_ms = int(timeout_s * 1000)
        self._app_name = app_name
        self._listeners = list(event_listeners)
        self._clients: dict[tuple[Any, ...], AsyncMongoClient[dict[str, Any]]] = {}
        self._by_target: dict[MongoTarget, AsyncMongoClient[dict[str, Any]]] = {}
        self._databases: dict[MongoTarget, AsyncDatabase[dict[str, Any]]] = {}
        self._outages: dict[int, Outage] = {}
        """Outages by ``id`` of their client (hashing a client works out its seeds and options)."""
        self._retired: list[AsyncMongoClient[dict[str, Any]]] = []

    def __len__(self) -> int:
        return len(self._clients)

    def client_for(self, target: MongoTarget) -> AsyncMongoClient[dict[str, Any]]:
        known = self._by_target.get(target)
        if known is not None:
            return known
        key = target.cluster_key
        client = self._clients.get(key)
        if client is None:
            client = AsyncMongoClient(
                target.url,
                appname=self._app_name,
                serverSelectionTimeoutMS=self._timeout_ms,
                connectTimeoutMS=self._timeout_ms,
                socketTimeoutMS=self._timeout_ms,
                maxPoolSize=MAX_POOL_SIZE,
                maxConnecting=MAX_CONNECTING,
                tz_aware=True,
                connect=False,
                event_listeners=self._listeners,
            )
            self._clients[key] = client
        self._by_target[target] = client
        return client

    def database_for(self, target: MongoTarget) -> AsyncDatabase[dict[str, Any]]:
        """The target's database on its client, made once (every read of a pass needs it)."""
        database = self._databases.get(target)
        if database is None:
            database = self._databases[target] = self.client_for(target)[target.database]
        return database

    def admit(self, target: MongoTarget) -> Admission | PyMongoError:
        """Leave to send a read to the target's cluster, or, while it is down and another read is trying
        it, the error to report at once."""
        outage = self._outages.get(id(self.client_for(target)))
        if outage is None:
            return Admission()
        if not outage.probing:
            outage.probing = True
            return Admission(probe=True)
        return unreached(outage, time.monotonic())

    def settle(self, target: MongoTarget, admission: Admission, outcome: object) -> None:
        """Record what an admitted read found: an outage error marks the cluster down (or keeps it so), any
        other outcome means a server answered. ``outcome`` None: the read was cancelled."""
        key = id(self.client_for(target))
        outage = self._outages.get(key)
        if isinstance(outcome, OUTAGE_ERRORS):
            if outage is None:
                self._outages[key] = Outage(outcome, time.monotonic())
            else:
                outage.error = outcome
                if admission.probe:
                    outage.probing = False
        elif outcome is None:
            if outage is not None and admission.probe:
                outage.probing = False
        else:
            self._outages.pop(key, None)

    async def read(
        self, target: MongoTarget, send: Callable[[], Awaitable[Answer | PyMongoError]]
    ) -> Answer | PyMongoError:
        """``send()``'s answer or error, through the target's cluster's outage state (see the module).

        A cancelled read (the engine stopping) ends cancelled, even when the async driver, cancelled in
        the middle of a server selection, raises ``RuntimeError: Lock is not acquired`` from its
        topology lock instead. Raised otherwise, that error says the client's lock is broken: the client
        is retired (``retire``)."""
        admission = self.admit(target)
        if not isinstance(admission, Admission):
            return admission
        try:
            outcome = await send()
        except RuntimeError:
            self.settle(target, admission, None)
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise asyncio.CancelledError from None
            self.retire(target)
            raise
        except BaseException:
            self.settle(target, admission, None)
            raise
        self.settle(target, admission, outcome)
        return outcome

    def retire(self, target: MongoTarget) -> None:
        """Stop handing out the target's client: the driver's own state broke under it. Its tenants get
        a new client on their next read; the old one is closed with the others."""
        client = self._by_target.get(target)
        if client is None:
            return
        log.warning("the MongoDB client for %s broke inside the driver; using a new one", target.display)
        self._clients = {key: known for key, known in self._clients.items() if known is not client}
        self._by_target = {known: c for known, c in self._by_target.items() if c is not client}
        self._databases = {known: d for known, d in self._databases.items() if d.client is not client}
        self._outages.pop(id(client), None)
        self._retired.append(client)

    async def close(self) -> None:
        """Close every client, each within ``CLOSE_TIMEOUT_S``: the async driver can deadlock in
        ``close()`` on a topology lock left held by a server selection cancelled at our deadline, and
        a cron'd ``opsdash check`` must never hang on its way out. A client that does not close in time,
        or whose close fails (the same lock, released twice: ``RuntimeError``), is abandoned; its
        sockets go with the event loop or the process."""
        clients, self._clients = [*self._clients.values(), *self._retired], {}
        self._retired = []
        self._by_target = {}
        self._databases = {}
        self._outages = {}
        for client in clients:
            try:
                async with asyncio.timeout(CLOSE_TIMEOUT_S):
                    await client.close()
            except TimeoutError:
                log.debug("a MongoDB client did not close within %s s; abandoned", CLOSE_TIMEOUT_S)
            except Exception as exc:
                log.debug("a MongoDB client failed to close (%s); abandoned", type(exc).__name__)


def classify_mongo_error(exc: BaseException) -> ErrorClass:
    """Map a driver exception to the error classes the checks report.

    Matches on the reason only: the driver's "(configured timeouts: ...)" suffix and the
    server-selection "Timeout: ..., Topology Description" tail mention timeouts on every error.
    """
    text = _reason(exc)
    if isinstance(exc, OperationFailure):
        if exc.code in _AUTH_CODES or "auth" in text:
            return "auth"
        if isinstance(exc, ExecutionTimeout | WTimeoutError) or exc.code == 50:
            return "timeout"
        return "protocol"
    if isinstance(exc, ConfigurationError):
        return "dns" if ("dns" in text or "resolution" in text) else "protocol"
    if isinstance(exc, socket.gaierror):
        return "dns"
    network = _refused_or_dns(text)
    if network is not None:
        return network
    if isinstance(exc, NetworkTimeout) or "timed out" in text or "no servers found" in text:
        return "timeout"
    if isinstance(exc, ServerSelectionTimeoutError):
        return "timeout"
    if isinstance(exc, AutoReconnect):
        return "connect"
    return "protocol"


_DRIVER_NOISE = re.compile(r"\s*\(configured timeouts:[^)]*\)")


def _first_part(exc: BaseException) -> str:
    """A driver error's message without the server-selection tail (timeout, topology description)."""
    return str(exc).split(", Timeout:")[0].split(", topology_description")[0]


def _reason(exc: BaseException) -> str:
    return _DRIVER_NOISE.sub("", _first_part(exc)).lower()


def _refused_or_dns(text: str) -> ErrorClass | None:
    if any(m in text for m in ("name or service not known", "nodename nor servname", "getaddrinfo",
                               "temporary failure in name resolution", "no address associated")):
        return "dns"
    if "refused" in text or "connect call failed" in text or "[errno 111]" in text:
        return "connect"
    if "ssl" in text or "certificate" in text or "tls" in text:
        return "tls"
    if "connection closed" in text or "connection is already closed" in text or "reset by peer" in text:
        return "connect"
    return None


def describe_mongo_error(exc: BaseException, secrets: Iterable[str] = ()) -> str:
    """A short, scrubbed, one-line reason for a driver error."""
    return scrub(f"{type(exc).__name__}: {_first_part(exc)}", secrets)[:300]


async def _find_company(clients: MongoClients, tenant: Tenant, timeout_s: float) -> CompanyDocuments:
    """One ``find`` command, its single batch of at most ``COMPANY_READ_LIMIT`` raw documents (no cursor
    is left open on the server)."""
    database = clients.database_for(tenant.mongo)
    query = {
        "find": tenant.company_collection,
        "filter": {},
        "limit": COMPANY_READ_LIMIT,
        "batchSize": COMPANY_READ_LIMIT,
        "singleBatch": True,
    }

    async def send() -> CompanyDocuments:
        try:
            with pymongo.timeout(timeout_s):
                reply = await database.command(query, codec_options=RAW_DOCUMENTS)
        except PyMongoError as exc:
            return exc
        return tuple(reply["cursor"]["firstBatch"])

    return await clients.read(tenant.mongo, send)


def decoded(documents: Sequence[RawBSONDocument]) -> tuple[dict[str, Any], ...]:
    """Raw Company documents as the dicts the resolution reads (timezone-aware datetimes)."""
    return tuple(bson.decode(document.raw, DECODED) for document in documents)


def start_company_read(
    clients: MongoClients, tenant: Tenant, timeout_s: float
) -> asyncio.Future[CompanyDocuments]:
    """Start reading the tenant's Company documents (once per pass); await with ``pass_cache.joined``."""
    return shared(
        ("company", tenant.name, tenant.mongo.url, tenant.company_collection),
        lambda: _find_company(clients, tenant, timeout_s),
    )


async def company_documents(clients: MongoClients, tenant: Tenant, timeout_s: float) -> CompanyDocuments:
    """The tenant's Company documents (at most ``COMPANY_READ_LIMIT``) or the driver's error.

    Once per pass."""
    return await joined(start_company_read(clients, tenant, timeout_s))


async def _ask_build_info(
    client: AsyncMongoClient[dict[str, Any]], timeout_s: float
) -> dict[str, Any] | PyMongoError:
    try:
        with pymongo.timeout(timeout_s):
            return dict(await client.admin.command("buildInfo"))
    except PyMongoError as exc:
        return exc


def start_build_info(
    clients: MongoClients, target: MongoTarget, timeout_s: float
) -> asyncio.Future[dict[str, Any] | PyMongoError]:
    """Start asking the cluster's ``buildInfo`` (once per cluster per pass)."""
    client = clients.client_for(target)
    return shared(
        ("buildInfo", target.cluster_key),
        lambda: clients.read(target, lambda: _ask_build_info(client, timeout_s)),
    )


async def build_info(
    clients: MongoClients, target: MongoTarget, timeout_s: float
) -> dict[str, Any] | PyMongoError:
    """The cluster's ``buildInfo`` reply or the driver's error; once per cluster per pass."""
    return await joined(start_build_info(clients, target, timeout_s))


async def read_company(
    clients: MongoClients, tenant: Tenant, timeout_s: float, secrets: Iterable[str] = ()
) -> CompanyRead:
    """Read the tenant's Company documents the way ``findFirst()`` sees them, within a deadline."""
    outcome = await company_documents(clients, tenant, timeout_s)
    if isinstance(outcome, PyMongoError):
        return CompanyRead(error=describe_mongo_error(outcome, secrets))
    return CompanyRead(documents=decoded(outcome))
