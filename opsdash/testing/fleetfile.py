"""Write a tenants.toml and one dotenv file per tenant: for tests, the demo and the benchmarks."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TenantFiles:
    """One tenant as it should appear in tenants.toml, plus its deployment env."""

    name: str
    database_url: str | None
    env: Mapping[str, str] = field(default_factory=dict)
    tags: Sequence[str] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)


def toml_value(value: Any) -> str:
    """A TOML literal for a string, number, bool, list or inline table."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def dotenv_text(env: Mapping[str, str]) -> str:
    """Dotenv lines, double-quoted so python-dotenv reads every value back unchanged."""
    lines = []
    for key, value in env.items():
        escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        lines.append(f'{key}="{escaped}"')
    return "\n".join(lines) + "\n"


def write_fleet(
    directory: Path,
    tenants: Sequence[TenantFiles],
    *,
    tables: Mapping[str, Mapping[str, Any]] | None = None,
    filename: str = "tenants.toml",
) -> Path:
    """Write ``directory/tenants.toml`` and ``directory/env/<tenant>.env``; returns the toml path."""
    env_dir = directory / "env"
    env_dir.mkdir(parents=True, exist_ok=True)
    out: list[str] = []
    for table, values in (tables or {}).items():
        out.append(f"[{table}]")
        out.extend(f"{json.dumps(k)} = {toml_value(v)}" for k, v in values.items())
        out.append("")
    for tenant in tenants:
        env_path = env_dir / f"{tenant.name}.env"
        env_path.write_text(dotenv_text(tenant.env), encoding="utf-8")
        out.append("[[tenants]]")
        out.append(f"name = {toml_value(tenant.name)}")
        if tenant.database_url is not None:
            out.append(f"database_url = {toml_value(tenant.database_url)}")
        out.append(f"env_file = {toml_value(f'env/{tenant.name}.env')}")
        if tenant.tags:
            out.append(f"tags = {toml_value(list(tenant.tags))}")
        out.extend(f"{k} = {toml_value(v)}" for k, v in tenant.extra.items())
        out.append("")
    path = directory / filename
    path.write_text("\n".join(out), encoding="utf-8")
    return path
