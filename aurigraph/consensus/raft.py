"""HyperRAFT++: the Raft state machine of one replica (Ongaro & Ousterhout), pure and deterministic.

`Raft` holds the algorithm; `RawNode` (rawnode.py) is the API a driver uses. Nothing here does I/O:
outgoing messages pile up in `msgs`, entries to persist in the log's unstable tail, and the driver
collects them through a `Ready`. Time advances only by `tick()`; the randomized election timeout
draws from the `random.Random` injected into the constructor.

Beyond the paper: pre-vote (§9.6 of the dissertation) and check-quorum with a leader lease, so a
partitioned replica cannot disrupt a healthy leader when it rejoins; leader transfer (TimeoutNow,
§3.10); ReadIndex (§6.4); single-node membership changes (see confchange.py); and stake-weighted
leadership (the rules are documented in stake.py).
"""

from __future__ import annotations

import enum
import random

from aurigraph.consensus.confchange import (
    apply_to_conf_state,
    check_conf_change,
    check_promotion,
    decode_conf_change,
)
from aurigraph.consensus.config import Config
from aurigraph.consensus.errors import Compacted, ConfChangeRejected, NotLeader, ProposalDropped
from aurigraph.consensus.log import RaftLog
from aurigraph.consensus.quorum import VoteResult
from aurigraph.consensus.read_only import ReadOnly, ReadState
from aurigraph.consensus.stake import election_timeout_ticks, transfer_target
from aurigraph.consensus.storage import Storage
from aurigraph.consensus.tracker import ProgressState, ProgressTracker
from aurigraph.consensus.types import (
    ConfChange,
    ConfState,
    Entry,
    EntryType,
    HardState,
    Message,
    Snapshot,
)
from aurigraph.consensus.types import MessageType as MT

NONE = 0
# The context of vote requests sent on a leader's TimeoutNow: voters grant them despite the lease.
CAMPAIGN_TRANSFER = b"campaign-transfer"


class StateRole(enum.Enum):
    FOLLOWER = "follower"
    PRE_CANDIDATE = "pre-candidate"
    CANDIDATE = "candidate"
    LEADER = "leader"


class Raft:
    """One replica's consensus state. Single-threaded; every method runs to completion.

    Durable state is `term`, `vote` and the log's commit index (the `HardState`) plus the log: the
    driver persists them from each `Ready` before sending its messages, so any vote or append
    acknowledgement that leaves this replica survives a crash. Everything else (role, leader,
    progress of followers, pending reads, timers) is volatile and rebuilt after a restart.
    """

    def __init__(self, config: Config, storage: Storage, rng: random.Random) -> None:
        self.id = config.node_id
        self.config = config
        self.rng = rng
        self.log = RaftLog(storage, config.applied_index)
        hard_state, conf_state = storage.initial_state()
        self.tracker = ProgressTracker(conf_state, config.max_inflight_appends)
        self.term, self.vote = hard_state.term, hard_state.vote
        self.lead = NONE
        self.state = StateRole.FOLLOWER
        self.msgs: list[Message] = []
        self.read_states: list[ReadState] = []
        self.read_only = ReadOnly()
        self.pending_read_index: list[Message] = []  # reads held until an entry of this term commits
        self.election_elapsed_ticks = 0
        self.heartbeat_elapsed_ticks = 0
        self.randomized_election_ticks = 0
        self.lead_transferee = NONE
        self.pending_conf_index = 0
        self.stake_cooldown_ticks = 0
        self.can_lead = True  # False: a voter that must not lead (its owner cannot sign blocks)
        # Owed to followers at the next Ready (see flush_appends): new entries, a newer commit index.
        self.entries_to_send = False
        self.commit_to_announce = False
        self.become_follower(self.term, NONE)

    # --- small queries -----------------------------------------------------------------------
    @property
    def conf_state(self) -> ConfState:
        return self.tracker.conf_state

    def hard_state(self) -> HardState:
        return HardState(self.term, self.vote, self.log.committed)

    def promotable(self) -> bool:
        return self.id in self.tracker.voters and self.can_lead

    def committed_entry_in_current_term(self) -> bool:
        return self.log.term_or_zero(self.log.committed) == self.term

    def in_lease(self) -> bool:
        recent = self.election_elapsed_ticks < self.config.election_ticks
        return self.config.check_quorum and self.lead != NONE and recent

    def send(self, type_: MT, to: int, **fields: object) -> None:
        fields.setdefault("term", self.term)
        self.msgs.append(Message(type_, to, self.id, **fields))

    # --- roles -------------------------------------------------------------------------------
    def reset(self, term: int) -> None:
        if term != self.term:
            self.term, self.vote = term, NONE
        self.lead = NONE
        self.election_elapsed_ticks = self.heartbeat_elapsed_ticks = 0
        self.reset_randomized_election_timeout()
        self.lead_transferee = NONE
        self.tracker.reset_votes()
        self.tracker.reset_progress(self.log.last_index(), self.id)
        self.pending_conf_index = 0
        self.read_only.reset()
        self.pending_read_index.clear()

    def reset_randomized_election_timeout(self) -> None:
        self.randomized_election_ticks = election_timeout_ticks(
            self.conf_state, self.id, self.config.election_ticks, self.rng)

    def become_follower(self, term: int, lead: int) -> None:
        self.reset(term)
        self.lead = lead
        self.state = StateRole.FOLLOWER

    def become_pre_candidate(self) -> None:
        # Pre-vote changes neither term nor vote: a replica that cannot win disturbs no one.
        self.state = StateRole.PRE_CANDIDATE
        self.tracker.reset_votes()
        self.lead = NONE

    def become_candidate(self) -> None:
        self.reset(self.term + 1)
        self.vote = self.id
        self.state = StateRole.CANDIDATE

    def become_leader(self) -> None:
        self.reset(self.term)
        self.lead = self.id
        self.state = StateRole.LEADER
        self.tracker.progress[self.id].become_replicate()
        # Raft §5.4.2 / §8: commit an entry of the new term at once, which also commits what
        # earlier leaders left uncommitted and lets reads and conf changes proceed.
        self.log.append([Entry(self.term, self.log.last_index() + 1)])
        # A conf change may only be proposed once this no-op is applied (single-server change rule).
        self.pending_conf_index = self.log.last_index()
        self.stake_cooldown_ticks = self.config.stake_transfer_cooldown_ticks

    # --- ticks -------------------------------------------------------------------------------
    def tick(self) -> None:
        if self.state == StateRole.LEADER:
            self.tick_heartbeat()
        else:
            self.tick_election()

    def ticks_until_due(self) -> int:
        """Ticks until `tick` would do more than count (a heartbeat, a check-quorum round, an
        election, the end of a lease), at least 1: a driver may sleep through the ticks before it
        and then tick them all at once, with the same outcome as ticking each in turn."""
        if self.state == StateRole.LEADER:
            due = min(self.config.heartbeat_ticks - self.heartbeat_elapsed_ticks,
                      self.config.election_ticks - self.election_elapsed_ticks)
        elif self.promotable():
            due = self.randomized_election_ticks - self.election_elapsed_ticks
        elif self.election_elapsed_ticks < self.config.election_ticks:
            due = self.config.election_ticks - self.election_elapsed_ticks  # the lease `in_lease` reads ends
        else:
            due = self.config.election_ticks  # nothing will happen: only the count goes on
        return max(1, due)

    def tick_election(self) -> None:
        self.election_elapsed_ticks += 1
        if self.promotable() and self.election_elapsed_ticks >= self.randomized_election_ticks:
            self.election_elapsed_ticks = 0
            self.campaign(transfer=False)

    def tick_heartbeat(self) -> None:
        self.heartbeat_elapsed_ticks += 1
        self.election_elapsed_ticks += 1
        self.stake_cooldown_ticks = max(0, self.stake_cooldown_ticks - 1)
        if self.election_elapsed_ticks >= self.config.election_ticks:
            self.election_elapsed_ticks = 0
            if self.config.check_quorum and not self.check_quorum_active():
                self.become_follower(self.term, NONE)
                return
            if self.lead_transferee != NONE:
                self.abort_leader_transfer(cool_down=True)
        if self.heartbeat_elapsed_ticks >= self.config.heartbeat_ticks:
            self.heartbeat_elapsed_ticks = 0
            self.bcast_heartbeat()
            self.maybe_transfer_to_higher_stake()

    def check_quorum_active(self) -> bool:
        """Check-quorum: did a quorum of voters talk to us during the last election timeout?"""
        self.tracker.progress[self.id].recent_active = True
        active = self.tracker.quorum_active()
        for node_id, pr in self.tracker.progress.items():
            pr.recent_active = node_id == self.id
        return active

    # --- elections ---------------------------------------------------------------------------
    def campaign(self, transfer: bool) -> None:
        """Start an election; `transfer` (on TimeoutNow) skips pre-vote and overrides the lease."""
        # The membership a replica campaigns under must be its latest committed one.
        if self.state == StateRole.LEADER or not self.promotable() or self.log.has_unapplied_conf_change():
            return
        if self.config.pre_vote and not transfer:
            self.become_pre_candidate()
            self.request_votes(MT.PRE_VOTE, self.term + 1, b"")
        else:
            self.become_candidate()
            self.request_votes(MT.VOTE, self.term, CAMPAIGN_TRANSFER if transfer else b"")

    def request_votes(self, vote_type: MT, vote_term: int, context: bytes) -> None:
        self.tracker.record_vote(self.id, True)
        if self.tracker.vote_result() == VoteResult.WON:
            self.on_election_won()
            return
        for voter in self.tracker.voters:
            if voter != self.id:
                self.send(vote_type, voter, term=vote_term, index=self.log.last_index(),
                          log_term=self.log.last_term(), context=context)

    def on_election_won(self) -> None:
        if self.state == StateRole.PRE_CANDIDATE:
            self.become_candidate()
            self.request_votes(MT.VOTE, self.term, b"")
        else:
            self.become_leader()
            self.bcast_append()

    def handle_vote_request(self, m: Message) -> None:
        """Raft §5.2/§5.4.1: one vote per term, only for a candidate whose log is up to date."""
        response = MT.VOTE_RESPONSE if m.type == MT.VOTE else MT.PRE_VOTE_RESPONSE
        can_vote = (self.vote == m.from_
                    or (self.vote == NONE and self.lead == NONE)
                    or (m.type == MT.PRE_VOTE and m.term > self.term))
        if can_vote and self.log.is_up_to_date(m.index, m.log_term):
            self.send(response, m.from_, term=m.term)
            if m.type == MT.VOTE:
                self.election_elapsed_ticks = 0
                self.vote = m.from_
        else:
            self.send(response, m.from_, reject=True)

    def handle_vote_response(self, m: Message) -> None:
        expected = MT.PRE_VOTE_RESPONSE if self.state == StateRole.PRE_CANDIDATE else MT.VOTE_RESPONSE
        if m.type != expected:
            return
        self.tracker.record_vote(m.from_, not m.reject)
        result = self.tracker.vote_result()
        if result == VoteResult.WON:
            self.on_election_won()
        elif result == VoteResult.LOST:
            self.become_follower(self.term, NONE)

    # --- stepping ----------------------------------------------------------------------------
    def step(self, m: Message) -> None:
        """Handle one message from another replica (Raft §5.1: terms order everything)."""
        if m.term > self.term:
            if m.type in (MT.VOTE, MT.PRE_VOTE) and m.context != CAMPAIGN_TRANSFER and self.in_lease():
                return  # check-quorum lease: we heard from a live leader recently; ignore the disrupter
            if m.type == MT.PRE_VOTE or (m.type == MT.PRE_VOTE_RESPONSE and not m.reject):
                pass  # pre-vote terms are hypothetical; granted ones are counted below
            elif m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT):
                self.become_follower(m.term, m.from_)
            else:
                elapsed = self.election_elapsed_ticks
                self.become_follower(m.term, NONE)
                if m.type == MT.VOTE:
                    # Raft Figure 2: only the leader or a *granted* vote resets the election timer.
                    # Otherwise a stale candidate (e.g. a high-stake one, which times out first)
                    # could keep resetting an up-to-date replica and starve every election.
                    self.election_elapsed_ticks = elapsed
        elif m.term < self.term:
            self.step_stale(m)
            return
        if m.type in (MT.VOTE, MT.PRE_VOTE):
            self.handle_vote_request(m)
        elif self.state == StateRole.LEADER:
            self.step_leader(m)
        elif self.state == StateRole.FOLLOWER:
            self.step_follower(m)
        else:
            self.step_candidate(m)

    def step_stale(self, m: Message) -> None:
        if m.type in (MT.APPEND, MT.HEARTBEAT) and (self.config.check_quorum or self.config.pre_vote):
            # A leader cut off by a partition may never hear a higher term otherwise (its peers
            # ignore its stale messages), so tell it ours and let it step down.
            self.send(MT.APPEND_RESPONSE, m.from_)
        elif m.type == MT.PRE_VOTE:
            self.send(MT.PRE_VOTE_RESPONSE, m.from_, reject=True)

    def step_follower(self, m: Message) -> None:
        if m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT):
            self.election_elapsed_ticks = 0
            self.lead = m.from_
            self.handle_leader_message(m)
        elif m.type == MT.TIMEOUT_NOW:
            self.campaign(transfer=True)
        elif m.type == MT.READ_INDEX_RESPONSE:
            self.read_states.append(ReadState(m.index, m.context))
        # READ_INDEX / TRANSFER_LEADER sent to a former leader are dropped: the requester retries.

    def step_candidate(self, m: Message) -> None:
        if m.type in (MT.APPEND, MT.HEARTBEAT, MT.SNAPSHOT):
            # Raft §5.2: a leader of our term exists; give up.
            self.become_follower(m.term, m.from_)
            self.handle_leader_message(m)
        elif m.type in (MT.VOTE_RESPONSE, MT.PRE_VOTE_RESPONSE):
            self.handle_vote_response(m)

    def handle_leader_message(self, m: Message) -> None:
        if m.type == MT.APPEND:
            self.handle_append(m)
        elif m.type == MT.HEARTBEAT:
            self.handle_heartbeat(m)
        else:
            self.handle_snapshot(m)

    # --- follower side of replication --------------------------------------------------------
    def handle_append(self, m: Message) -> None:
        if m.index < self.log.committed:
            self.send(MT.APPEND_RESPONSE, m.from_, index=self.log.committed)
            return
        last_new = self.log.maybe_append(m.index, m.log_term, m.commit, m.entries)
        if last_new is not None:
            self.send(MT.APPEND_RESPONSE, m.from_, index=last_new)
            return
        # Raft §5.3 with the fast back-off of etcd: tell the leader the last index whose term is
        # at most the term it probed with, so it skips a whole conflicting term per round trip.
        hint_index, hint_term = self.log.find_conflict_by_term(min(m.index, self.log.last_index()), m.log_term)
        self.send(MT.APPEND_RESPONSE, m.from_, index=m.index, reject=True, reject_hint=hint_index,
                  log_term=hint_term)

    def handle_heartbeat(self, m: Message) -> None:
        self.log.commit_to(m.commit)
        self.send(MT.HEARTBEAT_RESPONSE, m.from_, context=m.context)

    def handle_snapshot(self, m: Message) -> None:
        if m.snapshot is not None and self.restore(m.snapshot):
            self.send(MT.APPEND_RESPONSE, m.from_, index=self.log.last_index())
        else:
            self.send(MT.APPEND_RESPONSE, m.from_, index=self.log.committed)

    def restore(self, snapshot: Snapshot) -> bool:
        """Install a leader's snapshot unless we already have (and committed) what it covers."""
        meta = snapshot.metadata
        if meta.index <= self.log.committed:
            return False
        if self.log.match_term(meta.index, meta.term):
            self.log.commit_to(meta.index)  # our log already has it; just learn it is committed
            return False
        self.log.restore(snapshot)
        self.tracker.apply_conf_state(meta.conf_state, self.log.last_index() + 1)
        return True

    # --- leader side of replication ----------------------------------------------------------
    def step_leader(self, m: Message) -> None:
        pr = self.tracker.progress.get(m.from_)
        if m.type == MT.TRANSFER_LEADER:
            self.handle_transfer_leader(m.from_)
        elif m.type == MT.READ_INDEX:
            self.handle_read_index(m)
        elif pr is None:
            return  # from a replica no longer in the membership
        elif m.type == MT.APPEND_RESPONSE:
            self.handle_append_response(m)
        elif m.type == MT.HEARTBEAT_RESPONSE:
            self.handle_heartbeat_response(m)

    def send_append(self, to: int, send_if_empty: bool = True) -> bool:
        """Send `to` the entries it lacks (or a snapshot if they are compacted); False if paused."""
        pr = self.tracker.progress[to]
        if pr.is_paused():
            return False
        last = self.log.last_index()
        try:
            prev_term = self.log.term(pr.next - 1)
            entries = self.log.slice(pr.next, min(last + 1, pr.next + self.config.max_entries_per_append),
                                     self.config.max_append_bytes)
        except Compacted:
            return self.send_snapshot(to)
        if not entries and not send_if_empty:
            return False
        self.send(MT.APPEND, to, index=pr.next - 1, log_term=prev_term, entries=tuple(entries),
                  commit=self.log.committed)
        pr.sent_entries(entries[-1].index if entries else pr.next - 1, len(entries))
        return True

    def send_snapshot(self, to: int) -> bool:
        snapshot = self.log.snapshot()
        self.send(MT.SNAPSHOT, to, snapshot=snapshot)
        self.tracker.progress[to].become_snapshot(snapshot.metadata.index)
        return True

    def bcast_append(self) -> None:
        for node_id in self.tracker.progress:
            if node_id != self.id:
                self.send_append(node_id)

    def bcast_heartbeat(self, context: bytes | None = None) -> None:
        context = self.read_only.last_pending_ctx() if context is None else context
        for node_id, pr in self.tracker.progress.items():
            if node_id != self.id:
                # Never tell a follower to commit past what it is known to hold.
                self.send(MT.HEARTBEAT, node_id, commit=min(pr.match, self.log.committed), context=context)

    def maybe_commit(self) -> bool:
        """Raft §5.4.2: commit the quorum's index only if that entry is of the current term."""
        if not self.log.maybe_commit(self.tracker.committed(), self.term):
            return False
        if self.pending_read_index and self.committed_entry_in_current_term():
            held, self.pending_read_index = self.pending_read_index, []
            for m in held:
                self.handle_read_index(m)
        return True

    def handle_append_response(self, m: Message) -> None:
        pr = self.tracker.progress[m.from_]
        pr.recent_active = True
        if m.reject:
            next_probe = m.reject_hint
            if m.log_term > 0:
                next_probe, _ = self.log.find_conflict_by_term(m.reject_hint, m.log_term)
            if pr.maybe_decrease_to(m.index, next_probe):
                if pr.state == ProgressState.REPLICATE:
                    pr.become_probe()
                self.send_append(m.from_)
            return
        was_paused = pr.is_paused()
        if not pr.maybe_update(m.index):
            return
        if pr.state == ProgressState.PROBE:
            pr.become_replicate()
        elif pr.state == ProgressState.SNAPSHOT and pr.match >= pr.pending_snapshot:
            pr.become_probe()
            pr.become_replicate()
        elif pr.state == ProgressState.REPLICATE:
            pr.inflights.free_le(m.index)
        if self.maybe_commit():
            self.commit_to_announce = True
        elif was_paused:
            self.send_append(m.from_)
        while self.send_append(m.from_, send_if_empty=False):
            pass  # fill the pipeline window
        if m.from_ == self.lead_transferee and pr.match == self.log.last_index():
            self.send(MT.TIMEOUT_NOW, m.from_)

    def handle_heartbeat_response(self, m: Message) -> None:
        pr = self.tracker.progress[m.from_]
        pr.recent_active = True
        pr.probe_sent = False
        if pr.state == ProgressState.REPLICATE and pr.inflights.full():
            pr.inflights.free_first_one()  # an append may have been lost; let one more through
        if pr.match < self.log.last_index():
            self.send_append(m.from_)
        if m.context:
            self.handle_read_ack(m.from_, m.context)

    def self_ack(self, index: int) -> None:
        """The leader's own log is durable up to `index` (called from `RawNode.advance`)."""
        leader = self.state == StateRole.LEADER
        if leader and self.tracker.progress[self.id].maybe_update(index) and self.maybe_commit():
            self.commit_to_announce = True

    def flush_appends(self) -> None:
        """Send what followers are owed since the last Ready: new proposals, a newer commit index.

        Proposals and acknowledgements arrive one at a time; an append for each would multiply the
        messages. `RawNode.ready()` calls this once per Ready instead: each follower gets the
        entries it lacks, as many per append as the limits and its window allow, and an empty
        append with the commit index if nothing else in this Ready carries it.
        """
        entries, announce = self.entries_to_send, self.commit_to_announce
        self.entries_to_send = self.commit_to_announce = False
        if self.state != StateRole.LEADER:
            return
        followers = [node_id for node_id in self.tracker.progress if node_id != self.id]
        if entries:
            for node_id in followers:
                while self.send_append(node_id, send_if_empty=False):
                    pass
        if announce:
            committed = self.log.committed
            told = {m.to for m in self.msgs if m.type == MT.APPEND and m.commit == committed}
            for node_id in followers:
                if node_id not in told:
                    self.send_append(node_id)

    def report_snapshot(self, to: int, ok: bool) -> None:
        pr = self.tracker.progress.get(to)
        if self.state != StateRole.LEADER or pr is None or pr.state != ProgressState.SNAPSHOT:
            return
        if not ok:
            pr.pending_snapshot = 0
        # Wait for the next heartbeat response before sending again (the follower may be down).
        pr.become_probe()
        pr.probe_sent = True

    # --- proposals and membership ------------------------------------------------------------
    def propose(self, entry_type: EntryType, data: bytes) -> int:
        if self.state != StateRole.LEADER or self.id not in self.tracker.progress:
            raise NotLeader(self.id, self.lead)
        if self.lead_transferee != NONE:
            raise ProposalDropped(f"leader transfer to {self.lead_transferee} in progress")
        index = self.log.last_index() + 1
        if entry_type == EntryType.CONF_CHANGE:
            if self.pending_conf_index > self.log.applied:
                raise ConfChangeRejected(f"a membership change at index {self.pending_conf_index} is not yet "
                                         f"applied (applied index {self.log.applied})")
            cc = decode_conf_change(data)
            check_conf_change(self.conf_state, cc)
            pr = self.tracker.progress.get(cc.node_id)
            check_promotion(cc, pr.match if pr is not None else None, self.log.committed)
            self.pending_conf_index = index
        self.log.append([Entry(self.term, index, entry_type, data)])
        self.entries_to_send = True
        return index

    def apply_conf_change(self, cc: ConfChange) -> ConfState:
        conf_state = apply_to_conf_state(self.conf_state, cc)
        self.tracker.apply_conf_state(conf_state, self.log.last_index() + 1)
        if self.state != StateRole.LEADER:
            return conf_state
        if self.id not in conf_state.voters:
            self.become_follower(self.term, NONE)  # removed: step down, the others elect anew
            return conf_state
        if self.lead_transferee not in self.tracker.progress:
            self.abort_leader_transfer(cool_down=False)
        self.maybe_commit()  # a smaller voter set may already hold a quorum
        self.bcast_append()  # new members start probing; everyone learns the commit index
        return conf_state

    # --- leader transfer (§3.10) and stake ---------------------------------------------------
    def handle_transfer_leader(self, transferee: int) -> None:
        pr = self.tracker.progress.get(transferee)
        if pr is None or pr.is_learner or transferee == self.id or transferee == self.lead_transferee:
            return
        # The hand-over must finish within one election timeout, or it is abandoned.
        self.election_elapsed_ticks = 0
        self.lead_transferee = transferee
        if pr.match == self.log.last_index():
            self.send(MT.TIMEOUT_NOW, transferee)
        else:
            self.send_append(transferee)

    def transfer_leader(self, transferee: int) -> None:
        """Local request; a follower forwards it to the leader. As in etcd, the message's `from_`
        names the transferee, not the sender."""
        if self.state == StateRole.LEADER:
            self.handle_transfer_leader(transferee)
        elif self.lead != NONE:
            self.msgs.append(Message(MT.TRANSFER_LEADER, self.lead, transferee, self.term))
        else:
            raise NotLeader(self.id, NONE)

    def abort_leader_transfer(self, cool_down: bool) -> None:
        self.lead_transferee = NONE
        if cool_down:
            self.stake_cooldown_ticks = self.config.stake_transfer_cooldown_ticks

    def maybe_transfer_to_higher_stake(self) -> None:
        if not self.config.stake_leader_transfer or self.lead_transferee != NONE or self.stake_cooldown_ticks:
            return
        last = self.log.last_index()
        caught_up = [v for v, pr in self.tracker.progress.items() if pr.match == last and pr.recent_active]
        target = transfer_target(self.conf_state, self.id, caught_up)
        if target is not None:
            self.handle_transfer_leader(target)

    # --- ReadIndex (§6.4) --------------------------------------------------------------------
    def read_index(self, request_ctx: bytes) -> None:
        """Local read request; its `ReadState` arrives in a later `Ready` (a follower asks the
        leader). Reads are dropped when leadership changes: the caller retries."""
        if self.state == StateRole.LEADER:
            self.handle_read_index(Message(MT.READ_INDEX, self.id, self.id, self.term, context=request_ctx))
        elif self.lead != NONE:
            self.send(MT.READ_INDEX, self.lead, context=request_ctx)
        else:
            raise NotLeader(self.id, NONE)

    def handle_read_index(self, m: Message) -> None:
        if len(self.tracker.voters) == 1:
            self.respond_read_index(m.from_, self.log.committed, m.context)
        elif not self.committed_entry_in_current_term():
            # Our commit index may lag the true one until an entry of our term commits.
            self.pending_read_index.append(m)
        elif self.read_only.add_request(self.log.committed, m.context, m.from_):
            self.read_only.recv_ack(self.id, m.context)
            self.bcast_heartbeat(m.context)

    def handle_read_ack(self, from_: int, context: bytes) -> None:
        acks = self.read_only.recv_ack(from_, context)
        if acks is None or not self.tracker.has_quorum(acks):
            return
        for status in self.read_only.advance(context):
            self.respond_read_index(status.request_from, status.index, status.request_ctx)

    def respond_read_index(self, to: int, index: int, context: bytes) -> None:
        if to == self.id:
            self.read_states.append(ReadState(index, context))
        else:
            self.send(MT.READ_INDEX_RESPONSE, to, index=index, context=context)
