"""A small async client of the Docker Engine API over its Unix socket (httpx): only the calls the
executor makes. Engine answers other than success are EngineError (status and the engine's
message); an engine that does not answer is ExecutorUnavailable."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx
import msgspec

from nunet.executor.errors import ExecutorError, ExecutorUnavailable

API_VERSION = "v1.41"  # Docker 20.10; later engines answer it too
DEFAULT_SOCKET = "/var/run/docker.sock"

Json = dict[str, Any]


class EngineError(ExecutorError):
    """The engine answered with an error status."""

    code = "engine-error"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class DockerEngine:
    """One connection pool to one engine. Calls are plain awaits: no thread hop."""

    def __init__(self, socket_path: str = DEFAULT_SOCKET) -> None:
        self.socket_path = socket_path
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=socket_path),
            base_url=f"http://docker/{API_VERSION}",
            timeout=httpx.Timeout(60.0, connect=5.0),
        )

    async def close(self) -> None:
        await self._client.aclose()

    # --- plumbing ---

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = 60.0,
    ) -> Any:
        """One request; its JSON answer (None when empty)."""
        request = self._request(method, path, params, body, headers, timeout)
        try:
            response = await self._client.send(request)
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        if response.status_code >= 400:
            raise EngineError(response.status_code, _message(response.content))
        return msgspec.json.decode(response.content) if response.content else None

    @asynccontextmanager
    async def stream(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> AsyncIterator[AsyncIterator[bytes]]:
        """A streamed answer (attach, exec, pull): its raw bytes as they come."""
        request = self._request(method, path, params, body, headers, None)
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        try:
            if response.status_code >= 400:
                raise EngineError(response.status_code, _message(await response.aread()))
            yield self._raw(response)
        finally:
            await response.aclose()

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str | int] | None,
        body: object,
        headers: Mapping[str, str] | None,
        timeout: float | None,
    ) -> httpx.Request:
        """A JSON request (`body` encoded when given) with its own read timeout."""
        return self._client.build_request(
            method,
            path,
            params=params,
            content=msgspec.json.encode(body) if body is not None else None,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=5.0),
        )

    async def _raw(self, response: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in response.aiter_raw():  # as they come: no re-chunking
                yield chunk
        except httpx.TransportError as error:
            raise self._unavailable(error) from error

    def _unavailable(self, error: Exception) -> ExecutorUnavailable:
        return ExecutorUnavailable(
            f"the Docker engine at unix://{self.socket_path} is not answering "
            f"({type(error).__name__}: {error or 'no detail'}); is dockerd running?"
        )

    # --- the calls ---

    async def ping(self) -> None:
        try:
            response = await self._client.get("/_ping")
        except httpx.TransportError as error:
            raise self._unavailable(error) from error
        if response.status_code != 200:
            raise EngineError(response.status_code, _message(response.content))

    async def inspect_image(self, reference: str) -> Json:
        result: Json = await self.call("GET", f"/images/{reference}/json")
        return result

    async def images_named(self, name: str) -> list[Json]:
        filters = msgspec.json.encode({"reference": [name]}).decode()
        result: list[Json] = await self.call("GET", "/images/json", params={"filters": filters})
        return result

    async def pull(self, name: str, tag_or_digest: str, auth: str | None) -> None:
        """Pull; EngineError with the registry's message when it fails (also mid-stream)."""
        headers = {"X-Registry-Auth": auth} if auth else {}
        params = {"fromImage": name, "tag": tag_or_digest}
        async with self.stream("POST", "/images/create", params=params, headers=headers) as body:
            pending = b""
            async for chunk in body:
                *messages, pending = (pending + chunk).split(b"\n")
                for message in messages:
                    _raise_stream_error(message)
            _raise_stream_error(pending)

    async def create_container(self, name: str, config: Json) -> str:
        result: Json = await self.call(
            "POST", "/containers/create", params={"name": name}, body=config
        )
        return str(result["Id"])

    async def start(self, container: str) -> None:
        await self.call("POST", f"/containers/{container}/start")

    async def wait(self, container: str) -> Json:
        result: Json = await self.call(
            "POST",
            f"/containers/{container}/wait",
            params={"condition": "not-running"},
            timeout=None,
        )
        return result

    async def kill(self, container: str) -> None:
        await self.call("POST", f"/containers/{container}/kill")

    async def inspect_container(self, container: str) -> Json:
        result: Json = await self.call("GET", f"/containers/{container}/json")
        return result

    async def remove(self, container: str) -> None:
        await self.call("DELETE", f"/containers/{container}", params={"force": 1, "v": 1})

    async def stats(self, container: str) -> Json:
        result: Json = await self.call(
            "GET", f"/containers/{container}/stats", params={"stream": 0, "one-shot": 1}
        )
        return result

    async def containers(self, labels: Mapping[str, str]) -> list[Json]:
        filters = msgspec.json.encode({"label": [f"{k}={v}" for k, v in labels.items()]}).decode()
        result: list[Json] = await self.call(
            "GET", "/containers/json", params={"all": 1, "filters": filters}
        )
        return result

    async def exec_create(self, container: str, command: list[str]) -> str:
        body = {"Cmd": command, "AttachStdout": True, "AttachStderr": True}
        result: Json = await self.call("POST", f"/containers/{container}/exec", body=body)
        return str(result["Id"])

    async def exec_inspect(self, exec_id: str) -> Json:
        result: Json = await self.call("GET", f"/exec/{exec_id}/json")
        return result


def _message(content: bytes) -> str:
    try:
        decoded = msgspec.json.decode(content)
    except msgspec.DecodeError:
        return content.decode(errors="replace").strip() or "no message"
    if isinstance(decoded, dict) and isinstance(decoded.get("message"), str):
        return str(decoded["message"])
    return content.decode(errors="replace").strip()


def _raise_stream_error(message: bytes) -> None:
    if not message.strip():
        return
    try:
        decoded = msgspec.json.decode(message)
    except msgspec.DecodeError:
        return
    if isinstance(decoded, dict) and decoded.get("error"):
        raise EngineError(500, str(decoded["error"]))
