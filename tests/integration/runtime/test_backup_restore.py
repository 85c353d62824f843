"""Online backup of a running node (under load), restored into a fresh data dir: the restored node
has the same blocks at every backed-up height and the same state digest, and keeps committing.
(The operator's path through `aurigraph up` and the CLI: tests/e2e/test_backup.py.)"""

from __future__ import annotations

import threading
import time

import ray

from actors.client import NodeClient
from actors.launcher import start_node
from aurigraph.keystore import load_keypair
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from aurigraph.storage.backup import restore, verify_backup
from aurigraph.v1 import block_pb2
from tests.integration.runtime.conftest import chain_of, replica, wait_until

IDS = (1, 2, 3)


def test_online_backup_restores_the_same_chain_and_state(tmp_path):
    data = DataDir(tmp_path / "node")
    settings = NodeSettings(data_dir=data.root, replicas=3, validators=1, shards=2)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    faucet = load_keypair(data.faucet_key, data.passphrase())

    node = start_node(settings)
    try:
        client = NodeClient(node.ingress, genesis.chain_id, faucet)
        client.fund_senders(3)
        client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(20)])
        stop = threading.Event()

        def load():  # blocks keep committing while the node backs itself up
            while not stop.is_set():
                client.submit_until_final([client.make(s, client.senders[1].address) for s in client.senders])

        loader = threading.Thread(target=load)
        loader.start()
        try:
            wait_until(lambda: max(ray.get(replica(i).health.remote())["height"] for i in IDS) >= 5,
                       what="blocks committing under load")
            started = time.monotonic()
            summary = ray.get(node.supervisor.backup.remote(str(tmp_path / "backup")))
            took_s = time.monotonic() - started
            top = max(summary["databases"][f"replica-{i}/ledger"]["head_height"] for i in IDS)
            wait_until(lambda: max(ray.get(replica(i).health.remote())["height"] for i in IDS) > top,
                       what="blocks committed after the backup")
        finally:
            stop.set()
            loader.join()
        original = {i: chain_of(i) for i in IDS}
    finally:
        node.stop()
    print(f"online backup: {summary['files']} files, {summary['bytes']} bytes in {took_s:.2f} s")

    backed = {i: summary["databases"][f"replica-{i}/ledger"] for i in IDS}
    longest = max(original.values(), key=len)
    assert top >= 4 and len(longest) > top
    for i in IDS:
        block = longest[backed[i]["head_height"] - 1]
        assert block.hash.hex() == backed[i]["head_hash"]
        assert block.header.state_digest.hex() == backed[i]["state_digest"]
    for index in range(2):
        archived = summary["databases"][f"shard-{index}/archive"]
        assert archived["latest_height"] <= top
        if archived["latest_height"] > 0:
            assert longest[archived["latest_height"] - 1].hash.hex() == archived["latest_hash"]

    verify_backup(tmp_path / "backup")
    restored = DataDir(tmp_path / "restored")
    restore(tmp_path / "backup", restored.root)
    node = start_node(settings.model_copy(update={"data_dir": restored.root}))
    try:
        wait_until(lambda: all(ray.get(replica(i).health.remote())["height"] >= backed[i]["head_height"] for i in IDS),
                   what="restored replicas reopen at their backed-up heads")
        for i in IDS:
            chain = chain_of(i)
            assert [b.hash for b in chain[:top]] == [b.hash for b in longest[:len(chain[:top])]], f"replica {i}"
            assert chain[backed[i]["head_height"] - 1].header.state_digest.hex() == backed[i]["state_digest"]
        leader = ray.get(node.supervisor.wait_for_leader.remote())
        account = block_pb2.Account.FromString(ray.get(replica(leader).get_account.remote(faucet.address)))
        fresh = NodeClient(node.ingress, genesis.chain_id, faucet)
        fresh.next_nonce[faucet.address] = account.nonce
        fresh.fund_senders(2)
        fresh.submit_until_final([fresh.make(s, fresh.senders[0].address) for s in fresh.senders for _ in range(5)])
        wait_until(lambda: all(len(chain_of(i)) > top for i in IDS), what="the restored node commits new blocks")
        head = chain_of(leader)
        assert [b.hash for b in head[:top]] == [b.hash for b in longest[:top]]
    finally:
        node.stop()
