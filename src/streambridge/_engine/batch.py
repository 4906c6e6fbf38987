"""The pure core, part 2: lanes -> requests of aliased top-level mutation fields.

A request takes the head of many lanes (at most ``per_key`` steps of each), bounded by count and bytes.
Top-level mutation fields run serially in one request, each triggering its subscriptions.

A request of one mutation is the user's document as written, with the user's variable names: exactly what
a hand-written client sends. Whether aliased top-level mutations fire their subscriptions on the real
AppSync is not documented (docs/semantics.md), so ``batch_size=1`` must never carry an alias.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from typing import NamedTuple

from streambridge._engine.plan import Lane, Step
from streambridge._engine.result import Ledger
from streambridge._targets.graphql.document import PREFIX, CompiledDocument

_quote = json.encoder.encode_basestring  # json.dumps(text, ensure_ascii=False), without its overhead


class Limits(NamedTuple):
    """Bounds of one request."""

    max_mutations: int = 50
    max_bytes: int = 512 * 1024
    per_key: int = 1
    """Mutations of one key per request. 1 keeps "a failed change is never overtaken" strict."""


class Request(NamedTuple):
    """One GraphQL request: the steps it carries, in alias order, and its body."""

    entries: tuple[tuple[Lane, Step], ...]
    body: bytes
    aliases: dict[str, int]
    """Response key (a top-level alias, or the field's own key in a request of one mutation) -> position
    in ``entries``."""


def take_batch(
    ready: deque[Lane], ledger: Ledger, limits: Limits, poisoned: list[Lane] | None = None
) -> list[tuple[Lane, list[Step]]]:
    """Take the heads of ready lanes for one request, front of the queue first.

    Leading skip steps are settled on the way; a lane left empty leaves the queue. A lane whose head is a
    record bound for the dead-letter sink goes to ``poisoned``. A solo lane, or a document that cannot
    share a request, goes alone. Lanes left in ``ready`` keep their order.
    """
    batch: list[tuple[Lane, list[Step]]] = []
    count = 0
    size = 64
    fragments: dict[str, str] = {}
    while ready and count < limits.max_mutations:
        lane = ready[0]
        _settle_skips(lane, ledger)
        if not lane.steps:
            ready.popleft()
            lane.queued = False  # new steps planned later offer it again
            continue
        head = lane.steps[0].mutation
        if head is None:  # not a skip: a record for the dead-letter sink
            assert poisoned is not None  # noqa: S101 - such steps are only planned with a sink
            poisoned.append(ready.popleft())
            continue
        alone = lane.solo or not head.document.batchable
        if batch and (alone or size + head.size > limits.max_bytes or _conflicts(fragments, head.document)):
            break
        ready.popleft()
        steps: list[Step] = []
        per_key = 1 if alone else limits.per_key
        while lane.steps and len(steps) < per_key and count < limits.max_mutations:
            step = lane.steps[0]
            # A skip or a dead-letter step behind a pending step settles only once that step succeeded.
            if step.mutation is None or (steps and size + step.mutation.size > limits.max_bytes):
                break
            lane.steps.popleft()
            steps.append(step)
            count += 1
            size += step.mutation.size
            fragments.update(step.mutation.document.fragments)
        batch.append((lane, steps))
        if alone:
            break
    return batch


def _settle_skips(lane: Lane, ledger: Ledger) -> None:
    while lane.steps and lane.steps[0].mutation is None and lane.steps[0].error is None:
        ledger.skip(lane.steps.popleft().record)


def _conflicts(fragments: dict[str, str], document: CompiledDocument) -> bool:
    """True when the document defines a fragment the request already has under another body."""
    own = document.fragments
    return bool(own) and any(fragments.get(name, text) != text for name, text in own)  # most have none


def render(batch: Iterable[tuple[Lane, list[Step]]]) -> Request:
    """The request body for a batch: ``mutation Publish($m0_input: ...) { m0: publishOrder(...) ... }``.

    A batch of one mutation is rendered as the user's own document instead (see ``render_one``).
    """
    batch = batch if isinstance(batch, list) else list(batch)
    if len(batch) == 1 and len(batch[0][1]) == 1:
        lane, (step,) = batch[0]
        return render_one(lane, step)
    definitions: list[str] = []
    fields: list[str] = []
    variables: list[str] = []
    fragments: dict[str, str] = {}
    entries: list[tuple[Lane, Step]] = []
    aliases: dict[str, int] = {}
    for lane, steps in batch:
        for step in steps:
            mutation = step.mutation
            assert mutation is not None  # noqa: S101 - batches carry mutation steps only
            document = mutation.document
            position = len(entries)
            entries.append((lane, step))
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
    return Request(tuple(entries), body.encode(), aliases)


def render_one(lane: Lane, step: Step) -> Request:
    """One mutation, sent as the user wrote it: ``{"query": <the document>, "variables": {...}}``.

    No alias and no renamed variable: byte for byte the document a hand-written client (gql, curl) sends,
    which is known to fire subscriptions. The answer's ``data`` is keyed as the document keys it.
    """
    mutation = step.mutation
    assert mutation is not None  # noqa: S101 - requests carry mutation steps only
    document = mutation.document
    variables = ",".join(f'"{name}":{value}' for name, value in mutation.variables)
    body = '{"query":' + _quote(document.source) + ',"variables":{' + variables + "}}"
    return Request(((lane, step),), body.encode(), dict.fromkeys(document.response_keys, 0))
