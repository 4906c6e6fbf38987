"""Error texts name the record once, and a variable by the name the user gave it (issue 14, section 5)."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator

import pytest

from streambridge import ApiKeyAuth, Bridge, GraphQLError, KinesisRecord, MappingError, RecordError
from streambridge._io.transport import HttpResponse
from streambridge._targets.graphql.response import interpret
from streambridge.testing import FakeAppSync, events, lambda_context

URL = "https://example123.appsync-api.us-east-1.amazonaws.com/graphql"
PUBLISH = "mutation Publish($input: ReadingInput!) { publishReading(input: $input) { id } }"


@pytest.fixture
def bridge() -> Iterator[Bridge]:
    made = Bridge(URL, ApiKeyAuth("da2-test"), transport=FakeAppSync())
    yield made
    made.close()


def _with_bad_data(event: dict, index: int) -> dict:
    event["Records"][index]["kinesis"]["data"] = base64.b64encode(b"not json").decode()
    return event


def test_a_partition_key_function_reading_bad_json_names_the_record_once(bridge: Bridge) -> None:
    # GIVEN a handler whose partition key and mapping read the record's JSON, and a record that is not JSON
    @bridge.kinesis(PUBLISH, partition_key=lambda record: record.json()["id"])
    def handler(record: KinesisRecord) -> dict:
        return {"input": record.json()}

    event = _with_bad_data(events.kinesis([{"id": "a"}, {"id": "b"}]), 1)

    # WHEN handled
    result = handler.process(event, lambda_context())

    # THEN the failed record's error names it once, then says what went wrong
    outcome = result.outcomes[1]
    name = outcome.record.describe()
    assert isinstance(outcome.error, MappingError)
    for text in (str(outcome.error), outcome.explain()):
        assert text.count(name) == 1, text
        assert text.startswith(
            f"{name}: partition_key function raised RecordError: kinesis.data is not valid"
        )


def test_the_log_line_of_a_failed_record_names_it_once(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    @bridge.kinesis(PUBLISH, partition_key=lambda record: record.json()["id"])
    def handler(record: KinesisRecord) -> dict:
        return {"input": record.json()}

    event = _with_bad_data(events.kinesis([{"id": "a"}, {"id": "b"}]), 1)
    with caplog.at_level(logging.WARNING, logger="streambridge"):
        handler.process(event, lambda_context())

    failed = [r.getMessage() for r in caplog.records if "not valid JSON" in r.getMessage()]
    assert failed
    assert all(line.count("Kinesis record #1 (") == 1 for line in failed), failed


def test_an_error_that_names_its_record_once_is_unchanged() -> None:
    record = KinesisRecord(events.kinesis([{"id": "a"}])["Records"][0], 0)
    error = RecordError(f"{record.describe()}: kinesis.data is not valid JSON").about(record)
    assert str(error) == f"{record.describe()}: kinesis.data is not valid JSON"
    assert str(RecordError("kinesis.data is not valid JSON").about(record)) == str(error)
    # another record's name is not this one's: it stays
    other = KinesisRecord(events.kinesis([{"id": "a"}, {"id": "b"}])["Records"][1], 1)
    text = f"{record.describe()}: waits for {other.describe()}: {other.describe()} failed"
    assert str(MappingError(text)) == text


def _variable_error(name: str) -> HttpResponse:
    body = {
        "data": None,
        "errors": [
            {
                "message": f"Variable '${name}' has invalid value at .temp: Float cannot represent 'hot'",
                "locations": [{"line": 1, "column": 18}],
            }
        ],
    }
    return HttpResponse(200, {"content-type": "application/json"}, json.dumps(body).encode())


def test_a_variable_rejected_in_a_batch_is_named_as_the_user_wrote_it() -> None:
    # GIVEN AppSync refused the variable of the second mutation of a batch (renamed m1_input there)
    answer = interpret(_variable_error("m1_input"), {"m0": 0, "m1": 1})

    # THEN the error says $input, and which mutation of the request it belongs to
    error = answer.request_error
    assert isinstance(error, GraphQLError)
    assert str(error) == (
        "AppSync rejected the mutation: Variable '$input' has invalid value at .temp: Float cannot "
        "represent 'hot' (in the batched request, mutation m1 sent it as $m1_input)"
    )


def test_a_variable_of_a_mutation_alone_is_left_as_it_is() -> None:
    answer = interpret(_variable_error("input"), {"publishReading": 0})
    assert str(answer.request_error) == (
        "AppSync rejected the mutation: Variable '$input' has invalid value at .temp: "
        "Float cannot represent 'hot'"
    )


def test_a_field_error_naming_a_renamed_variable_is_blamed_on_its_record(bridge: Bridge) -> None:
    # GIVEN an AppSync whose answer blames m1 (by path) with a message naming the batch's variable name
    appsync = FakeAppSync()
    body = {
        "data": {"m0": {"id": "a"}, "m1": None},
        "errors": [{"path": ["m1"], "message": "Variable '$m1_input' is not allowed", "errorType": "Bad"}],
    }
    appsync.fail_next(HttpResponse(200, {"content-type": "application/json"}, json.dumps(body).encode()))

    @bridge.kinesis(PUBLISH, partition_key=lambda record: record.sequence_number)
    def handler(record: KinesisRecord) -> dict:
        return {"input": record.json()}

    faulty = bridge.replace(transport=appsync)
    try:
        result = handler.with_bridge(faulty).process(
            events.kinesis([{"id": "a"}, {"id": "b"}]), lambda_context()
        )
    finally:
        faulty.close()

    # THEN record #1's error names it and the variable as the mapping function wrote it
    outcome = result.outcomes[1]
    assert outcome.explain() == (
        f"{outcome.record.describe()}: AppSync rejected the mutation: Bad: Variable '$input' is not allowed"
    )
