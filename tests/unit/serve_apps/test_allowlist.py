"""The submission allowlist: parsing networks (flags, files, settings), deciding a client's address
(socket peer, gRPC peer strings, X-Forwarded-For from trusted proxies only) and matching it."""

from __future__ import annotations

import argparse
import ipaddress

import grpc
import pytest

from aurigraph.cli.common import CliError
from aurigraph.cli.up import gateway_settings_from_args, register
from aurigraph.node.datadir import DataDir
from serve_apps.allowlist import (
    SubmitAllowlist,
    client_address,
    grpc_peer_host,
    parse_address,
    parse_network,
    read_network_file,
)
from serve_apps.errors import ApiFailure
from serve_apps.settings import GatewaySettings


@pytest.mark.parametrize(("text", "network"), [
    ("10.0.0.0/8", "10.0.0.0/8"), (" 192.168.1.0/24 ", "192.168.1.0/24"), ("127.0.0.1", "127.0.0.1/32"),
    ("::1", "::1/128"), ("2001:db8::/32", "2001:db8::/32"), ("0.0.0.0/0", "0.0.0.0/0"),
])
def test_networks_and_single_addresses_parse(text, network):
    assert parse_network(text) == ipaddress.ip_network(network)


@pytest.mark.parametrize("text", ["10.0.0.1/8", "10.0.0.0/33", "localhost", "", "1.2.3", "::1/129", "10.0.0.0/8,"])
def test_what_is_not_a_network_is_refused_naming_it(text):
    with pytest.raises(ValueError) as caught:
        parse_network(text)
    assert repr(text.strip()) in str(caught.value)


def test_a_file_lists_one_network_a_line_with_comments(tmp_path):
    path = tmp_path / "allow.txt"
    path.write_text("# office\n10.0.0.0/8   # VPN\n\n   \n2001:db8::/32\n127.0.0.1\n")
    assert read_network_file(path) == ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]


@pytest.mark.parametrize(("content", "message"), [
    ("10.0.0.0/8\nnot-a-net\n", r"line 2: 'not-a-net' is not"), ("# nothing\n\n", "lists no networks"),
    ("", "lists no networks"),
])
def test_bad_files_are_refused_with_the_line(tmp_path, content, message):
    path = tmp_path / "allow.txt"
    path.write_text(content)
    with pytest.raises(ValueError, match=message):
        read_network_file(path)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"allowlist file .*missing"):
        read_network_file(tmp_path / "missing")


def test_settings_validate_and_carry_the_networks_as_json():
    settings = GatewaySettings(submit_allowlist=["10.0.0.0/8", "127.0.0.1", "::1"], trusted_proxies=["192.0.2.1"])
    assert settings.submit_allowlist == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("127.0.0.1/32"),
                                         ipaddress.ip_network("::1/128"))
    assert GatewaySettings.model_validate_json(settings.model_dump_json()) == settings  # as Serve receives them
    assert GatewaySettings().submit_allowlist == () and GatewaySettings().trusted_proxies == ()
    with pytest.raises(ValueError, match=r"submit allowlist entry '10\.0\.0\.1/8'.*host bits"):
        GatewaySettings(submit_allowlist=["10.0.0.1/8"])
    with pytest.raises(ValueError, match=r"trusted proxy entry 'proxy\.local'"):
        GatewaySettings(trusted_proxies=["proxy.local"])


def _up_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["up", *argv])


def test_aurigraph_up_flags_and_file_build_the_allowlist(tmp_path):
    path = tmp_path / "allow.txt"
    path.write_text("# more\n192.168.0.0/16\n")
    args = _up_args("--allow-submit", "10.0.0.0/8", "--allow-submit", "127.0.0.1", "--allow-submit-file", str(path),
                    "--trusted-proxy", "10.9.9.9")
    settings = gateway_settings_from_args(args, DataDir(tmp_path / "data"))
    assert [str(n) for n in settings.submit_allowlist] == ["10.0.0.0/8", "127.0.0.1/32", "192.168.0.0/16"]
    assert [str(n) for n in settings.trusted_proxies] == ["10.9.9.9/32"]
    assert gateway_settings_from_args(_up_args(), DataDir(tmp_path / "data")).submit_allowlist == ()


@pytest.mark.parametrize("argv", [("--allow-submit", "10.0.0.0/33"), ("--allow-submit-file", "/nonexistent/allow"),
                                  ("--trusted-proxy", "nope")])
def test_aurigraph_up_refuses_a_bad_allowlist_before_starting(tmp_path, argv):
    with pytest.raises(CliError, match=r"10\.0\.0\.0/33|/nonexistent/allow|'nope'"):
        gateway_settings_from_args(_up_args(*argv), DataDir(tmp_path / "data"))


@pytest.mark.parametrize(("peer", "host"), [
    ("ipv4:127.0.0.1:54321", "127.0.0.1"), ("ipv6:[::1]:54321", "::1"), ("ipv6:%5B::1%5D:54321", "::1"),
    ("ipv6:[2001:db8::7]:1", "2001:db8::7"), ("unix:/tmp/sock", "unix:/tmp/sock"), ("", ""),
])
def test_grpc_peers_give_their_host(peer, host):
    assert grpc_peer_host(peer) == host


def test_addresses_parse_as_peers_and_headers_write_them():
    assert parse_address("[::1]") == ipaddress.ip_address("::1")
    assert parse_address("::ffff:10.1.2.3") == ipaddress.ip_address("10.1.2.3"), "IPv4-mapped IPv6 is IPv4"
    assert parse_address("fe80::1%eth0") == ipaddress.ip_address("fe80::1")
    assert parse_address("unknown") is None and parse_address("testclient") is None


def test_the_client_is_the_socket_peer_unless_a_trusted_proxy_forwards():
    proxies = (ipaddress.ip_network("10.9.0.0/16"),)
    assert client_address("127.0.0.1", "10.1.2.3") == "127.0.0.1", "no trusted proxy: the header is ignored"
    assert client_address("127.0.0.1", "10.1.2.3", proxies) == "127.0.0.1", "the peer is not a trusted proxy"
    assert client_address("10.9.0.1", None, proxies) == "10.9.0.1", "a proxy that names nobody is the client"
    assert client_address("10.9.0.1", "10.1.2.3", proxies) == "10.1.2.3"
    # what the client wrote itself (left) is skipped: the rightmost address no trusted proxy added
    assert client_address("10.9.0.1", "10.0.0.1, 203.0.113.5, 10.9.0.2", proxies) == "203.0.113.5"
    assert client_address("10.9.0.1", "203.0.113.5:4711", proxies) == "203.0.113.5"
    assert client_address("10.9.0.1", "[2001:db8::5]:80", proxies) == "2001:db8::5"
    assert client_address("10.9.0.1", "10.9.0.3, 10.9.0.2", proxies) == "10.9.0.3", "all trusted: the leftmost"
    assert client_address("10.9.0.1", "forged", proxies) == "forged"
    assert client_address("::ffff:127.0.0.1", None) == "127.0.0.1"


def test_matching_networks_of_both_families():
    allow = SubmitAllowlist([parse_network(n) for n in ("10.0.0.0/8", "127.0.0.1", "2001:db8::/32")])
    assert allow.enabled
    for client in ("10.0.0.1", "10.255.255.255", "127.0.0.1", "2001:db8::1", "::ffff:10.2.3.4"):
        assert allow.allows(client), client
    for client in ("11.0.0.1", "127.0.0.2", "::1", "2001:db9::1", "forged", "unknown", ""):
        assert not allow.allows(client), client
    assert not SubmitAllowlist([parse_network("::/0")]).allows("10.0.0.1"), "an IPv6 network holds no IPv4 peer"


def test_without_an_allowlist_everyone_may_submit():
    allow = SubmitAllowlist()
    assert not allow.enabled and allow.allows("203.0.113.5") and allow.allows("unknown")
    allow.check("203.0.113.5")


def test_a_refusal_is_forbidden_and_names_the_client():
    with pytest.raises(ApiFailure) as caught:
        SubmitAllowlist([parse_network("10.0.0.0/8")]).check("192.0.2.44")
    e = caught.value
    assert e.code == "FORBIDDEN" and e.http_status == 403 and e.grpc_status == grpc.StatusCode.PERMISSION_DENIED
    assert "192.0.2.44" in e.detail and "allowlist" in e.detail
