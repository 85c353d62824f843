"""A node's backup: which databases and files it holds, in which order they are taken, restore.

A backup folder is laid out like the data dir (`aurigraph.node.datadir`), plus its manifest
(`aurigraph.storage.backup`, which also checks and restores it):

    genesis.json
    keys/                       node keys (encrypted) and, on a dev node, the passphrase file
    replica-<id>/ledger, replica-<id>/log, shard-<n>/archive   RocksDB checkpoints
    manifest.json               chain id, genesis hash, replica and shard counts, every database's
                                head, every file's size and BLAKE3 digest

A backup is as sensitive as the data dir: it holds the node keys, and a dev node's passphrase file
with them. (The Ray token of a local Ray instance is left out: a restored node makes its own.)

Order and consistency, for a running node (`actors.supervisor.Supervisor.backup`, which asks each
actor to checkpoint its own databases, then calls `finish`) and a stopped one (`backup_stopped_node`):
- a replica's ledger and log are checkpointed in one step of its loop: the pair is what a crash at
  that moment would have left on its disk;
- the shards are taken before the replicas, so every block in a backed-up archive was committed on a
  quorum before any replica was taken, and is in the restored replicas' logs or ledgers: a restored
  node cannot build a different block at a height the archive holds;
- the replicas are taken at about the same time, not at one instant, so a restored node is as if
  its replicas had crashed at slightly different moments: Raft recovers from that (the ones behind
  catch up). Transactions committed after the last replica was taken are not in the backup.

A restored data dir runs with `aurigraph up --data-dir NEW --shards N`, N as in the manifest (a
shard archives the heights `height % N`).
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path

from aurigraph.codec.genesis import genesis_from_json
from aurigraph.ledger import block_hash, genesis_block
from aurigraph.node.datadir import DataDir
from aurigraph.storage.backup import (
    ARCHIVE,
    LEDGER,
    RAFT_LOG,
    BackupError,
    Progress,
    checkpoint_db,
    copy_file,
    describe_db,
    discard,
    open_existing_db,
    prepare_destination,
    take_checkpoint,
    write_manifest,
)

KEYS_LEFT_OUT = frozenset({"ray_auth_token"})
_HERE = DataDir(Path())  # the data dir layout, relative: paths inside a backup


def prepare(source: DataDir, dest: Path) -> bool:
    """Create the backup folder `dest`, outside the data dir; True if it was created (see `discard`)."""
    if dest.resolve().is_relative_to(source.root.resolve()):
        raise BackupError(f"the backup folder {dest} is inside the data dir {source.root}: choose one outside it")
    return prepare_destination(dest)


def checkpoint_replica(node_id: int, ledger_db, log_db, dest: Path) -> dict[str, tuple[Path, str]]:
    """Checkpoint a replica's open databases into the backup folder `dest`; returns path in the
    backup -> (folder, kind), for `describe` (which reads the copies, so it may run later and off
    the replica's loop). The caller makes sure nothing is written to either in between."""
    folder = _HERE.replica(node_id).as_posix()
    taken = {f"{folder}/ledger": (dest / folder / "ledger", LEDGER), f"{folder}/log": (dest / folder / "log", RAFT_LOG)}
    take_checkpoint(ledger_db, *taken[f"{folder}/ledger"])
    take_checkpoint(log_db, *taken[f"{folder}/log"])
    return taken


def describe(taken: dict[str, tuple[Path, str]]) -> dict[str, dict]:
    """Path in the backup -> the manifest's description of that checkpoint."""
    return {rel: describe_db(folder, kind) for rel, (folder, kind) in taken.items()}


def checkpoint_shard(index: int, db, dest: Path) -> dict[str, dict]:
    """Checkpoint a shard's open archive into the backup folder `dest`."""
    rel = _HERE.shard(index).as_posix()
    return {rel: checkpoint_db(db, dest / rel, ARCHIVE)}


def finish(dest: DataDir, source: DataDir, databases: dict[str, dict], replicas: int, shards: int,
           progress: Progress = lambda _: None) -> dict:
    """After the checkpoints: copy genesis and keys from `source` into `dest`, write the manifest."""
    genesis = genesis_from_json(source.genesis.read_text())
    copy_file(source.genesis, dest.genesis)
    keys = source.root / "keys"
    if keys.is_dir():
        for path in sorted(keys.iterdir()):
            if path.is_file() and path.name not in KEYS_LEFT_OUT:
                copy_file(path, dest.root / "keys" / path.name)
    fields = {"chain_id": genesis.chain_id, "genesis_hash": block_hash(genesis_block(genesis).header).hex(),
              "replicas": replicas, "shards": shards}
    return write_manifest(dest.root, fields, databases, progress)


def summary(root: Path, manifest: dict) -> dict:
    """What a finished backup holds, in short (returned by `Supervisor.backup`, printed by the CLI)."""
    return {"dest": str(root), "created_ms": manifest["created_ms"], "chain_id": manifest["chain_id"],
            "genesis_hash": manifest["genesis_hash"], "replicas": manifest["replicas"],
            "shards": manifest["shards"], "files": len(manifest["files"]),
            "bytes": sum(f["size"] for f in manifest["files"]), "databases": manifest["databases"]}


def layout_of(source: DataDir) -> tuple[list[int], int]:
    """The replica ids and the shard count of a stopped node's data dir, from its folders."""
    if not source.genesis.is_file():
        raise BackupError(f"{source.root} is not a node's data dir (no genesis.json)")
    replicas = sorted(int(m.group(1)) for p in source.root.iterdir() if (m := re.fullmatch(r"replica-(\d+)", p.name)))
    shards = sorted(int(m.group(1)) for p in source.root.iterdir() if (m := re.fullmatch(r"shard-(\d+)", p.name)))
    if not replicas:
        raise BackupError(f"{source.root} has no replica folders: the node never ran here")
    if shards != list(range(len(shards))):
        raise BackupError(f"{source.root}: shard folders {shards} are not 0..N-1")
    return replicas, len(shards)


def backup_stopped_node(source: DataDir, dest: Path, progress: Progress = lambda _: None) -> dict:
    """Back up the data dir of a node that is not running (its databases must not be open)."""
    replicas, shards = layout_of(source)
    created = prepare(source, dest)
    out = DataDir(dest)
    try:
        databases = {}
        for index in range(shards):
            with _opened(source.shard(index)) as db:
                databases.update(checkpoint_shard(index, db, dest))
            progress(f"checkpointed {_HERE.shard(index)}")
        for node_id in replicas:
            folder = source.replica(node_id)
            with _opened(folder / "ledger") as ledger_db, _opened(folder / "log") as log_db:
                databases.update(describe(checkpoint_replica(node_id, ledger_db, log_db, dest)))
            progress(f"checkpointed {_HERE.replica(node_id)}")
        manifest = finish(out, source, databases, len(replicas), shards, progress)
    except BaseException:
        discard(dest, created)
        raise
    return manifest


@contextmanager
def _opened(folder: Path):
    db = open_existing_db(folder)
    try:
        yield db
    finally:
        db.close()
