"""`aurigraph certs new|node`: a development CA and the gateway's, Ray nodes' and clients' TLS
certificates (`aurigraph.certs`; docs/security.md, "Transport security")."""

from __future__ import annotations

import argparse
from pathlib import Path

from aurigraph.certs import (
    DEFAULT_DAYS,
    CertError,
    issue_dev_certs,
    issue_node_cert,
    local_hosts,
    ray_tls_env,
)
from aurigraph.cli.common import CliError, emit


def register(sub: argparse._SubParsersAction) -> None:
    certs = sub.add_parser("certs", help="create a development CA and TLS certificates")
    certs_sub = certs.add_subparsers(dest="certs_command", required=True)

    new = certs_sub.add_parser("new", help="a new CA, a gateway (server) certificate, Ray node certificates "
                                           "(mTLS) and a client certificate")
    new.add_argument("--out", type=Path, required=True, help="folder to write into (keys mode 0600)")
    new.add_argument("--hosts", help="comma-separated IP addresses and DNS names the server and node "
                                     "certificates are valid for (default: 127.0.0.1, localhost, this "
                                     "machine's name and address)")
    new.add_argument("--nodes", type=int, default=1, help="Ray node certificates to create (default: 1)")
    new.add_argument("--days", type=int, default=DEFAULT_DAYS, help="validity (default: %(default)s)")
    new.add_argument("--force", action="store_true", help="overwrite existing files")
    new.add_argument("--json", action="store_true")
    new.set_defaults(func=cmd_new)

    node = certs_sub.add_parser("node", help="sign one more Ray node certificate with an existing CA "
                                             "(a machine that joins with its own addresses)")
    node.add_argument("--ca-dir", type=Path, required=True, help="folder with ca.pem and ca.key")
    node.add_argument("--out", type=Path, required=True)
    node.add_argument("--name", default="node", help="files <out>/<name>.pem and .key (default: node)")
    node.add_argument("--hosts", help="comma-separated addresses and names "
                                      "(default: 127.0.0.1, localhost, this machine's name and address)")
    node.add_argument("--days", type=int, default=DEFAULT_DAYS)
    node.add_argument("--force", action="store_true", help="overwrite existing files")
    node.add_argument("--json", action="store_true")
    node.set_defaults(func=cmd_node)


def _env_lines(env: dict[str, str]) -> str:
    return "\n".join(f"export {k}={v}" for k, v in env.items())


def cmd_new(args: argparse.Namespace) -> int:
    try:
        issued = issue_dev_certs(args.out, args.hosts or local_hosts(), args.nodes, args.days, overwrite=args.force)
    except CertError as e:
        raise CliError(str(e)) from None
    files = {i.name: {"cert": str(i.cert), "key": str(i.key)} for i in issued}
    ca = issued[0].cert
    node = next((i for i in issued if i.name.startswith("node-")), None)
    env = ray_tls_env(node.cert, node.key, ca) if node else {}
    server = next(i for i in issued if i.name == "server")
    lines = [f"wrote {i.cert} and {i.key}" for i in issued]
    lines.append(f"\ngateway (HTTPS and gRPC, TLS 1.3): aurigraph up --tls-cert {server.cert} --tls-key {server.key}")
    lines.append(f"clients trust {ca} (e.g. Client('grpcs://HOST:9000', verify='{ca}'))")
    if env:
        lines.append("\nRay mutual TLS, on every machine (head, workers, drivers) before `ray start` / "
                     "`aurigraph up` (one node certificate per machine):")
        lines.append(_env_lines(env))
    emit(args, {"files": files, "ray_env": env}, "\n".join(lines))
    return 0


def cmd_node(args: argparse.Namespace) -> int:
    try:
        issued = issue_node_cert(args.ca_dir, args.out, args.name, args.hosts or local_hosts(), args.days,
                                 overwrite=args.force)
    except CertError as e:
        raise CliError(str(e)) from None
    env = ray_tls_env(issued.cert, issued.key, args.ca_dir / "ca.pem")
    emit(args, {"cert": str(issued.cert), "key": str(issued.key), "ray_env": env},
         f"wrote {issued.cert} and {issued.key}\n{_env_lines(env)}")
    return 0
