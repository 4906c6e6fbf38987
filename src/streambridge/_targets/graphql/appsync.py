"""AppSync's own schema vocabulary: the scalars and directives every AppSync schema has undeclared.

One definition, shared by the offline schema check and LocalAppSync, which both prepend what a user's
schema does not declare itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

APPSYNC_SCALARS: Final = (
    "AWSDate",
    "AWSTime",
    "AWSDateTime",
    "AWSTimestamp",
    "AWSEmail",
    "AWSJSON",
    "AWSURL",
    "AWSPhone",
    "AWSIPAddress",
)
"""Scalars every AppSync schema has without declaring them."""

_AUTH_LOCATIONS: Final = "OBJECT | FIELD_DEFINITION | INTERFACE"

APPSYNC_DIRECTIVES: Final[Mapping[str, str]] = {
    "aws_subscribe": "directive @aws_subscribe(mutations: [String]) on FIELD_DEFINITION",
    "aws_publish": "directive @aws_publish(subscriptions: [String]) on FIELD_DEFINITION",
    "aws_iam": f"directive @aws_iam on {_AUTH_LOCATIONS}",
    "aws_api_key": f"directive @aws_api_key on {_AUTH_LOCATIONS}",
    "aws_cognito_user_pools": (
        f"directive @aws_cognito_user_pools(cognito_groups: [String]) on {_AUTH_LOCATIONS}"
    ),
    "aws_oidc": f"directive @aws_oidc on {_AUTH_LOCATIONS}",
    "aws_lambda": f"directive @aws_lambda on {_AUTH_LOCATIONS}",
    "aws_auth": f"directive @aws_auth(cognito_groups: [String]) on {_AUTH_LOCATIONS}",
}
"""Directives AppSync defines, by name: their definitions."""
