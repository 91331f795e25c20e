"""The real client address of a request, behind the configured trusted proxies.

``TRUSTED_PROXIES`` (settings) is either a count of reverse proxies in front of the app (each
appends the address it received from to ``X-Forwarded-For``) or a list of proxy networks
(CIDR). With neither (the default) the client is ``REMOTE_ADDR`` and ``X-Forwarded-For`` is
ignored: a header a client writes itself must never choose its throttle bucket. Every
throttle (config.api) and the console's lock-out (config.lockout) key on ``client_ip()``.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_proxies_parse(value: str) -> int | tuple[Network, ...]:
    """``""`` → 0, ``"2"`` → 2, ``"10.0.0.0/8, 172.16.0.1"`` → networks; ValueError otherwise."""
    value = value.strip()
    if not value:
        return 0
    if value.isdigit():
        return int(value)
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(","))


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def _trusted(address: str, networks: tuple[Network, ...]) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip.version == net.version and ip in net for net in networks)


def client_ip(request) -> str:
    """The client's address: the peer, or the hop a trusted proxy reported (never a spoof)."""
    meta = getattr(request, "META", {})
    peer = _valid(meta.get("REMOTE_ADDR") or "")
    if peer is None:
        return "-"
    trusted = settings.TRUSTED_PROXIES
    if not trusted:
        return peer
    forwarded = [h for h in (meta.get("HTTP_X_FORWARDED_FOR") or "").split(",") if h.strip()]
    if isinstance(trusted, int):
        # The last ``trusted`` hops were added by our proxies; the one before them is the
        # client as the outermost proxy saw it. Anything further left was written by the client.
        chain = [*forwarded, peer]
        index = max(len(chain) - 1 - trusted, 0)
        return _valid(chain[index]) or peer
    if not _trusted(peer, trusted):
        return peer  # an untrusted peer's X-Forwarded-For is ignored
    current = peer
    for hop in reversed(forwarded):
        address = _valid(hop)
        if address is None:
            return current  # garbage from the client: the last hop we can vouch for
        current = address
        if not _trusted(address, trusted):
            return address
    return current
