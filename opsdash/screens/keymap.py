"""The one registry of dashboard commands: key bindings (with ids users can remap), palette and help."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from textual.binding import Binding

Scope = str
"""Where a command applies: ``app`` (everywhere), ``overview``, ``detail``, ``audit`` or ``form``."""


@dataclass(frozen=True)
class Command:
    """One thing an operator can do: its binding id, default keys, action and description."""

    id: str
    keys: str
    action: str
    description: str
    scope: Scope
    show: bool = True
    key_display: str | None = None
    priority: bool = False


COMMANDS: tuple[Command, ...] = (
    Command("quit", "q", "quit", "Quit", "app"),
    Command("interrupt", "ctrl+c", "quit", "Quit (Ctrl+C)", "app", show=False, priority=True),
    Command("help", "question_mark,f1", "help", "Help", "app", key_display="?"),
    Command("audit", "a", "open_audit", "Audit log", "app"),
    Command("open-tenant", "enter", "open_tenant", "Open tenant", "overview"),
    Command("filter", "slash", "start_filter", "Filter", "overview", key_display="/"),
    Command("clear-filter", "escape", "clear_filter", "Clear filter", "overview", show=False),
    Command("check-now", "r", "check_now", "Check now", "overview"),
    Command("flip", "f", "flip", "Flip", "detail"),
    Command("edit", "e", "edit", "Edit", "detail"),
    Command("detail-check-now", "r", "check_now", "Check now", "detail"),
    Command("tenant-audit", "A", "tenant_audit", "Tenant audit", "detail", show=False),
    Command("next-service", "right,l", "next_service", "Next service", "detail", show=False),
    Command("prev-service", "left,h", "prev_service", "Previous service", "detail", show=False),
    Command("back", "escape", "back", "Back", "detail"),
    Command("undo", "u", "undo", "Undo", "audit"),
    Command("audit-filter", "slash", "start_filter", "Filter", "audit", key_display="/"),
    Command("audit-reload", "r", "reload", "Reload", "audit", show=False),
    Command("audit-back", "escape", "back", "Back", "audit"),
    Command("submit", "ctrl+s", "submit", "Submit", "form", priority=True),
    Command("cancel", "escape", "cancel", "Cancel", "form", priority=True),
)

COMMANDS_BY_ID: Mapping[str, Command] = {c.id: c for c in COMMANDS}


def bindings(scope: Scope) -> list[Binding]:
    """Textual bindings for one scope, each with its id so ``App.set_keymap`` can remap it."""
    return [
        Binding(
            c.keys,
            c.action,
            c.description,
            show=c.show,
            key_display=c.key_display,
            priority=c.priority,
            id=c.id,
        )
        for c in COMMANDS
        if c.scope == scope
    ]


def commands_for(scopes: Iterable[Scope]) -> list[Command]:
    wanted = set(scopes)
    return [c for c in COMMANDS if c.scope in wanted]


def unknown_ids(keymap: Mapping[str, str]) -> list[str]:
    """Ids in a ``[keymap]`` table that name no command: reported, never silently ignored."""
    return sorted(set(keymap) - set(COMMANDS_BY_ID))


def keys_for(command: Command, keymap: Mapping[str, str]) -> str:
    """The keys a command answers to under ``keymap``, as shown in help."""
    keys = keymap.get(command.id, command.keys)
    if command.id not in keymap and command.key_display:
        return command.key_display
    return ", ".join(k.strip() for k in keys.split(","))
