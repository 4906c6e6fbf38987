"""`streambridge doctor` against the AWS Amplify AppSync simulator: AWS's own real-time protocol server.

The simulator runs aliased top-level mutations and fires each one's subscriptions (known, see DESIGN.md),
so both shapes must deliver. It does not filter subscriptions on their arguments, so the doctor must pick
its own messages out of whatever else the session publishes.
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambridge._tools.cli import main
from tests.integration.simulator import SIMULATOR_DIR, AmplifySimulator

pytestmark = pytest.mark.integration

HANDLER = """
    from streambridge import ApiKeyAuth, Bridge

    bridge = Bridge(auth=ApiKeyAuth("replaced-by-the-command-line"))

    PUBLISH = "mutation Publish($input: OrderInput!) { publishOrder(input: $input) { id status seq } }"

    @bridge.dynamodb(PUBLISH)
    def handler(record):
        return {"input": {**record.new_image, "seq": record.sequence_number}}
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doctorsim.py").write_text(textwrap.dedent(HANDLER))
    yield tmp_path
    sys.modules.pop("doctorsim", None)


def test_both_shapes_reach_the_simulators_real_time_subscribers(
    capsys: pytest.CaptureFixture[str], app: Path, appsync_simulator: AmplifySimulator
) -> None:
    # GIVEN a batching handler and the simulator's schema (onPublishOrder(id) lists publishOrder)
    schema = str(SIMULATOR_DIR / "schema.graphql")

    # WHEN the doctor probes the simulator over HTTP and its real-time WebSocket
    code = main([
        "doctor", "doctorsim:handler", "--url", appsync_simulator.url, "--schema", schema,
        "--api-key", appsync_simulator.api_key, "--wait", "5", "--json",
    ])  # fmt: skip
    captured = capsys.readouterr()
    report = json.loads(captured.out)

    # THEN it subscribed on the simulator's real-time endpoint and both shapes delivered everything
    assert code == 0, report["verdict"]
    assert report["endpoint"]["realtime_url"] == appsync_simulator.realtime_url
    (subscription,) = report["subscriptions"]
    assert subscription["field"] == "onPublishOrder"
    assert subscription["filters"]["id"].startswith("streambridge-doctor-")
    single, batch = report["shapes"]["single"], report["shapes"]["batch"]
    assert single["shape"] == "3 requests of 1 unaliased mutation"
    assert batch["shape"] == "1 request of 3 aliased mutations"
    for shape in (single, batch):
        (delivery,) = shape["subscriptions"]
        assert (delivery["expected"], delivery["delivered"], delivery["in_order"]) == (3, 3, True)
        assert delivery["distinguishable"]  # the copies publish distinct sequence numbers
    assert appsync_simulator.api_key not in captured.out + captured.err
