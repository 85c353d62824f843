"""`aurigraph bench consensus` runs end to end on a tiny workload and writes its JSON result."""

from __future__ import annotations

import json

from aurigraph.bench import consensus
from aurigraph.cli.main import main


def test_bench_consensus_writes_a_result(tmp_path, capsys) -> None:
    code = main(["bench", "consensus", "--entries", "20", "--rounds", "1", "--out-dir", str(tmp_path), "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert [r["batch_txs"] for r in result["batches"]] == [1, 100, 10_000]
    for r in result["batches"]:
        assert r["core_entries_per_s"] > 0 and r["baseline_entries_per_s"] > 0 and r["ratio"] > 0
        assert r["core_txs_per_s"] == round(r["core_entries_per_s"] * r["batch_txs"], 1) or r["batch_txs"] > 1
    assert list(tmp_path.glob("consensus-*.json"))


def test_every_replica_applies_every_entry() -> None:
    cluster = consensus.Cluster(window=8)
    cluster.run(consensus.batch_payload(3), entries=50, window=8)
    assert cluster.applied == {1: 50, 2: 50, 3: 50}
    assert len(consensus.batch_payload(100)) == 100 * consensus.TX_BYTES
