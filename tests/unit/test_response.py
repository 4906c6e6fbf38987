"""Error attribution and retry classification of AppSync answers (shapes seen from the simulator)."""

from __future__ import annotations

import json

import pytest

from streambridge import (
    AuthorizationError,
    ConfigurationError,
    GraphQLError,
    SchemaMismatchError,
    ServerError,
    ThrottledError,
    WrongEndpointError,
)
from streambridge._errors import is_retryable
from streambridge._io.transport import HttpResponse
from streambridge._targets.graphql.response import interpret

ALIASES = {"m0": 0, "m1": 1, "m2": 2}


def answer(status: int, body: object, headers: dict[str, str] | None = None) -> HttpResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return HttpResponse(status, headers or {}, raw)


def test_field_error_is_mapped_to_its_alias_only() -> None:
    # GIVEN the simulator's answer to m0 ok, m1 poison, m2 ok (recorded from the Amplify simulator)
    body = {
        "data": {"m0": {"id": "c-0"}, "m1": None, "m2": {"id": "c-2"}},
        "errors": [
            {
                "message": "poison record",
                "errorType": "PoisonError",
                "data": None,
                "errorInfo": None,
                "path": ["m1"],
                "locations": [{"line": 1, "column": 160}],
            }
        ],
    }
    # WHEN interpreted
    result = interpret(answer(200, body), ALIASES)
    # THEN only m1 failed, permanently, with its type and path
    assert result.request_error is None
    assert set(result.errors) == {1}
    error = result.errors[1]
    assert isinstance(error, GraphQLError)
    assert error.error_type == "PoisonError"
    assert error.path == ("m1",)
    assert not is_retryable(error)


def test_an_error_on_a_field_of_a_result_that_came_back_is_a_note_not_a_failure() -> None:
    # GIVEN m0 ran and returned data, but a field of its result failed (throttled, say)
    body = {
        "data": {"m0": {"id": "1", "owner": None}, "m1": {"id": "2"}, "m2": {"id": "3"}},
        "errors": [
            {"message": "Rate exceeded", "path": ["m0", "owner"], "errorType": "TooManyRequestsException"}
        ],
    }
    result = interpret(answer(200, body), ALIASES)
    # THEN it is not sent again (it would run twice): it succeeded, with a note saying what failed
    assert result.errors == {}
    assert "Rate exceeded" in result.notes[0]


def test_an_error_below_a_null_result_means_its_resolver_ran() -> None:
    # GIVEN m0 null because a non-null field of its result failed (null propagation to m0)
    body = {
        "data": {"m0": None, "m1": {"id": "2"}, "m2": {"id": "3"}},
        "errors": [{"message": "boom", "path": ["m0", "owner"], "errorType": "TooManyRequestsException"}],
    }
    result = interpret(answer(200, body), ALIASES)
    # THEN m0's resolver returned the object whose field failed: it ran, so it is not sent again
    assert result.errors == {}
    assert "ran" in result.notes[0]
    assert "boom" in result.notes[0]


@pytest.mark.parametrize("error_type", ["TooManyRequestsException", "PoisonError", "Unauthorized"])
def test_a_mutation_that_returned_data_and_an_error_on_its_field_ran(error_type: str) -> None:
    # GIVEN m1 answered with data AND an error whose path is m1 (a resolver calling $util.appendError)
    body = {
        "data": {"m0": {"id": "1"}, "m1": {"id": "2"}, "m2": {"id": "3"}},
        "errors": [{"message": "appended", "path": ["m1"], "errorType": error_type}],
    }
    result = interpret(answer(200, body), ALIASES)
    # THEN it ran: no error (never sent again, never dead-lettered), a note says what AppSync answered
    assert result.request_error is None
    assert result.errors == {}
    assert set(result.notes) == {1}
    assert "returned data" in result.notes[1]
    assert "appended" in result.notes[1]


def test_an_error_below_a_field_with_data_null_spares_it_and_those_before() -> None:
    # GIVEN data null: m1's non-null result field failed below it, so m1 ran; m2 never ran
    body = {"data": None, "errors": [{"message": "boom", "path": ["m1", "owner"], "errorType": "X"}]}
    result = interpret(answer(200, body), ALIASES)
    # THEN m0 and m1 ran (notes), m2 did not run and is retried
    assert set(result.notes) == {0, 1}
    assert set(result.errors) == {2}
    assert is_retryable(result.errors[2])


def test_an_error_for_a_field_and_one_below_it_count_as_ran_whatever_their_order() -> None:
    # GIVEN two errors for m0, its own first, then one below it that shows its resolver ran
    body = {
        "data": {"m0": None, "m1": {"id": "2"}, "m2": {"id": "3"}},
        "errors": [
            {"message": "own", "path": ["m0"], "errorType": "X"},
            {"message": "below", "path": ["m0", "owner"], "errorType": "X"},
        ],
    }
    result = interpret(answer(200, body), ALIASES)
    # THEN it ran
    assert result.errors == {}
    assert set(result.notes) == {0}


def test_a_non_200_answer_with_results_is_read_per_mutation() -> None:
    # GIVEN a 400 whose body still carries every mutation's result
    body = {"data": {"m0": {"id": "1"}, "m1": {"id": "2"}, "m2": {"id": "3"}}}
    result = interpret(answer(400, body), ALIASES)
    # THEN they ran: the request did not fail as a whole (which would send them again one by one)
    assert result.request_error is None
    assert result.errors == {}


def test_variable_error_without_path_fails_the_whole_request() -> None:
    # GIVEN the simulator's answer to a wrong variable type: no path, no errorType, data null
    body = {
        "data": None,
        "errors": [
            {
                "message": 'Variable "$m1_input" got invalid value "abc"',
                "locations": [{"line": 1, "column": 40}],
            }
        ],
    }
    result = interpret(answer(200, body), ALIASES)
    assert isinstance(result.request_error, GraphQLError)
    assert not is_retryable(result.request_error)
    assert "m1_input" in str(result.request_error)


def test_syntax_error_shape_without_errors_array() -> None:
    # GIVEN the simulator's answer to a document it cannot parse (ours parse locally first: no record's fault)
    result = interpret(answer(200, {"errorMessage": "Syntax Error: Expected Name, found <EOF>."}), ALIASES)
    assert isinstance(result.request_error, SchemaMismatchError)
    assert "Syntax Error" in str(result.request_error)


@pytest.mark.parametrize(
    ("status", "body", "kind", "retryable"),
    [
        (
            401,
            {"errors": [{"errorType": "UnauthorizedException", "message": "Missing authorization"}]},
            AuthorizationError,
            False,
        ),
        (403, b"<html>Forbidden</html>", AuthorizationError, False),
        (429, b"", ThrottledError, True),
        (500, b"<html><body>Internal Server Error</body></html>", ServerError, True),
        (502, b"Bad Gateway", ServerError, True),
        (503, {"errors": [{"message": "Service Unavailable"}]}, ServerError, True),
        (408, b"Request Timeout", ServerError, True),  # RFC 9110 15.5.9: the request never ran
        (200, b"{not json", ServerError, True),
        (400, {"errors": [{"errorType": "BadRequestException", "message": "nope"}]}, GraphQLError, False),
    ],
)
def test_request_level_statuses(status: int, body: object, kind: type[Exception], retryable: bool) -> None:
    result = interpret(answer(status, body), ALIASES)
    assert isinstance(result.request_error, kind)
    assert is_retryable(result.request_error) is retryable


def test_retry_after_is_read() -> None:
    result = interpret(answer(429, b"", {"Retry-After": "2"}), ALIASES)
    assert isinstance(result.request_error, ThrottledError)
    assert result.request_error.retry_after == 2.0


def test_throttling_and_unauthorized_error_types_on_a_field() -> None:
    body = {
        "data": {"m0": None, "m1": None, "m2": {"id": "x"}},
        "errors": [
            {
                "path": ["m0"],
                "errorType": "DynamoDB:ProvisionedThroughputExceededException",
                "message": "slow",
            },
            {"path": ["m1"], "errorType": "Unauthorized", "message": "Not Authorized to access publish"},
        ],
    }
    result = interpret(answer(200, body), ALIASES)
    assert isinstance(result.errors[0], ThrottledError)
    assert is_retryable(result.errors[0])
    assert isinstance(result.errors[1], AuthorizationError)
    assert 2 not in result.errors


def test_an_alias_missing_from_data_is_never_counted_published() -> None:
    result = interpret(answer(200, {"data": {"m0": {"id": "1"}}}), ALIASES)
    assert set(result.errors) == {1, 2}


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details.\n\nThe Canonical String "
    "for this request should have been\n'POST\n/graphql\n\nhost:x.appsync-api.us-east-1.amazonaws.com\n"
    "x-amz-date:20261129T120000Z\nx-amz-security-token:IQoJb3JpZ2luX2VjSECRETTOKEN\nx-api-key:da2-SECRETKEY\n\n"
    "host;x-amz-date;x-amz-security-token\nabc123'\n\nThe String-to-Sign should have been\n"
    "'AWS4-HMAC-SHA256\n"
    "20261129T120000Z\n20261129/us-east-1/appsync/aws4_request\ndef456'\nAuthorization: AWS4-HMAC-SHA256 "
    "Credential=ASIASECRETKEYID/20261129/us-east-1/appsync/aws4_request, Signature=0123456789abcdef"
)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, {"errors": [{"errorType": "InvalidSignatureException", "message": SIGNATURE_MISMATCH}]}),
        (200, {"errors": [{"path": ["m0"], "errorType": "ValidationError", "message": SIGNATURE_MISMATCH}]}),
        (403, SIGNATURE_MISMATCH[SIGNATURE_MISMATCH.index("x-amz-security-token") :]),
    ],
    ids=["request-error", "field-error", "plain-text-body"],
)
def test_credentials_the_server_echoes_never_reach_an_error(status: int, body: object) -> None:
    # GIVEN an answer whose text echoes the canonical request: a session token, an API key, a signature
    text = json.dumps(body) if isinstance(body, dict) else str(body)
    # WHEN it is read
    result = interpret(HttpResponse(status, {}, text.encode()), ALIASES)
    errors = [result.request_error, *result.errors.values()]
    shown = " ".join(str(error) for error in errors if error is not None)
    # THEN none of them is in an error's message (which goes to logs and to DeliveryFailedError)
    assert shown
    for secret in ("SECRETTOKEN", "SECRETKEY", "ASIASECRETKEYID", "0123456789abcdef"):
        assert secret not in shown


def test_a_null_result_without_an_error_succeeds_with_a_note() -> None:
    # GIVEN AppSync answered m1 with null and no error (a resolver that returned null)
    result = interpret(answer(200, {"data": {"m0": {"id": "1"}, "m1": None, "m2": {"id": "3"}}}), ALIASES)
    # THEN it is no error (the mutation ran), but it says so: subscribers get a null payload
    assert result.errors == {}
    assert set(result.notes) == {1}
    assert "null" in result.notes[1]


def test_an_error_without_a_path_spares_the_mutations_that_returned_data() -> None:
    # GIVEN data for every alias and one error no alias can be blamed for
    body = {
        "data": {"m0": {"id": "1"}, "m1": {"id": "2"}, "m2": {"id": "3"}},
        "errors": [{"message": "something went wrong", "errorType": "InternalFailure"}],
    }
    # WHEN interpreted
    result = interpret(answer(200, body), ALIASES)
    # THEN every mutation ran: none fails or is sent again, and the error is noted on each
    assert result.request_error is None
    assert result.errors == {}
    assert set(result.notes) == {0, 1, 2}
    assert "something went wrong" in result.notes[0]


def test_an_error_without_a_path_fails_only_the_mutations_without_data() -> None:
    # GIVEN m1 without a result (null, then missing) and an error without a path
    for data in ({"m0": {"id": "1"}, "m1": None, "m2": {"id": "3"}}, {"m0": {"id": "1"}, "m2": {"id": "3"}}):
        body = {"data": data, "errors": [{"message": "resolver failed", "errorType": "ValidationError"}]}
        result = interpret(answer(200, body), ALIASES)
        # THEN m1 takes the error, m0 and m2 ran
        assert result.request_error is None
        assert set(result.errors) == {1}
        assert "resolver failed" in str(result.errors[1])
        assert not is_retryable(result.errors[1])


def test_null_data_after_a_blamed_error_spares_the_mutations_that_ran_before_it() -> None:
    # GIVEN data null because m1's non-null field failed (null propagates to data); mutations run in order
    body = {"data": None, "errors": [{"message": "poison", "errorType": "PoisonError", "path": ["m1"]}]}
    # WHEN interpreted
    result = interpret(answer(200, body), ALIASES)
    # THEN m0 ran before it (not sent again), m1 failed for good, m2 did not run and is retried
    assert result.request_error is None
    assert set(result.errors) == {1, 2}
    assert not is_retryable(result.errors[1])
    assert is_retryable(result.errors[2])
    assert set(result.notes) == {0}


@pytest.mark.parametrize("status", [404, 405, 410, 415, 301, 307])
def test_a_status_that_says_the_url_is_wrong_fails_the_request_as_misconfigured(status: int) -> None:
    # GIVEN an answer no AppSync endpoint gives to a well-formed request
    result = interpret(answer(status, b"<html>Not Found</html>"), ALIASES)
    # THEN the request failed as a whole for the configuration: not retried, not a record's fault
    error = result.request_error
    assert isinstance(error, WrongEndpointError)
    assert not is_retryable(error)
    assert not error.dead_letterable


@pytest.mark.parametrize(
    ("url", "fix"),
    [
        ("https://abc.appsync-api.us-east-1.amazonaws.com/", "path should be /graphql"),
        ("https://abc.appsync-realtime-api.us-east-1.amazonaws.com/graphql", "real-time (WebSocket) host"),
        ("https://abc.appsync-api.us-east-1.amazonaws.com/graphql", "API id and region"),
        ("https://user:secret@api.example.com/graphql", "custom domain"),
    ],
)
def test_a_wrong_endpoint_names_the_url_and_the_likely_fix(url: str, fix: str) -> None:
    error = WrongEndpointError("AppSync answered HTTP 404", status=404).at(url)
    assert fix in str(error)
    assert "secret" not in str(error)
    assert url.replace("user:secret@", "") in str(error)


@pytest.mark.parametrize("data", [None, [], "x"])
def test_an_answer_without_a_result_or_an_error_is_not_a_success(data: object) -> None:
    # GIVEN a 200 whose data says nothing ran, and no error
    result = interpret(answer(200, {"data": data}), ALIASES)
    # THEN nothing is counted published: the request failed, transiently (tried again)
    assert isinstance(result.request_error, ServerError)


def test_a_document_of_several_fields_that_ran_in_part_is_never_sent_again() -> None:
    # GIVEN m0's document has two fields (m0_0, m0_1): the first returned data, the second was throttled
    aliases = {"m0_0": 0, "m0_1": 0, "m1_0": 1, "m1_1": 1}
    body = {
        "data": {"m0_0": {"id": "1"}, "m0_1": None, "m1_0": {"id": "2"}, "m1_1": {"id": "2"}},
        "errors": [{"path": ["m0_1"], "errorType": "DynamoDB:ProvisionedThroughputExceededException",
                    "message": "Rate exceeded"}],
    }  # fmt: skip
    result = interpret(answer(200, body), aliases)
    # THEN m0 ran in part: a note (its first field would run twice if sent again), no error
    assert result.errors == {}
    assert "ran in part" in result.notes[0]
    assert "Rate exceeded" in result.notes[0]


@pytest.mark.parametrize("status", [429, 502])
def test_an_error_status_with_results_is_read_per_mutation(status: int) -> None:
    # GIVEN a 429 or 502 whose body still shows m0 ran
    body = {"data": {"m0": {"id": "1"}, "m1": None}, "errors": [{"path": ["m1"], "message": "x"}]}
    result = interpret(answer(status, body), ALIASES)
    # THEN m0 ran (not sent again); m1 failed; m2 has no result and is tried again
    assert result.request_error is None
    assert 0 not in result.errors
    assert set(result.errors) == {1, 2}


@pytest.mark.parametrize(
    "message",
    [
        "Validation error of type FieldUndefined: Field 'publishOrder' in type 'Mutation' is undefined",
        "Validation error of type UnknownType: Unknown type OrderInput",
        'Cannot query field "publishOrder" on type "Mutation".',
        'Unknown type "OrderInput".',
    ],
)
def test_a_document_the_schema_refuses_is_a_misconfiguration(message: str) -> None:
    # GIVEN AppSync refusing the document itself (another API behind the URL, say): nothing ran
    body = {"data": None, "errors": [{"path": None, "message": message}]}
    result = interpret(answer(200, body), ALIASES)
    # THEN it is no record's fault: a SchemaMismatchError (a ConfigurationError), never poison
    assert isinstance(result.request_error, SchemaMismatchError)
    assert isinstance(result.request_error, ConfigurationError)
    assert not result.request_error.dead_letterable


def test_a_variable_the_schema_refuses_is_still_the_record() -> None:
    body = {
        "data": None,
        "errors": [{"message": "Variable 'input' has an invalid value: expected type 'Int'"}],
    }
    result = interpret(answer(200, body), ALIASES)
    assert isinstance(result.request_error, GraphQLError)
    assert result.request_error.dead_letterable
