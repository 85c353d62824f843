"""Aurigraph DLT: a permissioned, quantum-safe distributed ledger.

Layers (see ARCHITECTURE.md): the pure core (`aurigraph.crypto`, `aurigraph.ledger`,
`aurigraph.consensus`) does no I/O and imports no runtime library; adapters (`aurigraph.codec`,
`aurigraph.keystore`, storage) connect it to protobuf, files and databases; `actors/` and
`serve_apps/` run it on Ray.
"""

__version__ = "0.1.0"
