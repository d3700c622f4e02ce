"""Roles: no [operators] table makes the running user admin; a table limits everyone else to viewer."""

from __future__ import annotations

from opsdash.actions.operator import Operator, role_for, ssh_address, viewer_refusal


def test_no_operators_table_means_admin() -> None:
    assert role_for("alice", None, None) == "admin"


def test_read_only_always_means_viewer() -> None:
    assert role_for("alice", None, None, read_only=True) == "viewer"
    assert role_for("alice", None, {"alice": "admin"}, read_only=True) == "viewer"


def test_table_roles_unlisted_users_are_viewers_and_sudo_user_counts_first() -> None:
    table = {"alice": "admin", "bob": "viewer"}
    assert role_for("alice", None, table) == "admin"
    assert role_for("bob", None, table) == "viewer"
    assert role_for("mallory", None, table) == "viewer"
    assert role_for("root", "alice", table) == "admin"
    assert role_for("root", "bob", {"root": "admin", "bob": "viewer"}) == "viewer"


def test_ssh_client_address_and_display() -> None:
    assert ssh_address("10.0.0.7 52144 22") == "10.0.0.7"
    assert ssh_address("") is None and ssh_address(None) is None
    op = Operator("root", "alice", "10.0.0.7", "admin")
    assert op.display == "root (sudo by alice) from 10.0.0.7"
    assert Operator.from_dict(op.to_dict()) == op


def test_viewer_refusal_names_the_operator() -> None:
    assert viewer_refusal(Operator("alice", None, None, "admin")) is None
    message = viewer_refusal(Operator("bob", None, None, "viewer"))
    assert message is not None and "'bob'" in message and "viewer" in message
