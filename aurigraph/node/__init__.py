"""The node runtime without Ray: what each actor does, as plain objects the actors call.

`replica.ReplicaDriver` runs one ledger replica (consensus, persistence, block building, apply).
Keeping it free of Ray means it can be tested deterministically, several replicas in one process,
and the actors in `actors/` stay thin: receive, call the driver, send.
"""
