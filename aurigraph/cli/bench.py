"""`aurigraph bench crypto|consensus|node|gateway|single|idle|index|sync|models`: run a benchmark, print it, and write its
JSON result."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from aurigraph.bench import consensus, crypto
from aurigraph.bench.results import DEFAULT_RESULTS_DIR, write_result
from aurigraph.cli.common import CliError
from aurigraph.crypto import Scheme


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("bench", help="run benchmarks (results under benchmarks/results/)")
    b_sub = b.add_subparsers(dest="bench_command", required=True)
    c = b_sub.add_parser("crypto", help="sign/verify rates per scheme; verify_batch vs the bare library loop")
    c.add_argument("--batch", type=int, default=10_000, help="Ed25519 batch size (ML-DSA/hybrid use batch/5)")
    c.add_argument("--rounds", type=int, default=5, help="interleaved rounds (median of per-round ratios)")
    c.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    c.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    c.set_defaults(func=cmd_crypto)

    k = b_sub.add_parser("consensus", help="entries/s and txs/s through a 3-replica in-memory consensus core, "
                         "vs a bare replicated list")
    k.add_argument("--entries", type=int, default=20_000, help="entries per round and batch size")
    k.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median counts)")
    k.add_argument("--window", type=int, default=256, help="proposals in flight (and max in-flight appends)")
    k.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    k.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    k.set_defaults(func=cmd_consensus)

    s = b_sub.add_parser("security", help="compliance rules in the state machine vs none; hybrid block signing "
                         "with the Ed25519 half in SoftHSM2 vs in memory")
    s.add_argument("--txs", type=int, default=10_000, help="transfers in the block applied with and without rules")
    s.add_argument("--signatures", type=int, default=200, help="hybrid signatures per round and signer")
    s.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median of per-round ratios)")
    s.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    s.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    s.set_defaults(func=cmd_security)

    x = b_sub.add_parser("index", help="PostgreSQL indexer rows/s vs a raw COPY of the same rows")
    x.add_argument("--postgres-dsn", default=os.environ.get("AURIGRAPH_POSTGRES_DSN",
                                                          "postgresql://postgres@127.0.0.1:5432/test"),
                   help="a database to create (and drop) temporary schemas in (default: %(default)s)")
    x.add_argument("--blocks", type=int, default=100)
    x.add_argument("--txs-per-block", type=int, default=1_000)
    x.add_argument("--senders", type=int, default=1_000, help="distinct accounts sending")
    x.add_argument("--batch-blocks", type=int, default=16, help="blocks per SQL transaction (as the indexer)")
    x.add_argument("--rounds", type=int, default=3, help="interleaved rounds (median ratio)")
    x.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    x.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    x.set_defaults(func=cmd_index)

    n = b_sub.add_parser("node", help="committed TPS and finality through a node, vs the bare all-core verify rate")
    n.add_argument("--address", help="a running node's Ray address (from `aurigraph up`); default: start a "
                   "temporary node in a temporary data dir")
    n.add_argument("--data-dir", type=Path, default=Path("data"), help="with --address: the node's data dir (faucet key)")
    n.add_argument("--txs", type=int, default=20_000)
    n.add_argument("--batch-size", type=int, default=1_000)
    n.add_argument("--concurrency", type=int, default=4, help="clients submitting in parallel")
    n.add_argument("--scheme", type=Scheme.parse, default=Scheme.ED25519, help="ed25519, ml-dsa-87 or hybrid")
    n.add_argument("--rate", type=float, help="pace submissions to this many tx/s (default: as fast as committed)")
    n.add_argument("--replicas", type=int, default=3, help="for a temporary node")
    n.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    n.add_argument("--json", action="store_true")
    n.set_defaults(func=cmd_node)

    g = b_sub.add_parser("gateway", help="single and batch submits through the gateway (REST or gRPC), vs a bare "
                         "endpoint on the same protocol")
    g.add_argument("--via", choices=["rest", "grpc"], default="rest")
    g.add_argument("--url", help="a running gateway (http://… or grpc://…); default: start a temporary node "
                   "with `aurigraph up` in a temporary data dir")
    g.add_argument("--data-dir", type=Path, default=Path("data"), help="with --url: the node's data dir (faucet key)")
    g.add_argument("--api-key", help="with --url: a submitter key, if the gateway asks for one")
    g.add_argument("--single-txs", type=int, default=2_000, help="transactions sent one per request")
    g.add_argument("--batch-txs", type=int, default=20_000, help="transactions sent in batches")
    g.add_argument("--batch-size", type=int, default=1_000)
    g.add_argument("--concurrency", type=int, default=16, help="clients in parallel")
    g.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    g.add_argument("--json", action="store_true")
    g.set_defaults(func=cmd_gateway)

    t = b_sub.add_parser("single", help="clients sending one transaction per request and waiting for its commit "
                         "(REST and gRPC; many clients, and one alone), vs a 3-member etcd on this machine")
    t.add_argument("--url", help="a running gateway's REST URL (http://…); default: start a temporary node with "
                   "`aurigraph up` in a temporary data dir")
    t.add_argument("--grpc", help="with --url: the gateway's gRPC target (host:port)")
    t.add_argument("--data-dir", type=Path, default=Path("data"), help="with --url: the node's data dir (faucet key)")
    t.add_argument("--api-key", help="with --url: a submitter key, if the gateway asks for one")
    t.add_argument("--clients", type=int, default=64, help="concurrent clients (etcd: as many)")
    t.add_argument("--txs-per-client", type=int, default=40, help="transactions each client commits, one at a time")
    t.add_argument("--lone-txs", type=int, default=200, help="transactions of the lone client")
    t.add_argument("--no-etcd", action="store_true", help="skip the etcd baseline (no ratios)")
    t.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_single)

    d = b_sub.add_parser("idle", help="CPU of an idle node: every process under aurigraph up, as a share of one core")
    d.add_argument("--pid", type=int, help="a running node's `aurigraph up` pid (endpoints.json has it); default: "
                   "start a temporary node")
    d.add_argument("--seconds", type=float, default=30.0)
    d.add_argument("--settle", type=float, default=15.0, help="seconds a temporary node runs before measuring")
    d.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    d.add_argument("--json", action="store_true")
    d.set_defaults(func=cmd_idle)

    m = b_sub.add_parser("models", help="the shipped anomaly model vs the rule baseline on labelled synthetic "
                         "txs, and hot-path inference p50/p99 (NumPy vs the same weights in Keras)")
    m.add_argument("--seed", type=int, default=7, help="labelled set seed (the shipped model was trained on 0)")
    m.add_argument("--txs", type=int, default=20_000, help="labelled synthetic transactions")
    m.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    m.add_argument("--json", action="store_true", help="print the JSON result instead of a table")
    m.set_defaults(func=cmd_models)

    o = b_sub.add_parser("optimizer", help="replay an idle → ramp → burst → idle trace through a fresh node with "
                         "the optimizer and with each fixed batching setting: TPS and p99 finality")
    o.add_argument("--fixed", default="10000/0,2000/5,500/1", help="fixed MAX_BATCH_TXS/BATCH_WAIT_MS settings to "
                   "compare, comma-separated (default: %(default)s; 10000/0 is the node's default)")
    o.add_argument("--peak-tps", type=float, default=3_500.0, help="the burst's offered rate")
    o.add_argument("--seed", type=int, default=11, help="trace seed (the load model was trained on seed 0)")
    o.add_argument("--replicas", type=int, default=3)
    o.add_argument("--rounds", type=int, default=1, help="repeat every setting; medians are reported")
    o.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    o.add_argument("--json", action="store_true")
    o.set_defaults(func=cmd_optimizer)

    y = b_sub.add_parser("sync", help="seconds for a wiped replica to catch up (snapshot + log tail) with a chain "
                         "of N transactions, vs copying the same ledger state in process")
    y.add_argument("--txs", type=int, default=1_000_000, help="committed transactions in the chain")
    y.add_argument("--senders", type=int, default=1_000)
    y.add_argument("--accounts", type=int, default=100_000, help="recipient accounts (the state has about "
                   "senders + accounts rows)")
    y.add_argument("--snapshot-every-txs", type=int, help="the replicas' snapshot policy (default: "
                   "DriverSettings.snapshot_every_txs, what a node runs with)")
    y.add_argument("--work-dir", type=Path, help="where the temporary RocksDB folders go (default: the system's)")
    y.add_argument("--out-dir", type=Path, default=DEFAULT_RESULTS_DIR)
    y.add_argument("--json", action="store_true")
    y.set_defaults(func=cmd_sync)


def cmd_crypto(args: argparse.Namespace) -> int:
    if args.batch < 1 or args.rounds < 1:
        print("error: --batch and --rounds must be >= 1", file=sys.stderr)
        return 2
    result = crypto.run(args.batch, args.rounds, lambda msg: print(msg, file=sys.stderr, flush=True))
    return _report(args, "crypto", result, crypto.format_table)


def cmd_security(args: argparse.Namespace) -> int:
    if min(args.txs, args.signatures, args.rounds) < 1:
        raise CliError("--txs, --signatures and --rounds must be >= 1")
    from aurigraph.bench import security

    result = security.run(args.txs, args.signatures, args.rounds, lambda msg: print(msg, file=sys.stderr, flush=True))
    return _report(args, "security", result, security.format_table)


def cmd_index(args: argparse.Namespace) -> int:
    if min(args.blocks, args.txs_per_block, args.senders, args.batch_blocks, args.rounds) < 1:
        raise CliError("--blocks, --txs-per-block, --senders, --batch-blocks and --rounds must be >= 1")
    from aurigraph.bench import index  # asyncpg: only for this benchmark

    result = index.run(args.postgres_dsn, args.blocks, args.txs_per_block, args.senders, args.batch_blocks,
                       args.rounds, lambda msg: print(msg, file=sys.stderr, flush=True))
    return _report(args, "index", result, index.format_table)


def cmd_consensus(args: argparse.Namespace) -> int:
    if min(args.entries, args.rounds, args.window) < 1:
        raise CliError("--entries, --rounds and --window must be >= 1")
    result = consensus.run(args.entries, args.rounds, args.window, lambda msg: print(msg, file=sys.stderr, flush=True))
    return _report(args, "consensus", result, consensus.format_table)


def _report(args: argparse.Namespace, name: str, result: dict, format_table) -> int:
    """Write the result under --out-dir, print it (a table, or JSON with --json), say where it went."""
    path = write_result(name, result, args.out_dir)
    print(json.dumps(result, indent=2) if args.json else format_table(result))
    print(f"result written to {path}", file=sys.stderr)
    return 0


def _progress(message: str) -> None:
    print(f"\r\033[K{message}", end="", file=sys.stderr, flush=True)


def cmd_node(args: argparse.Namespace) -> int:
    import tempfile

    from aurigraph.node.datadir import DataDir, prepare
    from aurigraph.node.ray_auth import configure_ray_auth

    if args.address:
        configure_ray_auth(DataDir(args.data_dir), local=False)  # before Ray is imported

    import ray

    from actors.client import NodeClient
    from actors.launcher import connect_ray, start_node
    from actors.supervisor import INGRESS_NAME, NAMESPACE, replica_name
    from aurigraph.bench import node as node_bench
    from aurigraph.codec.node import decode_account
    from aurigraph.keystore import load_keypair
    from aurigraph.node.config import NodeSettings, usable_cpus

    if min(args.txs, args.batch_size, args.concurrency, args.replicas) < 1 or args.txs < args.concurrency:
        raise CliError("--txs, --batch-size, --concurrency and --replicas must be >= 1, and --txs >= --concurrency")
    plan = node_bench.Plan(args.txs, args.batch_size, args.concurrency, args.scheme, args.rate)
    started_node, tmp = None, None
    if args.address:
        data = DataDir(args.data_dir)
        connect_ray(args.address)
        ingress = ray.get_actor(INGRESS_NAME, namespace=NAMESPACE)
        replicas = len(data.load_genesis().validators)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="aurigraph-bench-")
        data = DataDir(Path(tmp.name))
        settings = NodeSettings(data_dir=data.root, replicas=args.replicas)
        prepare(data, settings.chain_id, settings.replicas, log=_progress)
        _progress("starting a temporary node on a local Ray instance …")
        started_node = start_node(settings)
        ingress, replicas = started_node.ingress, args.replicas
    try:
        client = NodeClient(ingress, data.load_genesis().chain_id, load_keypair(data.faucet_key, data.passphrase()))
        if args.address:  # a node that ran before: the faucet's next nonce is the chain's, not 0
            replica = ray.get_actor(replica_name(data.load_genesis().validators[0].id), namespace=NAMESPACE)
            client.next_nonce[client.faucet.address] = decode_account(
                ray.get(replica.get_account.remote(client.faucet.address), timeout=30))[1]
        batches = node_bench.generate(client, plan, _progress)
        _progress("measuring bare signature verification of the same transactions on all cores …")
        bare = node_bench.bare_verify_tps([w for group in batches for batch in group for w in batch])
        meter = _node_meter(data, started_node is not None)
        if meter is not None:
            meter.start()
        result = node_bench.run_load(client, batches, plan, _progress)
        result["cpu"] = meter.stop(result["committed"]) if meter is not None else None
    finally:
        if started_node is not None:
            started_node.stop()
        if tmp is not None:
            tmp.cleanup()
    print(file=sys.stderr)
    result.update(txs=result["committed"], replicas=replicas, scheme=plan.scheme.label, batch_size=plan.batch_size,
                  concurrency=plan.concurrency, rate_tps=plan.rate_tps, bare_verify_tps=round(bare, 1),
                  cpus=usable_cpus(), tps_over_bare_verify=round(result["committed_tps"] / bare, 3))
    return _report(args, "node", result, node_bench.format_result)


def _up_pid(data) -> int | None:
    """The pid of the `aurigraph up` serving `data`, if it runs on this machine (its endpoints.json)."""
    import psutil

    try:
        pid = int(json.loads((data.root / "endpoints.json").read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return pid if psutil.pid_exists(pid) else None


def _node_meter(data, in_this_process: bool):
    """A `CpuMeter` over the node's processes, its replicas named (leader or follower): the ones
    under this process for a node it started, else those under the data dir's `aurigraph up`
    (None if that is not known here, e.g. a node on other machines)."""
    import ray

    from actors.supervisor import NAMESPACE, replica_name
    from aurigraph.bench.cpu import CpuMeter

    root = os.getpid() if in_this_process else _up_pid(data)
    if root is None:
        return None
    names = {}
    for v in data.load_genesis().validators:
        h = ray.get(ray.get_actor(replica_name(v.id), namespace=NAMESPACE).health.remote(), timeout=30)
        if "pid" in h:  # (a node from before replicas said their pid: unnamed, labelled by command line)
            names[h["pid"]] = f"ConsensusReplica {v.id} ({'leader' if h['leader'] else 'follower'})"
    return CpuMeter(root, names)


def cmd_gateway(args: argparse.Namespace) -> int:
    import subprocess
    import tempfile

    from aurigraph.bench import gateway
    from aurigraph.bench.stack import spawn_up
    from aurigraph.keystore import load_keypair
    from aurigraph.node.config import usable_cpus
    from aurigraph.node.datadir import DataDir

    if min(args.single_txs, args.batch_txs, args.batch_size, args.concurrency) < 1:
        raise CliError("--single-txs, --batch-txs, --batch-size and --concurrency must be >= 1")
    plan = gateway.Plan(args.single_txs, args.batch_txs, args.batch_size, args.concurrency)
    stack, tmp = None, None
    bare = subprocess.Popen([sys.executable, "-m", "aurigraph.bench.bare", args.via], stdout=subprocess.PIPE,  # nosec B603  # this interpreter, a fixed module, argv list, no shell
                            text=True)
    try:
        said = bare.stdout.readline()  # "PORT <n>", once it listens on a port the kernel picked
        if not said.startswith("PORT "):
            raise CliError(f"the bare baseline endpoint did not start (exit status {bare.poll()})")
        bare_port = int(said.split()[1])
        if args.url:
            url, data = args.url, DataDir(args.data_dir)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="aurigraph-bench-")
            _progress("starting a temporary node and gateway (aurigraph up) …")
            stack = spawn_up(Path(tmp.name), "--rate-limit", "0")
            url = stack.url if args.via == "rest" else f"grpc://{stack.grpc_target}"
            data = stack.data
        bare_url = f"http://127.0.0.1:{bare_port}" if args.via == "rest" else f"grpc://127.0.0.1:{bare_port}"
        faucet = load_keypair(data.faucet_key, data.passphrase())
        result = gateway.run(url, bare_url, faucet, plan, args.api_key, _progress)
    finally:
        bare.terminate()
        bare.wait()
        if stack is not None:
            stack.stop()
        if tmp is not None:
            tmp.cleanup()
    print(file=sys.stderr)
    result.update(via=args.via, cpus=usable_cpus())
    return _report(args, f"gateway-{args.via}", result, gateway.format_result)


def cmd_single(args: argparse.Namespace) -> int:
    import tempfile

    from aurigraph.bench import etcd, single
    from aurigraph.bench.stack import spawn_up
    from aurigraph.keystore import load_keypair
    from aurigraph.node.config import usable_cpus
    from aurigraph.node.datadir import DataDir

    if min(args.clients, args.txs_per_client, args.lone_txs) < 2:
        raise CliError("--clients, --txs-per-client and --lone-txs must be >= 2")
    plan = single.Plan(args.clients, args.txs_per_client, args.lone_txs)
    result: dict = {"clients": plan.clients, "cpus": usable_cpus()}
    if not args.no_etcd:
        _progress("etcd: starting 3 members …")
        try:
            with etcd.EtcdCluster() as cluster:
                _progress("etcd: one client, one put at a time …")
                lone = etcd.put_load(cluster, 1, plan.lone_txs)
                _progress(f"etcd: {plan.clients} clients, one put each at a time …")
                result["etcd"] = {"concurrent": etcd.put_load(cluster, plan.clients, plan.txs_per_client), "lone": lone}
        except etcd.EtcdUnavailable as e:
            print(f"\nwarning: no etcd baseline: {e}", file=sys.stderr)
    stack, tmp = None, None
    try:
        if args.url:
            urls = {"rest": args.url, **({"grpc": f"grpc://{args.grpc}"} if args.grpc else {})}
            data = DataDir(args.data_dir)
        else:
            tmp = tempfile.TemporaryDirectory(prefix="aurigraph-bench-")
            _progress("starting a temporary node and gateway (aurigraph up) …")
            stack = spawn_up(Path(tmp.name), "--rate-limit", "0")
            urls, data = {"rest": stack.url, "grpc": f"grpc://{stack.grpc_target}"}, stack.data
        faucet = load_keypair(data.faucet_key, data.passphrase())
        node_pid = stack.process.pid if stack is not None else _up_pid(data)
        result.update(single.run(urls, faucet, plan, args.api_key, _progress, node_pid))
    finally:
        if stack is not None:
            stack.stop()
        if tmp is not None:
            tmp.cleanup()
    print(file=sys.stderr)
    single.add_ratios(result)
    return _report(args, "single", result, single.format_result)


def cmd_idle(args: argparse.Namespace) -> int:
    from aurigraph.bench import idle

    if args.seconds <= 0 or args.settle < 0:
        raise CliError("--seconds must be > 0 and --settle >= 0")
    if args.pid:
        try:
            result = idle.measure(args.pid, args.seconds)
        except idle.psutil.NoSuchProcess:
            raise CliError(f"no process {args.pid}") from None
    else:
        result = idle.run(args.seconds, args.settle, _progress)
        print(file=sys.stderr)
    return _report(args, "idle", result, idle.format_result)


def cmd_models(args: argparse.Namespace) -> int:
    from aurigraph.bench import models

    if args.txs < 2:
        raise CliError("--txs must be >= 2")
    result = models.run(args.seed, args.txs, lambda msg: print(msg, file=sys.stderr, flush=True))
    return _report(args, "models", result, models.format_result)


def cmd_optimizer(args: argparse.Namespace) -> int:
    from aurigraph.bench import adaptive

    try:
        fixed = [adaptive.Setting.parse_fixed(t) for t in args.fixed.split(",") if t.strip()]
    except ValueError as e:
        raise CliError(str(e)) from None
    if not fixed or args.peak_tps <= 0 or args.replicas < 1 or args.rounds < 1:
        raise CliError("give at least one --fixed setting, --peak-tps > 0, --replicas >= 1 and --rounds >= 1")
    result = adaptive.run(fixed, args.seed, args.peak_tps, args.replicas, args.rounds, _progress)
    print(file=sys.stderr)
    return _report(args, "optimizer", result, adaptive.format_result)


def cmd_sync(args: argparse.Namespace) -> int:
    from aurigraph.bench import sync
    from aurigraph.node.replica import DriverSettings

    every = DriverSettings().snapshot_every_txs if args.snapshot_every_txs is None else args.snapshot_every_txs
    if min(args.txs, args.senders, args.accounts, every) < 1:
        raise CliError("--txs, --senders, --accounts and --snapshot-every-txs must be >= 1")
    plan = sync.Plan(args.txs, args.senders, args.accounts, every)
    result = sync.run(plan, lambda msg: print(msg, file=sys.stderr, flush=True), args.work_dir)
    return _report(args, "sync", result, sync.format_result)
