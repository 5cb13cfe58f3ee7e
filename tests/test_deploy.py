"""``iiif-archive deploy nginx``: the generated configuration, checked line by line and by nginx itself."""

from __future__ import annotations

import getpass
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from iiif_archive.cli import main
from iiif_archive.deploy import Address, NginxDeployment, keys_zone_megabytes, nginx_config, parse_address

NGINX = "/usr/sbin/nginx"


@pytest.mark.parametrize("text, address", [
    ("127.0.0.1:8001", Address("127.0.0.1", 8001)),
    ("iiif-2.archives.internal:8000", Address("iiif-2.archives.internal", 8000)),
    ("[::1]:8001", Address("::1", 8001)),
], ids=["IPv4", "host name", "IPv6 in brackets"])
def test_addresses_are_parsed(text: str, address: Address) -> None:
    assert parse_address(text) == address
    assert str(address) == text


@pytest.mark.parametrize("text, message", [
    ("127.0.0.1", "'127.0.0.1' is not HOST:PORT"),
    ("127.0.0.1:0", "'127.0.0.1:0' is not HOST:PORT"),
    ("127.0.0.1:99999", "'127.0.0.1:99999' is not HOST:PORT"),
    ("bad;host:80", "'bad;host:80': 'bad;host' is not a host name or address"),
    ("[::g]:80", "'[::g]:80': '[::g]' is not an IPv6 address"),
], ids=["no port", "port 0", "port too large", "semicolon", "bad IPv6"])
def test_bad_addresses_are_refused_naming_the_bad_part(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_address(text)


def deployment(tmp_path: Path, **changes: object) -> NginxDeployment:
    facts = {"upstreams": (Address("127.0.0.1", 8001), Address("127.0.0.1", 8002)),
             "listen": Address("127.0.0.1", 8080), "cache_dir": tmp_path / "cache", "run_dir": tmp_path / "run"}
    return NginxDeployment(**{**facts, **changes})


@pytest.mark.parametrize("changes, message", [
    ({"upstreams": ()}, "at least one upstream server is needed"),
    ({"upstreams": (Address("127.0.0.1", 8001),) * 2}, "an upstream server is named twice"),
    ({"cache_size": "lots"}, "cache size 'lots' is not a number with an optional k, m or g"),
    ({"user": "www-data; evil"}, "user 'www-data; evil' is not an account name"),
    ({"cache_dir": Path("relative/cache")}, "cache-dir must be an absolute path"),
    ({"run_dir": Path("/srv/my run")}, "run-dir must be an absolute path without spaces"),
], ids=["no upstream", "twice", "cache size", "user", "relative cache dir", "space in run dir"])
def test_bad_deployments_are_refused(tmp_path: Path, changes: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        deployment(tmp_path, **changes)


@pytest.mark.parametrize("cache_size, megabytes", [("64m", 1), ("1g", 6), ("20g", 108), ("500k", 1)])
def test_the_keys_zone_holds_a_cache_full_of_tiles(cache_size: str, megabytes: int) -> None:
    assert keys_zone_megabytes(cache_size) == megabytes


def test_the_configuration_balances_retries_and_caches_as_documented(tmp_path: Path) -> None:
    lines = {line.strip() for line in nginx_config(deployment(tmp_path, user="www-data")).splitlines()}
    for expected in [
        "user www-data;",
        "least_conn;",
        "server 127.0.0.1:8001 max_fails=1 fail_timeout=5s;",
        "server 127.0.0.1:8002 max_fails=1 fail_timeout=5s;",
        "keepalive 32;",
        "keepalive_timeout 4s;",  # below gunicorn's 5 s keep-alive
        "proxy_http_version 1.1;",
        'proxy_set_header Connection "";',
        "proxy_set_header Host $http_host;",
        "proxy_set_header X-Forwarded-Proto $scheme;",
        "proxy_next_upstream error timeout http_502 http_503;",
        "proxy_cache_key $scheme$http_host$request_uri;",
        "proxy_cache_revalidate on;",
        "proxy_cache_bypass $http_authorization $http_cookie;",
        "proxy_no_cache $http_authorization $http_cookie;",
        "add_header X-Cache-Status $upstream_cache_status always;",
        f"pid {tmp_path}/run/nginx.pid;",
        f"proxy_cache_path {tmp_path}/cache levels=1:2 keys_zone=iiif:6m",
        "listen 127.0.0.1:8080;",
    ]:
        assert expected in lines
    # nginx's own default (proxy_cache_valid) would store answers the servers did not mark cacheable.
    assert not any(line.startswith(("proxy_cache_valid", "proxy_ignore_headers")) for line in lines)


def test_the_command_writes_a_configuration_nginx_accepts(tmp_path: Path) -> None:
    out = tmp_path / "nginx.conf"
    result = CliRunner().invoke(main, [
        "deploy", "nginx", "--upstream", "127.0.0.1:8001", "--upstream", "[::1]:8002", "--listen", "127.0.0.1:8080",
        "--cache-dir", str(tmp_path / "cache"), "--run-dir", str(tmp_path / "run"), "--user", getpass.getuser(),
        "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "server [::1]:8002 max_fails=1" in out.read_text()
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path / "run"), "-c", str(out),
                              "-e", str(tmp_path / "run" / "error.log")], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


def test_without_out_the_configuration_goes_to_standard_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy", "nginx", "--upstream", "127.0.0.1:8001", "--cache-dir",
                                       str(tmp_path / "cache"), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0
    assert result.stdout.startswith("# Generated by `iiif-archive deploy nginx`")
    assert not (tmp_path / "run").exists()


def test_a_bad_upstream_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["deploy", "nginx", "--upstream", "127.0.0.1", "--cache-dir",
                                       str(tmp_path / "cache"), "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 2
    assert "'127.0.0.1' is not HOST:PORT" in result.stderr
