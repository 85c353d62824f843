"""Ray Serve deployments: the FastAPI gateway (REST /v11, WebSocket) and the gRPC ingress.

Routes stay thin: parse, call an actor handle, map the result.
"""
