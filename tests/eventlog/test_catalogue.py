"""The catalogue: decoding, upcasting old versions, refusing what it cannot read, rendering."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest

from nunet.catalogue import full_catalogue
from nunet.eventlog import (
    CatalogueError,
    Event,
    EventRecord,
    UnknownEventType,
    UnknownEventVersion,
)
from nunet.eventlog.catalogue import Catalogue, Upcaster, type_name
from nunet.eventlog.chain import ZERO_HASH, seal
from nunet.eventlog.events import LogCheckpoint
from tests.eventlog.samples import CATALOGUE, Noted, Pinged

CATALOGUE_FILE = Path(__file__).resolve().parents[2] / "events" / "catalogue.yaml"


def record_of(event_type: str, version: int, fields: dict[str, Any]) -> EventRecord:
    [record] = seal([(event_type, version, "", msgspec.msgpack.encode(fields))], 0, ZERO_HASH, 1)
    return record


class Renamed(Event, frozen=True, kw_only=True):
    """v3 of an event whose field was renamed in v2 and which gained a field in v3."""

    TYPE = "test.renamed"
    VERSION = 3
    amount_msat: int
    memo: str = ""


def _v1_to_v2(fields: dict[str, Any]) -> dict[str, Any]:
    fields = dict(fields)
    fields["amount_msat"] = fields.pop("amount_sat") * 1000
    return fields


def _v2_to_v3(fields: dict[str, Any]) -> dict[str, Any]:
    return {**fields, "memo": "(upcast from v2)"}


RENAMING = Catalogue(
    Renamed,
    upcasters=(Upcaster("test.renamed", 1, _v1_to_v2), Upcaster("test.renamed", 2, _v2_to_v3)),
)


def test_current_version_records_decode_to_their_class() -> None:
    record = record_of("test.noted", 1, {"text": "hi", "blob": b"\x01"})
    assert CATALOGUE.decode(record) == Noted(text="hi", blob=b"\x01")


def test_old_versions_are_upcast_step_by_step_to_the_current_class() -> None:
    v1 = record_of("test.renamed", 1, {"amount_sat": 5})
    v2 = record_of("test.renamed", 2, {"amount_msat": 7})
    assert RENAMING.decode(v1) == Renamed(amount_msat=5000, memo="(upcast from v2)")
    assert RENAMING.decode(v2) == Renamed(amount_msat=7, memo="(upcast from v2)")


def test_a_v1_checkpoint_upcasts_to_v2_with_signed_at_unknown() -> None:
    fields: dict[str, Any] = {
        "seq": 3,
        "head_hash": b"\x07" * 32,
        "signer": "did:key:zX",
        "signature": b"s",
    }
    decoded = full_catalogue().decode(record_of("log.checkpoint", 1, fields))
    assert decoded == LogCheckpoint(**fields, signed_at=0)


def test_an_unknown_type_is_a_clear_error() -> None:
    with pytest.raises(UnknownEventType, match=r"'no\.such'"):
        CATALOGUE.decode(record_of("no.such", 1, {}))


def test_a_version_newer_than_the_class_says_to_upgrade() -> None:
    with pytest.raises(UnknownEventVersion, match="upgrade nunet"):
        CATALOGUE.decode(record_of("test.pinged", 2, {"n": 1}))


def test_a_payload_of_the_wrong_shape_names_the_record_and_field() -> None:
    with pytest.raises(msgspec.ValidationError, match=r"seq 1: test.pinged v1 payload.*\$.n"):
        CATALOGUE.decode(record_of("test.pinged", 1, {"n": "one"}))
    garbage = EventRecord(9, 1, "test.pinged", 1, "", b"\xc1\xc1", ZERO_HASH, ZERO_HASH)
    with pytest.raises(msgspec.DecodeError, match="seq 9"):
        CATALOGUE.decode(garbage)


def test_a_catalogue_refuses_a_type_claimed_twice() -> None:
    class Impostor(Event, frozen=True):
        TYPE = "test.pinged"

    with pytest.raises(CatalogueError, match="claimed by both"):
        Catalogue(Pinged, Impostor)


def test_a_catalogue_refuses_a_versioned_class_without_its_upcasters() -> None:
    with pytest.raises(CatalogueError, match=r"no upcaster from version\(s\) \[1, 2\]"):
        Catalogue(Renamed)
    with pytest.raises(CatalogueError, match="outside"):
        Catalogue(Pinged, upcasters=(Upcaster("test.pinged", 1, dict),))


def test_a_catalogue_refuses_classes_without_a_type() -> None:
    class Untyped(Event, frozen=True):
        pass

    with pytest.raises(CatalogueError, match="TYPE"):
        Catalogue(Untyped)


def test_render_lists_every_type_with_version_fields_and_doc() -> None:
    text = RENAMING.render()
    assert "test.renamed:\n  version: 3\n" in text
    assert "amount_msat: int\n" in text
    assert "memo: str = ''" in text
    assert "upcasts_from:\n  - 1\n  - 2" in text
    assert "renamed in v2" in text


def test_type_names_are_short_and_stable() -> None:
    assert type_name(list[int]) == "list[int]"
    assert type_name(dict[str, bytes] | None) == "dict[str, bytes] | None"
    assert type_name(Pinged) == "Pinged"


def test_events_catalogue_yaml_is_up_to_date() -> None:
    rendered = full_catalogue().render()
    assert CATALOGUE_FILE.read_text() == rendered, (
        "events/catalogue.yaml is out of date with the event classes; regenerate it with "
        "`nunet events catalogue > events/catalogue.yaml`"
    )
