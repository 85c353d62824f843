"""Ray's own mutual TLS (`RAY_USE_TLS`) with certificates from `aurigraph.certs`: a private Ray
cluster started with TLS on runs a task for a driver that holds a node certificate of the cluster's
CA, and refuses a plain-text driver, a driver whose certificate another CA signed, and a TLS client
that presents no certificate at all.

The cluster is the one `ray.init()` starts in a subprocess (its own session under a temporary
folder, free ports, Ray's token authentication on with a token of its own), stopped by that
subprocess when the test is done, or killed with its process group: never `ray stop`, which would
stop every Ray instance on the machine.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from aurigraph.certs import issue_dev_certs, local_hosts, ray_tls_env

HEAD = textwrap.dedent("""
    import sys, ray
    ray.init(_temp_dir=sys.argv[1], include_dashboard=False, num_cpus=1, logging_level="WARNING")
    print("ADDRESS", ray.get_runtime_context().gcs_address, flush=True)
    sys.stdin.readline()  # until the test closes our stdin
    ray.shutdown()
""")

DRIVER = textwrap.dedent("""
    import sys, ray
    ray.init(address=sys.argv[1], logging_level="WARNING")

    @ray.remote
    def add_one(x):
        return x + 1

    print("RESULT", ray.get(add_one.remote(41), timeout=30), flush=True)
""")

# A refused driver would retry for about 40 s with Ray's defaults; these make it give up in seconds.
IMPATIENT = {"RAY_gcs_rpc_server_connect_timeout_s": "2", "RAY_gcs_rpc_server_reconnect_timeout_s": "2",
             "RAY_gcs_server_port_wait_time_s": "1"}


def _base_env(token: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_", "OPENSSL_CONF"))}
    return dict(env, RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=token, PYTHONUNBUFFERED="1")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A private TLS-on Ray cluster: (gcs address, certificates folder, other CA's folder, token)."""
    certs = tmp_path_factory.mktemp("certs")
    issue_dev_certs(certs / "ours", local_hosts(), nodes=2)
    issue_dev_certs(certs / "theirs", local_hosts(), nodes=1)
    token = secrets.token_hex(32)
    # Short: Ray's Unix sockets live under the session folder (path limit 107 bytes).
    temp_dir = tempfile.mkdtemp(prefix="rtls-", dir="/tmp")
    ours = certs / "ours"
    env = dict(_base_env(token), **ray_tls_env(ours / "node-0.pem", ours / "node-0.key", ours / "ca.pem"))
    head = subprocess.Popen([sys.executable, "-c", HEAD, temp_dir], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True)
    try:
        address = _read_address(head, timeout_s=90)
        yield address, ours, certs / "theirs", token
    finally:
        head.stdin.close()
        try:
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)  # the head and the Ray processes it started
            head.wait()
        shutil.rmtree(temp_dir, ignore_errors=True)


def _read_address(head: subprocess.Popen, timeout_s: float) -> str:
    deadline, seen = time.monotonic() + timeout_s, []
    os.set_blocking(head.stdout.fileno(), False)
    while time.monotonic() < deadline:
        line = head.stdout.readline()
        if line.startswith("ADDRESS "):
            return line.split()[1]
        if line:
            seen.append(line)
        elif head.poll() is not None:
            break
        else:
            time.sleep(0.2)
    raise RuntimeError("the TLS Ray head did not start:\n" + "".join(seen[-40:]))


def _driver(address: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", DRIVER, address], check=False, env=env, capture_output=True,
                          text=True, timeout=timeout_s)


def test_a_driver_with_a_node_certificate_of_the_cluster_ca_runs_tasks(cluster):
    address, ours, _, token = cluster
    env = dict(_base_env(token), **ray_tls_env(ours / "node-1.pem", ours / "node-1.key", ours / "ca.pem"))
    done = _driver(address, env)
    assert "RESULT 42" in done.stdout, done.stdout + done.stderr[-3000:]


def test_drivers_without_a_trusted_certificate_are_refused(cluster):
    address, ours, theirs, token = cluster
    plain = dict(_base_env(token), **IMPATIENT)
    foreign = dict(plain, **ray_tls_env(theirs / "node-0.pem", theirs / "node-0.key", theirs / "ca.pem"))
    # Their own CA, but trusting ours: the cluster must still refuse their certificate.
    forged = dict(plain, **ray_tls_env(theirs / "node-0.pem", theirs / "node-0.key", ours / "ca.pem"))
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda env: _driver(address, env), (plain, foreign, forged)))
    for name, done in zip(("plain text", "another CA", "untrusted certificate"), results, strict=True):
        assert done.returncode != 0 and "RESULT" not in done.stdout, (name, done.stdout, done.stderr[-2000:])
        assert "Failed to connect to GCS" in done.stderr or "GCS" in done.stderr, (name, done.stderr[-2000:])


def test_a_tls_client_without_a_certificate_is_refused(cluster):
    """mTLS at the protocol level: the cluster's CA trusted, the handshake offered, no certificate
    presented; in TLS 1.3 the server's refusal arrives as an alert on the first read."""
    address, ours, _, _ = cluster
    host, port = address.rsplit(":", 1)
    context = ssl.create_default_context(cafile=str(ours / "ca.pem"))
    context.set_alpn_protocols(["h2"])
    with pytest.raises((ssl.SSLError, ConnectionError)) as caught:
        _exchange(context, host, int(port), PREFACE)
    assert "CERTIFICATE_REQUIRED" in str(caught.value).upper() or isinstance(caught.value, ConnectionError), \
        caught.value
    # The same client with a node certificate is let in (the refusal above was about the certificate).
    context.load_cert_chain(ours / "node-1.pem", ours / "node-1.key")
    version, reply = _exchange(context, host, int(port), PREFACE + EMPTY_SETTINGS)
    assert version == "TLSv1.3" and reply  # the server's SETTINGS frame


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"  # HTTP/2's connection preface
EMPTY_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _exchange(context: ssl.SSLContext, host: str, port: int, data: bytes) -> tuple[str, bytes]:
    with socket.create_connection((host, port), timeout=10) as raw, \
            context.wrap_socket(raw, server_hostname=host) as tls:
        tls.sendall(data)
        reply = tls.recv(1024)
        if not reply:
            raise ConnectionResetError("closed without a reply")
        return tls.version(), reply
