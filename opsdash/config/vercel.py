"""A tenant's env as a Vercel project's environment variables, over the Vercel REST API (httpx).

Reads ``GET /v10/projects/{id}/env``; writes ``PATCH /v9/projects/{id}/env/{envId}`` or, when the variable
is absent for the target, ``POST /v10/projects/{id}/env``. Env changes only apply to new deployments, so
:meth:`VercelEnv.redeploy` redeploys the current production deployment, and only when asked.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from opsdash.config.fleet import Fleet, Tenant, VercelProject
from opsdash.errors import EXIT_FAILURE, ConfigError, OpsdashError
from opsdash.redact import scrub

if TYPE_CHECKING:
    import httpx

DEFAULT_TIMEOUT_S = 10.0


class VercelError(OpsdashError):
    """The Vercel API refused or failed a request; one line naming the project and what to do."""


@dataclass(frozen=True)
class Redeploy:
    """A redeploy Vercel accepted."""

    deployment_id: str
    source_deployment_id: str
    url: str | None
    ready_state: str | None


def describe_vercel_error(status: int, body: Any, *, project: str, token_env: str, team_id: str | None,
                          retry_after: str | None = None) -> tuple[str, int]:
    """A one-line message and exit code for a Vercel error response. Pure."""
    error = body.get("error", {}) if isinstance(body, Mapping) else {}
    code = error.get("code") if isinstance(error, Mapping) else None
    text = error.get("message") if isinstance(error, Mapping) else None
    said = f" ({code}: {text})" if code and text else f" ({text or code})" if (text or code) else ""
    scope = f"project '{project}'" + (f" in team '{team_id}'" if team_id else "")
    if status == 401:
        return f"Vercel rejected the token in ${token_env} (401 unauthorized){said}", 2
    if status == 403:
        return (f"Vercel denied access to {scope} (403 forbidden){said}: check that the token in "
                f"${token_env} is valid and can reach it", 2)
    if status == 404:
        return (f"Vercel {scope} or the requested item was not found (404){said}: check "
                "[tenants.vercel] project and team_id", 2)
    if status == 429:
        wait = f"; retry in {retry_after}s" if retry_after else "; retry later"
        return f"Vercel rate limit hit for {scope} (429){said}{wait}", EXIT_FAILURE
    if status >= 500:
        return f"Vercel API error {status} for {scope}{said}; try again shortly", EXIT_FAILURE
    return f"Vercel API answered {status} for {scope}{said}", 2


class VercelEnv:
    """One Vercel project's env for one target (``production`` by default), readable and writable."""

    kind = "vercel"
    redeploy_applies = True

    def __init__(self, settings: VercelProject, *, base_url: str, token: str,
                 timeout_s: float = DEFAULT_TIMEOUT_S, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.project = settings.project
        self.target = settings.target
        self.label = f"vercel:{settings.project}" + (f" ({settings.team_id})" if settings.team_id else "")
        self._token = token
        params = {"teamId": settings.team_id} if settings.team_id else {}
        import httpx

        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "opsdash"},
            params=params,
            timeout=timeout_s,
            transport=transport,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> VercelEnv:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            response = self._client.request(method, path, **kw)
        except httpx.HTTPError as exc:
            reason = scrub(str(exc) or type(exc).__name__, [self._token])
            raise VercelError(
                f"cannot reach the Vercel API at {self._client.base_url} for project '{self.project}' "
                f"({type(exc).__name__}: {reason})",
                exit_code=EXIT_FAILURE,
            ) from None
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = None
        if response.status_code >= 400:
            message, code = describe_vercel_error(
                response.status_code, body, project=self.project, token_env=self.settings.token_env,
                team_id=self.settings.team_id, retry_after=response.headers.get("retry-after"),
            )
            raise VercelError(scrub(message, [self._token]), exit_code=code)
        return body

    def _vars(self) -> list[dict[str, Any]]:
        body = self._request("GET", f"/v10/projects/{self.project}/env")
        envs = body.get("envs", []) if isinstance(body, Mapping) else []
        return [e for e in envs if self.target in (e.get("target") or []) and not e.get("gitBranch")]

    def read(self) -> dict[str, str | None]:
        """The target's variables; a ``sensitive`` one (unreadable) maps to ``None``."""
        return {e["key"]: e.get("value") for e in self._vars()}

    def sensitive_keys(self) -> frozenset[str]:
        """Variables set for the target whose values Vercel will not return."""
        return frozenset(e["key"] for e in self._vars() if "value" not in e)

    def set(self, key: str, value: str | None) -> None:
        """Set ``key`` for the target: edit the existing variable or create it (``None`` deletes it)."""
        existing = next((e for e in self._vars() if e["key"] == key), None)
        if value is None:
            if existing is not None:
                self._request("DELETE", f"/v9/projects/{self.project}/env/{existing['id']}")
            return
        if existing is not None:
            self._request("PATCH", f"/v9/projects/{self.project}/env/{existing['id']}", json={"value": value})
            return
        body = self._request(
            "POST",
            f"/v10/projects/{self.project}/env",
            json={"key": key, "value": value, "type": "encrypted", "target": [self.target]},
        )
        failed = body.get("failed") if isinstance(body, Mapping) else None
        if failed:
            first = failed[0].get("error", {}) if isinstance(failed[0], Mapping) else {}
            raise VercelError(
                f"Vercel project '{self.project}' did not create {key} "
                f"({first.get('code', 'failed')}: {first.get('message', 'unknown reason')})"
            )

    def current_production_deployment(self) -> dict[str, Any]:
        """The newest READY deployment of the target (``GET /v7/deployments``)."""
        body = self._request(
            "GET",
            "/v7/deployments",
            params={"projectId": self.project, "target": self.target, "state": "READY", "limit": "1"},
        )
        deployments = body.get("deployments", []) if isinstance(body, Mapping) else []
        if not deployments:
            raise VercelError(
                f"Vercel project '{self.project}' has no READY {self.target} deployment to redeploy"
            )
        return dict(deployments[0])

    def redeploy(self) -> Redeploy:
        """Redeploy the current production deployment so the env change applies. Call only on an operator's
        explicit confirmation."""
        current = self.current_production_deployment()
        source = current["uid"]
        body = self._request(
            "POST",
            "/v13/deployments",
            json={"name": current.get("name") or self.project, "deploymentId": source, "target": self.target},
        )
        body = body if isinstance(body, Mapping) else {}
        return Redeploy(
            deployment_id=str(body.get("id", "?")),
            source_deployment_id=source,
            url=body.get("url"),
            ready_state=body.get("readyState"),
        )


def vercel_env_for(fleet: Fleet, tenant: Tenant, *, environ: Mapping[str, str] | None = None,
                   transport: httpx.BaseTransport | None = None) -> VercelEnv:
    """The Vercel env of a tenant with ``[tenants.vercel]``; the token comes from the variable it names."""
    if tenant.vercel is None:
        raise ConfigError(f"{fleet.path}: tenant '{tenant.name}' has no [tenants.vercel] project")
    source = os.environ if environ is None else environ
    token = source.get(tenant.vercel.token_env)
    if not token:
        raise ConfigError(
            f"{fleet.path}: tenant '{tenant.name}': ${tenant.vercel.token_env} is unset "
            "(named by [tenants.vercel] token_env)"
        )
    return VercelEnv(tenant.vercel, base_url=fleet.endpoints.vercel_api, token=token,
                     timeout_s=fleet.poll.integration_timeout, transport=transport)
