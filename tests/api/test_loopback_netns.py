"""The local API refuses a real client from a non-loopback address (inside a test namespace)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.netns import namespace_with_address

HERE = Path(__file__).resolve().parent
ADDRESS = "10.203.0.1"  # lives only inside the namespace this test creates

PROBE = """
import json, sys, httpx
source, url, token = sys.argv[1], sys.argv[2], sys.argv[3]
transport = httpx.HTTPTransport(local_address=source)
headers = {"authorization": "Bearer " + token}
with httpx.Client(transport=transport, timeout=10, headers=headers) as client:
    reply = client.get(url)
print(json.dumps({"status": reply.status_code, "body": reply.json()}))
"""


@pytest.mark.slow
def test_a_client_with_a_non_loopback_address_is_refused(tmp_path: Path) -> None:
    with namespace_with_address(ADDRESS) as netns:
        server = subprocess.Popen(
            netns.run(sys.executable, str(HERE / "serve_on_all_addresses.py"), str(tmp_path)),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            assert line.startswith("ready "), line
            port = line.split()[1]

            def probe(source: str) -> dict[str, object]:
                url = f"http://{ADDRESS if source != '127.0.0.1' else source}:{port}/api/v1/health"
                done = subprocess.run(
                    netns.run(sys.executable, "-c", PROBE, source, url, "netns-test-token"),
                    capture_output=True,
                    text=True,
                    timeout=30,
                    check=True,
                )
                answer: dict[str, object] = json.loads(done.stdout)
                return answer

            refused = probe(ADDRESS)  # even with the right token
            assert refused["status"] == 403
            assert ADDRESS in json.dumps(refused["body"])
            allowed = probe("127.0.0.1")
            assert allowed["status"] == 200
        finally:
            if server.stdin is not None:
                server.stdin.close()
            server.wait(30)
