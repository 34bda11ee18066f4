"""A real S3-protocol server for the tests and the benchmark: moto's server mode, in its own
process on 127.0.0.1 (so its memory and CPU are not the test's), on a port it chooses.

`require_credentials()` turns on moto's IAM checks, which it leaves off by default: from then
on a request must be signed with a key moto knows (`InvalidAccessKeyId` otherwise), with the
right secret (`SignatureDoesNotMatch`), by a user whose policy allows it (`AccessDenied`).
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
import threading
import urllib.request
from typing import Any

import boto3  # type: ignore[import-untyped]

REGION = "us-east-1"
_RUNNING = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")


@dataclasses.dataclass(frozen=True)
class KeyPair:
    access_key: str
    secret_key: str


class MotoServer:
    """`python -m moto.server` on a free loopback port; `url` once started."""

    def __init__(self) -> None:
        self.url = ""
        self._process: subprocess.Popen[str] | None = None
        self._started = threading.Event()
        self._output: list[str] = []

    def start(self, timeout: float = 60.0) -> MotoServer:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        # The server logs every request: keep reading so the pipe never fills and blocks it.
        threading.Thread(target=self._read_log, daemon=True, name="moto-log").start()
        if not self._started.wait(timeout) or not self.url:
            self.stop()
            raise RuntimeError(
                "moto's S3 server did not start within "
                f"{timeout:.0f} s; it said: {''.join(self._output[-20:])}"
            )
        return self

    def _read_log(self) -> None:
        assert self._process is not None
        assert self._process.stderr is not None
        for line in self._process.stderr:
            if not self._started.is_set():
                self._output.append(line)
                match = _RUNNING.search(line)
                if match:
                    self.url = match.group(1)
                    self._started.set()
        self._started.set()  # the process ended: stop waiting for it

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def client(self, service: str, keys: KeyPair | None = None) -> Any:
        """A synchronous boto3 client of this server (for setting it up)."""
        keys = keys or KeyPair("setup", "setup")
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name=REGION,
            aws_access_key_id=keys.access_key,
            aws_secret_access_key=keys.secret_key,
        )

    def user(self, name: str, *, actions: str | None = "s3:*") -> KeyPair:
        """A new IAM user allowed `actions` on everything (None: nothing), and its key pair."""
        iam = self.client("iam")
        iam.create_user(UserName=name)
        if actions is not None:
            policy = {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
            iam.put_user_policy(
                UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
            )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return KeyPair(key["AccessKeyId"], key["SecretAccessKey"])

    def require_credentials(self) -> None:
        """From now on every request must be signed by a known key allowed to make it."""
        request = urllib.request.Request(
            f"{self.url}/moto-api/reset-auth",
            data=b"0",  # requests allowed before the checks begin
            headers={"Content-Type": "text/plain"},  # not a form: moto reads the raw body
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            answer.read()
