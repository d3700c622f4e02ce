"""The one place where secret values are masked before they leave the core."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

_DSN_PASSWORD = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<user>[^:/@\s]*):(?P<pw>[^@\s]*)@")
MASK = "***"
_SECRET_NAME_MARKERS = ("TOKEN", "SECRET", "PASS", "DATABASE_URL", "API_KEY", "APIKEY", "PRIVATE")
_MIN_SCRUB_LEN = 4


def fingerprint(value: str) -> str:
    """A short, stable fingerprint that lets an operator tell two secrets apart without seeing them."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:8]


def mask_secret(value: object) -> str | None:
    """Render a secret for display: ``None`` stays ``None``, anything else becomes set/empty + fingerprint."""
    if value is None:
        return None
    text = str(value)
    if text == "":
        return "<empty>"
    return f"<set sha256:{fingerprint(text)}>"


def redact_dsn(url: str) -> str:
    """Replace the password in any ``scheme://user:password@`` with ``***``."""
    return _DSN_PASSWORD.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", url)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Remove DSN passwords and every known secret value from free text (error messages, summaries)."""
    cleaned = redact_dsn(text)
    for secret in sorted({s for s in secrets if s and len(s) >= _MIN_SCRUB_LEN}, key=len, reverse=True):
        cleaned = cleaned.replace(secret, MASK)
    return cleaned


def name_looks_secret(name: str) -> bool:
    """Whether a variable or field name says it holds a secret (``SMTP_PASS``, ``stripeSecretKey``)."""
    upper = name.upper()
    return any(marker in upper for marker in _SECRET_NAME_MARKERS)
