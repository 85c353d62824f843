"""Thin Ray actor shells around the pure core: receive, call the core, persist, send.

Populated by the Ray runtime work (ConsensusReplica, TransactionValidator, StorageShard).
"""
