"""Mangling events for the property tests of the sources: every path into a JSON value, and a replacement."""

from __future__ import annotations

from typing import Any


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path (keys and indexes) to a value inside ``value``, outermost first."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, inner in value.items():
            found += paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            found += paths(inner, (*prefix, index))
    return found


def replace(event: Any, path: tuple[Any, ...], new: Any) -> None:
    """Put ``new`` where ``path`` leads in ``event``."""
    target = event
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = new
