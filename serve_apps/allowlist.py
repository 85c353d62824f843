"""Which clients may submit transactions, and how the gateway tells who a client is.

The submission allowlist (`GatewaySettings.submit_allowlist`, `aurigraph up --allow-submit`) is a
list of IPv4/IPv6 networks; a single address is a network of one. When it is set, the routes that
submit transactions (the `SUBMISSION_ROUTES` of `serve_apps.auth`) refuse a client outside every
network with FORBIDDEN (HTTP 403, gRPC PERMISSION_DENIED) naming the client's address; an empty
list switches the check off.

The client's address is the socket peer of its connection to the gateway replica's own server:
`scope["client"]` for REST and WebSocket, the gRPC context's `peer()` for gRPC. `X-Forwarded-For` (REST, WebSocket) and
`x-forwarded-for` metadata (gRPC) are ignored, unless the peer is one of the configured trusted
proxies (`GatewaySettings.trusted_proxies`, `--trusted-proxy`): then the client is the first address
in the header, read from the right, that is not itself a trusted proxy. The gateway runs uvicorn with
its own `X-Forwarded-For` handling off (`proxy_headers`, which trusts loopback by default: see
serve_apps/http_server.py), so `scope["client"]` is the socket peer when it reaches `client_address`.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import unquote

from serve_apps.errors import ApiFailure

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_network(text: str | Network | Address) -> Network:
    """`10.0.0.0/8`, `2001:db8::/32`, or one address (`127.0.0.1`, `::1`); `ValueError` naming the
    entry otherwise. Host bits set under the prefix (`10.0.0.1/8`) are refused: they are a typo more
    often than an intent."""
    if isinstance(text, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return text
    if isinstance(text, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_network(text)
    entry = str(text).strip()
    try:
        return ipaddress.ip_network(entry, strict=True)
    except ValueError as e:
        raise ValueError(f"{entry!r} is not an IP address or network ({e})") from None


def read_network_file(path: Path) -> list[str]:
    """The networks of an allowlist file: one a line; `#` starts a comment; blank lines are skipped.
    A file that lists none is refused (an empty allowlist would silently mean "no check")."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError as e:
        raise ValueError(f"allowlist file {path}: {e.strerror or e}") from None
    entries = []
    for number, line in enumerate(lines, 1):
        entry = line.split("#", 1)[0].strip()
        if entry:
            try:
                parse_network(entry)
            except ValueError as e:
                raise ValueError(f"allowlist file {path}, line {number}: {e}") from None
            entries.append(entry)
    if not entries:
        raise ValueError(f"allowlist file {path} lists no networks")
    return entries


def parse_address(text: str) -> Address | None:
    """An address as peers and headers write it (`1.2.3.4`, `::1`, `[::1]`, `fe80::1%eth0`), with
    IPv4-mapped IPv6 (`::ffff:1.2.3.4`, from a dual-stack socket) read as IPv4; None if it is not one."""
    host = text.strip()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def grpc_peer_host(peer: str) -> str:
    """The host part of a gRPC peer: `ipv4:1.2.3.4:5678` → `1.2.3.4`, `ipv6:[::1]:5678` (or its
    URL-encoded form `ipv6:%5B::1%5D:5678`) → `::1`; anything else (`unix:…`) is returned whole."""
    for prefix in ("ipv4:", "ipv6:"):
        if peer.startswith(prefix):
            rest = unquote(peer[len(prefix):])
            if rest.startswith("["):
                return rest[1:rest.find("]")] if "]" in rest else rest
            return rest.rsplit(":", 1)[0] if prefix == "ipv4:" else rest
    return peer


def _forwarded_host(entry: str) -> str:
    """One `X-Forwarded-For` entry without a port: `1.2.3.4:80` → `1.2.3.4`, `[::1]:80` → `::1`."""
    entry = entry.strip()
    if entry.startswith("[") and "]" in entry:
        return entry[1:entry.find("]")]
    if entry.count(":") == 1:
        return entry.split(":", 1)[0]
    return entry


def _in(address: Address | None, networks: Iterable[Network]) -> bool:
    return address is not None and any(address.version == n.version and address in n for n in networks)


def client_address(peer_host: str, forwarded_for: str | None, trusted_proxies: Iterable[Network] = ()) -> str:
    """The address a request comes from, as text: the socket peer, unless that peer is a trusted
    proxy and the request says whom it forwards (`forwarded_for`, the `X-Forwarded-For` value, all
    of its headers joined with commas). Then it is the rightmost forwarded address that is not a
    trusted proxy itself (or the leftmost, if all are). Every proxy appends the address it saw, so
    entries to the left of the first untrusted one could have been written by the client."""
    trusted = tuple(trusted_proxies)
    peer = parse_address(peer_host)
    peer_text = str(peer) if peer is not None else peer_host
    if not trusted or not forwarded_for or not _in(peer, trusted):
        return peer_text
    hops = [_forwarded_host(e) for e in forwarded_for.split(",") if e.strip()]
    for hop in reversed(hops):
        address = parse_address(hop)
        if address is None:
            return hop  # not an address: not allowed anywhere, and the refusal names it
        if not _in(address, trusted):
            return str(address)
    return str(parse_address(hops[0])) if hops else peer_text


class SubmitAllowlist:
    """The submission allowlist of one gateway; `check` is the one place that decides."""

    def __init__(self, networks: Iterable[Network] = ()) -> None:
        self.networks = tuple(networks)

    @property
    def enabled(self) -> bool:
        return bool(self.networks)

    def allows(self, client: str) -> bool:
        """Whether `client` (an address as text) may submit; one that is not an address may not."""
        return not self.networks or _in(parse_address(client), self.networks)

    def check(self, client: str) -> None:
        if not self.allows(client):
            raise ApiFailure("FORBIDDEN", f"client address {client} is not in the submission allowlist: "
                                          "it may read but not submit transactions")
