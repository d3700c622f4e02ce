"""``opsdash config show``: the resolved config per tenant and service, with every secret masked."""

from __future__ import annotations

import json
from pathlib import Path

from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.config.company import SECRET_FIELDS
from opsdash.testing.fleetfile import TenantFiles, write_fleet
from opsdash.testing.mongo_server import database_url, free_port
from opsdash.testing.seed import healthy_company, seed_company


def canary(name: str) -> str:
    return f"CANARY-{name}-7f3a9c"


def secret_env() -> dict[str, str]:
    env = {"USE_DB_WHATSAPP": "true", "USE_DB_CLOUDINARY": "TRUE", "USE_DB_AUTH_CALLBACK": "false"}
    for field in SECRET_FIELDS:
        for spec in DEFAULT_CATALOG.values():
            var = spec.env_name(field)
            if var:
                env[var] = canary(f"env-{field}")
    return env


def seeded_fleet(tmp_path: Path, mongo_url: str) -> Path:
    db = "show_" + tmp_path.name[-12:].replace("-", "_")
    url = database_url(mongo_url, db)
    secrets = {f: canary(f"db-{f}") for f in SECRET_FIELDS}
    seed_company(url, db, healthy_company(**secrets, loyaltyPoints=3, stripeSecretKey=canary("db-stripe")))
    dead = f"mongodb://ops:{canary('dsn')}@127.0.0.1:{free_port()}/globex?directConnection=true"
    return write_fleet(
        tmp_path,
        [
            TenantFiles("acme", url, secret_env(), tags=["eu"]),
            TenantFiles("globex", "${DATABASE_URL}", {"DATABASE_URL": dead, **secret_env()}),
        ],
        tables={"poll": {"db_timeout": 1.0}},
    )


def test_json_shape_and_sources(tmp_path: Path, mongo_url: str, cli: object) -> None:
    path = seeded_fleet(tmp_path, mongo_url)
    result = cli(["--config", str(path), "config", "show", "--json"])  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    acme, globex = doc["tenants"]
    assert acme["name"] == "acme" and acme["company_count"] == 1
    whatsapp = acme["services"]["whatsapp"]
    assert whatsapp["flag"] == {"name": "USE_DB_WHATSAPP", "raw": "true", "on": True}
    assert whatsapp["fields"]["whatsappPhoneNumberId"] == {
        "source": "db", "value": "1099000000001", "secret": False,
        "env_var": "WHATSAPP_PHONE_NUMBER_ID", "error": None,
    }
    token = whatsapp["fields"]["whatsappPermanentToken"]
    assert token["source"] == "db" and token["value"].startswith("<set sha256:")
    assert acme["services"]["cloudinary"]["source"] == "env"
    assert acme["services"]["business"]["flag"] is None
    assert {f["code"] for f in acme["findings"]} == {"flag_not_true"}
    others = acme["other_fields"]
    assert others["loyaltyPoints"] == 3
    assert others["stripeSecretKey"].startswith("<set sha256:")
    assert "updatedAt" in others and "_id" not in others
    assert globex["other_fields"] == {}
    assert globex["company_count"] is None
    assert "db_unreachable" in {f["code"] for f in globex["findings"]}
    assert globex["services"]["whatsapp"]["source"] == "env"


def test_single_tenant_text(tmp_path: Path, mongo_url: str, cli: object) -> None:
    path = seeded_fleet(tmp_path, mongo_url)
    result = cli(["--config", str(path), "config", "show", "acme"])  # type: ignore[operator]
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("acme ")
    assert "globex" not in result.stdout
    assert 'USE_DB_CLOUDINARY="TRUE" (off) -> env' in result.stdout
    assert "flag_not_true" in result.stdout
    assert "other Company fields:" in result.stdout and "loyaltyPoints" in result.stdout


def test_unknown_tenant_is_one_line_exit_2(tmp_path: Path, mongo_url: str, cli: object) -> None:
    path = seeded_fleet(tmp_path, mongo_url)
    result = cli(["--config", str(path), "config", "show", "initech"])  # type: ignore[operator]
    assert result.returncode == 2
    assert result.stderr.strip().endswith("no tenant named 'initech'")
    assert "Traceback" not in result.stderr


def test_no_secret_canary_in_any_output(tmp_path: Path, mongo_url: str, cli: object) -> None:
    path = seeded_fleet(tmp_path, mongo_url)
    outputs = []
    for args in (["config", "show"], ["config", "show", "--json"], ["config", "check"]):
        result = cli(["--config", str(path), *args])  # type: ignore[operator]
        assert result.returncode == 0, result.stderr
        outputs.append(result.stdout + result.stderr)
    text = "\n".join(outputs)
    assert "CANARY" not in text
    assert "<set sha256:" in text
