"""Names the model sees, derived from names people give."""

from __future__ import annotations

import re

_NOT_ALLOWED = re.compile(r"[^a-z0-9_]+")


def slugify(name: str, *, fallback: str = "agent") -> str:
    """``"Billing Agent"`` -> ``"billing_agent"``: a valid tool name."""
    return _NOT_ALLOWED.sub("_", name.lower()).strip("_") or fallback
