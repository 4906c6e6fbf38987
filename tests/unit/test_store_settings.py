"""The stores' settings are checked where they are written, with a message that names them."""

from __future__ import annotations

import math

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
