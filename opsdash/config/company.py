"""The Company document: every field's Prisma type, default, secrecy and validation, in one table.

The table is the single source of truth that masking, validation, edit forms, the service catalog and
BSON type-faithful writes all read from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, create_model

PrismaType = Literal["String", "Int", "Boolean", "DateTime"]
Validator = Callable[[Any], str | None]

_EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_NAMED_EMAIL = re.compile(r"^[^<>]*<(?P<addr>[^<>]+)>$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_API_VERSION = re.compile(r"^v\d+\.\d+$")
_DIGITS = re.compile(r"^\d+$")
_CLOUD_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")
_PHONE_PUNCTUATION = re.compile(r"[\s\-()]")


def _email(value: Any) -> str | None:
    return None if _EMAIL.match(str(value)) else "must be an email address, e.g. ops@example.com"


def _sender(value: Any) -> str | None:
    text = str(value).strip()
    named = _NAMED_EMAIL.match(text)
    return _email(named["addr"].strip() if named else text)


def _phone(value: Any) -> str | None:
    compact = _PHONE_PUNCTUATION.sub("", str(value))
    return None if _E164.match(compact) else "must be an international number, e.g. +14155550123"


def _percentage(value: Any) -> str | None:
    return None if 0 <= int(value) <= 100 else "must be a percentage from 0 to 100"


def _non_negative(value: Any) -> str | None:
    return None if int(value) >= 0 else "must not be negative"


def _port(value: Any) -> str | None:
    text = str(value)
    if not _DIGITS.match(text) or not 1 <= int(text) <= 65535:
        return "must be a port number from 1 to 65535"
    return None


def _api_version(value: Any) -> str | None:
    return None if _API_VERSION.match(str(value)) else "must look like v23.0"


def _https_url(value: Any) -> str | None:
    parts = urlsplit(str(value))
    if parts.scheme != "https" or not parts.hostname:
        return "must be an absolute https:// URL"
    return None


def _numeric_id(value: Any) -> str | None:
    return None if _DIGITS.match(str(value)) else "must be a numeric id"


def _cloud_name(value: Any) -> str | None:
    return None if _CLOUD_NAME.match(str(value)) else "may hold only letters, digits, '-' and '_'"


@dataclass(frozen=True)
class FieldSpec:
    """One Company field as Prisma declares it, plus what opsdash needs to know about it."""

    name: str
    prisma_type: PrismaType
    service: str
    default: Any = None
    secret: bool = False
    required: bool = False
    validator: Validator | None = None

    @property
    def has_default(self) -> bool:
        return self.default is not None


def _f(name: str, service: str, prisma_type: PrismaType = "String", **kw: Any) -> FieldSpec:
    return FieldSpec(name=name, prisma_type=prisma_type, service=service, **kw)


COMPANY_FIELDS: tuple[FieldSpec, ...] = (
    _f("fullName", "business", required=True),
    _f("email", "business", required=True, validator=_email),
    _f("phoneNumber", "business", required=True, validator=_phone),
    _f("logo", "business", validator=_https_url),
    _f("taxPercentage", "business", "Int", default=15, validator=_percentage),
    _f("shippingFee", "business", "Int", default=0, validator=_non_negative),
    _f("minShipping", "business", "Int", default=0, validator=_non_negative),
    _f("whatsappPermanentToken", "whatsapp", secret=True, required=True),
    _f("whatsappPhoneNumberId", "whatsapp", required=True, validator=_numeric_id),
    _f("whatsappApiVersion", "whatsapp", default="v23.0", validator=_api_version),
    _f("whatsappBusinessAccountId", "whatsapp", required=True, validator=_numeric_id),
    _f("whatsappWebhookVerifyToken", "whatsapp", secret=True, required=True),
    _f("whatsappAppSecret", "whatsapp", secret=True, required=True),
    _f("whatsappNumber", "whatsapp", validator=_phone),
    _f("emailUser", "email", validator=_email),
    _f("emailPass", "email", secret=True),
    _f("smtpHost", "email", required=True),
    _f("smtpPort", "email", required=True, validator=_port),
    _f("smtpUser", "email", required=True),
    _f("smtpPass", "email", secret=True, required=True),
    _f("smtpFrom", "email", required=True, validator=_sender),
    _f("cloudinaryCloudName", "cloudinary", required=True, validator=_cloud_name),
    _f("cloudinaryApiKey", "cloudinary", required=True, validator=_numeric_id),
    _f("cloudinaryApiSecret", "cloudinary", secret=True, required=True),
    _f("cloudinaryUploadPreset", "cloudinary"),
    _f("cloudinaryClientFolder", "cloudinary"),
    _f("authCallbackUrl", "auth", required=True, validator=_https_url),
    _f("requireWhatsappOtp", "whatsapp_otp", "Boolean", default=False),
)

FIELDS_BY_NAME: Mapping[str, FieldSpec] = {spec.name: spec for spec in COMPANY_FIELDS}
SECRET_FIELDS: frozenset[str] = frozenset(s.name for s in COMPANY_FIELDS if s.secret)

_PYTHON_TYPES: Mapping[PrismaType, tuple[type, ...]] = {
    "String": (str,),
    "Int": (int,),
    "Boolean": (bool,),
    "DateTime": (datetime,),
}


def is_secret(field: str) -> bool:
    """Whether a Company field holds a secret (token, password, app or API secret)."""
    return field in SECRET_FIELDS


def validate_value(field: str, value: Any) -> str | None:
    """Validate one typed value for a known field; ``None`` when valid, else a short reason.

    ``None`` (absent) is valid here; completeness is judged by the catalog, not the field.
    """
    spec = FIELDS_BY_NAME.get(field)
    if spec is None or value is None:
        return None
    expected = _PYTHON_TYPES[spec.prisma_type]
    if spec.prisma_type == "Int" and isinstance(value, bool):
        return "must be a whole number"
    if not isinstance(value, expected):
        return f"must be a {spec.prisma_type}"
    if spec.prisma_type == "String" and value == "":
        return "is empty" if spec.required else None
    if spec.validator is None:
        return None
    return spec.validator(value)


def parse_text(field: str, text: str) -> Any:
    """Turn operator or env text into the field's Python type; raises ``ValueError`` with a reason."""
    spec = FIELDS_BY_NAME[field]
    if spec.prisma_type == "Int":
        try:
            return int(text.strip())
        except ValueError:
            raise ValueError("must be a whole number") from None
    if spec.prisma_type == "Boolean":
        lowered = text.strip()
        if lowered in ("true", "false"):
            return lowered == "true"
        raise ValueError("must be true or false")
    if spec.prisma_type == "DateTime":
        try:
            return datetime.fromisoformat(text.strip())
        except ValueError:
            raise ValueError("must be an ISO-8601 date-time") from None
    return text


class _CompanyBase(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    id: str | None = None

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> _CompanyBase:
        """Build from a raw BSON document (``_id`` becomes ``id``); values are kept exactly as found."""
        data = {k: v for k, v in document.items() if k != "_id"}
        data["id"] = str(document["_id"]) if "_id" in document else None
        return cls.model_construct(**data)

    def errors(self) -> dict[str, str]:
        """Validation errors per known field, for the values this document actually holds."""
        found: dict[str, str] = {}
        for name in self.model_fields_set & FIELDS_BY_NAME.keys():
            reason = validate_value(name, getattr(self, name))
            if reason:
                found[name] = reason
        return found

    def extra_fields(self) -> dict[str, Any]:
        """Fields the document holds beyond the ones opsdash knows (the real schema has 50+)."""
        return dict(self.__pydantic_extra__ or {})


def _company_model() -> type[_CompanyBase]:
    model: type[_CompanyBase] = create_model(
        "Company",
        __base__=_CompanyBase,
        __doc__="A Company document typed as the app's Prisma schema; unknown fields are kept.",
        **{
            spec.name: (_PYTHON_TYPES[spec.prisma_type][0] | None, spec.default)
            for spec in COMPANY_FIELDS
        },
    )
    return model


if TYPE_CHECKING:
    Company: type[_CompanyBase]


def __getattr__(name: str) -> Any:
    """``Company`` is built on first use: most commands (``opsdash check`` among them) never need it."""
    if name == "Company":
        model = globals()["Company"] = _company_model()
        return model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
