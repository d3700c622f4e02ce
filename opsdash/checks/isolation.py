"""The ``isolation`` check (fleet-wide): tenants that share a database, a WhatsApp number, a Cloudinary
folder or SMTP credentials. ``decide`` compares effective-config profiles and is pure; ``profile_of``
builds a profile from a resolution, and ``database_addresses`` does the one bit of I/O (DNS)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from opsdash.checks.base import CheckResult, Status
from opsdash.checks.verdict import Verdict, to_result
from opsdash.config.fleet import MongoTarget
from opsdash.config.resolve import TenantResolution
from opsdash.redact import fingerprint

CHECK_ID = "isolation"


@dataclass(frozen=True)
class TenantProfile:
    """The identities one tenant's effective config points at. ``smtp`` holds a password fingerprint."""

    tenant: str
    database: str
    db_addresses: frozenset[str]
    db_display: str
    whatsapp_phone_id: str | None = None
    cloudinary: tuple[str, str] | None = None
    smtp: tuple[str, str, str] | None = None


def _value(res: TenantResolution, service: str, field_name: str) -> Any:
    svc = res.services.get(service)
    fres = svc.fields.get(field_name) if svc is not None else None
    if fres is None or fres.source == "missing" or fres.value in (None, ""):
        return None
    return fres.value


def profile_of(
    tenant: str, target: MongoTarget, addresses: frozenset[str], res: TenantResolution | None
) -> TenantProfile:
    """What to compare for one tenant, from its effective (resolved) config."""
    if res is None:
        return TenantProfile(tenant, target.database, addresses, target.display)
    phone = _value(res, "whatsapp", "whatsappPhoneNumberId")
    cloud = _value(res, "cloudinary", "cloudinaryCloudName")
    folder = _value(res, "cloudinary", "cloudinaryClientFolder")
    host, user, password = (_value(res, "email", f) for f in ("smtpHost", "smtpUser", "smtpPass"))
    return TenantProfile(
        tenant=tenant,
        database=target.database,
        db_addresses=addresses,
        db_display=target.display,
        whatsapp_phone_id=str(phone) if phone is not None else None,
        cloudinary=(str(cloud), str(folder or "")) if cloud is not None else None,
        smtp=(str(host).lower(), str(user), fingerprint(str(password)))
        if host is not None and user is not None and password is not None
        else None,
    )


def _shared(a: TenantProfile, b: TenantProfile) -> list[str]:
    found = []
    if a.database == b.database and a.db_addresses & b.db_addresses:
        found.append(f"database {a.db_display}")
    if a.whatsapp_phone_id and a.whatsapp_phone_id == b.whatsapp_phone_id:
        found.append(f"WhatsApp phone number id {a.whatsapp_phone_id}")
    if a.cloudinary and a.cloudinary == b.cloudinary:
        cloud, folder = a.cloudinary
        found.append(
            f"Cloudinary cloud {cloud} folder {folder!r}"
            if folder
            else f"Cloudinary cloud {cloud} (no client folder)"
        )
    if a.smtp and a.smtp == b.smtp:
        found.append(f"SMTP credentials ({a.smtp[1]} at {a.smtp[0]})")
    return found


def decide(profiles: Sequence[TenantProfile]) -> dict[str, Verdict]:
    """Pure: per tenant, OK or WARN naming every other tenant it shares something with."""
    verdicts: dict[str, Verdict] = {}
    for me in profiles:
        shares: dict[str, list[str]] = {}
        for other in profiles:
            if other.tenant != me.tenant:
                what = _shared(me, other)
                if what:
                    shares[other.tenant] = what
        if not shares:
            verdicts[me.tenant] = Verdict(
                Status.OK, "isolated: shares nothing with another tenant", None, {"shared_with": {}}
            )
            continue
        text = "; ".join(f"shares {', '.join(what)} with {other}" for other, what in shares.items())
        verdicts[me.tenant] = Verdict(
            Status.WARN, f"{me.tenant} {text}", "condition", {"shared_with": shares}
        )
    return verdicts


async def database_addresses(target: MongoTarget, timeout_s: float) -> frozenset[str]:
    """Each ``host:port`` of the URL resolved to ``ip:port`` (the literal host when DNS fails), so that
    ``localhost`` and ``127.0.0.1`` compare equal."""
    loop = asyncio.get_running_loop()
    found: set[str] = set()
    for hostport in target.hosts:
        host, _, port = hostport.rpartition(":")
        try:
            async with asyncio.timeout(timeout_s):
                infos = await loop.getaddrinfo(host, int(port), type=socket.SOCK_STREAM)
            found.update(f"{info[4][0]}:{port}" for info in infos)
        except (OSError, TimeoutError, ValueError):
            found.add(hostport)
    return frozenset(found)


def results(
    profiles: Sequence[TenantProfile],
    started: datetime,
    duration_s: float,
    notes: Mapping[str, str] | None = None,
) -> list[CheckResult]:
    """One ``isolation`` result per tenant, in the order given."""
    verdicts = decide(profiles)
    out = []
    for profile in profiles:
        verdict = verdicts[profile.tenant]
        note = (notes or {}).get(profile.tenant)
        if note:
            verdict = Verdict(
                verdict.status, f"{verdict.summary} ({note})", verdict.error_class, verdict.details
            )
        out.append(to_result(profile.tenant, CHECK_ID, verdict, started=started, duration_s=duration_s))
    return out
