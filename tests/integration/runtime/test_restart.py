"""Stopping the whole node (every actor and Ray itself) and starting it again on the same data dir
loses no acknowledged transaction and continues the same chain."""

from __future__ import annotations

import ray

from actors.client import NodeClient
from actors.launcher import start_node
from aurigraph.keystore import load_keypair
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from tests.integration.runtime.conftest import chain_of, wait_until


def test_whole_node_restart_keeps_every_acknowledged_transaction(tmp_path):
    data = DataDir(tmp_path)
    settings = NodeSettings(data_dir=tmp_path, replicas=3, validators=1, shards=1)
    genesis = prepare(data, settings.chain_id, settings.replicas, log=lambda *_: None)
    faucet = load_keypair(data.faucet_key, data.passphrase())

    node = start_node(settings)
    client = NodeClient(node.ingress, genesis.chain_id, faucet)
    client.fund_senders(3)
    client.submit_until_final([client.make(s, client.senders[0].address) for s in client.senders for _ in range(40)])
    before = {i: [b.hash for b in chain_of(i)] for i in (1, 2, 3)}
    node.stop()
    assert not ray.is_initialized()

    node = start_node(settings)
    try:
        wait_until(lambda: all(len(chain_of(i)) >= len(before[i]) for i in (1, 2, 3)), what="replicas reopen")
        for i in (1, 2, 3):
            assert [b.hash for b in chain_of(i)][:len(before[i])] == before[i], "history changed across restart"
            ids = {t.tx_id for b in chain_of(i) for t in b.transactions}
            assert client.acknowledged <= ids
        client.ingress = node.ingress
        client.submit_until_final([client.make(s, client.senders[1].address) for s in client.senders])
        assert max(len(chain_of(i)) for i in (1, 2, 3)) > max(len(v) for v in before.values())
    finally:
        node.stop()
