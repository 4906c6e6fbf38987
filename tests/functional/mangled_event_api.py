"""MangledEventApi: a ``FakeEventApi`` whose every request meets a fate drawn by the test.

Each fate is something AppSync Events could answer to ``POST /event``: a whole-request fault before
anything is published (HTTP 429 with or without ``Retry-After``, a 500 or 503 page, a connection reset, a
200 whose body is not JSON, a 400 for the whole publish), or a published request whose answer lists some
events in ``failed`` (``errorCode`` 400, 429 or 500) or leaves some out entirely; those events are not
published, the others are (through the fake's own rules: its namespaces, its ``on_publish`` hook).

Every event that reached its channel is in ``published``, in order (the fake's record), so a test can
count how often each ran; ``condemned`` holds the events a fate refused for good (errorCode 400, or a 400
for the whole publish), by the ``(seq, part)`` their payload carries.
"""

from __future__ import annotations

import json
import uuid
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from streambridge import HttpResponse
from streambridge.testing import FakeEventApi
from streambridge.testing._fake import ReceivedRequest
from streambridge.testing._local._errors import RejectedError
from streambridge.testing._local_events._rules import channel_path

from .mangled_appsync import fault_before_anything


@dataclass(frozen=True)
class Fate:
    """What becomes of one request.

    ``kind``: ``ok``; ``http`` (``status``, ``retry_after``: nothing published); ``reset`` (``direct``:
    raise ``ConnectionFailedError`` rather than ``ConnectionResetError``); ``garbage`` (200, not JSON);
    ``bad_request`` (400 for the whole publish, nothing published); ``failed`` (the events chosen by
    ``mask`` are listed in ``failed`` with ``code``, not published); ``omitted`` (the events chosen by
    ``mask`` are in neither list, not published). ``mask``: bit ``i`` chooses event ``i``; when it
    chooses none of the request's events, event ``mask % count`` is chosen.
    """

    kind: str
    status: int = 200
    retry_after: str | None = None
    direct: bool = False
    mask: int = 1
    code: int = 400


OK = Fate("ok")


class MangledEventApi(FakeEventApi):
    """A Transport answering like AppSync Events, each request under the next of ``fates`` (then ``ok``)."""

    def __init__(self, fates: Iterable[Fate], **options: Any) -> None:
        super().__init__(conditions=self._whole_request, **options)
        self.fates: deque[Fate] = deque(fates)
        self.condemned: set[tuple[int, int]] = set()
        """``(seq, part)`` of the events refused for good (errorCode 400, a 400 for the whole publish)."""
        self.log: list[tuple[str, int]] = []
        """Each request's fate and its number of events, for a failing example's story."""
        self._fate = OK

    def _whole_request(self, _now: float) -> HttpResponse | BaseException | None:
        """The fate of the request at hand; an answer or exception for a fault before anything is read."""
        fate = self.fates.popleft() if self.fates else OK
        self._fate = fate
        fault = fault_before_anything(fate, b'{"failed": [], "successful": [{"')
        if fault is not None:
            label, outcome = fault
            self.log.append((label, -1))
            return outcome
        return None  # it reaches the rules: _answer reads self._fate

    def _answer(self, received: ReceivedRequest) -> HttpResponse:
        """Answer the publish under ``self._fate`` (set just before, with no await in between)."""
        fate = self._fate
        try:
            channel, texts = self.rules.parse_http(received.body)
        except RejectedError as rejected:
            return _json(rejected.status, rejected.body())
        count = len(texts) if isinstance(texts, list) else 0
        self.log.append((fate.kind, count))
        if fate.kind == "ok" or count == 0:
            return super()._answer(received)
        try:
            channel_path(channel, self.rules.namespaces)  # a channel it will not take: 400 as a whole
        except RejectedError as rejected:
            return _json(rejected.status, rejected.body())
        if fate.kind == "bad_request":
            self.condemned.update(_ids(texts))
            return _json(400, {"errors": [{"errorType": "BadRequestException",
                                           "message": "The publish was refused"}]})  # fmt: skip
        chosen = {i for i in range(count) if fate.mask >> i & 1} or {fate.mask % count}
        kept = [i for i in range(count) if i not in chosen]
        successful: list[dict[str, Any]] = []
        failed: list[dict[str, Any]] = []
        if kept:
            try:
                outcome = self.rules.publish(channel, [texts[i] for i in kept])
            except RejectedError as rejected:
                return _json(rejected.status, rejected.body())
            successful = [{**entry, "index": kept[entry["index"]]} for entry in outcome.successful]
            failed = [{**entry, "index": kept[entry["index"]]} for entry in outcome.failed]
        if fate.kind == "failed":
            for index in sorted(chosen):
                failed.append({"identifier": str(uuid.uuid4()), "index": index, "errorCode": fate.code,
                               "errorMessage": f"mangled: {fate.code}"})  # fmt: skip
                if fate.code == 400:
                    self.condemned.update(_ids([texts[index]]))
        return _json(200, {"failed": failed, "successful": successful})


def _ids(texts: list[Any]) -> list[tuple[int, int]]:
    values = [json.loads(text) for text in texts]
    return [(value["seq"], value["part"]) for value in values]


def _json(status: int, payload: dict[str, Any]) -> HttpResponse:
    return HttpResponse(status, {"content-type": "application/json"}, json.dumps(payload).encode())
