"""The local servers answer a browser page's cross-origin requests (Amplify in a browser, issue 19)."""

from __future__ import annotations

import pytest
import urllib3

from streambridge.testing._local import LocalAppSync
from streambridge.testing._local_events import LocalEventApi

from .test_local_tls import SCHEMA

PAGE = "http://127.0.0.1:5173"
ASKED = "content-type,x-api-key,x-amz-user-agent"


@pytest.mark.parametrize("server", ["graphql", "event"])
def test_a_preflight_is_answered_and_every_answer_is_open_to_any_origin(server: str) -> None:
    # GIVEN a local server, and a page served from another origin
    with LocalAppSync(SCHEMA) if server == "graphql" else LocalEventApi() as local:
        http = urllib3.PoolManager()
        # WHEN the browser sends its preflight, then the POST (here, one the server refuses: no key)
        preflight = http.request(
            "OPTIONS",
            local.url,
            headers={
                "Origin": PAGE,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": ASKED,
            },
        )
        refused = http.request(
            "POST", local.url, body=b"{}", headers={"Origin": PAGE, "content-type": "application/json"}
        )
    # THEN the preflight allows the POST with the headers asked for, and the answer (an error too) is readable
    assert preflight.status == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert preflight.headers["Access-Control-Allow-Headers"] == ASKED
    assert refused.status >= 400
    assert refused.headers["Access-Control-Allow-Origin"] == "*"
