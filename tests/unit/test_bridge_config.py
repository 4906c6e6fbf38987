"""Configuration errors are clear, and come as early as they can."""

from __future__ import annotations

import re
from typing import Any

import pytest

from streambridge import ApiKeyAuth, Bridge, ConfigurationError, DocumentError, IAMAuth, RetryPolicy
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
        ({"batch_size": 0}, r"batch_size=\.\.\.\) must be an int >= 1"),
        ({"concurrency": -1}, r"concurrency=\.\.\.\) must be an int >= 1"),
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


# --- every knob is checked at construction, type and range (issue 18, finding 7) ---------------------


class _Anything:
    """An object that is none of the things a Bridge takes."""


@pytest.mark.parametrize("knob", ["batch_size", "batch_bytes", "per_key", "concurrency", "max_payload_bytes"])
@pytest.mark.parametrize(
    ("value", "says"),
    [
        (2.5, "got 2.5 (a float)"),
        (2.0, "got 2.0 (a float: write 2)"),
        (True, "got True (a bool)"),
        ("2", "got '2' (a str)"),
        (None, "got None"),
        (0, "got 0"),
        (-1, "got -1"),
    ],
)
def test_a_whole_number_knob_takes_a_positive_int_only(knob: str, value: object, says: str) -> None:
    # GIVEN a setting that must be a whole number (per_key=2.5 used to remove the per-key limit silently)
    # WHEN a bridge is built with something else THEN it is refused at once, naming the knob and the value
    with pytest.raises(
        ConfigurationError, match=rf"Bridge\({knob}=\.\.\.\) must be an int >= 1, {re.escape(says)}"
    ):
        Bridge(URL, ApiKeyAuth("k"), **{knob: value})


@pytest.mark.parametrize(
    ("knob", "value", "says"),
    [
        ("request_timeout", True, r"request_timeout=\.\.\.\) must be a number of seconds > 0, got True"),
        ("request_timeout", "10", r"request_timeout=\.\.\.\) must be a number of seconds > 0, got '10'"),
        (
            "request_timeout",
            float("nan"),
            r"request_timeout=\.\.\.\) must be a number of seconds > 0, got nan",
        ),
        (
            "request_timeout",
            float("inf"),
            r"request_timeout=\.\.\.\) must be a number of seconds > 0, got inf",
        ),
        ("request_timeout", 0, r"request_timeout=\.\.\.\) must be a number of seconds > 0, got 0"),
        ("deadline_margin", False, r"deadline_margin=\.\.\.\) must be a number of seconds >= 0, got False"),
        (
            "deadline_margin",
            float("nan"),
            r"deadline_margin=\.\.\.\) must be a number of seconds >= 0, got nan",
        ),
        (
            "deadline_margin",
            float("inf"),
            r"deadline_margin=\.\.\.\) must be a number of seconds >= 0, got inf",
        ),
        ("deadline_margin", -0.1, r"deadline_margin=\.\.\.\) must be a number of seconds >= 0, got -0.1"),
    ],
)
def test_a_seconds_knob_takes_a_finite_number_in_range(knob: str, value: object, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        Bridge(URL, ApiKeyAuth("k"), **{knob: value})


@pytest.mark.parametrize("knob", ["coalesce", "pause_gc"])
@pytest.mark.parametrize("value", [1, 0, "yes", None])
def test_a_switch_takes_a_bool_only(knob: str, value: object) -> None:
    with pytest.raises(
        ConfigurationError, match=rf"Bridge\({knob}=\.\.\.\) must be True or False, got {value!r}"
    ):
        Bridge(URL, ApiKeyAuth("k"), **{knob: value})


@pytest.mark.parametrize(
    ("policy", "says"),
    [
        (RetryPolicy(attempts=0), r"RetryPolicy\(attempts=\.\.\.\) must be an int >= 1 or None, got 0"),
        (RetryPolicy(attempts=2.0), r"RetryPolicy\(attempts=\.\.\.\) must be an int >= 1 or None, got 2.0"),  # type: ignore[arg-type]
        (RetryPolicy(attempts=True), r"RetryPolicy\(attempts=\.\.\.\) must be an int >= 1 or None, got True"),
        (RetryPolicy(backoff=0), r"RetryPolicy\(backoff=\.\.\.\) must be a number of seconds > 0, got 0"),
        (RetryPolicy(backoff=float("nan")), r"RetryPolicy\(backoff=\.\.\.\) .* got nan"),
        (RetryPolicy(max_backoff=float("inf")), r"RetryPolicy\(max_backoff=\.\.\.\) .* got inf"),
        (RetryPolicy(backoff=3.0, max_backoff=2.0), r"max_backoff=2.0\) is shorter than its backoff=3.0"),
        (RetryPolicy(budget=float("inf")), r"RetryPolicy\(budget=\.\.\.\) .* got inf"),
        (RetryPolicy(budget="20"), r"RetryPolicy\(budget=\.\.\.\) .* got '20'"),  # type: ignore[arg-type]
        (RetryPolicy(outage=0.0), r"RetryPolicy\(outage=\.\.\.\) .* got 0.0"),
        (RetryPolicy(stop="never"), r"RetryPolicy\(stop=\.\.\.\) must be a tenacity stop"),
        (RetryPolicy(wait=1.0), r"RetryPolicy\(wait=\.\.\.\) must be a tenacity wait"),
        ((3, 0.1), r"Bridge\(retry=\.\.\.\) must be a RetryPolicy\(\.\.\.\) or None, got a tuple"),
    ],
)
def test_a_retry_policy_that_cannot_work_is_refused_at_construction(policy: object, says: str) -> None:
    with pytest.raises(ConfigurationError, match=says):
        Bridge(URL, ApiKeyAuth("k"), retry=policy)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("knob", "says"),
    [
        ("auth", r"Bridge\(auth=\.\.\.\) must be IAMAuth\(\), ApiKeyAuth\(key\), TokenAuth\(token\)"),
        ("transport", r"Bridge\(transport=\.\.\.\) must have an async post\(url, body, headers, timeout\)"),
        ("idempotency", r"Bridge\(idempotency=\.\.\.\) must have published\(keys\) and remember\(keys\)"),
        ("dead_letter", r"Bridge\(dead_letter=\.\.\.\) must have send\(letters\)"),
        ("url", r"Bridge\(url=\.\.\.\) must be a str"),
    ],
)
def test_an_object_of_the_wrong_kind_is_refused_at_construction(knob: str, says: str) -> None:
    # GIVEN an object that lacks what the bridge will call on it (it used to fail at the first invocation,
    # or with an AttributeError)
    settings: dict[str, Any] = {"url": URL, "auth": ApiKeyAuth("k"), knob: _Anything()}
    with pytest.raises(ConfigurationError, match=rf"{says}.*got a _Anything"):
        Bridge(**settings)


def test_good_knobs_are_kept_and_ints_are_taken_for_seconds() -> None:
    bridge = Bridge(URL, ApiKeyAuth("k"), per_key=2, request_timeout=3, deadline_margin=0, coalesce=True)
    assert (bridge.limits.per_key, bridge.request_timeout, bridge.deadline_margin) == (2, 3, 0)
    assert bridge.retry == RetryPolicy()


def test_replace_goes_through_the_same_checks() -> None:
    bridge = Bridge(URL, ApiKeyAuth("k"))
    with pytest.raises(ConfigurationError, match=r"Bridge\(per_key=\.\.\.\) must be an int >= 1, got 2.5"):
        bridge.replace(per_key=2.5)
    with pytest.raises(ConfigurationError, match=r"RetryPolicy\(attempts=\.\.\.\)"):
        bridge.replace(retry=RetryPolicy(attempts=0))


# --- a URL that cannot be the target's endpoint is refused at construction (issue 18, finding 4) --------

APPSYNC_HOST = "abc.appsync-api.eu-west-1.amazonaws.com"


@pytest.mark.parametrize(
    ("url", "says"),
    [
        # an AppSync domain serves /graphql (GraphQL API) or /event (Event API), nothing else
        (f"https://{APPSYNC_HOST}", f"use https://{APPSYNC_HOST}/graphql"),
        (f"https://{APPSYNC_HOST}/", f"use https://{APPSYNC_HOST}/graphql"),
        (f"https://{APPSYNC_HOST}/graphql/", f"use https://{APPSYNC_HOST}/graphql"),
        (f"https://{APPSYNC_HOST}/v1/graphql", f"use https://{APPSYNC_HOST}/graphql"),
        (f"https://{APPSYNC_HOST}/event/", f"use https://{APPSYNC_HOST}/event"),
        ("https://abc.appsync-api.cn-north-1.amazonaws.com.cn/api", "use https://abc.appsync-api.cn-north-1"),
        # the real-time endpoint, by host, scheme or path
        (
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql",
            f"real-time .*use https://{APPSYNC_HOST}/graphql",
        ),
        (
            "https://abc.appsync-realtime-api.eu-west-1.amazonaws.com/graphql",
            f"real-time .*use https://{APPSYNC_HOST}/graphql",
        ),
        (
            "wss://abc.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime",
            f"real-time .*use https://{APPSYNC_HOST}/event",
        ),
        ("wss://api.example.com/graphql/realtime", "real-time .*use https://api.example.com/graphql"),
        ("https://api.example.com/event/realtime", "real-time .*use https://api.example.com/event"),
        ("ws://127.0.0.1:20002/graphql/realtime", "real-time .*use http://127.0.0.1:20002/graphql"),
    ],
)
def test_a_url_that_cannot_be_an_appsync_endpoint_is_refused_with_the_fix(url: str, says: str) -> None:
    # GIVEN a URL where AppSync answers 404 (or never takes a POST)
    # WHEN a bridge is built with it THEN it is refused at once, naming the URL and the likely fix
    with pytest.raises(ConfigurationError, match=says) as refused:
        Bridge(url, ApiKeyAuth("k"))
    assert url in str(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        f"https://{APPSYNC_HOST}/graphql",
        f"https://{APPSYNC_HOST}/event",
        "https://abc.appsync-api.cn-north-1.amazonaws.com.cn/graphql",
        "http://127.0.0.1:20002/graphql",  # LocalAppSync, the simulator
        "http://127.0.0.1:20002/event",  # LocalEventApi
        "http://[::1]:20002/graphql",
        # a custom domain (or a proxy in front of AppSync) may map any path
        "https://api.example.com/graphql",
        "https://api.example.com/event",
        "https://api.example.com/",
        "https://gateway.example.com/appsync/orders",
    ],
)
def test_every_endpoint_appsync_or_a_custom_domain_can_serve_is_accepted(url: str) -> None:
    assert Bridge(url, ApiKeyAuth("k")).url == url


def test_a_url_from_the_environment_is_held_to_the_same_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the environment names the API's host without its path
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", f"https://{APPSYNC_HOST}")
    # WHEN a bridge is built without a URL THEN the same refusal says what to set
    with pytest.raises(ConfigurationError, match=f"use https://{APPSYNC_HOST}/graphql"):
        Bridge(auth=ApiKeyAuth("k"))
    # AND a URL set only after the bridge was built is checked when first needed
    monkeypatch.delenv("STREAMBRIDGE_APPSYNC_URL")
    bridge = Bridge(auth=ApiKeyAuth("k"))
    monkeypatch.setenv("STREAMBRIDGE_APPSYNC_URL", f"https://{APPSYNC_HOST}/graphql/realtime")
    with pytest.raises(ConfigurationError, match=f"real-time .*use https://{APPSYNC_HOST}/graphql"):
        _ = bridge.url


def test_a_refused_url_never_shows_its_password() -> None:
    with pytest.raises(ConfigurationError) as refused:
        Bridge(f"wss://user:s3cr3t@{APPSYNC_HOST.replace('api', 'realtime-api')}/graphql", _AnyEndpoint())
    assert "s3cr3t" not in str(refused.value)
    assert "***@" in str(refused.value)
