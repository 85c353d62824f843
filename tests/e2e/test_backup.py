"""The operator's backup path: `aurigraph backup --address` of the running stack (the address and
token `aurigraph up` left), `aurigraph backup verify`, `aurigraph restore`, and `aurigraph up` on the
restored data dir, which serves the same blocks and state and keeps committing."""

from __future__ import annotations

import re
import subprocess

from aurigraph.client import Client
from aurigraph.crypto import generate_keypair
from tests.e2e.conftest import EXE, ROOT, start_stack


def aurigraph(*args, timeout: int = 300) -> subprocess.CompletedProcess:
    done = subprocess.run([EXE, *map(str, args)], check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    return done


def test_backup_a_running_node_restore_it_and_run_it(stack, tmp_path):
    address = re.search(r"--address (\S+)", "".join(stack.output)).group(1)
    to = generate_keypair().address
    with Client(stack.url) as c:
        for _ in range(3):
            c.transfer(stack.faucet, to, 5)
        before = c.block()
    done = aurigraph("backup", "--address", address, "--data-dir", stack.data.root, "--dest", tmp_path / "bk")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "the node is checkpointing its databases" in done.stderr
    assert f"written to {tmp_path / 'bk'}" in done.stdout
    again = aurigraph("backup", "--address", address, "--data-dir", stack.data.root, "--dest", tmp_path / "bk")
    assert again.returncode == 2 and "is not an empty folder" in again.stderr

    done = aurigraph("backup", "verify", tmp_path / "bk")
    assert done.returncode == 0 and "all digests match" in done.stdout, done.stderr[-3000:]
    done = aurigraph("restore", "--from", tmp_path / "bk", "--data-dir", tmp_path / "restored")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"aurigraph up --data-dir {tmp_path / 'restored'} --shards 2" in done.stdout

    restored = start_stack(tmp_path / "restored", "--rate-limit", "0")
    try:
        with Client(restored.url) as c:
            height = before.block.header.height
            assert c.block(height).hash == before.hash
            assert c.block(height).block.header.state_digest == before.block.header.state_digest
            assert c.account(to).balance >= 15
            c.transfer(restored.faucet, to, 5)
            assert c.block().block.header.height > height
    finally:
        restored.stop()
