"""Where a request comes from: the connection's address, or, when that is a trusted proxy, the client
the proxy names in ``X-Forwarded-For``; and whether an address lies in configured networks. Pure."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from iiif_server.settings import SettingsError

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(setting: str, name: str) -> tuple[Network, ...]:
    """A comma-separated list of addresses and CIDR networks (``10.20.0.0/24, 192.0.2.7, 2001:db8::/48``)."""
    networks = []
    for entry in (part.strip() for part in setting.split(",")):
        if entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                raise SettingsError(f"{name}: {entry!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        return None
    # A dual-stack socket reports IPv4 clients as ::ffff:a.b.c.d.
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return mapped or address


def in_networks(address: str, networks: Iterable[Network]) -> bool:
    parsed = _address(address)
    return parsed is not None and any(parsed.version == network.version and parsed in network for network in networks)


def resolve_client_address(peer: str, forwarded_for: str, trusted_proxies: tuple[Network, ...]) -> str:
    """The client's address: ``peer`` (the connection's), unless it is a trusted proxy; then the
    ``X-Forwarded-For`` entries are walked from the right (each proxy appends the address it was
    reached from) past every trusted proxy, and the first other address is the client. Entries left
    of it were written by the client itself and prove nothing."""
    candidate = peer
    for hop in reversed(forwarded_for.split(",") if forwarded_for.strip() else []):
        if not in_networks(candidate, trusted_proxies):
            break
        parsed = _address(hop)
        if parsed is None:  # a malformed entry: the proxy that wrote it, not the client, is the last known
            break
        candidate = str(parsed)
    return candidate
