"""A handler called from a plain script leaves nothing unclosed at interpreter exit (issue 19)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    from streambridge import ApiKeyAuth, Bridge
    from streambridge.testing import LocalEventApi, events, lambda_context

    api = LocalEventApi(namespaces=("rooms",))
    api.start()
    bridge = Bridge(api.url, ApiKeyAuth(api.api_key))

    @bridge.sqs(channel="/rooms/r-1")
    def handler(record):
        return record.json()

    print(handler(events.sqs([{"text": "hi"}]), lambda_context()))
    {ending}
    api.stop()
    """
)


def run_script(ending: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-W", "default::ResourceWarning", "-c", SCRIPT.replace("{ending}", ending)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_script_that_never_closes_the_bridge_exits_cleanly() -> None:
    # GIVEN a script that calls a handler once and ends without bridge.close()
    # WHEN it runs to its end
    done = run_script()
    # THEN the handler answered, and aiohttp warned of no unclosed session or connector
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "{'batchItemFailures': []}"
    assert "Unclosed" not in done.stderr, done.stderr
    assert done.stderr == ""


def test_closing_the_bridge_first_is_still_clean() -> None:
    done = run_script("bridge.close()")
    assert (done.returncode, done.stderr) == (0, "")
