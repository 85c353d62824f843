"""The baseline of `aurigraph bench gateway`: a bare endpoint doing the least a gateway must (read
the body, answer a small protobuf), on the same protocol and client, so the gateway's overhead is a
ratio. Runs in its own process: `python -m aurigraph.bench.bare rest|grpc`, on a port the kernel
picks, which it prints first, as `PORT <n>` on a line of its own, once it is bound.

REST: FastAPI on plain uvicorn (no Serve), `POST /v11/transactions` and `/v11/transactions/batch`.
gRPC: a grpc.aio server with `SubmitTransaction` and `BatchSubmitTransactions`.
"""

from __future__ import annotations

import asyncio
import socket
import sys

import grpc
import uvicorn
from fastapi import FastAPI, Request, Response

from aurigraph.codec.node import pending_ack, pending_acks


def _say_port(port: int) -> None:
    print(f"PORT {port}", flush=True)


def serve_rest() -> None:
    app = FastAPI()

    @app.post("/v11/transactions")
    async def submit(request: Request) -> Response:
        await request.body()
        return Response(pending_ack(), 202, media_type="application/x-protobuf")

    @app.post("/v11/transactions/batch")
    async def submit_batch(request: Request) -> Response:
        return Response(pending_acks(await request.body()), 200, media_type="application/x-protobuf")

    sock = socket.create_server(("127.0.0.1", 0))  # bound and listening before the port is said
    _say_port(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


def serve_grpc() -> None:
    async def submit(request: bytes, context) -> bytes:
        return pending_ack()

    async def submit_batch(request: bytes, context) -> bytes:
        return pending_acks(request)

    async def main() -> None:
        server = grpc.aio.server(options=[("grpc.max_receive_message_length", 128 * 1024 * 1024)])
        handlers = {"SubmitTransaction": grpc.unary_unary_rpc_method_handler(submit),
                    "BatchSubmitTransactions": grpc.unary_unary_rpc_method_handler(submit_batch)}
        server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("aurigraph.v1.TransactionService", handlers),))
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        _say_port(port)
        await server.wait_for_termination()

    asyncio.run(main())


if __name__ == "__main__":
    serve_rest() if sys.argv[1] == "rest" else serve_grpc()
