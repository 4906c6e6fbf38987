"""Source record views and event parsers; a source's module loads when its source is first used.

A function of one source never imports the others (cold start): ``SOURCES`` knows every source by name
and imports its module on the first look-up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from streambridge._sources._base import Source, SourceName, SourceRecord

__all__ = ["SOURCES", "Source", "SourceName", "SourceRecord"]

_MODULES: dict[str, str] = {
    "dynamodb": "dynamodb",
    "kinesis": "kinesis",
    "kinesis_dynamodb": "kinesis_dynamodb",
    "sqs": "sqs",
    "aurora": "aurora",
    "cloudwatch_alarm": "cloudwatch",
    "eventbridge": "eventbridge",
    "http": "http",
}
"""Each source's decorator name -> the module (of this package) that defines its ``SOURCE``."""


class _Sources(Mapping[str, Source]):
    """Every source by its decorator name, its module imported the first time it is looked up."""

    def __init__(self) -> None:
        self._loaded: dict[str, Source] = {}

    def __getitem__(self, name: str) -> Source:
        source = self._loaded.get(name)
        if source is None:
            module = _MODULES[name]  # KeyError for a name of no source, as a dict's
            source = __import__(f"streambridge._sources.{module}", fromlist=["SOURCE"]).SOURCE
            self._loaded[name] = source
        return source

    def __iter__(self) -> Iterator[str]:
        return iter(_MODULES)

    def __len__(self) -> int:
        return len(_MODULES)


SOURCES: Mapping[str, Source] = _Sources()
"""Every source by its decorator name: ``dynamodb``, ``kinesis``, ``kinesis_dynamodb``, ``sqs`` (batch),
``aurora``, ``cloudwatch_alarm``, ``eventbridge`` (single event), ``http`` (a request's items, answered
with an HTTP response)."""
