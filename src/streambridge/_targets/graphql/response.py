"""What an AppSync answer means, per aliased mutation. Pure: bytes and status in, outcomes out.

AppSync answers HTTP 200 with an ``errors`` array and partial ``data``; each error is mapped back to its
mutation by the alias at the head of its ``path``. An error with no alias fails the whole request only when
nothing ran; otherwise it is the error of the mutations that have no result, and a mutation that returned
data is never sent again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from streambridge._errors import (
    AuthorizationError,
    GraphQLError,
    PublishError,
    SchemaMismatchError,
    ServerError,
    ThrottledError,
)
from streambridge._io.transport import HttpResponse
from streambridge._targets.answers import body_hint, parse_json, redact, status_failure, typed
from streambridge._targets.base import Answer

_THROTTLING = ("throttl", "toomanyrequests", "provisionedthroughputexceeded", "requestlimitexceeded")
_UNAUTHORIZED = ("unauthorized", "accessdenied", "forbidden")
_RENAMED = re.compile(r"(?<![\w$])(\$?)m(\d+)_(?!\d+\b)([_A-Za-z]\w*)")
"""A variable as a batch renames it (``$m0_input``; graphql-js also writes ``"m0_input.amount"``)."""


def interpret(response: HttpResponse, aliases: Mapping[str, int]) -> Answer:
    """Map a response to per-mutation outcomes, classifying each error as transient or not."""
    status = response.status
    payload = parse_json(response.body)
    errors = payload.get("errors") if isinstance(payload, dict) else None
    errors = errors if isinstance(errors, list) else []
    data = payload.get("data") if isinstance(payload, dict) else None
    data = data if isinstance(data, dict) else None
    # A result shows its mutation ran, whatever the status says: such an answer is read per mutation.
    returned = (
        {aliases[key] for key, value in data.items() if value is not None and key in aliases}
        if data
        else set()
    )
    if not returned:
        failed = _status_error(response, payload, errors)
        if failed is not None:
            return Answer(failed)
    answer = Answer()
    pathless, ran_anyway = _read_errors(errors, aliases, data, answer)
    if data is not None:  # the mutations ran: each has its own outcome
        _read_results(data, aliases, answer, pathless)
    elif answer.errors or ran_anyway:  # data null: a failed non-null field nulled the whole answer
        _read_null_data(aliases, answer, min(answer.errors.keys() | ran_anyway))
    elif pathless is not None:  # nothing ran: the document itself, or a variable of the wrong type
        answer.request_error = _as_document_error(pathless)
    elif status == 200:  # no result and no error: nothing says any mutation ran
        answer.request_error = ServerError(
            f"AppSync answered HTTP 200 without a result or an error{body_hint(response.body)}"
        )
    for position in returned & answer.errors.keys():  # a document of several fields, one of which ran
        error = answer.errors.pop(position)
        answer.notes[position] = f"it ran in part (a field of its document returned data), but: {error}"
    ran = returned or answer.notes  # a result came back, or an error says its mutation ran
    if status != 200 and answer.request_error is None and not answer.errors and not ran:
        answer.request_error = GraphQLError(
            f"AppSync rejected the request: HTTP {status}{body_hint(response.body)}"
        )
    return answer


def _read_errors(
    errors: list[Any], aliases: Mapping[str, int], data: Mapping[str, Any] | None, answer: Answer
) -> tuple[PublishError | None, set[int]]:
    """Blame each error on its mutation by the alias at the head of its path (``answer.errors``).

    Returns the first error no alias can be blamed for, and the mutations an error was answered for
    though their resolver ran (noted in ``answer.notes``, never errors).
    """
    pathless: PublishError | None = None
    ran_anyway: set[int] = set()
    for error in errors:
        if not isinstance(error, dict):
            continue
        path = error.get("path")
        path = path if isinstance(path, list) else []
        head = path[0] if path else None
        position = aliases.get(head) if isinstance(head, str) else None
        if position is None:
            pathless = pathless or _classify(error, aliases)
        elif (ran := _ran_despite(path, data)) is not None:
            answer.notes.setdefault(position, f"{ran}: {_classify(error, aliases)}")
            ran_anyway.add(position)
        elif position not in answer.errors and position not in ran_anyway:
            answer.errors[position] = _classify(error, aliases)
    for position in ran_anyway:  # an error of its own answered before the one that shows it ran
        answer.errors.pop(position, None)
    return pathless, ran_anyway


def _ran_despite(path: list[Any], data: Any) -> str | None:
    """What an error says of a mutation whose resolver ran anyway; None when it says it failed.

    A mutation whose field came back with data ran, whatever error the answer also has for it (a resolver
    calling ``$util.appendError`` answers both); an error below its field (``[m3, "owner"]``) comes from a
    field of the result its resolver returned, even when null propagation then nulled the result (or
    ``data``). Sending either again would run it twice (a throttled field error is retryable).
    """
    result = data.get(path[0]) if isinstance(data, dict) else None
    if result is not None:
        if len(path) > 1:
            return "it ran, but a field of its result failed (subscribers receive it null)"
        return "it ran and returned data, but AppSync also answered an error for it"
    if len(path) > 1:
        return (
            "it ran, but a non-null field of its result failed and nulled the result "
            "(whether subscribers received anything is unknown)"
        )
    return None


def _read_results(
    data: Mapping[str, Any], aliases: Mapping[str, int], answer: Answer, pathless: PublishError | None
) -> None:
    """Outcomes of mutations not blamed by an error: a result means it ran. Never count one that did not."""
    for alias, position in aliases.items():
        if position in answer.errors or position in answer.notes:  # blamed, or ran despite an error
            continue
        if data.get(alias) is not None:
            if pathless is not None:  # it ran: sending it again would run it twice
                answer.notes.setdefault(
                    position, f"ran; AppSync also answered an error without a path: {pathless}"
                )
        elif pathless is not None:  # no result, and an error no alias claims: it is this one's
            answer.errors[position] = pathless
        elif alias not in data:
            answer.errors[position] = ServerError(f"AppSync's answer has no result for {alias}")
        else:  # it ran, but subscribers receive null: worth a word, not a failure
            answer.notes[position] = (
                f"AppSync answered null for {alias} without an error: subscribers receive a null payload"
            )


def _read_null_data(aliases: Mapping[str, int], answer: Answer, first: int) -> None:
    """``data`` is null after the mutation at ``first`` failed: those before it ran, those after did not.

    Mutations run one after the other in document order (GraphQL spec, "Mutation operations"); an error on
    a non-null field nulls its parent up to ``data`` and stops the rest (graphql-js, which the simulator
    runs). Whether AppSync stops the rest too is unknown: retrying them is at least once either way.
    """
    blamed = next(alias for alias, position in aliases.items() if position == first)
    for alias, position in aliases.items():
        if position in answer.errors or position in answer.notes:
            continue
        if position < first:
            answer.notes[position] = (
                f"it ran before {blamed} failed, but AppSync answered data: null; "
                "whether subscribers received its result is unknown"
            )
        else:
            answer.errors[position] = ServerError(
                f"AppSync's answer has no result for {alias}: data is null after {blamed} failed"
            )


_DOCUMENT_ERRORS = re.compile(
    # graphql-java's validation error types (AppSync's "Validation error of type X: ..."), then graphql-js's
    # messages (the simulator): each says the document does not fit the schema, whatever the variables.
    r"Validation error of type (?:FieldUndefined|UnknownType|UnknownArgument|UnknownDirective|"
    r"SubSelectionRequired|SubSelectionNotAllowed|MissingFieldArgument|InvalidSyntax|UndefinedVariable|"
    r"UnusedVariable|UndefinedFragment|UnusedFragment|VariableTypeMismatch|MisplacedDirective|"
    r"DuplicateOperationName|LoneAnonymousOperationViolation|NonExecutableDefinition|UnknownOperation)\b"
    r"|Cannot query field|Unknown type |Unknown argument |Unknown directive "
    r"|must have a selection of subfields|must not have a selection|Syntax Error"
    r"|Schema is not configured for mutations"
)
"""An error that no record can cause: the document does not fit this API's schema."""


def _as_document_error(error: PublishError) -> PublishError:
    """A request-level error as a ``SchemaMismatchError`` when the document itself is what AppSync refused.

    Such an error is the same for every record (the URL names another API, or the document does not fit
    the schema): a misconfiguration, so sending halts and every record is reported failed, instead of each
    being sent alone and set aside as poison.
    """
    if not _DOCUMENT_ERRORS.search(str(error)):
        return error
    mismatch = SchemaMismatchError(
        f"{error} (the mutation document does not fit this API's schema: is the URL the right API, and the "
        "document the one its schema defines? the records are reported failed, never skipped or "
        "dead-lettered)"
    )
    mismatch.__cause__ = error
    return mismatch


def _status_error(response: HttpResponse, payload: Any, errors: list[Any]) -> PublishError | None:
    """The whole request's failure when the status or the body shape says it failed as a whole."""
    status = response.status
    failed = status_failure(response, "request", _first(errors))
    if failed is not None:
        return failed
    if not isinstance(payload, dict):
        if status == 200:
            return ServerError(
                f"AppSync answered HTTP 200 with a body that is not JSON{body_hint(response.body)}"
            )
        return GraphQLError(f"AppSync rejected the request: HTTP {status}{body_hint(response.body)}")
    if "data" not in payload and not errors:  # e.g. the simulator's {"errorMessage": "Syntax Error: ..."}
        detail = payload.get("errorMessage") or payload.get("message") or body_hint(response.body)
        return _as_document_error(GraphQLError(f"AppSync rejected the request: HTTP {status}: {detail}"))
    return None


def _user_names(message: str, aliases: Mapping[str, int], blamed: int | None) -> str:
    """``$m1_input`` -> ``$input``: a batch renames each mutation's variables ``m<position>_<name>``.

    The user wrote ``$input``; the position says whose it is. An error blamed on a mutation by its path is
    reported on that mutation's record, so the name alone is enough; an error of the whole request says
    which of its mutations the variable belongs to (the request is then split, each record sent alone).
    """
    if len(set(aliases.values())) < 2:  # one mutation: sent as the user wrote it, nothing renamed
        return message
    positions = set(aliases.values())
    owners: dict[str, None] = {}

    def rename(match: re.Match[str]) -> str:
        position = int(match.group(2))
        if position not in positions:
            return match.group(0)
        if position != blamed:
            owners[f"mutation m{position} sent it as ${match.group(0).lstrip('$')}"] = None
        return f"{match.group(1)}{match.group(3)}"

    renamed = _RENAMED.sub(rename, message)
    if owners:
        renamed += f" (in the batched request, {'; '.join(owners)})"
    return renamed


def _classify(error: Mapping[str, Any], aliases: Mapping[str, int] | None = None) -> PublishError:
    message = redact(str(error.get("message", "no message")))
    if aliases:
        raw_path = error.get("path")
        head = raw_path[0] if isinstance(raw_path, list) and raw_path else None
        message = _user_names(message, aliases, aliases.get(head) if isinstance(head, str) else None)
    error = {**error, "message": message} if "message" in error else error
    error_type = error.get("errorType")
    kind = str(error_type or "").lower()
    raw_path = error.get("path")
    path = tuple(raw_path) if isinstance(raw_path, list) else ()
    text = typed(error_type, message)
    if any(word in kind for word in _THROTTLING):
        return ThrottledError(f"AppSync throttled the mutation: {text}")
    if any(word in kind for word in _UNAUTHORIZED):
        return AuthorizationError(f"AppSync refused the mutation: {text}")
    return GraphQLError(f"AppSync rejected the mutation: {text}", error_type=error_type, path=path, raw=error)


def _first(errors: list[Any]) -> str:
    for error in errors:
        if isinstance(error, dict):
            return f" ({typed(error.get('errorType'), redact(str(error.get('message'))))})"
    return ""
