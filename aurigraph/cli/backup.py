"""`aurigraph backup` and `aurigraph restore`: back a node up, check a backup, restore it.

    aurigraph backup --address A --data-dir D --dest DIR   a running node (A: the Ray address that
                                                           `aurigraph up` printed; D for the Ray token)
    aurigraph backup --data-dir D --dest DIR               a stopped node, read from its data dir
    aurigraph backup verify DIR                            every file against the manifest
    aurigraph restore --from DIR --data-dir NEW            verify, then restore into a new data dir

What a backup holds and how consistent it is: `aurigraph.node.backup`; the manifest, checks and
restore: `aurigraph.storage.backup`. Progress goes to stderr, the result to stdout.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import time
from pathlib import Path

from aurigraph.cli.common import CliError
from aurigraph.node.backup import backup_stopped_node, summary
from aurigraph.node.datadir import DataDir
from aurigraph.storage.backup import BackupError, describe, restore, verify_backup

ONLINE_TIMEOUT_S = 900.0
CONNECT_TIMEOUT_S = 5.0


def register(sub: argparse._SubParsersAction) -> None:
    b = sub.add_parser("backup", help="back up a node: RocksDB checkpoints, genesis, keys and a manifest of digests",
                       description="Back up a node into a new folder. With --address, the running node takes "
                       "consistent RocksDB checkpoints itself; without it, the node must be stopped. The backup "
                       "holds the node keys: keep it as safe as the data dir.")
    b.add_argument("--dest", type=Path, help="the new backup folder (for a running node on a Ray cluster: a path "
                   "every Ray node can reach, like the data dir)")
    b.add_argument("--address", help="the running node's Ray address, as `aurigraph up` printed it (or 'auto' for "
                   "the local Ray instance); without it the node must be stopped")
    b.add_argument("--data-dir", type=Path, default=Path("data"),
                   help="the node's data dir: what is backed up without --address; where its Ray token is with it")
    b.add_argument("--json", action="store_true", help="print the result as JSON")
    b.set_defaults(func=cmd_backup)
    b_sub = b.add_subparsers(dest="backup_command", metavar="verify")
    v = b_sub.add_parser("verify", help="check a backup's files against its manifest (restores nothing)")
    v.add_argument("folder", type=Path)
    v.add_argument("--json", action="store_true", help="print the manifest's databases as JSON")
    v.set_defaults(func=cmd_verify)

    r = sub.add_parser("restore", help="verify a backup, then restore it into a new data dir",
                       description="Check every file of a backup against its manifest, then restore it into "
                       "--data-dir, which must not exist or be empty. Nothing is written unless the whole backup "
                       "checks out, and a failed restore leaves no partial data dir.")
    r.add_argument("--from", dest="source", type=Path, required=True, help="the backup folder")
    r.add_argument("--data-dir", type=Path, help="the new data dir (must not exist, or be empty)")
    r.add_argument("--verify-only", action="store_true", help="only check the backup (as `aurigraph backup verify`)")
    r.add_argument("--json", action="store_true", help="print the result as JSON")
    r.set_defaults(func=cmd_restore)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def cmd_backup(args: argparse.Namespace) -> int:
    if args.dest is None:
        raise CliError("--dest is required: the new folder to write the backup into")
    dest = args.dest.resolve()
    started = time.monotonic()
    try:
        if args.address:
            result = _backup_online(args.address, DataDir(args.data_dir), dest)
        else:
            _progress(f"backing up the stopped node in {args.data_dir} into {dest} …")
            result = summary(dest, backup_stopped_node(DataDir(args.data_dir.resolve()), dest, _progress))
    except BackupError as e:
        raise CliError(str(e)) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for rel, description in result["databases"].items():
        print(describe({"databases": {rel: description}})[0])
    print(f"backup of chain {result['chain_id']} written to {result['dest']}: {result['files']} files, "
          f"{result['bytes'] / 2**20:.1f} MiB, in {time.monotonic() - started:.1f} s")
    return 0


def _backup_online(address: str, data: DataDir, dest: Path) -> dict:
    """Ask the running node's supervisor to back itself up (its actors hold the databases open)."""
    from aurigraph.node.ray_auth import configure_ray_auth

    configure_ray_auth(data, local=False)  # before Ray is imported
    import ray

    from actors.launcher import connect_ray
    from actors.supervisor import NAMESPACE, SUPERVISOR_NAME

    _progress(f"connecting to the node's Ray cluster at {address} …")
    _check_reachable(address)
    try:
        connect_ray(address)
    except Exception as e:  # noqa: BLE001 — Ray raises many types for an unreachable or refusing cluster
        raise CliError(f"cannot connect to Ray at {address}: {e}") from None
    try:
        try:
            supervisor = ray.get_actor(SUPERVISOR_NAME, namespace=NAMESPACE)
        except ValueError:
            raise CliError(f"no Aurigraph node runs on the Ray cluster at {address}") from None
        _progress(f"the node is checkpointing its databases into {dest} …")
        try:
            return ray.get(supervisor.backup.remote(str(dest)), timeout=ONLINE_TIMEOUT_S)
        except ray.exceptions.RayTaskError as e:
            if isinstance(e.cause, BackupError):
                raise CliError(str(e.cause)) from None
            raise
        except ray.exceptions.GetTimeoutError:
            raise CliError(f"the node did not finish the backup within {ONLINE_TIMEOUT_S:.0f} s") from None
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail fast: Ray keeps retrying an address where nothing listens for minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # e.g. "auto": Ray finds the local instance itself
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        raise CliError(f"nothing answers at {address} ({e}): is the node up? Use the Ray address "
                       f"`aurigraph up` printed") from None


def cmd_verify(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        manifest = verify_backup(args.folder, _progress)
    except BackupError as e:
        raise CliError(str(e)) from None
    _print_checked(args, manifest, f"backup {args.folder} verified", started)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    if args.verify_only:
        args.folder = args.source
        return cmd_verify(args)
    if args.data_dir is None:
        raise CliError("--data-dir is required: the new data dir to restore into (or use --verify-only)")
    target = args.data_dir.resolve()
    started = time.monotonic()
    _progress(f"restoring {args.source} into {target} …")
    try:
        manifest = restore(args.source, target, _progress)
    except BackupError as e:
        raise CliError(str(e)) from None
    _print_checked(args, manifest, f"restored into {target}", started)
    if not args.json:
        print(f"start it with: aurigraph up --data-dir {target} --shards {manifest['shards']}")
        if not (target / "keys" / "passphrase").exists():
            print("its node keys are encrypted: set $AURIGRAPH_NODE_PASSPHRASE as the original node had it")
    return 0


def _print_checked(args: argparse.Namespace, manifest: dict, what: str, started: float) -> None:
    files = manifest["files"]
    if args.json:
        print(json.dumps({k: v for k, v in manifest.items() if k != "files"} | {"files": len(files)}, indent=2))
        return
    for line in describe(manifest):
        print(line)
    created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(manifest["created_ms"] / 1000))
    print(f"{what}: chain {manifest['chain_id']} (genesis {manifest['genesis_hash'][:16]}…), taken {created}, "
          f"{len(files)} files, {sum(f['size'] for f in files) / 2**20:.1f} MiB, all digests match "
          f"({time.monotonic() - started:.1f} s)")
