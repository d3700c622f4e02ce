"""The ``isolation`` check (fleet-wide): tenants that share a database, a WhatsApp number, a Cloudinary
folder or SMTP credentials. ``decide`` compares effective-config profiles and is pure; ``profile_of``
builds a profile from a resolution, and ``database_addresses`` does the one bit of I/O (DNS)."""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Iterable, Mapping, Sequence
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


NAMED_IN_SUMMARY = 5
"""Other tenants named per shared identity in a summary; beyond this many they are counted."""
NAMED_IN_DETAILS = 20
"""Other tenants listed in ``shared_with``, besides those the summary names; ``shared_with_count``
counts them all. A fleet of 1,000 tenants on one SMTP relay would otherwise give every tenant a summary
naming 999 others (78 KB each) and make the check quadratic in the fleet."""

Identity = tuple[str, tuple[tuple[Any, ...], ...]]
"""What a tenant shares when another tenant has it too (as text), and the keys that find the others."""


def identities(profile: TenantProfile) -> list[Identity]:
    """The identities the check compares, in the order a summary names them. A database is shared with a
    tenant that has the same database name at one of the same addresses."""
    addresses = sorted(profile.db_addresses)
    found: list[Identity] = [
        (f"database {profile.db_display}", tuple(("db", profile.database, a) for a in addresses))
    ]
    phone = profile.whatsapp_phone_id
    if phone:
        found.append((f"WhatsApp phone number id {phone}", (("whatsapp", phone),)))
    if profile.cloudinary:
        cloud, folder = profile.cloudinary
        where = f"folder {folder!r}" if folder else "(no client folder)"
        found.append((f"Cloudinary cloud {cloud} {where}", (("cloudinary", profile.cloudinary),)))
    if profile.smtp:
        host, user, _ = profile.smtp
        found.append((f"SMTP credentials ({user} at {host})", (("smtp", profile.smtp),)))
    return found


def _first_others(holders: Iterable[int], me: int, limit: int) -> list[int]:
    return list(itertools.islice((j for j in holders if j != me), limit))


def _named(names: list[str], count: int) -> str:
    if count <= NAMED_IN_SUMMARY:
        return ", ".join(names)
    return f"{count} tenants: {', '.join(names)} and {count - NAMED_IN_SUMMARY} more"


def decide(profiles: Sequence[TenantProfile]) -> dict[str, Verdict]:
    """Pure: per tenant, OK or WARN naming, for each identity it shares, the other tenants that have it
    (in the order given; past ``NAMED_IN_SUMMARY`` of them, how many). ``shared_with`` maps the tenants
    the summary names, and the first others up to ``NAMED_IN_DETAILS``, to what each shares with it;
    ``shared_with_count`` counts every other tenant it shares something with. Tenants that hold the same
    identities share the work, so a fleet where most tenants share one SMTP relay costs what a fleet that
    shares nothing does."""
    own = [identities(p) for p in profiles]
    holders: dict[tuple[Any, ...], list[int]] = {}
    for i, mine in enumerate(own):
        for _, keys in mine:
            for key in keys:
                holders.setdefault(key, []).append(i)
    holder_sets = {key: set(members) for key, members in holders.items() if len(members) > 1}
    unions: dict[tuple[tuple[Any, ...], ...], list[int]] = {}

    def holders_of(keys: tuple[tuple[Any, ...], ...]) -> list[int]:
        """Every tenant holding one of these keys, in order (worked out once per set of keys)."""
        if len(keys) == 1:
            return holders[keys[0]]
        known = unions.get(keys)
        if known is None:
            known = unions[keys] = sorted({j for key in keys for j in holders[key]})
        return known

    verdicts: dict[str, Verdict] = {}
    for i, me in enumerate(profiles):
        shares: list[tuple[str, tuple[tuple[Any, ...], ...], list[int], int]] = []
        for what, keys in own[i]:
            held = tuple(key for key in keys if key in holder_sets)
            if held:
                members = holders_of(held)
                shares.append((what, held, _first_others(members, i, NAMED_IN_SUMMARY), len(members) - 1))
        if not shares:
            verdicts[me.tenant] = Verdict(
                Status.OK, "isolated: shares nothing with another tenant", None, {"shared_with": {}}
            )
            continue
        text = "; ".join(
            f"shares {what} with {_named([profiles[j].tenant for j in first], count)}"
            for what, _, first, count in shares
        )
        everyone = holders_of(tuple(key for _, keys, _, _ in shares for key in keys))
        listed = _first_others(everyone, i, NAMED_IN_DETAILS)
        listed = sorted({*listed, *(j for _, _, first, _ in shares for j in first)})
        shared_with = {
            profiles[j].tenant: [
                what for what, keys, _, _ in shares if any(j in holder_sets.get(key, ()) for key in keys)
            ]
            for j in listed
        }
        verdicts[me.tenant] = Verdict(
            Status.WARN,
            f"{me.tenant} {text}",
            "condition",
            {"shared_with": shared_with, "shared_with_count": len(everyone) - 1},
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
