"""What a subscriber receives, and when: AppSync's subscription semantics, apart from the transport.

A subscription field listens to the mutation fields its ``@aws_subscribe`` names (``_schema``). When one
of them succeeds, every subscription of those fields whose arguments match gets a message. The real-time
endpoint (``_realtime``) registers the subscriptions and sends the messages; the rules are here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from graphql import DocumentNode, GraphQLSchema

    from streambridge.testing._local._realtime import Connection, LocalSink


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
    from graphql import get_named_type, is_leaf_type  # noqa: PLC0415

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


def matches(filters: Mapping[str, Any], payload: Any) -> bool:
    """AppSync's argument filtering: every non-null subscription argument equals the response field."""
    if not filters:
        return True
    if not isinstance(payload, Mapping):
        return False
    return all(name in payload and payload[name] == value for name, value in filters.items())
