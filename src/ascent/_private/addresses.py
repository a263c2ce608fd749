"""Host names and addresses: which ones only this machine reaches, and how a socket binds one."""

from __future__ import annotations

import ipaddress

__all__ = ["LOOPBACK_NAMES", "bind_host", "is_loopback"]

# How a client on this machine names it in a URL (and so in the Host header).
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an address, IPv6 with or without brackets) is loopback."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind_host(host)).is_loopback
    except ValueError:
        return False


def bind_host(host: str) -> str:
    """``host`` as a socket binds it: an IPv6 address without the brackets a URL puts around it.

    ``--host [::1]`` is how people write it (it is how URLs do); uvicorn and the
    socket layer need ``::1``.
    """
    if host.startswith("[") and host.endswith("]"):
        return host[1:-1]
    return host
