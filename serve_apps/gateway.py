"""The gateway deployment and how `aurigraph up` starts it.

One Serve application, `aurigraph`, whose ingress deployment serves both the FastAPI app (REST
`/v11`, the WebSocket stream, OpenAPI docs at `/api/docs`) and the gRPC services: with a single
application, Serve's gRPC proxy routes every call to it without `application` metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

from ray import serve
from ray.serve.config import HTTPOptions, gRPCOptions

from aurigraph import telemetry
from serve_apps.grpc_ingress import SERVICER_FUNCTIONS, GrpcMethods
from serve_apps.grpc_tls import TlsTerminator
from serve_apps.node_api import NodeApi
from serve_apps.ports import PortReservation, wait_listening
from serve_apps.rest.app import create_app
from serve_apps.service import GatewayService
from serve_apps.settings import GatewaySettings

APP_NAME = "aurigraph"
# Serve's gRPC proxy reads its message limit from the environment when it starts (default 2 GiB).
GRPC_MAX_MESSAGE_BYTES = 128 * 1024 * 1024


# Streams end when their client goes; a short grace period keeps shutdown quick regardless.
# No per-request access log: at thousands of requests a second it costs more than the request.
@serve.deployment(name="gateway", ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256,
                  graceful_shutdown_timeout_s=2, logging_config={"enable_access_log": False})
@serve.ingress()
class Gateway(GrpcMethods):
    def __init__(self, settings_json: str) -> None:
        telemetry.configure("gateway")
        settings = GatewaySettings.model_validate_json(settings_json)
        self.service = GatewayService(settings, NodeApi(settings.node_namespace, settings.kem_public_key_file))

    def __serve_build_asgi_app__(self):
        return create_app(self.service)

    async def __del__(self) -> None:
        """Serve calls it (once) when it stops this replica: close connections, flush spans."""
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
    """Call before Ray starts, so Serve's proxies inherit it: the gRPC message limit, no
    X-Forwarded-For handling in the HTTP proxy, and with TLS an OpenSSL configuration that allows TLS 1.3 only. Serve's HTTP proxy takes no TLS version
    setting of its own, and Python's `SSLContext` lowers a configured minimum back to TLS 1.2, but
    the `Protocol` line sets the no-TLS-1.2 option, which Python leaves in place."""
    os.environ.setdefault("RAY_SERVE_GRPC_MAX_MESSAGE_SIZE", str(GRPC_MAX_MESSAGE_BYTES))
    # Serve's HTTP proxy is uvicorn, which by default takes the client address from X-Forwarded-For
    # when the peer is loopback, so a local client could pick its address. An empty list trusts no
    # peer: the gateway reads X-Forwarded-For itself, from trusted proxies only (serve_apps/allowlist.py).
    os.environ["FORWARDED_ALLOW_IPS"] = ""
    # The proxies bind with SO_REUSEPORT (Serve's default), so they can take over the ports that
    # `aurigraph up` reserved before Ray started (serve_apps/ports.py).
    os.environ["SERVE_SOCKET_REUSE_PORT_ENABLED"] = "1"
    if settings.tls:
        conf = data_dir / "openssl-tls13.cnf"
        conf.write_text(TLS13_OPENSSL_CONF)
        os.environ["OPENSSL_CONF"] = str(conf)


_grpc_tls: TlsTerminator | None = None  # with TLS: in front of Serve's gRPC proxy, in this process
LISTEN_TIMEOUT_S = 120  # Serve's proxies start with the controller: seconds on a loaded machine


def start_gateway(settings: GatewaySettings, reservations: list[PortReservation] = ()) -> None:
    """Start Serve's proxies on the configured ports and deploy the gateway (Ray is connected).
    Each of the `reservations` of `reserve_gateway_ports` is released once something listens on
    its port, before this returns. With TLS, gRPC is TLS 1.3 too: Serve's gRPC proxy listens on the
    internal port behind a TLS terminator on the gRPC port, which runs in this process until
    `stop_gateway` (grpc_tls.py)."""
    global _grpc_tls
    grpc_port = settings.grpc_port or 0
    if settings.tls and settings.grpc_port is not None:
        grpc_port = settings.grpc_internal_port
        _grpc_tls = TlsTerminator(settings.http_host, settings.grpc_port, "127.0.0.1", grpc_port,
                                  settings.ssl_certfile, settings.ssl_keyfile)
        _grpc_tls.start()
    http = HTTPOptions(host=settings.http_host, port=settings.http_port,
                       ssl_certfile=str(settings.ssl_certfile) if settings.ssl_certfile else None,
                       ssl_keyfile=str(settings.ssl_keyfile) if settings.ssl_keyfile else None)
    grpc = gRPCOptions(port=grpc_port,
                       grpc_servicer_functions=SERVICER_FUNCTIONS if settings.grpc_port is not None else [])
    serve.start(http_options=http, grpc_options=grpc)
    app = Gateway.options(num_replicas=settings.replicas).bind(settings.model_dump_json())
    serve.run(app, name=APP_NAME, route_prefix="/", blocking=False)
    for reservation in reservations:
        wait_listening(reservation.host, reservation.port, LISTEN_TIMEOUT_S)
        reservation.release()


def stop_gateway() -> None:
    global _grpc_tls
    if _grpc_tls is not None:
        _grpc_tls.stop()
        _grpc_tls = None
    serve.shutdown()
