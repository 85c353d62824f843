"""`aurigraph.certs` and `aurigraph certs`: what the certificates say, how the files are written,
and that bad input is refused with one line."""

from __future__ import annotations

import ipaddress
import ssl
import stat

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from aurigraph.certs import CertError, issue_dev_certs, issue_node_cert, load_ca, parse_hosts, ray_tls_env
from aurigraph.cli.main import main


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _eku(cert: x509.Certificate) -> set:
    return set(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)


def _sans(cert: x509.Certificate) -> list[str]:
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return [str(n.value) for n in names]


@pytest.fixture(scope="module")
def issued(tmp_path_factory):
    out = tmp_path_factory.mktemp("certs") / "tls"
    return out, issue_dev_certs(out, "127.0.0.1, localhost,::1,node-1.example.org", nodes=2, days=30)


def test_it_writes_a_ca_a_server_nodes_and_a_client(issued):
    out, written = issued
    assert [i.name for i in written] == ["ca", "server", "node-0", "node-1", "client"]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{i.name}.{e}" for i in written for e in ("pem", "key"))
    for i in written:
        assert stat.S_IMODE(i.key.stat().st_mode) == 0o600, i.key
        assert stat.S_IMODE(i.cert.stat().st_mode) == 0o644, i.cert
    assert not [p for p in out.iterdir() if p.name.startswith(".")], "no temporary files left"


def test_the_ca_signs_certificates_for_the_hosts_with_the_right_usages(issued):
    out, _ = issued
    ca = _cert(out / "ca.pem")
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca and constraints.path_length == 0
    server, node, client = _cert(out / "server.pem"), _cert(out / "node-1.pem"), _cert(out / "client.pem")
    for cert in (server, node, client):
        cert.verify_directly_issued_by(ca)
        assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
        assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
        days = (cert.not_valid_after_utc - cert.not_valid_before_utc).days
        assert 30 <= days <= 31
    assert _sans(server) == _sans(node) == ["127.0.0.1", "localhost", "::1", "node-1.example.org"]
    assert _eku(server) == {ExtendedKeyUsageOID.SERVER_AUTH}
    # Ray presents a node certificate both as a server and as a client
    assert _eku(node) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    assert _eku(client) == {ExtendedKeyUsageOID.CLIENT_AUTH}
    assert ipaddress.ip_address("::1") in node.extensions.get_extension_for_class(
        x509.SubjectAlternativeName).value.get_values_for_type(x509.IPAddress)


def test_openssl_accepts_them_for_tls(issued):
    out, _ = issued
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(out / "server.pem", out / "server.key")  # the key matches the certificate
    for name in ("node-0", "node-1", "client"):
        ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(out / f"{name}.pem", out / f"{name}.key")
    ssl.create_default_context(cafile=str(out / "ca.pem"))


def test_it_never_overwrites_unless_forced(issued, tmp_path):
    out, _ = issued
    before = (out / "ca.pem").read_bytes()
    with pytest.raises(CertError, match="already exists"):
        issue_dev_certs(out, ["127.0.0.1"])
    assert (out / "ca.pem").read_bytes() == before
    fresh = tmp_path / "again"
    issue_dev_certs(fresh, ["127.0.0.1"], nodes=0)
    first = (fresh / "ca.pem").read_bytes()
    issue_dev_certs(fresh, ["127.0.0.1"], nodes=0, overwrite=True)
    assert (fresh / "ca.pem").read_bytes() != first
    assert not (fresh / "node-0.pem").exists()


def test_a_node_certificate_for_a_later_machine(issued, tmp_path):
    out, _ = issued
    added = issue_node_cert(out, tmp_path / "w", "worker-7", ["10.0.0.17", "worker-7"], days=5)
    cert = _cert(added.cert)
    cert.verify_directly_issued_by(_cert(out / "ca.pem"))
    assert _sans(cert) == ["10.0.0.17", "worker-7"]
    assert _eku(cert) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    with pytest.raises(CertError, match="no CA"):
        issue_node_cert(tmp_path, tmp_path / "x", "n", ["127.0.0.1"])
    (tmp_path / "ca.pem").write_bytes((out / "ca.pem").read_bytes())
    (tmp_path / "ca.key").write_bytes((out / "server.key").read_bytes())
    with pytest.raises(CertError, match="not the key of"):
        load_ca(tmp_path)


@pytest.mark.parametrize("hosts", ["", " , ", "bad host", "-lead.example", "a..b", "x" * 64 + ".example",
                                   "exa_mple.org", "http://x"])
def test_bad_hosts_are_refused(hosts):
    with pytest.raises(CertError):
        parse_hosts(hosts)


def test_hosts_are_deduplicated_and_wildcards_allowed():
    assert parse_hosts("localhost,127.0.0.1,localhost,*.nodes.example") == ["localhost", "127.0.0.1",
                                                                            "*.nodes.example"]


@pytest.mark.parametrize(("nodes", "days"), [(-1, 10), (1001, 10), (1, 0), (1, 3651)])
def test_bad_counts_are_refused(tmp_path, nodes, days):
    with pytest.raises(CertError):
        issue_dev_certs(tmp_path / "out", ["127.0.0.1"], nodes=nodes, days=days)
    assert not (tmp_path / "out").exists()


def test_ray_tls_env_names_ray_reads(tmp_path):
    env = ray_tls_env(tmp_path / "n.pem", tmp_path / "n.key", tmp_path / "ca.pem")
    assert env == {"RAY_USE_TLS": "1", "RAY_TLS_SERVER_CERT": str(tmp_path / "n.pem"),
                   "RAY_TLS_SERVER_KEY": str(tmp_path / "n.key"), "RAY_TLS_CA_CERT": str(tmp_path / "ca.pem")}


def test_the_cli_writes_and_prints_the_ray_environment(tmp_path, capsys):
    out = tmp_path / "tls"
    assert main(["certs", "new", "--out", str(out), "--hosts", "127.0.0.1", "--nodes", "2"]) == 0
    printed = capsys.readouterr().out
    assert f"export RAY_TLS_SERVER_CERT={out / 'node-0.pem'}" in printed and "export RAY_USE_TLS=1" in printed
    assert f"--tls-cert {out / 'server.pem'}" in printed
    assert main(["certs", "node", "--ca-dir", str(out), "--out", str(tmp_path / "w"), "--hosts", "10.1.1.1"]) == 0
    assert (tmp_path / "w" / "node.pem").exists()


@pytest.mark.parametrize("argv", [
    ["certs", "new", "--out", "{tmp}/a", "--hosts", "no spaces"],
    ["certs", "new", "--out", "{tmp}/a", "--nodes", "-3"],
    ["certs", "new", "--out", "{tmp}/a", "--days", "0"],
    ["certs", "new", "--out", "{tmp}/file"],
    ["certs", "node", "--ca-dir", "{tmp}/none", "--out", "{tmp}/b"],
])
def test_the_cli_refuses_bad_input_with_one_line(tmp_path, capsys, argv):
    (tmp_path / "file").write_text("not a folder")
    assert main([a.replace("{tmp}", str(tmp_path)) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
