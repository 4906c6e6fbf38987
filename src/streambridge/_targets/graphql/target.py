"""The GraphQL target: a record becomes mutations of an AppSync GraphQL API.

``prepare`` turns the mapping function's result into planned mutations (compiled document, variables as
JSON text, checked against the document and AppSync's subscription payload limit); ``render`` writes one
request (several mutations as aliased top-level fields, one mutation as the user's own document);
``interpret`` reads AppSync's answer per mutation (``response``).
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Mapping, Sequence
from functools import lru_cache
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from streambridge._errors import MappingError, PayloadTooLargeError
from streambridge._targets.base import Answer, Item, Rendered
from streambridge._targets.graphql.document import PREFIX, CompiledDocument, compile_document
from streambridge._targets.values import to_json

if TYPE_CHECKING:
    from streambridge._io.transport import HttpResponse
    from streambridge._sources._base import SourceRecord

MAX_SUBSCRIPTION_PAYLOAD = 240_000
"""AppSync silently drops a subscription message over 240 kB, so such a mutation is failed up front.

Whether AppSync's kB is 1,000 or 1,024 bytes is unknown (its quotas page says "240 kB"): the stricter
reading, so that no record passes this check only to be dropped by AppSync (or by LocalAppSync)."""

_quote = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), without its overhead


class Mutation(NamedTuple):
    """One GraphQL mutation to publish: a document with exactly one mutation operation, and its variables."""

    document: str
    variables: Mapping[str, Any] = MappingProxyType({})
    """The operation's variables by name; by default none (an empty, read-only mapping)."""


class PlannedMutation:
    """A mutation ready to batch: compiled document, variables already written as JSON text.

    Built for every record: a plain class with slots builds as fast as a slots dataclass (~0.1 µs), a
    NamedTuple takes ~1.6x as long, and the dataclasses module costs ~5 ms of import (it loads inspect).
    """

    __slots__ = ("document", "numbered", "size", "variables")

    def __init__(
        self, document: CompiledDocument, variables: tuple[tuple[str, str], ...], size: int, numbered: int = 0
    ) -> None:
        self.document = document
        self.variables = variables
        self.size = size
        """Bytes this mutation adds to a request body at positions up to 99, at most (see ``_Sized``)."""
        self.numbered = numbered
        """How many times its position is printed in a request (aliases, renamed variables): each takes
        a byte more per digit past the second (``m100_input`` against ``m99_input``)."""

    @property
    def shares(self) -> Hashable | None:
        """Mutations share a request when their fragments agree; fragments reading variables go alone."""
        document = self.document
        return document.fragments if document.batchable else None

    def __repr__(self) -> str:
        return f"PlannedMutation({self.document.source!r}, {self.variables!r}, size={self.size})"


class GraphQLTarget:
    """Mutations of a GraphQL API: the decorator's document (if any) and the payload limit."""

    __slots__ = ("document", "max_payload_bytes")

    max_items: int | None = None  # AppSync documents no limit on mutations per request (batch_size)

    def __init__(
        self, document: str | None = None, max_payload_bytes: int = MAX_SUBSCRIPTION_PAYLOAD
    ) -> None:
        """Raises DocumentError for a ``document`` that cannot be published (compiled once, cached)."""
        if document is not None:
            _sized(document)
        self.document = document
        """The decorator's mutation: a mapping function may then return just the variables."""
        self.max_payload_bytes = max_payload_bytes

    def prepare(self, record: SourceRecord, result: Any) -> list[PlannedMutation]:
        """The mutations for a mapping result: None (skip), variables, a Mutation, or a list of them."""
        if type(result) is dict and self.document is not None:  # the usual case: the decorator's variables
            return [self._planned(record, self.document, result)]
        return [
            self._planned(record, m.document, m.variables)
            for m in as_mutations(record, result, self.document)
        ]

    def split(self, record: SourceRecord, result: Any) -> list[Any]:
        """The mutations of a mapping result, each a ``Mutation``."""
        return list(as_mutations(record, result, self.document))

    def render(self, items: Sequence[Item]) -> Rendered:
        """The request body: one mutation as the user wrote it, several as aliased top-level fields."""
        mutations = cast("Sequence[PlannedMutation]", items)  # prepared by this target
        if len(mutations) == 1:
            return _render_one(mutations[0])
        return _render_batch(mutations)

    def interpret(self, response: HttpResponse, keys: Any) -> Answer:
        """Each mutation's outcome, by the response key at the head of each error's path."""
        from streambridge._targets.graphql.response import interpret  # only once sending

        return interpret(response, keys)

    def _planned(self, record: SourceRecord, document: str, variables: Mapping[str, Any]) -> PlannedMutation:
        sized = _sized(document)  # a DocumentError: the engine attaches the record to it
        compiled = sized.document
        if type(variables) is not dict and not isinstance(variables, Mapping):
            raise MappingError(f"{record.describe()}: Mutation.variables must be a dict")
        defined = compiled.variable_names
        if not defined.issuperset(variables):
            unknown = [name for name in variables if name not in defined]
            raise MappingError(
                f"{record.describe()}: variables {sorted(unknown)} are not defined by the mutation "
                f"(it defines {sorted(defined) or 'none'})"
            )
        for name in compiled.required_names:
            if variables.get(name) is None:
                missing = [n for n in compiled.required_names if variables.get(n) is None]
                raise MappingError(
                    f"{record.describe()}: required mutation variables missing or null: {missing}"
                )
        texts: list[tuple[str, str]] = []
        payload = names = 0
        for name, value in variables.items():
            text = to_json(record, name, value)
            payload += len(text) if text.isascii() else len(text.encode())
            names += len(name)  # a GraphQL name: ASCII
            texts.append((name, text))
        if payload > self.max_payload_bytes:
            raise PayloadTooLargeError(
                f"{record.describe()}: mutation variables are {payload} bytes, over the "
                f"{self.max_payload_bytes}-byte limit; AppSync would drop the subscription message "
                "silently, so the record is failed instead"
            )
        # Each variable is written ``"m10_name":value,`` in a batch (``"name":value,`` alone: shorter)
        size = sized.size + payload + names + _VARIABLE_OVERHEAD * len(texts)
        return PlannedMutation(compiled, tuple(texts), size, sized.numbered + len(texts))


def as_mutations(record: SourceRecord, result: Any, document: str | None) -> list[Mutation]:
    """The mutations a mapping result stands for; raises MappingError for a result of another kind."""
    if result is None:
        return []
    if isinstance(result, Mutation):
        return [result]
    if isinstance(result, Mapping):
        if document is None:
            raise MappingError(
                f"{record.describe()}: mapping function returned variables, but the decorator has no "
                "mutation document; pass one to the decorator or return Mutation(document, variables)"
            )
        return [Mutation(document, result)]
    if isinstance(result, (list, tuple)):
        mutations: list[Mutation] = []
        for position, item in enumerate(result):
            if item is not None and not isinstance(item, (Mutation, Mapping, list, tuple)):
                kind = f"a {type(result).__name__} whose item {position} is {type(item).__name__}"
                raise MappingError(_unexpected(record, result, kind))
            mutations += as_mutations(record, item, document)
        return mutations
    raise MappingError(_unexpected(record, result, type(result).__name__))


def _unexpected(record: SourceRecord, result: object, kind: str) -> str:
    """What is wrong with a mapping result that stands for no mutation (``kind``: what it returned)."""
    hint = ""
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], str):
        hint = "; for a mutation of another document, return Mutation(document, variables)"
    return (
        f"{record.describe()}: mapping function returned {kind}; expected None (skip), a dict of variables, "
        f"a Mutation, or a list of Mutations{hint}"
    )


# Sizes: what a mutation adds to a body, in UTF-8 bytes, so that the batcher's sum bounds the body exactly.
# Counted at a two-digit position (``m10``), exact for the default 50 per request and a few bytes over for
# the first ten: the batcher then adds nothing below position 100, and ``numbered`` per further digit.

_ENVELOPE = 64
"""Bytes of a body beyond its mutations' sizes that the batcher allows (``_engine.batch.ENVELOPE``).

A batch's frame, ``{"query":"mutation Publish(){}","variables":{}}``, takes 47 of them; one mutation
alone takes the rest of its body from its size (``_Sized``)."""
_VARIABLE_OVERHEAD = len('"m10_":,')
"""A variable's bytes in a batch beyond its name and JSON value (its separator counted, even the first)."""
_ONE_FRAME = len('{"query":"","variables":{}}')
"""A body of one mutation beyond its quoted source and its variables."""


def _quoted_size(text: str) -> int:
    """Bytes of ``text`` in the JSON body, quotes aside: escapes and UTF-8 (escaping is per character)."""
    return len(_quote(text).encode()) - 2


class _Sized(NamedTuple):
    """A compiled document and what it adds to a body, its variables' names and values aside."""

    document: CompiledDocument
    size: int
    """Bytes at a two-digit position, the larger of the two shapes: in a batch (its variable definitions,
    aliased fields, fragments and their separators; fragments are printed once per request but counted by
    each mutation, an overcount for the rare document that has them), or alone (its source as written,
    beyond what the envelope leaves)."""
    numbered: int
    """Times the position is printed: an alias per field, a prefix per variable definition and reference."""


@lru_cache(maxsize=512)
def _sized(source: str) -> _Sized:
    """Compile ``source`` (DocumentError if it cannot be published) and size it, once per document."""
    document = compile_document(source)
    prefix = "m10_"
    batched = 0
    if document.definitions:  # ``$m10_input:OrderInput!`` and ", " before the next mutation's
        batched += _quoted_size(document.definitions.replace(PREFIX, prefix)) + 2
    for number, text in enumerate(document.fields):  # ``m10: field`` (``m10_1: field``...) and " "
        alias = "m10" if len(document.fields) == 1 else f"m10_{number}"
        batched += len(alias) + 2 + _quoted_size(text.replace(PREFIX, prefix)) + 1
    batched += sum(_quoted_size(text) for _, text in document.fragments)
    alone = _ONE_FRAME + _quoted_size(document.source) - _ENVELOPE  # variables: fewer bytes than batched
    numbered = len(document.fields) + document.definitions.count(PREFIX)
    numbered += sum(text.count(PREFIX) for text in document.fields)
    return _Sized(document, max(batched, alone), numbered)


def _render_one(mutation: PlannedMutation) -> Rendered:
    """One mutation, sent as the user wrote it: ``{"query": <the document>, "variables": {...}}``.

    No alias and no renamed variable: byte for byte the document a hand-written client (gql, curl) sends,
    which is known to fire subscriptions; whether aliased top-level mutations fire them on the real AppSync
    is not documented (docs/semantics.md), so ``batch_size=1`` must never carry an alias. The answer's
    ``data`` is keyed as the document keys it.
    """
    document = mutation.document
    variables = ",".join(f'"{name}":{value}' for name, value in mutation.variables)
    body = '{"query":' + _quote(document.source) + ',"variables":{' + variables + "}}"
    return Rendered(body.encode(), dict.fromkeys(document.response_keys, 0))


def _render_batch(mutations: Sequence[PlannedMutation]) -> Rendered:
    """``mutation Publish($m0_input: ...) { m0: publishOrder(...) m1: ... }``, variables renamed per alias.

    Top-level mutation fields run serially in one request, each triggering its subscriptions.
    """
    definitions: list[str] = []
    fields: list[str] = []
    variables: list[str] = []
    fragments: dict[str, str] = {}
    aliases: dict[str, int] = {}
    for position, mutation in enumerate(mutations):
        document = mutation.document
        prefix = f"m{position}_"
        if document.definitions:
            definitions.append(document.definitions.replace(PREFIX, prefix))
        if len(document.fields) == 1:
            alias = f"m{position}"
            aliases[alias] = position
            fields.append(f"{alias}: {document.fields[0].replace(PREFIX, prefix)}")
        else:
            for number, text in enumerate(document.fields):
                alias = f"m{position}_{number}"
                aliases[alias] = position
                fields.append(f"{alias}: {text.replace(PREFIX, prefix)}")
        for name, value in mutation.variables:
            variables.append(f'"{prefix}{name}":{value}')
        if document.fragments:
            fragments.update(document.fragments)
    head = f"mutation Publish({', '.join(definitions)})" if definitions else "mutation Publish"
    document_text = f"{head}{{{' '.join(fields)}}}{''.join(fragments.values())}"
    body = '{"query":' + _quote(document_text) + ',"variables":{' + ",".join(variables) + "}}"
    return Rendered(body.encode(), aliases)
