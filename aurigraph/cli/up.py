"""`aurigraph up`: run a node on a local Ray instance (or join a cluster with --address).

Creates the data dir's genesis and node keys on first start (a dev chain), starts the actors through
the supervisor, waits for a leader, prints where the node can be reached, and runs until Ctrl-C.
Restarting with the same --data-dir continues the same chain.
"""

from __future__ import annotations

import argparse
import signal
import threading
from pathlib import Path

from aurigraph.cli.common import CliError
from aurigraph.node.config import NodeSettings
from aurigraph.node.datadir import DataDir, prepare
from aurigraph.node.ray_auth import configure_ray_auth


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
    p.add_argument("--run-for-s", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    p.set_defaults(func=cmd_up)


def settings_from_args(args: argparse.Namespace) -> NodeSettings:
    try:
        return NodeSettings(data_dir=args.data_dir.resolve(), chain_id=args.chain_id, replicas=args.replicas,
                            validators=args.validators, shards=args.shards, max_batch_txs=args.max_batch_txs,
                            batch_wait_ms=args.batch_wait_ms)
    except ValueError as e:
        raise CliError(str(e)) from None


def cmd_up(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    genesis = prepare(DataDir(settings.data_dir), settings.chain_id, settings.replicas)
    if len(genesis.validators) != settings.replicas:
        settings = settings.model_copy(update={"replicas": len(genesis.validators)})
    configure_ray_auth(DataDir(settings.data_dir), local=args.address is None)
    from actors.launcher import start_node  # imports Ray: only for this command, after the auth settings

    print(f"starting Ray {'at ' + args.address if args.address else 'locally'} …", flush=True)
    node = start_node(settings, address=args.address)
    print(f"node up: chain {genesis.chain_id} at height {node.height}, {settings.replicas} replicas "
          f"(leader: replica {node.leader}), "
          f"{settings.validators} validators, {settings.shards} shards", flush=True)
    print(f"submit through Ray actor '{node.ingress_name}' in namespace '{node.namespace}' "
          f""
          f"(try: aurigraph bench node --address {node.address} --data-dir {settings.data_dir})", flush=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait(args.run_for_s)
    except KeyboardInterrupt:
        pass
    print("stopping …", flush=True)
    node.stop()
    return 0
