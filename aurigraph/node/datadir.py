"""The node's data directory: genesis, node keys, and one folder per replica and shard.

    <data_dir>/genesis.json
    <data_dir>/keys/node-<id>.key       validator keys, encrypted (see `aurigraph.keystore`)
    <data_dir>/keys/node-kem.key        the node's ML-KEM-1024 key (sealed payloads to the node)
    <data_dir>/keys/passphrase          dev only: created when no passphrase is configured
    <data_dir>/keys/ray_auth_token      Ray token of a node on a local Ray instance
    <data_dir>/replica-<id>/{log,ledger}
    <data_dir>/shard-<n>/archive

`prepare` creates what is missing (a dev chain: fresh validator keys and a genesis that funds a
faucet key) and reuses what exists, so restarting continues the same chain.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from aurigraph.codec.genesis import genesis_from_json, genesis_to_json
from aurigraph.crypto import KeyPair, Scheme, generate_keypair
from aurigraph.crypto.kem import generate_kem_keypair
from aurigraph.keystore import load_keypair, save_kem_keypair, save_keypair
from aurigraph.ledger import ChainParams, Genesis, Validator

PASSPHRASE_ENV = "AURIGRAPH_NODE_PASSPHRASE"
FAUCET_SUPPLY = 10**15


@dataclass(frozen=True)
class DataDir:
    root: Path

    @property
    def genesis(self) -> Path:
        return self.root / "genesis.json"

    def node_key(self, node_id: int) -> Path:
        return self.root / "keys" / f"node-{node_id}.key"

    @property
    def kem_key(self) -> Path:
        return self.root / "keys" / "node-kem.key"

    @property
    def faucet_key(self) -> Path:
        return self.root / "keys" / "faucet.key"

    @property
    def ray_token(self) -> Path:
        """The Ray auth token of a node on a local Ray instance (see `actors.launcher`)."""
        return self.root / "keys" / "ray_auth_token"

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
        return load_keypair(self.node_key(node_id), self.passphrase())


def prepare(data_dir: DataDir, chain_id: str, replicas: int, log=print) -> Genesis:
    """Reuse the data dir's genesis, or create keys and a dev genesis for `replicas` validators.
    The node's ML-KEM key is created when missing (also for an existing chain)."""
    if not data_dir.kem_key.exists():
        save_kem_keypair(data_dir.kem_key, generate_kem_keypair(), data_dir.passphrase())
        log(f"wrote the node's ML-KEM-1024 key {data_dir.kem_key}")
    if data_dir.genesis.exists():
        genesis = data_dir.load_genesis()
        log(f"using {data_dir.genesis} (chain {genesis.chain_id}, {len(genesis.validators)} validators)")
        return genesis
    passphrase = data_dir.passphrase()
    validators = []
    for node_id in range(1, replicas + 1):
        log(f"generating hybrid node key {node_id}/{replicas}")
        key = generate_keypair(Scheme.HYBRID)
        save_keypair(data_dir.node_key(node_id), key, passphrase)
        validators.append(Validator(node_id, key.scheme, key.public_key, stake=100 - node_id, name=f"node-{node_id}"))
    faucet = generate_keypair(Scheme.ED25519)
    save_keypair(data_dir.faucet_key, faucet, passphrase)
    genesis = Genesis(chain_id, time.time_ns() // 1_000_000, ((faucet.address, FAUCET_SUPPLY),), tuple(validators),
                      ChainParams())
    data_dir.genesis.write_text(genesis_to_json(genesis))
    log(f"wrote {data_dir.genesis}: chain {chain_id}, {replicas} validators, faucet key {data_dir.faucet_key}")
    return genesis
