"""Verification schemes a source may use, with the options each one takes.

The receiver (ingest/verify) implements them; this module only says what a valid
configuration of each looks like, so a config can be checked without running anything.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Annotated, Any, Literal

from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import load_der_public_key, load_pem_public_key
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)

Secrets = Annotated[list[SecretStr], Field(min_length=1)]
Tolerance = Annotated[int, Field(ge=1, le=86_400)]


class _Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SecretScheme(_Scheme):
    """Presets configured by their signing secrets alone (the secret is all that differs)."""

    scheme: Literal["github", "shopify", "lemonsqueezy", "docusign", "intercom", "dropbox",
                    "gitlab", "msgraph"]
    secrets: Secrets


class TimedSecretScheme(_Scheme):
    """Presets whose signature carries a time; each has its provider's own default
    tolerance (routing.presets), used when the config does not set one."""

    scheme: Literal["stripe", "slack", "zoom", "linear", "paddle", "calendly", "mailgun"]
    secrets: Secrets
    tolerance: Tolerance | None = None


class TwilioScheme(_Scheme):
    scheme: Literal["twilio"]
    secrets: Secrets
    public_url: str | None = Field(
        default=None, description="Base URL Twilio calls (e.g. https://hooks.example.com) "
        "when the receiver sits behind a proxy; the signature covers the public URL.")


class StandardScheme(_Scheme):
    """Standard Webhooks, and the providers that send it (through Svix or by themselves)."""

    scheme: Literal["standard", "svix", "clerk", "resend", "openai"]
    secrets: Secrets
    tolerance: Tolerance | None = Field(
        default=None, description="Seconds; the preset's default (300) when not set.")


class MetaScheme(_Scheme):
    scheme: Literal["meta"]
    secrets: Secrets = Field(description="The app secret, which signs X-Hub-Signature-256.")
    verify_token: SecretStr = Field(
        description="The token you typed into the webhook subscription; the GET handshake "
        "must carry it.")


class SquareScheme(_Scheme):
    scheme: Literal["square"]
    secrets: Secrets
    notification_url: Annotated[str, Field(pattern=r"^https?://")] | None = Field(
        default=None, description="The notification URL exactly as registered with Square "
        "(it is signed); defaults to the URL the request arrived at.")


class PublicKeyScheme(_Scheme):
    """Presets that sign with the provider's private key: Discord (Ed25519, the
    application's public key in hex) and SendGrid (ECDSA P-256, the verification key in
    base64 DER from Mail Settings > Signed Event Webhook)."""

    scheme: Literal["discord", "sendgrid"]
    public_key: str
    tolerance: Tolerance | None = None

    @field_validator("public_key")
    @classmethod
    def _key_fits_the_provider(cls, value: str, info: ValidationInfo) -> str:
        load_public_key(value, PUBLIC_KEY_ALGORITHMS[info.data["scheme"]])
        return value


PUBLIC_KEY_ALGORITHMS = {"discord": "ed25519", "sendgrid": "ecdsa-sha256"}


class PlaidScheme(_Scheme):
    scheme: Literal["plaid"]
    client_id: str | None = None
    secret: SecretStr | None = None
    environment: Literal["sandbox", "production"] = "production"
    api_url: Annotated[str, Field(pattern=r"^https?://")] | None = Field(
        default=None, description="Plaid's API base URL; defaults to the environment's.")
    jwks_file: str | None = Field(
        default=None, description="Verification keys as a JWKS file, instead of fetching "
        "each key from Plaid's API with client_id and secret.")
    max_age: Annotated[int, Field(ge=1, le=86_400)] = 300

    @model_validator(mode="after")
    def _has_a_key_source(self) -> PlaidScheme:
        if not self.jwks_file and not (self.client_id and self.secret):
            raise ValueError("plaid needs client_id and secret (to fetch verification keys) "
                             "or jwks_file")
        return self

    @property
    def keys_url(self) -> str:
        base = self.api_url or f"https://{self.environment}.plaid.com"
        return base.rstrip("/") + "/webhook_verification_key/get"


GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"


class GooglePubsubScheme(_Scheme):
    scheme: Literal["google-pubsub"]
    audience: str = Field(description="The audience set on the push subscription.")
    service_account_email: str = Field(
        description="The service account the push subscription authenticates as.")
    jwks_url: str | None = Field(
        default=None, description=f"Where Google's keys are fetched; {GOOGLE_CERTS_URL} "
        "unless jwks_file is given.")
    jwks_file: str | None = Field(
        default=None, description="Google's keys as a local JWKS file, used on its own "
        "(offline, tests).")

    @model_validator(mode="after")
    def _one_key_source(self) -> GooglePubsubScheme:
        if self.jwks_url and self.jwks_file:
            raise ValueError("give jwks_url or jwks_file, not both")
        return self

    @property
    def keys_url(self) -> str | None:
        """The URL to fetch keys from: none when a file holds them."""
        return None if self.jwks_file else (self.jwks_url or GOOGLE_CERTS_URL)


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


class SignaturePairs(_Scheme):
    """A signature header of key=value entries: `t=1700000000,v1=5257a8...` (Stripe,
    Calendly) or `ts=...;h1=...` (Paddle). The signature key may repeat (rotation)."""

    separator: str = ","
    timestamp: str | None = None
    signature: str


CustomAlgorithm = Literal["hmac-sha1", "hmac-sha256", "hmac-sha512", "ed25519", "ecdsa-sha256",
                          "token"]


class CustomScheme(_Scheme):
    """A signature scheme described entirely in the config; the presets built on the
    generic verifier are instances of it (routing.presets)."""

    scheme: Literal["custom"]
    algorithm: CustomAlgorithm = "hmac-sha256"
    secrets: list[SecretStr] = []
    public_keys: list[str] = []
    header: str | Annotated[list[str], Field(min_length=1)] = Field(
        description="The header holding the signature (any of several, as DocuSign sends "
        "one per key).")
    prefix: str = ""
    pairs: SignaturePairs | None = None
    encoding: Literal["hex", "base64"] = "hex"
    signed_content: str = Field(
        default="{body}",
        description="What is signed: {body}, {timestamp}, {id} (from id_header), {url}.")
    timestamp_header: str | None = None
    timestamp_field: str | None = Field(
        default=None, description="A top-level field of the JSON body holding the send time "
        "(Linear's webhookTimestamp); checked against the tolerance.")
    timestamp_unit: Literal["s", "ms"] = "s"
    id_header: str | None = None
    url: Annotated[str, Field(pattern=r"^https?://")] | None = Field(
        default=None, description="The URL signed as {url}; defaults to the request's URL.")
    tolerance: Tolerance = 300

    @property
    def headers(self) -> tuple[str, ...]:
        return (self.header,) if isinstance(self.header, str) else tuple(self.header)

    @property
    def public_key(self) -> bool:
        return self.algorithm in ("ed25519", "ecdsa-sha256")

    @model_validator(mode="after")
    def _consistent(self) -> CustomScheme:
        if self.public_key:
            if not self.public_keys:
                raise ValueError(f"{self.algorithm} needs public_keys")
            if self.secrets:
                raise ValueError(f"{self.algorithm} verifies with public_keys, not secrets")
            for key in self.public_keys:
                load_public_key(key, self.algorithm)
        else:
            if not self.secrets:
                raise ValueError(f"{self.algorithm} needs secrets")
            if self.public_keys:
                raise ValueError(f"{self.algorithm} uses secrets, not public_keys")
        if self.algorithm == "token" and (self.signed_content != "{body}" or self.pairs):
            raise ValueError("a token is compared as sent: signed_content and pairs do not "
                             "apply")
        if self.pairs is not None and self.prefix:
            raise ValueError("prefix and pairs do not go together")
        has_time = bool(self.timestamp_header or (self.pairs and self.pairs.timestamp))
        if "{timestamp}" in self.signed_content and not has_time:
            raise ValueError("signed_content uses {timestamp} but there is no timestamp_header "
                             "or pairs.timestamp")
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
    issuer: str | list[str] | None = None
    audience: str | list[str] | None = None
    max_age: Annotated[int, Field(ge=1)] | None = None
    leeway: Annotated[int, Field(ge=0, le=3600)] = 0
    body_hash_claim: str | None = None
    required_claims: list[str] = ["exp"]
    claims: dict[str, str | int | bool] = Field(
        default={}, description="Claims that must hold exactly these values (Google's email).")

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


SCHEME_MODELS = (
    SecretScheme, TimedSecretScheme, TwilioScheme, StandardScheme, MetaScheme, SquareScheme,
    PublicKeyScheme, PlaidScheme, GooglePubsubScheme, HmacScheme, CustomScheme, JwtScheme,
    NoneScheme,
)
"""Every option model, in the order of VerifySpec."""

VerifySpec = Annotated[
    SecretScheme | TimedSecretScheme | TwilioScheme
    | StandardScheme | MetaScheme | SquareScheme | PublicKeyScheme | PlaidScheme
    | GooglePubsubScheme | HmacScheme | CustomScheme | JwtScheme | NoneScheme,
    Field(discriminator="scheme"),
]


@lru_cache(maxsize=256)
def load_public_key(text: str, algorithm: str) -> Any:
    """A public key from the forms providers publish: PEM, or base64 DER (SendGrid), or
    for Ed25519 the raw 32 bytes in hex (Discord). Raises ValueError naming the problem."""
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key: Any = load_pem_public_key(text.encode())
        elif algorithm == "ed25519" and len(text) == 64:
            key = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(text))
        else:
            key = load_der_public_key(base64.b64decode(text, validate=True))
    except (ValueError, binascii.Error, TypeError) as error:
        raise ValueError(f"not a usable {algorithm} public key ({error})") from None
    wanted = ed25519.Ed25519PublicKey if algorithm == "ed25519" else ec.EllipticCurvePublicKey
    if not isinstance(key, wanted):
        raise ValueError(f"the key is not an {algorithm} public key")
    return key
