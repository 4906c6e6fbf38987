"""Configuration errors are clear, and come as early as they can."""

from __future__ import annotations

from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge, ConfigurationError, DocumentError, IAMAuth
from streambridge.testing import FakeAppSync, events

PUBLISH = "mutation P($input: OrderInput!) { publishOrder(input: $input) { id } }"
URL = "https://abc.appsync-api.eu-west-1.amazonaws.com/graphql"


def test_a_wrong_url_fails_at_cold_start() -> None:
    with pytest.raises(ConfigurationError, match="must be an http"):
        Bridge("appsync.example.com/graphql", ApiKeyAuth("k"))


def test_a_missing_url_fails_on_first_use_with_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a module that builds its bridge before the environment has a URL
    monkeypatch.delenv("STREAMBRIDGE_APPSYNC_URL", raising=False)
    bridge = Bridge(auth=ApiKeyAuth("k"), transport=FakeAppSync())

    @bridge.dynamodb(PUBLISH)
    def handler(record: object) -> dict:
        return {"input": {"id": "1"}}

    # WHEN it must publish
    with pytest.raises(ConfigurationError, match="STREAMBRIDGE_APPSYNC_URL"):
        handler(events.dynamodb([{"new_image": {"id": "1"}}]))
    # THEN setting the environment later is enough
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", URL)
    assert handler(events.dynamodb([{"new_image": {"id": "1"}}])) == {"batchItemFailures": []}
    bridge.close()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batch_size": 0}, "batch_size must be positive"),
        ({"concurrency": -1}, "concurrency must be positive"),
        ({"deadline_margin": -0.1}, "deadline_margin"),
        ({"request_timeout": 0}, "request_timeout"),
    ],
)
def test_bad_knobs(settings: dict, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Bridge(URL, ApiKeyAuth("k"), **settings)


def test_an_unusable_decorator_document_fails_at_cold_start() -> None:
    bridge = Bridge(URL, ApiKeyAuth("k"))
    with pytest.raises(DocumentError, match="expected a mutation"):
        bridge.dynamodb("query { orders { id } }")


def test_replace_keeps_every_other_setting() -> None:
    original = Bridge(URL, ApiKeyAuth("k"), batch_size=7, per_key=3, coalesce=True, deadline_margin=0.9)
    copy = original.replace(url="https://other.appsync-api.us-east-1.amazonaws.com/graphql")
    assert copy.url.startswith("https://other.")
    assert (copy.limits, copy.coalesce, copy.deadline_margin) == (original.limits, True, 0.9)
    assert copy.auth is original.auth


def test_a_handler_built_at_import_can_publish_through_a_test_bridge() -> None:
    # GIVEN a handler bound to a production-like bridge
    bridge = Bridge(URL, ApiKeyAuth("k"))

    @bridge.dynamodb(PUBLISH)
    def handler(record: Any) -> dict:
        return {"input": {"id": record.keys["id"]}}

    # WHEN a test points it at a fake AppSync, keeping every other setting
    fake = FakeAppSync()
    test_handler = handler.with_bridge(bridge.replace(transport=fake))
    result = test_handler.process(events.dynamodb([{"new_image": {"id": "7"}}]))
    # THEN it publishes there, and the original handler is untouched
    assert result.published == 1
    assert fake.published_values() == ["7"]
    assert handler.bridge is bridge
    test_handler.bridge.close()


def test_a_custom_domain_without_a_region_fails_at_cold_start(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(ConfigurationError, match=r"IAMAuth\(region=\.\.\.\)"):
        Bridge("https://api.example.com/graphql")
    assert Bridge("https://api.example.com/graphql", IAMAuth(region="eu-west-1")).url.endswith("/graphql")


class RecordingAuth:
    """An auth of the user's own: records what the Bridge asks of it."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def check_endpoint(self, url: str) -> None:
        self.calls.append(("check_endpoint", url))

    def validate(self, url: str) -> None:
        self.calls.append(("validate", url))

    def headers(self, url: str, body: bytes) -> dict[str, str]:
        return {"x-api-key": "k"}


def test_any_auth_checks_its_endpoint_when_the_bridge_is_built() -> None:
    # GIVEN an auth of the user's own
    auth = RecordingAuth()
    # WHEN a Bridge is built with a URL THEN the auth checks the endpoint at once, cheaply
    bridge = Bridge(URL, auth, transport=FakeAppSync())
    assert auth.calls == [("check_endpoint", URL)]

    @bridge.dynamodb(PUBLISH)
    def handler(record: object) -> dict:
        return {"input": {"id": "1"}}

    # AND validates fully once, before the first request only
    handler(events.dynamodb([{"new_image": {"id": "1"}}]))
    handler(events.dynamodb([{"new_image": {"id": "2"}}]))
    assert auth.calls == [("check_endpoint", URL), ("validate", URL)]
    bridge.close()


def test_an_endpoint_the_api_key_cannot_serve_fails_at_cold_start() -> None:
    # GIVEN a URL with user information, which an API key (or token) must never be sent to
    url = "https://user:secret@abc.appsync-api.eu-west-1.amazonaws.com/graphql"
    # WHEN / THEN building the Bridge fails, not the first invocation
    with pytest.raises(ConfigurationError, match="user information"):
        Bridge(url, ApiKeyAuth("k"))


class _AnyEndpoint:
    """A user's own auth that accepts any endpoint."""

    def check_endpoint(self, url: str) -> None:
        """Accept it."""

    def validate(self, url: str) -> None:
        """Accept it."""

    def headers(self, url: str, body: bytes) -> dict[str, str]:
        return {}


def test_a_password_in_the_url_is_never_echoed() -> None:
    # GIVEN URLs carrying a user and password (AppSync takes none)
    secret_url = "https://user:s3cr3t@x.appsync-api.us-east-1.amazonaws.com/graphql"
    # WHEN bridges are built with them: IAM refuses it, a bad scheme is refused, a user's own auth takes it
    with pytest.raises(ConfigurationError) as refused_by_iam:
        Bridge(secret_url, IAMAuth(region="us-east-1"))
    with pytest.raises(ConfigurationError) as refused_scheme:
        Bridge(secret_url.replace("https", "ftp"), IAMAuth(region="us-east-1"))
    bridge = Bridge(secret_url, _AnyEndpoint())
    # THEN no error and no repr shows the password
    assert "s3cr3t" not in str(refused_by_iam.value)
    assert "s3cr3t" not in str(refused_scheme.value)
    assert "s3cr3t" not in repr(bridge)
    assert "***@x.appsync-api" in repr(bridge)


@pytest.mark.parametrize("query", ["?a=%7e", "?a=b c", "?a=é", "#part"])
def test_a_query_string_or_fragment_is_refused_at_cold_start(query: str) -> None:
    # GIVEN an endpoint URL with a query string, which SigV4 would sign differently from what is sent
    url = f"https://x.appsync-api.us-east-1.amazonaws.com/graphql{query}"
    # WHEN a bridge is built with it
    with pytest.raises(ConfigurationError, match="query string or fragment"):
        Bridge(url, IAMAuth(region="us-east-1"))
