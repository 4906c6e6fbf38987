"""`streambridge demo` carries its own copy of the orders example (the wheel has no examples/): pin it."""

from __future__ import annotations

from pathlib import Path

from examples.orders import handler as orders_handler
from graphql import parse, print_ast

from streambridge._tools import demo

ORDERS = Path(__file__).resolve().parents[2] / "examples" / "orders"


def normalized(document: str) -> str:
    """The document as graphql-core prints it: no comments, one layout."""
    return print_ast(parse(document))


def test_the_demo_schema_is_the_orders_example_schema() -> None:
    # GIVEN the schema the demo serves and the orders example's schema.graphql
    # THEN they are the same document (comments and layout aside)
    assert normalized(demo.SCHEMA) == normalized((ORDERS / "schema.graphql").read_text())


def test_the_demo_mutation_is_the_orders_handler_mutation() -> None:
    assert normalized(demo.PUBLISH_ORDER) == normalized(orders_handler.PUBLISH_ORDER)
