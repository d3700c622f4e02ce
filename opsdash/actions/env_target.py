"""Where a tenant's flags are written: its dotenv file, or its Vercel project when it has one."""

from __future__ import annotations

from typing import Protocol

from opsdash.config.dotenv_writer import BeforeReplace, WritableDotenv
from opsdash.config.fleet import Fleet, Tenant
from opsdash.config.vercel import vercel_env_for
from opsdash.errors import ActionRefused


class WritableEnv(Protocol):
    """An env source that can also be written."""

    label: str
    kind: str
    redeploy_applies: bool
    """Whether a change only takes effect after a redeploy (Vercel)."""

    def read(self) -> dict[str, str | None]: ...

    def set(self, key: str, value: str | None) -> None: ...

    def close(self) -> None: ...


def env_target_for(
    fleet: Fleet, tenant: Tenant, *, before_replace: BeforeReplace | None = None
) -> WritableEnv:
    """The tenant's writable env: Vercel when ``[tenants.vercel]`` is set, else its ``env_file``.

    Raises ``ActionRefused`` when the tenant has neither, ``ConfigError`` when the Vercel token is unset.
    """
    if tenant.vercel is not None:
        return vercel_env_for(fleet, tenant)
    if tenant.env_file is not None:
        return WritableDotenv(tenant.env_file, before_replace=before_replace)
    raise ActionRefused(
        f"tenant '{tenant.name}' has no env_file and no [tenants.vercel] project: nowhere to write its flags"
    )


def sensitive_keys(source: WritableEnv) -> frozenset[str]:
    """Keys the source holds but cannot show (Vercel ``sensitive`` variables); none for a dotenv file."""
    keys = getattr(source, "sensitive_keys", None)
    return keys() if callable(keys) else frozenset()
