"""Write Company documents exactly as Prisma writes them: ObjectId ``_id``, Int as Long, DateTime as Date."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bson import Int64, ObjectId
from pymongo import MongoClient

from opsdash.config.company import FIELDS_BY_NAME


def prisma_document(fields: Mapping[str, Any], *, timestamps: bool = True) -> dict[str, Any]:
    """A Company document with each known field in the BSON type Prisma uses for it."""
    document: dict[str, Any] = {"_id": ObjectId()}
    for name, value in fields.items():
        spec = FIELDS_BY_NAME.get(name)
        if spec is not None and spec.prisma_type == "Int" and value is not None:
            value = Int64(value)
        document[name] = value
    if timestamps:
        now = datetime.now(UTC).replace(microsecond=0)
        document.setdefault("createdAt", now)
        document.setdefault("updatedAt", now)
    return document


def seed_company(
    url: str,
    database: str,
    *documents: Mapping[str, Any],
    collection: str = "Company",
    drop: bool = True,
) -> list[ObjectId]:
    """Replace ``database.collection`` with the given field sets, as Prisma-shaped documents."""
    with MongoClient(url, serverSelectionTimeoutMS=5000) as client:
        coll = client[database][collection]
        if drop:
            coll.drop()
        prepared = [prisma_document(d) for d in documents]
        if prepared:
            coll.insert_many(prepared)
        return [d["_id"] for d in prepared]


def healthy_company(**overrides: Any) -> dict[str, Any]:
    """A complete, valid Company field set; override any field."""
    fields: dict[str, Any] = {
        "fullName": "Acme Trading",
        "email": "ops@acme.example",
        "phoneNumber": "+14155550100",
        "logo": "https://res.cloudinary.com/acme/logo.png",
        "taxPercentage": 15,
        "shippingFee": 0,
        "minShipping": 0,
        "whatsappPermanentToken": "EAAG-acme-token",
        "whatsappPhoneNumberId": "1099000000001",
        "whatsappApiVersion": "v23.0",
        "whatsappBusinessAccountId": "2099000000001",
        "whatsappWebhookVerifyToken": "acme-verify",
        "whatsappAppSecret": "acme-app-secret",
        "whatsappNumber": "+14155550101",
        "emailUser": "mailer@acme.example",
        "emailPass": "acme-email-pass",
        "smtpHost": "smtp.acme.example",
        "smtpPort": "587",
        "smtpUser": "mailer@acme.example",
        "smtpPass": "acme-smtp-pass",
        "smtpFrom": "Acme <mailer@acme.example>",
        "cloudinaryCloudName": "acme-cloud",
        "cloudinaryApiKey": "123456789012345",
        "cloudinaryApiSecret": "acme-cloudinary-secret",
        "cloudinaryUploadPreset": "acme-preset",
        "cloudinaryClientFolder": "acme",
        "authCallbackUrl": "https://acme.example/api/auth/callback",
        "requireWhatsappOtp": False,
    }
    fields.update(overrides)
    return fields
