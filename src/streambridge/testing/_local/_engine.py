"""The execution engine: the built schema, its resolvers and auth rules, and the GraphQL it runs.

It executes three things with graphql-core: an HTTP request (the response body, and the root mutation
fields as they ran, for the records and the subscriptions), a ``start`` message's subscription (a dry run
that checks it and captures its arguments), and the message one published result makes for one
subscription. Mutation fields resolve like a NONE data source unless the test gives a resolver; every
field of every object type is wrapped to record root calls and apply the auth directives.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from streambridge.testing._fake import FieldError, Resolver, pass_through, testing_extra_missing
from streambridge.testing._local._auth import auth_modes
from streambridge.testing._local._delivery import Subscription, subscription_error, subscription_filters
from streambridge.testing._local._errors import (
    ResolverCrashError,
    StartError,
    UnauthorizedError,
    appsync_error,
    format_error,
)
from streambridge.testing._local._schema import build_schema, subscriptions_by_mutation

if TYPE_CHECKING:
    from graphql import (
        DocumentNode,
        GraphQLFieldResolver,
        GraphQLObjectType,
        GraphQLResolveInfo,
        OperationDefinitionNode,
    )

    from streambridge.testing._local._realtime import Connection, LocalSink


@dataclass
class Context:
    """The execution context: the auth mode, and the root mutation/subscription fields as they ran."""

    auth_mode: str
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)


@dataclass(frozen=True)
class Executed:
    """One root mutation field as it ran: under which alias, with which arguments, and its outcome."""

    field: str
    alias: str
    arguments: dict[str, Any]
    result: Any
    error: dict[str, Any] | None


class Engine:
    """The schema with AppSync's additions, its resolvers, auth rules and subscription wiring."""

    def __init__(
        self, text: str, source_name: str, resolvers: dict[str, Resolver], default_auth: str
    ) -> None:
        try:
            import graphql
        except ModuleNotFoundError as error:  # the testing extra is not installed: say which
            raise testing_extra_missing("LocalAppSync", error) from error

        if graphql.version_info < (3, 3):
            raise RuntimeError(f"LocalAppSync needs graphql-core >= 3.3 (gql >= 4), found {graphql.version}")
        self.schema = build_schema(text, source_name)
        self.default_auth = default_auth
        query, mutation, subscription = (
            self.schema.query_type,
            self.schema.mutation_type,
            self.schema.subscription_type,
        )
        self.mutation_type = mutation.name if mutation else None
        self.subscription_type = subscription.name if subscription else None
        self._check_resolvers(resolvers, query, mutation)
        self.subscribers_of = subscriptions_by_mutation(subscription, mutation)
        for type_ in self.schema.type_map.values():
            if isinstance(type_, graphql.GraphQLObjectType) and not type_.name.startswith("__"):
                self._guard_fields(type_, resolvers)

    @staticmethod
    def _check_resolvers(
        resolvers: Mapping[str, Resolver],
        query: GraphQLObjectType | None,
        mutation: GraphQLObjectType | None,
    ) -> None:
        roots = {t.name: t for t in (query, mutation) if t is not None}
        for key, resolver in resolvers.items():
            type_name, _, field_name = key.partition(".")
            root = roots.get(type_name)
            if root is None or field_name not in root.fields:
                known = sorted(f"{t.name}.{f}" for t in roots.values() for f in t.fields)
                raise ValueError(
                    f"resolvers: {key!r} is not a query or mutation field of the schema; known: {known}"
                )
            if not callable(resolver):
                raise TypeError(f"resolvers[{key!r}] is not callable")

    def _guard_fields(self, type_: GraphQLObjectType, resolvers: Mapping[str, Resolver]) -> None:
        type_modes = auth_modes(type_.ast_node, *type_.extension_ast_nodes)
        for name, field_def in type_.fields.items():
            allowed = auth_modes(field_def.ast_node) or type_modes or frozenset({self.default_auth})
            field_def.resolve = self._guarded(type_.name, name, field_def.resolve, allowed, resolvers)

    def _guarded(
        self,
        type_name: str,
        field_name: str,
        original: GraphQLFieldResolver | None,
        allowed: frozenset[str],
        resolvers: Mapping[str, Resolver],
    ) -> GraphQLFieldResolver:
        from graphql import default_field_resolver

        is_query = self.schema.query_type is not None and type_name == self.schema.query_type.name
        is_mutation = type_name == self.mutation_type
        records = is_mutation or type_name == self.subscription_type
        user = resolvers.get(f"{type_name}.{field_name}")
        inner: GraphQLFieldResolver
        if is_mutation or (is_query and user is not None):
            inner = _calling(user or pass_through, field_name)
        elif is_query:
            inner = _resolve_null  # a query field without a resolver: null, like a field with no data
        else:
            inner = original or default_field_resolver

        def resolve(source: Any, info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
            context: Context = info.context
            if records:
                context.calls.append((str(info.path.key), field_name, copy.deepcopy(arguments)))
            if context.auth_mode not in allowed:
                raise UnauthorizedError(field_name, type_name)
            return inner(source, info, **arguments)

        return resolve

    # -- HTTP ------------------------------------------------------------------------------------------

    async def execute(
        self, query: str, variables: Mapping[str, Any], operation_name: str | None, auth_mode: str
    ) -> tuple[dict[str, Any], list[Executed]]:
        """Run one HTTP request; return the response body and the root mutation fields it executed."""
        from graphql import GraphQLError, OperationType, execute, parse, validate

        try:
            document = parse(query)
        except GraphQLError as syntax_error:  # the simulator's shape: not a GraphQL response at all
            return {"errorMessage": syntax_error.message}, []
        operation = _operation(document, operation_name)
        if operation is None:
            return {"errorMessage": "Could not get operation from the document"}, []
        errors = validate(self.schema, document)
        if errors:
            return {"data": None, "errors": [format_error(e) for e in errors]}, []
        if operation.operation is OperationType.SUBSCRIPTION:
            message = "subscriptions are served on the real-time endpoint (/graphql/realtime), not over HTTP"
            return {"data": None, "errors": [appsync_error("UnsupportedOperation", message)]}, []
        context = Context(auth_mode)
        result = execute(
            self.schema,
            document,
            variable_values=dict(variables),
            operation_name=operation_name,
            context_value=context,
        )
        if isawaitable(result):
            result = await result
        formatted = [format_error(e) for e in result.errors or ()]
        body: dict[str, Any] = {"data": result.data}
        if formatted:
            body["errors"] = formatted
        executed = []
        if operation.operation is OperationType.MUTATION:
            data = result.data or {}
            for alias, field_name, arguments in context.calls:
                error = next((e for e in formatted if (e.get("path") or [None])[0] == alias), None)
                executed.append(Executed(field_name, alias, arguments, data.get(alias), error))
        return body, executed

    # -- real-time ---------------------------------------------------------------------------------------

    async def subscribe(
        self, request: Any, auth_mode: str, subscription_id: str, connection: Connection | LocalSink
    ) -> Subscription:
        """Check a ``start`` message's GraphQL request; return the subscription, or raise ``StartError``."""
        from graphql import GraphQLError, OperationType, execute, parse, validate

        if not isinstance(request, Mapping) or not isinstance(request.get("query"), str):
            raise StartError(
                [appsync_error("MalformedMessage", "payload.data must be a JSON object with a query")]
            )
        variables = request.get("variables") or {}
        operation_name = request.get("operationName")
        if not isinstance(variables, Mapping) or not isinstance(operation_name, (str, type(None))):
            raise StartError([appsync_error("MalformedMessage", "variables must be an object")])
        try:
            document = parse(request["query"])
        except GraphQLError as error:
            raise StartError([format_error(error)]) from None
        operation = _operation(document, operation_name)
        if operation is None:
            raise StartError([appsync_error("MalformedMessage", "Could not get operation from the document")])
        if operation.operation is not OperationType.SUBSCRIPTION:
            kind = operation.operation.value
            raise StartError(
                [appsync_error("UnsupportedOperation", f"{kind} not supported through the realtime channel")]
            )
        errors = validate(self.schema, document)
        if errors:
            raise StartError([format_error(e) for e in errors])
        # A dry run with no event: coerces the variables, applies the field's auth rule, captures arguments.
        context = Context(auth_mode)
        result = execute(
            self.schema,
            document,
            variable_values=dict(variables),
            operation_name=operation_name,
            context_value=context,
        )
        if isawaitable(result):
            result = await result
        if result.errors:
            raise StartError([format_error(e) for e in result.errors])
        _, field_name, arguments = context.calls[0]
        return Subscription(
            id=subscription_id,
            connection=connection,
            document=document,
            operation_name=operation_name,
            field=field_name,
            variables=dict(variables),
            filters=subscription_filters(self.schema, field_name, arguments),
            auth_mode=auth_mode,
        )

    async def event(self, subscription: Subscription, payload: Any) -> dict[str, Any]:
        """The ``data`` message payload of one published mutation result for one subscription."""
        from graphql import execute

        result = execute(
            self.schema,
            subscription.document,
            root_value={subscription.field: payload},
            variable_values=subscription.variables,
            operation_name=subscription.operation_name,
            context_value=Context(subscription.auth_mode),
        )
        if isawaitable(result):
            result = await result
        message: dict[str, Any] = {"data": result.data}
        if result.errors:
            message["errors"] = [subscription_error(self.schema, e) for e in result.errors]
        return message


def _calling(resolver: Resolver, field_name: str) -> GraphQLFieldResolver:
    """Call a user resolver; its exceptions other than FieldError are marked as resolver crashes."""

    def resolve(_source: Any, _info: GraphQLResolveInfo[Any], **arguments: Any) -> Any:
        try:
            result = resolver(field_name, arguments)
        except FieldError:
            raise
        except Exception as error:
            raise ResolverCrashError(error) from error
        return _awaiting(result) if isawaitable(result) else result

    return resolve


async def _awaiting(result: Awaitable[Any]) -> Any:
    try:
        return await result
    except FieldError:
        raise
    except Exception as error:
        raise ResolverCrashError(error) from error


def _resolve_null(_source: Any, _info: GraphQLResolveInfo[Any], **_arguments: Any) -> Any:
    return None


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    from graphql import get_operation_ast

    return get_operation_ast(document, operation_name)
