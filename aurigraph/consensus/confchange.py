"""Membership changes, one node at a time: encoding inside a log entry, and their effect.

A change travels as a CONF_CHANGE entry whose `data` is the protobuf encoding of
`aurigraph.v1.ConfChange` (written by hand here: the core has no protobuf dependency, and the
codec's round-trip test checks both encodings agree). It takes effect on a replica when the entry is
applied (`RawNode.apply_conf_change`), like etcd. Safety of single-node changes rests on two rules
enforced by the leader: at most one change is pending (proposed but not applied), and a new leader
may not propose one before an entry of its own term is applied.
"""

from __future__ import annotations

from aurigraph.consensus.errors import ConfChangeRejected, ConsensusError
from aurigraph.consensus.types import ConfChange, ConfChangeType, ConfState

_VARINT, _BYTES = 0, 2


def _put_varint(out: bytearray, value: int) -> None:
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return


def _get_varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while pos < len(data) and shift < 64:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
    raise ConsensusError("malformed conf change entry: truncated varint")


def encode_conf_change(cc: ConfChange) -> bytes:
    """Protobuf wire encoding of `ConfChange` (proto3: zero-valued fields omitted)."""
    out = bytearray()
    for number, value in ((1, int(cc.type)), (2, cc.node_id), (3, cc.stake)):
        if value:
            out.append(number << 3 | _VARINT)
            _put_varint(out, value)
    if cc.context:
        out.append(4 << 3 | _BYTES)
        _put_varint(out, len(cc.context))
        out += cc.context
    return bytes(out)


def decode_conf_change(data: bytes) -> ConfChange:
    fields: dict[int, int | bytes] = {}
    pos = 0
    while pos < len(data):
        key, pos = _get_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == _VARINT and number in (1, 2, 3):
            fields[number], pos = _get_varint(data, pos)
        elif wire == _BYTES and number == 4:
            size, pos = _get_varint(data, pos)
            if pos + size > len(data):
                raise ConsensusError("malformed conf change entry: truncated context")
            fields[4], pos = data[pos:pos + size], pos + size
        else:
            raise ConsensusError(f"malformed conf change entry: field {number} wire type {wire}")
    kind = fields.get(1, 0)
    if kind not in ConfChangeType._value2member_map_:
        raise ConsensusError(f"malformed conf change entry: unknown type {kind}")
    return ConfChange(ConfChangeType(kind), int(fields.get(2, 0)), int(fields.get(3, 0)), bytes(fields.get(4, b"")))


def check_conf_change(conf: ConfState, cc: ConfChange) -> None:
    """Refuse changes that are no-ops or would leave the cluster without voters."""
    if cc.node_id <= 0:
        raise ConfChangeRejected(f"node id must be > 0, got {cc.node_id}")
    if cc.type == ConfChangeType.ADD_VOTER and cc.node_id in conf.voters:
        raise ConfChangeRejected(f"node {cc.node_id} is already a voter")
    if cc.type == ConfChangeType.ADD_LEARNER and cc.node_id in conf.voters:
        raise ConfChangeRejected(f"node {cc.node_id} is a voter; demotion is not supported")
    if cc.type == ConfChangeType.ADD_LEARNER and cc.node_id in conf.learners:
        raise ConfChangeRejected(f"node {cc.node_id} is already a learner")
    if cc.type == ConfChangeType.REMOVE_NODE and not conf.is_member(cc.node_id):
        raise ConfChangeRejected(f"node {cc.node_id} is not a member")
    if cc.type == ConfChangeType.REMOVE_NODE and conf.voters == (cc.node_id,):
        raise ConfChangeRejected("cannot remove the last voter")


def check_promotion(cc: ConfChange, match_index: int | None, commit_index: int) -> None:
    """A voter joins as a learner first and is promoted only once it holds the committed log
    (`match_index` >= `commit_index`): a lagging new voter would count toward quorums it cannot
    yet help form. `match_index` is None for a node that is not a member."""
    if cc.type != ConfChangeType.ADD_VOTER:
        return
    if match_index is None:
        raise ConfChangeRejected(f"node {cc.node_id} must join as a learner before it becomes a voter")
    if match_index < commit_index:
        raise ConfChangeRejected(f"learner {cc.node_id} has not caught up (match {match_index}, "
                                 f"commit {commit_index})")


def apply_to_conf_state(conf: ConfState, cc: ConfChange) -> ConfState:
    """The membership after `cc`. Applied changes are never refused: every replica must agree, so a
    committed no-op change (possible if two were raced past a stale leader) leaves `conf` as is."""
    voters, learners, stakes = set(conf.voters), set(conf.learners), dict(conf.stakes)
    if cc.type == ConfChangeType.ADD_VOTER:
        learners.discard(cc.node_id)
        voters.add(cc.node_id)
    elif cc.type == ConfChangeType.ADD_LEARNER:
        if cc.node_id not in voters:
            learners.add(cc.node_id)
    elif len(voters - {cc.node_id}) > 0:
        voters.discard(cc.node_id)
        learners.discard(cc.node_id)
        stakes.pop(cc.node_id, None)
    if cc.type != ConfChangeType.REMOVE_NODE and cc.stake:
        stakes[cc.node_id] = cc.stake
    return ConfState(tuple(voters), tuple(learners), (), stakes)
