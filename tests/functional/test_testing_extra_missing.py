"""Without the testing extra, the harness says which extra to install (issue 19)."""

from __future__ import annotations

import sys

import pytest

from streambridge import ApiKeyAuth, Bridge, Status
from streambridge.testing import FakeAppSync, events, lambda_context
from streambridge.testing import run_on_virtual_time as on_virtual_time

HINT = "pip install 'streambridge[testing]'"
URL = "https://abc.appsync-api.us-east-1.amazonaws.com/graphql"

bridge = Bridge(URL, ApiKeyAuth("da2-test"), batch_size=1)


@bridge.sqs("mutation P($input: OrderInput!) { publishOrder(input: $input) { id } }")
def handler(record: object) -> dict:
    return {"input": {"id": "o-1"}}


@pytest.fixture
def without_graphql(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if graphql-core (from the testing extra) were not installed."""
    for name in [m for m in sys.modules if m == "graphql" or m.startswith("graphql.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "graphql", None)


@pytest.mark.usefixtures("without_graphql")
def test_fake_appsync_names_the_extra() -> None:
    # GIVEN a handler on FakeAppSync, and graphql-core missing
    on_fake = handler.with_bridge(bridge.replace(transport=FakeAppSync()))
    # WHEN it publishes (on virtual time: the failure is retried like any transport error)
    try:
        result, _ = on_virtual_time(on_fake.process_async(events.sqs([{"id": "o-1"}]), lambda_context()))
    finally:
        on_fake.bridge.close()
    # THEN the record failed, and its reason says what to install
    [outcome] = result.outcomes
    assert outcome.status is Status.FAILED
    assert HINT in str(outcome.error)


def test_the_local_appsync_fixture_names_the_extra(
    request: pytest.FixtureRequest, without_graphql: None
) -> None:
    # GIVEN the local_appsync_factory fixture, and graphql-core missing
    factory = request.getfixturevalue("local_appsync_factory")
    # WHEN it starts a LocalAppSync
    # THEN the test fails saying what to install, not with a bare ModuleNotFoundError
    with pytest.raises(pytest.fail.Exception, match=r"streambridge\[testing\]"):
        factory("type Query { a: Int }")
