"""``opsdash watch``: run the scheduler without the TUI and deliver alert state changes.

Each batch of results goes through the alert state machine (persisted in the results store's SQLite
file); firing/resolved events go to NDJSON on stdout, Alertmanager and/or a webhook, delivered from
background tasks so a slow receiver never holds up the checks. SIGTERM/SIGINT: stop the checks,
flush deliveries (up to the delivery timeout), exit 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import ssl
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opsdash.config.fleet import Fleet, find_config, load_fleet
from opsdash.errors import ConfigError

if TYPE_CHECKING:
    import httpx

    from opsdash.alerts.policy import AlertPolicy


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "watch",
        help="run the checks continuously without the TUI and deliver alerts",
        description="Run the scheduler headless. Alert state changes (firing/resolved) go to every sink "
        "given; with none, NDJSON on stdout. Policy: the [alerts] table of tenants.toml.",
    )
    parser.add_argument(
        "--ndjson", action="store_true", help="one JSON line per alert state change on stdout"
    )
    parser.add_argument("--alertmanager", metavar="URL", help="Alertmanager base URL (POST /api/v2/alerts)")
    parser.add_argument("--webhook", metavar="URL", help="POST each alert state change as JSON to URL")
    parser.add_argument("--heartbeat-url", metavar="URL", help="GET this URL after each sweep")
    parser.set_defaults(func=run)


def validate_url(option: str, url: str | None) -> str | None:
    """An http(s) URL with a host, or a one-line ``ConfigError`` naming the option."""
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{option}: expected an http:// or https:// URL")
    return url


def _http_client(fleet: Fleet, policy: AlertPolicy) -> httpx.AsyncClient:
    context = ssl.create_default_context()
    if fleet.endpoints.extra_ca_file:
        context.load_verify_locations(cafile=fleet.endpoints.extra_ca_file)
    import httpx

    return httpx.AsyncClient(verify=context, follow_redirects=False, timeout=policy.delivery_timeout)


class _DropShutdownCancellation(logging.Filter):
    """APScheduler logs the cancellation of its job wrappers at shutdown as a failed job; it is not one."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, asyncio.CancelledError)


def setup_logging() -> None:
    """Warnings and errors of the engine and its libraries go to stderr, one prefix, no shutdown noise."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("opsdash watch: %(name)s: %(message)s"))
    handler.addFilter(_DropShutdownCancellation())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


def run(args: argparse.Namespace) -> int:
    from opsdash.alerts.policy import parse_policy

    setup_logging()
    fleet = load_fleet(find_config(args.config))
    policy = parse_policy(fleet.alerts, fleet.path)
    validate_url("--alertmanager", args.alertmanager)
    validate_url("--webhook", args.webhook)
    validate_url("--heartbeat-url", args.heartbeat_url)
    ndjson = args.ndjson or not (args.alertmanager or args.webhook)
    from opsdash.engine.loop import run_bounded

    return run_bounded(
        watch(fleet, policy, ndjson=ndjson, alertmanager=args.alertmanager, webhook=args.webhook,
              heartbeat_url=args.heartbeat_url)
    )


async def watch(
    fleet: Fleet,
    policy: AlertPolicy,
    *,
    ndjson: bool = True,
    alertmanager: str | None = None,
    webhook: str | None = None,
    heartbeat_url: str | None = None,
    stop: asyncio.Event | None = None,
) -> int:
    """Run until ``stop`` is set (or SIGTERM/SIGINT), then flush and return the exit code."""
    from opsdash.alerts.alertmanager import AlertmanagerSink
    from opsdash.alerts.delivery import diagnose
    from opsdash.alerts.dispatch import AlertDispatcher, Sink
    from opsdash.alerts.heartbeat import Heartbeat
    from opsdash.alerts.ndjson import NdjsonSink
    from opsdash.alerts.persist import AlertStateStore
    from opsdash.alerts.webhook import WebhookSink
    from opsdash.engine.loop import widen_default_executor
    from opsdash.engine.scheduler import Engine, io_threads
    from opsdash.engine.store import ResultStore

    loop = asyncio.get_running_loop()
    widen_default_executor(io_threads(fleet))
    stop = stop or asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)

    store = ResultStore.for_fleet(fleet)
    alert_store = AlertStateStore(store.path)
    http = _http_client(fleet, policy)
    dispatcher = AlertDispatcher(alert_store, policy)
    sinks: list[Sink] = []
    if ndjson:
        sinks.append(NdjsonSink(sys.stdout))
    if alertmanager:
        sinks.append(AlertmanagerSink(alertmanager, policy, http, firing=dispatcher.firing()))
    if webhook:
        sinks.append(WebhookSink(webhook, policy, http))
    dispatcher.sinks = sinks
    heartbeat = None
    if heartbeat_url:
        interval = policy.heartbeat_interval or fleet.poll.db_interval
        heartbeat = Heartbeat(heartbeat_url, http, min_interval=interval, timeout=policy.delivery_timeout)
        await heartbeat.start()
    for sink in sinks:
        await sink.start()
    dispatcher.retire_tenants(t.name for t in fleet.tenants)

    def on_results(results: list[Any], transitions: list[Any]) -> None:
        dispatcher.handle(results)
        if heartbeat is not None:
            heartbeat.beat()

    engine = Engine(fleet, store=store, on_results=on_results)
    firing = len(dispatcher.firing())
    diagnose(
        f"watching {len(fleet.tenants)} tenants from {fleet.path}"
        + (f"; {firing} alert(s) still firing from before" if firing else "")
    )
    try:
        await engine.start()
        await stop.wait()
        diagnose("stopping: waiting for running checks, then flushing alerts")
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
        await engine.stop(grace=policy.delivery_timeout)
        for sink in sinks:
            await sink.close(policy.delivery_timeout)
        if heartbeat is not None:
            await heartbeat.close(policy.delivery_timeout)
        await http.aclose()
        alert_store.close()
        store.close()
    return 0
