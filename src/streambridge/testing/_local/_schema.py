"""The user's AppSync schema, built with graphql-core the way AppSync reads it.

AppSync's scalars and directives are added unless the schema defines them itself (the same vocabulary as
the offline schema check, ``streambridge._targets.graphql.appsync``), the scalars get AppSync's rules
(``_scalars``), and
``@aws_subscribe`` is read into the wiring "mutation field -> subscription fields that listen to it".
Every problem is raised when the LocalAppSync is built, before anything starts.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from streambridge._targets.graphql.appsync import APPSYNC_DIRECTIVES, APPSYNC_SCALARS
from streambridge.testing._local._scalars import implement_scalar

if TYPE_CHECKING:
    from graphql import GraphQLObjectType, GraphQLSchema


def schema_text(schema: str | Path) -> tuple[str, str]:
    """The schema's text and a name for its messages: ``schema`` is the text itself, or a path to read."""
    if isinstance(schema, str) and "{" in schema:
        return schema, "schema.graphql"
    path = Path(schema)
    try:
        return path.read_text(encoding="utf-8"), str(path)
    except OSError as error:
        raise FileNotFoundError(f"cannot read the AppSync schema {str(path)!r}: {error}") from error


def build_schema(text: str, source_name: str) -> GraphQLSchema:
    """Parse the user's schema, add AppSync's scalars and directives it does not define, build it."""
    from graphql import (
        DocumentNode,
        GraphQLError,
        GraphQLScalarType,
        Source,
        build_ast_schema,
        parse,
        validate_schema,
    )

    try:
        user = parse(Source(text, source_name))
    except GraphQLError as error:
        raise ValueError(f"the AppSync schema {source_name} does not parse: {error}") from error
    defined = {getattr(getattr(node, "name", None), "value", None) for node in user.definitions}
    prelude = [f"scalar {name}" for name in APPSYNC_SCALARS if name not in defined]
    prelude += [sdl for name, sdl in APPSYNC_DIRECTIVES.items() if name not in defined]
    added = parse("\n".join(prelude)).definitions if prelude else ()
    try:
        schema = build_ast_schema(DocumentNode(definitions=(*added, *user.definitions)))
    except (GraphQLError, TypeError) as error:
        raise ValueError(f"the AppSync schema {source_name} is not valid: {error}") from error
    problems = validate_schema(schema)
    if problems:
        raise ValueError(f"the AppSync schema {source_name} is not valid: " + "; ".join(map(str, problems)))
    for name in APPSYNC_SCALARS:
        scalar = schema.type_map.get(name)
        if isinstance(scalar, GraphQLScalarType):
            implement_scalar(scalar)
    return schema


def subscriptions_by_mutation(
    subscription: GraphQLObjectType | None, mutation: GraphQLObjectType | None
) -> dict[str, list[str]]:
    """``{mutation field: [subscription fields listing it in @aws_subscribe]}``; unknown names are errors."""
    from graphql import value_from_ast_untyped

    wiring: dict[str, list[str]] = {}
    if subscription is None:
        return wiring
    for name, field_def in subscription.fields.items():
        for directive in getattr(field_def.ast_node, "directives", None) or ():
            if directive.name.value != "aws_subscribe":
                continue
            for argument in directive.arguments:
                if argument.name.value != "mutations":
                    continue
                listed = value_from_ast_untyped(argument.value) or []
                for mutation_name in listed if isinstance(listed, list) else [listed]:
                    if mutation is None or mutation_name not in mutation.fields:
                        raise ValueError(
                            f"@aws_subscribe on {subscription.name}.{name} names {mutation_name!r}, "
                            "which is not a mutation field of the schema"
                        )
                    wiring.setdefault(mutation_name, []).append(name)
    return wiring
