"""The gateway deployment and how `aurigraph up` starts it.

One Serve application, `aurigraph`, with one deployment whose replicas serve the FastAPI app (REST
`/v11`, the WebSocket stream, OpenAPI docs at `/api/docs`: serve_apps/http_server.py) and the gRPC
services (serve_apps/grpc_server.py) from servers of their own on the node's ports. Serve places,
restarts and scales the replicas; its proxies are not started (each cost a Python hop per request:
docs/performance.md).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import ray
from ray import serve

from aurigraph import telemetry
from serve_apps.grpc_ingress import GrpcMethods
from serve_apps.grpc_server import start_grpc_server, stop_grpc_server
from serve_apps.grpc_tls import TlsTerminator
from serve_apps.http_server import HttpServer
from serve_apps.node_api import NodeApi
from serve_apps.ports import PortReservation, wait_listening
from serve_apps.rest.app import create_app
from serve_apps.service import GatewayService
from serve_apps.settings import GatewaySettings

APP_NAME = "aurigraph"


# Streams end when their client goes; a short grace period keeps shutdown quick regardless.
@serve.deployment(name="gateway", ray_actor_options={"num_cpus": 0}, graceful_shutdown_timeout_s=2,
                  logging_config={"enable_access_log": False})
class Gateway(GrpcMethods):
    async def __init__(self, settings_json: str) -> None:
        telemetry.configure("gateway")
        settings = GatewaySettings.model_validate_json(settings_json)
        self.service = GatewayService(settings, NodeApi(settings.node_namespace, settings.kem_public_key_file))
        self._http = HttpServer(create_app(self.service), settings)
        await self._http.start()
        self._grpc = None if settings.grpc_listen is None else await start_grpc_server(
            self, settings.grpc_listen[1], settings.grpc_listen[0])

    async def __del__(self) -> None:
        """Serve calls it (once) when it stops this replica: stop serving, close connections, flush spans."""
        stopping = []  # either is absent if the constructor failed before it
        if getattr(self, "_grpc", None) is not None:
            stopping.append(stop_grpc_server(self._grpc))
        if getattr(self, "_http", None) is not None:
            stopping.append(self._http.stop())
        await asyncio.gather(*stopping)  # side by side: both within Serve's 2 s of grace
        if hasattr(self, "service"):
            await self.service.close()
        telemetry.flush()


TLS13_OPENSSL_CONF = """\
# Written by aurigraph up: the gateway's HTTPS listener accepts TLS 1.3 only.
openssl_conf = openssl_init
[openssl_init]
ssl_conf = ssl_section
[ssl_section]
system_default = system_default_section
[system_default_section]
MinProtocol = TLSv1.3
Protocol = -ALL, TLSv1.3
"""


def set_proxy_environment(settings: GatewaySettings, data_dir: Path) -> None:
    """Call before Ray starts, so the gateway replicas inherit it: with TLS, an OpenSSL configuration
    that allows TLS 1.3 only. uvicorn takes no TLS version setting of its own, and Python's
    `SSLContext` lowers a configured minimum back to TLS 1.2, but the `Protocol` line sets the
    no-TLS-1.2 option, which Python leaves in place."""
    if settings.tls:
        conf = data_dir / "openssl-tls13.cnf"
        conf.write_text(TLS13_OPENSSL_CONF)
        os.environ["OPENSSL_CONF"] = str(conf)


_grpc_tls: TlsTerminator | None = None  # with TLS: in front of the replicas' gRPC servers, in this process
LISTEN_TIMEOUT_S = 120  # the replicas start their servers once deployed: seconds on a loaded machine


def start_gateway(settings: GatewaySettings, reservations: list[PortReservation] = ()) -> None:
    """Deploy the gateway on this machine, whose replicas serve REST and gRPC on the configured ports
    themselves, with no Serve proxy (Ray is connected). Each of the `reservations` of `reserve_gateway_ports` is
    released once something listens on its port, before this returns. With TLS, gRPC is TLS 1.3
    too: the replicas listen on the internal port behind a TLS terminator on the gRPC port, which
    runs in this process until `stop_gateway` (grpc_tls.py)."""
    global _grpc_tls
    if settings.tls and settings.grpc_port is not None:
        _grpc_tls = TlsTerminator(settings.http_host, settings.grpc_port, "127.0.0.1", settings.grpc_internal_port,
                                  settings.ssl_certfile, settings.ssl_keyfile)
        _grpc_tls.start()
    serve.start(proxy_location="Disabled")
    # On this machine (the head, where `aurigraph up` runs): the ports are served where they were
    # reserved and where clients, the TLS terminator and probes look for them.
    here = {"num_cpus": 0, "resources": {f"node:{ray.util.get_node_ip_address()}": 0.001}}
    app = Gateway.options(num_replicas=settings.replicas, ray_actor_options=here).bind(settings.model_dump_json())
    serve.run(app, name=APP_NAME, route_prefix=None, blocking=False)
    for reservation in reservations:
        wait_listening(reservation.host, reservation.port, LISTEN_TIMEOUT_S)
        reservation.release()


def stop_gateway() -> None:
    global _grpc_tls
    if _grpc_tls is not None:
        _grpc_tls.stop()
        _grpc_tls = None
    serve.shutdown()
