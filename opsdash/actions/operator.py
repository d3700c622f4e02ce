"""Who is acting, and may they write: OS identity, sudo, SSH origin and the ``[operators]`` role table."""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from opsdash.config.fleet import Fleet, Tenant

Role = Literal["viewer", "admin"]


@dataclass(frozen=True)
class Operator:
    """The person behind an action, as the audit log records them."""

    user: str
    sudo_user: str | None
    ssh_client: str | None
    role: Role

    @property
    def display(self) -> str:
        """``alice``, ``root (sudo by alice)``, with ``from 10.0.0.7`` when over SSH."""
        text = f"{self.user} (sudo by {self.sudo_user})" if self.sudo_user else self.user
        return f"{text} from {self.ssh_client}" if self.ssh_client else text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Operator:
        return cls(
            user=str(data.get("user") or "?"),
            sudo_user=data.get("sudo_user"),
            ssh_client=data.get("ssh_client"),
            role="admin" if data.get("role") == "admin" else "viewer",
        )


def ssh_address(ssh_client: str | None) -> str | None:
    """The client address from ``$SSH_CLIENT`` (``"10.0.0.7 52144 22"`` -> ``"10.0.0.7"``)."""
    if not ssh_client or not ssh_client.split():
        return None
    return ssh_client.split()[0]


def role_for(
    user: str, sudo_user: str | None, operators: Mapping[str, Role] | None, read_only: bool = False
) -> Role:
    """The role of a user. No ``[operators]`` table: the running user is admin. A table: users it does not
    list are viewers; under sudo the invoking user's entry counts first. ``read_only`` always means viewer."""
    if read_only:
        return "viewer"
    if operators is None:
        return "admin"
    for name in (sudo_user, user):
        if name and name in operators:
            return operators[name]
    return "viewer"


def _effective_user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())


def current_operator(fleet: Fleet, read_only: bool = False) -> Operator:
    """The operator running this process. ``SUDO_USER`` is believed only when running as root, since
    anyone can set the variable but only sudo makes a root process."""
    user = _effective_user()
    sudo_user = os.environ.get("SUDO_USER") or None if os.geteuid() == 0 else None
    return Operator(
        user=user,
        sudo_user=sudo_user,
        ssh_client=ssh_address(os.environ.get("SSH_CLIENT")),
        role=role_for(user, sudo_user, fleet.operators, read_only),
    )


def viewer_refusal(operator: Operator) -> str | None:
    """The refusal message for a write by this operator, or ``None`` when they may write."""
    if operator.role == "admin":
        return None
    who = operator.sudo_user or operator.user
    return (
        f"operator '{who}' has the viewer role (--read-only, or [operators] in tenants.toml): "
        "writes are refused"
    )


def write_refusal(
    fleet: Fleet, tenant: str, operator: Operator, reason: str
) -> tuple[Tenant | None, str | None]:
    """The tenant a write targets, or why it is refused before anything is read: an unknown tenant,
    a viewer, or no reason given."""
    known = next((t for t in fleet.tenants if t.name == tenant), None)
    if known is None:
        return None, f"unknown tenant '{tenant}' (not in {fleet.path})"
    refusal = viewer_refusal(operator)
    if refusal:
        return None, refusal
    if not reason.strip():
        return None, "a reason is required (--reason TEXT)"
    return known, None
