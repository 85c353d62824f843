"""Storage adapters: RocksDB (embedded default) behind small interfaces the actors use.

- `rocks`: opening a database and the one way we write durably (fsync'd write batches).
- `archive.BlockArchive`: committed blocks and their receipts; transactions by id.
- `state_store.RocksState`: the ledger state (`aurigraph.ledger.StateReader`) with the applied
  height and state digest, committed block by block in one fsync'd batch.
"""
