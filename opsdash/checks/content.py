"""A result's content as JSON: what the results store keeps as a body, and what ``Scrubber`` searches for
secrets before a result leaves its check.

The content is everything in a result but tenant, check, status, timestamp and duration. Within a pass
(``pass_cache.sweep``) each result is serialised once: the scrubber's bytes are the store's, when the
pass records its results before it ends (``Engine.run_once``).
"""

from __future__ import annotations

from pydantic_core import to_json

from opsdash.checks.base import CheckResult
from opsdash.engine import pass_cache


def _encode(result: CheckResult) -> bytes:
    return to_json(
        {
            "summary": result.summary,
            "error_class": result.error_class,
            "details": result.details,
            "source": result.source,
        }
    )


def content_json(result: CheckResult) -> bytes:
    """The result's ``summary``, ``error_class``, ``details`` and ``source`` as JSON, the same bytes as
    the model's own serialiser gives them (``model_dump_json(include=...)``), in less time; raises what
    the serialiser raises for a value it cannot serialise."""
    cache = pass_cache.current()
    if cache is None:
        return _encode(result)
    known = cache.serialised.get(id(result))
    if known is not None and known[0] is result:
        return known[1]
    blob = _encode(result)
    cache.serialised[id(result)] = (result, blob)
    return blob
