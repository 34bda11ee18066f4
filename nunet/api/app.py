"""The local REST API: health, and actor send/invoke/broadcast on behalf of the local user."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

import nunet
from nunet.actor import Handle
from nunet.actor.trace import new_trace, parse_traceparent
from nunet.api.access import LocalAccess
from nunet.api.errors import describe, error_body, status_for
from nunet.api.prefix import API_PREFIX
from nunet.errors import NunetError
from nunet.node import Node

BehaviorPath = Annotated[
    str, Field(pattern=r"^/[A-Za-z0-9_.\-/]*$", max_length=256, examples=["/public/status"])
]


class HandleModel(BaseModel):
    """An actor's address; omit to talk to this node's own node actor."""

    model_config = ConfigDict(extra="forbid")
    did: str
    actor: str
    node: str


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    behavior: BehaviorPath
    payload: Any = None
    to: HandleModel | None = None
    timeout: float = Field(10.0, gt=0, le=300)


class SendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    behavior: BehaviorPath
    payload: Any = None
    to: HandleModel | None = None


class BroadcastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    topic: str = Field(min_length=1, max_length=256)
    behavior: BehaviorPath
    payload: Any = None


def _json(content: Any, status: int = 200) -> Response:
    # msgspec renders bytes as base64 and Structs as objects, which the stdlib encoder cannot.
    return Response(msgspec.json.encode(content), status, media_type="application/json")


def _error(exc: NunetError) -> Response:
    code, message = describe(exc)
    return _json(error_body(code, message), status_for(code))


def _trace(request: Request) -> str:
    """The request's W3C traceparent, or a new trace when it brings none."""
    header = request.headers.get("traceparent")
    return new_trace() if header is None else parse_traceparent(header)


def _handle(model: HandleModel | None) -> Handle | None:
    return None if model is None else Handle(model.did, model.actor, model.node)


def create_app(node: Node, *, token: str | None = None) -> FastAPI:
    """The API of one node, behind `LocalAccess`: only this machine is answered, and loopback
    TCP clients must present `token` (None: no token, for in-process tests)."""
    app = FastAPI(
        title="nunet local API",
        version=nunet.__version__,
        description=(
            "Answers only this machine: the node's Unix socket (mode 0600), or loopback TCP with "
            "`Authorization: Bearer <token>`, the token being in <home>/api.json (mode 0600)."
        ),
    )

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}"
            for err in exc.errors()
        )
        return _json(error_body("invalid-request", problems), 400)

    @app.get(f"{API_PREFIX}/health")
    async def health() -> Response:
        seq, digest = await node.log.head()
        return _json(
            {
                "status": "ok",
                "did": node.did,
                "version": nunet.__version__,
                "log": {"head": seq, "hash": digest.hex()},
            }
        )

    @app.post(f"{API_PREFIX}/actor/invoke")
    async def invoke(body: InvokeRequest, request: Request) -> Response:
        try:
            trace = _trace(request)
            result = await node.invoke_as_user(
                body.behavior,
                body.payload,
                to=_handle(body.to),
                timeout=body.timeout,
                trace=trace,
            )
        except NunetError as exc:
            return _error(exc)
        return _json({"result": result, "trace": trace})

    @app.post(f"{API_PREFIX}/actor/send", status_code=202)
    async def send(body: SendRequest, request: Request) -> Response:
        try:
            trace = _trace(request)
            await node.send_as_user(body.behavior, body.payload, to=_handle(body.to), trace=trace)
        except NunetError as exc:
            return _error(exc)
        return _json({"sent": True, "trace": trace}, 202)

    @app.post(f"{API_PREFIX}/actor/broadcast", status_code=202)
    async def broadcast(body: BroadcastRequest, request: Request) -> Response:
        try:
            trace = _trace(request)
            await node.broadcast_as_user(body.topic, body.behavior, body.payload, trace=trace)
        except NunetError as exc:
            return _error(exc)
        return _json({"sent": True, "trace": trace}, 202)

    app.add_middleware(LocalAccess, token=token)
    return app
