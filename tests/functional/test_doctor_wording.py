"""The GraphQL doctor names an event read from stdin as the events doctor does: "of stdin" (issue 19)."""

from __future__ import annotations

import io
import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from streambridge._tools.cli import main
from streambridge.testing import events

ORDERS_SCHEMA = Path(__file__).parents[2] / "examples" / "orders" / "schema.graphql"

APP = """
from streambridge import Bridge

bridge = Bridge()

@bridge.dynamodb("mutation P($input: OrderInput!) { publishOrder(input: $input) { id status } }")
def handler(record):
    return {"input": {"id": record.new_image["orderId"], "status": "X"}}
"""


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "doctorwording.py").write_text(textwrap.dedent(APP))
    yield tmp_path
    sys.modules.pop("doctorwording", None)


@pytest.mark.usefixtures("app")
def test_an_event_from_stdin_is_named_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, local_appsync_factory
) -> None:
    # GIVEN an event on stdin whose record the mapping function cannot map
    api = local_appsync_factory(ORDERS_SCHEMA)
    monkeypatch.setattr(
        sys, "stdin", io.StringIO(json.dumps(events.dynamodb([{"new_image": {"id": "o-1"}}])))
    )
    # WHEN the doctor probes with it
    code = main(
        ["doctor", "doctorwording:handler", "--url", api.url, "--schema", str(ORDERS_SCHEMA),
         "--api-key", str(api.api_key), "--event", "-"]
    )  # fmt: skip
    # THEN the record is named as the one of stdin, not of "-"
    err = capsys.readouterr().err
    assert code == 2
    assert "DynamoDB Streams record #0 (400000000000000000100) of stdin:" in err, err
    assert " of -" not in err
