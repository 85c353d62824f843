"""Start and stop a node on Ray: what `aurigraph up`, the bench and the integration tests call.

`start_node` connects to Ray (a fresh local instance, which picks free ports — never Redis's
6379 — or `address`), starts the supervisor, which starts everything else, and waits for a leader.

Ray token authentication is configured before Ray is imported, by the CLI commands
(`aurigraph.node.ray_auth`); code that calls `start_node` in-process (tests) gets Ray's defaults.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from actors.supervisor import INGRESS_NAME, NAMESPACE, SUPERVISOR_NAME, Supervisor, replica_name
from aurigraph.node.config import NodeSettings
from aurigraph.telemetry import FORWARDED_ENV_PREFIXES


@dataclass
class NodeHandle:
    supervisor: object
    ingress: object
    leader: int
    height: int  # the leader's applied height when the node came up
    address: str
    owns_ray: bool
    ingress_name: str = INGRESS_NAME
    namespace: str = NAMESPACE

    def stop(self) -> None:
        """Stop the node's actors (they are owned by the supervisor) and Ray if we started it."""
        ray.kill(self.supervisor)
        ray.kill(self.ingress)
        if self.owns_ray:
            ray.shutdown()


def connect_ray(address: str | None) -> bool:
    """Connect this process to Ray (starting a local instance without `address`); True if it did."""
    if ray.is_initialized():
        return False
    try:
        ray.init(address=address, namespace=NAMESPACE, logging_level="WARNING", runtime_env=_runtime_env())
    except Exception as e:
        # A local instance started right after another one shut down can time out while the old
        # processes are still exiting ("The current node timed out during startup", or its GCS
        # "Timed out waiting for file …gcs_server_port…"): try once more.
        if address is not None or not any(s in str(e) for s in ("timed out during startup", "gcs_server_port")):
            raise
        ray.shutdown()
        time.sleep(5)
        ray.init(address=address, namespace=NAMESPACE, logging_level="WARNING", runtime_env=_runtime_env())
    return True


def _runtime_env() -> dict | None:
    """The log and tracing settings of this process, for the actors' processes too."""
    forwarded = {k: v for k, v in os.environ.items() if k.startswith(FORWARDED_ENV_PREFIXES)}
    return {"env_vars": forwarded} if forwarded else None


def start_node(settings: NodeSettings, address: str | None = None, leader_timeout_s: float = 60.0) -> NodeHandle:
    owns_ray = connect_ray(address)
    # The supervisor owns every other actor, and Ray ends actors whose owner dies: pin it to this
    # (the driver's, in a cluster the head's) node, so losing any other Ray node cannot take it along.
    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=False)
    supervisor = Supervisor.options(name=SUPERVISOR_NAME, namespace=NAMESPACE, scheduling_strategy=here).remote(
        settings.model_dump_json())
    ray.get(supervisor.start.remote())
    leader = ray.get(supervisor.wait_for_leader.remote(leader_timeout_s))
    ingress = ray.get_actor(INGRESS_NAME, namespace=NAMESPACE)
    height = ray.get(ray.get_actor(replica_name(leader), namespace=NAMESPACE).health.remote())["height"]
    return NodeHandle(supervisor, ingress, leader, height, ray.get_runtime_context().gcs_address, owns_ray)
