"""The public surface is curated: pin it, and keep `import streambridge` cheap."""

from __future__ import annotations

import subprocess
import sys
import traceback

import streambridge

EXPECTED = {
    "IdempotencyStore",
    "DynamoDBIdempotencyStore",
    "DynamoDBVersionStore",
    "VersionStore",
    "SQSDeadLetterQueue",
    "DeadLetterSink",
    "DeadLetter",
    "AlarmEvent",
    "ApiKeyAuth",
    "AuroraEvent",
    "Auth",
    "AuthorizationError",
    "Bridge",
    "ConfigurationError",
    "ConnectionFailedError",
    "CredentialsUnavailableError",
    "DeadlineExceededError",
    "EndpointDownError",
    "SchemaMismatchError",
    "WrongEndpointError",
    "ChannelEvent",
    "ChannelEventError",
    "DeliveryFailedError",
    "DocumentError",
    "DynamoDBRecord",
    "EventBridgeEvent",
    "EventShapeError",
    "GraphQLError",
    "Handler",
    "HeldBackError",
    "HttpHandler",
    "HttpItem",
    "HttpResponse",
    "IAMAuth",
    "InvocationResult",
    "KinesisDynamoDBRecord",
    "KinesisRecord",
    "LambdaContext",
    "MappingError",
    "Metrics",
    "Mutation",
    "PayloadTooLargeError",
    "PublishError",
    "RecordError",
    "RecordOutcome",
    "RequestTrace",
    "RequestTimeoutError",
    "RetryPolicy",
    "SQSRecord",
    "ServerError",
    "Status",
    "StreambridgeError",
    "ThrottledError",
    "TokenAuth",
    "TransientError",
    "Transport",
}


def test_exports_are_pinned() -> None:
    assert set(streambridge.__all__) == EXPECTED
    assert all(hasattr(streambridge, name) for name in EXPECTED)


def test_public_names_say_to_import_them_from_streambridge() -> None:
    # GIVEN every public name / THEN it names the package users import it from, not a private module
    assert {name: getattr(streambridge, name).__module__ for name in EXPECTED} == dict.fromkeys(
        EXPECTED, "streambridge"
    )
    # AND so a traceback shows the name users can catch
    error = streambridge.ConfigurationError("no URL")
    (line,) = traceback.format_exception_only(type(error), error)
    assert line == "streambridge.ConfigurationError: no URL\n"


def test_every_error_is_a_streambridge_error_and_says_if_retryable() -> None:
    errors = [getattr(streambridge, n) for n in EXPECTED if n.endswith("Error")]
    assert all(issubclass(e, streambridge.StreambridgeError) for e in errors)
    retryable = {e.__name__ for e in errors if e.retryable}
    assert retryable == {"TransientError", "ThrottledError", "ServerError", "ConnectionFailedError",
                         "RequestTimeoutError", "EndpointDownError",
                         "CredentialsUnavailableError"}  # fmt: skip


def test_import_and_bridge_construction_load_nothing_heavy() -> None:
    # GIVEN a fresh interpreter
    code = (
        "import sys, streambridge\n"
        "b = streambridge.Bridge('https://x.appsync-api.us-east-1.amazonaws.com/graphql')\n"
        "@b.dynamodb('mutation P($input: OrderInput!) { publishOrder(input: $input) { id } }')\n"
        "def handler(record): return None\n"
        "heavy = ['botocore', 'boto3', 'aiohttp', 'tenacity', 'graphql', 'gql', 'yarl', 'asyncio', 'orjson',"
        " 'dataclasses', 'inspect']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    # WHEN the module is imported and a handler decorated at module level
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # THEN none of the heavy dependencies is loaded before the first invocation, nor dataclasses (it loads
    # inspect, ast and dis: ~6 ms of cold start)
    assert loaded.strip() == ""
