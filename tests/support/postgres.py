"""A real PostgreSQL for tests, from Debian's `postgresql` package: one server per session.

The server runs from a temporary data directory, listens only on 127.0.0.1 at a free port
(and a unix socket in that directory), trusts local connections, and runs with fsync=off
because tests prove logic, not durability (the crash test runs against SQLite). When run as
root it runs as the `postgres` OS user, since postgres refuses to run as root.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

READY_LINE = "database system is ready to accept connections"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 30.0


def find_postgres_bin() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin that has initdb and postgres."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: [int(part) if part.isdigit() else 0 for part in Path(p).parts[-3].split(".")],
    )
    for initdb in reversed(candidates):
        bin_dir = Path(initdb).parent
        if (bin_dir / "postgres").exists():
            return bin_dir
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _run_as() -> tuple[int | None, int | None]:
    """(uid, gid) to run the server as: the postgres user when we are root, else ourselves."""
    if os.geteuid() != 0:
        return None, None
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        pytest.skip("running as root and there is no `postgres` user: install `postgresql`")
    return user.pw_uid, user.pw_gid


@contextlib.contextmanager
def running_postgres() -> Iterator[str]:
    """Start a throwaway server; yield its DSN; stop it and remove its files."""
    bin_dir = find_postgres_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin: "
            "install the Debian package `postgresql` (apt-get install -y postgresql)"
        )
    uid, gid = _run_as()
    root = Path(tempfile.mkdtemp(prefix="nunet-pg-"))
    data = root / "data"
    if uid is not None and gid is not None:
        os.chown(root, uid, gid)
    extra_groups: list[int] | None = None if uid is None else []  # drop root's groups too
    env = {**os.environ, "LC_ALL": "C", "TZ": "UTC"}
    port = _free_port()
    server: subprocess.Popen[str] | None = None
    try:
        subprocess.run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                "nunet",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "--no-instructions",
            ],
            cwd=root,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            user=uid,
            group=gid,
            extra_groups=extra_groups,
        )
        server = subprocess.Popen(
            [
                str(bin_dir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(port),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                f"unix_socket_directories={root}",
                "-c",
                "fsync=off",
                "-c",
                "full_page_writes=off",
                "-c",
                "max_connections=200",
            ],
            cwd=root,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            user=uid,
            group=gid,
            extra_groups=extra_groups,
        )
        _wait_until_ready(server)
        yield f"postgresql://nunet@127.0.0.1:{port}/postgres"
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"initdb failed ({exc.returncode}): {exc.stderr}")
    finally:
        if server is not None:
            _stop(server)
        shutil.rmtree(root, ignore_errors=True)


def _wait_until_ready(server: subprocess.Popen[str]) -> None:
    """Block until the server logs that it accepts connections (bounded), or fail with its log."""
    ready = threading.Event()
    lines: list[str] = []

    def watch() -> None:
        assert server.stderr is not None
        for line in server.stderr:  # keeps draining after readiness, so the pipe never fills
            if len(lines) < 200:
                lines.append(line)
            if READY_LINE in line:
                ready.set()
        ready.set()  # EOF: the server exited

    threading.Thread(target=watch, name="postgres-log", daemon=True).start()
    if not ready.wait(START_TIMEOUT_S) or server.poll() is not None:
        _stop(server)
        pytest.fail("PostgreSQL did not become ready:\n" + "".join(lines))


def _stop(server: subprocess.Popen[str]) -> None:
    if server.poll() is None:
        server.send_signal(signal.SIGINT)  # "fast shutdown"
        try:
            server.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a PostgreSQL server shared by the whole test session."""
    with running_postgres() as dsn:
        yield dsn
