"""The small mutation-document compiler, held against graphql-core's parser and printer."""

from __future__ import annotations

import logging

import pytest
from graphql import parse, print_ast
from graphql.language import FieldNode, OperationDefinitionNode, VariableNode, Visitor, visit

from streambridge import DocumentError
from streambridge._engine.batch import render
from streambridge._engine.plan import Lane, Step
from streambridge._targets.graphql.document import PREFIX, compile_document
from streambridge._targets.graphql.target import GraphQLTarget, PlannedMutation

DOCUMENTS = [
    "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status } }",
    "mutation { ping }",
    "mutation M($a: Int = 3, $b: [String!]! @x) { first: f(a: $a, l: $b) { x } g(o: {k: [$a, -1e3]}) }",
    'mutation ($s: String) { put(text: "a, b # not a comment", s: $s, block: """x "quoted" y""") { id } }',
    (
        "# leading comment\nmutation Nested($id: ID!) { update(id: $id) { id owner { name ...F } } }\n"
        "fragment F on Owner { email }"
    ),
    "mutation D($x: Boolean!) { a(x: $x) @include(if: $x) { id ... on Order { status } } }",
]


class _RenameVariables(Visitor):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def enter_variable(self, node: VariableNode, *_: object) -> VariableNode:
        return VariableNode(name=type(node.name)(value=self.prefix + node.name.value))


def _expected_fields(source: str, prefix: str) -> list[str]:
    """What graphql-core says each top-level field looks like, alias dropped, variables renamed."""
    document = visit(parse(source), _RenameVariables(prefix))
    operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
    fields = []
    for node in operation.selection_set.selections:
        assert isinstance(node, FieldNode)
        fields.append(
            print_ast(
                FieldNode(
                    name=node.name,
                    arguments=node.arguments,
                    directives=node.directives,
                    selection_set=node.selection_set,
                )
            )
        )
    return fields


@pytest.mark.parametrize("source", DOCUMENTS)
def test_fields_match_graphql_core(source: str) -> None:
    # GIVEN a valid mutation document
    # WHEN it is compiled and rendered under a prefix
    compiled = compile_document(source)
    rendered = [f.replace(PREFIX, "m7_") for f in compiled.fields]
    # THEN each field is the same GraphQL as graphql-core's reading of it
    assert [
        print_ast(parse(f"mutation {{ {r} }}").definitions[0].selection_set.selections[0])  # type: ignore[attr-defined]
        for r in rendered
    ] == _expected_fields(source, "m7_")


@pytest.mark.parametrize("source", DOCUMENTS)
def test_rendered_batch_parses_and_keeps_every_variable(source: str) -> None:
    # GIVEN two mutations of the same document
    compiled = compile_document(source)
    steps = [Step(i, PlannedMutation(compiled, (), 10), last=True) for i in range(2)]
    # WHEN rendered as one request
    request = render(GraphQLTarget(), [(Lane(i), step) for i, step in enumerate(steps)])
    query = __import__("json").loads(request.body)["query"]
    document = parse(query)
    # THEN it parses, defines each variable once per alias, and aliases every top-level field
    operation = document.definitions[0]
    assert isinstance(operation, OperationDefinitionNode)
    defined = [v.variable.name.value for v in operation.variable_definitions or ()]
    assert defined == [f"m{i}_{v.name}" for i in range(2) for v in compiled.variables]
    aliases = [
        s.alias.value for s in operation.selection_set.selections if isinstance(s, FieldNode) and s.alias
    ]
    assert aliases == list(request.keys)
    assert len(aliases) == 2 * len(compiled.fields)


def test_variable_definitions_know_what_is_required() -> None:
    compiled = compile_document(DOCUMENTS[2])
    assert [(v.name, v.required) for v in compiled.variables] == [("a", False), ("b", True)]


def test_top_level_alias_is_replaced_inner_alias_warns(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN a document with a user alias at the top and one inside the selection
    source = "mutation { mine: publish(id: 1) { identifier: id } }"
    # WHEN compiled
    with caplog.at_level(logging.WARNING, logger="streambridge"):
        compiled = compile_document(source)
    # THEN the top-level alias is dropped in a batch (ours replaces it) but answers a lone request,
    # and the inner one is flagged
    assert compiled.fields[0].startswith("publish(")
    assert compiled.response_keys == ("mine",)
    assert "aliases inner fields (identifier)" in caplog.text


def test_fragment_using_variables_is_not_batchable() -> None:
    compiled = compile_document("mutation($x: Int) { a { ...F } } fragment F on A { b(x: $x) }")
    assert not compiled.batchable


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("", "empty"),
        ("query { a }", "expected a mutation, found a query"),
        ("{ a }", "expected a mutation, found a query"),
        ("subscription { a }", "found a subscription"),
        ("mutation { a", "unexpected end"),
        ("mutation { }", "selects no field"),
        ("mutation A { a } mutation B { b }", "exactly one operation"),
        ("mutation { ...F } fragment F on Mutation { a }", "fragment spreads at the top level"),
        ("mutation { a(x: %) }", "unexpected character"),
        ("mutation ($x:) { a }", "has no type"),
    ],
)
def test_bad_documents_get_clear_errors(source: str, message: str) -> None:
    with pytest.raises(DocumentError, match=message):
        compile_document(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "mutation {\n  a(x: %)\n}",
            "unexpected character '%' (at line 2, column 8)\n      a(x: %)\n           ^",
        ),
        (
            'mutation {\r\n  a(s: "abc)\r\n}',
            'unterminated string (at line 2, column 8)\n      a(s: "abc)\n           ^',
        ),
        (
            "mutation P($i: In!) {\n  a(i: $i) { b c: }\n}",
            (
                "expected a name, found '}' (at line 2, column 19)\n"
                "      a(i: $i) { b c: }\n"
                "                      ^"
            ),
        ),
        (
            "mutation { a(x: 1) { b }",
            (
                "unexpected end of the document (at line 1, column 25)\n"
                "    mutation { a(x: 1) { b }\n"
                "                            ^"
            ),
        ),
        (
            "mutation {\n}",
            "the mutation selects no field (at line 2, column 1)\n    }\n    ^",
        ),
        (
            "mutation { a }\nsubscribe { b }",
            "unexpected 'subscribe' at the top level (at line 2, column 1)\n    subscribe { b }\n    ^",
        ),
    ],
)
def test_a_syntax_error_shows_the_line_with_a_caret_under_the_column(source: str, message: str) -> None:
    # GIVEN a document with a syntax error WHEN it is compiled
    with pytest.raises(DocumentError) as raised:
        compile_document(source)
    # THEN the error says where, and shows that line with a caret under the column
    assert str(raised.value) == f"mutation document does not parse: {message}"


def test_a_syntax_error_in_a_long_line_shows_the_text_around_it_not_the_start() -> None:
    # GIVEN a one-line document of about 300 characters with an error near its middle
    head = "mutation { a(x: 1) { " + " ".join(f"f{i}" for i in range(30))
    source = head + " ! " + " ".join(f"g{i}" for i in range(30)) + " } }"
    with pytest.raises(DocumentError) as raised:
        compile_document(source)
    first, excerpt, caret = str(raised.value).split("\n")
    column = len(head) + 2
    assert (
        first == f"mutation document does not parse: expected a name, found '!' (at line 1, column {column})"
    )
    # THEN the excerpt is cut on both sides, and the caret is under the `!`
    assert excerpt.startswith("    ...")
    assert excerpt.endswith("...")
    assert len(excerpt) <= 4 + 3 + 100 + 3
    assert excerpt[len(caret) - 1] == "!"
    assert caret.strip() == "^"
