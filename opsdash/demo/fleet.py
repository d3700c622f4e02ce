"""The demo fleet as data: each tenant, the trouble it carries, and what opsdash must report for it.

Pure definitions; :mod:`opsdash.demo.stack` turns them into servers, documents and files.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from opsdash.config.catalog import DEFAULT_CATALOG
from opsdash.testing.seed import healthy_company

DbMode = Literal["ok", "down", "hang"]
SmtpMode = Literal["ok", "refuses_auth"]
SHARED_CLOUD = "shared-cloud"


@dataclass(frozen=True)
class DemoTenant:
    """One demo tenant: its data, its deployment env knobs and the trouble it demonstrates."""

    name: str
    trouble: str
    index: int
    tags: tuple[str, ...] = ()
    company_count: int = 1
    company_overrides: Mapping[str, Any] = field(default_factory=dict)
    flag_values: Mapping[str, str] = field(default_factory=dict)
    db: DbMode = "ok"
    smtp: SmtpMode = "ok"
    token_expired: bool = False
    shared_cloud: bool = False
    expect: Mapping[str, str] = field(default_factory=dict)
    """check id -> status that ``opsdash demo --headless`` must report."""

    @property
    def phone_number_id(self) -> str:
        return f"10990000000{self.index:02d}"

    @property
    def cloud_name(self) -> str:
        return SHARED_CLOUD if self.shared_cloud else f"{self.name}-cloud"

    @property
    def client_folder(self) -> str:
        return "shared" if self.shared_cloud else self.name

    @property
    def cloud_api_key(self) -> str:
        return f"9{self.index:02d}000000000001" if not self.shared_cloud else "900000000000099"


DEFAULT_FLAGS: Mapping[str, str] = {
    "USE_DB_WHATSAPP": "true",
    "USE_DB_WHATSAPP_OTP": "true",
    "USE_DB_CLOUDINARY": "true",
    "USE_DB_AUTH_CALLBACK": "true",
}

DEMO_TENANTS: tuple[DemoTenant, ...] = (
    DemoTenant("acme", "healthy", 1, tags=("eu", "retail"), expect={"db": "OK", "whatsapp": "OK"}),
    DemoTenant("blank-co", "no Company document", 2, tags=("us",), company_count=0, expect={"db": "CRIT"}),
    DemoTenant("twin-co", "two Company documents", 3, tags=("us",), company_count=2, expect={"db": "WARN"}),
    DemoTenant("downtown", "DB down (closed port)", 4, tags=("eu",), db="down", expect={"db": "CRIT"}),
    DemoTenant("hangar", "DB hangs", 5, tags=("eu",), db="hang", expect={"db": "CRIT"}),
    DemoTenant(
        "shouty",
        'USE_DB_WHATSAPP="TRUE"',
        6,
        tags=("apac",),
        flag_values={"USE_DB_WHATSAPP": "TRUE"},
        expect={"config:whatsapp": "WARN"},
    ),
    DemoTenant(
        "hollow",
        'cloudinaryApiSecret "" in the DB shadows CLOUDINARY_API_SECRET',
        7,
        tags=("apac",),
        company_overrides={"cloudinaryApiSecret": ""},
        expect={"config:cloudinary": "CRIT", "fallback:cloudinary": "OK"},
    ),
    DemoTenant(
        "patchy",
        "incomplete Cloudinary settings in the DB; env fallback ready",
        8,
        tags=("us",),
        company_overrides={"cloudinaryCloudName": "patchy cloud!", "cloudinaryApiKey": None},
        expect={"config:cloudinary": "CRIT", "fallback:cloudinary": "OK"},
    ),
    DemoTenant(
        "expired",
        "WhatsApp token expired",
        9,
        tags=("eu",),
        token_expired=True,
        expect={"whatsapp": "CRIT"},
    ),
    DemoTenant(
        "sharer-a",
        "shares a Cloudinary client folder with sharer-b",
        10,
        tags=("us",),
        shared_cloud=True,
        expect={"isolation": "WARN"},
    ),
    DemoTenant(
        "sharer-b",
        "shares a Cloudinary client folder with sharer-a",
        11,
        tags=("us",),
        shared_cloud=True,
        expect={"isolation": "WARN"},
    ),
    DemoTenant(
        "mailless",
        "SMTP server refuses AUTH",
        12,
        tags=("apac",),
        smtp="refuses_auth",
        expect={"smtp": "CRIT"},
    ),
)


def company_fields(tenant: DemoTenant, *, auth_origin: str, smtp_host: str, smtp_port: int) -> dict[str, Any]:
    """The tenant's Company field set: healthy values with its own trouble applied."""
    fields = healthy_company(
        fullName=f"{tenant.name.title()} Ltd",
        email=f"ops@{tenant.name}.example",
        phoneNumber=f"+1415555{tenant.index:04d}",
        whatsappPermanentToken=f"demo-token-{tenant.name}",
        whatsappPhoneNumberId=tenant.phone_number_id,
        whatsappBusinessAccountId=f"20990000000{tenant.index:02d}",
        whatsappWebhookVerifyToken=f"demo-verify-{tenant.name}",
        whatsappAppSecret=f"demo-app-secret-{tenant.name}",
        whatsappNumber=f"+1415556{tenant.index:04d}",
        emailUser=f"{tenant.name}@mail.example",
        emailPass=f"demo-email-pass-{tenant.name}",
        smtpHost=smtp_host,
        smtpPort=str(smtp_port),
        smtpUser=f"{tenant.name}@mail.example",
        smtpPass=f"demo-smtp-pass-{tenant.name}",
        smtpFrom=f"{tenant.name.title()} <{tenant.name}@mail.example>",
        cloudinaryCloudName=tenant.cloud_name,
        cloudinaryApiKey=tenant.cloud_api_key,
        cloudinaryApiSecret=f"demo-cloud-secret-{tenant.cloud_name}",
        cloudinaryUploadPreset="demo-preset",
        cloudinaryClientFolder=tenant.client_folder,
        authCallbackUrl=f"{auth_origin}/api/auth/callback/google",
    )
    for name, value in tenant.company_overrides.items():
        if value is None:
            fields.pop(name, None)
        else:
            fields[name] = value
    return fields


def deployment_env(tenant: DemoTenant, database_url: str, healthy: Mapping[str, Any]) -> dict[str, str]:
    """The tenant's deployment env: flags plus a complete env fallback mirroring its healthy settings."""
    env = {"DATABASE_URL": database_url, **DEFAULT_FLAGS, **tenant.flag_values}
    for spec in DEFAULT_CATALOG.values():
        for field_name in spec.fields:
            var, value = spec.env_name(field_name), healthy.get(field_name)
            if var and value is not None:
                env[var] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return env
