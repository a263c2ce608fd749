"""Who may call an HTTP surface: the host it names, the page it comes from, what it sends.

:class:`RequestGuard` is one pure ASGI middleware in front of every HTTP
surface (the service with its mounted A2A and MCP apps, and the standalone A2A
app). It answers, before the app sees the request:

- **421** when the ``Host`` header names a host outside the allow-list: a web
  page whose DNS name was rebound to this machine's address sends its own name;
- **403** when a request that changes state (POST, PUT, PATCH, DELETE) carries
  an ``Origin`` that is neither the request's own host nor an allowed origin. A
  request without ``Origin`` passes: non-browser clients do not send one;
- **415** when a request with a body does not declare JSON
  (``application/json`` or ``application/<x>+json``): ``text/plain`` and form
  bodies are what a web page may post to another origin without a preflight.

The allow-list is automatic unless configured: a request that reached this
machine on a loopback address must name a loopback host (``localhost``,
``127.0.0.1``, ``[::1]``, any port); any other request may name any host, since
a proxy or an ingress sets it (and the service then needs API keys anyway).
Configured hosts are exact names, ``*.example.com`` (its subdomains), with an
optional ``:port``, or ``*`` (any host); loopback names stay allowed, since a
rebound page never sends them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import UserError
from .addresses import LOOPBACK_NAMES, is_loopback

__all__ = ["ALLOWED_HOSTS_ENV", "GuardConfig", "RequestGuard"]

ALLOWED_HOSTS_ENV = "ASCENT_ALLOWED_HOSTS"

_STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NAME = r"\[[0-9a-f:.]+\]|[a-z0-9_.-]+"
_AUTHORITY = re.compile(rf"(?P<name>{_NAME})(?::(?P<port>\d{{1,5}}))?")
_HOST_PATTERN = re.compile(rf"(?P<name>\*|(?:\*\.)?(?:{_NAME}))(?::(?P<port>\d{{1,5}}|\*))?")
_ORIGIN = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*)://(?P<authority>[^/?#]+)/?")


@dataclass(frozen=True)
class _Address:
    """A host as a request names it: a lower-case name (IPv6 in brackets), maybe a port."""

    name: str
    port: int | None  # None: the scheme's own

    def port_for(self, scheme: str) -> int | None:
        return self.port if self.port is not None else _DEFAULT_PORTS.get(scheme)


@dataclass(frozen=True)
class _HostPattern:
    name: str  # "*" (any), "*.example.com" (its subdomains), or one name
    port: int | None  # None: any port

    def matches(self, address: _Address, scheme: str) -> bool:
        if self.port is not None and address.port_for(scheme) != self.port:
            return False
        if self.name == "*":
            return True
        if self.name.startswith("*."):
            suffix = self.name[1:]
            return address.name.endswith(suffix) and len(address.name) > len(suffix)
        return address.name == self.name


@dataclass(frozen=True)
class _OriginPattern:
    schemes: frozenset[str]  # empty: any scheme
    host: _HostPattern

    def matches(self, scheme: str, address: _Address) -> bool:
        return (not self.schemes or scheme in self.schemes) and self.host.matches(address, scheme)


_ANY_HOST = _HostPattern("*", None)
_ANY_ORIGIN = _OriginPattern(frozenset(), _ANY_HOST)
_LOOPBACK = tuple(_HostPattern(name, None) for name in LOOPBACK_NAMES)


@dataclass(frozen=True, kw_only=True)
class GuardConfig:
    """The guard's rules.

    ``allowed_hosts``: ``None`` for the automatic list (loopback names on a
    loopback connection, any host on others), else host patterns (``api.example.com``,
    ``api.example.com:8443``, ``*.example.com``, ``*``), loopback names always
    included. ``allowed_origins``: ``None`` for the origins of the allowed
    hosts (http or https, named hosts only, not ``*``), else origin patterns
    (``https://app.example.com``, ``https://*.example.com``,
    ``http://localhost:*``, ``*``); a request's own host is always an allowed
    origin. ``json_bodies``: refuse request bodies that are not JSON.
    """

    allowed_hosts: tuple[str, ...] | None = None
    allowed_origins: tuple[str, ...] | None = None
    json_bodies: bool = True
    _hosts: tuple[_HostPattern, ...] | None = field(init=False, repr=False, compare=False)
    _origins: tuple[_OriginPattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        hosts = None
        if self.allowed_hosts is not None:
            hosts = (*_LOOPBACK, *(_host_pattern(text) for text in self.allowed_hosts))
        if self.allowed_origins is not None:
            origins = tuple(_origin_pattern(text) for text in self.allowed_origins)
        else:
            web = frozenset(_DEFAULT_PORTS)
            origins = tuple(
                _OriginPattern(web, host) for host in (hosts or _LOOPBACK) if host.name != "*"
            )
        object.__setattr__(self, "_hosts", hosts)
        object.__setattr__(self, "_origins", origins)

    @classmethod
    def from_options(
        cls,
        *,
        allowed_hosts: Sequence[str] | str | None = None,
        allowed_origins: Sequence[str] | None = None,
    ) -> GuardConfig:
        """The rules from an app factory's keywords: ``allowed_hosts`` may be one
        comma-separated string, and ``None`` reads ``ASCENT_ALLOWED_HOSTS``."""
        return cls(
            allowed_hosts=_hosts_setting(allowed_hosts),
            allowed_origins=None if allowed_origins is None else tuple(allowed_origins),
        )

    def host_allowed(self, host: _Address | None, *, scheme: str, on_loopback: bool) -> bool:
        """Whether a request may name ``host`` (``None``: none, or not a host at all)."""
        patterns = self._hosts
        if patterns is None:
            if not on_loopback:
                return True
            patterns = _LOOPBACK
        if _ANY_HOST in patterns:
            return True
        return host is not None and any(pattern.matches(host, scheme) for pattern in patterns)

    def origin_allowed(self, origin: str, host: _Address | None) -> bool:
        """Whether a page at ``origin`` may change state through a request to ``host``."""
        parsed = _parse_origin(origin)
        if parsed is None:  # "null" (a sandboxed page, a local file) or not an origin at all
            return _ANY_ORIGIN in self._origins
        scheme, address = parsed
        # The request's own host is the same origin. A proxy in front may speak https
        # while the request reached us over http: compare ports as the page's scheme has them.
        if host is not None and (address.name, address.port_for(scheme)) == (
            host.name,
            host.port_for(scheme),
        ):
            return True
        return any(pattern.matches(scheme, address) for pattern in self._origins)


def _hosts_setting(value: Sequence[str] | str | None) -> tuple[str, ...] | None:
    """An allow-list as given: patterns, or one comma-separated string of them.

    ``None`` reads ``ASCENT_ALLOWED_HOSTS``; unset or empty, the list is automatic (``None``).
    """
    if value is None:
        value = os.environ.get(ALLOWED_HOSTS_ENV, "")
        if not value.strip():
            return None
    if isinstance(value, str):
        value = value.split(",")
    hosts = tuple(text.strip() for text in value if text.strip())
    if not hosts:
        raise UserError(f"the allowed hosts are empty (leave {ALLOWED_HOSTS_ENV} unset instead)")
    return hosts


class RequestGuard:
    """ASGI middleware: 421 for a foreign ``Host``, 403 for a foreign ``Origin``, 415 for non-JSON.

    Error bodies have the service's shape: ``{"error": {"type": ..., "message": ...}}``.
    """

    def __init__(self, app: ASGIApp, *, config: GuardConfig | None = None) -> None:
        self.app = app
        self.config = config or GuardConfig()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = _parse_host(headers.get("host", ""))
        refusal = self._refusal(scope, headers, host)
        if refusal is None:
            await self.app(scope, receive, send)
            return
        status, kind, message = refusal
        body = {"error": {"type": kind, "message": message}}
        await JSONResponse(body, status_code=status)(scope, receive, send)

    def _refusal(
        self, scope: Scope, headers: Headers, host: _Address | None
    ) -> tuple[int, str, str] | None:
        scheme = scope.get("scheme", "http")
        if not self.config.host_allowed(host, scheme=scheme, on_loopback=_on_loopback(scope)):
            named = headers.get("host", "")
            return (
                421,
                "host_not_allowed",
                f"host {named!r} is not served here: allow it with --allowed-host "
                f"or {ALLOWED_HOSTS_ENV}",
            )
        origin = headers.get("origin")
        if (
            origin is not None
            and scope["method"] in _STATE_CHANGING
            and not self.config.origin_allowed(origin, host)
        ):
            return 403, "origin_not_allowed", f"requests from origin {origin!r} are not allowed"
        if self.config.json_bodies and _has_body(headers):
            content_type = headers.get("content-type", "")
            if not _is_json(content_type):
                declared = repr(content_type) if content_type else "none"
                return (
                    415,
                    "unsupported_media_type",
                    f"the body must be JSON (Content-Type: application/json); got {declared}",
                )
        return None


# ------------------------------------------------------------------ parsing


def _on_loopback(scope: Scope) -> bool:
    """Whether the request reached this machine on a loopback address (its socket's own end)."""
    server: Any = scope.get("server")
    return server is not None and is_loopback(str(server[0]))


def _has_body(headers: Headers) -> bool:
    length = headers.get("content-length")
    return "transfer-encoding" in headers or (length is not None and length.strip() != "0")


def _is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _parse_host(text: str) -> _Address | None:
    """A ``Host`` header (or an origin's host) as an address; ``None`` if it is none."""
    match = _AUTHORITY.fullmatch(text.strip().lower())
    if match is None:
        return None
    port = match["port"]
    return _Address(match["name"].rstrip("."), int(port) if port else None)


def _parse_origin(text: str) -> tuple[str, _Address] | None:
    match = _ORIGIN.fullmatch(text.strip().lower())
    if match is None:
        return None
    address = _parse_host(match["authority"])
    return None if address is None else (match["scheme"], address)


def _host_pattern(text: str) -> _HostPattern:
    cleaned = text.strip().lower()
    if cleaned.count(":") > 1 and not cleaned.startswith("["):
        cleaned = f"[{cleaned}]"  # a bare IPv6 address: "::1" is "[::1]"
    match = _HOST_PATTERN.fullmatch(cleaned)
    if match is None:
        raise UserError(
            f"not a host pattern: {text!r} (expected a name such as api.example.com, "
            "*.example.com or *, with an optional :port)"
        )
    port = match["port"]
    return _HostPattern(match["name"].rstrip("."), None if port in (None, "*") else int(port))


def _origin_pattern(text: str) -> _OriginPattern:
    cleaned = text.strip().lower()
    if cleaned == "*":
        return _ANY_ORIGIN
    match = _ORIGIN.fullmatch(cleaned)
    if match is None:
        raise UserError(
            f"not an origin: {text!r} (expected scheme://host[:port], such as "
            "https://app.example.com, https://*.example.com or http://localhost:*)"
        )
    scheme = match["scheme"]
    host = _host_pattern(match["authority"])
    if host.port is None and not match["authority"].endswith(":*"):
        host = _HostPattern(host.name, _DEFAULT_PORTS.get(scheme))  # an origin has one port
    return _OriginPattern(frozenset({scheme}), host)
