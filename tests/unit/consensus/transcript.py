"""A small interpreter for transcript tests: commands in, the exact resulting Readies out.

A transcript file (`testdata/*.txt`) is a sequence of blocks:

    # free text: comments are kept
    command arg key=value
    ----
    the output the command produced
    <blank line>

`run_transcript` executes the commands and renders the same file with fresh outputs; the test
compares it with the file on disk, and `AURIGRAPH_REWRITE=1` writes it back instead, so any
behaviour change shows up as a readable diff. The cluster is driven exactly as a real driver
would (persist, send, apply, advance), and the simulator's safety `Checker` watches every Ready.

Commands: cluster, campaign, tick, tick-until-ready, propose, process-ready, deliver-msgs, stabilize, partition, heal,
crash, restart, transfer-leader, add-learner, add-voter, remove-node, snapshot, read-index,
set-knobs, status, raft-state, log, confidence.
"""

from __future__ import annotations

import random
import shlex

from aurigraph.consensus import (
    BatchKnobs,
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    ConsensusError,
    Entry,
    EntryType,
    MemoryStorage,
    Message,
    RawNode,
    Ready,
    StateRole,
    decode_conf_change,
)
from tests.unit.consensus.sim import Checker, SimNode, decode_app_state, encode_app_state


def fmt_entry(e: Entry) -> str:
    if e.type == EntryType.CONF_CHANGE:
        cc = decode_conf_change(e.data)
        body = f"conf:{cc.type.name.lower()} {cc.node_id}" + (f" stake={cc.stake}" if cc.stake else "")
    else:
        body = repr(e.data.decode()) if len(e.data) <= 24 else f"<{len(e.data)} bytes>"
    return f"{e.term}/{e.index} {body}"


def fmt_entries(entries) -> str:
    return "[" + ", ".join(fmt_entry(e) for e in entries) + "]"


def fmt_msg(m: Message) -> str:
    parts = [f"{m.from_}->{m.to} {m.type.name} term={m.term}"]
    if m.type.name in ("APPEND", "VOTE", "PRE_VOTE"):
        parts.append(f"log={m.log_term}/{m.index}")
    elif m.index or m.type.name == "APPEND_RESPONSE":
        parts.append(f"index={m.index}")
    if m.commit:
        parts.append(f"commit={m.commit}")
    if m.entries:
        parts.append(f"entries={fmt_entries(m.entries)}")
    if m.reject:
        parts.append(f"REJECT hint={m.reject_hint}/{m.log_term}" if m.type.name == "APPEND_RESPONSE" else "REJECT")
    if m.snapshot is not None:
        meta = m.snapshot.metadata
        parts.append(f"snapshot={meta.term}/{meta.index} voters={list(meta.conf_state.voters)}")
    if m.context:
        parts.append(f"ctx={m.context.decode()}")
    return " ".join(parts)


class TranscriptCluster:
    def __init__(self) -> None:
        self.nodes: dict[int, SimNode] = {}
        self.config: dict[str, object] = {}
        self.queue: list[Message] = []
        self.group_of: dict[int, int] = {}
        self.checker = Checker()

    # --- driving -----------------------------------------------------------------------------
    def start(self, node_id: int) -> None:
        sim = self.nodes[node_id]
        sim.incarnation += 1
        sim.node = RawNode(Config(node_id=node_id, **self.config), sim.storage, random.Random(node_id))
        snapshot = sim.storage.snapshot()
        sim.applied_payloads = decode_app_state(snapshot.data)
        sim.applied_index = snapshot.metadata.index

    def process_ready(self, sim: SimNode, out: list[str]) -> None:
        rd: Ready = sim.node.ready()
        out.append(f"> {sim.id} handling Ready")
        if rd.soft_state is not None:
            out.append(f"  soft: role={rd.soft_state.role.value} lead={rd.soft_state.lead}")
        if rd.hard_state is not None:
            hs = rd.hard_state
            out.append(f"  hard: term={hs.term} vote={hs.vote} commit={hs.commit}")
        if rd.snapshot is not None:
            meta = rd.snapshot.metadata
            out.append(f"  snapshot: {meta.term}/{meta.index} voters={list(meta.conf_state.voters)} "
                       f"learners={list(meta.conf_state.learners)}")
            sim.storage.apply_snapshot(rd.snapshot)
        if rd.entries:
            out.append(f"  entries: {fmt_entries(rd.entries)}")
        sim.storage.append(rd.entries)
        if rd.hard_state is not None:
            sim.storage.set_hard_state(rd.hard_state)
        self.checker.on_persist(sim.id, rd.entries, sim.storage)
        if rd.committed_entries:
            out.append(f"  committed: {fmt_entries(rd.committed_entries)}")
        for m in rd.messages:
            out.append(f"  send {fmt_msg(m)}")
            self.queue.append(m)
        for rs in rd.read_states:
            out.append(f"  read-state: index={rs.index} ctx={rs.request_ctx.decode()}")
        if rd.snapshot is not None:
            sim.applied_payloads = decode_app_state(rd.snapshot.data)
            sim.applied_index = rd.snapshot.metadata.index
        for entry in rd.committed_entries:
            self.checker.on_apply(sim.id, entry, sim.node.raft.term)
            if entry.type == EntryType.CONF_CHANGE:
                conf = sim.node.apply_conf_change(decode_conf_change(entry.data))
                out.append(f"  applied conf: voters={list(conf.voters)} learners={list(conf.learners)}")
            elif entry.data:
                sim.applied_payloads.append(entry.data)
            sim.applied_index = entry.index
        sim.node.advance(rd)
        if sim.node.raft.state == StateRole.LEADER:
            self.checker.on_leader(sim.id, sim.node.raft.term)

    def process_readies(self, ids: list[int], out: list[str]) -> bool:
        busy = [self.nodes[i] for i in ids if self.nodes[i].alive and self.nodes[i].node.has_ready()]
        for sim in busy:
            self.process_ready(sim, out)
        return bool(busy)

    def deliver(self, ids: list[int], out: list[str]) -> bool:
        batch = [m for m in self.queue if m.to in ids]
        self.queue = [m for m in self.queue if m.to not in ids]
        for m in batch:
            target = self.nodes.get(m.to)
            cut = self.group_of.get(m.from_, 0) != self.group_of.get(m.to, 0)
            if target is None or not target.alive or cut:
                out.append(f"  dropped {fmt_msg(m)}")
                continue
            out.append(f"> {m.to} receiving {fmt_msg(m)}")
            target.node.step(m)
            if m.type.name == "SNAPSHOT" and self.nodes[m.from_].alive:
                self.nodes[m.from_].node.report_snapshot(m.to, ok=True)
        return bool(batch)

    def stabilize(self, out: list[str]) -> None:
        ids = sorted(self.nodes)
        for _ in range(100):
            progressed = self.process_readies(ids, out)
            progressed = self.deliver(ids, out) or progressed
            if not progressed:
                return
        raise AssertionError("stabilize did not settle")

    def leader(self) -> SimNode:
        leaders = [s for s in self.nodes.values() if s.alive and s.node.raft.state == StateRole.LEADER]
        if not leaders:
            raise ConsensusError("no leader")
        return max(leaders, key=lambda s: s.node.raft.term)

    def describe(self, sim: SimNode) -> str:
        if not sim.alive:
            return f"{sim.id}: crashed"
        r = sim.node.raft
        return (f"{sim.id}: {r.state.value} term={r.term} lead={r.lead} commit={r.log.committed} "
                f"applied={r.log.applied} last={r.log.last_index()} first={r.log.first_index()} "
                f"voters={list(r.conf_state.voters)} learners={list(r.conf_state.learners)}")

    # --- commands ----------------------------------------------------------------------------
    def run(self, command: str) -> list[str]:
        words = shlex.split(command)
        name, args = words[0], words[1:]
        positional = [a for a in args if "=" not in a]
        options = dict(a.split("=", 1) for a in args if "=" in a)
        out: list[str] = []
        try:
            getattr(self, "cmd_" + name.replace("-", "_"))(positional, options, out)
        except ConsensusError as e:
            out.append(f"error: {type(e).__name__}: {e}")
        return out

    def ids(self, positional: list[str]) -> list[int]:
        return [int(p) for p in positional] or sorted(self.nodes)

    def cmd_cluster(self, pos, opts, out) -> None:
        voters = [int(v) for v in opts.pop("voters").split(",")]
        spares = [int(v) for v in opts.pop("spares", "").split(",") if v]
        stakes = {int(k): int(v) for k, v in (kv.split(":") for kv in opts.pop("stakes", "").split(",") if kv)}
        for key, value in opts.items():
            self.config[key] = value == "true" if value in ("true", "false") else int(value)
        conf = ConfState(tuple(voters), (), (), {v: stakes.get(v, 1) for v in voters})
        for i in voters + spares:
            self.nodes[i] = SimNode(i, MemoryStorage.bootstrap(conf) if i in voters else MemoryStorage())
            self.start(i)
        out.extend(self.describe(s) for s in self.nodes.values())

    def cmd_campaign(self, pos, opts, out) -> None:
        self.nodes[int(pos[0])].node.campaign()

    def cmd_tick(self, pos, opts, out) -> None:
        for _ in range(int(opts.get("n", 1))):
            for i in self.ids(pos):
                if self.nodes[i].alive:
                    self.nodes[i].node.tick()

    def cmd_tick_until_ready(self, pos, opts, out) -> None:
        """Tick the given nodes together until one of them has something to do (e.g. campaigns)."""
        for ticks in range(1, 1001):
            for i in self.ids(pos):
                if self.nodes[i].alive:
                    self.nodes[i].node.tick()
            ready = [i for i in self.ids(pos) if self.nodes[i].alive and self.nodes[i].node.has_ready()]
            if ready:
                out.append(f"after {ticks} ticks: node {', '.join(map(str, ready))} has a Ready")
                return
        raise AssertionError("nothing happened in 1000 ticks")

    def cmd_propose(self, pos, opts, out) -> None:
        index = self.nodes[int(pos[0])].node.propose(pos[1].encode())
        out.append(f"proposed at index {index}")

    def cmd_process_ready(self, pos, opts, out) -> None:
        self.process_readies(self.ids(pos), out)

    def cmd_deliver_msgs(self, pos, opts, out) -> None:
        self.deliver(self.ids(pos), out)

    def cmd_stabilize(self, pos, opts, out) -> None:
        self.stabilize(out)

    def cmd_partition(self, pos, opts, out) -> None:
        side = [int(p) for p in pos]
        self.group_of = {i: (1 if i in side else 0) for i in self.nodes}

    def cmd_heal(self, pos, opts, out) -> None:
        self.group_of = {}

    def cmd_crash(self, pos, opts, out) -> None:
        for i in self.ids(pos):
            self.nodes[i].node = None
            self.queue = [m for m in self.queue if m.to != i]

    def cmd_restart(self, pos, opts, out) -> None:
        for i in self.ids(pos):
            self.start(i)
            out.append(self.describe(self.nodes[i]))

    def cmd_transfer_leader(self, pos, opts, out) -> None:
        self.nodes[int(pos[0])].node.transfer_leader(int(pos[1]))

    def _conf_change(self, kind: ConfChangeType, pos, opts, out) -> None:
        cc = ConfChange(kind, int(pos[0]), int(opts.get("stake", 0)))
        index = self.leader().node.propose_conf_change(cc)
        out.append(f"proposed {kind.name.lower()} {cc.node_id} at index {index}")

    def cmd_add_learner(self, pos, opts, out) -> None:
        self._conf_change(ConfChangeType.ADD_LEARNER, pos, opts, out)

    def cmd_add_voter(self, pos, opts, out) -> None:
        self._conf_change(ConfChangeType.ADD_VOTER, pos, opts, out)

    def cmd_remove_node(self, pos, opts, out) -> None:
        self._conf_change(ConfChangeType.REMOVE_NODE, pos, opts, out)

    def cmd_snapshot(self, pos, opts, out) -> None:
        """Snapshot node's state at its applied index and compact its whole log behind it."""
        sim = self.nodes[int(pos[0])]
        snap = sim.storage.create_snapshot(sim.applied_index, sim.node.conf_state,
                                           encode_app_state(sim.applied_payloads))
        sim.storage.compact(sim.applied_index)
        out.append(f"snapshot at {snap.metadata.term}/{snap.metadata.index}; log now starts at "
                   f"{sim.storage.first_index()}")

    def cmd_read_index(self, pos, opts, out) -> None:
        self.nodes[int(pos[0])].node.read_index(pos[1].encode())

    def cmd_set_knobs(self, pos, opts, out) -> None:
        node = self.nodes[int(pos[0])].node
        current = node.status().knobs
        values = {k: int(opts.get(k, getattr(current, k))) for k in BatchKnobs.__dataclass_fields__}
        node.set_knobs(BatchKnobs(**values))
        out.append(f"knobs: {node.status().knobs}")

    def cmd_status(self, pos, opts, out) -> None:
        st = self.nodes[int(pos[0])].node.status()
        out.append(f"term={st.term} leader={st.leader_id} commit={st.commit_index} applied={st.applied_index}")
        for p in st.replicas:
            out.append(f"  replica {p.node_id}: match={p.match_index} next={p.next_index} lag={p.lag}"
                       f"{' learner' if p.learner else ''}")

    def cmd_raft_state(self, pos, opts, out) -> None:
        out.extend(self.describe(self.nodes[i]) for i in self.ids(pos))

    def cmd_log(self, pos, opts, out) -> None:
        for i in self.ids(pos):
            sim = self.nodes[i]
            first, last = sim.storage.first_index(), sim.storage.last_index()
            out.append(f"{i}: {fmt_entries(sim.storage.entries(first, last + 1, 1 << 62)) if last >= first else '[]'}"
                       f" applied={[p.decode() for p in sim.applied_payloads]}")

    def cmd_confidence(self, pos, opts, out) -> None:
        node = self.nodes[int(pos[0])].node
        index = int(pos[1])
        acked, voters = node.finality(index)
        out.append(f"index {index}: {acked}/{voters} voters hold it, confidence {node.finality_confidence(index):.2f}")


def run_transcript(text: str) -> str:
    """Execute a transcript and return it with every command's output regenerated."""
    cluster = TranscriptCluster()
    rendered: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip() or line.startswith("#"):
            rendered.append(line)
            i += 1
            continue
        rendered.append(line)
        i += 1
        if i < len(lines) and lines[i] == "----":
            i += 1
            while i < len(lines) and lines[i].strip():
                i += 1  # the old output, replaced below
        rendered.append("----")
        rendered.extend(cluster.run(line) or ["ok"])
        rendered.append("")
        while i < len(lines) and not lines[i].strip():
            i += 1
    return "\n".join(rendered).rstrip("\n") + "\n"
