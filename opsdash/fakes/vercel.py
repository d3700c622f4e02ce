"""Fake Vercel REST API: project env vars and redeploying production.

Routes (Bearer auth, ``teamId`` query checked when the fake has a team):

* ``GET /v10/projects/{idOrName}/env`` -> ``{"envs": [...], "pagination": {...}}``;
  ``value`` is included for ``plain`` and ``encrypted`` vars, left out for
  ``sensitive`` (and ``system``) ones.
* ``GET /v1/projects/{idOrName}/env/{envId}`` -> the var plus ``decrypted``.
* ``POST /v10/projects/{idOrName}/env[?upsert=true]`` -> 201 ``{"created", "failed"}``;
  a key already set for an overlapping target lands in ``failed`` unless upserting.
  ``created`` is an object for a single-object body, a list for an array body.
* ``PATCH /v9/projects/{idOrName}/env/{envId}``, ``DELETE /v9/projects/{idOrName}/env/{envId}``.
* ``GET /v7/deployments?projectId=&target=&state=&limit=``, newest first.
* ``POST /v13/deployments`` with ``{"name", "deploymentId", "target"}`` -> new deployment,
  recorded in :attr:`FakeVercel.redeploys`.
* ``GET /v13/deployments/{id}`` -> deployment with ``readyState``.

Errors are ``{"error": {"code", "message"}}``. A wrong token gives 403 ``forbidden`` with
``invalidToken: true``; a missing ``teamId`` on a team project gives 404 ``not_found``.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from opsdash.fakes.http_base import FakeHTTPServer, RecordedRequest, Response, json_response

__all__ = ["FakeVercel", "ForcedVercelError", "VercelProject"]

ALL_TARGETS = ("production", "preview", "development")

_DEFAULT_ERRORS = {
    400: ("bad_request", "Invalid request"),
    401: ("unauthorized", "You must be logged in"),
    403: ("forbidden", "Not authorized"),
    404: ("not_found", "Not found"),
    429: ("rate_limited", "Rate limit exceeded"),
    500: ("internal_server_error", "An unexpected internal error occurred"),
    502: ("bad_gateway", "Bad gateway"),
    503: ("service_unavailable", "Service unavailable"),
}


def _now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class ForcedVercelError:
    """An error returned for the next ``remaining`` requests."""

    status: int
    code: str
    message: str
    remaining: int


@dataclass
class VercelProject:
    """A project: its env vars (by id) and deployments (by id)."""

    project_id: str
    name: str
    envs: dict[str, dict[str, Any]] = field(default_factory=dict)
    deployments: dict[str, dict[str, Any]] = field(default_factory=dict)

    def env_by_key(self, key: str) -> list[dict[str, Any]]:
        """All env vars named ``key``."""
        return [e for e in self.envs.values() if e["key"] == key]


class FakeVercel(FakeHTTPServer):
    """Loopback stand-in for ``https://api.vercel.com``.

    Knobs: :meth:`fail_next`; ``redeploy_state`` (final ``readyState`` of redeploys,
    ``"READY"`` or ``"ERROR"``) and ``redeploy_polls`` (how many ``GET /v13/deployments/{id}``
    answer ``BUILDING`` first).
    """

    def __init__(self, token: str = "vercel-test-token", team_id: str | None = None) -> None:
        super().__init__()
        self.token = token
        self.team_id = team_id
        self.projects: dict[str, VercelProject] = {}
        self.redeploys: list[dict[str, Any]] = []
        self.redeploy_state = "READY"
        self.redeploy_polls = 0
        self._forced: ForcedVercelError | None = None
        self._polls_left: dict[str, int] = {}
        self.router.add("GET", r"/v(?:9|10)/projects/(?P<project>[^/]+)/env", self._list_env)
        self.router.add("GET", r"/v1/projects/(?P<project>[^/]+)/env/(?P<env>[^/]+)", self._get_env)
        self.router.add("POST", r"/v10/projects/(?P<project>[^/]+)/env", self._create_env)
        self.router.add("PATCH", r"/v9/projects/(?P<project>[^/]+)/env/(?P<env>[^/]+)", self._edit)
        self.router.add("DELETE", r"/v9/projects/(?P<project>[^/]+)/env/(?P<env>[^/]+)", self._del)
        self.router.add("GET", r"/v7/deployments", self._list_deployments)
        self.router.add("POST", r"/v13/deployments", self._redeploy)
        self.router.add("GET", r"/v13/deployments/(?P<deployment>[^/]+)", self._get_deployment)

    def add_project(
        self,
        project_id: str,
        name: str | None = None,
        *,
        envs: Mapping[str, str] | Iterable[Mapping[str, Any]] = (),
        production_deployment: bool = True,
    ) -> VercelProject:
        """Register a project; ``envs`` is ``{key: value}`` (encrypted, all targets) or
        full var dicts. A READY production deployment is created unless disabled."""
        project = VercelProject(project_id=project_id, name=name or project_id)
        with self.lock:
            self.projects[project_id] = project
            if isinstance(envs, Mapping):
                envs = [{"key": k, "value": v} for k, v in envs.items()]
            for item in envs:
                self.add_env(project_id, **item)
            if production_deployment:
                self.add_deployment(project_id)
        return project

    def add_env(
        self,
        project_id: str,
        key: str,
        value: str,
        type: str = "encrypted",
        target: Iterable[str] = ALL_TARGETS,
        git_branch: str | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Add an env var directly (no request); returns the stored record."""
        now = _now_ms()
        record: dict[str, Any] = {
            "id": secrets.token_urlsafe(12),
            "key": key,
            "value": value,
            "type": type,
            "target": list(target),
            "gitBranch": git_branch,
            "configurationId": None,
            "createdAt": now,
            "updatedAt": now,
        }
        record.update(extra)
        with self.lock:
            self.projects[project_id].envs[record["id"]] = record
        return record

    def env_values(self, project_id: str) -> dict[str, str]:
        """``{key: value}`` for a project (last var wins when a key has several)."""
        with self.lock:
            return {e["key"]: e["value"] for e in self.projects[project_id].envs.values()}

    def add_deployment(
        self,
        project_id: str,
        *,
        target: str | None = "production",
        ready_state: str = "READY",
        created: int | None = None,
    ) -> dict[str, Any]:
        """Add a deployment record; returns it."""
        with self.lock:
            project = self.projects[project_id]
            uid = "dpl_" + secrets.token_hex(12)
            deployment = {
                "uid": uid,
                "name": project.name,
                "url": f"{project.name}-{uid[4:13]}.vercel.app",
                "readyState": ready_state,
                "state": ready_state,
                "target": target,
                "created": created if created is not None else _now_ms(),
                "projectId": project_id,
            }
            project.deployments[uid] = deployment
            return deployment

    def fail_next(
        self,
        status: int,
        n: int = 1,
        *,
        code: str | None = None,
        message: str | None = None,
    ) -> None:
        """Answer the next ``n`` requests with ``status`` and a Vercel error body."""
        default_code, default_message = _DEFAULT_ERRORS.get(status, ("error", "Forced error"))
        with self.lock:
            self._forced = ForcedVercelError(status, code or default_code, message or default_message, n)

    def not_found(self, request: RecordedRequest) -> Response:
        """Vercel's answer to an unknown path."""
        return _error(404, "not_found", "The requested path was not found")

    def intercept(self, request: RecordedRequest) -> Response | None:
        """Serve a :meth:`fail_next` error if one is pending."""
        forced = self._forced
        if forced is None:
            return None
        forced.remaining -= 1
        if forced.remaining <= 0:
            self._forced = None
        headers: dict[str, str] = {}
        if forced.status == 429:
            headers = {
                "X-RateLimit-Limit": "100",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time()) + 60),
                "Retry-After": "60",
            }
        return _error(forced.status, forced.code, forced.message, headers=headers)

    def _authorize(self, request: RecordedRequest) -> Response | None:
        token = request.bearer_token()
        if token is None:
            return _error(
                403,
                "forbidden",
                "The request is missing an authentication token",
                missingToken=True,
            )
        if token != self.token:
            return _error(403, "forbidden", "Not authorized", invalidToken=True)
        team = request.param("teamId")
        if team is not None and team != self.team_id:
            return _error(403, "forbidden", "Not authorized")
        return None

    def _project(self, request: RecordedRequest, id_or_name: str) -> VercelProject | Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        project = self.projects.get(id_or_name) or next(
            (p for p in self.projects.values() if p.name == id_or_name), None
        )
        if project is None or (self.team_id is not None and request.param("teamId") is None):
            return _error(404, "not_found", "Project not found", projectId=id_or_name)
        return project

    def _list_env(self, request: RecordedRequest) -> Response:
        project = self._project(request, request.path_params["project"])
        if isinstance(project, Response):
            return project
        envs = [_public_env(e) for e in project.envs.values()]
        return json_response(
            200, {"envs": envs, "pagination": {"count": len(envs), "next": None, "prev": None}}
        )

    def _get_env(self, request: RecordedRequest) -> Response:
        project = self._project(request, request.path_params["project"])
        if isinstance(project, Response):
            return project
        env = project.envs.get(request.path_params["env"])
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        body = _public_env(env)
        body["decrypted"] = "value" in body
        return json_response(200, body)

    def _create_env(self, request: RecordedRequest) -> Response:
        project = self._project(request, request.path_params["project"])
        if isinstance(project, Response):
            return project
        payload = request.json()
        single = isinstance(payload, dict)
        items = [payload] if single else payload
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            return _error(400, "bad_request", "Invalid request body")
        upsert = request.param("upsert") == "true"
        created: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        for item in items:
            problem = _validate_env(item)
            if problem is not None:
                failed.append({"error": {"code": "bad_request", "message": problem, "key": item.get("key")}})
                continue
            targets = list(item["target"])
            clash = next(
                (
                    e
                    for e in project.env_by_key(item["key"])
                    if set(e["target"]) & set(targets) and e.get("gitBranch") == item.get("gitBranch")
                ),
                None,
            )
            if clash is not None and not upsert:
                failed.append(
                    {
                        "error": {
                            "code": "ENV_ALREADY_EXISTS",
                            "message": f"A variable with the name `{item['key']}` already "
                            f"exists for the target {','.join(targets)} on branch "
                            f"{item.get('gitBranch') or 'undefined'}",
                            "key": item["key"],
                            "envVarId": clash["id"],
                            "target": targets,
                        }
                    }
                )
                continue
            if clash is not None:
                clash.update(
                    value=item["value"],
                    type=item["type"],
                    target=targets,
                    updatedAt=_now_ms(),
                )
                if "comment" in item:
                    clash["comment"] = item["comment"]
                created.append(_public_env(clash))
                continue
            extra = {"comment": item["comment"]} if "comment" in item else {}
            record = self.add_env(
                project.project_id,
                item["key"],
                item["value"],
                type=item["type"],
                target=targets,
                git_branch=item.get("gitBranch"),
                **extra,
            )
            created.append(_public_env(record))
        created_body: Any = created[0] if single and len(created) == 1 else created
        return json_response(201, {"created": created_body, "failed": failed})

    def _edit(self, request: RecordedRequest) -> Response:
        project = self._project(request, request.path_params["project"])
        if isinstance(project, Response):
            return project
        env = project.envs.get(request.path_params["env"])
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        payload = request.json() or {}
        for name in ("key", "value", "type", "target", "gitBranch", "comment"):
            if name in payload:
                env[name] = payload[name]
        env["updatedAt"] = _now_ms()
        return json_response(200, _public_env(env))

    def _del(self, request: RecordedRequest) -> Response:
        project = self._project(request, request.path_params["project"])
        if isinstance(project, Response):
            return project
        env = project.envs.pop(request.path_params["env"], None)
        if env is None:
            return _error(404, "not_found", "Environment Variable not found")
        return json_response(200, _public_env(env))

    def _list_deployments(self, request: RecordedRequest) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        project_id = request.param("projectId")
        candidates: list[dict[str, Any]] = []
        for project in self.projects.values():
            if project_id in (None, project.project_id):
                candidates.extend(project.deployments.values())
        target, state = request.param("target"), request.param("state")
        if target:
            candidates = [d for d in candidates if d["target"] == target]
        if state:
            wanted = set(state.split(","))
            candidates = [d for d in candidates if d["readyState"] in wanted]
        candidates.sort(key=lambda d: d["created"], reverse=True)
        limit = int(request.param("limit") or 20)
        page = [_deployment_summary(d) for d in candidates[:limit]]
        return json_response(
            200,
            {"deployments": page, "pagination": {"count": len(page), "next": None, "prev": None}},
        )

    def _redeploy(self, request: RecordedRequest) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        body = request.json() or {}
        source_id = body.get("deploymentId")
        project = next((p for p in self.projects.values() if source_id in p.deployments), None)
        if project is None:
            return _error(404, "not_found", "Deployment not found")
        if body.get("name") not in (project.name, project.project_id):
            return _error(400, "bad_request", "The deployment name does not match the project")
        self.redeploys.append({"body": body, "query": dict(request.query)})
        initial = "BUILDING" if self.redeploy_polls > 0 else self.redeploy_state
        deployment = self.add_deployment(project.project_id, target=body.get("target"), ready_state=initial)
        deployment["final_state"] = self.redeploy_state
        self._polls_left[deployment["uid"]] = self.redeploy_polls
        return json_response(200, _deployment_detail(deployment))

    def _get_deployment(self, request: RecordedRequest) -> Response:
        denied = self._authorize(request)
        if denied is not None:
            return denied
        uid = request.path_params["deployment"]
        deployment = next((p.deployments[uid] for p in self.projects.values() if uid in p.deployments), None)
        if deployment is None:
            return _error(404, "not_found", "Deployment not found")
        left = self._polls_left.get(uid, 0)
        if left > 0:
            self._polls_left[uid] = left - 1
        elif "final_state" in deployment:
            deployment["readyState"] = deployment["state"] = deployment["final_state"]
        return json_response(200, _deployment_detail(deployment))


def _error(
    status: int,
    code: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> Response:
    return json_response(status, {"error": {"code": code, "message": message, **extra}}, headers)


def _public_env(env: Mapping[str, Any]) -> dict[str, Any]:
    body = dict(env)
    if body.get("type") not in ("plain", "encrypted"):
        body.pop("value", None)
    return body


def _validate_env(item: Mapping[str, Any]) -> str | None:
    for name in ("key", "value", "type", "target"):
        if name not in item:
            return f"Missing required property `{name}`"
    if item["type"] not in ("system", "encrypted", "plain", "sensitive", "secret"):
        return f"Invalid type `{item['type']}`"
    if not isinstance(item["target"], list) or not set(item["target"]) <= set(ALL_TARGETS):
        return "Invalid target"
    return None


def _deployment_summary(deployment: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("uid", "name", "url", "readyState", "state", "target", "created", "projectId")
    return {k: deployment[k] for k in keys}


def _deployment_detail(deployment: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "id": deployment["uid"],
        "name": deployment["name"],
        "url": deployment["url"],
        "readyState": deployment["readyState"],
        "status": deployment["readyState"],
        "target": deployment["target"],
        "createdAt": deployment["created"],
        "projectId": deployment["projectId"],
    }
