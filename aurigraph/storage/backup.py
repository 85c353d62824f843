"""Backups of RocksDB databases: checkpoints, a manifest of BLAKE3 digests, verification, restore.

A backup is one folder: RocksDB checkpoints and plain files at relative paths, plus `manifest.json`,
written last (a folder without one is an incomplete backup):

    {"format": "aurigraph-backup", "version": 1, "created_ms": …, <caller's fields: chain id, …>,
     "databases": {"<rel path>": {"kind": "ledger", "head_height": …, "head_hash": …, …}, …},
     "files": [{"path": "<rel path>", "size": …, "mode": …, "blake3": "<hex>"}, …]}

Taking one: only the process that holds a database open can checkpoint it (RocksDB's lock keeps
others out), so that process calls `checkpoint_db`: a RocksDB checkpoint is a point-in-time copy of
one database (memtable flushed, SST files hard-linked when the backup is on the same filesystem,
else copied), described (head, last index, …) by opening the checkpoint read-only. Then one process
copies the plain files in (`copy_file`) and calls `write_manifest`. Which databases and files make
up a node's backup, and in what order they are taken, is `aurigraph.node.backup`'s business.

Restoring: `verify_backup` checks every listed file's size and digest, that nothing is missing or
unlisted and that no path leaves the folder. `restore` runs it before writing anything, refuses a
target that exists and is not empty, copies into a temporary folder next to the target (hashing
what it writes), opens every copied database to check it against the manifest, and only then
renames the folder into place: a failed restore leaves no half-restored target behind.

The digests catch corruption and incomplete copies; they are not a signature: whoever can rewrite
a backup's files can rewrite its manifest too. Keep backups where only the operator can write.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path, PurePosixPath

from blake3 import blake3
from rocksdict import AccessType, Checkpoint, Options, Rdict

from aurigraph.codec.blocks import index_block_record
from aurigraph.ledger import block_hash
from aurigraph.storage.archive import BlockArchive
from aurigraph.storage.durable import fsync_dir, replace_file
from aurigraph.storage.raft_log import RocksRaftStorage
from aurigraph.storage.state_store import RocksState

MANIFEST = "manifest.json"
FORMAT = "aurigraph-backup"
VERSION = 1
LEDGER, RAFT_LOG, ARCHIVE = "ledger", "raft_log", "archive"
KINDS = (LEDGER, RAFT_LOG, ARCHIVE)
_CHUNK = 1 << 20
_PROGRESS_PERIOD_S = 1.0

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


class BackupError(Exception):
    """A backup or restore that cannot go on, for a reason the operator can act on."""


# --- taking a backup ----------------------------------------------------------------------------

def prepare_destination(root: Path) -> bool:
    """Create the backup folder (owner-only: it holds key files); refuse one with anything in it.
    True if it was created (see `discard`)."""
    if root.exists():
        if not root.is_dir() or any(root.iterdir()):
            raise BackupError(f"{root} exists and is not an empty folder: back up into a new one")
        return False
    root.mkdir(mode=0o700, parents=True)
    return True


def open_existing_db(folder: Path) -> Rdict:
    """Open an existing database read-write (never creating one), for a backup of a stopped node."""
    if not (folder / "CURRENT").is_file():
        raise BackupError(f"{folder} is not a RocksDB database")
    options = Options(raw_mode=True)
    options.create_if_missing(False)
    try:
        return Rdict(str(folder), options)
    except Exception as e:  # rocksdict raises plain Exception; a held lock means a running node
        if "lock" in str(e).lower():
            raise BackupError(f"{folder} is in use (is the node running? back it up online, "
                              f"through its Ray address)") from e
        raise BackupError(f"cannot open {folder}: {e}") from e


def checkpoint_db(db: Rdict, folder: Path, kind: str) -> dict:
    """Checkpoint the open `db` into `folder` (which must not exist yet) and describe the copy."""
    take_checkpoint(db, folder, kind)
    return describe_db(folder, kind)


def take_checkpoint(db: Rdict, folder: Path, kind: str) -> None:
    """Only the checkpoint (a memtable flush and hard links): what must happen while the owner
    writes nothing. Describing the copy (`describe_db`) can follow at leisure."""
    if kind not in KINDS:
        raise ValueError(f"unknown database kind {kind!r}")
    if folder.exists():
        raise BackupError(f"{folder} already exists")
    folder.parent.mkdir(parents=True, exist_ok=True)
    Checkpoint(db).create_checkpoint(str(folder))


def describe_db(folder: Path, kind: str) -> dict:
    """What a database holds, as the manifest records it (read-only: the folder is not changed)."""
    options = Options(raw_mode=True)
    options.create_if_missing(False)
    db = Rdict(str(folder), options, access_type=AccessType.read_only())
    try:
        if kind == LEDGER:
            head = RocksState(db).head
            return {"kind": kind, "head_height": head.height, "head_hash": block_hash(head).hex(),
                    "state_digest": head.state_digest.hex()}
        if kind == RAFT_LOG:
            log = RocksRaftStorage(db)
            hard_state, _ = log.initial_state()
            return {"kind": kind, "first_index": log.first_index(), "last_index": log.last_index(),
                    "term": hard_state.term, "commit": hard_state.commit,
                    "snapshot_index": log.snapshot().metadata.index}
        if kind == ARCHIVE:
            archive = BlockArchive(db)
            latest = archive.latest_height()
            latest_hash = "" if latest is None else index_block_record(archive.record_bytes(latest)).hash.hex()
            return {"kind": kind, "latest_height": -1 if latest is None else latest, "latest_hash": latest_hash}
        raise ValueError(f"unknown database kind {kind!r}")
    finally:
        db.close()


def copy_file(src: Path, dst: Path) -> None:
    """Copy a plain file into a backup (or a restore), durably, keeping its permission bits."""
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        shutil.copyfileobj(fin, fout, _CHUNK)
        fout.flush()
        os.fsync(fout.fileno())
    os.chmod(dst, stat.S_IMODE(src.stat().st_mode))


def write_manifest(root: Path, fields: dict, databases: dict[str, dict], progress: Progress = _quiet) -> dict:
    """Hash every file under `root` and write the manifest (last, atomically); returns it."""
    for rel, description in databases.items():
        _check_rel_path(rel)
        if description.get("kind") not in KINDS:
            raise ValueError(f"database {rel}: unknown kind {description.get('kind')!r}")
    paths = [p for p in _files_under(root) if p != MANIFEST]
    meter = _Meter("hashed", len(paths), sum((root / p).stat().st_size for p in paths), progress)
    files = []
    for rel in paths:
        size, digest = _digest(root / rel)
        files.append({"path": rel, "size": size, "mode": stat.S_IMODE((root / rel).stat().st_mode), "blake3": digest})
        meter.add(size)
    meter.done()
    manifest = {"format": FORMAT, "version": VERSION, "created_ms": time.time_ns() // 1_000_000, **fields,
                "databases": dict(sorted(databases.items())), "files": files}
    replace_file(root / MANIFEST, json.dumps(manifest, indent=1).encode())
    for folder in _folders_of(root, paths):
        fsync_dir(folder)
    return manifest


def discard(root: Path, created: bool) -> None:
    """Remove what a failed backup wrote (checkpoint files are links or copies: live data stays),
    and the folder itself if `prepare_destination` created it."""
    if created:
        shutil.rmtree(root, ignore_errors=True)
        return
    for child in root.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


# --- checking and restoring ---------------------------------------------------------------------

def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    if not root.is_dir():
        raise BackupError(f"{root} is not a folder")
    if not path.is_file():
        raise BackupError(f"{root} has no {MANIFEST}: not a backup, or an incomplete one "
                          f"(a backup writes its manifest last)")
    try:
        manifest = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise BackupError(f"{path} is not valid JSON: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path} is not an Aurigraph backup manifest")
    if manifest.get("version") != VERSION:
        raise BackupError(f"{path}: manifest version {manifest.get('version')!r} is not supported (this "
                          f"release reads version {VERSION})")
    try:
        for entry in manifest["files"]:
            _check_rel_path(entry["path"])
            if not (isinstance(entry["size"], int) and isinstance(entry["blake3"], str)):
                raise TypeError(f"bad entry for {entry['path']}")
        for rel, description in manifest["databases"].items():
            _check_rel_path(rel)
            if description["kind"] not in KINDS:
                raise ValueError(f"database {rel}: unknown kind {description['kind']!r}")
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise BackupError(f"{path} is malformed: {e}") from None
    return manifest


def verify_backup(root: Path, progress: Progress = _quiet) -> dict:
    """Check every file against the manifest; raises `BackupError` naming each problem found."""
    manifest = read_manifest(root)
    listed = {e["path"]: e for e in manifest["files"]}
    problems = [f"{p}: not in the manifest" for p in _files_under(root) if p != MANIFEST and p not in listed]
    for rel in manifest["databases"]:
        if not any(p.startswith(rel + "/") for p in listed):
            problems.append(f"{rel}: database has no files in the manifest")
    meter = _Meter("verified", len(listed), sum(e["size"] for e in listed.values()), progress)
    for rel, entry in listed.items():
        path = root / rel
        if path.is_symlink() or not path.is_file():
            problems.append(f"{rel}: missing")
        elif path.stat().st_size != entry["size"]:
            problems.append(f"{rel}: size {path.stat().st_size}, manifest says {entry['size']}")
        elif _digest(path)[1] != entry["blake3"]:
            problems.append(f"{rel}: BLAKE3 digest does not match the manifest (corrupted or modified)")
        meter.add(entry["size"])
    meter.done()
    if problems:
        shown = "\n  ".join(problems[:20]) + (f"\n  … and {len(problems) - 20} more" if len(problems) > 20 else "")
        raise BackupError(f"backup {root} failed verification:\n  {shown}")
    return manifest


def restore(root: Path, target: Path, progress: Progress = _quiet) -> dict:
    """Verify the backup at `root`, then restore it as `target` (absent, or an empty folder)."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise BackupError(f"{target} exists and is not empty: restore into a new or empty folder")
    manifest = verify_backup(root, progress)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restoring-", dir=target.parent))  # mode 0o700
    try:
        files = manifest["files"]
        meter = _Meter("copied", len(files), sum(e["size"] for e in files), progress)
        for entry in files:
            _copy_checked(root / entry["path"], staging / entry["path"], entry)
            meter.add(entry["size"])
        meter.done()
        for rel, expected in manifest["databases"].items():
            try:
                found = describe_db(staging / rel, expected["kind"])
            except Exception as e:  # rocksdict raises plain Exception for a database it cannot open
                raise BackupError(f"restored database {rel} does not open: {e}") from e
            if found != expected:
                raise BackupError(f"restored database {rel} does not match the manifest: {found} != {expected}")
            progress(f"checked {rel}: {_summary(found)}")
        for folder in _folders_of(staging, [e["path"] for e in files]):
            fsync_dir(folder)
        os.replace(staging, target)
        fsync_dir(target.parent)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return manifest


def describe(manifest: dict) -> list[str]:
    """One line per database of a manifest, for people."""
    return [f"{rel}: {_summary(d)}" for rel, d in manifest["databases"].items()]


# --- helpers --------------------------------------------------------------------------------------

def _summary(d: dict) -> str:
    if d["kind"] == LEDGER:
        return f"ledger at height {d['head_height']} (block {d['head_hash'][:16]}…, state {d['state_digest'][:16]}…)"
    if d["kind"] == RAFT_LOG:
        return f"raft log entries {d['first_index']}..{d['last_index']}, commit {d['commit']}, term {d['term']}"
    return f"archive up to height {d['latest_height']}"


def _check_rel_path(rel: str) -> None:
    """A manifest path must stay inside the backup (no absolute paths, '..' or odd components)."""
    if not isinstance(rel, str) or not rel or "\\" in rel:
        raise ValueError(f"unsafe path {rel!r}")
    p = PurePosixPath(rel)
    if p.is_absolute() or str(p) != rel or any(part in (".", "..") for part in p.parts):
        raise ValueError(f"unsafe path {rel!r}")


def _files_under(root: Path) -> list[str]:
    """Relative POSIX paths of every non-directory under `root`, sorted."""
    out = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        out += [Path(folder, n).relative_to(root).as_posix() for n in names]
        out += [Path(folder, d).relative_to(root).as_posix() for d in dirs if Path(folder, d).is_symlink()]
    return sorted(out)


def _folders_of(root: Path, paths: list[str]) -> list[Path]:
    """`root` and every folder between it and the files at `paths`, deepest first."""
    folders = {root}
    for rel in paths:
        folders.update(root / parent for parent in PurePosixPath(rel).parents if str(parent) != ".")
    return sorted(folders, key=lambda f: len(f.parts), reverse=True)


def _digest(path: Path) -> tuple[int, str]:
    h, size = blake3(), 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _copy_checked(src: Path, dst: Path, entry: dict) -> None:
    """Copy and hash what was read in the same pass: a file changed since verification is caught."""
    dst.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    h, size = blake3(), 0
    with open(src, "rb") as fin, open(dst, "xb") as fout:
        while chunk := fin.read(_CHUNK):
            h.update(chunk)
            fout.write(chunk)
            size += len(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    if size != entry["size"] or h.hexdigest() != entry["blake3"]:
        raise BackupError(f"{entry['path']} changed while it was being restored (digest no longer matches)")
    mode = entry.get("mode")
    os.chmod(dst, mode & 0o777 if isinstance(mode, int) else 0o600)


class _Meter:
    """Progress of a long pass over files: a line at most every second, and one at the end."""

    def __init__(self, verb: str, files: int, total_bytes: int, progress: Progress) -> None:
        self.verb, self.files, self.total = verb, files, total_bytes
        self.progress = progress
        self.count, self.bytes = 0, 0
        self.next_s = time.monotonic() + _PROGRESS_PERIOD_S

    def add(self, size: int) -> None:
        self.count += 1
        self.bytes += size
        if time.monotonic() >= self.next_s:
            self.next_s = time.monotonic() + _PROGRESS_PERIOD_S
            self._line()

    def done(self) -> None:
        self._line()

    def _line(self) -> None:
        self.progress(f"{self.verb} {self.count}/{self.files} files, {_mib(self.bytes)} of {_mib(self.total)}")


def _mib(n: int) -> str:
    return f"{n / 2**20:.1f} MiB"
