"""Who a request comes from: trusted proxies' X-Forwarded-For, and addresses in configured networks."""

from __future__ import annotations

import pytest

from iiif_server.settings import SettingsError
from iiif_server.web.clients import in_networks, parse_networks, resolve_client_address

PROXIES = parse_networks("127.0.0.1, 10.0.0.0/24", "trusted_proxies")


@pytest.mark.parametrize(("peer", "forwarded_for", "client"), [
    pytest.param("203.0.113.9", "", "203.0.113.9", id="no proxy: the connection"),
    pytest.param("203.0.113.9", "10.20.0.5", "203.0.113.9", id="an untrusted peer's header is ignored"),
    pytest.param("127.0.0.1", "", "127.0.0.1", id="a trusted proxy naming no one"),
    pytest.param("127.0.0.1", "10.20.0.5", "10.20.0.5", id="nginx names the client"),
    pytest.param("127.0.0.1", "10.20.0.5, 10.0.0.3", "10.20.0.5", id="through two trusted proxies"),
    pytest.param("127.0.0.1", "10.0.0.7, 198.51.100.4", "198.51.100.4",
                 id="a client forging a trusted address left of its own is still itself"),
    pytest.param("127.0.0.1", "10.20.0.5, not-an-address", "127.0.0.1", id="a malformed entry stops the walk"),
    pytest.param("127.0.0.1", "::ffff:10.20.0.5", "10.20.0.5", id="IPv4-mapped IPv6 is the IPv4 address"),
    pytest.param("127.0.0.1", "10.0.0.2", "10.0.0.2", id="only proxies: the leftmost"),
])
def test_client_address(peer: str, forwarded_for: str, client: str):
    assert resolve_client_address(peer, forwarded_for, PROXIES) == client


@pytest.mark.parametrize(("address", "inside"), [
    ("10.0.0.200", True), ("10.0.1.1", False), ("127.0.0.1", True), ("::ffff:10.0.0.1", True), ("::1", False),
    ("", False), ("localhost", False),
])
def test_in_networks(address: str, inside: bool):
    assert in_networks(address, PROXIES) is inside


def test_parse_networks_names_the_bad_entry():
    assert parse_networks(" 2001:db8::/48 ,, 192.0.2.7/24 ", "x") == (
        parse_networks("2001:db8::/48", "x")[0], parse_networks("192.0.2.0/24", "x")[0])
    with pytest.raises(SettingsError, match="auth_kiosk_networks: '10.0.0.0/33' is not an IP address"):
        parse_networks("10.0.0.0/8, 10.0.0.0/33", "auth_kiosk_networks")
