"""streambridge: AWS stream and event records to ordered, batched, signed AppSync mutations.

Importing this package is cheap: botocore, asyncio, h11 and tenacity load on first use.
"""

import types as _types
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from streambridge._bridge import Bridge, Handler, HttpHandler, LambdaContext
from streambridge._engine.observe import Metrics, RequestTrace
from streambridge._engine.result import InvocationResult, RecordOutcome, Status
from streambridge._engine.retry import RetryPolicy
from streambridge._errors import (
    AuthorizationError,
    ChannelEventError,
    ConfigurationError,
    ConnectionFailedError,
    CredentialsUnavailableError,
    DeadlineExceededError,
    DeliveryFailedError,
    DocumentError,
    EndpointDownError,
    EventShapeError,
    GraphQLError,
    HeldBackError,
    MappingError,
    PayloadTooLargeError,
    PublishError,
    RecordError,
    RequestTimeoutError,
    SchemaMismatchError,
    ServerError,
    StreambridgeError,
    ThrottledError,
    TransientError,
    WrongEndpointError,
)
from streambridge._io.auth import ApiKeyAuth, IAMAuth, TokenAuth
from streambridge._io.transport import Auth, HttpResponse, Transport
from streambridge._targets.graphql.target import Mutation

if _TYPE_CHECKING:  # at run time each loads on first use, by __getattr__ below (_LAZY)
    from streambridge._io.http import HttpTransport
    from streambridge._sources.aurora import AuroraEvent
    from streambridge._sources.cloudwatch import AlarmEvent
    from streambridge._sources.dynamodb import DynamoDBRecord
    from streambridge._sources.eventbridge import EventBridgeEvent
    from streambridge._sources.http import HttpItem
    from streambridge._sources.kinesis import KinesisRecord
    from streambridge._sources.kinesis_dynamodb import KinesisDynamoDBRecord
    from streambridge._sources.sqs import SQSRecord
    from streambridge._stores.deadletter import DeadLetter, DeadLetterSink, SQSDeadLetterQueue
    from streambridge._stores.idempotency import DynamoDBIdempotencyStore, IdempotencyStore
    from streambridge._stores.versions import DynamoDBVersionStore, VersionStore
    from streambridge._targets.channels import ChannelEvent

__all__ = [
    "AlarmEvent",
    "ApiKeyAuth",
    "AuroraEvent",
    "Auth",
    "AuthorizationError",
    "Bridge",
    "ChannelEvent",
    "ChannelEventError",
    "ConfigurationError",
    "ConnectionFailedError",
    "CredentialsUnavailableError",
    "DeadLetter",
    "DeadLetterSink",
    "DeadlineExceededError",
    "DeliveryFailedError",
    "DocumentError",
    "DynamoDBIdempotencyStore",
    "DynamoDBRecord",
    "DynamoDBVersionStore",
    "EndpointDownError",
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
    "IdempotencyStore",
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
    "RequestTimeoutError",
    "RequestTrace",
    "RetryPolicy",
    "SQSDeadLetterQueue",
    "SQSRecord",
    "SchemaMismatchError",
    "ServerError",
    "Status",
    "StreambridgeError",
    "ThrottledError",
    "TokenAuth",
    "TransientError",
    "Transport",
    "VersionStore",
    "WrongEndpointError",
]

# Public names carry the module users import them from, as httpx's do: a traceback says
# ``streambridge.ConfigurationError``, not the private module that happens to define it.
for _name in __all__:
    _public = globals().get(_name)  # a name loaded on first use is renamed then
    if isinstance(_public, (type, _types.FunctionType)) and _public.__module__.startswith("streambridge."):
        _public.__module__ = "streambridge"
del _name, _public, _types


_LAZY = {
    "AlarmEvent": "streambridge._sources.cloudwatch",
    "AuroraEvent": "streambridge._sources.aurora",
    "ChannelEvent": "streambridge._targets.channels",
    "DeadLetter": "streambridge._stores.deadletter",
    "DeadLetterSink": "streambridge._stores.deadletter",
    "DynamoDBIdempotencyStore": "streambridge._stores.idempotency",
    "DynamoDBRecord": "streambridge._sources.dynamodb",
    "DynamoDBVersionStore": "streambridge._stores.versions",
    "EventBridgeEvent": "streambridge._sources.eventbridge",
    "HttpItem": "streambridge._sources.http",
    "HttpTransport": "streambridge._io.http",
    "IdempotencyStore": "streambridge._stores.idempotency",
    "KinesisDynamoDBRecord": "streambridge._sources.kinesis_dynamodb",
    "KinesisRecord": "streambridge._sources.kinesis",
    "SQSDeadLetterQueue": "streambridge._stores.deadletter",
    "SQSRecord": "streambridge._sources.sqs",
    "VersionStore": "streambridge._stores.versions",
}
"""Public names whose module loads on first use: a function of one source never imports the others'
record views, nor the channels target or a store it does not use (cold start)."""


def __getattr__(name: str) -> _Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'streambridge' has no attribute {name!r}")
    public = getattr(__import__(module, fromlist=[name]), name)
    public.__module__ = "streambridge"
    globals()[name] = public
    return public


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
