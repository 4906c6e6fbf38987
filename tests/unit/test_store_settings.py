"""The stores' settings are checked where they are written, with a message that names them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from streambridge import ConfigurationError, DynamoDBIdempotencyStore, SQSDeadLetterQueue


@pytest.mark.parametrize(
    "settings",
    [
        {"ttl": math.nan},
        {"ttl": math.inf},
        {"ttl": True},
        {"ttl": "172800"},
        {"ttl": None},
        {"ttl": 0},
        {"key_attribute": ""},
        {"key_attribute": 7},
        {"ttl_attribute": " "},
    ],
)
def test_an_idempotency_store_setting_that_cannot_work_is_refused_at_construction(settings: dict) -> None:
    # a nan or infinite ttl passed before, and every remember() then failed: idempotency silently off
    setting = next(iter(settings))
    with pytest.raises(ConfigurationError, match=rf"DynamoDBIdempotencyStore\({setting}=\.\.\.\)"):
        DynamoDBIdempotencyStore("published", **settings)


@pytest.mark.parametrize("table", ["", 7, None])
def test_an_idempotency_store_needs_a_table_name(table: object) -> None:
    with pytest.raises(ConfigurationError, match="table"):
        DynamoDBIdempotencyStore(table)  # type: ignore[arg-type]


@pytest.mark.parametrize("queue_url", [None, 7, b"https://sqs.us-east-1.amazonaws.com/1/q", "q"])
def test_a_dead_letter_queue_needs_a_queue_url(queue_url: object) -> None:
    with pytest.raises(ConfigurationError, match="queue URL"):
        SQSDeadLetterQueue(queue_url)  # type: ignore[arg-type]


def test_sound_store_settings_are_taken() -> None:
    store = DynamoDBIdempotencyStore("published", ttl=3600, key_attribute="pk")
    assert (store.ttl, store.key_attribute) == (3600, "pk")
    assert SQSDeadLetterQueue("https://sqs.us-east-1.amazonaws.com/1/q.fifo").fifo


@pytest.mark.parametrize("store", ["idempotency", "versions", "dead letters"])
def test_every_store_makes_a_bounded_client_on_first_use(store: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a store made without a client (as in Lambda: the client is made on the first call)
    from streambridge import DynamoDBIdempotencyStore, DynamoDBVersionStore, SQSDeadLetterQueue

    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    made: Any = {
        "idempotency": lambda: DynamoDBIdempotencyStore("t"),
        "versions": lambda: DynamoDBVersionStore("t"),
        "dead letters": lambda: SQSDeadLetterQueue("https://sqs.eu-west-1.amazonaws.com/1/q"),
    }[store]()
    # WHEN its client is made, THEN a hung connection cannot outlive the invocation by much
    config = made.client.meta.config
    assert (config.connect_timeout, config.read_timeout) == (2, 5)
    assert (config.retries["mode"], config.retries["total_max_attempts"]) == ("standard", 4)  # 3 retries
