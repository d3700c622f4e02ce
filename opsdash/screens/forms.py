"""Pure logic of the edit form: initial texts, inline validation, pending changes and the masked diff."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opsdash.config.company import FIELDS_BY_NAME, is_secret, parse_text, validate_value
from opsdash.redact import mask_secret


def text_of(value: Any) -> str:
    """A stored value as the text an operator would type."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def initial_texts(fields: Sequence[str], company: Mapping[str, Any]) -> dict[str, str]:
    """What each input starts with; a secret input starts empty (empty means "leave unchanged")."""
    return {name: "" if is_secret(name) else text_of(company.get(name)) for name in fields}


def check_text(field: str, text: str) -> str | None:
    """Inline validation against the Company model; ``None`` when the text is acceptable."""
    if is_secret(field) and text == "":
        return None
    spec = FIELDS_BY_NAME[field]
    if text == "":
        return "is required" if spec.required else None
    try:
        value = parse_text(field, text)
    except ValueError as exc:
        return str(exc)
    return validate_value(field, value)


def pending_changes(initial: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """The fields whose text the operator changed (an empty secret input is no change)."""
    changes: dict[str, str] = {}
    for name, text in current.items():
        if is_secret(name) and text == "":
            continue
        if text != initial.get(name, ""):
            changes[name] = text
    return changes


def form_errors(current: Mapping[str, str]) -> dict[str, str]:
    found = {}
    for name, text in current.items():
        reason = check_text(name, text)
        if reason:
            found[name] = reason
    return found


def _shown(field: str, value: Any) -> str:
    if is_secret(field):
        masked = mask_secret(value)
        return "unset" if masked is None else masked.strip("<>")
    if value is None or value == "":
        return "unset" if value is None else '""'
    return text_of(value)


def diff_lines(changes: Mapping[str, str], company: Mapping[str, Any]) -> list[str]:
    """``field: old → new`` per change; secrets appear only as set/unset and a fingerprint."""
    return [
        f"{name}: {_shown(name, company.get(name))} → {_shown(name, text)}" for name, text in changes.items()
    ]


def expected_values(changes: Mapping[str, str], company: Mapping[str, Any]) -> dict[str, Any]:
    """The values the form was opened with, for the fields being changed: the edit's conflict check."""
    return {name: company.get(name) for name in changes}
