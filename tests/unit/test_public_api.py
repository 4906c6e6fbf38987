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
    "HttpTransport",
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


def test_import_loads_no_source_target_or_store_and_a_decorator_only_its_source() -> None:
    # GIVEN a fresh interpreter that imports the package, then decorates a DynamoDB Streams handler
    code = (
        "import sys, streambridge\n"
        "def ours(): return sorted(m for m in sys.modules if m.startswith(('streambridge._sources.',"
        " 'streambridge._stores.', 'streambridge._targets.channels')))\n"
        "print(' '.join(ours()))\n"
        "b = streambridge.Bridge('https://x.appsync-api.us-east-1.amazonaws.com/graphql')\n"
        "@b.dynamodb('mutation P($input: OrderInput!) { publishOrder(input: $input) { id } }')\n"
        "def handler(record): return None\n"
        "print(' '.join(ours()))\n"
        "print(streambridge.SQSRecord.__module__, 'streambridge._sources.sqs' in sys.modules)\n"
    )
    imported, decorated, named = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    ).splitlines()
    # THEN the import loads none of the sources' modules, the channels target or the stores
    assert imported == "streambridge._sources._base"
    # AND a decorator loads its own source's module (and what it reads records with), no other source's
    assert decorated.split() == [
        "streambridge._sources._attributes",
        "streambridge._sources._base",
        "streambridge._sources._common",
        "streambridge._sources.dynamodb",
    ]
    # AND a public name loads its module on first use, named as the package's
    assert named == "streambridge True"


# What `import streambridge` loads of its own (docs/performance.md, cold start): a module added here is a
# decision, measured, not an accident of an import line.
IMPORTED_AT_IMPORT = [
    "streambridge",
    "streambridge._bridge",
    "streambridge._engine",
    "streambridge._engine.batch",
    "streambridge._engine.checks",
    "streambridge._engine.lanes",
    "streambridge._engine.observe",
    "streambridge._engine.plan",
    "streambridge._engine.result",
    "streambridge._engine.retry",
    "streambridge._errors",
    "streambridge._io",
    "streambridge._io.auth",
    "streambridge._io.transport",
    "streambridge._sources",
    "streambridge._sources._base",
    "streambridge._targets",
    "streambridge._targets.base",
    "streambridge._targets.graphql",
    "streambridge._targets.graphql.document",
    "streambridge._targets.graphql.target",
    "streambridge._targets.values",
]


def test_import_loads_exactly_the_pinned_modules_of_the_package() -> None:
    code = "import sys, streambridge\nprint(' '.join(sorted(m for m in sys.modules if 'streambridge' in m)))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.split() == IMPORTED_AT_IMPORT
