"""What a subscriber receives, and when: AppSync's subscription rules, each with its source.

A subscription field listens to the mutation fields its ``@aws_subscribe`` names (``_schema``). When one
of them succeeds, every subscription of those fields whose arguments match gets a message. The real-time
endpoint (``_realtime``) registers the subscriptions and sends the messages; the rules are here. Where
the service's behaviour is not known for sure, LocalAppSync takes the reading that is never kinder than
AppSync, so that a test passing here does not fail in production for that reason.

- **The mutation's selection set is what subscribers get** (documented: "Subscriptions are triggered from
  mutations and the mutation selection set is sent to subscribers",
  https://docs.aws.amazon.com/appsync/latest/devguide/aws-appsync-real-time-data.html). The payload is the
  mutation field's *response*, so a field the mutation did not select is null for the subscriber.
- **Inner aliases reach subscribers as aliases** (reported, open:
  https://github.com/aws/aws-appsync-community/issues/160): the response carries ``total`` for
  ``total: amount``, so a subscriber's ``amount`` is null, and so is its own ``total: amount``.
- **Subscription arguments filter on the mutation's response fields**, not on its arguments (reported,
  consistent: a maintainer in https://github.com/aws-amplify/amplify-cli/issues/4601, "Subscription
  filtering happens based on the data sent by mutation"; lesson 1 of
  https://blog.purple-technology.com/lessons-learned-aws-appsync-subscriptions). A null argument does not
  filter; an argument naming a field the mutation did not select never matches (``matches``).
- **A non-null field the mutation did not select fails the message for that subscriber**: it gets the
  data of its subscription field null and an error naming the field, in graphql-java's words (reported
  with this exact shape, ``{"message", "path"}`` only, in
  https://github.com/aws-amplify/amplify-category-api/issues/1338 and in "Event fields" of
  https://graphql-on-aws-appsync-book.com/aws-appsync/real-time-data-with-subscriptions/event-fields/;
  the same message in https://github.com/aws/aws-appsync-community/issues/127). ``subscription_error``.
- **A message over 240 kB is dropped silently**: the mutation succeeds, the subscriber receives nothing
  (documented limit "Subscription payload size: 240 kB",
  https://docs.aws.amazon.com/general/latest/gr/appsync.html; reported silent in
  https://github.com/aws/aws-appsync-community/issues/33 and /175). Unknown: whether
  kB means 1,000 or 1,024 bytes, and whether AppSync measures the mutation's response or each
  subscriber's message; LocalAppSync drops above 240,000 bytes of either (``message_size``).
- **Aliased top-level mutations** (``m0: publishOrder(...)``) each fire their subscriptions here, as on
  the Amplify simulator. On AppSync: UNKNOWN, one report against
  (https://github.com/dillonkearns/elm-graphql/issues/106); ``LocalAppSync(mute_aliased_mutations=True)``
  models that failure (``_server``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from streambridge.testing._local._errors import format_error

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLError, GraphQLSchema

    from streambridge.testing._local._realtime import Connection, LocalSink

MAX_MESSAGE_BYTES: Final = 240_000
"""AppSync's "240 kB" read as 1,000-byte kB: the stricter of the two readings."""

# graphql-core's wording of a null in a non-null field (AppSync words it as graphql-java does).
_NON_NULL_RE: Final = re.compile(
    r"Cannot return null for non-nullable field (?P<parent>\w+)\.(?P<field>\w+)\."
)


@dataclass
class Subscription:
    """One registered subscription: its document, the connection to send to, and its filters."""

    id: str
    connection: Connection | LocalSink
    document: DocumentNode
    operation_name: str | None
    field: str
    variables: dict[str, Any]
    filters: dict[str, Any]
    auth_mode: str


def subscription_filters(
    schema: GraphQLSchema, field_name: str, arguments: Mapping[str, Any]
) -> dict[str, Any]:
    """The non-null subscription arguments, as the response values they must equal."""
    from graphql import get_named_type, is_leaf_type

    assert schema.subscription_type is not None  # noqa: S101 - a subscription ran
    definitions = schema.subscription_type.fields[field_name].args
    filters = {}
    for name, value in arguments.items():
        if value is None:
            continue  # AppSync ignores null arguments
        named = get_named_type(definitions[name].type)
        leaf = is_leaf_type(named) and not isinstance(value, list)
        filters[name] = named.coerce_output_value(value) if leaf else value
    return filters


def matches(filters: Mapping[str, Any], response: Any) -> bool:
    """AppSync's argument filtering: every non-null subscription argument equals the response field."""
    if not filters:
        return True
    if not isinstance(response, Mapping):
        return False
    return all(name in response and response[name] == value for name, value in filters.items())


def subscription_error(schema: GraphQLSchema, error: GraphQLError) -> dict[str, Any]:
    """An error of a subscription message as AppSync sends it.

    A null in a non-null field is ``{"message": "Cannot return null for non-nullable type: 'String' within
    parent 'Order' (/onPublishOrder/status)", "path": ["onPublishOrder", "status"]}``, as reported; any
    other error keeps AppSync's usual field-error shape.
    """
    from graphql import GraphQLObjectType

    match = _NON_NULL_RE.fullmatch(error.message)
    parent = schema.get_type(match["parent"]) if match else None
    if match is None or error.path is None or not isinstance(parent, GraphQLObjectType):
        return format_error(error)
    field_type = str(parent.fields[match["field"]].type).removesuffix("!")
    where = "".join(f"[{key}]" if isinstance(key, int) else f"/{key}" for key in error.path)
    message = (
        f"Cannot return null for non-nullable type: '{field_type}' within parent '{parent.name}' ({where})"
    )
    return {"message": message, "path": list(error.path)}


def message_size(subscription_field: str, response: Any, message: Mapping[str, Any]) -> int:
    """The bytes AppSync's 240 kB limit is checked against, as compact JSON in UTF-8.

    Which payload AppSync measures is unknown: the mutation's whole response (as this subscription's
    ``{"data": {...}}``) or the message trimmed to this subscriber's selection set. The larger of the two
    is never kinder than AppSync.
    """
    whole = {"data": {subscription_field: response}}
    return max(_json_size(whole), _json_size(message))


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())
