"""Unit tests of streambridge._io.auth: pure, no network."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from typing import Any
from unittest import mock

import botocore.auth
import pytest
import yarl
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials, ReadOnlyCredentials
from botocore.exceptions import CredentialRetrievalError
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import streambridge._io.auth
from streambridge._errors import ConfigurationError, TransientError
from streambridge._io.auth import ApiKeyAuth, IAMAuth, TokenAuth

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SESSION_TOKEN = "IQoJb3JpZ2luX2VjEXAMPLE-session-token"
FIXED_TIME = datetime(2024, 5, 6, 7, 8, 9)  # naive UTC
URL = "https://abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com/graphql"
HOST = "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com"
BODY = b'{"query":"mutation M($i: In!) { publish(input: $i) { id } }","variables":{"i":{"id":"1"}}}'

AUTH_RE = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<date>\d{8})/(?P<region>[^/]+)/appsync/aws4_request, "
    r"SignedHeaders=(?P<signed>[a-z0-9;-]+), Signature=(?P<signature>[0-9a-f]{64})",
)


def fixed_clock() -> datetime:
    return FIXED_TIME


def iam(**kwargs: Any) -> IAMAuth:
    kwargs.setdefault("credentials", Credentials(ACCESS_KEY, SECRET_KEY))
    kwargs.setdefault("clock", fixed_clock)
    return IAMAuth(**kwargs)


def parse_authorization(headers: Any) -> dict[str, str]:
    match = AUTH_RE.fullmatch(headers["authorization"])
    assert match, headers["authorization"]
    return match.groupdict()


def reference_signature(
    *,
    headers: dict[str, str],
    body: bytes,
    secret_key: str,
    region: str,
    path: str = "/graphql",
) -> str:
    """SigV4 written from the spec with hashlib/hmac only: an implementation independent of botocore."""
    signed = sorted(name for name in headers if name != "authorization")
    canonical_headers = "".join(f"{name}:{' '.join(headers[name].split())}\n" for name in signed)
    canonical_request = "\n".join(
        ["POST", path, "", canonical_headers, ";".join(signed), hashlib.sha256(body).hexdigest()],
    )
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/appsync/aws4_request"
    string_to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest()],
    )
    key = f"AWS4{secret_key}".encode()
    for part in (amz_date[:8], region, "appsync", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def botocore_headers(
    credentials: Credentials | ReadOnlyCredentials,
    region: str,
    *,
    url: str = URL,
    host: str = HOST,
    body: bytes = BODY,
    moment: datetime = FIXED_TIME,
) -> list[tuple[str, str]]:
    """What botocore's own SigV4Auth.add_auth produces for the same request at ``moment``, in its order."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    request = AWSRequest(
        method="POST",
        url=url,
        data=body,
        headers={"content-type": "application/json", "host": host},
    )
    # add_auth reads the time from botocore.auth.get_current_datetime (naive UTC).
    with mock.patch.object(botocore.auth, "get_current_datetime", return_value=moment):
        botocore.auth.SigV4Auth(credentials, "appsync", region).add_auth(request)
    return [(name.lower(), value) for name, value in request.headers.items()]


@pytest.fixture
def no_region_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)


# --- region ------------------------------------------------------------------------------------------------


@pytest.mark.usefixtures("no_region_env")
@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://abc123.appsync-api.eu-west-1.amazonaws.com/graphql", "eu-west-1"),
        ("https://ABC123.AppSync-Api.US-EAST-2.amazonaws.com/graphql", "us-east-2"),
        ("https://abc123.appsync-api.cn-north-1.amazonaws.com.cn/graphql", "cn-north-1"),
        ("wss://abc123.appsync-realtime-api.ap-southeast-2.amazonaws.com/graphql", None),
        ("https://abc123.appsync-realtime-api.ap-southeast-2.amazonaws.com/graphql", "ap-southeast-2"),
        ("https://vpce-01ab-cd23.appsync-api.sa-east-1.vpce.amazonaws.com/graphql", "sa-east-1"),
    ],
)
def test_region_is_parsed_from_appsync_urls(url: str, region: str | None) -> None:
    # GIVEN an IAMAuth without an explicit region and no region in the environment
    auth = iam()
    if region is None:
        # WHEN the URL is not http(s) THEN it is refused
        with pytest.raises(ConfigurationError, match="http"):
            auth.validate(url)
        return
    # WHEN it validates and signs for an AppSync URL
    auth.validate(url)
    headers = auth.headers(url, BODY)
    # THEN the signature is scoped to the region in the URL
    assert parse_authorization(headers)["region"] == region


def test_explicit_region_is_used_for_a_custom_domain(no_region_env: None) -> None:
    # GIVEN a custom domain and an explicit region
    auth = iam(region="eu-central-1")
    # WHEN signing
    auth.validate("https://api.example.com/graphql")
    headers = auth.headers("https://api.example.com/graphql", BODY)
    # THEN the explicit region scopes the signature and the host is the custom domain
    assert parse_authorization(headers)["region"] == "eu-central-1"
    assert headers["host"] == "api.example.com"


def test_environment_region_is_used_for_a_custom_domain(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN AWS_REGION and AWS_DEFAULT_REGION (Lambda sets AWS_REGION)
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # WHEN signing for a custom domain
    headers = iam().headers("https://api.example.com/graphql", BODY)
    # THEN AWS_REGION wins
    assert parse_authorization(headers)["region"] == "us-west-2"

    # GIVEN only AWS_DEFAULT_REGION
    monkeypatch.delenv("AWS_REGION")
    # THEN it is used
    assert (
        parse_authorization(iam().headers("https://api.example.com/graphql", BODY))["region"] == "us-east-1"
    )


def test_the_url_region_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a Lambda in us-west-2 publishing to an API in eu-west-1
    monkeypatch.setenv("AWS_REGION", "us-west-2")
    # WHEN signing for the API's URL
    headers = iam().headers(URL, BODY)
    # THEN the API's region is used
    assert parse_authorization(headers)["region"] == "eu-west-1"


def test_custom_domain_without_any_region_fails_with_a_hint(no_region_env: None) -> None:
    # GIVEN a custom domain and no region anywhere
    auth = iam()
    # WHEN validating
    # THEN a ConfigurationError tells the user what to pass
    with pytest.raises(ConfigurationError, match=re.escape("IAMAuth(region=...)")):
        auth.validate("https://api.example.com/graphql")
    # AND signing fails the same way rather than signing for a guessed region
    with pytest.raises(ConfigurationError, match=re.escape("IAMAuth(region=...)")):
        auth.headers("https://api.example.com/graphql", BODY)


def test_session_region_is_the_last_fallback(no_region_env: None) -> None:
    # GIVEN a session object with a region (boto3.Session exposes region_name)
    class Boto3LikeSession:
        region_name = "ca-central-1"

        def get_credentials(self) -> Credentials:
            return Credentials(ACCESS_KEY, SECRET_KEY)

    # WHEN signing for a custom domain
    headers = IAMAuth(session=Boto3LikeSession(), clock=fixed_clock).headers(
        "https://api.example.com/g", BODY
    )
    # THEN the session's region and credentials are used
    fields = parse_authorization(headers)
    assert (fields["region"], fields["key"]) == ("ca-central-1", ACCESS_KEY)


def test_explicit_region_contradicting_the_url_is_refused() -> None:
    # GIVEN an explicit region different from the one in the AppSync URL
    auth = iam(region="us-east-1")
    # WHEN validating THEN the mismatch is reported (AppSync would answer 403 to every request)
    with pytest.raises(ConfigurationError, match="contradicts"):
        auth.validate(URL)


@pytest.mark.parametrize("region", ["", "-us-east-1", "us east 1", "123", "x" * 64])
def test_invalid_explicit_region_is_refused_at_construction(region: str) -> None:
    # GIVEN / WHEN / THEN a malformed region fails early
    with pytest.raises(ConfigurationError, match="region"):
        IAMAuth(region=region)


def test_invalid_region_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a malformed AWS_REGION
    monkeypatch.setenv("AWS_REGION", "not a region")
    # WHEN validating for a custom domain THEN the variable is named
    with pytest.raises(ConfigurationError, match="AWS_REGION"):
        iam().validate("https://api.example.com/graphql")


@pytest.mark.parametrize(
    "url",
    ["", "/graphql", "ftp://host/graphql", "https:///graphql", "https://host:99999/graphql"],
)
@pytest.mark.parametrize("auth", [iam(region="us-east-1"), ApiKeyAuth("da2-key"), TokenAuth("tok")])
@pytest.mark.parametrize("check", ["check_endpoint", "validate"])
def test_invalid_urls_are_refused(auth: Any, check: str, url: str) -> None:
    # GIVEN any auth WHEN checking an unusable URL, at cold start or fully THEN a ConfigurationError says so
    with pytest.raises(ConfigurationError, match="URL"):
        getattr(auth, check)(url)


def test_url_with_user_information_is_refused_without_echoing_it() -> None:
    # GIVEN a URL carrying a password
    url = "https://user:hunter2@abc.appsync-api.eu-west-1.amazonaws.com/graphql"
    # WHEN validating THEN it is refused and the password is not in the message
    with pytest.raises(ConfigurationError) as caught:
        iam().validate(url)
    assert "hunter2" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("http://127.0.0.1:8080/graphql", "127.0.0.1:8080"),
        ("http://127.0.0.1:80/graphql", "127.0.0.1"),
        ("https://api.example.com:443/graphql", "api.example.com"),
        ("https://API.Example.com:8443/graphql", "api.example.com:8443"),
        ("http://[::1]:9000/graphql", "[::1]:9000"),
        ("https://Bücher.example/graphql", "xn--bcher-kva.example"),
        ("https://straße.example:8443/graphql", "xn--strae-oqa.example:8443"),
    ],
)
def test_host_header_matches_what_http_clients_send(url: str, host: str) -> None:
    # GIVEN URLs with default and non-default ports, and Unicode custom domains
    # WHEN signing
    headers = iam(region="us-east-1").headers(url, BODY)
    # THEN the signed host is the one aiohttp sends: the port only when it is not the default, and a
    # Unicode name in its ASCII (punycode) form
    assert headers["host"] == host
    assert "host" in parse_authorization(headers)["signed"].split(";")


def test_a_unicode_custom_domain_is_signed_in_the_form_aiohttp_sends() -> None:
    url = "https://Bücher.example:8443/graphql"
    sent = yarl.URL(url)  # what aiohttp puts in the Host header
    assert iam(region="us-east-1").headers(url, BODY)["host"] == f"{sent.raw_host}:{sent.port}"


def test_a_host_name_that_has_no_ascii_form_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="IDNA"):
        iam(region="us-east-1").validate("https://a..éxample/graphql")


# --- credentials -------------------------------------------------------------------------------------------


def test_no_credentials_fails_validate_clearly() -> None:
    # GIVEN a session in which no credentials can be found
    class EmptySession:
        def get_credentials(self) -> None:
            return None

    auth = IAMAuth(region="us-east-1", session=EmptySession())
    # WHEN validating THEN the error says what to do
    with pytest.raises(ConfigurationError, match="no AWS credentials found"):
        auth.validate(URL.replace("eu-west-1", "us-east-1"))


def test_incomplete_credentials_fail_validate() -> None:
    # GIVEN credentials that lack a secret key only once resolved (refreshable ones)
    auth = IAMAuth(credentials=Credentials(ACCESS_KEY, ""), clock=fixed_clock)
    # WHEN validating THEN it is refused
    with pytest.raises(ConfigurationError, match="secret access key"):
        auth.validate(URL)


@pytest.mark.parametrize(
    "credentials",
    [(ACCESS_KEY, SECRET_KEY), (ACCESS_KEY, SECRET_KEY, None), [ACCESS_KEY, SECRET_KEY]],
)
def test_a_key_pair_tuple_signs_as_botocore_credentials_would(credentials: Any) -> None:
    # GIVEN static credentials written as a (key, secret) pair (it used to fail the first invocation with
    # AttributeError: 'tuple' object has no attribute 'get_frozen_credentials')
    auth = iam(credentials=credentials)
    # WHEN validating and signing THEN the headers are those of the same keys as botocore Credentials
    auth.validate(URL)
    assert auth.headers(URL, BODY) == iam(credentials=Credentials(ACCESS_KEY, SECRET_KEY)).headers(URL, BODY)


def test_a_key_secret_token_tuple_sends_and_signs_the_token() -> None:
    # GIVEN temporary credentials written as (key, secret, token), the shape of botocore's ReadOnlyCredentials
    headers = iam(credentials=(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)).headers(URL, BODY)
    # THEN they sign exactly as botocore Credentials with the same token
    expected = iam(credentials=Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)).headers(URL, BODY)
    assert headers == expected
    assert headers["x-amz-security-token"] == SESSION_TOKEN


def test_a_key_pair_tuple_needs_no_botocore() -> None:
    # GIVEN a fresh interpreter signing with a (key, secret) tuple
    code = (
        "import sys\n"
        "from streambridge._io.auth import IAMAuth\n"
        f"auth = IAMAuth(credentials=({ACCESS_KEY!r}, {SECRET_KEY!r}))\n"
        f"auth.validate({URL!r})\n"
        f"auth.headers({URL!r}, b'{{}}')\n"
        "print('botocore' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN botocore was never imported: the keys are already known
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("credentials", "says"),
    [
        ((ACCESS_KEY,), "got a tuple of 1"),
        ((ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, "x"), "got a tuple of 4"),
        ((ACCESS_KEY, ""), "the secret access key is empty"),
        (ReadOnlyCredentials(ACCESS_KEY, "", None), "the secret access key is empty"),
        (("", SECRET_KEY), "the access key id is empty"),
        ((ACCESS_KEY, 42), "the secret access key must be a str, got int"),
        ((ACCESS_KEY, SECRET_KEY, 7), "the session token must be a str or None, got int"),
        ({"access_key": ACCESS_KEY, "secret_key": SECRET_KEY}, "got a dict"),
        ("AKIDEXAMPLE:secret", "got a str"),
    ],
)
def test_credentials_that_cannot_sign_are_refused_at_construction(credentials: Any, says: str) -> None:
    # GIVEN credentials of the wrong shape WHEN building the auth THEN it is refused at once, keys unshown
    with pytest.raises(
        ConfigurationError, match=rf"IAMAuth\(credentials=\.\.\.\).*{re.escape(says)}"
    ) as refused:
        IAMAuth(credentials=credentials)
    assert SECRET_KEY not in str(refused.value)
    assert ACCESS_KEY not in str(refused.value)


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (
            {"session": "my-profile"},
            r"IAMAuth\(session=\.\.\.\) must be a boto3 or botocore session.*got a str",
        ),
        (
            {"clock": "2024-05-06"},
            r"IAMAuth\(clock=\.\.\.\) must be a callable returning a datetime, got a str",
        ),
        ({"region": 1}, r"IAMAuth\(region=\.\.\.\) must be a str, got an int"),
    ],
)
def test_other_iam_settings_of_the_wrong_type_are_refused_at_construction(
    settings: dict[str, Any], says: str
) -> None:
    # GIVEN a profile name where a session goes (it failed the first invocation with an AttributeError)
    with pytest.raises(ConfigurationError, match=says):
        IAMAuth(**settings)


def count_chain_lookups(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one each time botocore's default credential chain is consulted."""
    import botocore.session

    calls: list[int] = []
    original = botocore.session.Session.get_credentials

    def counting_get_credentials(self: botocore.session.Session) -> Any:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(botocore.session.Session, "get_credentials", counting_get_credentials)
    return calls


def test_default_chain_is_resolved_once_lazily_and_kept(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Any,
) -> None:
    # GIVEN the default chain finds keys in the shared credentials file only (no environment keys)

    credentials_file = tmp_path / "credentials"
    credentials_file.write_text(
        f"[default]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"
        f"aws_session_token = {SESSION_TOKEN}\n"
    )
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials_file))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls = count_chain_lookups(monkeypatch)
    # WHEN an IAMAuth is built
    auth = IAMAuth(clock=fixed_clock)
    # THEN nothing is resolved yet
    assert calls == []
    # WHEN it validates and signs twice
    auth.validate(URL)
    first = auth.headers(URL, BODY)
    second = auth.headers(URL, BODY)
    # THEN the chain was consulted once, and the file's credentials and token were used
    assert len(calls) == 1
    assert parse_authorization(first)["key"] == ACCESS_KEY
    assert first["x-amz-security-token"] == SESSION_TOKEN
    assert first == second


@pytest.mark.parametrize(
    "environment",
    [
        {"AWS_SESSION_TOKEN": SESSION_TOKEN},
        {"AWS_SECURITY_TOKEN": "older-name", "AWS_SESSION_TOKEN": SESSION_TOKEN},
        {},
    ],
    ids=["session token", "both token names", "no token"],
)
def test_environment_keys_sign_as_botocores_chain_would_without_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, environment: dict[str, str]
) -> None:
    # GIVEN keys in the environment, as Lambda gives an execution role's (and no other source)
    import botocore.session

    for name in ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_CREDENTIAL_EXPIRATION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    # WHEN the default chain signs, and botocore's own chain (a session) signs the same request
    ours = IAMAuth(clock=fixed_clock).headers(URL, BODY)
    botocores = IAMAuth(session=botocore.session.Session(), clock=fixed_clock).headers(URL, BODY)
    # THEN the headers are the same, token included (botocore takes AWS_SECURITY_TOKEN first)
    assert ours == botocores


@pytest.mark.parametrize(
    "environment",
    [
        {"AWS_ACCESS_KEY_ID": ACCESS_KEY},  # a partial key: botocore says what is missing
        {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
         "AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z"},  # refreshable: botocore's to refresh
    ],
    ids=["partial", "expiring"],
)  # fmt: skip
def test_environment_keys_botocore_must_judge_go_through_its_chain(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any, environment: dict[str, str]
) -> None:

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    calls = count_chain_lookups(monkeypatch)
    auth = IAMAuth(clock=fixed_clock)
    with contextlib.suppress(ConfigurationError):  # the partial key: botocore's error, as before
        auth.headers(URL, BODY)
    assert calls == [1]


def test_a_first_signature_with_environment_keys_imports_no_botocore() -> None:
    # GIVEN a fresh interpreter with an execution role's keys in its environment, as in Lambda
    code = (
        "import sys\n"
        "from streambridge import IAMAuth\n"
        "IAMAuth().headers('https://x.appsync-api.us-east-1.amazonaws.com/graphql', b'{}')\n"
        "print('botocore' in sys.modules)\n"
    )
    environment = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                   "AWS_SESSION_TOKEN": SESSION_TOKEN, "PATH": ""}  # fmt: skip
    # WHEN it signs a request
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=environment
    ).stdout
    # THEN botocore was never imported (most of a first invocation's import time)
    assert out.strip() == "False"


class RotatingCredentials(Credentials):
    """Refreshable-like credentials: each snapshot may differ, as after a refresh."""

    def __init__(self, snapshots: list[ReadOnlyCredentials]) -> None:
        super().__init__(snapshots[0].access_key or "", snapshots[0].secret_key or "")
        self.snapshots = snapshots
        self.frozen_calls = 0

    def get_frozen_credentials(self) -> ReadOnlyCredentials:
        snapshot = self.snapshots[min(self.frozen_calls, len(self.snapshots) - 1)]
        self.frozen_calls += 1
        return snapshot


def test_frozen_credentials_are_taken_for_every_signature() -> None:
    # GIVEN credentials that rotate between two signatures
    credentials = RotatingCredentials(
        [
            ReadOnlyCredentials("AKIDFIRST", "secret-one", None),
            ReadOnlyCredentials("AKIDSECOND", "secret-2", "t2"),
        ],
    )
    auth = iam(credentials=credentials)
    # WHEN signing twice
    first = auth.headers(URL, BODY)
    second = auth.headers(URL, BODY)
    # THEN each signature uses one consistent snapshot
    assert credentials.frozen_calls == 2
    assert parse_authorization(first)["key"] == "AKIDFIRST"
    assert "x-amz-security-token" not in first
    assert parse_authorization(second)["key"] == "AKIDSECOND"
    assert second["x-amz-security-token"] == "t2"
    assert parse_authorization(second)["signature"] == reference_signature(
        headers=dict(second),
        body=BODY,
        secret_key="secret-2",
        region="eu-west-1",
    )


def test_refresh_failure_is_transient_when_signing_and_a_configuration_error_at_validate() -> None:
    # GIVEN credentials whose refresh fails
    class FailingCredentials(Credentials):
        def get_frozen_credentials(self) -> ReadOnlyCredentials:
            raise CredentialRetrievalError(provider="container-role", error_msg="connection refused")

    auth = iam(credentials=FailingCredentials(ACCESS_KEY, SECRET_KEY))
    # WHEN signing THEN a retryable error comes out, chained to botocore's
    with pytest.raises(TransientError, match="could not refresh") as caught:
        auth.headers(URL, BODY)
    assert caught.value.retryable
    assert isinstance(caught.value.__cause__, CredentialRetrievalError)
    # WHEN validating at cold start THEN it is a configuration error
    with pytest.raises(ConfigurationError, match="could not refresh"):
        auth.validate(URL)


# --- the signature -----------------------------------------------------------------------------------------


def test_signature_is_deterministic_and_equals_botocores_own() -> None:
    # GIVEN fixed credentials and an injected clock
    auth = iam()
    # WHEN signing the same request twice
    headers = auth.headers(URL, BODY)
    # THEN the result is the same each time
    assert auth.headers(URL, BODY) == headers
    # AND it equals, header for header, botocore's SigV4Auth.add_auth of the same request at the same time
    assert list(headers.items()) == botocore_headers(Credentials(ACCESS_KEY, SECRET_KEY), "eu-west-1")
    # AND an implementation written from the SigV4 spec computes the same signature
    fields = parse_authorization(headers)
    assert fields["signature"] == reference_signature(
        headers=dict(headers),
        body=BODY,
        secret_key=SECRET_KEY,
        region="eu-west-1",
    )
    assert headers["x-amz-date"] == "20240506T070809Z"
    assert fields["date"] == "20240506"
    assert fields["signed"] == "content-type;host;x-amz-date"
    assert set(headers) == {"content-type", "host", "x-amz-date", "authorization"}
    assert headers["content-type"] == "application/json"


def test_session_token_is_sent_and_covered_by_the_signature() -> None:
    # GIVEN temporary credentials (as in Lambda)
    credentials = Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    # WHEN signing
    headers = iam(credentials=credentials).headers(URL, BODY)
    # THEN the token is sent in X-Amz-Security-Token and is one of the signed headers
    assert headers["x-amz-security-token"] == SESSION_TOKEN
    assert parse_authorization(headers)["signed"] == "content-type;host;x-amz-date;x-amz-security-token"
    # AND the whole result equals botocore's own signing of the same request
    assert list(headers.items()) == botocore_headers(credentials, "eu-west-1")
    # AND changing the token would change the signature (it is covered)
    tampered = {**headers, "x-amz-security-token": SESSION_TOKEN + "x"}
    assert (
        reference_signature(headers=tampered, body=BODY, secret_key=SECRET_KEY, region="eu-west-1")
        != (parse_authorization(headers)["signature"])
    )


# Hosts as they appear in URLs: AppSync's own names, custom domains (any case), IPv4 and IPv6 literals.
_label = st.from_regex(r"[a-zA-Z0-9]([a-zA-Z0-9-]{0,10}[a-zA-Z0-9])?", fullmatch=True)
_regions = st.from_regex(r"[a-z]{2}(-gov)?-[a-z]{4,9}-[1-9]", fullmatch=True)
_tokens = st.one_of(
    st.none(),
    st.just(""),
    st.text(min_size=1, max_size=80),  # any Unicode, whitespace runs included (SigV4 trims them)
    st.from_regex(r"IQoJb3JpZ2luX2Vj[A-Za-z0-9+/=]{200,1200}", fullmatch=True),
)
_credentials = st.builds(
    ReadOnlyCredentials,
    st.from_regex(r"A(K|S)IA[A-Z0-9]{16}", fullmatch=True),
    st.text(min_size=1, max_size=60),  # the secret, non-ASCII included
    _tokens,
)
_path_segments = st.one_of(
    st.sampled_from(["graphql", "", ".", "..", "a b", "%20", "%2F", "~user", "a+b;c=d", "é", "日本", "v1"]),
    st.text(max_size=8).filter(lambda t: "/" not in t),
)
_paths = st.one_of(
    st.just("/graphql"),
    st.just(""),
    st.lists(_path_segments, max_size=5).map(lambda segments: "/" + "/".join(segments)),
)
_queries = st.one_of(
    st.just(""),
    st.just("?"),
    st.lists(
        st.tuples(st.text("ab=%+é ", max_size=3), st.text("ab=%+é ", max_size=3)),
        max_size=4,
    ).map(lambda pairs: "?" + "&".join(f"{name}={value}" for name, value in pairs)),
)
_moments = st.one_of(
    st.datetimes(
        min_value=datetime(1, 1, 2),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from(
            [None, timezone.utc, timezone(timedelta(hours=14)), timezone(-timedelta(hours=9, minutes=30))],
        ),
    ),
    # Around midnight UTC, where the date (and so the signing key) changes.
    st.builds(
        lambda day, seconds: datetime.combine(day, datetime.min.time()) + timedelta(seconds=seconds),
        st.dates(min_value=datetime(2000, 1, 2).date(), max_value=datetime(2100, 1, 1).date()),
        st.floats(min_value=-2, max_value=2),
    ),
)
_bodies = st.one_of(st.just(b""), st.binary(max_size=300), st.text(max_size=100).map(str.encode))


@st.composite
def _endpoints(draw: st.DrawFn) -> tuple[str, str, str]:
    """``(url, the host header botocore and aiohttp would send, the API's region)``."""
    region = draw(_regions)
    kind = draw(st.sampled_from(["appsync", "custom", "ipv4", "ipv6"]))
    if kind == "appsync":
        hostname = f"{draw(_label)}.appsync-api.{region}.amazonaws.com"
    elif kind == "custom":
        hostname = ".".join(draw(st.lists(_label, min_size=1, max_size=4)))
    else:
        hostname = str(draw(st.ip_addresses(v=4 if kind == "ipv4" else 6)))
    scheme = draw(st.sampled_from(["http", "https"]))
    port = draw(st.one_of(st.none(), st.sampled_from([80, 443]), st.integers(1, 65535)))
    netloc = f"[{hostname}]" if kind == "ipv6" else hostname
    host = netloc.lower()
    if port is not None:
        netloc = f"{netloc}:{port}"
        if port != {"http": 80, "https": 443}[scheme]:
            host = f"{host}:{port}"
    return f"{scheme}://{netloc}{draw(_paths)}{draw(_queries)}", host, region


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    endpoint=_endpoints(),
    requests=st.lists(st.tuples(_moments, _credentials, _bodies), min_size=1, max_size=4),
)
@example(
    # One signer across midnight UTC: the cached signing key must not outlive its date.
    endpoint=(URL, HOST, "eu-west-1"),
    requests=[
        (datetime(2024, 5, 6, 23, 59, 59, 999999), ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), BODY),
        (datetime(2024, 5, 7, 0, 0, 0), ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None), BODY),
    ],
)
def test_headers_equal_botocores_byte_for_byte(
    endpoint: tuple[str, str, str],
    requests: list[tuple[datetime, ReadOnlyCredentials, bytes]],
) -> None:
    # GIVEN any URL (AppSync, custom domain, IP literal, port, odd path, query), region, signing times,
    # credentials (rotating between requests, with or without a session token) and bodies
    url, host, region = endpoint
    moments = iter([moment for moment, _, _ in requests])
    credentials = RotatingCredentials([snapshot for _, snapshot, _ in requests])
    auth = IAMAuth(region=region, credentials=credentials, clock=lambda: next(moments))
    for moment, snapshot, body in requests:
        # WHEN one IAMAuth signs each request in turn
        headers = auth.headers(url, body)
        # THEN the headers, names, values and order, are those of botocore's SigV4Auth.add_auth
        assert list(headers.items()) == botocore_headers(
            snapshot,
            region,
            url=url,
            host=host,
            body=body,
            moment=moment,
        )


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/",
        "/graphql/",
        "//graphql",
        "/a/./b/../graphql",
        "/../graphql",
        "/a//b/",
        "/%20x/%2Fy",
        "/ä/日本/a b/~u/a+b",
        "/graphql?b=2&a=1&a=0",
        "/graphql?a=%20b&c&=d&",
        "/graphql?",
        "/graphql#fragment",
        "/graphql?q=1#fragment",
    ],
)
def test_canonical_uri_and_query_follow_botocore(path: str) -> None:
    # GIVEN a custom-domain URL whose path needs normalizing or encoding, or that has a query
    url = f"https://api.example.com{path}"
    # WHEN signing with and without a session token
    for credentials in (
        ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None),
        Credentials(ACCESS_KEY, SECRET_KEY, "t"),
    ):
        headers = iam(region="us-east-1", credentials=credentials).headers(url, BODY)
        # THEN the result is botocore's own
        expected = botocore_headers(credentials, "us-east-1", url=url, host="api.example.com")
        assert list(headers.items()) == expected


def test_signing_key_is_derived_once_per_date_region_and_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN a clock crossing midnight UTC and credentials that rotate once
    derived: list[tuple[str, str]] = []
    original = streambridge._io.auth._derive_signing_key

    def counting(secret_key: str, date: str, region: str) -> Any:
        derived.append((secret_key, date))
        return original(secret_key, date, region)

    monkeypatch.setattr(streambridge._io.auth, "_derive_signing_key", counting)
    times = iter(
        [datetime(2024, 5, 6, 23, 59, 58), datetime(2024, 5, 6, 23, 59, 59), datetime(2024, 5, 7, 0, 0, 0)]
        + [datetime(2024, 5, 7, 0, 0, 1)] * 2,
    )
    first = ReadOnlyCredentials(ACCESS_KEY, SECRET_KEY, None)
    second = ReadOnlyCredentials(ACCESS_KEY, "rotated-secret", None)
    auth = iam(
        credentials=RotatingCredentials([first, first, first, first, second]), clock=lambda: next(times)
    )
    # WHEN signing five requests
    signed = [auth.headers(URL, BODY) for _ in range(5)]
    # THEN a key was derived only for a new date or a new secret
    assert derived == [(SECRET_KEY, "20240506"), (SECRET_KEY, "20240507"), ("rotated-secret", "20240507")]
    # AND every signature is still right
    for headers, secret in zip(signed, [SECRET_KEY] * 4 + ["rotated-secret"], strict=True):
        assert parse_authorization(headers)["signature"] == reference_signature(
            headers=dict(headers),
            body=BODY,
            secret_key=secret,
            region="eu-west-1",
        )


def test_signature_covers_the_exact_body_bytes() -> None:
    # GIVEN two bodies that differ in one byte (same JSON meaning, different bytes)
    auth = iam()
    body_a = b'{"query":"q","variables":{"a":1}}'
    body_b = b'{"query":"q","variables":{"a":1} }'
    # WHEN signing each
    sig_a = parse_authorization(auth.headers(URL, body_a))["signature"]
    sig_b = parse_authorization(auth.headers(URL, body_b))["signature"]
    # THEN the signatures differ, and each matches a signature over exactly its bytes
    assert sig_a != sig_b
    assert sig_a == reference_signature(
        headers=dict(auth.headers(URL, body_a)),
        body=body_a,
        secret_key=SECRET_KEY,
        region="eu-west-1",
    )


def test_empty_body_is_signed_with_the_empty_payload_hash() -> None:
    # GIVEN an empty body WHEN signing THEN it matches the spec's empty-payload hash
    headers = iam().headers(URL, b"")
    assert parse_authorization(headers)["signature"] == reference_signature(
        headers=dict(headers),
        body=b"",
        secret_key=SECRET_KEY,
        region="eu-west-1",
    )


def test_aware_clock_times_are_converted_to_utc() -> None:
    # GIVEN a clock returning an aware time two hours ahead of UTC
    plus_two = timezone(timedelta(hours=2))
    auth = iam(clock=lambda: datetime(2024, 5, 6, 9, 8, 9, tzinfo=plus_two))
    # WHEN signing THEN the timestamp is the UTC time
    assert auth.headers(URL, BODY)["x-amz-date"] == "20240506T070809Z"


def test_default_clock_is_the_current_utc_time() -> None:
    # GIVEN no injected clock
    auth = IAMAuth(credentials=Credentials(ACCESS_KEY, SECRET_KEY))
    # WHEN signing
    before = datetime.now(timezone.utc).replace(microsecond=0, tzinfo=None)
    stamp = datetime.strptime(auth.headers(URL, BODY)["x-amz-date"], "%Y%m%dT%H%M%SZ")
    after = datetime.now(timezone.utc).replace(tzinfo=None)
    # THEN the timestamp is now, in UTC
    assert before <= stamp <= after


def test_the_system_clock_is_read_for_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN no injected clock, and a system clock about to tick over to the next second
    now = [1715929199.25]  # 2024-05-17T06:59:59.25Z
    monkeypatch.setattr(streambridge._io.auth.time, "time", lambda: now[0])
    auth = IAMAuth(credentials=Credentials(ACCESS_KEY, SECRET_KEY))
    stamps = []
    for seconds in (1715929199.25, 1715929199.999, 1715929200.0, 1715929260.5):
        # WHEN signing as time goes by
        now[0] = seconds
        headers = auth.headers(URL, BODY)
        stamps.append(headers["x-amz-date"])
        # THEN each signature is botocore's at that time
        moment = datetime.fromtimestamp(int(seconds), timezone.utc)
        assert list(headers.items()) == botocore_headers(
            Credentials(ACCESS_KEY, SECRET_KEY), "eu-west-1", moment=moment
        )
    assert stamps == ["20240517T065959Z", "20240517T065959Z", "20240517T070000Z", "20240517T070100Z"]


# --- secrets stay secret -----------------------------------------------------------------------------------


def test_reprs_never_show_secrets() -> None:
    # GIVEN each auth with secrets
    auths = [
        IAMAuth(region="us-east-1", credentials=Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)),
        IAMAuth(),
        ApiKeyAuth("da2-secretapikey1234567890"),
        TokenAuth("eyJhbGciOi.secret-jwt.sig"),
        TokenAuth(lambda: "eyJhbGciOi.secret-jwt.sig"),
    ]
    # WHEN rendering them
    text = " ".join(repr(auth) for auth in auths)
    # THEN no secret (not even the access key id) shows
    for secret in (ACCESS_KEY, SECRET_KEY, SESSION_TOKEN, "da2-secretapikey1234567890", "secret-jwt"):
        assert secret not in text
    assert "IAMAuth(region='us-east-1', credentials=<explicit>)" in text
    assert "IAMAuth(region=None, credentials=<default chain>)" in text
    assert "ApiKeyAuth(api_key='***')" in text
    assert "TokenAuth(token='***')" in text
    assert "TokenAuth(token=<callable>)" in text


def test_signing_logs_no_secret_and_no_signature(caplog: pytest.LogCaptureFixture) -> None:
    # GIVEN DEBUG logging everywhere (botocore's add_auth would log the signature at DEBUG)
    caplog.set_level(logging.DEBUG)
    # WHEN signing
    headers = iam(credentials=Credentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)).headers(URL, BODY)
    # THEN neither the secret, the token nor the signature reaches the logs
    signature = parse_authorization(headers)["signature"]
    for secret in (SECRET_KEY, SESSION_TOKEN, signature):
        assert secret not in caplog.text


# --- API key -----------------------------------------------------------------------------------------------


def test_api_key_is_sent_in_x_api_key() -> None:
    # GIVEN an API key
    auth = ApiKeyAuth("da2-abcdefghijklmnop")
    # WHEN validating and asking for headers
    auth.validate("http://127.0.0.1:20002/graphql")
    # THEN the key is in x-api-key and nothing else is added
    assert dict(auth.headers(URL, BODY)) == {"x-api-key": "da2-abcdefghijklmnop"}


@pytest.mark.parametrize(
    "key",
    [
        "",
        "   ",
        "da2-key\r\nx-injected: 1",
        None,
        42,
        # what HTTP/1.1 cannot send as a header value (RFC 9110 5.5): it used to pass here and halt sending
        # at the first request instead
        "da2-injected ",
        "\tda2-injected",
        "da2-inje\x0bcted",
        "da2-injécted",
        "da2-injected\x7f",
    ],
)
def test_unusable_api_keys_fail_at_construction_without_echoing_them(key: Any) -> None:
    # GIVEN / WHEN an empty, multi-line, padded, control-character, non-ASCII or non-str key
    # THEN construction fails, without the value
    with pytest.raises(ConfigurationError, match="api_key") as caught:
        ApiKeyAuth(key)
    assert "inje" not in str(caught.value)


# --- token -------------------------------------------------------------------------------------------------


def test_token_is_sent_raw_in_authorization() -> None:
    # GIVEN a Cognito / OIDC JWT
    auth = TokenAuth("eyJraWQiOiJ.payload.signature")
    # WHEN asking for headers
    auth.validate(URL)
    # THEN it is the Authorization header as is: AppSync takes no "Bearer" prefix
    assert dict(auth.headers(URL, BODY)) == {"authorization": "eyJraWQiOiJ.payload.signature"}


def test_token_is_never_rewritten() -> None:
    # GIVEN a Lambda-authorizer token that happens to start with "Bearer " (the authorizer gets it verbatim)
    # WHEN asking for headers THEN it is sent unchanged
    assert dict(TokenAuth("Bearer custom").headers(URL, BODY)) == {"authorization": "Bearer custom"}


def test_token_callable_is_called_for_every_request() -> None:
    # GIVEN a callable handing out a fresh token each time
    issued: list[str] = []

    def fresh_token() -> str:
        issued.append(f"token-{len(issued)}")
        return issued[-1]

    auth = TokenAuth(fresh_token)
    # WHEN validating THEN the callable is not called (it may be costly)
    auth.validate(URL)
    assert issued == []
    # WHEN asking for headers three times (a request and two retries)
    values = [auth.headers(URL, BODY)["authorization"] for _ in range(3)]
    # THEN each request got the token current at that time
    assert values == ["token-0", "token-1", "token-2"]


@pytest.mark.parametrize("bad", ["", "tok\nen", None, "token ", "tökén"])
def test_token_callable_returning_an_unusable_token_fails_clearly(bad: Any) -> None:
    # GIVEN a callable returning an empty, multi-line or non-str token
    auth = TokenAuth(lambda: bad)
    # WHEN asking for headers THEN a ConfigurationError names the callable, not the value
    with pytest.raises(ConfigurationError, match="TokenAuth callable"):
        auth.headers(URL, BODY)


@pytest.mark.parametrize("token", ["", " ", "a\r\nb", 123])
def test_unusable_static_tokens_fail_at_construction(token: Any) -> None:
    # GIVEN / WHEN / THEN
    with pytest.raises(ConfigurationError, match="token"):
        TokenAuth(token)


# --- import cost -------------------------------------------------------------------------------------------


def test_importing_the_module_does_not_import_botocore() -> None:
    # GIVEN a fresh interpreter
    code = (
        "import sys, streambridge._io.auth\n"
        "heavy = [m for m in ('botocore', 'boto3', 'aiohttp') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    # WHEN it imports streambridge._io.auth
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # THEN botocore is not loaded (it is imported on first use)
    assert result.stdout.strip() == ""
