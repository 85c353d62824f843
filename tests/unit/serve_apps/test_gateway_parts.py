"""The gateway's parts that need no node: API keys, the token bucket, the error table, the stream's
filter and slow-consumer rule."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import grpc
import pytest

from aurigraph.apikeys import Role, add_key, load_key_file
from aurigraph.v1 import events_pb2, models_pb2
from serve_apps.auth import ApiKeys
from serve_apps.errors import CODES, ApiFailure
from serve_apps.events import EventHub, Filter, SlowConsumer, Subscription
from serve_apps.ratelimit import LocalBuckets, RateLimiter, Takes


def test_api_keys_roles_and_refusals(tmp_path):
    path = tmp_path / "keys.json"
    reader, admin = add_key(path, "dash", Role.READER), add_key(path, "ops", Role.ADMIN)
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert reader not in path.read_text() and admin not in path.read_text(), "only digests are stored"
    keys = ApiKeys.load(path)
    assert keys.authenticate(reader, Role.READER).name == "dash"
    assert keys.authenticate(admin, Role.SUBMITTER).role is Role.ADMIN
    for presented, needs, code in [(None, Role.READER, "UNAUTHENTICATED"), ("agk_wrong", Role.READER, "UNAUTHENTICATED"),
                                   (reader, Role.SUBMITTER, "FORBIDDEN")]:
        with pytest.raises(ApiFailure) as caught:
            keys.authenticate(presented, needs)
        assert caught.value.code == code
    with pytest.raises(ValueError, match="already has a key named"):
        add_key(path, "ops", Role.READER)


def test_without_a_keys_file_everything_is_open():
    assert ApiKeys.load(None).authenticate(None, Role.ADMIN).role is Role.ADMIN


@pytest.mark.parametrize("content", ["not json", "{}", '{"keys": []}', ('{"keys": [{"name": "a", "role": "god", '
                                     '"sha256": "00"}]}'), '{"keys": [{"name": "a", "role": "reader", "sha256": "00"}]}'])
def test_bad_key_files_are_refused_with_the_reason(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(ValueError, match="API keys file"):
        load_key_file(path)


def test_token_bucket_refills_at_the_rate_and_caps_at_the_burst():
    now = [0.0]
    buckets = LocalBuckets(rate_per_s=10, burst=3, now_s=lambda: now[0])
    assert [buckets.take("a") for _ in range(3)] == [(1, 0)] * 3
    assert buckets.take("a") == (0, 100), "one token every 100 ms"
    assert buckets.take("b") == (1, 0), "clients have their own buckets"
    now[0] += 0.25
    assert buckets.take("a") == (1, 0) and buckets.take("a") == (1, 0) and buckets.take("a")[0] == 0
    now[0] += 60
    assert [buckets.take("a") for _ in range(4)][-1][0] == 0, "never more than the burst"


def test_a_bucket_gives_what_it_has_of_what_is_wanted():
    now = [0.0]
    buckets = LocalBuckets(rate_per_s=10, burst=5, now_s=lambda: now[0])
    assert buckets.take("a", 3) == (3, 0)
    assert buckets.take("a", 3) == (2, 100), "two left; the next token in 100 ms"
    now[0] += 0.15
    assert buckets.take("a", 3) == (1, 50), "1.5 tokens refilled: one whole, the next half-way"


def test_concurrent_takes_go_to_the_limiter_in_rounds_in_arrival_order():
    calls = []

    class CountingLimiter(RateLimiter):
        async def take(self, client, wanted=1):
            calls.append(wanted)
            await asyncio.sleep(0)
            return await super().take(client, wanted)

    async def scenario():
        takes = Takes(CountingLimiter(rate_per_s=0.001, burst=4), "c")
        return await asyncio.gather(*(takes.take() for _ in range(10)))

    waits = asyncio.run(scenario())
    assert waits[:4] == [0] * 4 and all(w > 0 for w in waits[4:]), waits
    assert calls == [10], "all ten arrived before the first round went out"


def test_takes_that_arrive_during_a_round_go_in_the_next():
    calls, release = [], []

    class SlowLimiter(RateLimiter):
        async def take(self, client, wanted=1):
            calls.append(wanted)
            gate = asyncio.Event()
            release.append(gate)
            await gate.wait()
            return await super().take(client, wanted)

    async def scenario():
        takes = Takes(SlowLimiter(rate_per_s=0.001, burst=3), "c")
        first = [asyncio.create_task(takes.take()) for _ in range(2)]
        await asyncio.sleep(0.01)
        second = [asyncio.create_task(takes.take()) for _ in range(3)]
        await asyncio.sleep(0.01)
        assert calls == [2], "one call out at a time"
        release[0].set()
        await asyncio.sleep(0.01)
        release[1].set()
        return await asyncio.gather(*first, *second)

    waits = asyncio.run(scenario())
    assert calls == [2, 3] and waits[:3] == [0, 0, 0] and all(w > 0 for w in waits[3:]), (calls, waits)


def test_a_failed_round_fails_its_takes_and_the_next_round_starts_afresh():
    class FailingOnce(RateLimiter):
        failed = False

        async def take(self, client, wanted=1):
            if not self.failed:
                self.failed = True
                raise RuntimeError("limiter down")
            return await super().take(client, wanted)

    async def scenario():
        takes = Takes(FailingOnce(rate_per_s=0.001, burst=3), "c")
        first = await asyncio.gather(takes.take(), takes.take(), return_exceptions=True)
        return first, await takes.take()

    first, then = asyncio.run(scenario())
    assert [type(e) for e in first] == [RuntimeError, RuntimeError] and then == 0


def test_every_error_code_maps_to_a_4xx_or_5xx_and_a_grpc_status():
    for code, (_http, _status) in CODES.items():  # every value is an (HTTP, gRPC) pair
        e = ApiFailure(code, "x")
        assert 400 <= e.http_status < 600 and isinstance(e.grpc_status, grpc.StatusCode)
        assert e.to_proto().code == code
    with pytest.raises(ValueError):
        ApiFailure("WHATEVER", "x")


def _event(kind_field: str) -> events_pb2.Event:
    e = events_pb2.Event()
    getattr(e, kind_field).SetInParent()
    return e


def test_filter_by_kind_and_account():
    tx = events_pb2.EVENT_KIND_TRANSACTION_COMMITTED
    block = events_pb2.EVENT_KIND_BLOCK_COMMITTED
    assert Filter().matches(tx, [b"a"]) and Filter().matches(block, [])
    assert not Filter(frozenset({block})).matches(tx, [b"a"])
    assert Filter(account=b"a").matches(tx, [b"x", b"a"]) and not Filter(account=b"a").matches(tx, [b"x"])
    assert Filter(account=b"a").matches(block, []), "the account filter applies to transaction events only"


def test_a_subscriber_that_falls_behind_is_cut_off_after_what_it_was_sent():
    block = events_pb2.EVENT_KIND_BLOCK_COMMITTED

    async def scenario():
        hub = EventHub(api=None, queue_events=4)
        sub = Subscription(Filter(), live_from=1, limit=4, replay_from=1, start_height=1)
        sub.offer([(block, (), _event("block_committed"))] * 10, height=1)  # one big block: always taken
        assert not sub.overflowed
        sub.offer([(block, (), _event("block_committed"))], height=2)  # more while 10 wait: too far behind
        assert sub.overflowed
        received = []
        with pytest.raises(SlowConsumer):
            async for event in hub.events(sub):
                received.append(event.sequence)
        return received

    assert asyncio.run(scenario()) == list(range(1, 11)), "it gets what was queued, in order, then is disconnected"


def test_blocks_below_the_asked_height_are_not_delivered_live():
    sub = Subscription(Filter(), live_from=5, limit=100, replay_from=5, start_height=8)
    for height in range(5, 10):
        sub.offer([(events_pb2.EVENT_KIND_BLOCK_COMMITTED, (), _event("block_committed"))], height=height)
    assert sub.waiting == 2, "only heights 8 and 9"


def test_keys_file_format_is_documented_json(tmp_path):
    path = tmp_path / "k.json"
    add_key(path, "svc", Role.SUBMITTER)
    entry = json.loads(path.read_text())["keys"][0]
    assert entry["name"] == "svc" and entry["role"] == "submitter" and len(bytes.fromhex(entry["sha256"])) == 32


def test_micro_batcher_sends_a_lone_item_at_once_and_gathers_what_arrives_while_its_slots_are_busy():
    from serve_apps.batching import MicroBatcher

    calls = []
    release = None

    async def flush(items):
        calls.append(list(items))
        if "boom" in items:
            raise RuntimeError("node down")
        if items == ["hold"]:
            await release.wait()
        return [f"r-{i}" for i in items]

    async def scenario():
        nonlocal release
        release = asyncio.Event()
        batcher = MicroBatcher(flush, max_items=3, max_in_flight=1)
        lone = await batcher.submit(9)  # a free slot: it goes at once, alone, with no timer
        held = asyncio.create_task(batcher.submit("hold"))
        await asyncio.sleep(0)
        gathered = [asyncio.create_task(batcher.submit(i)) for i in range(5)]  # the only slot is busy
        await asyncio.sleep(0.01)
        assert calls == [[9], ["hold"]], "nothing else goes while the slot is busy"
        release.set()
        results = await asyncio.gather(held, *gathered)
        failed = await asyncio.gather(batcher.submit("boom"), return_exceptions=True)
        return lone, results, failed

    lone, results, failed = asyncio.run(scenario())
    assert lone == "r-9" and results == ["r-hold"] + [f"r-{i}" for i in range(5)]
    assert calls[2:4] == [[0, 1, 2], [3, 4]], "what gathered goes together once the slot frees, max_items a call"
    assert all(isinstance(e, RuntimeError) for e in failed), "every caller of a failed batch sees the error"


class _QuietNode:
    """The node as the event hub sees it, at height 5 with nothing happening, and an optimizer's
    audit log that the test appends to."""

    def __init__(self, flags: int) -> None:
        self.log = [events_pb2.AnomalyFlagged(sequence=n, sender=b"s%d" % n) for n in range(1, flags + 1)]

    async def head_height(self) -> int:
        return 5

    async def consensus_status(self):
        return SimpleNamespace(term=1, leader_id=1, height=5)

    async def nodes(self):
        return SimpleNamespace(nodes=[])

    async def anomalies(self, from_sequence: int, limit: int) -> models_pb2.ListAnomaliesResponse:
        found = [f for f in self.log if f.sequence >= from_sequence][:limit]
        return models_pb2.ListAnomaliesResponse(anomalies=found, last_sequence=len(self.log),
                                                next_sequence=(found[-1].sequence + 1) if found else from_sequence)


def test_a_flag_raised_once_subscribe_returns_reaches_the_subscriber_and_older_ones_do_not():
    async def scenario():
        node = _QuietNode(flags=2)
        hub = EventHub(api=node, anomalies=node.anomalies)
        sub = await hub.subscribe(Filter(frozenset({events_pb2.EVENT_KIND_ANOMALY})), None)
        # Raised before the hub's follower has polled even once: it is still the subscriber's.
        node.log.append(events_pb2.AnomalyFlagged(sequence=3, sender=b"s3"))
        try:
            stream = hub.events(sub)
            return await asyncio.wait_for(anext(stream), 10)
        finally:
            hub.unsubscribe(sub)
            await asyncio.wait_for(hub._task, 10)  # the follower ends with its last subscriber

    event = asyncio.run(scenario())
    assert event.anomaly.sequence == 3, "the flags raised before it subscribed are not its own"
