"""tenants.toml: find it, parse it, validate it, and refuse anything ambiguous with one clear line."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pymongo.errors import ConfigurationError, InvalidURI

from opsdash.config.catalog import SERVICE_NAMES, ServiceSpec, build_catalog
from opsdash.config.envsource import (
    DotenvFile,
    EnvSource,
    EnvValues,
    FileStamp,
    StaticEnv,
    parse_dotenv_text,
    read_texts_bounded,
)
from opsdash.errors import ConfigError

try:
    from pymongo.uri_parser_shared import _validate_uri as _parse_mongo_uri
except ImportError:  # pragma: no cover - older pymongo
    from pymongo.uri_parser import parse_uri as _parse_mongo_uri

CONFIG_ENV_VAR = "OPSDASH_CONFIG"
STATE_ENV_VAR = "OPSDASH_STATE_DIR"
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_VAR_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
Role = Literal["viewer", "admin"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PollSettings(_Strict):
    """Check intervals and deadlines, in seconds."""

    db_interval: float = Field(15, gt=0)
    config_interval: float = Field(60, gt=0)
    integration_interval: float = Field(300, gt=0)
    db_timeout: float = Field(5, gt=0)
    integration_timeout: float = Field(10, gt=0)
    max_concurrency: int = Field(64, ge=1)
    """Runs that read tenant databases (db, config, the fleet-wide check) at once, fleet-wide."""
    integration_concurrency: int = Field(32, ge=1)
    """Integration probe runs at once, fleet-wide: a lane of their own, so that slow endpoints never
    hold back the database checks."""
    backoff_max: float = Field(300, gt=0)


class TenantPollOverrides(_Strict):
    """Per-tenant interval overrides."""

    db_interval: float | None = Field(None, gt=0)
    config_interval: float | None = Field(None, gt=0)
    integration_interval: float | None = Field(None, gt=0)


class ServiceOverride(_Strict):
    """``[services.<name>]``: the flag's name and per-field env-var names, where the app differs."""

    flag: str | None = None
    env: dict[str, str] = Field(default_factory=dict)


class Endpoints(_Strict):
    """Base URLs of the SaaS APIs; every one is configurable so tests and the demo run on loopback."""

    graph_api: str = "https://graph.facebook.com"
    cloudinary_api: str = "https://api.cloudinary.com"
    vercel_api: str = "https://api.vercel.com"
    auth_providers_path: str = "/api/auth/providers"
    extra_ca_file: str | None = None
    """PEM bundle trusted on top of the system CAs (a private SMTP relay; the demo's local servers)."""


class VercelProject(_Strict):
    """A tenant whose env lives in a Vercel project rather than a dotenv file."""

    project: str
    team_id: str | None = None
    token_env: str = "VERCEL_TOKEN"
    target: str = "production"


class TenantEntry(_Strict):
    """One ``[[tenants]]`` entry as written."""

    name: str
    database_url: str | None = None
    env_file: str | None = None
    tags: list[str] = Field(default_factory=list)
    company_collection: str = "Company"
    vercel: VercelProject | None = None
    poll: TenantPollOverrides | None = None

    @field_validator("name")
    @classmethod
    def _slug(cls, value: str) -> str:
        if not _SLUG.match(value):
            raise ValueError("must be a lowercase slug (a-z, 0-9, '-', '_')")
        return value


class StateSettings(_Strict):
    """Where opsdash keeps its results store and local audit log."""

    dir: str | None = None
    audit_collection: str = "OpsdashAudit"
    history_days: float = Field(7, gt=0)
    max_history_per_check: int = Field(10_000, ge=1)


class FleetFile(_Strict):
    """The whole of tenants.toml as written."""

    tenants: list[TenantEntry] = Field(default_factory=list)
    poll: PollSettings = Field(default_factory=PollSettings)
    services: dict[str, ServiceOverride] = Field(default_factory=dict)
    endpoints: Endpoints = Field(default_factory=Endpoints)
    operators: dict[str, Role] | None = None
    state: StateSettings = Field(default_factory=StateSettings)
    alerts: dict[str, Any] = Field(default_factory=dict)
    keymap: dict[str, str] = Field(default_factory=dict)


@dataclass(frozen=True)
class MongoTarget:
    """Where a tenant's data lives: the URL (with credentials, never shown) and what it resolves to."""

    url: str
    hosts: tuple[str, ...]
    database: str
    username: str | None
    auth_source: str | None

    @cached_property
    def cluster_key(self) -> tuple[Any, ...]:
        """Identity of a client: same hosts, same credentials, same auth database, same options (worked out
        once: every read of a pass looks its client up by it)."""
        base = self.url.split("?", 1)
        options = base[1] if len(base) > 1 else ""
        return (self.hosts, self.username, self.auth_source, options, self.password)

    @cached_property
    def password(self) -> str | None:
        return _password_of(self.url)

    @property
    def display(self) -> str:
        """``host[,host]/database`` with credentials stripped."""
        return f"{','.join(self.hosts)}/{self.database}"


@dataclass(frozen=True)
class Tenant:
    """One tenant, validated and resolved: ready for checks and actions."""

    name: str
    mongo: MongoTarget
    env_source: EnvSource
    tags: tuple[str, ...]
    company_collection: str
    poll: PollSettings
    vercel: VercelProject | None = None
    env_file: Path | None = None


@dataclass(frozen=True)
class Fleet:
    """The fleet as tenants.toml describes it."""

    path: Path
    tenants: tuple[Tenant, ...]
    poll: PollSettings
    catalog: Mapping[str, ServiceSpec]
    endpoints: Endpoints
    operators: Mapping[str, Role] | None
    state_dir: Path
    audit_collection: str = "OpsdashAudit"
    alerts: Mapping[str, Any] = field(default_factory=dict)
    keymap: Mapping[str, str] = field(default_factory=dict)
    retention: StateSettings = field(default_factory=StateSettings)
    env_at_load: Mapping[str, tuple[FileStamp, EnvValues]] = field(
        default_factory=dict, repr=False, compare=False
    )
    """Each env file as the load read it, by label, with its stamp from before the read: an engine's
    first pass need not read a file again that is unchanged since."""

    def tenant(self, name: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.name == name:
                return tenant
        raise ConfigError(f"{self.path}: no tenant named '{name}'")

    def select(self, names: Iterable[str] | None) -> list[Tenant]:
        """The named tenants in fleet order, or all of them; an unknown name is a ``ConfigError``."""
        wanted = set(names or [])
        for name in wanted:
            self.tenant(name)
        return [t for t in self.tenants if not wanted or t.name in wanted]


def _password_of(url: str) -> str | None:
    match = re.match(r"^[a-z+]+://[^:/@]*:([^@]*)@", url)
    return unquote_plus(match[1]) if match else None


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path:
    """``--config``, then ``$OPSDASH_CONFIG``, then ``./tenants.toml``, then the XDG config dir."""
    chosen = explicit or os.environ.get(CONFIG_ENV_VAR)
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    import platformdirs

    candidates = [Path("tenants.toml"), platformdirs.user_config_path("opsdash") / "tenants.toml"]
    for path in candidates:
        if path.is_file():
            return path
    looked = ", ".join(str(p) for p in candidates)
    raise ConfigError(f"no tenants.toml found (looked in {looked}); pass --config PATH")


def _describe_validation_error(path: Path, raw: Mapping[str, Any], exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ""
    if loc and loc[0] == "tenants" and len(loc) > 1 and isinstance(loc[1], int):
        entries = raw.get("tenants", [])
        entry = entries[loc[1]] if loc[1] < len(entries) else {}
        label = entry.get("name") if isinstance(entry, dict) else None
        where = f"tenant '{label}': " if label else f"tenants[{loc[1]}]: "
        loc = loc[2:]
    key = ".".join(str(part) for part in loc)
    if err["type"] == "extra_forbidden":
        return f"{path}: {where}unknown key '{key}'"
    if err["type"] == "missing":
        return f"{path}: {where}missing key '{key}'"
    message = err["msg"].removeprefix("Value error, ")
    return f"{path}: {where}{key}: {message}"


def _expand(
    text: str, tenant: str, env_values: Mapping[str, str | None], path: Path
) -> str:
    def substitute(match: re.Match[str]) -> str:
        var = match[1]
        value = env_values.get(var)
        if value is None:
            value = os.environ.get(var)
        if value is None:
            raise ConfigError(
                f"{path}: tenant '{tenant}': database_url references ${{{var}}}, which is unset"
            )
        return value

    return _VAR_REF.sub(substitute, text)


def parse_mongo_url(url: str, where: str) -> MongoTarget:
    """Parse a MongoDB URL without DNS lookups; a URL with no database name is refused."""
    try:
        parsed = _parse_mongo_uri(url)
    except (InvalidURI, ConfigurationError, ValueError) as exc:
        from opsdash.redact import scrub

        reason = scrub(str(exc), [p for p in [_password_of(url)] if p])
        raise ConfigError(f"{where}: DATABASE_URL does not parse: {reason}") from None
    database = parsed.get("database")
    if not database:
        raise ConfigError(f"{where}: DATABASE_URL names no database (expected .../tenant-db)")
    hosts = tuple(sorted(f"{host.lower()}:{port}" for host, port in parsed["nodelist"]))
    options = parsed.get("options") or {}
    username = parsed.get("username")
    auth_source = options.get("authsource") or options.get("authSource")
    if username and not auth_source:
        auth_source = database
    return MongoTarget(url, hosts, database, username, auth_source)


def _tenant_env(entry: TenantEntry, base: Path) -> tuple[EnvSource, Path | None]:
    if entry.env_file:
        env_path = (base / entry.env_file) if not Path(entry.env_file).is_absolute() else Path(
            entry.env_file
        )
        return DotenvFile(env_path), env_path
    return StaticEnv({}, label=f"tenant '{entry.name}' (no env_file)"), None


def _user_state_path() -> Path:
    import platformdirs

    return platformdirs.user_state_path("opsdash")


def load_fleet(path: Path) -> Fleet:
    """Read and validate tenants.toml and each tenant's env file; raises ``ConfigError``, also for an env
    file that does not answer within ``poll.db_timeout`` (the deadline a check gives it)."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        spec = FleetFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(path, raw, exc)) from None

    for service, override in spec.services.items():
        if service not in SERVICE_NAMES:
            raise ConfigError(f"{path}: [services.{service}]: unknown service")
        catalog_fields = build_catalog()[service].fields
        for field_name in override.env:
            if field_name not in catalog_fields:
                raise ConfigError(
                    f"{path}: [services.{service}.env]: '{field_name}' is not a {service} field"
                )
    catalog = build_catalog(
        {name: o.flag for name, o in spec.services.items() if o.flag},
        {name: o.env for name, o in spec.services.items()},
    )

    base = path.parent
    envs = [_tenant_env(entry, base) for entry in spec.tenants]
    env_files = [env_source for env_source, _ in envs if isinstance(env_source, DotenvFile)]
    env_texts = iter(read_texts_bounded(env_files, spec.poll.db_timeout))
    env_at_load: dict[str, tuple[FileStamp, EnvValues]] = {}
    tenants: list[Tenant] = []
    seen_names: set[str] = set()
    seen_targets: dict[tuple[tuple[str, ...], str], str] = {}
    for entry, (env_source, env_path) in zip(spec.tenants, envs, strict=True):
        where = f"{path}: tenant '{entry.name}'"
        if entry.name in seen_names:
            raise ConfigError(f"{path}: duplicate tenant name '{entry.name}'")
        seen_names.add(entry.name)
        env_values: EnvValues = {}
        if isinstance(env_source, DotenvFile):
            env_read = next(env_texts)
            if isinstance(env_read, Exception):
                raise env_read
            stamp, env_text = env_read
            env_values = parse_dotenv_text(env_text, env_source.label)
            if stamp is not None:
                env_at_load[env_source.label] = (stamp, env_values)
        url_template = entry.database_url or "${DATABASE_URL}"
        url = _expand(url_template, entry.name, env_values, path)
        target = parse_mongo_url(url, where)
        key = (target.hosts, target.database)
        if key in seen_targets:
            raise ConfigError(
                f"{path}: tenants '{seen_targets[key]}' and '{entry.name}' share the database "
                f"{target.display}: an isolation breach"
            )
        seen_targets[key] = entry.name
        poll = spec.poll
        if entry.poll:
            poll = spec.poll.model_copy(update=entry.poll.model_dump(exclude_none=True))
        tenants.append(
            Tenant(
                name=entry.name,
                mongo=target,
                env_source=env_source,
                tags=tuple(entry.tags),
                company_collection=entry.company_collection,
                poll=poll,
                vercel=entry.vercel,
                env_file=env_path,
            )
        )

    state_dir = Path(
        os.environ.get(STATE_ENV_VAR)
        or (base / spec.state.dir if spec.state.dir else _user_state_path())
    )
    endpoints = spec.endpoints
    if endpoints.extra_ca_file and not Path(endpoints.extra_ca_file).is_absolute():
        endpoints = endpoints.model_copy(update={"extra_ca_file": str(base / endpoints.extra_ca_file)})
    return Fleet(
        path=path,
        tenants=tuple(tenants),
        poll=spec.poll,
        catalog=catalog,
        endpoints=endpoints,
        operators=spec.operators,
        state_dir=state_dir,
        audit_collection=spec.state.audit_collection,
        alerts=spec.alerts,
        keymap=spec.keymap,
        retention=spec.state,
        env_at_load=env_at_load,
    )
