"""`aurigraph up`: run a node on a local Ray instance (or join a cluster with --address).

Creates the data dir's genesis and node keys on first start (a dev chain), starts the actors through
the supervisor, waits for a leader, starts the gateway (REST + WebSocket on --http-port, gRPC on
--grpc-port), prints where the node can be reached, and runs until Ctrl-C. Restarting with the same
--data-dir continues the same chain.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import threading
from pathlib import Path

from aurigraph.apikeys import load_key_file
from aurigraph.cli.common import CliError, settings_error
from aurigraph.keystore import KeystoreError, open_node_keystore
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, check_node_keys, prepare
from aurigraph.node.ray_auth import configure_ray_auth
from aurigraph.storage.durable import replace_file
from serve_apps.allowlist import read_network_file
from serve_apps.ports import PortInUseError, PortReservation, reserve_gateway_ports
from serve_apps.settings import GatewaySettings

POSTGRES_DSN_ENV = "AURIGRAPH_POSTGRES_DSN"  # keeps a password off the command line (and `ps`)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("up", help="run a node: consensus replicas, validators and storage shards on Ray")
    defaults = NodeSettings()
    p.add_argument("--data-dir", type=Path, default=defaults.data_dir)
    p.add_argument("--address", help="join a running Ray cluster (e.g. HEAD_IP:6380); default: start Ray locally")
    p.add_argument("--chain-id", default=defaults.chain_id, help="for a new data dir")
    p.add_argument("--replicas", type=int, default=defaults.replicas, help="for a new data dir")
    p.add_argument("--validators", type=int, default=defaults.validators, help="signature-verification actors")
    p.add_argument("--shards", type=int, default=defaults.shards, help="storage shards")
    p.add_argument("--max-batch-txs", type=int, default=defaults.max_batch_txs)
    p.add_argument("--batch-wait-ms", type=int, default=defaults.batch_wait_ms)
    gw = GatewaySettings()
    p.add_argument("--http-host", default=gw.http_host, help="REST/WebSocket listen address (0.0.0.0: all)")
    p.add_argument("--http-port", type=int, default=gw.http_port,
                   help="REST/WebSocket port (0: any free port; the one taken is printed and in <data-dir>/endpoints.json)")
    p.add_argument("--grpc-port", type=int, default=gw.grpc_port, help="gRPC port (0: any free port, as --http-port)")
    p.add_argument("--no-grpc", action="store_true", help="no gRPC ingress")
    p.add_argument("--gateway-replicas", type=int, default=gw.replicas)
    p.add_argument("--api-keys", type=Path, help="API keys file (aurigraph apikey new); default: no keys asked")
    p.add_argument("--allow-submit", action="append", default=[], metavar="NETWORK",
                   help="only clients in this network (10.0.0.0/8, 2001:db8::/32) or at this address may submit "
                        "transactions; repeatable (default: any client with the role)")
    p.add_argument("--allow-submit-file", type=Path, metavar="FILE",
                   help="more --allow-submit networks, one a line (# starts a comment)")
    p.add_argument("--trusted-proxy", action="append", default=[], metavar="NETWORK",
                   help="a reverse proxy whose X-Forwarded-For names the client (default: none; the client is "
                        "the socket peer); repeatable")
    p.add_argument("--rate-limit", type=float, default=gw.rate_limit_per_s,
                   help="requests/s per client (0: off)")
    p.add_argument("--rate-limit-burst", type=int, default=gw.rate_limit_burst, help="requests a client may burst")
    p.add_argument("--redis-url", help="share the rate limiter through Redis, e.g. redis://127.0.0.1:6379/0")
    p.add_argument("--postgres-dsn", default=os.environ.get(POSTGRES_DSN_ENV),
                   help=f"index committed blocks into PostgreSQL and serve account histories from it, e.g. "
                        f"postgresql://aurigraph@127.0.0.1:5432/aurigraph (default: ${POSTGRES_DSN_ENV}; none: off)")
    p.add_argument("--postgres-schema", default=defaults.postgres_schema, help="PostgreSQL schema of the index")
    p.add_argument("--optimizer", action="store_true",
                   help="run the AI optimizer: adaptive batching and election timing, anomaly scoring (docs/optimizer.md)")
    p.add_argument("--anomaly-threshold", type=float, help="flag above this score (default: the model's own)")
    p.add_argument("--anomaly-hold", action="store_true",
                   help="refuse flagged senders' further transactions until `aurigraph models release`")
    p.add_argument("--fixed-batching", action="store_true",
                   help="with --optimizer: keep --max-batch-txs / --batch-wait-ms (anomaly scoring only)")
    p.add_argument("--fixed-ticks", action="store_true",
                   help="with --optimizer: keep the configured election/heartbeat ticks")
    p.add_argument("--stream-queue-events", type=int, default=gw.stream_queue_events,
                   help="events a stream subscriber may fall behind before it is disconnected")
    p.add_argument("--tls-cert", type=Path, help="serve HTTPS and gRPC (TLS 1.3) with this certificate (PEM) ...")
    p.add_argument("--tls-key", type=Path, help="... and this key (aurigraph certs new; docs/security.md)")
    p.add_argument("--grpc-internal-port", type=int, default=gw.grpc_internal_port,
                   help="with TLS: Serve's plain-text gRPC port behind the TLS terminator (firewall it; 0: free)")
    p.add_argument("--keystore", choices=("file", "pkcs11"), default=defaults.keystore,
                   help="where validator keys live: encrypted files in the data dir, or a PKCS#11 HSM (docs/security.md)")
    p.add_argument("--hsm-module", type=Path, help="with --keystore pkcs11: the PKCS#11 module (.so)")
    p.add_argument("--hsm-token", help="with --keystore pkcs11: the token label")
    p.add_argument("--hsm-pin-file", type=Path, help="the HSM user PIN, if $AURIGRAPH_HSM_PIN is not set")
    p.add_argument("--admin-key", type=Path,
                   help="a chain admin's key file (node passphrase): signs the audit notes of membership changes "
                        "and model promotions (default: the data dir's keys/admin.key)")
    p.add_argument("--run-for-s", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=cmd_up)


def settings_from_args(args: argparse.Namespace) -> NodeSettings:
    try:
        return NodeSettings(data_dir=args.data_dir.resolve(), chain_id=args.chain_id, replicas=args.replicas,
                            validators=args.validators, shards=args.shards, max_batch_txs=args.max_batch_txs,
                            batch_wait_ms=args.batch_wait_ms, postgres_dsn=args.postgres_dsn or None,
                            postgres_schema=args.postgres_schema, optimizer=args.optimizer,
                            anomaly_threshold=args.anomaly_threshold, anomaly_hold=args.anomaly_hold,
                            adapt_batching=not args.fixed_batching, adapt_ticks=not args.fixed_ticks,
                            keystore=args.keystore, hsm_module=args.hsm_module, hsm_token=args.hsm_token,
                            hsm_pin_file=args.hsm_pin_file,
                            admin_key=args.admin_key.resolve() if args.admin_key else None)
    except ValueError as e:
        raise settings_error(e) from None


def gateway_settings_from_args(args: argparse.Namespace, data: DataDir) -> GatewaySettings:
    try:
        return GatewaySettings(http_host=args.http_host, http_port=args.http_port,
                               grpc_port=None if args.no_grpc else args.grpc_port,
                               replicas=args.gateway_replicas, api_keys_file=args.api_keys,
                               rate_limit_per_s=args.rate_limit, rate_limit_burst=args.rate_limit_burst,
                               redis_url=args.redis_url, postgres_dsn=args.postgres_dsn or None,
                               postgres_schema=args.postgres_schema,
                               ssl_certfile=args.tls_cert, ssl_keyfile=args.tls_key,
                               grpc_internal_port=args.grpc_internal_port,
                               stream_queue_events=args.stream_queue_events,
                               kem_public_key_file=data.kem_key,
                               submit_allowlist=args.allow_submit + (read_network_file(args.allow_submit_file)
                                                                     if args.allow_submit_file else []),
                               trusted_proxies=args.trusted_proxy)
    except ValueError as e:
        raise settings_error(e) from None


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    gateway = gateway_settings_from_args(args, DataDir(settings.data_dir))
    if gateway.api_keys_file is not None:
        try:
            load_key_file(gateway.api_keys_file)
        except ValueError as e:
            raise CliError(str(e)) from None
    try:  # validator keys are made in, or must already be in, the configured keystore
        with open_node_keystore(settings, DataDir(settings.data_dir)) as keystore:
            genesis = prepare(DataDir(settings.data_dir), settings.chain_id, settings.replicas, keystore=keystore)
            if keystore.kind == "pkcs11":
                check_node_keys(keystore, genesis)
    except KeystoreError as e:
        raise CliError(str(e)) from None
    if len(genesis.validators) != settings.replicas:
        settings = settings.model_copy(update={"replicas": len(genesis.validators)})
    data = DataDir(settings.data_dir)
    _remove_endpoints(data, unless_alive=True)  # a node that crashed left it
    gateway, reservations = _reserve_ports(gateway, local=args.address is None)
    try:
        return _run(args, settings, gateway, reservations, genesis.chain_id)
    finally:
        for r in reservations:
            r.release()
        _remove_endpoints(data, unless_alive=False)


def _remove_endpoints(data: DataDir, *, unless_alive: bool) -> None:
    """Remove `endpoints.json` if this process wrote it, or (`unless_alive`) if the process that
    wrote it is gone: never the file of another `aurigraph up` still serving this data dir."""
    try:
        pid = json.loads(data.endpoints.read_text())["pid"]
    except (OSError, ValueError, KeyError, TypeError):  # absent, or torn by a crash while written
        data.endpoints.unlink(missing_ok=True)
        return
    if pid == os.getpid() or (unless_alive and not _alive(pid)):
        data.endpoints.unlink(missing_ok=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _reserve_ports(gateway: GatewaySettings, *, local: bool) -> tuple[GatewaySettings, list[PortReservation]]:
    """With a local Ray, the gateway's ports are reserved before Ray starts, so nothing Ray starts
    can take them (serve_apps/ports.py). A cluster's proxies run on its machines, in its
    environment: their ports are the cluster's to keep free, and port 0 cannot be resolved here."""
    if not local:
        if gateway.http_port == 0 or gateway.grpc_port == 0 or (gateway.tls and gateway.grpc_internal_port == 0
                                                                 and gateway.grpc_port is not None):
            raise CliError("port 0 (any free port) needs a local Ray: with --address, give the ports "
                           "(--http-port, --grpc-port and with TLS --grpc-internal-port)")
        return gateway, []
    try:
        return reserve_gateway_ports(gateway)
    except PortInUseError as e:
        raise CliError(f"{e.strerror}: choose another port, or 0 for any free one") from None


def _run(args: argparse.Namespace, settings: NodeSettings, gateway: GatewaySettings,
         reservations: list[PortReservation], chain_id: str) -> int:
    configure_ray_auth(DataDir(settings.data_dir), local=args.address is None)
    from serve_apps.gateway import set_proxy_environment, start_gateway, stop_gateway

    set_proxy_environment(gateway, settings.data_dir)
    from actors.launcher import start_node  # imports Ray: only for this command, after the auth settings

    print(f"starting Ray {'at ' + args.address if args.address else 'locally'} …", flush=True)
    node = start_node(settings, address=args.address)
    print(f"node up: chain {chain_id} at height {node.height}, {settings.replicas} replicas "
          f"(leader: replica {node.leader}), "
          f"{settings.validators} validators, {settings.shards} shards"
          f"{', indexing into PostgreSQL' if settings.postgres_dsn else ''}"
          f"{', optimizer on' if settings.optimizer else ''}", flush=True)
    print("starting the gateway …", flush=True)
    try:
        start_gateway(gateway, reservations)
    except Exception as e:  # noqa: BLE001 - e.g. a port in use: say so in one line, leave nothing running
        stop_gateway()
        node.stop()
        raise CliError(f"the gateway did not start: {e}") from None
    endpoints = _endpoints(gateway, node.address)
    print(f"REST  {endpoints['rest']}  (docs: {endpoints['docs']}, stream: {endpoints['stream']})", flush=True)
    if endpoints["grpc"]:
        print(f"gRPC  {endpoints['grpc']}", flush=True)
    if gateway.submit_allowlist:
        print(f"submissions only from {', '.join(str(n) for n in gateway.submit_allowlist)}", flush=True)
    print(f"Ray   --address {node.address}  (e.g. aurigraph bench node --address {node.address} "
          f"--data-dir {settings.data_dir})", flush=True)
    replace_file(DataDir(settings.data_dir).endpoints, json.dumps(endpoints, indent=2).encode() + b"\n")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with contextlib.suppress(KeyboardInterrupt):
        stop.wait(args.run_for_s)
    print("stopping …", flush=True)
    stop_gateway()
    node.stop()
    return 0


def _endpoints(gateway: GatewaySettings, ray_address: str) -> dict:
    """What `<data-dir>/endpoints.json` holds while the node serves (the same as the printed lines):
    the URLs and ports it listens on, the Ray address, and the pid of this `aurigraph up`."""
    host = f"[{gateway.http_host}]" if ":" in gateway.http_host else gateway.http_host
    http = f"{'https' if gateway.tls else 'http'}://{host}:{gateway.http_port}"
    grpc = None if gateway.grpc_port is None else f"{'grpcs' if gateway.tls else 'grpc'}://{host}:{gateway.grpc_port}"
    return {"rest": f"{http}/v11", "docs": f"{http}/api/docs",
            "stream": f"{'wss' if gateway.tls else 'ws'}://{host}:{gateway.http_port}/v11/stream",
            "grpc": grpc, "http_port": gateway.http_port, "grpc_port": gateway.grpc_port,
            "ray_address": ray_address, "pid": os.getpid()}
