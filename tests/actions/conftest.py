"""Fixtures for the actions tests: two tenants on real databases with real dotenv files."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from opsdash.actions.operator import Operator
from opsdash.config.fleet import Fleet, load_fleet
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url
from opsdash.testing.seed import healthy_company, seed_company

ADMIN = Operator(user="tester", sudo_user=None, ssh_client="10.9.8.7", role="admin")
VIEWER = Operator(user="watcher", sudo_user=None, ssh_client=None, role="viewer")

CANARY_SMTP = "canary-smtp-pass-7f3a9c"
CANARY_CLOUD = "canary-cloud-secret-51b2e8"
CANARY_NEW = "canary-new-secret-d40c11"
CANARIES = (CANARY_SMTP, CANARY_CLOUD, CANARY_NEW)

ENV_SIDE = {
    "CLOUDINARY_CLOUD_NAME": "env-cloud",
    "CLOUDINARY_API_KEY": "998877665544",
    "CLOUDINARY_API_SECRET": CANARY_CLOUD,
    "AUTH_CALLBACK_URL": "https://acme.example/api/auth",
}


def env_text(flags: dict[str, str], extra: dict[str, str] | None = None) -> str:
    """A dotenv file with comments, an export line and an inline comment, as operators write them."""
    lines = ["# Acme production env", "export NODE_ENV=production"]
    lines += [f'{k}="{v}"' for k, v in {**ENV_SIDE, **(extra or {})}.items()]
    lines += ["", "# feature flags"]
    lines += [f"{k}={v}  # set by ops" for k, v in flags.items()]
    return "\n".join(lines) + "\n"


@dataclass
class TwoTenants:
    """Tenants ``acme`` and ``beta``, each with its own database, Company document and dotenv file."""

    path: Path
    mongo_url: str
    urls: dict[str, str]
    databases: dict[str, str]
    env_files: dict[str, Path]

    def fleet(self) -> Fleet:
        return load_fleet(self.path)

    def company(self, tenant: str) -> dict[str, Any]:
        with MongoClient(self.urls[tenant], tz_aware=True) as client:
            docs = list(client[self.databases[tenant]]["Company"].find({}))
        assert len(docs) == 1
        return docs[0]

    def collection_docs(self, tenant: str, name: str) -> list[dict[str, Any]]:
        with MongoClient(self.urls[tenant], tz_aware=True) as client:
            return list(client[self.databases[tenant]][name].find({}))


@pytest.fixture
def two_tenants(tmp_path: Path, mongo_url: str, state_dir: Path) -> Iterator[TwoTenants]:
    databases = {name: f"t_{name}_{uuid.uuid4().hex[:10]}" for name in ("acme", "beta")}
    urls = {name: database_url(mongo_url, db) for name, db in databases.items()}
    seed_company(mongo_url, databases["acme"], healthy_company(smtpPass=CANARY_SMTP))
    seed_company(
        mongo_url,
        databases["beta"],
        healthy_company(fullName="Beta Goods", smtpPass="beta-smtp-pass", cloudinaryCloudName="beta-cloud"),
    )
    path = write_fleet(
        tmp_path,
        [TenantFiles(name, urls[name]) for name in ("acme", "beta")],
    )
    env_files = {name: tmp_path / "env" / f"{name}.env" for name in ("acme", "beta")}
    for _name, file in env_files.items():
        file.write_text(env_text({"USE_DB_CLOUDINARY": "true", "USE_DB_WHATSAPP": "false"}), encoding="utf-8")
    yield TwoTenants(path, mongo_url, urls, databases, env_files)
