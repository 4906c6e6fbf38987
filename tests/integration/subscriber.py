"""A blocking AppSync real-time subscriber for integration tests (gql's AppSyncWebsocketsTransport).

The subscription runs on its own asyncio loop in a background thread, so plain (sync) tests and
pytest-asyncio tests can both use it::

    with Subscriber(sim.realtime_url, host=sim.netloc, api_key=sim.api_key, document=SUB) as sub:
        ...publish...
        sub.wait_for(2, timeout=5)
        assert [m["onPublishOrder"]["id"] for m in sub.messages] == ["a", "b"]

``start()`` returns only after the server acknowledged the subscription (``start_ack``), so no message
published after it returns can be missed. How the connection is made against the simulator:

- URL: the real-time URL is passed as is, ``ws://127.0.0.1:PORT/graphql/realtime``. gql only rewrites
  ``https://`` -> ``wss://`` and ``appsync-api`` -> ``appsync-realtime-api``, which do not occur here, then
  appends ``?header=<base64 auth headers>&payload=e30=``.
- Auth: ``AppSyncApiKeyAuthentication(host="127.0.0.1:PORT", api_key=...)``. The simulator authorises the
  handshake from the ``x-api-key`` in the ``header`` query parameter (a socket without it is closed with
  1002) and each ``start`` from ``payload.extensions.authorization``; it ignores ``host``.
- gql ignores ``start_ack`` (it has no id in gql's parser); a transport subclass catches it to confirm.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

from gql import Client, GraphQLRequest
from gql.transport.appsync_auth import AppSyncApiKeyAuthentication
from gql.transport.appsync_websockets import AppSyncWebsocketsTransport
from graphql import ExecutionResult

__all__ = ["Subscriber", "SubscriberError", "SubscriberFactory"]


class SubscriberError(RuntimeError):
    """The subscription failed to start, or died while messages were awaited."""


class SubscriberFactory(Protocol):
    """The ``subscriber_factory`` fixture: a started Subscriber for a document, closed after the test."""

    def __call__(
        self, document: str, variables: dict[str, Any] | None = None, *, timeout: float = 10.0
    ) -> Subscriber: ...


class _AckTransport(AppSyncWebsocketsTransport):
    """AppSyncWebsocketsTransport that reports the server's ``start_ack`` (gql drops it)."""

    def __init__(self, url: str, *, on_start_ack: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._on_start_ack = on_start_ack

    def _parse_answer(self, answer: str) -> tuple[str, int | None, ExecutionResult | None]:
        parsed = super()._parse_answer(answer)
        if parsed[0] == "start_ack":
            self._on_start_ack()
        return parsed


class Subscriber:
    """Subscribes once, collects every ``data`` payload in arrival order in :attr:`messages`."""

    def __init__(
        self,
        realtime_url: str,
        *,
        host: str,
        api_key: str,
        document: str,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self._url = realtime_url
        self._auth = AppSyncApiKeyAuthentication(host=host, api_key=api_key)
        self._request = GraphQLRequest(document, variable_values=variables)
        self._messages: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._acked = False
        self._finished = False
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._thread: threading.Thread | None = None

    @property
    def messages(self) -> list[dict[str, Any]]:
        """A snapshot of the ``data`` payloads received so far, in order."""
        with self._cond:
            return list(self._messages)

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = 10.0) -> Subscriber:
        """Connect and subscribe; return once the server acknowledged the subscription."""
        if self._thread is not None:
            msg = "subscriber already started"
            raise RuntimeError(msg)
        self._thread = threading.Thread(target=self._thread_main, name="appsync-subscriber", daemon=True)
        self._thread.start()
        with self._cond:
            self._cond.wait_for(lambda: self._acked or self._finished, timeout=timeout)
            acked, error = self._acked, self._error
        if not acked:
            self.close()
            if error is not None:
                msg = f"subscription to {self._url} failed before start_ack: {error!r}"
                raise SubscriberError(msg) from error
            msg = f"no start_ack from {self._url} within {timeout}s"
            raise SubscriberError(msg)
        return self

    def wait_for(self, n: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Block until at least ``n`` messages arrived; return them all. Raise on timeout or failure."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._messages) >= n or self._finished, timeout=timeout)
            messages, error = list(self._messages), self._error
        if len(messages) >= n:
            return messages
        got = json.dumps(messages)
        if error is not None:
            msg = f"subscription failed after {len(messages)}/{n} messages: {error!r}; got {got}"
            raise SubscriberError(msg) from error
        msg = f"expected {n} subscription messages within {timeout}s, got {len(messages)}: {got}"
        raise TimeoutError(msg)

    def close(self, timeout: float = 10.0) -> None:
        """Stop the subscription (sends ``stop``, closes the socket) and join the thread. Idempotent."""
        loop, task, thread = self._loop, self._task, self._thread
        if loop is not None and task is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # loop closed in between: the thread is finishing
                loop.call_soon_threadsafe(task.cancel)
        if thread is not None:
            thread.join(timeout=timeout)
            if thread.is_alive():
                msg = "subscriber thread did not stop"
                raise SubscriberError(msg)

    def __enter__(self) -> Subscriber:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- background thread ------------------------------------------------------------------------------
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        try:
            self._task = loop.create_task(self._run())
            self._loop = loop
            loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass  # close() cancelled the subscription
        except Exception as e:  # noqa: BLE001 - reported to the waiting test thread, not lost in the thread
            with self._cond:
                self._error = e
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
            with self._cond:
                self._finished = True
                self._cond.notify_all()

    def _on_start_ack(self) -> None:
        with self._cond:
            self._acked = True
            self._cond.notify_all()

    async def _run(self) -> None:
        transport = _AckTransport(self._url, auth=self._auth, on_start_ack=self._on_start_ack)
        async with Client(transport=transport, fetch_schema_from_transport=False) as session:
            async for data in session.subscribe(self._request):
                with self._cond:
                    self._messages.append(data)
                    self._cond.notify_all()
