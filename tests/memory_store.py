"""An idempotency store in memory, for the tests: the keys it holds, the calls it got, and an outage."""

from __future__ import annotations

from collections.abc import Iterable


class MemoryStore:
    """An ``IdempotencyStore`` in memory that counts its calls; ``down`` makes every call fail."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.calls: list[str] = []
        self.down = False

    def published(self, keys: Iterable[str]) -> set[str]:
        self.calls.append("published")
        if self.down:
            raise ConnectionError("store down")
        return self.keys.intersection(keys)

    def remember(self, keys: Iterable[str]) -> None:
        self.calls.append("remember")
        if self.down:
            raise ConnectionError("store down")
        self.keys.update(keys)
