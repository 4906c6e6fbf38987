"""The request byte bound is exact: a body is never over ``batch_bytes`` unless one mutation alone is.

Random batches of random documents and variables (non-ASCII text, escapes, many variables, long names,
fields reading a variable several times or not at all, fragments, comments) go through the planner,
``take_batch`` and ``render`` as the publisher uses them.
"""

from __future__ import annotations

from collections import deque

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambridge import Mutation
from streambridge._engine.batch import ENVELOPE, Limits, render, take_batch
from streambridge._engine.plan import Planner, Planning
from streambridge._engine.result import Ledger
from streambridge._sources import SOURCES
from streambridge._targets.graphql.target import GraphQLTarget
from streambridge.testing import events

_NAME = "_abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
names = st.builds(str.__add__, st.sampled_from(_NAME), st.text(_NAME + "0123456789", max_size=60))
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)  # any text UTF-8 can carry
graphql_text = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters='"\\'), max_size=20
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
    max_leaves=12,
)


@st.composite
def graphql_strings(draw: st.DrawFn) -> str:
    """A GraphQL string literal: escapes and non-ASCII text, which JSON escapes again in the query."""
    parts = draw(st.lists(graphql_text | st.sampled_from(['\\"', "\\\\", "\\n", "\\u00e9"]), max_size=4))
    return '"' + "".join(parts) + '"'


@st.composite
def documents(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A mutation document and the names of its variables."""
    variables = draw(st.lists(names, max_size=8, unique=True))
    definitions = []
    for name in variables:
        kind = draw(st.sampled_from(["String", "Int", "OrderInput", "[String!]", "AWSJSON"]))
        default = f" = {draw(graphql_strings())}" if kind == "String" and draw(st.booleans()) else ""
        definitions.append(f"${name}: {kind}{default}")
    fragment = draw(st.booleans())
    fields = []
    for _ in range(draw(st.integers(1, 3))):
        alias = f"{draw(names)}: " if draw(st.booleans()) else ""
        read = draw(st.lists(st.sampled_from(variables), max_size=3)) if variables else []
        arguments = [f"a{i}: ${name}" for i, name in enumerate(read)]
        if draw(st.booleans()):
            arguments.append(f"note: {draw(graphql_strings())}")
        selection = "...F" if fragment else f"id {draw(names)}"
        given = "(" + ", ".join(arguments) + ")" if arguments else ""
        fields.append(f"{alias}{draw(names)}{given} {{ {selection} }}")
    comment = draw(st.sampled_from(["", "# a comment, ünïcödé\n", "\n\n\t   "]))
    head = f"mutation {draw(names)}({', '.join(definitions)})" if definitions else "mutation"
    source = f"{comment}{head} {{\n  " + "\n  ".join(fields) + "\n}"
    if fragment:
        source += f"\nfragment F on Order {{ id {draw(names)} }}"
    return source, variables


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list[list[Mutation]], Limits]:
    """The mutations of each record (one record per lane), and the request's limits."""
    pool = [
        Mutation(source, values)
        for source, variables in draw(st.lists(documents(), min_size=1, max_size=3))
        for values in draw(
            st.lists(st.fixed_dictionaries(dict.fromkeys(variables, json_values)), min_size=1, max_size=3)
        )
    ]
    # Positions in a request past 9 print longer aliases and variable names (past 99: the test below)
    count = draw(st.integers(1, 40))
    picks = draw(st.lists(st.integers(0, len(pool) - 1), min_size=count, max_size=count))
    twice = draw(st.sets(st.integers(0, count - 1), max_size=10))
    records = [[pool[p], pool[(p + 1) % len(pool)]] if i in twice else [pool[p]] for i, p in enumerate(picks)]
    limits = Limits(
        max_mutations=draw(st.integers(1, 40)),
        max_bytes=draw(st.integers(100, 30_000)),
        per_key=draw(st.integers(1, 3)),
    )
    return records, limits


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
@given(workloads())
def test_a_request_body_is_never_over_the_byte_bound_unless_one_mutation_alone_is(
    workload: tuple[list[list[Mutation]], Limits],
) -> None:
    # GIVEN records whose mutations are planned, one lane per record (a standard queue orders nothing)
    mutations, limits = workload
    records = SOURCES["sqs"].parse(events.sqs(range(len(mutations))))
    ledger = Ledger(records)
    target = GraphQLTarget()
    ready = deque(Planner(records, lambda r: mutations[r.index], Planning(target), ledger).plan())
    sent = 0
    while ready:
        # WHEN requests are taken and rendered as the publisher does
        batch = take_batch(ready, ledger, limits)
        entries = [(lane, step) for lane, steps in batch for step in steps]
        body = render(target, entries).body
        # THEN a body of several mutations is within the bound
        if len(entries) > 1:
            assert len(body) <= limits.max_bytes
        # AND a request of one mutation (the user's own document) is within the bound its size gave
        else:
            assert len(body) <= ENVELOPE + entries[0][1].item.size  # type: ignore[union-attr]
        sent += len(entries)
        for lane, _ in batch:
            lane.succeed(ready)
    assert sent == sum(len(m) for m in mutations)


def bodies(mutations: list[Mutation], limits: Limits) -> list[tuple[int, int]]:
    """(mutations, bytes) of each request the mutations (one record each) are sent in."""
    records = SOURCES["sqs"].parse(events.sqs(range(len(mutations))))
    ledger = Ledger(records)
    target = GraphQLTarget()
    ready = deque(Planner(records, lambda r: mutations[r.index], Planning(target), ledger).plan())
    requests = []
    while ready:
        batch = take_batch(ready, ledger, limits)
        requests.append(
            (len(batch), len(render(target, [(lane, s) for lane, steps in batch for s in steps]).body))
        )
        for lane, _ in batch:
            lane.succeed(ready)
    return requests


LONG = [f"aVariableWithAVeryLongName{i}" for i in range(8)]
MANY = (
    f"mutation Publish({', '.join(f'${name}: String' for name in LONG)}) "
    f"{{ publishNote({', '.join(f'{name}: ${name}' for name in LONG)}) {{ id }} }}"
)


def test_variable_definitions_names_and_aliases_are_counted_in_utf8_bytes() -> None:
    # GIVEN 150 mutations of many long-named variables with short non-ASCII values: most of a request
    # is variable definitions and renamed variables, and aliases pass m9, then m99
    mutations = [Mutation(MANY, dict.fromkeys(LONG, "é€")) for _ in range(150)]
    # WHEN sent in requests of at most batch_bytes, some cut near m100, some past it
    for batch_bytes in [2_000, 10_000, *range(110_000, 175_000, 97)]:
        requests = bodies(mutations, Limits(max_mutations=150, max_bytes=batch_bytes))
        # THEN no body is over, and each is full: one more mutation would not fit (exact, not a margin)
        assert max(size for _, size in requests) <= batch_bytes
        assert sum(count for count, _ in requests) == 150
        one = (requests[0][1] - len('{"query":"mutation Publish(){}","variables":{}}')) // requests[0][0]
        # (within 300 bytes: m0..m9 are counted as two-digit positions, 25 bytes each here; the frame as 64)
        assert all(size + one + 300 > batch_bytes for _, size in requests[:-1]), f"a mutation: {one} bytes"
