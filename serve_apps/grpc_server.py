"""The gRPC ingress, served by each gateway replica itself (no Serve proxy in the way).

Serve's gRPC proxy cost about 5.7 ms of CPU per call on top of the replica's own work, a Python hop
that made it the busiest process of a node under single-transaction load (docs/performance.md).
So each gateway replica runs a `grpc.aio` server in its own event loop, on the node's gRPC port,
bound with SO_REUSEPORT: `aurigraph up` reserves the port before Ray starts (serve_apps/ports.py)
and releases the reservation once the server accepts a connection, and with several replicas on a
machine the kernel spreads connections over them. Serve still places, restarts and scales the
replicas; it no longer carries their gRPC traffic. With TLS the terminator (grpc_tls.py) sits in
front, as before.

Every service of `protos/aurigraph/v1/services.proto` is registered with the lenient request
parsing of `grpc_ingress.add_services` (a malformed request is INVALID_ARGUMENT with the reason),
plus server reflection.
"""

from __future__ import annotations

import grpc
from grpc_reflection.v1alpha import reflection

from aurigraph.v1 import services_pb2
from serve_apps.grpc_ingress import SERVICES, add_services
from serve_apps.ports import ANY_HOST

# A batch of 10,000 transactions of the largest kind fits; one byte more is RESOURCE_EXHAUSTED.
GRPC_MAX_MESSAGE_BYTES = 128 * 1024 * 1024
STOP_GRACE_S = 0.8  # with the HTTP server stopping alongside, inside the replica's 2 s of grace


async def start_grpc_server(servicer, port: int, host: str = ANY_HOST) -> grpc.aio.Server:
    """Serve every Aurigraph service of `servicer` (the gateway replica) on `host:port`; returns the
    started server (stop it with `stop_grpc_server`). Raises RuntimeError if the port cannot be bound."""
    server = grpc.aio.server(options=[
        ("grpc.so_reuseport", 1),
        ("grpc.max_receive_message_length", GRPC_MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", GRPC_MAX_MESSAGE_BYTES),
    ])
    add_services(servicer, server)
    names = [services_pb2.DESCRIPTOR.services_by_name[s].full_name for s in SERVICES]
    reflection.enable_server_reflection([*names, reflection.SERVICE_NAME], server)
    server.add_insecure_port(f"[{host}]:{port}" if ":" in host else f"{host}:{port}")  # RuntimeError if it cannot
    await server.start()
    return server


async def stop_grpc_server(server: grpc.aio.Server) -> None:
    """Stop taking calls; calls in progress (streams too) get `STOP_GRACE_S` to finish."""
    await server.stop(STOP_GRACE_S)
