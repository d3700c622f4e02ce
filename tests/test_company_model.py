"""The Company model: every field the architecture names, its Prisma type, default and validation."""

from __future__ import annotations

import pytest
from bson import Int64, ObjectId

from opsdash.config.company import (
    COMPANY_FIELDS,
    FIELDS_BY_NAME,
    SECRET_FIELDS,
    Company,
    parse_text,
    validate_value,
)

DOCUMENTED = {
    "fullName": "String", "email": "String", "phoneNumber": "String", "logo": "String",
    "taxPercentage": "Int", "shippingFee": "Int", "minShipping": "Int",
    "whatsappPermanentToken": "String", "whatsappPhoneNumberId": "String", "whatsappApiVersion": "String",
    "whatsappBusinessAccountId": "String", "whatsappWebhookVerifyToken": "String",
    "whatsappAppSecret": "String", "whatsappNumber": "String",
    "emailUser": "String", "emailPass": "String", "smtpHost": "String", "smtpPort": "String",
    "smtpUser": "String", "smtpPass": "String", "smtpFrom": "String",
    "cloudinaryCloudName": "String", "cloudinaryApiKey": "String", "cloudinaryApiSecret": "String",
    "cloudinaryUploadPreset": "String", "cloudinaryClientFolder": "String",
    "authCallbackUrl": "String", "requireWhatsappOtp": "Boolean",
}


def test_every_documented_field_with_its_prisma_type() -> None:
    assert {s.name: s.prisma_type for s in COMPANY_FIELDS} == DOCUMENTED


def test_prisma_defaults() -> None:
    assert FIELDS_BY_NAME["taxPercentage"].default == 15
    assert FIELDS_BY_NAME["shippingFee"].default == 0
    assert FIELDS_BY_NAME["minShipping"].default == 0
    assert FIELDS_BY_NAME["whatsappApiVersion"].default == "v23.0"
    assert FIELDS_BY_NAME["requireWhatsappOtp"].default is False


def test_secret_fields_are_the_tokens_passwords_and_secrets() -> None:
    assert SECRET_FIELDS == {
        "whatsappPermanentToken", "whatsappWebhookVerifyToken", "whatsappAppSecret",
        "emailPass", "smtpPass", "cloudinaryApiSecret",
    }


@pytest.mark.parametrize(
    ("field", "good", "bad"),
    [
        ("email", "ops@acme.example", "ops-at-acme"),
        ("phoneNumber", "+14155550100", "4155550100"),
        ("whatsappNumber", "+44 20 7946 0958", "07946 0958"),
        ("taxPercentage", 100, 101),
        ("taxPercentage", 0, -1),
        ("shippingFee", 0, -5),
        ("minShipping", 250, -1),
        ("smtpPort", "465", "70000"),
        ("smtpPort", "587", "0"),
        ("whatsappApiVersion", "v24.0", "23"),
        ("authCallbackUrl", "https://acme.example/api/auth", "http://acme.example/api/auth"),
        ("authCallbackUrl", "https://acme.example/", "/api/auth/callback"),
        ("logo", "https://cdn.example/logo.png", "logo.png"),
        ("cloudinaryCloudName", "acme-cloud_1", "acme cloud!"),
        ("smtpFrom", "Acme <mailer@acme.example>", "Acme <nobody>"),
    ],
)
def test_validation_rules(field: str, good: object, bad: object) -> None:
    assert validate_value(field, good) is None
    assert validate_value(field, bad)


def test_smtp_port_must_be_a_string_as_in_prisma() -> None:
    assert validate_value("smtpPort", 587) == "must be a String"


def test_int_fields_accept_bson_long_and_refuse_bools() -> None:
    assert validate_value("taxPercentage", Int64(15)) is None
    assert validate_value("taxPercentage", True) == "must be a whole number"


def test_parse_text_converts_operator_input() -> None:
    assert parse_text("taxPercentage", " 12 ") == 12
    assert parse_text("requireWhatsappOtp", "true") is True
    assert parse_text("smtpPort", "587") == "587"
    with pytest.raises(ValueError, match="whole number"):
        parse_text("shippingFee", "ten")
    with pytest.raises(ValueError, match="true or false"):
        parse_text("requireWhatsappOtp", "yes")


def test_unknown_fields_are_kept_not_dropped() -> None:
    doc = {"_id": ObjectId(), "fullName": "Acme", "loyaltyPoints": Int64(3), "bannerText": "Hi"}
    company = Company.from_document(doc)
    assert company.extra_fields() == {"loyaltyPoints": 3, "bannerText": "Hi"}
    assert company.id == str(doc["_id"])


def test_document_errors_name_each_bad_field() -> None:
    company = Company.from_document({"email": "nope", "taxPercentage": Int64(250), "fullName": "A"})
    assert set(company.errors()) == {"email", "taxPercentage"}
