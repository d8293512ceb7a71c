"""Verification schemes a source may use, with the options each one takes.

The receiver (ingest/verify) implements them; this module only says what a valid
configuration of each looks like, so a config can be checked without running anything.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

Secrets = Annotated[list[SecretStr], Field(min_length=1)]
Tolerance = Annotated[int, Field(ge=1, le=86_400)]


class _Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StripeScheme(_Scheme):
    scheme: Literal["stripe"]
    secrets: Secrets
    tolerance: Tolerance = 300


class GithubScheme(_Scheme):
    scheme: Literal["github"]
    secrets: Secrets


class SlackScheme(_Scheme):
    scheme: Literal["slack"]
    secrets: Secrets
    tolerance: Tolerance = 300


class ShopifyScheme(_Scheme):
    scheme: Literal["shopify"]
    secrets: Secrets


class TwilioScheme(_Scheme):
    scheme: Literal["twilio"]
    secrets: Secrets
    public_url: str | None = Field(
        default=None, description="Base URL Twilio calls (e.g. https://hooks.example.com) "
        "when the receiver sits behind a proxy; the signature covers the public URL.")


class StandardScheme(_Scheme):
    scheme: Literal["standard"]
    secrets: Secrets
    tolerance: Tolerance = 300


class HmacScheme(_Scheme):
    scheme: Literal["hmac"]
    secrets: Secrets
    header: str
    prefix: str = ""
    algorithm: Literal["sha1", "sha256", "sha512"] = "sha256"
    encoding: Literal["hex", "base64"] = "hex"
    timestamp_header: str | None = None
    signed_content: str = Field(
        default="{body}",
        description="What is signed: {body}, {timestamp}, {id} (from id_header), {url}.")
    id_header: str | None = None
    tolerance: Tolerance = 300

    @model_validator(mode="after")
    def _placeholders_have_sources(self) -> HmacScheme:
        if "{timestamp}" in self.signed_content and not self.timestamp_header:
            raise ValueError("signed_content uses {timestamp} but timestamp_header is not set")
        if "{id}" in self.signed_content and not self.id_header:
            raise ValueError("signed_content uses {id} but id_header is not set")
        return self


JwtAlgorithm = Literal["HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384",
                       "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class JwtScheme(_Scheme):
    scheme: Literal["jwt"]
    algorithms: Annotated[list[JwtAlgorithm], Field(min_length=1)]
    header: str = "authorization"
    secrets: list[SecretStr] = []
    public_keys: list[str] = []
    jwks_file: str | None = None
    jwks_url: str | None = None
    jwks_cache_seconds: Annotated[int, Field(ge=0)] = 300
    issuer: str | None = None
    audience: str | list[str] | None = None
    max_age: Annotated[int, Field(ge=1)] | None = None
    leeway: Annotated[int, Field(ge=0, le=3600)] = 0
    body_hash_claim: str | None = None
    required_claims: list[str] = ["exp"]

    @model_validator(mode="after")
    def _keys_match_algorithms(self) -> JwtScheme:
        shared = any(a.startswith("HS") for a in self.algorithms)
        public = any(not a.startswith("HS") for a in self.algorithms)
        if shared and public:
            raise ValueError("mixing HS* with public-key algorithms invites algorithm "
                             "confusion; use one family per source")
        if shared and not self.secrets:
            raise ValueError("HS* algorithms need secrets")
        if public and not (self.public_keys or self.jwks_file or self.jwks_url):
            raise ValueError("public-key algorithms need public_keys, jwks_file or jwks_url")
        return self


class NoneScheme(_Scheme):
    scheme: Literal["none"]
    insecure: Literal[True] = Field(
        description="Must be true: requests to this source are not verified at all.")


VerifySpec = Annotated[
    StripeScheme | GithubScheme | SlackScheme | ShopifyScheme | TwilioScheme | StandardScheme
    | HmacScheme | JwtScheme | NoneScheme,
    Field(discriminator="scheme"),
]

SCHEMES = ("stripe", "github", "slack", "shopify", "twilio", "standard", "hmac", "jwt", "none")

DEFAULT_DELIVERY_ID = {
    "stripe": "body.id",
    "github": "headers['x-github-delivery']",
    "standard": "headers['webhook-id']",
    "shopify": "headers['x-shopify-webhook-id']",
    "twilio": "headers['i-twilio-idempotency-token']",
}
"""Where each provider puts its own delivery id; other schemes dedupe on a body hash."""
