"""A development certificate authority and the TLS certificates a node needs: `aurigraph certs`.

    paths = issue_dev_certs(Path("tls"), hosts=["127.0.0.1", "localhost"], nodes=3)

writes, under the output folder:

- `ca.pem` / `ca.key`: the CA (self-signed, may sign end-entity certificates only: path length 0);
- `server.pem` / `server.key`: the gateway's HTTPS and gRPC certificate (serverAuth), named by `hosts`;
- `node-<i>.pem` / `node-<i>.key`: certificates for Ray's mutual TLS (`RAY_TLS_SERVER_CERT` /
  `RAY_TLS_SERVER_KEY`). Ray presents the same certificate as a server and as a client, so each
  has both serverAuth and clientAuth, and names `hosts` (Ray's gRPC clients check the node's
  address against it);
- `client.pem` / `client.key`: a client certificate (clientAuth), e.g. for a driver on a workstation.

`issue_node_cert` signs one more node certificate with an existing CA (a machine that joins later,
with its own addresses). Keys are ECDSA P-256, certificates SHA-256. Files are written atomically
(temporary file + rename), keys 0600 and certificates 0644, and an existing file is never
overwritten unless `overwrite=True`: no file is written if any would be refused.

This is a development CA: its key sits in a plain file. A production deployment uses its own PKI;
the node only needs the file paths.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import socket
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("127.0.0.1", "localhost")
DEFAULT_DAYS = 365
MAX_DAYS = 3650
MAX_NODES = 1000
CA_FILES = ("ca.pem", "ca.key")
_DNS_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_BACKDATE = datetime.timedelta(minutes=5)  # tolerate clocks a little behind the issuer's


class CertError(ValueError):
    """Bad input (a host name, a count, a period), a file that exists, or an unreadable CA."""


@dataclass(frozen=True)
class Issued:
    """One certificate and its key as written: `cert` (PEM) and `key` (PEM, PKCS#8, 0600)."""

    name: str
    cert: Path
    key: Path


def parse_hosts(hosts: str | list[str] | tuple[str, ...]) -> list[str]:
    """Host names and IP addresses from a list or a comma-separated string, checked and de-duplicated."""
    items = hosts.split(",") if isinstance(hosts, str) else list(hosts)
    out: list[str] = []
    for item in (h.strip() for h in items):
        if not item:
            continue
        _san(item)  # raises CertError if it is neither an address nor a DNS name
        if item not in out:
            out.append(item)
    if not out:
        raise CertError("give at least one host name or IP address")
    return out


# Where the outgoing interface is asked for: a private network's, and the public route Ray itself
# probes to pick a node's address (toward 8.8.8.8:53), which differ on a machine with several networks.
ROUTE_PROBES = (("10.255.255.255", 1), ("8.8.8.8", 53))


def local_hosts() -> list[str]:
    """127.0.0.1, localhost, this machine's name and the addresses of its outgoing interfaces: what
    Ray's gRPC clients check a node certificate against on a single machine (Ray connects to the
    node's address, not to 127.0.0.1)."""
    names = [*DEFAULT_HOSTS, socket.gethostname()]
    for probe in ROUTE_PROBES:
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(probe)  # no packet is sent: the kernel picks the interface of that route
                names.append(s.getsockname()[0])
        except OSError:  # no route there
            pass
    return [h for h in dict.fromkeys(names) if _valid(h)]


def _valid(host: str) -> bool:
    try:
        _san(host)
    except CertError:
        return False
    return True


def _san(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if labels and labels[0] == "*":  # a wildcard, first label only
        labels = labels[1:]
    if len(host) > 253 or not labels or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        raise CertError(f"not an IP address or DNS name: {host!r}")
    return x509.DNSName(host)


def _check(nodes: int, days: int) -> None:
    if not 0 <= nodes <= MAX_NODES:
        raise CertError(f"nodes must be between 0 and {MAX_NODES}, got {nodes}")
    if not 1 <= days <= MAX_DAYS:
        raise CertError(f"days must be between 1 and {MAX_DAYS}, got {days}")


def issue_dev_certs(out: Path, hosts=DEFAULT_HOSTS, nodes: int = 1, days: int = DEFAULT_DAYS, *,
                    overwrite: bool = False) -> list[Issued]:
    """A new CA, a server certificate, `nodes` node certificates and a client certificate under
    `out` (created if missing); returns what was written, the CA first."""
    names = parse_hosts(hosts)
    _check(nodes, days)
    out = Path(out)
    planned = ["ca", "server", *(f"node-{i}" for i in range(nodes)), "client"]
    _refuse_existing(out, planned, overwrite)
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Aurigraph dev"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "Aurigraph dev CA")])
    ca_cert = (
        _builder(ca_name, ca_name, ca_key.public_key(), now, days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                     crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    written = [_write_pair(out, "ca", ca_cert, ca_key, overwrite)]
    usages = {"server": [ExtendedKeyUsageOID.SERVER_AUTH],
              **{f"node-{i}": [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH] for i in range(nodes)},
              "client": [ExtendedKeyUsageOID.CLIENT_AUTH]}
    for name, eku in usages.items():
        written.append(_issue(out, name, ca_cert, ca_key, names if name != "client" else None, eku, now, days,
                              overwrite))
    return written


def issue_node_cert(ca_dir: Path, out: Path, name: str, hosts, days: int = DEFAULT_DAYS, *,
                    overwrite: bool = False) -> Issued:
    """One more node certificate (serverAuth + clientAuth) signed by the CA in `ca_dir`
    (`ca.pem`, `ca.key`), written as `<out>/<name>.pem` and `<out>/<name>.key`."""
    names = parse_hosts(hosts)
    _check(0, days)
    if not name or "/" in name or name.startswith(".") or name in ("ca",):
        raise CertError(f"not a usable certificate name: {name!r}")
    ca_cert, ca_key = load_ca(Path(ca_dir))
    _refuse_existing(Path(out), [name], overwrite)
    now = datetime.datetime.now(datetime.UTC)
    return _issue(Path(out), name, ca_cert, ca_key, names,
                  [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH], now, days, overwrite)


def load_ca(ca_dir: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = (ca_dir / f for f in CA_FILES)
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except FileNotFoundError as e:
        raise CertError(f"no CA in {ca_dir}: {e.filename} is missing (aurigraph certs new)") from None
    except (OSError, ValueError, TypeError) as e:
        raise CertError(f"{ca_dir}: not a readable CA ({e})") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.public_key() != cert.public_key():
        raise CertError(f"{ca_dir}: ca.key is not the key of ca.pem")
    return cert, key


def _refuse_existing(out: Path, names: list[str], overwrite: bool) -> None:
    if out.exists() and not out.is_dir():
        raise CertError(f"{out} exists and is not a folder")
    if overwrite:
        return
    existing = [str(out / f"{n}.{ext}") for n in names for ext in ("pem", "key") if (out / f"{n}.{ext}").exists()]
    if existing:
        raise CertError(f"{existing[0]} already exists; refusing to overwrite (use --force)")


def _builder(subject: x509.Name, issuer: x509.Name, public_key, now: datetime.datetime,
             days: int) -> x509.CertificateBuilder:
    return (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(public_key)
            .serial_number(x509.random_serial_number()).not_valid_before(now - _BACKDATE)
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False))


def _issue(out: Path, name: str, ca_cert: x509.Certificate, ca_key, hosts: list[str] | None, eku: list,
           now: datetime.datetime, days: int, overwrite: bool) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    cn = hosts[0] if hosts else f"aurigraph-{name}"
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Aurigraph dev"),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, name),
                         x509.NameAttribute(NameOID.COMMON_NAME, cn[:64])])
    builder = (
        _builder(subject, ca_cert.subject, key.public_key(), now, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage(eku), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_san(h) for h in hosts]), critical=False)
    return _write_pair(out, name, builder.sign(ca_key, hashes.SHA256()), key, overwrite)


def _write_pair(out: Path, name: str, cert: x509.Certificate, key, overwrite: bool) -> Issued:
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    issued = Issued(name, out / f"{name}.pem", out / f"{name}.key")
    _write_atomic(issued.key, key_pem, 0o600, overwrite)
    _write_atomic(issued.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644, overwrite)
    return issued


def _write_atomic(path: Path, data: bytes, mode: int, overwrite: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if overwrite:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)  # fails if the file appeared meanwhile: never overwrite by accident
            os.unlink(tmp)
    except FileExistsError:
        Path(tmp).unlink(missing_ok=True)
        raise CertError(f"{path} already exists; refusing to overwrite (use --force)") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ray_tls_env(cert: Path, key: Path, ca: Path) -> dict[str, str]:
    """The environment that turns Ray's mutual TLS on for one process (and what it starts)."""
    return {"RAY_USE_TLS": "1", "RAY_TLS_SERVER_CERT": str(Path(cert).resolve()),
            "RAY_TLS_SERVER_KEY": str(Path(key).resolve()), "RAY_TLS_CA_CERT": str(Path(ca).resolve())}
