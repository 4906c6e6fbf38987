"""The typed shape of a batch handler's answer is the shape it answers."""

from __future__ import annotations

from streambridge import GraphQLError, InvocationResult, RecordOutcome, Status
from streambridge._lambda_types import PartialItemFailure, PartialItemFailureResponse
from streambridge._sources import SOURCES
from streambridge.testing import events


def test_a_partial_batch_response_has_the_typed_keys() -> None:
    # GIVEN an invocation where one record of two failed
    published, failed = SOURCES["sqs"].parse(events.sqs(["a", "b"]))
    result = InvocationResult(
        "sqs",
        (RecordOutcome(published, Status.PUBLISHED), RecordOutcome(failed, Status.FAILED, GraphQLError("x"))),
        requests=1,
        retries=0,
        duration=0.0,
    )
    # WHEN it is answered to Lambda
    response = result.lambda_response()
    # THEN the answer and each failure carry exactly the typed dicts' keys
    assert set(response) == PartialItemFailureResponse.__required_keys__
    (failure,) = response["batchItemFailures"]
    assert set(failure) == PartialItemFailure.__required_keys__
    assert failure["itemIdentifier"] == failed.item_identifier
