"""Run the AWS Amplify AppSync simulator (Node) as a child process for integration tests.

Usage::

    with AmplifySimulator() as sim:
        requests go to sim.url (HTTP, header ``x-api-key: sim.api_key`` or SigV4),
        subscriptions to sim.realtime_url.

``server.js`` next to this file starts the simulator from ``schema.graphql`` and ``resolvers.json``; the
npm packages come from ``node_modules`` at the repository root (``npm ci`` / ``make node``).
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "DEFAULT_API_KEY",
    "REPO_ROOT",
    "SIMULATOR_DIR",
    "AmplifySimulator",
    "SimulatorStartError",
    "simulator_package_dir",
]

SIMULATOR_DIR = Path(__file__).resolve().parent
DEFAULT_API_KEY = "da2-streambridge-local"
_NPM_PACKAGE = ("@aws-amplify", "amplify-appsync-simulator")


def _find_repo_root(start: Path) -> Path:
    for candidate in (start, *start.parents):
        if (candidate / "package.json").is_file() and (candidate / "pyproject.toml").is_file():
            return candidate
    msg = f"no directory with package.json and pyproject.toml above {start}"
    raise RuntimeError(msg)


REPO_ROOT = _find_repo_root(SIMULATOR_DIR)


def simulator_package_dir() -> Path:
    """Where the simulator npm package is installed (it may not exist yet)."""
    return REPO_ROOT.joinpath("node_modules", *_NPM_PACKAGE)


class SimulatorStartError(RuntimeError):
    """The simulator did not print ``READY <port>`` in time; the message carries node's stderr."""


class AmplifySimulator:
    """The AppSync simulator as a context manager: starts ``node server.js``, waits for ``READY``.

    ``port=0`` (the default) lets the OS pick a free port inside node (no pick-then-bind race); the real
    port is read from the ``READY <port>`` line.
    """

    def __init__(
        self,
        *,
        port: int = 0,
        api_key: str = DEFAULT_API_KEY,
        schema: Path = SIMULATOR_DIR / "schema.graphql",
        resolvers: Path = SIMULATOR_DIR / "resolvers.json",
        startup_timeout: float = 30.0,
        node: str | None = None,
    ) -> None:
        self.host = "127.0.0.1"
        self.api_key = api_key
        self._requested_port = port
        self._schema = schema
        self._resolvers = resolvers
        self._startup_timeout = startup_timeout
        self._node = node or os.environ.get("NODE") or shutil.which("node") or "node"
        self._process: subprocess.Popen[str] | None = None
        self._stderr: IO[bytes] | None = None
        self._pump: threading.Thread | None = None
        self._port: int | None = None
        self.startup_seconds: float | None = None

    # -- endpoints -------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._port is None:
            msg = "simulator not started"
            raise RuntimeError(msg)
        return self._port

    @property
    def netloc(self) -> str:
        """``127.0.0.1:PORT``: what an AppSync auth class takes as ``host``."""
        return f"{self.host}:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.netloc}/graphql"

    @property
    def realtime_url(self) -> str:
        return f"ws://{self.netloc}/graphql/realtime"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stderr_text(self) -> str:
        """Everything node wrote to stderr so far (the simulator's own logging goes there)."""
        if self._stderr is None:
            return ""
        self._stderr.flush()
        with open(self._stderr.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> AmplifySimulator:
        if self._process is not None:
            msg = "simulator already started"
            raise RuntimeError(msg)
        server_js = SIMULATOR_DIR / "server.js"
        # A named temp file, not a pipe: nobody has to drain it, and it is readable for error messages.
        self._stderr = tempfile.NamedTemporaryFile(prefix="appsync-simulator-", suffix=".log")  # noqa: SIM115
        args = [
            self._node,
            str(server_js),
            f"--port={self._requested_port}",
            f"--host={self.host}",
            f"--schema={self._schema}",
            f"--config={self._resolvers}",
            f"--api-key={self.api_key}",
        ]
        started = time.monotonic()
        try:
            self._process = subprocess.Popen(
                args,
                cwd=REPO_ROOT,
                stdin=subprocess.PIPE,  # node exits when this closes, even if we die without stop()
                stdout=subprocess.PIPE,
                stderr=self._stderr,
                text=True,
            )
        except OSError as e:
            self._close_stderr()
            msg = f"cannot run {self._node!r} (is Node.js installed?): {e}"
            raise SimulatorStartError(msg) from e
        try:
            self._port = self._wait_ready(self._process)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self

    def _wait_ready(self, process: subprocess.Popen[str]) -> int:
        assert process.stdout is not None
        lines: queue.Queue[str | None] = queue.Queue()
        stdout = process.stdout

        def pump() -> None:  # keeps stdout drained for the whole life of the process, closes it at EOF
            with stdout:
                for line in stdout:
                    lines.put(line)
            lines.put(None)

        self._pump = threading.Thread(target=pump, name="appsync-simulator-stdout", daemon=True)
        self._pump.start()
        deadline = time.monotonic() + self._startup_timeout
        seen: list[str] = []
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                line = lines.get(timeout=remaining)
            except queue.Empty:
                break
            if line is None:  # stdout closed: node exited
                process.wait(timeout=5)
                raise self._start_error(f"node exited with status {process.returncode} before READY", seen)
            if line.startswith("READY "):
                return int(line.split()[1])
            seen.append(line.rstrip("\n"))
        raise self._start_error(f"no READY line within {self._startup_timeout:.0f}s", seen)

    def _start_error(self, reason: str, stdout_lines: list[str]) -> SimulatorStartError:
        stdout = "\n".join(stdout_lines) or "(empty)"
        msg = (
            f"AppSync simulator failed to start: {reason}.\n"
            f"command: {self._node} {SIMULATOR_DIR / 'server.js'} (cwd {REPO_ROOT})\n"
            f"node_modules package present: {simulator_package_dir().is_dir()} (run `make node` / `npm ci`)\n"
            f"--- node stdout ---\n{stdout}\n--- node stderr ---\n{self.stderr_text() or '(empty)'}"
        )
        return SimulatorStartError(msg)

    def stop(self) -> None:
        """Stop node (stdin closed + SIGTERM, SIGKILL after 5 s). Idempotent."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(OSError):  # broken pipe: node already gone
                    process.stdin.close()
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)
        pump, self._pump = self._pump, None
        if pump is not None:
            pump.join(timeout=5)  # node is gone: stdout hits EOF and the pump closes it
        self._close_stderr()

    def _close_stderr(self) -> None:
        stderr, self._stderr = self._stderr, None
        if stderr is not None:
            stderr.close()

    def __enter__(self) -> AmplifySimulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
