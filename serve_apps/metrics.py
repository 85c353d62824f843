"""Prometheus metrics of the gateway and of the node behind it.

The gateway's own counters and histograms (requests, submissions, rejections by reason, finality
of waited submissions) live in one registry per gateway replica. Node-wide figures (height, term,
queue depths, applied transactions, per-actor health) are read from the node when scraped, so
`/v11/metrics` and `MonitoringService.GetMetrics` show the same numbers.
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from aurigraph.v1 import monitoring_pb2

FINALITY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)


class _NodeCollector:
    """Yields the node snapshot taken just before the scrape (`GatewayMetrics.refresh`)."""

    def __init__(self) -> None:
        self.snapshot: dict = {}

    def collect(self):
        s = self.snapshot
        if not s:
            return
        for name, doc, value in (
            ("aurigraph_block_height", "Latest committed block height (leader)", s["height"]),
            ("aurigraph_consensus_term", "Current consensus term", s["term"]),
            ("aurigraph_consensus_leader", "Leader replica id (0: none)", s["leader"]),
            ("aurigraph_consensus_commit_index", "Leader's commit index", s["commit_index"]),
            ("aurigraph_ingress_inflight_batches", "Batches in the ingress pipeline", s["inflight"]),
        ):
            yield GaugeMetricFamily(name, doc, value=value)
        pending = GaugeMetricFamily("aurigraph_pending_transactions", "Transactions queued on a replica",
                                    labels=["replica"])
        applied = CounterMetricFamily("aurigraph_replica_applied_blocks", "Blocks applied (height)", labels=["replica"])
        lag = GaugeMetricFamily("aurigraph_replica_lag_entries", "Leader's last index minus the replica's match index",
                                labels=["replica"])
        up = GaugeMetricFamily("aurigraph_actor_up", "1 if the actor answered its last health probe", labels=["actor"])
        halted = GaugeMetricFamily("aurigraph_replica_halted", "1 once a state mismatch halted the replica",
                                   labels=["replica"])
        link_up = GaugeMetricFamily("aurigraph_replica_link_up", "1 while the replica's link to the peer is made",
                                    labels=["replica", "peer"])
        dropped = CounterMetricFamily("aurigraph_replica_link_dropped_frames",
                                      "Consensus frames not sent on the link (down, or the peer not reading)",
                                      labels=["replica", "peer"])
        for name, health in s["health"].items():
            ok = (isinstance(health, dict) and "error" not in health) or health is True
            up.add_metric([name], 1.0 if ok else 0.0)
            if name.startswith("replica-") and isinstance(health, dict) and "error" not in health:
                pending.add_metric([name], health.get("pending", 0))
                applied.add_metric([name], health.get("height", 0))
                halted.add_metric([name], 1.0 if health.get("halted") else 0.0)
                for peer, link in health.get("links", {}).items():
                    link_up.add_metric([name, f"replica-{peer}"], 1.0 if link["up"] else 0.0)
                    dropped.add_metric([name, f"replica-{peer}"], link["dropped"])
        for replica, value in s["lag"].items():
            lag.add_metric([f"replica-{replica}"], value)
        yield from (pending, applied, lag, up, halted, link_up, dropped)
        yield from _index_metrics(s["health"].get("indexer"))


def _index_metrics(status) -> list:
    """The PostgreSQL indexer's figures, as the supervisor last probed them (none without one)."""
    if not isinstance(status, dict) or "error" in status:
        return []
    return [
        GaugeMetricFamily("aurigraph_index_height", "Last block height in the PostgreSQL index", value=status["height"]),
        GaugeMetricFamily("aurigraph_index_lag_blocks", "Committed blocks not yet indexed", value=status["lag_blocks"]),
        GaugeMetricFamily("aurigraph_index_healthy", "1 unless an error holds the indexer up",
                          value=0.0 if status["last_error"] else 1.0),
        CounterMetricFamily("aurigraph_index_rows", "Rows the indexer wrote (since its start)", value=status["rows"]),
    ]


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("aurigraph_gateway_requests", "Requests answered", ["api", "route", "status"],
                                registry=self.registry)
        self.submitted = Counter("aurigraph_gateway_transactions", "Submitted transactions by result", ["status"],
                                 registry=self.registry)
        self.rejected = Counter("aurigraph_gateway_rejections", "Rejected transactions by reason", ["reason"],
                                registry=self.registry)
        self.finality = Histogram("aurigraph_finality_seconds", "Submit to committed, waited submissions",
                                  buckets=FINALITY_BUCKETS_S, registry=self.registry)
        self.rate_limited = Counter("aurigraph_gateway_rate_limited", "Requests refused by the rate limiter",
                                    registry=self.registry)
        self.redis_up: Gauge | None = None  # with Redis configured (`redis_state`)
        self.redis_errors = Counter("aurigraph_redis_errors", "Failed Redis calls", registry=self.registry)
        self.cache_hits = Counter("aurigraph_cache_hits", "Reads answered from the Redis cache", registry=self.registry)
        self.cache_misses = Counter("aurigraph_cache_misses", "Cacheable reads that went to the node",
                                    registry=self.registry)
        self.stream_subscribers = Gauge("aurigraph_stream_subscribers", "Open event-stream subscriptions",
                                        registry=self.registry)
        self.stream_disconnects = Counter("aurigraph_stream_slow_consumer_disconnects",
                                          "Stream subscribers cut off for falling behind", registry=self.registry)
        self._node = _NodeCollector()
        self.registry.register(self._node)

    def redis_state(self, up: bool) -> None:
        if self.redis_up is None:
            self.redis_up = Gauge("aurigraph_redis_up", "1 while Redis answers (0: degraded to in-process)",
                                  registry=self.registry)
        self.redis_up.set(1 if up else 0)

    async def refresh(self, api) -> None:
        """Read the node-wide figures for the next scrape."""
        status, topology, inflight = await asyncio.gather(api.consensus_status(), api.topology(),
                                                          api.ingress_inflight())
        self._node.snapshot = {
            "height": status.height, "term": status.term, "leader": status.leader_id,
            "commit_index": status.commit_index, "inflight": inflight,
            "health": topology["health"], "lag": {p.node_id: p.lag for p in status.replicas},
        }

    def text(self) -> bytes:
        return generate_latest(self.registry)

    def snapshot(self, timestamp_ms: int) -> monitoring_pb2.MetricsSnapshot:
        out = monitoring_pb2.MetricsSnapshot(timestamp_ms=timestamp_ms)
        for family in self.registry.collect():
            for sample in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
                out.values[f"{sample.name}{{{labels}}}" if labels else sample.name] = float(sample.value)
        return out
