"""streambridge: AWS stream and event records to ordered, batched, signed AppSync mutations.

Importing this package is cheap: botocore, aiohttp and tenacity load on first use.
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
from streambridge._sources.aurora import AuroraEvent
from streambridge._sources.cloudwatch import AlarmEvent
from streambridge._sources.dynamodb import DynamoDBRecord
from streambridge._sources.eventbridge import EventBridgeEvent
from streambridge._sources.kinesis import KinesisRecord
from streambridge._sources.sqs import SQSRecord
from streambridge._stores.deadletter import DeadLetter, DeadLetterSink, SQSDeadLetterQueue
from streambridge._stores.idempotency import DynamoDBIdempotencyStore, IdempotencyStore
from streambridge._targets.channels import ChannelEvent
from streambridge._targets.graphql.target import Mutation

if _TYPE_CHECKING:  # at run time loaded on first use by __getattr__ below
    from streambridge._sources.http import HttpItem
    from streambridge._sources.kinesis_dynamodb import KinesisDynamoDBRecord
    from streambridge._stores.versions import DynamoDBVersionStore, VersionStore

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


def __getattr__(name: str) -> _Any:
    """Public names whose module loads on first use: a function that never uses them never pays for them."""
    if name == "KinesisDynamoDBRecord":
        from streambridge._sources.kinesis_dynamodb import KinesisDynamoDBRecord

        KinesisDynamoDBRecord.__module__ = "streambridge"
        globals()[name] = KinesisDynamoDBRecord
        return KinesisDynamoDBRecord
    if name in ("DynamoDBVersionStore", "VersionStore"):  # the stale guard's, for its users only
        from streambridge._stores import versions

        public = getattr(versions, name)
        public.__module__ = "streambridge"
        globals()[name] = public
        return public
    if name == "HttpItem":  # API Gateway and function URL requests' items, for HTTP handlers only
        from streambridge._sources.http import HttpItem

        HttpItem.__module__ = "streambridge"
        globals()[name] = HttpItem
        return HttpItem
    raise AttributeError(f"module 'streambridge' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
