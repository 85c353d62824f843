"""A deterministic simulator of a HyperRAFT++ cluster, and the safety checks run after every step.

Everything random comes from one `random.Random(seed)`, so a failing seed replays exactly. The
network delays, drops, duplicates and reorders messages and can be partitioned; nodes crash (losing
everything not persisted) and restart from their `MemoryStorage` (hard state, log, snapshot). The
driver loop is the one documented in `aurigraph.consensus.rawnode`: persist, send, apply, advance.

`Checker` verifies after every step: election safety (at most one leader per term), log matching
(an (index, term) pair identifies one entry and one prefix), leader completeness (a new leader holds
every committed entry), state-machine safety (no two replicas apply different entries at an index)
and exactly-once application of every proposal.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from aurigraph.consensus import (
    ConfChange,
    ConfChangeType,
    Config,
    ConfState,
    ConsensusError,
    EntryType,
    MemoryStorage,
    Message,
    MessageType,
    RawNode,
    StateRole,
    decode_conf_change,
)


class SafetyViolation(AssertionError):
    pass


@dataclass(frozen=True)
class Faults:
    drop: float = 0.05
    duplicate: float = 0.03
    max_delay_steps: int = 3
    partition: float = 0.01
    crash: float = 0.005
    snapshot: float = 0.01
    transfer: float = 0.004
    conf_change: float = 0.0


CALM = Faults(drop=0.0, duplicate=0.0, max_delay_steps=1, partition=0.0, crash=0.0, snapshot=0.0, transfer=0.0)


def encode_app_state(payloads: list[bytes]) -> bytes:
    return b"\n".join(payloads)


def decode_app_state(data: bytes) -> list[bytes]:
    return data.split(b"\n") if data else []


@dataclass
class SimNode:
    id: int
    storage: MemoryStorage
    node: RawNode | None = None
    incarnation: int = 0
    applied_payloads: list[bytes] = field(default_factory=list)  # the replicated state machine
    applied_index: int = 0

    @property
    def alive(self) -> bool:
        return self.node is not None


class Checker:
    """Global knowledge accumulated across the run, checked incrementally."""

    def __init__(self) -> None:
        self.leader_of_term: dict[int, int] = {}
        self.entry_at: dict[tuple[int, int], tuple[bytes, int]] = {}  # (index, term) -> (data, prev term)
        self.applied: dict[int, tuple[int, bytes]] = {}  # index -> (term, data) committed and applied
        self.payload_index: dict[bytes, int] = {}
        self.commit_term: dict[int, int] = {}  # index -> term of the leader that committed it
        self.read_floor: dict[bytes, int] = {}  # read context -> highest committed index when asked

    def committed_floor(self) -> int:
        return max(self.applied, default=0)

    def on_read_state(self, node_id: int, index: int, ctx: bytes) -> None:
        """Linearizability of ReadIndex: a read sees every write committed before it was asked."""
        floor = self.read_floor.pop(ctx, None)
        if floor is not None and index < floor:
            self.fail(f"read index: node {node_id} got read {ctx!r} at {index}, but {floor} was committed "
                      "before the read was asked")

    def fail(self, message: str) -> None:
        raise SafetyViolation(message)

    def on_leader(self, node_id: int, term: int) -> None:
        holder = self.leader_of_term.setdefault(term, node_id)
        if holder != node_id:
            self.fail(f"election safety: nodes {holder} and {node_id} both lead term {term}")

    def check_leader_completeness(self, node_id: int, term: int, storage: MemoryStorage) -> None:
        """Raft §5.4: a new leader's log holds every entry committed in an earlier term.

        "Committed in term c" is the term of the leader that committed it, which is the first
        replica to apply it (the simulator handles every Ready at once). A leader of an older term
        that wins late (a delayed vote) need not hold entries committed in newer terms.
        """
        first = storage.first_index()
        for index, (entry_term, _) in self.applied.items():
            if index < first or self.commit_term[index] >= term:
                continue
            if index > storage.last_index() or storage.term(index) != entry_term:
                self.fail(f"leader completeness: leader {node_id} of term {term} lacks committed entry "
                          f"{index} (term {entry_term})")

    def on_persist(self, node_id: int, entries, storage: MemoryStorage) -> None:
        """Log matching (§5.3): one (index, term) pair always names the same entry and prefix."""
        for entry in entries:
            prev_term = storage.term(entry.index - 1)
            key = (entry.index, entry.term)
            seen = self.entry_at.setdefault(key, (entry.data, prev_term))
            if seen != (entry.data, prev_term):
                self.fail(f"log matching: node {node_id} has entry {key} with different data or prefix")

    def on_apply(self, node_id: int, entry, node_term: int) -> None:
        self.commit_term.setdefault(entry.index, node_term)
        seen = self.applied.setdefault(entry.index, (entry.term, entry.data))
        if seen != (entry.term, entry.data):
            self.fail(f"state machine safety: node {node_id} applied {(entry.term, entry.data)!r} at "
                      f"{entry.index}, another applied {seen!r}")
        if entry.type == EntryType.NORMAL and entry.data:
            where = self.payload_index.setdefault(entry.data, entry.index)
            if where != entry.index:
                self.fail(f"exactly once: proposal {entry.data!r} committed at {where} and {entry.index}")


class Cluster:
    def __init__(self, seed: int, voters: int, spares: int = 0, faults: Faults = Faults(),
                 stakes: dict[int, int] | None = None, **config: object) -> None:
        self.seed = seed
        self.rng = random.Random(seed)
        self.faults = faults
        self.config = dict(election_ticks=10, heartbeat_ticks=2, max_inflight_appends=4,
                           max_entries_per_append=8, stake_transfer_cooldown_ticks=40) | config
        founders = list(range(1, voters + 1))
        if stakes is None:
            stakes = {i: self.rng.choice([1, 1, 2, 5]) for i in range(1, voters + spares + 1)}
        self.stakes = stakes
        conf = ConfState(tuple(founders), (), (), {i: stakes[i] for i in founders})
        self.nodes: dict[int, SimNode] = {}
        for i in range(1, voters + spares + 1):
            storage = MemoryStorage.bootstrap(conf) if i in founders else MemoryStorage()
            self.nodes[i] = SimNode(i, storage)
            self.start(i)
        self.removed: set[int] = set()
        self.now = 0
        self.in_flight: list[tuple[int, float, Message]] = []  # (deliver at step, random order, message)
        self.group_of: dict[int, int] = {}  # partition: node -> side; empty = healed
        self.checker = Checker()
        self.next_payload = 0
        self.log: list[str] = []

    # --- lifecycle ---------------------------------------------------------------------------
    def start(self, node_id: int) -> None:
        sim = self.nodes[node_id]
        sim.incarnation += 1
        rng = random.Random(self.seed * 7919 + node_id * 131 + sim.incarnation)
        sim.node = RawNode(Config(node_id=node_id, **self.config), sim.storage, rng)
        snapshot = sim.storage.snapshot()
        sim.applied_payloads = decode_app_state(snapshot.data)
        sim.applied_index = snapshot.metadata.index

    def crash(self, node_id: int) -> None:
        self.nodes[node_id].node = None
        self.record(f"crash {node_id}")

    def restart(self, node_id: int) -> None:
        self.start(node_id)
        self.record(f"restart {node_id}")

    def record(self, event: str) -> None:
        self.log.append(f"{self.now}: {event}")

    def leaders(self) -> list[SimNode]:
        return [s for s in self.nodes.values() if s.alive and s.node.raft.state == StateRole.LEADER]

    def leader(self) -> SimNode | None:
        leaders = sorted(self.leaders(), key=lambda s: -s.node.raft.term)
        return leaders[0] if leaders else None

    # --- the driver loop ---------------------------------------------------------------------
    def process_ready(self, sim: SimNode) -> None:
        node = sim.node
        rd = node.ready()
        if rd.snapshot is not None:
            sim.storage.apply_snapshot(rd.snapshot)
        sim.storage.append(rd.entries)
        if rd.hard_state is not None:
            sim.storage.set_hard_state(rd.hard_state)
        self.checker.on_persist(sim.id, rd.entries, sim.storage)
        if rd.soft_state is not None and rd.soft_state.role == StateRole.LEADER:
            self.checker.check_leader_completeness(sim.id, node.raft.term, sim.storage)
        for m in rd.messages:
            self.send(m)
        for rs in rd.read_states:
            self.checker.on_read_state(sim.id, rs.index, rs.request_ctx)
        if rd.snapshot is not None:
            sim.applied_payloads = decode_app_state(rd.snapshot.data)
            sim.applied_index = rd.snapshot.metadata.index
        for entry in rd.committed_entries:
            self.apply(sim, entry)
        node.advance(rd)

    def apply(self, sim: SimNode, entry) -> None:
        if entry.index != sim.applied_index + 1:
            self.checker.fail(f"node {sim.id} applied {entry.index} after {sim.applied_index}")
        self.checker.on_apply(sim.id, entry, sim.node.raft.term)
        if entry.type == EntryType.CONF_CHANGE:
            cc = decode_conf_change(entry.data)
            sim.node.apply_conf_change(cc)
            if cc.type == ConfChangeType.REMOVE_NODE:
                self.removed.add(cc.node_id)
        elif entry.data:
            if entry.data in sim.applied_payloads:
                self.checker.fail(f"exactly once: node {sim.id} applied {entry.data!r} twice")
            sim.applied_payloads.append(entry.data)
        sim.applied_index = entry.index

    def stabilize_readies(self) -> None:
        for _ in range(50):
            busy = [s for s in self.nodes.values() if s.alive and s.node.has_ready()]
            if not busy:
                return
            for sim in busy:
                self.process_ready(sim)
        self.checker.fail("readies did not settle")

    def check_step(self) -> None:
        for sim in self.nodes.values():
            if sim.alive and sim.node.raft.state == StateRole.LEADER:
                self.checker.on_leader(sim.id, sim.node.raft.term)

    # --- network -----------------------------------------------------------------------------
    def send(self, m: Message) -> None:
        if self.rng.random() < self.faults.drop:
            self.on_lost(m)
            return
        copies = 2 if self.rng.random() < self.faults.duplicate else 1
        for _ in range(copies):
            at = self.now + 1 + self.rng.randrange(self.faults.max_delay_steps)
            self.in_flight.append((at, self.rng.random(), m))

    def on_lost(self, m: Message) -> None:
        # The transport learns that a snapshot stream failed; other messages vanish silently.
        if m.type == MessageType.SNAPSHOT and self.nodes[m.from_].alive:
            self.nodes[m.from_].node.report_snapshot(m.to, ok=False)

    def connected(self, a: int, b: int) -> bool:
        return self.group_of.get(a, 0) == self.group_of.get(b, 0)

    def deliver_due(self) -> None:
        due = [f for f in self.in_flight if f[0] <= self.now]
        self.in_flight = [f for f in self.in_flight if f[0] > self.now]
        due.sort(key=lambda f: f[1])  # random order among the due: reordering
        for _, _, m in due:
            target = self.nodes.get(m.to)
            if target is None or not target.alive or not self.connected(m.from_, m.to):
                self.on_lost(m)
                continue
            target.node.step(m)
            if m.type == MessageType.SNAPSHOT and self.nodes[m.from_].alive:
                self.nodes[m.from_].node.report_snapshot(m.to, ok=True)

    # --- actions -----------------------------------------------------------------------------
    def propose(self, any_leader: bool = False) -> bytes | None:
        """Propose on the newest leader, or (`any_leader`) on any node that believes it leads, such
        as a deposed leader cut off in a minority whose entries must later be overwritten."""
        leaders = self.leaders()
        if not leaders:
            return None
        leader = self.rng.choice(leaders) if any_leader else self.leader()
        payload = f"s{self.seed}-p{self.next_payload}".encode()
        try:
            leader.node.propose(payload)
        except ConsensusError:
            return None
        self.next_payload += 1
        return payload

    def read(self) -> None:
        alive = [s for s in self.nodes.values() if s.alive]
        sim = self.rng.choice(alive)
        ctx = f"r{self.now}-{sim.id}".encode()
        try:
            sim.node.read_index(ctx)
        except ConsensusError:
            return
        self.checker.read_floor[ctx] = self.checker.committed_floor()

    def take_snapshot(self, node_id: int) -> None:
        sim = self.nodes[node_id]
        if not sim.alive or sim.applied_index <= sim.storage.snapshot().metadata.index:
            return
        sim.storage.create_snapshot(sim.applied_index, sim.node.conf_state, encode_app_state(sim.applied_payloads))
        keep = self.rng.randrange(4)  # sometimes keep a few entries behind the snapshot
        if sim.applied_index - keep > sim.storage.first_index() - 1:
            sim.storage.compact(sim.applied_index - keep)
        self.record(f"snapshot {node_id} at {sim.applied_index}")

    def random_partition(self) -> None:
        ids = list(self.nodes)
        self.rng.shuffle(ids)
        cut = self.rng.randrange(1, len(ids))
        leader = self.leader()
        if leader is not None and self.rng.random() < 0.5:
            # Isolate the leader: the fault that most often leaves divergent uncommitted tails.
            ids.remove(leader.id)
            ids.insert(0, leader.id)
            cut = 1
        self.group_of = {i: (1 if k < cut else 0) for k, i in enumerate(ids)}
        self.record(f"partition {sorted(ids[:cut])} | {sorted(ids[cut:])}")

    def heal(self) -> None:
        self.group_of = {}
        self.record("heal")

    def random_conf_change(self) -> None:
        leader = self.leader()
        if leader is None:
            return
        conf = leader.node.conf_state
        outsiders = [i for i in self.nodes if not conf.is_member(i) and i not in self.removed]
        choices = [ConfChange(ConfChangeType.ADD_LEARNER, i, self.stakes[i]) for i in outsiders]
        choices += [ConfChange(ConfChangeType.ADD_VOTER, i, self.stakes[i]) for i in conf.learners]
        if len(conf.voters) > 3:
            choices += [ConfChange(ConfChangeType.REMOVE_NODE, i) for i in conf.voters]
        if not choices:
            return
        cc = self.rng.choice(choices)
        try:
            leader.node.propose_conf_change(cc)
            self.record(f"propose {cc.type.name} {cc.node_id}")
        except ConsensusError:
            pass

    def chaos_step(self) -> None:
        f, r = self.faults, self.rng.random
        alive = [i for i, s in self.nodes.items() if s.alive]
        dead = [i for i, s in self.nodes.items() if not s.alive]
        roll = r()
        if roll < 0.55:
            for i in alive:
                self.nodes[i].node.tick()
        elif roll < 0.75:
            self.propose(any_leader=True)
        elif r() < f.partition * 10:
            self.heal() if self.group_of else self.random_partition()
        elif r() < f.crash * 10 and len(dead) < len(self.nodes) // 2:
            leader = self.leader()
            self.crash(leader.id if leader is not None and r() < 0.5 else self.rng.choice(alive))
        elif dead and r() < 0.3:
            self.restart(self.rng.choice(dead))
        elif r() < f.snapshot * 10:
            self.take_snapshot(self.rng.choice(alive))
        elif r() < f.transfer * 10 and (leader := self.leader()) is not None:
            target = self.rng.choice(list(leader.node.conf_state.voters))
            leader.node.transfer_leader(target)
            self.record(f"transfer {leader.id} -> {target}")
        elif r() < f.conf_change * 10:
            self.random_conf_change()
        elif r() < 0.2:
            self.read()
        self.advance_step()

    def advance_step(self) -> None:
        self.stabilize_readies()
        self.now += 1
        self.deliver_due()
        self.stabilize_readies()
        self.check_step()

    def calm_step(self) -> None:
        for sim in self.nodes.values():
            if sim.alive:
                sim.node.tick()
        self.advance_step()

    # --- phases ------------------------------------------------------------------------------
    def run_chaos(self, steps: int) -> None:
        for _ in range(steps):
            self.chaos_step()

    def heal_all(self) -> None:
        self.faults = CALM
        self.heal()
        for i, sim in self.nodes.items():
            if not sim.alive:
                self.restart(i)

    def run_until_committed(self, extra: int, max_steps: int) -> list[bytes]:
        """Liveness after healing: a leader emerges and proposals commit on every member.

        A proposal may be lost when leadership moves (a stake hand-over can happen even now), as in
        any Raft; a driver proposes anew. So: keep proposing until `extra` proposals are applied on
        every member with identical states, and require that every proposal made in the final
        leader's term is among them.
        """
        wanted: list[tuple[bytes, int]] = []
        for step in range(max_steps):
            leader = self.leader()
            if leader is not None and step % 3 == 0 and len(wanted) < extra * 4:
                payload = self.propose()
                if payload is not None:
                    wanted.append((payload, leader.node.raft.term))
            self.calm_step()
            done = [p for p, _ in wanted if self.applied_everywhere(p)]
            leader = self.leader()
            if len(done) >= extra and leader is not None and self.states_equal():
                term = leader.node.raft.term
                if all(self.applied_everywhere(p) for p, t in wanted if t == term):
                    return done
        raise SafetyViolation(f"liveness: {len(wanted)} proposals, not {extra} applied on every member "
                              f"after {max_steps} calm steps; leaders: {[s.id for s in self.leaders()]}")

    def applied_everywhere(self, payload: bytes) -> bool:
        return all(payload in self.nodes[i].applied_payloads for i in self.current_members())

    def states_equal(self) -> bool:
        states = [self.nodes[i].applied_payloads for i in self.current_members()]
        return all(state == states[0] for state in states)

    def current_members(self) -> list[int]:
        leader = self.leader()
        conf = leader.node.conf_state if leader else self.nodes[1].node.conf_state
        return [*conf.voters, *conf.learners]


def run_seed(seed: int, voters: int, chaos_steps: int, faults: Faults = Faults(), spares: int = 0,
             **config: object) -> Cluster:
    """One full simulation: chaos, then heal and check liveness. Raises `SafetyViolation`."""
    cluster = Cluster(seed, voters, spares=spares, faults=faults, **config)
    try:
        cluster.run_chaos(chaos_steps)
        cluster.heal_all()
        cluster.run_until_committed(extra=3, max_steps=600)
    except SafetyViolation as e:
        raise SafetyViolation(f"seed {seed} ({voters} voters): {e}\nlast events: {cluster.log[-12:]}") from None
    return cluster
