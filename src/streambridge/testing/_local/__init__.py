"""LocalAppSync: an in-process AWS AppSync endpoint for tests, with the real-time WebSocket protocol.

::

    with LocalAppSync("schema.graphql") as appsync:
        bridge = Bridge(appsync.url, ApiKeyAuth(appsync.api_key))
        ...  # run the handler
        assert appsync.published("publishOrder") == [{"id": "o-1", "status": "NEW"}]

It loads the user's real AppSync schema with graphql-core and serves it with aiohttp in a background thread
(its own event loop): ``POST /graphql`` and the real-time endpoint ``GET /graphql/realtime`` on one port.
What it does the way AppSync does:

- AppSync's scalars (``AWSDateTime``, ``AWSJSON``, ``AWSTimestamp``, ...) with their validation rules, and
  its directives (``@aws_subscribe``, ``@aws_api_key``, ``@aws_iam``, ``@aws_cognito_user_pools``, ...), added
  to the schema unless it defines them itself.
- Mutations resolve like a NONE data source (the result is the ``input`` argument, or all the arguments)
  unless a resolver is given; a resolver raises ``FieldError`` the way a template calls ``$util.error``.
  Top-level mutation fields run serially and a field error does not stop the fields after it.
- Auth: API key (``x-api-key``), SigV4 (the signature is recomputed with botocore from the bytes and
  headers received, for known test credentials), bearer tokens; then per type / field auth directives
  with a default mode, like AppSync.
- Errors: field errors with ``path``, ``errorType``, ``data``, ``errorInfo``, ``locations`` and partial
  ``data``; request errors (validation, variables) as ``{"data": null, "errors": [...]}`` without a path.
- Subscriptions: a successful mutation field is pushed to every subscription whose field lists it in
  ``@aws_subscribe``. The payload is the mutation's *response* (its selection set, its inner aliases), so a
  subscriber asking for a field the mutation did not select gets null (an error if the field is non-null);
  subscription arguments filter on the response's fields by equality; a message over 240 kB is dropped
  silently. The Amplify simulator reproduces none of these; ``_delivery`` lists them with their sources.
  ``mute_aliased_mutations=True`` models a reported, unverified failure: aliased top-level mutations that
  fire no subscription.

The package's files, from the outside in:

- ``_appsync``: LocalAppSync (options, endpoints, records, the server thread), LocalSubscription,
  RecordedMutation.
- ``_server``: the aiohttp application and ``POST /graphql``.
- ``_realtime``: the real-time WebSocket protocol and the registry of subscriptions.
- ``_delivery``: what a subscriber receives, and when (AppSync's subscription rules, with their sources).
- ``_engine``: GraphQL execution with graphql-core: resolvers, auth directives, root calls recorded.
- ``_schema`` and ``_scalars``: the user's schema with AppSync's directives and scalars.
- ``_auth`` and ``_sigv4``: a request's auth mode, and the SigV4 signature check.
- ``_errors``: AppSync's error shapes.
- ``_thread``: the server thread's life (start, stop, the context manager), LocalEventApi's too.

graphql-core and aiohttp are imported when a LocalAppSync is built, not when this package is imported, so
that importing ``streambridge.testing`` (and loading the pytest plugin) stays cheap. The known differences
with the real AppSync and the Amplify simulator are listed in ``docs/testing.md``.
"""

from streambridge.testing._fake import Resolver
from streambridge.testing._local._appsync import LocalAppSync, LocalSubscription, RecordedMutation
from streambridge.testing._local._auth import DEFAULT_API_KEY, DEFAULT_CREDENTIALS, AuthMode

__all__ = [
    "DEFAULT_API_KEY",
    "DEFAULT_CREDENTIALS",
    "AuthMode",
    "LocalAppSync",
    "LocalSubscription",
    "RecordedMutation",
    "Resolver",
]
