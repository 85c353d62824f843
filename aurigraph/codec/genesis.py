"""The genesis file: human-editable JSON <-> `aurigraph.ledger.Genesis`.

Addresses are in text form (`ag…`, with checksum) and public keys in hex, so operators can paste
what `aurigraph keys show` prints. Example:

    {
      "chain_id": "aurigraph-devnet",
      "timestamp_ms": 1795600000000,
      "params": {"min_fee": 1, "max_block_txs": 10000, "max_clock_skew_ms": 30000, "max_tx_age_ms": 3600000},
      "balances": [{"address": "ag…", "amount": 1000000}],
      "validators": [{"id": 1, "name": "node-1", "scheme": "hybrid", "public_key": "…hex…", "stake": 100}],
      "admins": ["ag…"]
    }

`admins` (optional) lists the addresses that may send administrative actions (compliance rules,
KYC attestations, validator key rotations, audit notes); without it governance is off.
"""

from __future__ import annotations

import json
from dataclasses import asdict

from aurigraph.crypto import CryptoError, Scheme, address_from_text, address_to_text
from aurigraph.ledger import ChainParams, Genesis, GenesisError, Validator


def genesis_to_json(g: Genesis) -> str:
    document = {
        "chain_id": g.chain_id,
        "timestamp_ms": g.timestamp_ms,
        "params": asdict(g.params),
        "balances": [{"address": address_to_text(a), "amount": amount} for a, amount in g.balances],
        "validators": [
            {"id": v.id, "name": v.name, "scheme": v.scheme.label, "public_key": v.public_key.hex(), "stake": v.stake}
            for v in g.validators
        ],
    }
    if g.admins:
        document["admins"] = [address_to_text(a) for a in g.admins]
    return json.dumps(document, indent=2) + "\n"


def _int(value: object, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise GenesisError(f"{where} must be an integer, got {value!r}")
    return value


def genesis_from_json(text: str) -> Genesis:
    """Parse and validate; every problem is a `GenesisError` that says where it is."""
    try:
        d = json.loads(text)
    except ValueError as e:
        raise GenesisError(f"genesis is not valid JSON: {e}") from None
    if not isinstance(d, dict):
        raise GenesisError("genesis must be a JSON object")
    unknown = set(d) - {"chain_id", "timestamp_ms", "params", "balances", "validators", "admins"}
    if unknown:
        raise GenesisError(f"unknown genesis fields: {sorted(unknown)}")
    try:
        params_d = d.get("params", {})
        known = set(ChainParams.__dataclass_fields__)
        if not isinstance(params_d, dict) or set(params_d) - known:
            raise GenesisError(f"params must be an object with fields among {sorted(known)}")
        params = ChainParams(**{k: _int(v, f"params.{k}") for k, v in params_d.items()})
        balances = tuple(
            (address_from_text(b["address"]), _int(b["amount"], f"balances[{i}].amount"))
            for i, b in enumerate(d.get("balances", []))
        )
        validators = tuple(
            Validator(
                id=_int(v["id"], f"validators[{i}].id"),
                scheme=Scheme.parse(v["scheme"]),
                public_key=bytes.fromhex(v["public_key"]),
                stake=_int(v["stake"], f"validators[{i}].stake"),
                name=str(v.get("name", "")),
            )
            for i, v in enumerate(d.get("validators", []))
        )
        admins = d.get("admins", [])
        if not isinstance(admins, list):
            raise GenesisError("admins must be a list of addresses")
        chain_id = d["chain_id"]
        if not isinstance(chain_id, str):
            raise GenesisError("chain_id must be a string")
        return Genesis(chain_id, _int(d.get("timestamp_ms", 0), "timestamp_ms"), balances, validators, params,
                       tuple(address_from_text(a) for a in admins))
    except KeyError as e:
        raise GenesisError(f"genesis is missing field {e}") from None
    except (CryptoError, TypeError) as e:
        raise GenesisError(f"genesis: {e}") from None
    except ValueError as e:
        if isinstance(e, GenesisError):
            raise
        raise GenesisError(f"genesis: {e}") from None
