"""`nunet cap` end to end: a real key store on disk, the real CLI, real anchor files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import nacl.pwhash
import pytest
from click.testing import CliRunner, Result

from nunet.cli import cli
from nunet.cli.cap import cap
from nunet.identity import KeyPair, KeyStore
from nunet.ucan import (
    CapabilityContext,
    CapabilityDenied,
    FileAnchorStore,
    anchor_path,
    token_from_text,
)

from .conftest import key

PASSPHRASE = "correct horse"
cli.add_command(cap)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    store = KeyStore(
        tmp_path / "keys",
        PASSPHRASE,
        opslimit=nacl.pwhash.argon2id.OPSLIMIT_MIN,
        memlimit=nacl.pwhash.argon2id.MEMLIMIT_MIN,
    )
    store.create("dms")
    store.create("user")
    return tmp_path


def nunet(home: Path, *args: str, output: str = "table") -> Result:
    return CliRunner().invoke(
        cli, ["--home", str(home), "-o", output, *args], env={"NUNET_PASSPHRASE": PASSPHRASE}
    )


def ok(home: Path, *args: str, output: str = "table") -> str:
    result = nunet(home, *args, output=output)
    assert result.exit_code == 0, result.output
    return result.output.strip()


def fails(home: Path, *args: str, code: int = 1) -> str:
    result = nunet(home, *args)
    assert result.exit_code == code, result.output
    return result.output


def did_of(home: Path, name: str) -> str:
    return KeyStore(home / "keys", "").did(name)


def test_new_creates_a_private_anchor_file_for_the_key(home: Path) -> None:
    shown = json.loads(ok(home, "cap", "new", "dms", output="json"))
    assert shown["did"] == did_of(home, "dms")
    path = anchor_path(home, "dms")
    assert path.stat().st_mode & 0o777 == 0o600
    assert FileAnchorStore(path).snapshot().did == did_of(home, "dms")


def test_new_for_a_missing_key_says_how_to_create_it(home: Path) -> None:
    assert "nunet key new nobody" in fails(home, "cap", "new", "nobody")


def test_new_never_replaces_existing_anchors(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    assert "never replaced" in fails(home, "cap", "new", "dms")


def test_commands_on_an_unknown_context_name_it(home: Path) -> None:
    assert "unknown context 'ghost'" in fails(home, "cap", "list", "--context", "ghost")
    assert "not a context name" in fails(home, "cap", "list", "--context", "../x")


def test_grant_prints_a_token_signed_by_the_context(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    alice = key(2).did
    text = ok(
        home, "cap", "grant", "--context", "dms", "--cap", "/dms/node", "--cap", "/dms/deployment",
        "--audience", alice, "--topic", "/nunet/deploy", "--expiry", "1h", "--depth", "2",
    )  # fmt: skip
    token = token_from_text(text)
    assert (token.issuer, token.subject, token.audience) == (did_of(home, "dms"),) * 2 + (alice,)
    assert token.capabilities == ("/dms/node", "/dms/deployment")
    assert token.topics == ("/nunet/deploy",)
    assert token.depth == 2
    assert 3500 < token.expiry - time.time() <= 3600


def test_grant_in_json_shows_id_and_fields(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    shown = json.loads(
        ok(
            home,
            "cap",
            "grant",
            "-c",
            "dms",
            "--cap",
            "/dms",
            "--audience",
            key(2).did,
            output="json",
        )
    )
    assert token_from_text(shown["token"]).id == shown["id"]
    assert shown["capabilities"] == ["/dms"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--audience", "alice"], "audience: 'alice' is not a did:key"),
        (["--audience", "DID", "--expiry", "soon"], "neither a duration"),
        (["--audience", "DID", "--expiry", "2001-01-01T00:00:00Z"], "not in the future"),
        (["--audience", "DID", "--cap", "dms"], "must start with '/'"),
        (["--audience", "DID", "--depth", "-1"], "negative"),
    ],
)
def test_grant_rejects_bad_input_clearly(home: Path, args: list[str], message: str) -> None:
    ok(home, "cap", "new", "dms")
    args = [a.replace("DID", key(2).did) for a in args]
    if "--cap" not in args:
        args += ["--cap", "/dms"]
    assert message in fails(home, "cap", "grant", "-c", "dms", *args)


def test_a_wrong_passphrase_is_a_clear_error(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    result = CliRunner().invoke(
        cli,
        ["--home", str(home), "cap", "grant", "-c", "dms", "--cap", "/d", "--audience", key(2).did],
        env={"NUNET_PASSPHRASE": "wrong"},
    )
    assert result.exit_code == 1
    assert "passphrase does not open key 'dms'" in result.output


def test_anchor_takes_exactly_one_kind(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    assert "exactly one of" in fails(home, "cap", "anchor", "-c", "dms", code=2)
    assert "exactly one of" in fails(
        home, "cap", "anchor", "-c", "dms", "--root", key(2).did, "--require", "x", code=2
    )


def test_anchor_rejects_unknown_dids_and_malformed_tokens(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    assert "not a did:key" in fails(home, "cap", "anchor", "-c", "dms", "--root", "did:web:x")
    assert "not base64url" in fails(home, "cap", "anchor", "-c", "dms", "--require", "@@@@")
    assert "not a capability token" in fails(
        home, "cap", "anchor", "-c", "dms", "--provide", "AAAA"
    )


def test_anchor_rejects_a_provide_token_granted_to_someone_else(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    ok(home, "cap", "new", "user")
    to_alice = ok(home, "cap", "grant", "-c", "user", "--cap", "/dms", "--audience", key(2).did)
    assert "only tokens granted to it" in fails(
        home, "cap", "anchor", "-c", "dms", "--provide", to_alice
    )


def test_anchor_rejects_an_expired_token(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    user = KeyStore(home / "keys", PASSPHRASE).load("user")
    from nunet.ucan import grant

    stale = grant(user, audience=did_of(home, "dms"), capabilities=["/x"], expiry=2.0, now=1.0)
    assert "expired at 1970-01-01T00:00:02Z" in fails(
        home, "cap", "anchor", "-c", "dms", "--provide", stale.text()
    )


def test_the_dms_style_flow_user_root_dms_grant_provide_and_delegate(home: Path) -> None:
    """user is root of dms; dms grants user a delegable token; user delegates part of it to alice."""
    ok(home, "cap", "new", "dms")
    ok(home, "cap", "new", "user")
    user_did, dms_did, alice = did_of(home, "user"), did_of(home, "dms"), key(2)
    ok(home, "cap", "anchor", "-c", "dms", "--root", user_did)
    to_user = ok(
        home, "cap", "grant", "-c", "dms", "--cap", "/dms", "--audience", user_did, "--depth", "1"
    )
    ok(home, "cap", "anchor", "-c", "user", "--provide", to_user)
    to_alice = ok(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms/node", "--audience", alice.did,
        "--expiry", "1h",
    )  # fmt: skip
    token = token_from_text(to_alice)
    assert token.proof is not None
    assert token.proof.text() == to_user
    context = CapabilityContext(dms_did, FileAnchorStore(anchor_path(home, "dms")))
    now = time.time()
    context.authorize(
        alice.did, "/dms/node/peers/list", topic=None, proofs=[token.encoded], now=now
    )
    with pytest.raises(CapabilityDenied, match="not /dms/deployment"):
        context.authorize(alice.did, "/dms/deployment", topic=None, proofs=[token.encoded], now=now)
    context.authorize(user_did, "/dms/deployment", topic=None, proofs=(), now=now)


def test_delegate_refuses_to_widen_or_to_act_without_a_covering_token(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    ok(home, "cap", "new", "user")
    user_did = did_of(home, "user")
    to_user = ok(
        home, "cap", "grant", "-c", "dms", "--cap", "/dms/node", "--audience", user_did,
        "--depth", "1", "--expiry", "1h",
    )  # fmt: skip
    alice = key(2).did
    assert "no provide anchor of context 'user' covers /dms/node" in fails(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms/node", "--audience", alice
    )
    ok(home, "cap", "anchor", "-c", "user", "--provide", to_user)
    assert "covers /dms" in fails(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms", "--audience", alice
    )
    assert "covers /dms/nodes" in fails(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms/nodes", "--audience", alice
    )
    assert "widened expiry" in fails(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms/node", "--audience", alice,
        "--expiry", "2d",
    )  # fmt: skip
    assert "widened delegation depth" in fails(
        home, "cap", "delegate", "-c", "user", "--cap", "/dms/node", "--audience", alice,
        "--depth", "1",
    )  # fmt: skip


def test_list_shows_every_anchor_with_ids_caps_and_expiry(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    ok(home, "cap", "new", "user")
    ok(home, "cap", "anchor", "-c", "dms", "--root", did_of(home, "user"))
    required = ok(home, "cap", "grant", "-c", "dms", "--cap", "/dms/node", "--audience", key(2).did)
    ok(home, "cap", "anchor", "-c", "dms", "--require", required)
    rows = json.loads(ok(home, "cap", "list", "-c", "dms", output="json"))
    kinds = [r["kind"] for r in rows]
    assert kinds == ["self", "root", "require"]
    assert rows[2]["id"] == token_from_text(required).id
    assert rows[2]["capabilities"] == "/dms/node"
    assert rows[2]["status"] == "valid"
    table = ok(home, "cap", "list", "-c", "dms")
    assert "KIND" in table
    assert "require" in table


def test_revoke_by_id_records_a_signed_revocation_that_denies_the_token(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    alice = key(2)
    text = ok(home, "cap", "grant", "-c", "dms", "--cap", "/dms", "--audience", alice.did)
    token = token_from_text(text)
    context = CapabilityContext(did_of(home, "dms"), FileAnchorStore(anchor_path(home, "dms")))
    context.authorize(alice.did, "/dms", topic=None, proofs=[token.encoded], now=time.time())
    shown = json.loads(ok(home, "cap", "revoke", "-c", "dms", token.id, output="json"))
    assert shown["revoked"] == token.id
    with pytest.raises(CapabilityDenied, match=f"revoked {token.id}"):
        context.authorize(alice.did, "/dms", topic=None, proofs=[token.encoded], now=time.time())
    rows = json.loads(ok(home, "cap", "list", "-c", "dms", output="json"))
    assert rows[-1] == {
        "kind": "revoked",
        "id": token.id,
        "issuer": did_of(home, "dms"),
        "expiry": "-",
    }


def test_revoke_by_token_text_requires_the_context_to_be_in_the_chain(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    ok(home, "cap", "new", "user")
    theirs = ok(home, "cap", "grant", "-c", "user", "--cap", "/dms", "--audience", key(2).did)
    assert "only an issuer up its chain can revoke" in fails(
        home, "cap", "revoke", "-c", "dms", theirs
    )
    ours = ok(home, "cap", "grant", "-c", "dms", "--cap", "/dms", "--audience", key(2).did)
    ok(home, "cap", "revoke", "-c", "dms", ours)


def test_revoke_rejects_malformed_input(home: Path) -> None:
    ok(home, "cap", "new", "dms")
    assert "not base64url" in fails(home, "cap", "revoke", "-c", "dms", "!!!")


def test_key_pair_fixture_is_independent_of_the_store() -> None:
    assert isinstance(key(2), KeyPair)
