"""Offline checks of mutation documents against an AppSync schema (``streambridge check``).

Pure functions: schema text and document text in, findings out. graphql-core does the validation (it is
imported here, at module level, because only the command line imports this module, never a Lambda).

Beyond GraphQL validation, the checks guard against AppSync's silent failures:

- subscribers receive the publishing mutation's selection set, not what they asked for, so a subscription
  field that lists the mutation in ``@aws_subscribe`` gets null for every field the mutation does not
  select (warning); when that field is non-null, GraphQL nulls its nearest nullable parent, usually the
  whole message, and the subscriber gets nothing while the publisher saw success (error);
- subscription arguments filter on the mutation's *response* fields: an argument naming a field the
  mutation does not select never matches, and the subscription never fires (error);
- aliases inside the mutation's selection set leave subscribers with nulls (warning);
- in the schema itself (``check_schema``, once for all documents): ``@aws_subscribe`` naming a mutation
  the schema does not have, so that nothing ever triggers the subscription under that name (error).
"""

from __future__ import annotations

import difflib
import enum
from collections.abc import Iterable, Iterator, Mapping, Sequence
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
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
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
    is_leaf_type,
    parse,
    validate,
    validate_schema,
    value_from_ast_untyped,
)
from graphql.validation.validate import validate_sdl

from streambridge._errors import DocumentError, StreambridgeError
from streambridge._targets.graphql.appsync import APPSYNC_DIRECTIVES, APPSYNC_SCALARS
from streambridge._targets.graphql.document import compile_document, excerpt, line_column

__all__ = [
    "APPSYNC_DIRECTIVES",
    "APPSYNC_SCALARS",
    "Finding",
    "Level",
    "SchemaError",
    "appsync_schema",
    "check_document",
    "check_schema",
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
        raise SchemaError(f"{name} does not parse: {_syntax(error)}") from error
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


def _syntax(error: GraphQLSyntaxError) -> str:
    """Where the syntax error is, then its line with a caret under the column (as a compiler shows it).

    At the end of the text, the caret goes just past the last character rather than onto the blank line
    after a final newline (as streambridge's own document parser does).
    """
    if error.source is None or not error.positions:
        return _located(error)
    text, position = error.source.body, next(iter(error.positions))
    if not text[position:].strip():
        position = len(text.rstrip())
    line, column = line_column(text, position)
    return f"{error.message} (at line {line}, column {column})\n{excerpt(text, line, column)}"


# --------------------------------------------------------------------------------------------------
# The schema's own findings


def check_schema(schema: GraphQLSchema) -> list[Finding]:
    """What the schema itself wires wrong for AppSync, whatever the documents; run it once per schema.

    Today: ``@aws_subscribe(mutations: [...])`` naming a mutation field the schema does not have. The
    schema is valid GraphQL, yet no mutation ever triggers the subscription under that name (usually a
    typo; the closest mutation name is suggested).
    """
    subscription_type = schema.subscription_type
    if subscription_type is None:
        return []
    mutation_type = schema.mutation_type
    mutations = list(mutation_type.fields) if mutation_type is not None else []
    findings: list[Finding] = []
    for sub_name, sub_field in subscription_type.fields.items():
        for listed in _subscribed_mutations(sub_field):
            if listed in mutations:
                continue
            why = "" if mutation_type is not None else " (it has no Mutation type)"
            close = difflib.get_close_matches(listed, mutations, n=1)
            findings.append(
                Finding(
                    Level.ERROR,
                    f"@aws_subscribe on {subscription_type.name}.{sub_name} names {listed!r}, which is not "
                    f"a mutation field of the schema{why}, so no mutation triggers {sub_name} under that "
                    "name" + (f"; did you mean {close[0]!r}?" if close else ""),
                )
            )
    return findings


# --------------------------------------------------------------------------------------------------
# A document


def check_document(schema: GraphQLSchema | str, document: str) -> list[Finding]:
    """Check one mutation document against ``schema`` (a schema or AppSync SDL text).

    Returns the findings, errors first: GraphQL validation (unknown fields, argument and variable types,
    missing required arguments), what streambridge needs of a document (exactly one mutation), the
    subscription pitfalls and inner aliases. An empty list means the document is fine. What is wrong with
    the schema itself, whatever the document, is ``check_schema``'s to report (once, not per document).

    Raises:
        SchemaError: ``schema`` is SDL text that does not build (see ``appsync_schema``).
    """
    if isinstance(schema, str):
        schema = appsync_schema(schema)
    try:
        ast = parse(Source(document, "mutation document"))
    except GraphQLSyntaxError as error:
        return [Finding(Level.ERROR, f"the document does not parse: {_syntax(error)}")]
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
        missing = list(_unselected(returned, top.selection_set, fragments, "", ()))
        lost: dict[tuple[str, bool] | None, list[_Unselected]] = {}
        for field in missing:
            if field.non_null:
                lost.setdefault(field.nulled, []).append(field)
        findings += [_non_null_unselected(sub_name, name, nulled, fields) for nulled, fields in lost.items()]
        nullable = [field.path for field in missing if not field.non_null]
        if nullable:
            fields = ", ".join(f"`{path}`" for path in nullable)
            findings.append(
                Finding(
                    Level.WARNING,
                    f"subscribers of {sub_name} asking for {fields} get null: {name} does not select "
                    f"{'it' if len(nullable) == 1 else 'them'}, and subscribers receive only what the "
                    "mutation selects",
                )
            )
    return findings


def _non_null_unselected(
    subscription: str, mutation: str, nulled: tuple[str, bool] | None, fields: Sequence[_Unselected]
) -> Finding:
    """An error for non-null fields the mutation does not select that null the same value (or the message)."""
    one = len(fields) == 1
    paths = _listing([f"`{field.path}`" for field in fields], "or")
    definitions = _listing([f"`{field.definition}`" for field in fields], "and")
    if nulled is None:
        outcome, why = "null instead of the message", "so the whole message is null for them"
    else:
        path, entries = nulled
        target, kind = (f"the entries of `{path}`", "value") if entries else (f"`{path}`", "field")
        outcome = f"{target} as null, even the fields {mutation} selects in {'them' if entries else 'it'}"
        why = f"so GraphQL nulls the nearest nullable {kind} above {'it' if one else 'them'}"
    return Finding(
        Level.ERROR,
        f"subscribers of {subscription} asking for {paths} receive {outcome}: {definitions} "
        f"{'is' if one else 'are'} non-null and {mutation} does not select {'it' if one else 'them'}, "
        f"{why}; add `{_selection(fields)}` to the selection set of {mutation}",
    )


def _listing(items: Sequence[str], last: str) -> str:
    """``a``, ``a or b``, ``a, b or c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {last} {items[-1]}"


_Tree = dict[str, "_Tree"]


def _selection(fields: Iterable[_Unselected]) -> str:
    """The selection that adds ``fields``: ``body author { name } tags { key }``.

    Paths are merged; a composite field comes with its leaf fields.
    """
    tree: _Tree = {}
    for field in fields:
        node = tree
        for part in field.path.split("."):
            node = node.setdefault(part, {})
        for leaf in field.leaves:
            node.setdefault(leaf, {})
    return _print_selection(tree)


def _print_selection(tree: _Tree) -> str:
    return " ".join(f"{name} {{ {_print_selection(tree[name])} }}" if tree[name] else name for name in tree)


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


@dataclass(frozen=True)
class _Unselected:
    """A field of the subscription's type that the mutation does not deliver."""

    path: str
    """``author.name``"""
    definition: str
    """``Author.name: String!``"""
    non_null: bool
    nulled: tuple[str, bool] | None
    """For a non-null field, where GraphQL's null stops: (path of the field, True if it is the entries of a
    list rather than the field), or None when it reaches the subscription field (the whole message)."""
    leaves: tuple[str, ...]
    """For a composite field, its leaf fields (what selecting it would need)."""


def _unselected(
    returned: object,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    prefix: str,
    above: tuple[tuple[str, GraphQLOutputType], ...],
) -> Iterator[_Unselected]:
    """The fields of ``returned`` the selection does not deliver, into selected object fields.

    ``above`` holds the selected fields around this selection, outermost first (path and type).
    """
    if not isinstance(returned, (GraphQLObjectType, GraphQLInterfaceType)):
        return
    by_name: dict[str, list[FieldNode]] = {}
    for field in _fields(selection_set, fragments):
        if field.alias is None or field.alias.value == field.name.value:
            by_name.setdefault(field.name.value, []).append(field)
    for name, definition in returned.fields.items():
        nodes = by_name.get(name)
        inner = get_named_type(definition.type)
        if not nodes:
            non_null = isinstance(definition.type, GraphQLNonNull)
            yield _Unselected(
                path=prefix + name,
                definition=f"{returned.name}.{name}: {definition.type}",
                non_null=non_null,
                nulled=_nulled(above) if non_null else None,
                leaves=_leaves(inner),
            )
            continue
        merged = [s for node in nodes if node.selection_set for s in node.selection_set.selections]
        if merged:
            yield from _unselected(
                inner,
                SelectionSetNode(selections=tuple(merged)),
                fragments,
                f"{prefix}{name}.",
                (*above, (prefix + name, definition.type)),
            )


def _nulled(above: Sequence[tuple[str, GraphQLOutputType]]) -> tuple[str, bool] | None:
    """Where the null of a missing non-null field stops: the innermost nullable value around it.

    GraphQL turns the object holding the field into null; if that object's place is non-null, the null
    moves up to the next one. None: it reaches the subscription field, so the whole message is null.
    """
    for path, field_type in reversed(above):
        nullable = _nullable_levels(field_type)
        for depth in range(len(nullable) - 1, -1, -1):  # from the object outwards
            if nullable[depth]:
                return path, depth > 0
    return None


def _nullable_levels(field_type: GraphQLOutputType) -> list[bool]:
    """Whether each level of a field's value may be null: the field's value, then each list's entries.

    ``Author`` -> [True]; ``[Tag!]`` -> [True, False]; ``[Tag]!`` -> [False, True].
    """
    levels: list[bool] = []
    level: GraphQLOutputType = field_type
    while True:
        levels.append(not isinstance(level, GraphQLNonNull))
        if isinstance(level, GraphQLNonNull):
            level = level.of_type
        if not isinstance(level, GraphQLList):
            return levels
        level = level.of_type


def _leaves(named: object) -> tuple[str, ...]:
    """The leaf fields of an object or interface type (all its fields if none is a leaf); () otherwise."""
    if not isinstance(named, (GraphQLObjectType, GraphQLInterfaceType)):
        return ()
    fields = named.fields
    return tuple(name for name, field in fields.items() if is_leaf_type(get_named_type(field.type))) or tuple(
        fields
    )
