"""`aurigraph up` and `aurigraph bench node` run as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from aurigraph.bench.stack import endpoints_of
from aurigraph.client import Client
from aurigraph.node.datadir import DataDir

EXE = str(Path(sys.executable).with_name("aurigraph"))
ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)


def test_up_then_bench_attaches_with_the_token_then_restart_continues(tmp_path):
    """The operator's path: `aurigraph up`, a client in another process (sharing the cluster's Ray
    token through the data dir), Ctrl-C (SIGTERM), and a restart that continues the same chain."""
    up = subprocess.Popen([EXE, "up", "--data-dir", str(tmp_path), "--validators", "1", "--shards", "1",
                           "--http-port", "0", "--grpc-port", "0"],
                          cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        while not any("--address" in line for line in lines):
            line = up.stdout.readline()
            assert line, "aurigraph up exited early:\n" + "".join(lines)
            lines.append(line)
        output = "".join(lines)
        assert "node up: chain aurigraph-devnet at height 0, 3 replicas" in output
        # Port 0: the ports the kernel gave, on the printed lines and in endpoints.json, and served.
        endpoints = _endpoints_once_written(DataDir(tmp_path), up.pid)
        assert 0 not in (endpoints["http_port"], endpoints["grpc_port"])
        assert f"REST  http://127.0.0.1:{endpoints['http_port']}/v11" in output
        assert f"gRPC  grpc://127.0.0.1:{endpoints['grpc_port']}" in output
        assert endpoints["rest"] == f"http://127.0.0.1:{endpoints['http_port']}/v11"
        assert httpx.get(f"{endpoints['rest']}/health", timeout=30).status_code == 200
        with Client(endpoints["grpc"]) as node:
            assert node.status().leader_id > 0
        address = re.search(r"--address (\S+)", output).group(1)
        token = tmp_path / "keys" / "ray_auth_token"
        assert token.exists() and oct(token.stat().st_mode & 0o777) == "0o600"
        bench = run("bench", "node", "--address", address, "--data-dir", str(tmp_path), "--txs", "200",
                    "--batch-size", "50", "--concurrency", "2", "--out-dir", str(tmp_path / "results"), "--json")
        assert bench.returncode == 0, bench.stderr[-2000:]
        assert json.loads(bench.stdout)["txs"] == 200
    finally:
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
    assert not (tmp_path / "endpoints.json").exists(), "a stopped node still says where it serves"
    genesis = (tmp_path / "genesis.json").read_text()
    again = run("up", "--data-dir", str(tmp_path), "--validators", "1", "--shards", "1", "--run-for-s", "1",
                "--http-port", "0", "--grpc-port", "0")
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"using {tmp_path / 'genesis.json'}" in again.stdout
    assert (tmp_path / "genesis.json").read_text() == genesis
    height = int(re.search(r"at height (\d+)", again.stdout).group(1))
    assert height >= 2, "the restarted node did not continue the chain it committed before"


def test_up_rejects_bad_settings(tmp_path):
    bad = run("up", "--data-dir", str(tmp_path), "--replicas", "0", timeout=60)
    assert bad.returncode == 2 and "replicas" in bad.stderr and "Traceback" not in bad.stderr


def test_up_refuses_a_port_in_use_before_starting_anything(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as taken:  # something already listens there
        port = taken.getsockname()[1]
        for flag in ("--http-port", "--grpc-port"):
            other = "--grpc-port" if flag == "--http-port" else "--http-port"
            bad = run("up", "--data-dir", str(tmp_path), flag, str(port), other, "0", timeout=120)
            assert bad.returncode == 2 and "Traceback" not in bad.stderr, bad.stderr
            assert f":{port} is not free" in bad.stderr and "starting Ray" not in bad.stdout, (bad.stdout, bad.stderr)


def _endpoints_once_written(data: DataDir, pid: int, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s  # written just after the lines are printed
    while (endpoints := endpoints_of(data, pid)) is None:
        assert time.monotonic() < deadline, f"{data.endpoints} was not written by pid {pid}"
        time.sleep(0.05)
    return endpoints


def test_bench_node_writes_the_documented_result(tmp_path):
    done = run("bench", "node", "--txs", "400", "--batch-size", "100", "--concurrency", "2",
               "--out-dir", str(tmp_path), "--json")
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    for key in ("committed_tps", "bare_verify_tps", "txs", "replicas", "scheme", "batch_size"):
        assert key in result
    assert set(result["finality_ms"]) == {"p50", "p95", "p99"}
    assert result["txs"] == 400 and result["replicas"] == 3 and result["scheme"] == "ed25519"
    assert result["committed_tps"] > 0 and result["bare_verify_tps"] > 0
    assert len(list(tmp_path.glob("node-*.json"))) == 1
