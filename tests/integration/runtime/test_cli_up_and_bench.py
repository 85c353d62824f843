"""`aurigraph up` and `aurigraph bench node` run as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXE = str(Path(sys.executable).with_name("aurigraph"))
ROOT = Path(__file__).resolve().parents[3]


def run(*args: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run([EXE, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def test_up_creates_a_chain_and_a_restart_continues_it(tmp_path):
    args = ["up", "--data-dir", str(tmp_path), "--validators", "1", "--shards", "1", "--run-for-s", "1"]
    first = run(*args)
    assert first.returncode == 0, first.stderr[-2000:]
    assert "node up: chain aurigraph-devnet, 3 replicas" in first.stdout
    genesis = (tmp_path / "genesis.json").read_text()
    assert sorted(p.name for p in (tmp_path / "keys").iterdir()) == [
        "faucet.key", "node-1.key", "node-2.key", "node-3.key", "passphrase"]
    second = run(*args)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"using {tmp_path / 'genesis.json'}" in second.stdout
    assert (tmp_path / "genesis.json").read_text() == genesis


def test_up_rejects_bad_settings(tmp_path):
    bad = run("up", "--data-dir", str(tmp_path), "--replicas", "0", timeout=60)
    assert bad.returncode == 2 and "replicas" in bad.stderr and "Traceback" not in bad.stderr


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
