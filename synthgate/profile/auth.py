"""The profile's `auth:` section: log in once per gate (and per probe round), share the session with every stage."""

from __future__ import annotations

from typing import Any

from pydantic import Field, model_validator

from synthgate.profile.common import Strict


class OAuth2ClientCredentials(Strict):
    """OAuth2 client credentials grant (RFC 6749 §4.4): the access token is saved as ${auth.access_token}."""

    token_url: str  # absolute, or a path on the target
    client_id: str  # may be ${secrets.X}
    client_secret: str  # ${secrets.X}: a value in the profile would be a leaked secret
    scope: str | None = None
    audience: str | None = None
    extra: dict[str, str] = Field(default_factory=dict)  # further form fields of the token request


class BasicAuth(Strict):
    """HTTP basic auth (RFC 7617): `${auth.authorization}` is the whole `Basic ...` header value."""

    username: str  # may be ${secrets.X}
    password: str  # ${secrets.X}: a value in the profile would be a leaked secret


class AuthConfig(Strict):
    """Login steps (requests whose `save:` values become ${auth.NAME}), OAuth2 client credentials, or basic auth."""

    steps: list[Any] = Field(default_factory=list)  # typed as profile.model.Step by profile.model.Auth
    oauth2: OAuth2ClientCredentials | None = None
    basic: BasicAuth | None = None
    relogin_on_401: bool = True  # a request that used ${auth.X} and got 401 logs in again once, then resends

    @model_validator(mode="after")
    def _one_way_to_log_in(self) -> AuthConfig:
        if sum([bool(self.steps), self.oauth2 is not None, self.basic is not None]) != 1:
            raise ValueError("expected exactly one of 'steps' (login requests with save:), 'oauth2' or 'basic'")
        return self
