"""Shared delivery plumbing for the HTTP sinks: one POST/GET attempt, backoff, and URL display."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import urlsplit

import httpx

from opsdash.alerts.policy import AlertPolicy


def describe_url(url: str) -> str:
    """``scheme://host:port`` only: webhook and heartbeat URLs often carry a token in the path."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def backoff_delay(attempt: int, policy: AlertPolicy) -> float:
    """Delay before retry number ``attempt`` (1-based): exponential from ``retry_initial``, capped."""
    return min(policy.retry_initial * 2 ** max(attempt - 1, 0), policy.retry_max)


async def send(
    http: httpx.AsyncClient, method: str, url: str, body: Any | None, timeout: float
) -> str | None:
    """One attempt; ``None`` on a 2xx answer, else a short reason (no URL path, no body)."""
    try:
        response = await http.request(method, url, json=body, timeout=timeout)
    except httpx.TimeoutException:
        return "timed out"
    except httpx.HTTPError as exc:
        return type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


def diagnose(message: str) -> None:
    """One line on stderr; stdout carries only data."""
    print(f"opsdash watch: {message}", file=sys.stderr, flush=True)
