"""The `streambridge` command against an AppSync Event API: `invoke`, `demo --target channels`, `doctor`.

Everything runs against LocalEventApi on 127.0.0.1 (HTTP publish and the real-time WebSocket, with API
keys and SigV4 signatures checked against its test credentials).
"""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambridge._tools.cli import main
from streambridge._tools.common import realtime_url
from streambridge.testing import DEFAULT_CREDENTIALS, EventRejectedError, LocalEventApi
from streambridge.testing import events as testing_events

ROOT = Path(__file__).parents[2]
HANDLER = "ordersapp:handler"
WAIT = "0.3"  # seconds: only runs where events never come wait this long

ORDERS_APP = """
    from streambridge import Bridge, DynamoDBRecord

    bridge = Bridge({settings})


    @bridge.dynamodb(channel=lambda record: f"/orders/{{record.keys['id']}}")
    def handler(record: DynamoDBRecord):
        return {{**(record.new_image or {{}}), "seq": record.sequence_number}}
"""


@pytest.fixture(autouse=True)
def iam_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """LocalEventApi's test identity in the default AWS credential chain, and nothing of the machine's."""
    access_key, secret_key, _token = DEFAULT_CREDENTIALS[0]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", access_key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret_key)
    for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))


@pytest.fixture(autouse=True)
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project directory with the handler module; the modules a test imported do not outlive it."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    write_app(tmp_path)
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        if name.startswith(("ordersapp", "examples.")):
            del sys.modules[name]


def write_app(directory: Path, settings: str = "") -> None:
    (directory / "ordersapp.py").write_text(textwrap.dedent(ORDERS_APP.format(settings=settings)))


def reject_negative(_channel: str, value: object) -> None:
    if isinstance(value, dict) and (value.get("amount") or 0) < 0:
        raise EventRejectedError("amount must not be negative")


@pytest.fixture
def api() -> Iterator[LocalEventApi]:
    with LocalEventApi(namespaces=("orders",), on_publish=reject_negative) as local:
        yield local


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def doctor(capsys: pytest.CaptureFixture[str], api: LocalEventApi, *options: str) -> tuple[int, str, str]:
    return run(capsys, "doctor", HANDLER, "--url", api.url, "--wait", WAIT, *options)


# --------------------------------------------------------------------------------------------------
# invoke


def test_invoke_publishes_to_the_event_api_and_reports_a_rejected_event_and_its_held_back_key(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi, app: Path
) -> None:
    # GIVEN order o-1 changing three times, the second change rejected by the API's on_publish rule
    images = [{"id": "o-1", "amount": amount} for amount in (10, -5, 20)]
    event = testing_events.dynamodb([{"new_image": image} for image in images])
    (app / "event.json").write_text(json.dumps(event))
    subscriber = api.subscribe("/orders/*")

    # WHEN invoke runs the channels handler with the Event API's URL and key
    code, out, _err = run(
        capsys, "invoke", HANDLER, "--event", "event.json", "--url", api.url, "--api-key", str(api.api_key)
    )

    # THEN the first change is published, the rejected one fails with AppSync's words, the third is held back
    assert code == 1
    assert f"endpoint  {api.url} (Event API, ApiKeyAuth)" in out
    assert "AppSync rejected the event: 400: amount must not be negative" in out
    assert "not sent because DynamoDB Streams record #1" in out
    assert '"itemIdentifier": "400000000000000000101"' in out
    assert '"itemIdentifier": "400000000000000000102"' in out
    assert [e["amount"] for e in subscriber.wait_for(1)] == [10]
    assert str(api.api_key) not in out


def test_invoke_signs_with_iam_for_an_event_api(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi, app: Path
) -> None:
    event = testing_events.dynamodb([{"new_image": {"id": "o-2", "amount": 1}}])
    (app / "event.json").write_text(json.dumps(event))

    code, out, _err = run(
        capsys, "invoke", HANDLER, "--event", "event.json", "--url", api.url, "--iam", "--region", "us-east-1"
    )

    assert code == 0, out
    assert "(Event API, IAMAuth)" in out
    assert api.values("/orders/o-2") == [{"id": "o-2", "amount": 1, "seq": "400000000000000000100"}]


# --------------------------------------------------------------------------------------------------
# demo


def test_demo_on_channels_shows_the_subscriber_and_the_held_back_key_twice_in_a_row(
    capsys: pytest.CaptureFixture[str],
) -> None:
    for _ in range(2):  # nothing of one run (port, subscription) is in the way of the next
        code, out, _err = run(capsys, "demo", "--target", "channels", "--orders", "8")
        assert code == 0, out
        assert "subscribed to /orders/*" in out
        assert "/orders/customer-1  order-001  NEW" in out
        assert "AppSync rejected the event: 400: amount must not be negative" in out
        assert "batchItemFailures: [" in out
        assert "order-007  PAID" not in out
        assert "order-007  SHIPPED" not in out


# --------------------------------------------------------------------------------------------------
# doctor


def test_doctor_with_an_api_key_sees_single_events_and_batches_of_5_arrive_in_order(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi
) -> None:
    code, out, err = doctor(capsys, api, "--api-key", str(api.api_key))

    assert code == 0, out + err
    assert f"real-time  {api.realtime_url} (API key): accepted" in out
    assert "single events: 5 publishes of 1 event" in out
    assert "batches of up to 5 (the handler's Bridge): 1 publish of 5 events" in out
    assert out.count(": 5/5 events, in order, latency median") == 2
    assert out.rstrip().endswith(
        "OK: batches of up to 5 reach every subscriber: all probe events arrived, in order"
    )
    assert "receives them too" in err  # the warning, before publishing
    assert str(api.api_key) not in out + err


def test_doctor_with_iam_publishes_and_subscribes_signed(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi
) -> None:
    code, out, err = doctor(capsys, api, "--iam", "--region", "us-east-1", "--json")

    assert code == 0, out + err
    report = json.loads(out)
    assert report["endpoint"]["realtime_auth"] == "IAM"
    single, batch = report["shapes"]["single"], report["shapes"]["batch"]
    assert [p["events"] for p in single["publishes"]] == [1] * 5
    assert [p["events"] for p in batch["publishes"]] == [5]
    for shape in (single, batch):
        (channel,) = shape["channels"]
        assert (channel["delivered"], channel["in_order"], channel["distinguishable"]) == (5, True, True)
    assert report["verdict"] == {
        "exit_code": 0,
        "reason": "batches of up to 5 reach every subscriber: all probe events arrived, in order",
    }
    secret = DEFAULT_CREDENTIALS[0][1]
    assert secret not in out + err


def test_doctor_on_a_batch_size_1_handler_judges_single_events(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi, app: Path
) -> None:
    write_app(app, "batch_size=1")

    code, out, _err = doctor(capsys, api, "--api-key", str(api.api_key), "--count", "3")

    assert code == 0
    assert "single events (the handler's Bridge): 3 publishes of 1 event" in out
    assert "batches work too, so a larger batch_size is safe on this API" in out


def test_doctor_with_a_wrong_key_exits_2_with_appsyncs_error_and_no_secret(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi
) -> None:
    code, out, err = doctor(capsys, api, "--api-key", "da2-wrong-secret-key")

    assert code == 2
    assert out == ""
    assert "the real-time endpoint refused the connection: UnauthorizedException" in err
    assert "da2-wrong-secret-key" not in err
    assert api.published == []  # refused before anything was published


def test_doctor_refused_publishing_exits_2_with_appsyncs_error(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi
) -> None:
    code, _out, err = doctor(
        capsys, api, "--api-key", "da2-wrong-secret-key", "--subscribe-api-key", str(api.api_key)
    )

    assert code == 2
    assert "publishing with ApiKeyAuth was refused" in err
    assert "da2-wrong-secret-key" not in err
    assert str(api.api_key) not in err


def test_doctor_reports_events_the_api_rejects(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi, app: Path
) -> None:
    event = testing_events.dynamodb([{"new_image": {"id": "o-9", "amount": -1}}])
    (app / "event.json").write_text(json.dumps(event))

    code, out, _err = doctor(capsys, api, "--api-key", str(api.api_key), "--event", "event.json")

    assert code == 1
    assert out.rstrip().endswith(
        "FAIL: batches of up to 5: AppSync rejected the event: 400: amount must not be negative"
    )


def test_doctor_refuses_a_graphql_handler_on_an_event_api(
    capsys: pytest.CaptureFixture[str], api: LocalEventApi
) -> None:
    code, _out, err = run(
        capsys, "doctor", "examples.orders.handler:handler", "--url", api.url, "--api-key", "k"
    )

    assert code == 2
    assert "publishes GraphQL mutations" in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://abc.appsync-api.eu-west-1.amazonaws.com/event",
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
        ),
        ("https://events.example.com/event", "wss://events.example.com/event/realtime"),
        ("http://127.0.0.1:4000/event", "ws://127.0.0.1:4000/event/realtime"),
    ],
)
def test_the_event_apis_realtime_url(url: str, expected: str) -> None:
    assert realtime_url(url) == expected
