"""The node's data directory: genesis, node keys, and one folder per replica and shard.

    <data_dir>/genesis.json
    <data_dir>/keys/node-<id>.key       validator keys, encrypted (see `aurigraph.keystore`) ...
    <data_dir>/keys/node-<id>.<n>.key   ... and the n-th key of a validator (n >= 2: rotation keys)
    <data_dir>/keys/node-<id>.<n>.hsm.json     a validator key in an HSM: token, label, public key
    <data_dir>/keys/node-<id>.<n>.ml-dsa.key   ... and the ML-DSA-87 half of it, when hybrid
    <data_dir>/keys/node-kem.key        the node's ML-KEM-1024 key (sealed payloads to the node)
    <data_dir>/keys/passphrase          dev only: created when no passphrase is configured
    <data_dir>/keys/ray_auth_token      Ray token of a node on a local Ray instance
    <data_dir>/replica-<id>/{log,ledger}
    <data_dir>/shard-<n>/archive

`prepare` creates what is missing (a dev chain: fresh validator keys, made by the node keystore,
and a genesis that funds a faucet key) and reuses what exists, so restarting continues the same
chain. A validator's keys are numbered from 1 in one sequence whichever keystore made them, so no
key file is ever written over another.
"""

from __future__ import annotations

import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from aurigraph.codec.genesis import genesis_from_json, genesis_to_json
from aurigraph.crypto import KeyPair, Scheme, generate_keypair
from aurigraph.crypto.kem import generate_kem_keypair
from aurigraph.keystore import (
    FileKeystore,
    KeyNotFound,
    NodeKeystore,
    load_keypair,
    save_kem_keypair,
    save_keypair,
)
from aurigraph.ledger import ChainParams, Genesis, Validator

PASSPHRASE_ENV = "AURIGRAPH_NODE_PASSPHRASE"  # nosec B105  # the name of an environment variable
FAUCET_SUPPLY = 10**15
ADMIN_FUNDS = 10**9  # fees for administrative actions


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    def node_key(self, node_id: int, number: int = 1) -> Path:
        """Validator `node_id`'s key file number `number` (1: the genesis key of a dev chain)."""
        return self.keys / (f"node-{node_id}.key" if number == 1 else f"node-{node_id}.{number}.key")

    def node_key_hsm(self, node_id: int, number: int) -> Path:
        """Where an HSM-held key number `number` of validator `node_id` is described (no secrets)."""
        return self.keys / f"node-{node_id}.{number}.hsm.json"

    def node_key_half(self, node_id: int, number: int) -> Path:
        """The ML-DSA-87 half of the HSM-held hybrid key number `number`, encrypted."""
        return self.keys / f"node-{node_id}.{number}.ml-dsa.key"

    def node_key_files(self, node_id: int) -> list[tuple[int, Path]]:
        """(number, path) of validator `node_id`'s key files (`node_key`), by number."""
        return self._numbered(node_id, ("key",))

    def node_key_hsm_files(self, node_id: int) -> list[tuple[int, Path]]:
        """(number, path) of validator `node_id`'s HSM key descriptions (`node_key_hsm`), by number."""
        return self._numbered(node_id, ("hsm.json",))

    def next_node_key_number(self, node_id: int) -> int:
        """One past the highest number any key file of validator `node_id` has (1 if none)."""
        numbers = [n for n, _ in self._numbered(node_id, ("key", "hsm.json", "ml-dsa.key"))]
        return max(numbers, default=0) + 1

    def _numbered(self, node_id: int, suffixes: tuple[str, ...]) -> list[tuple[int, Path]]:
        pattern = re.compile(rf"node-{node_id}(?:\.([1-9][0-9]*))?\.({'|'.join(map(re.escape, suffixes))})")
        found = []
        for path in self.keys.glob(f"node-{node_id}.*"):
            match = pattern.fullmatch(path.name)
            # An unnumbered name is number 1, and only a plain key file has one.
            if match and (match[1] is not None or match[2] == "key"):
                found.append((int(match[1] or 1), path))
        return sorted(found)

    @property
    def kem_key(self) -> Path:
        return self.root / "keys" / "node-kem.key"

    @property
    def faucet_key(self) -> Path:
        return self.root / "keys" / "faucet.key"

    @property
    def admin_key(self) -> Path:
        """The dev chain's admin key: it signs administrative actions (`aurigraph admin`)."""
        return self.root / "keys" / "admin.key"

    @property
    def ray_token(self) -> Path:
        """The Ray auth token of a node on a local Ray instance (see `actors.launcher`)."""
        return self.root / "keys" / "ray_auth_token"

    @property
    def endpoints(self) -> Path:
        """Where the running `aurigraph up` says it can be reached (JSON: see `aurigraph.cli.up`);
        there only while it serves."""
        return self.root / "endpoints.json"

    def replica(self, node_id: int) -> Path:
        return self.root / f"replica-{node_id}"

    def shard(self, index: int) -> Path:
        return self.root / f"shard-{index}" / "archive"

    @property
    def models(self) -> Path:
        """The model registry (`aurigraph.ml.registry`)."""
        return self.root / "models"

    @property
    def features(self) -> Path:
        """The optimizer's feature store (`aurigraph.storage.feature_store`)."""
        return self.root / "optimizer" / "features"

    def passphrase(self) -> str:
        """The key passphrase: $AURIGRAPH_NODE_PASSPHRASE, else a dev passphrase file (created once)."""
        if os.environ.get(PASSPHRASE_ENV):
            return os.environ[PASSPHRASE_ENV]
        path = self.root / "keys" / "passphrase"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(32))
        return path.read_text().strip()

    def load_genesis(self) -> Genesis:
        return genesis_from_json(self.genesis.read_text())

    def load_node_key(self, node_id: int) -> KeyPair:
        """The first key file of validator `node_id`, decrypted (the node itself uses its keystore)."""
        return load_keypair(self.node_key(node_id), self.passphrase())


def prepare(data_dir: DataDir, chain_id: str, replicas: int, log=print,
            keystore: NodeKeystore | None = None) -> Genesis:
    """Reuse the data dir's genesis, or create keys and a dev genesis for `replicas` validators;
    validator keys are made by `keystore` (default: the data dir's key files). The node's ML-KEM
    key is created when missing (also for an existing chain)."""
    if not data_dir.kem_key.exists():
        save_kem_keypair(data_dir.kem_key, generate_kem_keypair(), data_dir.passphrase())
        log(f"wrote the node's ML-KEM-1024 key {data_dir.kem_key}")
    if data_dir.genesis.exists():
        genesis = data_dir.load_genesis()
        log(f"using {data_dir.genesis} (chain {genesis.chain_id}, {len(genesis.validators)} validators)")
        return genesis
    passphrase = data_dir.passphrase()
    keystore = keystore or FileKeystore(data_dir)
    validators = []
    for node_id in range(1, replicas + 1):
        log(f"generating hybrid node key {node_id}/{replicas} in {keystore.describe()}")
        key = keystore.create(node_id, Scheme.HYBRID)
        validators.append(Validator(node_id, key.scheme, key.public_key, stake=100 - node_id, name=f"node-{node_id}"))
    faucet = generate_keypair(Scheme.ED25519)
    save_keypair(data_dir.faucet_key, faucet, passphrase)
    admin = generate_keypair(Scheme.HYBRID)
    save_keypair(data_dir.admin_key, admin, passphrase)
    genesis = Genesis(chain_id, time.time_ns() // 1_000_000,
                      ((faucet.address, FAUCET_SUPPLY - ADMIN_FUNDS), (admin.address, ADMIN_FUNDS)), tuple(validators),
                      ChainParams(), admins=(admin.address,))
    data_dir.genesis.write_text(genesis_to_json(genesis))
    log(f"wrote {data_dir.genesis}: chain {chain_id}, {replicas} validators, faucet key {data_dir.faucet_key}, "
        f"admin key {data_dir.admin_key}")
    return genesis


def check_node_keys(keystore: NodeKeystore, genesis: Genesis) -> None:
    """Raise `KeyNotFound` unless `keystore` holds a key of every validator of `genesis` (public parts
    only: nothing is decrypted), so a node that cannot sign says so before it starts. Which key is
    current depends on the key rotations on chain: each replica picks it, and refuses to start
    without it (`aurigraph.node.replica`)."""
    for validator in genesis.validators:
        if not keystore.signers(validator.id):
            raise KeyNotFound(f"{keystore.describe()} holds no key of validator {validator.id} of this "
                              f"genesis (keys are made with the chain, or by `aurigraph keys node-new`)")
