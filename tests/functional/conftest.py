from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest
from moto import mock_aws

from streambridge import ApiKeyAuth, Bridge, DeadLetter, RetryPolicy
from streambridge.testing import FakeAppSync, FieldError

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }"


def poison_resolver(_field: str, arguments: dict) -> object:
    """Pass-through, except an order whose status is POISON (like the simulator's test resolver)."""
    order = arguments["input"]
    if order.get("status") == "POISON":
        raise FieldError("poison record", "PoisonError")
    return order


def rejecting(ids: set[str]) -> Callable[[str, dict], object]:
    """A resolver that rejects for good (as poison) the orders whose id is in ``ids``, at the time."""

    def resolver(field: str, arguments: dict) -> object:
        if arguments["input"]["id"] in ids:
            return poison_resolver(field, {"input": {**arguments["input"], "status": "POISON"}})
        return arguments["input"]

    return resolver


class ListSink:
    """A dead-letter sink in memory that takes every letter."""

    def __init__(self) -> None:
        self.letters: list[DeadLetter] = []

    def send(self, letters: Sequence[DeadLetter]) -> set[int]:
        self.letters.extend(letters)
        return set()


@pytest.fixture
def appsync() -> FakeAppSync:
    return FakeAppSync(poison_resolver)


@pytest.fixture
def make_bridge(appsync: FakeAppSync) -> Iterator[Callable[..., Bridge]]:
    """Bridges on the fake AppSync with fast retries; closed after the test."""
    made: list[Bridge] = []

    def make(**settings: Any) -> Bridge:
        settings.setdefault("retry", RetryPolicy(attempts=3, backoff=0.001, max_backoff=0.005))
        settings.setdefault("transport", appsync)
        made.append(Bridge(URL, ApiKeyAuth("da2-test"), **settings))
        return made[-1]

    yield make
    for bridge in made:
        bridge.close()


@pytest.fixture
def bridge(make_bridge: Callable[..., Bridge]) -> Bridge:
    return make_bridge()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """moto's in-memory AWS, with test credentials: no call leaves the process."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield


def dynamodb_table(name: str, key: str = "id") -> str:
    """Create an on-demand table keyed by the string ``key`` in moto (inside ``aws``); return its name."""
    import boto3

    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name
