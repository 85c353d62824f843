"""Consensus benchmark: the core's own cost per entry and per transaction.

A 3-replica HyperRAFT++ cluster runs in one process: `RawNode`s over `MemoryStorage`, messages
handed over in memory (no codec, no crypto, no disk, no network), driven by the loop documented in
`aurigraph.consensus.rawnode`. The leader keeps a window of proposals in flight; an entry counts
once every replica has applied it. Each entry carries one batch: N ~200-byte dummy transactions
concatenated (N = 1, 100, 10,000).

Baselines, same run: a bare "replicated list" in plain Python doing the minimum any replicated log
must do per entry if it sends one message per entry (build the entry, hand one append to each
follower, each appends it and answers, count a majority, apply on every replica); and, as the
absolute floor, appending the entries to three Python lists. `ratio` = core entries/s over
replicated-list entries/s, independent of how fast or loaded the machine is: above 1 the core's
batching (many entries per append, one commit announcement per Ready) more than pays for the full
algorithm (terms, flow control, Ready/advance bookkeeping). Rounds are interleaved and the median
ratio counts.
"""

from __future__ import annotations

import random
import statistics
import time
from collections import deque
from collections.abc import Callable

from aurigraph.consensus import (
    Config,
    ConfState,
    Entry,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
)

TX_BYTES = 200
REPLICAS = (1, 2, 3)


def batch_payload(batch_txs: int) -> bytes:
    """N dummy transactions concatenated; one shared bytes object (the core never copies data)."""
    tx = bytes(range(TX_BYTES % 256)) + b"\x00" * (TX_BYTES - TX_BYTES % 256)
    return tx * batch_txs


class Cluster:
    def __init__(self, window: int) -> None:
        conf = ConfState(REPLICAS)
        config = dict(max_inflight_appends=window, max_entries_per_append=64, max_append_bytes=64 << 20,
                      stake_leader_transfer=False)
        self.storages = {i: MemoryStorage.bootstrap(conf) for i in REPLICAS}
        self.nodes = {i: RawNode(Config(node_id=i, **config), self.storages[i], random.Random(i)) for i in REPLICAS}  # nosec B311  # seeded election timeouts in a benchmark, not security
        self.queue: deque[Message] = deque()
        self.applied = dict.fromkeys(REPLICAS, 0)
        self.nodes[1].campaign()
        self.pump()

    def pump(self) -> None:
        """Persist, send, apply and advance every Ready, then deliver, until quiet."""
        nodes, queue = self.nodes, self.queue
        while True:
            for i, node in nodes.items():
                if node.has_ready():
                    rd = node.ready()
                    storage = self.storages[i]
                    if rd.snapshot is not None:
                        storage.apply_snapshot(rd.snapshot)
                    storage.append(rd.entries)
                    if rd.hard_state is not None:
                        storage.set_hard_state(rd.hard_state)
                    queue.extend(rd.messages)
                    self.applied[i] += sum(1 for e in rd.committed_entries if e.type == EntryType.NORMAL and e.data)
                    node.advance(rd)
            if not queue:
                return
            while queue:
                m = queue.popleft()
                nodes[m.to].step(m)

    def run(self, payload: bytes, entries: int, window: int) -> float:
        leader = self.nodes[1]
        target = {i: self.applied[i] + entries for i in REPLICAS}
        proposed = 0
        started = time.perf_counter()
        while any(self.applied[i] < target[i] for i in REPLICAS):
            in_flight = proposed - (self.applied[1] - (target[1] - entries))
            while proposed < entries and in_flight < window:
                leader.propose(payload)
                proposed += 1
                in_flight += 1
            self.pump()
            self.compact()
        return time.perf_counter() - started

    def compact(self) -> None:
        """Keep memory flat on long runs: snapshot (empty state) and drop applied entries."""
        for i, storage in self.storages.items():
            applied = self.nodes[i].raft.log.applied
            if applied - storage.first_index() > 4096:
                storage.create_snapshot(applied, self.nodes[i].conf_state, b"")
                storage.compact(applied)


def bare_replicated_list(payload: bytes, entries: int) -> float:
    """The floor: entry -> one append per follower -> append + answer -> majority -> apply."""
    logs = {i: [] for i in REPLICAS}
    applied = {i: [] for i in REPLICAS}
    started = time.perf_counter()
    for index in range(1, entries + 1):
        entry = Entry(1, index, EntryType.NORMAL, payload)
        logs[1].append(entry)
        acks = 1
        for follower in (2, 3):
            append = Message(MessageType.APPEND, follower, 1, 1, 1, index - 1, (entry,), index - 1)
            logs[follower].extend(append.entries)
            answer = Message(MessageType.APPEND_RESPONSE, 1, follower, 1, index=index)
            acks += answer.index == index
        if acks >= 2:
            for i in REPLICAS:
                applied[i].append(logs[i][index - 1])
    return time.perf_counter() - started


def bare_list_append(payload: bytes, entries: int) -> float:
    """The absolute floor: build each entry and append it to three lists."""
    logs: tuple[list, list, list] = ([], [], [])
    started = time.perf_counter()
    for index in range(1, entries + 1):
        entry = Entry(1, index, EntryType.NORMAL, payload)
        for log in logs:
            log.append(entry)
    return time.perf_counter() - started


def measure(batch_txs: int, entries: int, rounds: int, window: int) -> dict:
    payload = batch_payload(batch_txs)
    cluster = Cluster(window)
    core, bare, floor, ratios = [], [], [], []
    for _ in range(rounds):
        floor.append(entries / bare_list_append(payload, entries))
        b = entries / bare_replicated_list(payload, entries)
        c = entries / cluster.run(payload, entries, window)
        bare.append(b)
        core.append(c)
        ratios.append(c / b)
    core_rate, bare_rate = statistics.median(core), statistics.median(bare)
    return {
        "batch_txs": batch_txs,
        "entry_bytes": len(payload),
        "entries": entries,
        "core_entries_per_s": round(core_rate, 1),
        "core_txs_per_s": round(core_rate * batch_txs, 1),
        "core_us_per_entry": round(1e6 / core_rate, 2),
        "baseline_entries_per_s": round(bare_rate, 1),
        "baseline_txs_per_s": round(bare_rate * batch_txs, 1),
        "list_append_entries_per_s": round(statistics.median(floor), 1),
        "ratio": round(statistics.median(ratios), 3),
    }


def run(entries: int, rounds: int, window: int, progress: Callable[[str], None],
        batch_sizes: tuple[int, ...] = (1, 100, 10_000)) -> dict:
    results = []
    for batch_txs in batch_sizes:
        progress(f"batch {batch_txs} txs/entry: {entries} entries x {rounds} rounds (baseline, core)…")
        results.append(measure(batch_txs, entries, rounds, window))
    return {"replicas": len(REPLICAS), "window": window, "rounds": rounds, "tx_bytes": TX_BYTES, "batches": results}


def format_table(result: dict) -> str:
    lines = [(f"{'txs/entry':>9} {'entries':>8} {'core entries/s':>15} {'core txs/s':>14} {'us/entry':>9} "
              f"{'baseline entries/s':>19} {'list append/s':>14} {'ratio':>6}")]
    for r in result["batches"]:
        lines.append(
            f"{r['batch_txs']:>9} {r['entries']:>8} {r['core_entries_per_s']:>15.0f} {r['core_txs_per_s']:>14.0f} "
            f"{r['core_us_per_entry']:>9.1f} {r['baseline_entries_per_s']:>19.0f} "
            f"{r['list_append_entries_per_s']:>14.0f} {r['ratio']:>6.3f}"
        )
    return "\n".join(lines)
