"""The two shapes of a request: one mutation as the user wrote it, several as aliased top-level fields."""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import pytest
from gql import GraphQLRequest
from graphql import parse, print_ast

from streambridge import Mutation
from streambridge._engine.batch import Limits, Request, take_batch
from streambridge._engine.batch import render as render_request
from streambridge._engine.plan import Planner, Planning
from streambridge._engine.result import Ledger
from streambridge._errors import GraphQLError, ServerError
from streambridge._io.transport import HttpResponse
from streambridge._sources import SOURCES
from streambridge._targets.graphql.response import interpret
from streambridge._targets.graphql.target import GraphQLTarget
from streambridge.testing import events

PUBLISH = """
# the user's own document, comment and all
mutation PublishOrder($input: OrderInput!, $note: String) {
  publishOrder(input: $input, note: $note) { id status }
}
"""


def render(batch: list[tuple[Any, list[Any]]]) -> Request:
    """The GraphQL request for a batch taken from the lanes."""
    return render_request(GraphQLTarget(), [(lane, step) for lane, steps in batch for step in steps])


def planned_lanes(results: list[Any], document: str | None = PUBLISH) -> tuple[list[Any], Ledger]:
    """One DynamoDB record per result (keys k0, k1, ...); the mapping function returns the result."""
    event = events.dynamodb([{"new_image": {"id": f"k{i}"}} for i in range(len(results))])
    records = SOURCES["dynamodb"].parse(event)
    ledger = Ledger(records)
    planning = Planning(GraphQLTarget(document))
    lanes = Planner(records, lambda record: results[record.index], planning, ledger).plan()
    return lanes, ledger


def gql_payload(document: str, variables: dict[str, Any]) -> dict[str, Any]:
    """The JSON body gql's transports send for ``document`` with ``variables``."""
    return GraphQLRequest(document, variable_values=variables).payload


def printed(body: bytes) -> dict[str, Any]:
    """A request body with its document printed as gql prints one (whitespace and comments normalized)."""
    payload = json.loads(body)
    return {**payload, "query": print_ast(parse(payload["query"]))}


def test_a_request_of_one_mutation_is_the_users_own_document() -> None:
    # GIVEN one record whose mutation uses two of the user's variables
    variables = {"input": {"id": "k0", "status": "NEW"}, "note": "é"}
    lanes, ledger = planned_lanes([variables])
    # WHEN its request is rendered
    request = render(take_batch(deque(lanes), ledger, Limits()))
    # THEN the body is the document exactly as written, with the user's variable names: no alias, no prefix
    body = json.loads(request.body)
    assert body == {"query": PUBLISH, "variables": variables}
    # ... which is what gql sends for the same mutation, whitespace aside
    assert printed(request.body) == gql_payload(PUBLISH, variables)
    # ... and the answer is read under the field's own name
    assert request.keys == {"publishOrder": 0}


def test_batch_size_1_sends_every_record_unaliased() -> None:
    # GIVEN three records of three keys, and requests of at most one mutation
    lanes, ledger = planned_lanes([{"input": {"id": f"k{i}"}} for i in range(3)])
    ready = deque(lanes)
    # WHEN every request is rendered
    bodies = []
    while ready:
        bodies.append(json.loads(render(take_batch(ready, ledger, Limits(max_mutations=1))).body))
    # THEN each is the user's document with the user's variables
    assert bodies == [{"query": PUBLISH, "variables": {"input": {"id": f"k{i}"}}} for i in range(3)]


def test_two_mutations_of_one_key_packed_in_a_request_are_aliased() -> None:
    # GIVEN two changes of one key, packed into one request
    event = events.dynamodb([{"new_image": {"id": "same"}}, {"new_image": {"id": "same"}}])
    records = SOURCES["dynamodb"].parse(event)
    ledger = Ledger(records)
    planning = Planning(GraphQLTarget(PUBLISH))
    lanes = Planner(records, lambda r: {"input": {"id": r.index}}, planning, ledger).plan()
    # WHEN rendered
    request = render(take_batch(deque(lanes), ledger, Limits(per_key=2)))
    # THEN both travel under aliases (one lane, but two mutations)
    assert request.keys == {"m0": 0, "m1": 1}
    assert '"m1_input":{"id":1}' in request.body.decode()


def test_a_mutation_with_several_fields_and_user_aliases_is_sent_as_written() -> None:
    # GIVEN a Mutation whose document has two top-level fields, one aliased by the user
    document = (
        "mutation Two($a: OrderInput!, $b: OrderInput!) {"
        " first: publishOrder(input: $a) { id } publishAudit(input: $b) { id } }"
    )
    variables = {"a": {"id": "1"}, "b": {"id": "2"}}
    lanes, ledger = planned_lanes([Mutation(document, variables)], document=None)
    # WHEN its request is rendered
    request = render(take_batch(deque(lanes), ledger, Limits()))
    # THEN the document goes as written, and both response keys (the alias, the name) point at it
    assert json.loads(request.body) == {"query": document, "variables": variables}
    assert request.keys == {"first": 0, "publishAudit": 0}


def test_a_document_whose_fragments_use_variables_is_sent_as_written() -> None:
    # GIVEN a document the batcher cannot rename (a fragment reads a variable)
    document = (
        "mutation P($input: OrderInput!, $full: Boolean!) { publishOrder(input: $input) { ...F } }"
        " fragment F on Order { id status @include(if: $full) }"
    )
    variables = {"input": {"id": "1"}, "full": True}
    lanes, ledger = planned_lanes([Mutation(document, variables)], document=None)
    # WHEN rendered
    request = render(take_batch(deque(lanes), ledger, Limits()))
    # THEN it is the user's document, fragment included
    assert json.loads(request.body) == {"query": document, "variables": variables}


def test_an_unaliased_answer_is_attributed_by_the_fields_own_name() -> None:
    # GIVEN the request of one mutation
    lanes, ledger = planned_lanes([{"input": {"id": "k0"}}])
    request = render(take_batch(deque(lanes), ledger, Limits()))
    # WHEN AppSync rejects the field, answers it, or answers without it
    rejected = HttpResponse(
        200,
        {},
        json.dumps(
            {
                "data": {"publishOrder": None},
                "errors": [{"path": ["publishOrder"], "errorType": "ValidationError", "message": "no"}],
            }
        ).encode(),
    )
    answered = HttpResponse(200, {}, b'{"data": {"publishOrder": {"id": "k0"}}}')
    silent = HttpResponse(200, {}, b'{"data": {}}')
    # THEN the error is the mutation's, an answer is a success, and no answer is never a success
    error = interpret(rejected, request.keys).errors[0]
    assert isinstance(error, GraphQLError)
    assert error.error_type == "ValidationError"
    assert interpret(answered, request.keys).errors == {}
    assert isinstance(interpret(silent, request.keys).errors[0], ServerError)


@pytest.mark.parametrize("count", [1, 2])
def test_the_estimated_size_bounds_both_shapes(count: int) -> None:
    # GIVEN mutations planned with their estimated size
    lanes, ledger = planned_lanes([{"input": {"id": f"k{i}", "pad": "x" * 500}} for i in range(count)])
    estimate = 64 + sum(step.item.size for lane in lanes for step in lane.steps)  # type: ignore[union-attr]
    # WHEN rendered
    request = render(take_batch(deque(lanes), ledger, Limits()))
    # THEN the batcher's byte bound holds for the body (the estimate is never short by more than a little)
    assert len(request.body) <= estimate + len(PUBLISH)
