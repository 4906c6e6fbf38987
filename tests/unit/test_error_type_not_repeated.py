"""An AppSync error whose message already starts with its type is shown once (issue 19)."""

from __future__ import annotations

import json

from streambridge import AuthorizationError, GraphQLError
from streambridge._io.transport import HttpResponse
from streambridge._targets.channels import interpret as interpret_events
from streambridge._targets.graphql.response import interpret


def answer(status: int, body: object) -> HttpResponse:
    return HttpResponse(status, {}, json.dumps(body).encode())


def test_a_401_whose_message_repeats_its_type_names_it_once() -> None:
    # GIVEN a 401 as the Amplify simulator and LocalAppSync write it: the message starts with the type
    body = {
        "errors": [
            {"errorType": "UnauthorizedException", "message": "UnauthorizedException: Invalid API key"}
        ]
    }
    # WHEN it is read
    error = interpret(answer(401, body), {"m0": 0}).request_error
    # THEN the type is named once
    assert isinstance(error, AuthorizationError)
    assert "HTTP 401 (UnauthorizedException: Invalid API key)" in str(error)
    assert "UnauthorizedException: UnauthorizedException" not in str(error)


def test_a_message_without_its_type_still_gets_it() -> None:
    body = {
        "errors": [
            {"errorType": "UnauthorizedException", "message": "You are not authorized to make this call."}
        ]
    }
    error = interpret(answer(401, body), {"m0": 0}).request_error
    assert "HTTP 401 (UnauthorizedException: You are not authorized to make this call.)" in str(error)


def test_a_field_error_whose_message_repeats_its_type_names_it_once() -> None:
    body = {
        "data": {"m0": None},
        "errors": [{"path": ["m0"], "errorType": "BadInput", "message": "BadInput: id is missing"}],
    }
    error = interpret(answer(200, body), {"m0": 0}).errors[0]
    assert isinstance(error, GraphQLError)
    assert str(error).endswith("AppSync rejected the mutation: BadInput: id is missing")


def test_an_event_api_refusal_whose_message_repeats_its_type_names_it_once() -> None:
    # GIVEN LocalEventApi's answer to a wrong API key, and a failed event written the same way
    error = {"errorType": "UnauthorizedException", "message": "UnauthorizedException: Invalid"}
    refused = {"errors": [error]}
    failed = {"failed": [{"index": 0, "errorCode": "BadRequest", "errorMessage": "BadRequest: no"}]}
    # WHEN read
    texts = [
        str(interpret_events(answer(401, refused), 1).request_error),
        str(interpret_events(answer(200, failed), 1).errors[0]),
    ]
    # THEN each type is named once
    assert "(UnauthorizedException: Invalid)" in texts[0]
    assert "UnauthorizedException: UnauthorizedException" not in texts[0]
    assert "BadRequest: BadRequest" not in texts[1]
