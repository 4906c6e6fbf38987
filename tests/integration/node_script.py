"""Run a Node script of this folder's tests as a child process and read its JSON lines with a timeout."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from streambridge.testing._local import LocalAppSync
from streambridge.testing._local_events import LocalEventApi
from tests.integration.simulator import REPO_ROOT

TIMEOUT = 20.0  # seconds for any one line from node: Amplify connects in well under a second here


def node_package_installed(package: str) -> None:
    """Skip (fail under CI) when node or ``package`` is missing: ``make node`` installs them."""
    if shutil.which("node") and (REPO_ROOT / "node_modules" / package).is_dir():
        return
    reason = f"node or node_modules/{package} missing: run `make node` (npm ci)"
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"{reason}; CI is set, so this is an error, not a skip", pytrace=False)
    pytest.skip(reason)


class NodeScript:
    """``node script.mjs '<job JSON>'``: its stdout JSON lines, read with a timeout; stopped on close.

    It runs in a process group of its own, so that stopping it also stops what it started (a browser).
    """

    def __init__(self, script: Path, job: dict[str, Any], env: dict[str, str], stderr: Path) -> None:
        self._stderr = stderr
        with stderr.open("w") as errors:  # a file, not a pipe: node's warnings never block it
            self._process = subprocess.Popen(
                ["node", str(script), json.dumps(job)],
                cwd=REPO_ROOT,
                env={**os.environ, **env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                start_new_session=True,
            )
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self._process.stdout is not None
        for line in self._process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next(self, timeout: float = TIMEOUT) -> dict[str, Any]:
        """The next JSON line; fails with node's stderr if it exits or stays silent past ``timeout``."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"node said nothing for {timeout} s; stderr: {self._stop()}")
        if line is None:
            pytest.fail(f"node exited ({self._process.wait()}); stderr: {self._stop()}")
        return dict(json.loads(line))

    def messages(self, count: int) -> list[Any]:
        """The data of ``count`` messages; an error line fails the test with its error."""
        received = []
        while len(received) < count:
            line = self.next()
            assert line["event"] != "error", line["error"]
            if line["event"] == "message":
                received.append(line["data"])
        return received

    def say(self, line: str) -> None:
        """Write one line to the script's stdin."""
        assert self._process.stdin is not None
        self._process.stdin.write(f"{line}\n")
        self._process.stdin.flush()

    def wait_until_subscribed(self, server: LocalAppSync | LocalEventApi) -> None:
        """Amplify's subscribe calls return before the server has the subscription: ask the server."""
        try:
            server.wait_for_subscriptions(1, timeout=TIMEOUT)
        except TimeoutError:
            pytest.fail(f"Amplify did not subscribe in {TIMEOUT} s; stderr: {self._stop()}")

    def _stop(self) -> str:
        group = self._process.pid  # start_new_session: the group's id is node's pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, sig)
            try:
                self._process.wait(5)
                break
            except subprocess.TimeoutExpired:
                continue
        return self._stderr.read_text()[-4000:]

    def close(self) -> None:
        self._stop()
        self._reader.join(5)
        for pipe in (self._process.stdin, self._process.stdout):
            if pipe is not None:
                pipe.close()
