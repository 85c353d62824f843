"""Start and stop a node on Ray: what `aurigraph up`, the bench and the integration tests call.

`start_node` connects to Ray (a fresh local instance, which picks free ports — never Redis's
6379 — or `address`), starts the supervisor, which starts everything else, and waits for a leader.
"""

from __future__ import annotations

from dataclasses import dataclass

import ray

from actors.supervisor import INGRESS_NAME, NAMESPACE, SUPERVISOR_NAME, Supervisor
from aurigraph.node.config import NodeSettings


@dataclass
class NodeHandle:
    supervisor: object
    ingress: object
    leader: int
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


def start_node(settings: NodeSettings, address: str | None = None, leader_timeout_s: float = 60.0) -> NodeHandle:
    owns_ray = not ray.is_initialized()
    if owns_ray:
        ray.init(address=address, namespace=NAMESPACE, logging_level="WARNING", log_to_driver=True)
    supervisor = Supervisor.options(name=SUPERVISOR_NAME, namespace=NAMESPACE).remote(settings.model_dump_json())
    ray.get(supervisor.start.remote())
    leader = ray.get(supervisor.wait_for_leader.remote(leader_timeout_s))
    ingress = ray.get_actor(INGRESS_NAME, namespace=NAMESPACE)
    return NodeHandle(supervisor, ingress, leader, ray.get_runtime_context().gcs_address, owns_ray)
