"""Opt-in guard against stale changes: per key, the newest version published; an older change is skipped.

Where order across invocations is not guaranteed (EventBridge, alarms and Aurora calls retried by Lambda's
asynchronous queue, Kinesis Data Streams for DynamoDB), a re-delivered or late change can reach the function
after a newer change of the same key was published, and would overwrite it at subscribers. With a version
store, each key's newest published version is remembered, with a conditional write that only ever raises
it, and a change strictly older than it is skipped. A store that cannot be read fails the records it
guards (Lambda re-delivers them): a change is never skipped on a guess, nor published unguarded.

This module holds what needs no engine: the versions of records, the store's keys, the decisions of one
invocation (``StaleCheck``) and the DynamoDB store. The bridge runs the store's calls under the deadline.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import operator
import time
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from streambridge._errors import (
    ConfigurationError,
    MappingError,
    StreambridgeError,
    TransientError,
    said,
)
from streambridge._sources._base import MutationOf, SourceName, SourceRecord
from streambridge._sources.kinesis import KinesisRecord

logger = logging.getLogger("streambridge")

STALE = "stale: "
"""How the note of a record skipped as stale begins."""

_MAX_ID_BYTES = 1024  # a partition key may hold 2,048 bytes: longer ids are hashed, with room to spare
_MAX_DIGITS = 999  # the encoding's length prefix has 3 digits
_WRITERS = 8  # UpdateItem calls in flight at once (botocore keeps 10 connections per client)


class Guarded(NamedTuple):
    """What the guard knows of one record: its key in the store and its version."""

    key: str
    version: int


class VersionStore(Protocol):
    """Remembers, per key, the newest version of a change that was published."""

    def newest(self, keys: Sequence[str]) -> Mapping[str, int]:
        """The stored version of each of ``keys`` that has one. Raises when it cannot say (never guesses)."""
        ...

    def advance(self, versions: Mapping[str, int]) -> None:
        """Raise each key's stored version to the one given, unless it holds a newer one already."""
        ...


# -- versions and keys --------------------------------------------------------------------------------


def version_of(record: SourceRecord, function: Callable[[Any], Any] | None) -> int | None:
    """The version of ``record``'s change: ``function(record)`` or the source's own; None when it has none.

    A function that raises, or returns anything but an int >= 0, a timezone-aware ``datetime`` (its
    microseconds since the epoch) or None, fails the record (``MappingError``).
    """
    if function is None:
        value = record._change_version()  # the sources' hook for this module
        return None if value is None else _checked(value, "its version")
    try:
        value = function(record)
    except StreambridgeError as error:  # e.g. a RecordError from a lazy property: it names the record
        raise error.about(record) from None
    except Exception as error:
        raise MappingError(f"version function raised {said(error)}") from error
    if value is None:
        return None
    return _checked(value, "the version function")


def _checked(value: Any, what: str) -> int:
    from datetime import datetime

    number: int
    if isinstance(value, datetime):
        if value.utcoffset() is None:
            raise MappingError(f"{what} returned a naive datetime ({value}): give it a time zone")
        from streambridge._sources._common import time_version

        number = time_version(value)
    elif isinstance(value, (bool, float)):
        hint = " (a float: return an int, e.g. microseconds)" if isinstance(value, float) else ""
        raise MappingError(f"{what} returned {value!r}{hint}; expected an int >= 0 or None")
    else:
        try:
            number = operator.index(value)
        except TypeError:
            raise MappingError(
                f"{what} returned {type(value).__name__}; expected an int >= 0, an aware datetime or None"
            ) from None
    if number < 0:
        raise MappingError(f"{what} returned {number}; a version is an int >= 0")
    if len(str(number)) > _MAX_DIGITS:
        raise MappingError(f"{what} returned an int of more than {_MAX_DIGITS} digits")
    return number


def store_key(source: SourceName, record: SourceRecord, group: Hashable) -> str:
    """The store's key of ``record``'s partition key ``group``: the source, where its keys live, the key.

    Where the keys live: the stream's or queue's ARN (DynamoDB Streams, Kinesis, SQS: sequence numbers are
    comparable only within one, and two tables or streams may share an item key); the alarm's account and
    Region (an alarm name is unique only there). A key that is not a str is written as JSON; an id over
    1 KB is replaced by its SHA-256 (DynamoDB allows 2,048 bytes in a partition key).
    """
    key = (
        group
        if isinstance(group, str)
        else json.dumps(group, sort_keys=True, separators=(",", ":"), default=str)
    )
    text = f"{source}|{_scope(record)}|{key}"
    if len(text.encode()) <= _MAX_ID_BYTES:
        return text
    import hashlib

    return f"{source}|sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def _scope(record: SourceRecord) -> str:
    raw = record.raw
    if not isinstance(raw, Mapping):  # an Aurora payload that is not an object
        return ""
    try:
        return _where(record, raw)
    except StreambridgeError:  # a change without its table name: its stream alone
        return str(raw.get("eventSourceARN", ""))


def _where(record: SourceRecord, raw: Mapping[str, Any]) -> str:
    arn = raw.get("eventSourceARN")
    if isinstance(arn, str):
        # Kinesis Data Streams for DynamoDB: one stream may carry the changes of several tables
        table = getattr(record, "table_name", None) if isinstance(record, KinesisRecord) else None
        return f"{arn}|{table}" if isinstance(table, str) else arn
    alarm = raw.get("alarmArn")
    if not isinstance(alarm, str):
        sns = raw.get("Sns")
        alarm = getattr(record, "alarm_arn", None) if isinstance(sns, Mapping) else None
    if isinstance(alarm, str):  # arn:aws:cloudwatch:<region>:<account>:alarm:<name>
        return alarm.rpartition(":alarm:")[0]
    return ""


# -- one invocation -----------------------------------------------------------------------------------


class StaleCheck:
    """One invocation's stale check: which records it guards, their keys and versions, and what to skip.

    ``group_of(record)`` is the record's partition key as the planner reads it, or None when it has none
    (unordered) or its function raised: such a record is not guarded. The mutations of a single event that
    maps to several (``MutationOf``) are guarded as the event: one key, one version. A record whose version
    cannot be read gets an error (``errors``), which the planner reports for it (``refusing``).
    """

    def __init__(
        self,
        source: SourceName,
        records: Sequence[SourceRecord],
        group_of: Callable[[SourceRecord], Hashable | None],
        version: Callable[[Any], Any] | None,
    ) -> None:
        self.records = records
        self.guarded: dict[int, Guarded] = {}
        """Record index -> its key and version, for every record the guard applies to."""
        self.errors: dict[int, StreambridgeError] = {}
        """Record index -> why its version could not be read (or, later, its key's stored version)."""
        seen: dict[int, Guarded | StreambridgeError | None] = {}  # by event, for an event's mutations
        for record in records:
            unit = record.event if isinstance(record, MutationOf) else record
            if id(unit) not in seen:  # keyed by its own group_of (an event's mutations: the event's key)
                seen[id(unit)] = _guard(source, record, unit, group_of, version)
            outcome = seen[id(unit)]
            if isinstance(outcome, Guarded):
                self.guarded[record.index] = outcome
            elif outcome is not None:
                self.errors[record.index] = _twin(outcome)

    def keys(self) -> list[str]:
        """The store keys to read, each once, in the order of their first record."""
        return list(dict.fromkeys(g.key for g in self.guarded.values()))

    def stale(self, newest: Mapping[str, int]) -> dict[int, str]:
        """Record index -> the note of each record strictly older than its key's stored version.

        Compared with what earlier invocations published, not with the batch: within a batch a key's
        records keep their source order, and stored versions only grow, so a record skipped here is older
        than a change subscribers already have, whatever happens to the rest of its key.
        """
        notes = {}
        for index, (key, version) in self.guarded.items():
            stored = newest.get(key)
            if stored is not None and (type(stored) is not int or stored < 0):
                raise VersionStoreError(f"the version store answered {stored!r} for a key, not a version")
            if stored is not None and version < stored:
                notes[index] = (
                    f"{STALE}version {version} is older than version {stored} already published for its key"
                )
        return notes

    def unreadable(self, cause: BaseException, *, timed_out: bool) -> None:
        """The store could not be read: every guarded record fails, for Lambda to re-deliver."""
        if timed_out:
            why = "did not answer in time (half the time left)"
        else:
            why = f"could not be read ({_error_code(cause) or type(cause).__name__})"
        for index in self.guarded:
            error = TransientError(
                f"stale guard: the version store {why}; reported failed for Lambda to re-deliver, "
                "never published unguarded"
            )
            error.__cause__ = cause
            self.errors.setdefault(index, error)

    def refusing(self, mapper: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``mapper``, raising a failed record's error instead: the planner reports it, holds its key back."""
        if not self.errors:
            return mapper
        errors = self.errors

        def mapped(record: SourceRecord) -> Any:
            error = errors.get(record.index)
            if error is not None:
                raise error
            return mapper(record)

        return mapped

    def published(self, indexes: Iterable[int]) -> dict[str, int]:
        """The newest version of each key among the records at ``indexes`` (the published ones)."""
        newest: dict[str, int] = {}
        for index in indexes:
            guarded = self.guarded.get(index)
            if guarded is not None and guarded.version > newest.get(guarded.key, -1):
                newest[guarded.key] = guarded.version
        return newest


def _guard(
    source: SourceName,
    record: SourceRecord,
    unit: SourceRecord,
    group_of: Callable[[SourceRecord], Hashable | None],
    function: Callable[[Any], Any] | None,
) -> Guarded | StreambridgeError | None:
    """``record``'s key and ``unit``'s version (the record, or the event it is a mutation of)."""
    group = group_of(record)
    if group is None:
        return None
    try:
        version = version_of(unit, function)
    except StreambridgeError as error:
        return error
    return None if version is None else Guarded(store_key(source, unit, group), version)


def _error_code(error: BaseException) -> str | None:
    """A botocore ClientError's code; None for any other error (a client's ``response`` may be None)."""
    response = getattr(error, "response", None)
    details = response.get("Error") if isinstance(response, Mapping) else None
    code = details.get("Code") if isinstance(details, Mapping) else None
    return code if isinstance(code, str) else None


def _twin(error: StreambridgeError) -> StreambridgeError:
    """A copy of ``error`` for another record (an error names the first record it is attached to)."""
    twin = copy.copy(error)
    twin.record = None
    twin.__cause__ = error.__cause__
    return twin


# -- the DynamoDB store -------------------------------------------------------------------------------


class VersionStoreError(TransientError):
    """The version store did not answer for every key (throttled), or holds what it did not write."""


class DynamoDBVersionStore:
    """A version store in a DynamoDB table: one item per key, its newest published version.

    The table needs a string partition key (``key_attribute``, default ``id``); the function needs
    ``dynamodb:BatchGetItem`` and ``dynamodb:UpdateItem`` on it. Reads are strongly consistent (a change
    published by the invocation before must be seen); each write is conditional, ``attribute_not_exists``
    or older, so that a version is only ever raised, whatever invocations run at once. Versions are kept as
    text, a 3-digit length and then the digits, which DynamoDB compares in numeric order (Kinesis sequence
    numbers have up to 129 digits, more than a DynamoDB number's 38).

    ``ttl`` (seconds, default None: kept for ever) lets DynamoDB's Time to Live delete a key not changed
    for that long (``ttl_attribute``, enable TTL on it): keep it longer than any change can arrive late
    (the stream's retention; 6 hours for Lambda's asynchronous queue), since a key whose item expired is
    not guarded until its next change is published.
    """

    def __init__(
        self,
        table: str,
        *,
        key_attribute: str = "id",
        version_attribute: str = "version",
        ttl: float | None = None,
        ttl_attribute: str = "expiresAt",
        client: Any = None,
    ) -> None:
        """Use ``table``; ``client`` is a boto3 DynamoDB client (default: one made on first use)."""
        names = {"table": table, "key_attribute": key_attribute, "version_attribute": version_attribute,
                 "ttl_attribute": ttl_attribute}  # fmt: skip
        for setting, name in names.items():
            if not isinstance(name, str) or not name.strip():
                what = "the table name" if setting == "table" else "an attribute name"
                raise ConfigurationError(
                    f"DynamoDBVersionStore({setting}=...) must be {what}, a non-empty str, got {name!r}"
                )
        if len({key_attribute, version_attribute, ttl_attribute}) < 3:
            raise ConfigurationError("DynamoDBVersionStore: the key, version and ttl attributes must differ")
        # A ttl that is not a finite number would fail every write: the guard silently off.
        if ttl is not None and (
            isinstance(ttl, bool) or not isinstance(ttl, (int, float)) or not 0 < ttl < math.inf
        ):
            raise ConfigurationError(
                f"DynamoDBVersionStore(ttl=...) must be None or a finite number of seconds > 0, got {ttl!r}"
            )
        self.table = table
        self.key_attribute = key_attribute
        self.version_attribute = version_attribute
        self.ttl = ttl
        self.ttl_attribute = ttl_attribute
        self._client = client
        self._sleep: Callable[[float], None] = time.sleep

    def __repr__(self) -> str:
        return f"DynamoDBVersionStore(table={self.table!r})"

    @property
    def client(self) -> Any:
        """The boto3 client, made on first use (boto3's import cost is paid only by users of the store)."""
        if self._client is None:
            from streambridge._stores.idempotency import store_client

            self._client = store_client("dynamodb")
        return self._client

    def newest(self, keys: Sequence[str]) -> dict[str, int]:
        """Read the keys with BatchGetItem (100 a call, consistent), retrying unprocessed keys with backoff.

        Raises ``VersionStoreError`` when keys are still unprocessed after 5 tries: the caller must not
        guess that they have no version.
        """
        from streambridge._stores.idempotency import read_items

        found: dict[str, int] = {}
        reads = read_items(
            self.client,
            self.table,
            keys,
            key_attribute=self.key_attribute,
            attribute=self.version_attribute,
            backoff=self._sleep,
        )
        for items, unread in reads:
            if unread:  # the next calls are not made: the invocation must not guess these keys' versions
                raise VersionStoreError(f"the version store left {unread} keys unread (throttled)")
            for item in items:
                key = item[self.key_attribute]["S"]
                found[key] = self._decode(key, item.get(self.version_attribute))
        return found

    def advance(self, versions: Mapping[str, int]) -> None:
        """Write each key's version with a conditional UpdateItem (several at once); keep a newer one.

        A failed condition means a newer version is there already: fine. Any other error is raised after
        every key was tried (the first one, with how many failed).
        """
        items = list(versions.items())
        _ = self.client  # made here, once: boto3 does not make clients safely from several threads
        if len(items) <= 1:
            failures = [e for e in map(self._advance_one, items) if e is not None]
        else:
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(
                min(_WRITERS, len(items)), thread_name_prefix="streambridge-versions"
            ) as pool:
                failures = [e for e in pool.map(self._advance_one, items) if e is not None]
        if failures:
            raise VersionStoreError(f"{len(failures)} of {len(items)} versions not written") from failures[0]

    def _advance_one(self, item: tuple[str, int]) -> Exception | None:
        key, version = item
        values: dict[str, Any] = {":v": {"S": _encode(version)}}
        names = {"#v": self.version_attribute}
        update = "SET #v = :v"
        if self.ttl is not None:
            names["#t"] = self.ttl_attribute
            values[":t"] = {"N": str(int(time.time() + self.ttl))}
            update += ", #t = :t"
        try:
            self.client.update_item(
                TableName=self.table,
                Key={self.key_attribute: {"S": key}},
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(#v) OR #v < :v",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except Exception as error:  # noqa: BLE001 - returned to advance(), which raises once for all keys
            return None if _error_code(error) == "ConditionalCheckFailedException" else error
        return None

    def _decode(self, key: str, value: Any) -> int:
        text = value.get("S") if isinstance(value, Mapping) else None
        version = _decode(text) if isinstance(text, str) else None
        if version is None:
            raise VersionStoreError(
                f"the version store holds {str(value)[:80]} under {self.version_attribute} for key "
                f"{key[:200]!r}, not a version DynamoDBVersionStore wrote: correct or delete the item"
            )
        return version


def _encode(version: int) -> str:
    """``version`` as text that sorts like the number: 3 digits of length, then the digits."""
    digits = str(version)
    return f"{len(digits):03d}{digits}"


def _decode(text: str) -> int | None:
    if len(text) < 4 or not (text.isascii() and text.isdigit()) or int(text[:3]) != len(text) - 3:
        return None
    return int(text[3:])


def advance_warning(count: int, error: BaseException | None) -> None:
    """Log that published records' versions were not written: a late older change may then be published."""
    logger.warning(
        "streambridge: stale guard: %d published keys' versions not written (%s); a change older than "
        "them may still be published until their next change is",
        count,
        "too slow for the deadline" if error is None else type(error).__name__,
        exc_info=error,
    )
