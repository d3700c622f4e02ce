"""The service catalog: which flag governs each service, its Company fields and their env-var names."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from opsdash.config.company import COMPANY_FIELDS, FIELDS_BY_NAME, SECRET_FIELDS, FieldSpec


class ResolutionMode:
    """How the app resolves a service's fields."""

    FLAGGED = "flagged"
    """``USE_DB_X === 'true'`` ? ``company?.field ?? env`` : ``env``."""
    DB_THEN_ENV = "db_then_env"
    """No flag: always ``company?.field ?? env``."""
    DB_ONLY = "db_only"
    """No flag and no env fallback: the Company document (or the Prisma default) only."""


@dataclass(frozen=True)
class ServiceSpec:
    """One service the app configures from Company fields."""

    name: str
    title: str
    mode: str
    flag: str | None
    fields: tuple[str, ...]
    env_names: Mapping[str, str] = field(default_factory=dict)
    _specs: tuple[FieldSpec, ...] = field(init=False, repr=False, compare=False)
    _required: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _env_pairs: tuple[tuple[FieldSpec, str | None], ...] = field(init=False, repr=False, compare=False)
    _secret_env_names: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        specs = tuple(FIELDS_BY_NAME[name] for name in self.fields)
        object.__setattr__(self, "_specs", specs)
        object.__setattr__(self, "_required", tuple(s.name for s in specs if s.required))
        object.__setattr__(self, "_env_pairs", tuple((s, self.env_names.get(s.name)) for s in specs))
        secret_names = {self.env_names.get(name) for name in self.fields if name in SECRET_FIELDS}
        object.__setattr__(self, "_secret_env_names", frozenset(secret_names - {None}))

    def field_specs(self) -> tuple[FieldSpec, ...]:
        return self._specs

    def required_fields(self) -> tuple[str, ...]:
        return self._required

    def fields_with_env_names(self) -> tuple[tuple[FieldSpec, str | None], ...]:
        """Each field's spec with the env var that backs it (None for DB-only fields)."""
        return self._env_pairs

    def secret_env_names(self) -> frozenset[str]:
        """The env vars that back this service's secret fields."""
        return self._secret_env_names

    def env_name(self, field_name: str) -> str | None:
        return self.env_names.get(field_name)


def default_env_name(field_name: str) -> str:
    """``cloudinaryApiSecret`` -> ``CLOUDINARY_API_SECRET``, the app's documented convention."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", field_name).upper()


_SERVICE_DEFS: tuple[tuple[str, str, str, str | None], ...] = (
    ("whatsapp", "WhatsApp Cloud API", ResolutionMode.FLAGGED, "USE_DB_WHATSAPP"),
    ("whatsapp_otp", "WhatsApp OTP", ResolutionMode.FLAGGED, "USE_DB_WHATSAPP_OTP"),
    ("cloudinary", "Cloudinary", ResolutionMode.FLAGGED, "USE_DB_CLOUDINARY"),
    ("auth", "Auth callback", ResolutionMode.FLAGGED, "USE_DB_AUTH_CALLBACK"),
    ("email", "Email / SMTP", ResolutionMode.DB_THEN_ENV, None),
    ("business", "Business info", ResolutionMode.DB_ONLY, None),
)

SERVICE_NAMES: tuple[str, ...] = tuple(name for name, *_ in _SERVICE_DEFS)
FLAGGED_SERVICES: tuple[str, ...] = tuple(
    name for name, _, mode, _ in _SERVICE_DEFS if mode == ResolutionMode.FLAGGED
)


def build_catalog(
    flag_overrides: Mapping[str, str] | None = None,
    env_overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, ServiceSpec]:
    """The catalog, with flag and env-var names overridden per service where tenants.toml says so."""
    flag_overrides = flag_overrides or {}
    env_overrides = env_overrides or {}
    catalog: dict[str, ServiceSpec] = {}
    for name, title, mode, flag in _SERVICE_DEFS:
        fields = tuple(spec.name for spec in COMPANY_FIELDS if spec.service == name)
        env_names: dict[str, str] = {}
        if mode != ResolutionMode.DB_ONLY:
            env_names = {f: default_env_name(f) for f in fields}
            env_names.update(env_overrides.get(name, {}))
        catalog[name] = ServiceSpec(
            name=name,
            title=title,
            mode=mode,
            flag=flag_overrides.get(name, flag) if flag else None,
            fields=fields,
            env_names=env_names,
        )
    return catalog


DEFAULT_CATALOG: Mapping[str, ServiceSpec] = build_catalog()
