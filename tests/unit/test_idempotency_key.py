"""Idempotency keys name one record on every delivery, and never two different records."""

from __future__ import annotations

from typing import Any

from streambridge._sources import SOURCES
from streambridge._stores.idempotency import idempotency_key
from streambridge.testing import events


def aurora_key(payload: Any) -> str:
    (record,) = SOURCES["aurora"].parse(events.aurora(payload))
    return idempotency_key("aurora", record)


def test_aurora_payloads_get_keys_of_their_own() -> None:
    # GIVEN Aurora payloads, which carry no id: two different ones, the first again (keys reordered)
    # WHEN their idempotency keys are made
    first = aurora_key({"id": 1, "status": "NEW"})
    second = aurora_key({"id": 1, "status": "PAID"})
    again = aurora_key({"status": "NEW", "id": 1})
    # THEN a payload's key names its content: another payload is not "already published", the same one is
    assert first != second
    assert first == again


def test_a_list_payload_gets_a_key_too() -> None:
    # GIVEN a list payload (PostgreSQL can send a JSON array)
    # WHEN its key is made
    listed = aurora_key([{"id": 1}, {"id": 2}])
    # THEN it is a key of its own, not a crash
    assert listed.startswith("aurora|")
    assert listed != aurora_key([{"id": 2}, {"id": 1}])
