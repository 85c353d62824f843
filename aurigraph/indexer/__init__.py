"""The PostgreSQL indexer: committed blocks, transactions (with their receipts), account balances
and data keys in SQL tables, for queries the RocksDB archive cannot answer (an account's history)
and for analysts. Optional: a node without a PostgreSQL DSN runs without it.

`rows.block_rows` turns committed `BlockRecord`s into rows (replaying each block on the indexed
state, so every indexed block is checked against its header's state digest); `PgIndex` writes them
with COPY, in one SQL transaction per batch together with the index cursor, so a crash anywhere
leaves the database at some block boundary and the next run resumes after it.
"""

from aurigraph.indexer.pg import ChainMismatch, IndexGap, PgIndex
from aurigraph.indexer.rows import BlockRows

__all__ = ["BlockRows", "ChainMismatch", "IndexGap", "PgIndex"]
