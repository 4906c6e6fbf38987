"""The streambridge pytest plugin (entry point ``streambridge``, group ``pytest11``): LocalAppSync fixtures.

Fixtures:

- ``local_appsync_factory``: ``factory(schema, **options)`` returns a started :class:`LocalAppSync`;
  every one it made is stopped after the test.
- ``local_appsync``: a started LocalAppSync loaded with *your* schema, taken from a ``streambridge_schema``
  fixture if your conftest defines one (a path, or the schema text), else from the ``streambridge_schema``
  ini option (a path relative to the ini file). Resolvers come from an optional ``streambridge_resolvers``
  fixture (``{"Mutation.publishOrder": fn}``).

- ``local_handler``: ``local_handler(handler, appsync=None, *, schema=None, auth="iam")`` returns your
  decorated handler (same mapping, mutation or channel, key and settings) publishing to a LocalAppSync or
  a LocalEventApi: ``appsync`` (either server), else a new LocalAppSync serving ``schema``, else the
  ``local_appsync`` fixture's. It signs with IAM like the deployed function (``auth="api_key"`` uses the
  API key); its bridges are closed after the test.

- ``local_event_api_factory``: ``factory(**options)`` returns a started :class:`LocalEventApi` (an AppSync
  Events API: ``POST /event`` and the real-time WebSocket); every one it made is stopped after the test.
- ``local_event_api``: a started LocalEventApi with the namespaces of an optional
  ``streambridge_event_namespaces`` fixture (default: ``("default",)``).

::

    # pyproject.toml
    [tool.pytest.ini_options]
    streambridge_schema = "infra/schema.graphql"

pytest loads this module in every session of a project that has streambridge installed, so it imports
nothing heavy: LocalAppSync (graphql-core, aiohttp) is imported when a fixture is first used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from streambridge._bridge import Bridge, Handler
    from streambridge.testing._local import LocalAppSync, Resolver
    from streambridge.testing._local_events import LocalEventApi

__all__ = [
    "local_appsync",
    "local_appsync_factory",
    "local_event_api",
    "local_event_api_factory",
    "local_handler",
    "pytest_addoption",
]

SCHEMA_OPTION = "streambridge_schema"
SCHEMA_FIXTURE = "streambridge_schema"
RESOLVERS_FIXTURE = "streambridge_resolvers"
NAMESPACES_FIXTURE = "streambridge_event_namespaces"

LocalAppSyncFactory = Callable[..., "LocalAppSync"]
LocalHandlerFactory = Callable[..., "Handler[Any]"]
LocalEventApiFactory = Callable[..., "LocalEventApi"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register the ``streambridge_schema`` ini option."""
    parser.addini(
        SCHEMA_OPTION,
        help="path of the AppSync schema.graphql that the local_appsync fixture serves "
        "(relative to the ini file)",
        default="",
    )


@pytest.fixture
def local_appsync_factory() -> Iterator[LocalAppSyncFactory]:
    """``factory(schema, **options)`` -> a started LocalAppSync (its arguments), stopped after the test."""
    from streambridge.testing._fake import testing_extra_missing
    from streambridge.testing._local import LocalAppSync

    started: list[LocalAppSync] = []

    def factory(schema: str | Path, **options: Any) -> LocalAppSync:
        try:
            appsync = LocalAppSync(schema, **options)
        except ModuleNotFoundError as error:
            if error.name not in ("graphql", "gql"):
                raise
            pytest.fail(str(testing_extra_missing("LocalAppSync", error)), pytrace=False)
        appsync.start()
        started.append(appsync)
        return appsync

    yield factory
    for appsync in reversed(started):
        appsync.stop()


@pytest.fixture
def local_appsync(request: pytest.FixtureRequest, local_appsync_factory: LocalAppSyncFactory) -> LocalAppSync:
    """A started LocalAppSync serving your schema (``streambridge_schema`` fixture or ini option)."""
    schema = _schema(request)
    resolvers: Mapping[str, Resolver] | None = _optional_fixture(request, RESOLVERS_FIXTURE)
    return local_appsync_factory(schema, resolvers=resolvers)


@pytest.fixture
def local_handler(
    request: pytest.FixtureRequest, local_appsync_factory: LocalAppSyncFactory
) -> Iterator[LocalHandlerFactory]:
    """``local_handler(handler, appsync=None, *, schema=None, auth="iam")``: the handler on a local server."""
    bridges: list[Bridge] = []

    def bind(
        handler: Handler[Any],
        appsync: LocalAppSync | LocalEventApi | None = None,
        *,
        schema: str | Path | None = None,
        auth: str = "iam",
    ) -> Handler[Any]:
        from streambridge import ApiKeyAuth, IAMAuth

        if appsync is not None and schema is not None:
            raise TypeError("local_handler: pass appsync or schema, not both")
        if appsync is None:
            appsync = (
                local_appsync_factory(schema)
                if schema is not None
                else request.getfixturevalue("local_appsync")
            )
        if auth == "iam":
            from botocore.credentials import Credentials

            # both servers keep their test identities in the authorizer they share (LocalEventApi has no
            # public ``credentials``)
            accepted = list(appsync._authorizer.credentials.values())
            if not accepted:
                raise ValueError(f"local_handler(auth='iam'): this {type(appsync).__name__} has IAM mode off")
            signer: Any = IAMAuth(region=appsync.region, credentials=Credentials(*accepted[0]))
        elif auth == "api_key":
            if appsync.api_key is None:
                raise ValueError(
                    f"local_handler(auth='api_key'): this {type(appsync).__name__} has API_KEY mode off"
                )
            signer = ApiKeyAuth(appsync.api_key)
        else:
            raise ValueError(f"local_handler: auth must be 'iam' or 'api_key', got {auth!r}")
        settings: dict[str, Any] = {"url": appsync.url, "auth": signer}
        if appsync.tls is not None:  # https: trust the server's local authority, verification on
            from streambridge._io.http import HttpTransport

            settings["transport"] = HttpTransport(ssl_context=appsync.client_ssl_context())
        bridges.append(handler.bridge.replace(**settings))
        return handler.with_bridge(bridges[-1])

    yield bind
    for bridge in reversed(bridges):
        bridge.close()


@pytest.fixture
def local_event_api_factory() -> Iterator[LocalEventApiFactory]:
    """``factory(**options)`` -> a started LocalEventApi (its arguments), stopped after the test."""
    from streambridge.testing._local_events import LocalEventApi

    started: list[LocalEventApi] = []

    def factory(**options: Any) -> LocalEventApi:
        api = LocalEventApi(**options)
        api.start()
        started.append(api)
        return api

    yield factory
    for api in reversed(started):
        api.stop()


@pytest.fixture
def local_event_api(
    request: pytest.FixtureRequest, local_event_api_factory: LocalEventApiFactory
) -> LocalEventApi:
    """A started LocalEventApi with your namespaces (``streambridge_event_namespaces`` fixture) or default."""
    namespaces = _optional_fixture(request, NAMESPACES_FIXTURE) or ("default",)
    return local_event_api_factory(namespaces=tuple(namespaces))


def _schema(request: pytest.FixtureRequest) -> str | Path:
    value = _optional_fixture(request, SCHEMA_FIXTURE)
    if isinstance(value, str) and "{" in value:
        return value  # the schema text itself
    if value is not None:
        path = Path(value)
        origin = f"the {SCHEMA_FIXTURE} fixture"
    else:
        option = str(request.config.getini(SCHEMA_OPTION) or "").strip()
        if not option:
            pytest.fail(
                "the local_appsync fixture needs your AppSync schema. Either set the ini option, e.g. in "
                f'pyproject.toml: [tool.pytest.ini_options] {SCHEMA_OPTION} = "path/to/schema.graphql", '
                f"or define a {SCHEMA_FIXTURE} fixture returning the path (in a conftest.py), or call "
                "local_appsync_factory(path) instead.",
                pytrace=False,
            )
        config = request.config
        base = config.inipath.parent if config.inipath is not None else config.rootpath
        path = base / option
        origin = f"the {SCHEMA_OPTION} ini option ({config.inipath or 'no ini file'})"
    if not path.is_file():
        pytest.fail(f"{origin} points at {str(path)!r}, which is not a file", pytrace=False)
    return path


def _optional_fixture(request: pytest.FixtureRequest, name: str) -> Any:
    try:
        return request.getfixturevalue(name)
    except pytest.FixtureLookupError:
        return None
