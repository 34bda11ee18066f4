"""A client of a running node's local API, as the CLI uses it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx

from nunet.api.prefix import API_PREFIX
from nunet.errors import NunetError


class ApiError(NunetError):
    """The node answered with an error, or no node answered."""

    def __init__(self, code: str, message: str, status: int = 0) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class ApiClient:
    """Talks to one node's API over its Unix socket (preferred) or loopback TCP."""

    def __init__(
        self,
        url: str,
        *,
        socket_path: str | None = None,
        token: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        transport = httpx.HTTPTransport(uds=socket_path) if socket_path else None
        headers = {"authorization": f"Bearer {token}"} if token else None
        self.url = url
        self._where = socket_path or url
        self._http = httpx.Client(
            base_url=url, transport=transport, headers=headers, timeout=timeout
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def health(self) -> dict[str, Any]:
        answer: dict[str, Any] = self._call("GET", "/health")
        return answer

    def invoke(
        self,
        behavior: str,
        payload: Any = None,
        *,
        to: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> Any:
        body = {"behavior": behavior, "payload": payload, "to": to, "timeout": timeout}
        return self._call("POST", "/actor/invoke", body, read_timeout=timeout + 5)["result"]

    def send(self, behavior: str, payload: Any = None, *, to: dict[str, str] | None = None) -> None:
        self._call("POST", "/actor/send", {"behavior": behavior, "payload": payload, "to": to})

    def broadcast(self, topic: str, behavior: str, payload: Any = None) -> None:
        self._call(
            "POST", "/actor/broadcast", {"topic": topic, "behavior": behavior, "payload": payload}
        )

    def _call(
        self, method: str, path: str, body: Any = None, *, read_timeout: float | None = None
    ) -> Any:
        try:
            response = self._http.request(
                method,
                API_PREFIX + path,
                json=body,
                timeout=read_timeout if read_timeout is not None else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TransportError as exc:
            raise ApiError(
                "unreachable", f"no node answers at {self._where} ({exc}); is `nunet run` running?"
            ) from None
        try:
            answer = response.json()
        except ValueError:
            raise ApiError(
                "bad-response",
                f"HTTP {response.status_code}: {response.text[:200]}",
                response.status_code,
            ) from None
        if response.is_error:
            error = answer.get("error", {}) if isinstance(answer, dict) else {}
            raise ApiError(
                str(error.get("code", "error")),
                str(error.get("message", response.text[:200])),
                response.status_code,
            )
        return answer


def find_api(home: Path, explicit: str | None = None) -> ApiClient:
    """The API named by `--api` (a URL or a Unix socket path), else the one `<home>/api.json`
    records. Over TCP the token comes from $NUNET_API_TOKEN, else from `<home>/api.json`."""
    info_path = home / "api.json"
    if explicit:
        if explicit.startswith(("http://", "https://")):
            token = os.environ.get("NUNET_API_TOKEN") or _read_info(info_path, required=False).get(
                "token"
            )
            return ApiClient(explicit, token=token)
        return ApiClient("http://nunet", socket_path=explicit)
    info = _read_info(info_path, required=True)
    socket_path = info.get("socket")
    if socket_path and Path(socket_path).exists():
        return ApiClient("http://nunet", socket_path=socket_path)
    return ApiClient(str(info["url"]), token=info.get("token"))


def _read_info(path: Path, *, required: bool) -> dict[str, Any]:
    try:
        info = json.loads(path.read_text())
    except FileNotFoundError:
        if not required:
            return {}
        raise ApiError(
            "no-node",
            f"no running node recorded in {path}; start one with `nunet run` or pass --api ADDRESS",
        ) from None
    except (OSError, ValueError) as exc:
        raise ApiError("no-node", f"{path} cannot be read: {exc}") from None
    if not isinstance(info, dict):
        raise ApiError("no-node", f"{path} does not describe a node's API")
    return info
