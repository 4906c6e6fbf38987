"""Offline checks of mutation documents against an AppSync schema (``streambridge check``).

Pure functions: schema text and document text in, findings out. graphql-core does the validation (it is
imported here, at module level, because only the command line imports this module, never a Lambda).

Beyond GraphQL validation, the checks guard against AppSync's silent failures:

- subscribers receive the publishing mutation's selection set, not what they asked for, so a subscription
  field that lists the mutation in ``@aws_subscribe`` gets null for every field the mutation does not
  select (warning);
- subscription arguments filter on the mutation's *response* fields: an argument naming a field the
  mutation does not select never matches, and the subscription never fires (error);
- aliases inside the mutation's selection set leave subscribers with nulls (warning).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DirectiveDefinitionNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    Source,
    TypeDefinitionNode,
    build_ast_schema,
    concat_ast,
    get_named_type,
    parse,
    validate,
    validate_schema,
    value_from_ast_untyped,
)
from graphql.validation.validate import validate_sdl

from streambridge._appsync import APPSYNC_DIRECTIVES, APPSYNC_SCALARS
from streambridge._document import compile_document
from streambridge._errors import DocumentError, StreambridgeError

__all__ = [
    "APPSYNC_DIRECTIVES",
    "APPSYNC_SCALARS",
    "Finding",
    "Level",
    "SchemaError",
    "appsync_schema",
    "check_document",
]


class Level(enum.Enum):
    """How much a finding matters. Errors fail the check; warnings fail it only with ``--strict``."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Finding:
    """One thing the check found in one document."""

    level: Level
    message: str

    def line(self, where: str) -> str:
        """The command's output line: ``ERROR <where>: <message>``."""
        return f"{self.level.name} {where}: {self.message}"


class SchemaError(StreambridgeError):
    """The schema itself does not parse or is not a valid GraphQL schema (with AppSync's additions)."""


# --------------------------------------------------------------------------------------------------
# The schema


def appsync_schema(text: str, name: str = "schema") -> GraphQLSchema:
    """Build a schema from AppSync SDL: AppSync's scalars and directives are added unless it defines them.

    Raises:
        SchemaError: the text does not parse, or the schema is not valid; the message lists every reason.
    """
    try:
        user = parse(Source(text, name))
    except GraphQLSyntaxError as error:
        raise SchemaError(f"{name} does not parse: {_located(error)}") from error
    types = {d.name.value for d in user.definitions if isinstance(d, TypeDefinitionNode)}
    directives = {d.name.value for d in user.definitions if isinstance(d, DirectiveDefinitionNode)}
    prelude = [f"scalar {scalar}" for scalar in APPSYNC_SCALARS if scalar not in types]
    prelude += [sdl for directive, sdl in APPSYNC_DIRECTIVES.items() if directive not in directives]
    document = concat_ast([parse(Source("\n".join(prelude), "AppSync definitions")), user])
    errors = validate_sdl(document)
    if errors:
        raise SchemaError(f"{name} is not a valid schema: " + "; ".join(_located(e) for e in errors))
    schema = build_ast_schema(document, assume_valid_sdl=True)
    errors = validate_schema(schema)
    if errors:
        raise SchemaError(f"{name} is not a valid schema: " + "; ".join(_located(e) for e in errors))
    return schema


def _located(error: GraphQLError) -> str:
    if not error.locations:
        return error.message
    where = "; ".join(f"line {loc.line}, column {loc.column}" for loc in error.locations)
    return f"{error.message} (at {where})"


# --------------------------------------------------------------------------------------------------
# A document


def check_document(schema: GraphQLSchema | str, document: str) -> list[Finding]:
    """Check one mutation document against ``schema`` (a schema or AppSync SDL text).

    Returns the findings, errors first: GraphQL validation (unknown fields, argument and variable types,
    missing required arguments), what streambridge needs of a document (exactly one mutation), the
    subscription pitfalls and inner aliases. An empty list means the document is fine.

    Raises:
        SchemaError: ``schema`` is SDL text that does not build (see ``appsync_schema``).
    """
    if isinstance(schema, str):
        schema = appsync_schema(schema)
    try:
        ast = parse(Source(document, "mutation document"))
    except GraphQLSyntaxError as error:
        return [Finding(Level.ERROR, f"the document does not parse: {_located(error)}")]
    findings: list[Finding] = []
    try:
        compile_document(document)
    except DocumentError as error:
        findings.append(Finding(Level.ERROR, f"streambridge cannot publish it: {error}"))
    findings += [Finding(Level.ERROR, _located(error)) for error in validate(schema, ast)]
    fragments = {d.name.value: d for d in ast.definitions if isinstance(d, FragmentDefinitionNode)}
    for operation in _mutations(ast):
        for field in _fields(operation.selection_set, fragments):
            findings += _inner_aliases(field, fragments)
            findings += _subscription_pitfalls(schema, field, fragments)
    order = {Level.ERROR: 0, Level.WARNING: 1, Level.NOTE: 2}
    return sorted(findings, key=lambda finding: order[finding.level])


def _mutations(ast: DocumentNode) -> Iterator[OperationDefinitionNode]:
    for definition in ast.definitions:
        if isinstance(definition, OperationDefinitionNode) and definition.operation is OperationType.MUTATION:
            yield definition


def _fields(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[FieldNode]:
    """The fields of a selection set, through inline fragments and fragment spreads (each spread once)."""
    yield from _walk(selection_set, fragments, set())


def _walk(
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    seen: set[str],
) -> Iterator[FieldNode]:
    if selection_set is None:
        return
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _walk(selection.selection_set, fragments, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            if name not in seen and name in fragments:
                seen.add(name)
                yield from _walk(fragments[name].selection_set, fragments, seen)


def _inner_aliases(top: FieldNode, fragments: Mapping[str, FragmentDefinitionNode]) -> list[Finding]:
    """Aliases below the top-level field (the top-level alias is the batcher's to choose)."""
    aliased: list[str] = []

    def visit(field: FieldNode, path: str) -> None:
        for inner in _fields(field.selection_set, fragments):
            here = f"{path}.{inner.name.value}"
            if inner.alias is not None and inner.alias.value != inner.name.value:
                aliased.append(f"`{inner.alias.value}: {inner.name.value}` (in {path})")
            visit(inner, here)

    visit(top, top.name.value)
    if not aliased:
        return []
    return [
        Finding(
            Level.WARNING,
            f"{top.name.value} aliases inner fields: {', '.join(aliased)}; AppSync subscribers of the "
            "mutation receive null for aliased fields: select them without an alias",
        )
    ]


def _subscription_pitfalls(
    schema: GraphQLSchema, top: FieldNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> list[Finding]:
    mutation_type, subscription_type = schema.mutation_type, schema.subscription_type
    name = top.name.value
    if mutation_type is None or subscription_type is None or name not in mutation_type.fields:
        return []
    mutation_field = mutation_type.fields[name]
    selected = _selected(top.selection_set, fragments)
    findings: list[Finding] = []
    for sub_name, sub_field in subscription_type.fields.items():
        if name not in _subscribed_mutations(sub_field):
            continue
        returned = get_named_type(sub_field.type)
        published = get_named_type(mutation_field.type)
        if returned is not published:
            findings.append(
                Finding(
                    Level.WARNING,
                    f"{sub_name} returns {returned} but {name} returns {published}: AppSync hands "
                    f"subscribers of {sub_name} the response of {name}, so the types should be the same",
                )
            )
        for argument in sub_field.args:
            findings += _filter_argument(argument, sub_name, name, returned, selected)
        missing = list(_unselected(returned, top.selection_set, fragments, ""))
        if missing:
            fields = ", ".join(f"`{path}`" for path in missing)
            findings.append(
                Finding(
                    Level.WARNING,
                    f"subscribers of {sub_name} asking for {fields} get null: {name} does not select "
                    f"{'it' if len(missing) == 1 else 'them'}, and subscribers receive only what the "
                    "mutation selects",
                )
            )
    return findings


def _filter_argument(
    argument: str, subscription: str, mutation: str, returned: object, selected: set[str]
) -> list[Finding]:
    fields = returned.fields if isinstance(returned, (GraphQLObjectType, GraphQLInterfaceType)) else {}
    if argument not in fields:
        return [
            Finding(
                Level.ERROR,
                f"filter argument `{argument}` of {subscription} names no field of {returned}: AppSync "
                f"filters on the response fields of {mutation}, so subscribers passing it never receive "
                "anything",
            )
        ]
    if argument not in selected:
        return [
            Finding(
                Level.ERROR,
                f"filter argument `{argument}` of {subscription} matches the mutation's response field, "
                f"which {mutation} does not select: the subscription never fires for subscribers "
                f"passing `{argument}`",
            )
        ]
    return []


def _subscribed_mutations(field: GraphQLField) -> list[str]:
    """The mutation names a subscription field lists in ``@aws_subscribe(mutations: [...])``."""
    node = field.ast_node
    if node is None:
        return []
    names: list[str] = []
    for directive in node.directives or ():
        if directive.name.value != "aws_subscribe":
            continue
        for argument in directive.arguments or ():
            if argument.name.value == "mutations":
                value = value_from_ast_untyped(argument.value)
                values: Iterable[object] = value if isinstance(value, list) else [value]
                names += [v for v in values if isinstance(v, str)]
    return names


def _selected(
    selection_set: SelectionSetNode | None, fragments: Mapping[str, FragmentDefinitionNode]
) -> set[str]:
    """Response fields a selection set delivers under their own name (an aliased field is not delivered)."""
    return {
        field.name.value
        for field in _fields(selection_set, fragments)
        if field.alias is None or field.alias.value == field.name.value
    }


def _unselected(
    returned: object,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    prefix: str,
) -> Iterator[str]:
    """Paths of the fields of ``returned`` the selection does not deliver, into selected object fields."""
    if not isinstance(returned, (GraphQLObjectType, GraphQLInterfaceType)):
        return
    by_name: dict[str, list[FieldNode]] = {}
    for field in _fields(selection_set, fragments):
        if field.alias is None or field.alias.value == field.name.value:
            by_name.setdefault(field.name.value, []).append(field)
    for name, definition in returned.fields.items():
        nodes = by_name.get(name)
        if not nodes:
            yield prefix + name
            continue
        inner = get_named_type(definition.type)
        merged = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
        if merged:
            yield from _unselected(
                inner, SelectionSetNode(selections=tuple(merged)), fragments, f"{prefix}{name}."
            )
