"""The ledger core: transactions, validation, the state machine, blocks, Merkle proofs, genesis.

Pure Python: no Ray, gRPC, FastAPI or RocksDB (a test enforces it). Protobuf stays outside too:
`aurigraph.codec` turns wire bytes into these frozen dataclasses and back.
"""

from aurigraph.ledger.block import (
    BLOCK_SIGNING_DOMAIN,
    Block,
    BlockHeader,
    BlockSignature,
    BuiltBlock,
    ValidatorKey,
    block_hash,
    build_block,
    replay_block,
    sign_header,
    tx_inclusion_proof,
    tx_inclusion_proofs,
    tx_root,
    verify_block,
    verify_block_contents,
    verify_tx_inclusion,
)
from aurigraph.ledger.errors import GenesisError, InvalidBlock, Rejection, StateDivergence, TxRejected
from aurigraph.ledger.genesis import ChainParams, Genesis, Validator, genesis_block, genesis_digest
from aurigraph.ledger.state import (
    Account,
    BlockResult,
    MemoryState,
    Receipt,
    ReceiptStatus,
    StateDelta,
    StateReader,
    apply_transactions,
    check_stateful,
)
from aurigraph.ledger.transaction import (
    MAX_DATA_KEY_BYTES,
    MAX_DATA_VALUE_BYTES,
    MAX_TX_BYTES,
    U64_MAX,
    DataWrite,
    SignedTx,
    Transfer,
    TxBody,
    sign_body,
    signing_message,
    transaction_id,
)
from aurigraph.ledger.validation import StatelessValidator

__all__ = [
    "BLOCK_SIGNING_DOMAIN", "MAX_DATA_KEY_BYTES", "MAX_DATA_VALUE_BYTES", "MAX_TX_BYTES", "U64_MAX",
    "Account", "Block", "BlockHeader", "BlockResult", "BlockSignature", "BuiltBlock", "ChainParams",
    "DataWrite", "Genesis", "GenesisError", "InvalidBlock", "MemoryState", "Receipt", "ReceiptStatus",
    "Rejection", "SignedTx", "StateDelta", "StateDivergence", "StateReader", "StatelessValidator",
    "Transfer", "TxBody", "TxRejected", "Validator", "ValidatorKey", "apply_transactions", "block_hash",
    "build_block", "check_stateful", "genesis_block", "genesis_digest", "replay_block", "sign_body",
    "sign_header", "signing_message", "transaction_id", "tx_inclusion_proof", "tx_inclusion_proofs", "tx_root",
    "verify_block", "verify_block_contents", "verify_tx_inclusion",
]
