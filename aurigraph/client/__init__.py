"""The Python SDK: build, sign and submit transactions, wait for them, read blocks and accounts,
and follow the event stream, over REST or gRPC. See `aurigraph.client.client`."""

from aurigraph.client.client import AsyncClient, Client
from aurigraph.client.errors import ApiError, TransactionRejected

__all__ = ["ApiError", "AsyncClient", "Client", "TransactionRejected"]
