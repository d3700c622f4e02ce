"""``--check KIND``: which check ids a kind names, and which check groups must run for them.

A kind is a group (``db``, ``config``, ``integrations``), an exact check id (``config:whatsapp``,
``whatsapp:fallback``) or an id prefix before ``:`` (``config``, ``fallback``, ``whatsapp``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from opsdash.checks.context import CheckGroup
from opsdash.errors import ConfigError

IdTable = Mapping[CheckGroup, Sequence[str]]

FLEET_CHECKS_GROUP: CheckGroup = "config"
"""``run_once`` runs the fleet-wide isolation check with the config group."""
FLEET_CHECK_IDS = ("isolation",)


def with_fleet_checks(ids_by_group: IdTable) -> dict[CheckGroup, tuple[str, ...]]:
    """The group -> ids table, with the fleet-wide checks under the group that runs them."""
    table = {g: tuple(ids) for g, ids in ids_by_group.items()}
    extra = tuple(i for i in FLEET_CHECK_IDS if i not in table.get(FLEET_CHECKS_GROUP, ()))
    table[FLEET_CHECKS_GROUP] = table.get(FLEET_CHECKS_GROUP, ()) + extra
    return table


def kind_matches(kind: str, check_id: str, group: str | None) -> bool:
    return check_id == kind or check_id.startswith(kind + ":") or group == kind


def known_kinds(ids_by_group: IdTable) -> list[str]:
    kinds = set(ids_by_group)
    for ids in ids_by_group.values():
        kinds.update(ids)
        kinds.update(i.split(":", 1)[0] for i in ids)
    return sorted(kinds)


def groups_for(kinds: Iterable[str] | None, ids_by_group: IdTable) -> list[CheckGroup]:
    """The groups to run for these kinds (all for none); an unknown kind is a one-line ``ConfigError``."""
    if not kinds:
        return list(ids_by_group)
    chosen: list[CheckGroup] = []
    for kind in kinds:
        hits = [
            g for g, ids in ids_by_group.items() if g == kind or any(kind_matches(kind, i, g) for i in ids)
        ]
        if not hits:
            known = ", ".join(known_kinds(ids_by_group))
            raise ConfigError(f"--check {kind}: unknown check kind (known: {known})")
        chosen.extend(g for g in hits if g not in chosen)
    return [g for g in ids_by_group if g in chosen]


def keep(check_id: str, kinds: Iterable[str] | None, ids_by_group: IdTable) -> bool:
    """Whether a result with this check id was asked for."""
    if not kinds:
        return True
    group = next((g for g, ids in ids_by_group.items() if check_id in ids), None)
    return any(kind_matches(k, check_id, group) for k in kinds)
