"""`streambridge check`'s pure core: schema text and a mutation document in, findings out."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambridge._tools.check import (
    APPSYNC_SCALARS,
    Finding,
    Level,
    SchemaError,
    appsync_schema,
    check_document,
    check_schema,
)

ORDERS = Path(__file__).parents[2] / "examples" / "orders"

SCHEMA = """
type Order { id: ID! status: String! total: Float note: String }
input OrderInput { id: ID! status: String! total: Float note: String }
type Query { ping: String }
type Mutation { publishOrder(input: OrderInput!): Order }
type Subscription {
  onOrder: Order @aws_subscribe(mutations: ["publishOrder"])
}
"""
PUBLISH_ALL = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status total note } }"


def levels(findings: list[Finding]) -> list[Level]:
    return [finding.level for finding in findings]


def only(findings: list[Finding], level: Level) -> list[str]:
    return [finding.message for finding in findings if finding.level is level]


def test_a_valid_document_that_selects_every_field_has_no_finding() -> None:
    # GIVEN a document that selects every field the subscription's type has
    # WHEN it is checked THEN nothing is found
    assert check_document(SCHEMA, PUBLISH_ALL) == []


def test_an_unknown_field_is_an_error_with_its_position() -> None:
    document = "mutation P($input: OrderInput!) {\n  publishOrder(input: $input) { id status amount }\n}"
    errors = only(check_document(SCHEMA, document), Level.ERROR)
    assert errors == ["Cannot query field 'amount' on type 'Order'. (at line 2, column 43)"]


def test_an_unknown_mutation_is_an_error() -> None:
    errors = only(check_document(SCHEMA, "mutation { removeOrder(id: 1) { id } }"), Level.ERROR)
    assert any("Cannot query field 'removeOrder' on type 'Mutation'" in error for error in errors)


def test_a_wrong_variable_type_is_an_error() -> None:
    document = PUBLISH_ALL.replace("$input: OrderInput!", "$input: String!")
    errors = only(check_document(SCHEMA, document), Level.ERROR)
    assert len(errors) == 1
    assert "Variable '$input' of type 'String!' used in position expecting type 'OrderInput!'" in errors[0]


def test_a_missing_required_argument_is_an_error() -> None:
    errors = only(check_document(SCHEMA, "mutation { publishOrder { id status total note } }"), Level.ERROR)
    assert errors == [
        (
            "Argument 'Mutation.publishOrder(input:)' of type 'OrderInput!' is required, "
            "but it was not provided. (at line 1, column 12)"
        )
    ]


def test_a_syntax_error_is_one_error_showing_the_line_with_a_caret_under_the_column() -> None:
    # GIVEN a document whose second line has an argument without a value
    document = "mutation P($i: OrderInput!) {\n\tpublishOrder(input: ) { id }\n}"
    # WHEN it is checked
    findings = check_document(SCHEMA, document)
    # THEN one error says where, and shows that line (tab expanded) with a caret under the `)`
    assert levels(findings) == [Level.ERROR]
    assert findings[0].message == (
        "the document does not parse: Syntax Error: Unexpected ')'. (at line 2, column 22)\n"
        "        publishOrder(input: ) { id }\n"
        "                            ^"
    )


def test_a_syntax_error_far_into_a_long_line_shows_the_text_around_it() -> None:
    # GIVEN a one-line document of 189 characters that ends too early
    fields = " ".join(f"f{i}" for i in range(40))
    document = f"mutation {{ publishOrder(input: {{}}) {{ {fields} }} "
    assert len(document) == 189
    message = check_document(SCHEMA, document)[0].message
    # THEN the excerpt is the end of the line, cut at the start, with the caret just past its last character
    head, excerpt, caret = message.split("\n")
    assert head == (
        "the document does not parse: Syntax Error: Expected Name, found <EOF>. (at line 1, column 189)"
    )
    assert excerpt.startswith("    ...")
    assert excerpt.endswith("f38 f39 }")
    assert len(excerpt) == 4 + 3 + 100
    assert caret == " " * len(excerpt) + "^"


def test_a_document_that_ends_too_early_points_past_its_last_line_not_at_the_blank_after_it() -> None:
    message = check_document(SCHEMA, "mutation {\n  publishOrder(input: {}) { id\n\n")[0].message
    assert message == (
        "the document does not parse: Syntax Error: Expected Name, found <EOF>. (at line 2, column 31)\n"
        "      publishOrder(input: {}) { id\n"
        "                                  ^"
    )


def test_what_streambridge_cannot_publish_is_an_error() -> None:
    # GIVEN a valid query (not a mutation) THEN the batcher would refuse it: that is an error too
    errors = only(check_document(SCHEMA, "query { ping }"), Level.ERROR)
    assert errors == ["streambridge cannot publish it: expected a mutation, found a query: 'query { ping }'"]


def test_subscribers_asking_for_fields_the_mutation_does_not_select_get_null() -> None:
    # GIVEN a mutation that selects only id and status, and a subscription of it returning Order
    findings = check_document(SCHEMA, "mutation P($i: OrderInput!) { publishOrder(input: $i) { id status } }")
    # THEN the fields of Order it does not select are named, as a warning
    assert levels(findings) == [Level.WARNING]
    assert findings[0].message == (
        "subscribers of onOrder asking for `total`, `note` get null: publishOrder does not select them, "
        "and subscribers receive only what the mutation selects"
    )


def test_a_non_null_field_the_mutation_does_not_select_is_an_error_the_message_is_lost() -> None:
    # GIVEN a mutation that does not select `status`, a String! of the subscription's type
    document = "mutation P($i: OrderInput!) { publishOrder(input: $i) { id total note } }"
    # WHEN it is checked
    findings = check_document(SCHEMA, document)
    # THEN that is an error: GraphQL nulls the whole message for subscribers asking for `status`
    assert levels(findings) == [Level.ERROR]
    assert findings[0].message == (
        "subscribers of onOrder asking for `status` receive null instead of the message: `Order.status: "
        "String!` is non-null and publishOrder does not select it, so the whole message is null for them; "
        "add `status` to the selection set of publishOrder"
    )


def test_non_null_and_nullable_unselected_fields_are_reported_apart() -> None:
    # GIVEN a mutation selecting only `id`: `status` is non-null, `total` and `note` are nullable
    document = "mutation P($i: OrderInput!) { publishOrder(input: $i) { id } }"
    findings = check_document(SCHEMA, document)
    # THEN the non-null one is an error, the nullable ones stay a warning (the message still arrives)
    assert levels(findings) == [Level.ERROR, Level.WARNING]
    assert "asking for `status` receive null instead of the message" in findings[0].message
    assert findings[1].message == (
        "subscribers of onOrder asking for `total`, `note` get null: publishOrder does not select them, "
        "and subscribers receive only what the mutation selects"
    )


AUTHORED = """
type Author { id: ID! name: String! }
type Message { id: ID! author: AUTHOR tags: TAGS }
type Tag { key: String! }
input MessageInput { id: ID! }
type Query { ping: String }
type Mutation { postMessage(input: MessageInput!): Message }
type Subscription { onMessage: Message @aws_subscribe(mutations: ["postMessage"]) }
"""


def test_a_non_null_field_inside_a_selected_non_null_object_field_loses_the_whole_message() -> None:
    # GIVEN `author: Author!` whose `name: String!` the mutation does not select (it selects `author { id }`)
    schema = AUTHORED.replace("AUTHOR", "Author!").replace("TAGS", "[Tag!]!")
    document = "mutation P($i: MessageInput!) { postMessage(input: $i) { id author { id } tags { key } } }"
    findings = check_document(schema, document)
    # THEN the null goes up through the non-null `author` to the message: an error that says so
    assert levels(findings) == [Level.ERROR]
    assert findings[0].message == (
        "subscribers of onMessage asking for `author.name` receive null instead of the message: "
        "`Author.name: String!` is non-null and postMessage does not select it, so the whole message is "
        "null for them; add `author { name }` to the selection set of postMessage"
    )


def test_a_non_null_field_inside_a_nullable_object_field_nulls_that_field() -> None:
    # GIVEN `author: Author` (nullable) and `tags: [Tag]!` (nullable entries); neither selection is complete
    schema = (
        AUTHORED.replace("AUTHOR", "Author")
        .replace("TAGS", "[Tag]!")
        .replace("Tag { key: String! }", "Tag { key: String! value: String! }")
    )
    document = "mutation P($i: MessageInput!) { postMessage(input: $i) { id author { id } tags { key } } }"
    errors = only(check_document(schema, document), Level.ERROR)
    # THEN each is an error naming what arrives null: the nearest nullable field, or the list's entries
    assert errors == [
        (
            "subscribers of onMessage asking for `author.name` receive `author` as null, even the fields "
            "postMessage selects in it: `Author.name: String!` is non-null and postMessage does not select "
            "it, so GraphQL nulls the nearest nullable field above it; add `author { name }` to the "
            "selection set of postMessage"
        ),
        (
            "subscribers of onMessage asking for `tags.value` receive the entries of `tags` as null, even "
            "the fields postMessage selects in them: `Tag.value: String!` is non-null and postMessage does "
            "not select it, so GraphQL nulls the nearest nullable value above it; add `tags { value }` to "
            "the selection set of postMessage"
        ),
    ]


def test_several_non_null_fields_make_one_error_with_one_selection_to_add() -> None:
    schema = (
        AUTHORED.replace("AUTHOR", "Author!")
        .replace("TAGS", "[Tag!]!")
        .replace("Message { id: ID!", "Message { id: ID! body: String!")
    )
    document = "mutation P($i: MessageInput!) { postMessage(input: $i) { id author { id } } }"
    errors = only(check_document(schema, document), Level.ERROR)
    assert errors == [
        (
            "subscribers of onMessage asking for `body`, `author.name` or `tags` receive null instead of the "
            "message: `Message.body: String!`, `Author.name: String!` and `Message.tags: [Tag!]!` are "
            "non-null and postMessage does not select them, so the whole message is null for them; add "
            "`body author { name } tags { key }` to the selection set of postMessage"
        )
    ]


def test_unselected_fields_are_found_inside_selected_object_fields_and_through_fragments() -> None:
    schema = SCHEMA.replace("note: String }", "note: String line: Line }", 1) + (
        "type Line { sku: String qty: Int }\n"
    )
    document = (
        "mutation P($i: OrderInput!) { publishOrder(input: $i) { ...Head line { sku } "
        "... on Order { note } } } fragment Head on Order { id status total }"
    )
    warnings = only(check_document(schema, document), Level.WARNING)
    assert warnings == [
        (
            "subscribers of onOrder asking for `line.qty` get null: publishOrder does not select it, "
            "and subscribers receive only what the mutation selects"
        )
    ]


def test_a_filter_argument_the_mutation_does_not_select_never_fires() -> None:
    # GIVEN a subscription filtering on `id` and a mutation whose response lacks `id`
    schema = SCHEMA.replace("onOrder: Order", "onOrderChanged(id: ID): Order")
    document = "mutation P($i: OrderInput!) { publishOrder(input: $i) { status total note } }"
    findings = check_document(schema, document)
    # THEN that is an error: AppSync filters on the mutation's response fields
    errors = only(findings, Level.ERROR)
    assert errors[0] == (
        "filter argument `id` of onOrderChanged matches the mutation's response field, which "
        "publishOrder does not select: the subscription never fires for subscribers passing `id`"
    )
    # AND `id` is non-null, so subscribers asking for it get no message at all
    assert errors[1].startswith("subscribers of onOrderChanged asking for `id` receive null instead of")
    assert len(errors) == 2


def test_a_filter_argument_that_names_no_response_field_never_fires() -> None:
    schema = SCHEMA.replace("onOrder: Order", "onOrder(orderId: ID): Order")
    errors = only(check_document(schema, PUBLISH_ALL), Level.ERROR)
    assert errors == [
        (
            "filter argument `orderId` of onOrder names no field of Order: AppSync filters on the response "
            "fields of publishOrder, so subscribers passing it never receive anything"
        )
    ]


def test_subscriptions_of_other_mutations_are_not_held_against_this_one() -> None:
    schema = SCHEMA.replace('mutations: ["publishOrder"]', 'mutations: ["otherMutation"]')
    document = "mutation P($i: OrderInput!) { publishOrder(input: $i) { id } }"
    assert check_document(schema, document) == []


def test_a_subscription_listing_several_mutations_is_checked_for_each() -> None:
    schema = SCHEMA.replace('mutations: ["publishOrder"]', 'mutations: ["createOrder", "publishOrder"]')
    document = "mutation P($i: OrderInput!) { publishOrder(input: $i) { id status total } }"
    assert only(check_document(schema, document), Level.WARNING) == [
        (
            "subscribers of onOrder asking for `note` get null: publishOrder does not select it, "
            "and subscribers receive only what the mutation selects"
        )
    ]


def test_inner_aliases_are_a_warning_and_an_aliased_field_counts_as_not_selected() -> None:
    document = "mutation P($i: OrderInput!) { m: publishOrder(input: $i) { id status amount: total note } }"
    warnings = only(check_document(SCHEMA, document), Level.WARNING)
    assert warnings == [
        (
            "publishOrder aliases inner fields: `amount: total` (in publishOrder); AppSync subscribers of "
            "the mutation receive null for aliased fields: select them without an alias"
        ),
        (
            "subscribers of onOrder asking for `total` get null: publishOrder does not select it, "
            "and subscribers receive only what the mutation selects"
        ),
    ]


def test_a_top_level_alias_is_not_an_inner_alias() -> None:
    assert check_document(SCHEMA, PUBLISH_ALL.replace("publishOrder(", "mine: publishOrder(")) == []


def test_appsync_scalars_and_directives_are_known_without_declaring_them() -> None:
    # GIVEN a schema using every AppSync scalar and auth directive, declaring none of them
    fields = " ".join(f"f{i}: {scalar}" for i, scalar in enumerate(APPSYNC_SCALARS))
    schema = f"""
    type Thing @aws_iam @aws_api_key @aws_oidc @aws_lambda @aws_cognito_user_pools(cognito_groups: ["a"]) {{
      id: ID! {fields}
    }}
    type Query {{ thing: Thing @aws_auth(cognito_groups: ["admins"]) }}
    type Mutation {{ putThing(id: ID!, at: AWSDateTime, data: AWSJSON): Thing @aws_iam }}
    type Subscription {{ onThing(id: ID): Thing @aws_subscribe(mutations: ["putThing"]) }}
    """
    selected = " ".join(["id"] + [f"f{i}" for i in range(len(APPSYNC_SCALARS))])
    document = f"mutation T($at: AWSDateTime, $data: AWSJSON) {{ putThing(id: 1, at: $at, data: $data) {{ {selected} }} }}"  # noqa: E501
    assert check_document(schema, document) == []


def test_a_schema_that_declares_appsync_definitions_itself_keeps_its_own() -> None:
    schema = "scalar AWSDateTime\ndirective @aws_iam on OBJECT\n" + SCHEMA.replace(
        "type Order {", "type Order @aws_iam {"
    )
    assert appsync_schema(schema).get_type("AWSDateTime") is not None
    assert check_document(schema, PUBLISH_ALL) == []


def test_an_invalid_schema_raises_with_every_reason() -> None:
    with pytest.raises(SchemaError) as raised:
        appsync_schema("type Query { a: Foo @model }", "bad.graphql")
    message = str(raised.value)
    assert message.startswith("bad.graphql is not a valid schema: ")
    assert "Unknown type 'Foo'." in message
    assert "Unknown directive '@model'." in message


def test_a_schema_that_does_not_parse_raises_showing_where() -> None:
    with pytest.raises(SchemaError) as raised:
        appsync_schema("type Query {\n  a: String\n  b String\n}", "s.graphql")
    assert str(raised.value) == (
        "s.graphql does not parse: Syntax Error: Expected ':', found Name 'String'. (at line 3, column 5)\n"
        "      b String\n"
        "        ^"
    )


def test_a_valid_schema_has_no_schema_finding() -> None:
    assert check_schema(appsync_schema(SCHEMA)) == []


def test_aws_subscribe_naming_no_mutation_is_a_schema_error_with_the_closest_name() -> None:
    # GIVEN a subscription listing a misspelt mutation (a typo the schema itself accepts)
    schema = appsync_schema(SCHEMA.replace('mutations: ["publishOrder"]', 'mutations: ["publishOrdr"]'))
    # WHEN the schema is checked THEN it is an error that names the closest mutation
    findings = check_schema(schema)
    assert levels(findings) == [Level.ERROR]
    assert findings[0].message == (
        "@aws_subscribe on Subscription.onOrder names 'publishOrdr', which is not a mutation field of the "
        "schema, so no mutation triggers onOrder under that name; did you mean 'publishOrder'?"
    )


def test_aws_subscribe_naming_nothing_close_lists_nothing_and_a_missing_mutation_type_says_so() -> None:
    listed = 'mutations: ["publishOrder", "zz"]'
    schema = appsync_schema(SCHEMA.replace('mutations: ["publishOrder"]', listed))
    assert only(check_schema(schema), Level.ERROR) == [
        (
            "@aws_subscribe on Subscription.onOrder names 'zz', which is not a mutation field of the "
            "schema, so no mutation triggers onOrder under that name"
        )
    ]
    without = appsync_schema(SCHEMA.replace("type Mutation { publishOrder(input: OrderInput!): Order }", ""))
    assert only(check_schema(without), Level.ERROR) == [
        (
            "@aws_subscribe on Subscription.onOrder names 'publishOrder', which is not a mutation field of "
            "the schema (it has no Mutation type), so no mutation triggers onOrder under that name"
        )
    ]


def test_findings_print_as_level_where_message() -> None:
    assert Finding(Level.WARNING, "careful").line("app:handler") == "WARNING app:handler: careful"


def test_the_orders_example_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql")
    from examples.orders.handler import handler

    schema = (ORDERS / "schema.graphql").read_text()
    assert handler.document is not None
    assert check_document(schema, handler.document) == []
