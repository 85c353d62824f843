"""The gateway's settings: one typed, validated object, built once at the edge (`aurigraph up`
flags) and handed to the Serve deployment as JSON.

Limits here are what a client can rely on; they are listed in the README's API section.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from serve_apps.allowlist import Network, parse_network
from serve_apps.ports import ANY_HOST


class GatewaySettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    http_host: str = "127.0.0.1"
    # Port 0: any free port, which `aurigraph up` reserves before Ray starts and reports
    # (serve_apps/ports.py); the settings handed to the deployment carry the port it got.
    http_port: int = Field(8000, ge=0, le=65535)
    grpc_port: int | None = Field(9000, ge=0, le=65535)  # None: no gRPC ingress
    # With TLS, the gateway replicas' plain-text gRPC server listens here on 127.0.0.1, behind the
    # TLS 1.3 terminator on grpc_port (serve_apps/grpc_tls.py). 0: a free port.
    grpc_internal_port: int = Field(0, ge=0, le=65535)
    replicas: int = Field(1, ge=1, le=64)  # gateway (Serve) replicas
    max_batch_txs: int = Field(10_000, ge=1, le=10_000)
    max_body_bytes: int = Field(128 * 1024, ge=1024)  # one transaction's request body
    max_batch_body_bytes: int = Field(96 * 1024 * 1024, ge=1024)
    max_wait_ms: int = Field(30_000, ge=1)  # cap on ?wait=committed / SubmitRequest.timeout_ms
    default_wait_ms: int = Field(10_000, ge=1)
    rate_limit_per_s: float = Field(1000.0, ge=0)  # requests per client; 0 turns rate limiting off
    rate_limit_burst: int = Field(2000, ge=1)
    redis_url: str | None = None  # share the rate limiter through Redis
    postgres_dsn: str | None = None  # serve account histories from the PostgreSQL index
    postgres_schema: str = Field("aurigraph", pattern=r"^[a-z_][a-z0-9_]{0,62}$")
    api_keys_file: Path | None = None  # without it, no route asks for an API key
    stream_queue_events: int = Field(4096, ge=16)  # a subscriber further behind is disconnected
    ssl_certfile: Path | None = None
    ssl_keyfile: Path | None = None
    node_namespace: str = "aurigraph"
    kem_public_key_file: Path | None = None  # the node's ML-KEM-1024 public key (CryptoService)
    # Clients that may submit transactions (networks or single addresses; empty: anyone with the
    # role). See serve_apps/allowlist.py for how a client's address is determined.
    submit_allowlist: tuple[Network, ...] = ()
    # Proxies whose X-Forwarded-For (gRPC: x-forwarded-for metadata) names the client; empty: none.
    trusted_proxies: tuple[Network, ...] = ()

    @field_validator("submit_allowlist", "trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value, info):
        what = "submit allowlist" if info.field_name == "submit_allowlist" else "trusted proxy"
        if isinstance(value, str):
            value = [value]
        networks = []
        for entry in value:
            try:
                networks.append(parse_network(entry))
            except ValueError as e:
                raise ValueError(f"{what} entry {e}") from None
        return tuple(networks)

    @model_validator(mode="after")
    def _check(self) -> GatewaySettings:
        if (self.ssl_certfile is None) != (self.ssl_keyfile is None):
            raise ValueError("TLS needs both a certificate and a key file")
        if self.grpc_internal_port and self.grpc_internal_port == self.grpc_port:
            raise ValueError("grpc_internal_port must differ from grpc_port")
        if self.default_wait_ms > self.max_wait_ms:
            raise ValueError("default_wait_ms must not exceed max_wait_ms")
        return self

    @property
    def tls(self) -> bool:
        return self.ssl_certfile is not None

    @property
    def grpc_listen(self) -> tuple[str, int] | None:
        """Where each gateway replica's own gRPC server listens (serve_apps/grpc_server.py): the gRPC
        port on all interfaces, or with TLS the internal port on 127.0.0.1 behind the terminator;
        None without gRPC."""
        if self.grpc_port is None:
            return None
        return ("127.0.0.1", self.grpc_internal_port) if self.tls else (ANY_HOST, self.grpc_port)
