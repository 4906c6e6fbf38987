"""FakeEventApi's namespaces: declared ones are enforced; with none declared, the ones a test uses exist."""

from __future__ import annotations

import asyncio
import json

import pytest

from streambridge.testing import FakeEventApi


def status_of(fake: FakeEventApi, channel: str) -> int:
    body = json.dumps({"channel": channel, "events": [json.dumps({"text": "hi"})]}).encode()
    return asyncio.run(fake.post("http://fake/event", body, {}, 1.0)).status


def test_without_namespaces_the_channels_a_test_uses_exist() -> None:
    # GIVEN a FakeEventApi built with no namespaces
    fake = FakeEventApi()
    # WHEN a handler publishes to /rooms/r-1 and /default/a
    statuses = [status_of(fake, "/rooms/r-1"), status_of(fake, "default/a")]
    # THEN both are published, and the namespaces used are listed
    assert statuses == [200, 200]
    assert fake.values("/rooms/r-1") == [{"text": "hi"}]
    assert set(fake.namespaces) == {"default", "rooms"}


def test_declared_namespaces_are_enforced() -> None:
    fake = FakeEventApi(namespaces=("rooms",))
    assert status_of(fake, "/orders/o-1") == 400
    assert status_of(fake, "/rooms/r-1") == 200
    assert fake.namespaces == ("rooms",)


def test_an_invalid_namespace_is_still_refused_without_declared_ones() -> None:
    fake = FakeEventApi()
    assert status_of(fake, "/bad_name/a") == 400
    assert "bad_name" not in fake.namespaces


def test_an_empty_namespaces_list_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one"):
        FakeEventApi(namespaces=())
