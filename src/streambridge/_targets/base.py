"""What a target is to the engine: the one place that knows what a request looks like.

The engine (plan -> batch -> send -> attribute -> outcomes) is the same for every target. A target says
three things, and nothing else in the engine knows them:

- ``prepare``: what the mapping function's result means for one record: the items to publish (each with
  its size in a request and what it may share a request with), or none (a skip); a result it cannot use
  raises a ``StreambridgeError`` (the engine attaches the record to it, so its message names the record);
- ``render``: the body of one request carrying some items, in order;
- ``split``: the parts of a mapping result (mutations, events), each publishable alone;
- ``interpret``: what an answer means for each item of the request (by position);

and ``max_items``, the most items a request may carry. GraphQL mutations (``_targets.graphql``) and AppSync
Events channels (``_targets.channels``) are the two targets; ``answers`` holds what both read alike.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from streambridge._errors import PublishError
    from streambridge._io.transport import HttpResponse
    from streambridge._sources._base import SourceRecord


class Item(Protocol):
    """One thing to publish for a record, ready to batch (built for every record: keep it cheap)."""

    @property
    def size(self) -> int:
        """Bytes it adds to a request: the batcher bounds requests by them."""
        ...

    @property
    def shares(self) -> Hashable | None:
        """Items share a request only with items of an equal ``shares``; None: it always goes alone."""
        ...


class Rendered(NamedTuple):
    """A request's body, and what the target needs to read its answer (e.g. response keys)."""

    body: bytes
    keys: Any


class Answer:
    """The meaning of one response, per item of the request.

    A plain class, not a dataclass: this module is imported with the engine, and dataclasses costs ~5 ms
    of cold start.
    """

    __slots__ = ("errors", "notes", "request_error")

    def __init__(
        self, request_error: PublishError | None = None, errors: dict[int, PublishError] | None = None
    ) -> None:
        self.request_error = request_error
        """Set when the request failed as a whole (no per-item outcome can be read)."""
        self.errors: dict[int, PublishError] = {} if errors is None else errors
        """Position -> the error of that item. Positions absent here succeeded."""
        self.notes: dict[int, str] = {}
        """Position -> what is worth knowing about an item that succeeded (e.g. a null result)."""

    def __repr__(self) -> str:
        return f"Answer(request_error={self.request_error!r}, errors={self.errors!r}, notes={self.notes!r})"


class Target(Protocol):
    """Where records go, and how requests for it are made and read."""

    max_items: int | None
    """Most items one request may carry (an Event API publish takes 5 events); None: no limit of its own."""

    def prepare(self, record: SourceRecord, result: Any) -> Sequence[Item]:
        """The items for the mapping function's ``result`` on ``record`` ([] to skip it)."""
        ...

    def render(self, items: Sequence[Item]) -> Rendered:
        """The request carrying ``items``, in this order."""
        ...

    def split(self, record: SourceRecord, result: Any) -> list[Any]:
        """The parts of a mapping result, each a result ``prepare`` takes alone.

        A single event whose mapping returns several parts gets an outcome per part.
        """
        ...

    def interpret(self, response: HttpResponse, keys: Any) -> Answer:
        """The outcome of each item of the request ``keys`` came from."""
        ...
