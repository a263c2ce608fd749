"""The service's settings: one dataclass, filled from keyword arguments or the environment.

API keys map to tenants. ``ASCENT_API_KEYS`` holds them as ``key1:tenantA,key2:tenantB``;
with none, the service has no authentication and every caller is the same
anonymous tenant (which is why the command line binds such a service to
loopback only). Each key is registered with the trace redactor as a secret.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..errors import UserError
from ..tracing import add_secret_values

__all__ = [
    "API_KEYS_ENV",
    "DEFAULT_BODY_TIMEOUT",
    "DEFAULT_MAX_INPUT_BYTES",
    "DEFAULT_MODEL_TIMEOUT",
    "DEFAULT_RUN_TIMEOUT",
    "ServiceConfig",
    "parse_api_keys",
    "time_limit",
]

API_KEYS_ENV = "ASCENT_API_KEYS"
DEFAULT_MAX_INPUT_BYTES = 1_000_000
DEFAULT_BODY_TIMEOUT = 30.0
# A served run must not hang on a model that never answers: each attempt of a model
# call gets two minutes, and a run half an hour of work (approval waits aside).
DEFAULT_MODEL_TIMEOUT = 120.0
DEFAULT_RUN_TIMEOUT = 1800.0
_TENANT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


@dataclass(kw_only=True, frozen=True)
class ServiceConfig:
    """How one service instance behaves; every replica of a deployment shares it.

    ``api_keys`` maps bearer tokens to tenants (empty: no authentication).
    ``max_input_bytes`` bounds a request body (413 beyond it), and
    ``body_timeout`` the seconds its reading may take (408 beyond). ``wait_timeout``
    bounds how long ``"wait": true`` holds a request before answering with the
    run as it stands. ``sse_ping_interval`` keeps idle streams alive through
    proxies. ``database_url`` holds runs and sessions (default: the project
    database); ``traces_url`` is where traces are read from (default: the
    project database, where the default trace exporter writes them).
    ``allowed_hosts`` are the ``Host`` names requests may use besides the
    loopback names (``None``: loopback names on a loopback connection, any
    host on others); ``allowed_origins`` the web origins that may change state
    besides the request's own host (``None``: those of the allowed hosts).
    """

    api_keys: Mapping[str, str] = field(default_factory=dict)
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES
    body_timeout: float = DEFAULT_BODY_TIMEOUT
    wait_timeout: float = 30.0
    sse_ping_interval: float = 15.0
    database_url: str | None = None
    traces_url: str | None = None
    allowed_hosts: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for key, tenant in self.api_keys.items():
            _check_key(key, tenant)
        add_secret_values(*self.api_keys)  # a key a tool or a model echoes stays out of traces
        if self.max_input_bytes < 1:
            raise UserError("max_input_bytes must be at least 1")
        if min(self.body_timeout, self.wait_timeout, self.sse_ping_interval) <= 0:
            raise UserError("body_timeout, wait_timeout and sse_ping_interval must be positive")

    @property
    def auth_enabled(self) -> bool:
        return bool(self.api_keys)


def time_limit(value: float | None, env: str, default: float) -> float | None:
    """A service time limit: ``value``, else the environment variable ``env``, else
    ``default``; ``0`` (given or in the environment) means no limit."""
    if value is None:
        raw = os.environ.get(env, "").strip()
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise UserError(f"{env} must be a number of seconds, not {raw!r}") from None
    if value < 0:
        raise UserError(f"{env} must not be negative")
    return value or None


def parse_api_keys(text: str | None = None) -> dict[str, str]:
    """``"key1:tenantA,key2:tenantB"`` (default: ``ASCENT_API_KEYS``) as ``{key: tenant}``.

    The tenant follows the key's last colon, so keys may contain colons; tenants
    are short names of letters, digits, ``.``, ``_`` and ``-``.
    """
    raw = os.environ.get(API_KEYS_ENV, "") if text is None else text
    keys: dict[str, str] = {}
    for entry in raw.replace("\n", ",").split(","):
        entry = entry.strip()
        if not entry:
            continue
        key, colon, tenant = entry.rpartition(":")
        if not colon:
            raise UserError(
                f"{API_KEYS_ENV}: entry without a tenant (expected KEY:TENANT): {_mask(entry)!r}"
            )
        key, tenant = key.strip(), tenant.strip()
        _check_key(key, tenant)
        if key in keys and keys[key] != tenant:
            raise UserError(f"{API_KEYS_ENV}: key {_mask(key)!r} is given for two tenants")
        keys[key] = tenant
    return keys


def _check_key(key: str, tenant: str) -> None:
    if not key or any(ch.isspace() for ch in key):
        raise UserError("an API key is empty or contains whitespace")
    if not _TENANT.fullmatch(tenant):
        raise UserError(
            f"tenant {tenant!r} is not a valid name (1-64 letters, digits, '.', '_', '-')"
        )


def _mask(key: str) -> str:
    return key[:3] + "..." if len(key) > 6 else "..."
