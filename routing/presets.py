"""Provider presets: `scheme: <provider>` in a source's `verify`.

A preset names a provider's verification: its header names, signed-content layout,
encoding, tolerance, default delivery id and handshake. Most presets are built on the
generic verifiers (a `CustomScheme` recipe, or `JwtScheme` for OIDC); the rest have a
verifier module of their own in ingest/verify. `verifier_options()` turns the user's preset
options into what the verifier takes, once, when the config is compiled.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from .schemes import SCHEME_MODELS, CustomScheme, JwtScheme, SignaturePairs

STANDARD_ID = "'webhook-id' in headers ? headers['webhook-id'] : headers['svix-id']"


@dataclass(frozen=True)
class Preset:
    """What `waitpoint providers` shows, and how the preset becomes verifier options."""

    name: str
    provider: str
    verifies: str
    headers: tuple[str, ...]
    delivery_id: str | None = None
    handshake: str | None = None
    tolerance: int | None = None
    recipe: Callable[[Any], Any] | None = None
    secret_body_fields: tuple[str, ...] = ()
    """Body fields that carry the shared secret (Graph's clientState): never stored."""


def _custom(**fields: Any) -> Callable[[Any], CustomScheme]:
    """A recipe: the preset's fixed layout plus the user's secrets or key and tolerance."""

    def build(spec: Any) -> CustomScheme:
        values: dict[str, Any] = {"scheme": "custom", **fields}
        if hasattr(spec, "secrets"):
            values["secrets"] = spec.secrets
        if hasattr(spec, "public_key"):
            values["public_keys"] = [spec.public_key]
        tolerance = getattr(spec, "tolerance", None)
        if tolerance is None:
            tolerance = PRESETS[spec.scheme].tolerance
        if tolerance is not None:
            values["tolerance"] = tolerance
        if getattr(spec, "notification_url", None):
            values["url"] = spec.notification_url
        return CustomScheme.model_validate(values)

    return build


def _generic_hmac(spec: Any) -> CustomScheme:
    """`scheme: hmac` is the HMAC subset of `custom`, kept for its shorter options."""
    return CustomScheme.model_validate(dict(
        scheme="custom", algorithm=f"hmac-{spec.algorithm}", secrets=spec.secrets,
        header=spec.header, prefix=spec.prefix, encoding=spec.encoding,
        signed_content=spec.signed_content, timestamp_header=spec.timestamp_header,
        id_header=spec.id_header, tolerance=spec.tolerance))


def _google_oidc(spec: Any) -> JwtScheme:
    return JwtScheme(
        scheme="jwt", algorithms=["RS256"], header="authorization", jwks_url=spec.keys_url,
        jwks_file=spec.jwks_file, issuer=["https://accounts.google.com", "accounts.google.com"],
        audience=spec.audience, required_claims=["exp", "iat"],
        claims={"email": spec.service_account_email, "email_verified": True},
    )


_PRESET_LIST = [
    Preset("stripe", "Stripe", "HMAC-SHA256 of '<t>.<body>', several v1 entries",
           ("Stripe-Signature",), "body.id", None, 300,
           _custom(header="Stripe-Signature", signed_content="{timestamp}.{body}",
                   pairs=SignaturePairs(separator=",", timestamp="t", signature="v1"))),
    Preset("github", "GitHub", "HMAC-SHA256 of the body, 'sha256=' hex",
           ("X-Hub-Signature-256",), "headers['x-github-delivery']", None, None,
           _custom(header="X-Hub-Signature-256", prefix="sha256=")),
    Preset("slack", "Slack", "HMAC-SHA256 of 'v0:<timestamp>:<body>'",
           ("X-Slack-Signature", "X-Slack-Request-Timestamp"), None,
           "url_verification: echoes challenge (after the signature)", 300,
           _custom(header="X-Slack-Signature", prefix="v0=",
                   timestamp_header="X-Slack-Request-Timestamp",
                   signed_content="v0:{timestamp}:{body}")),
    Preset("shopify", "Shopify", "HMAC-SHA256 of the body, base64",
           ("X-Shopify-Hmac-Sha256",), "headers['x-shopify-webhook-id']", None, None,
           _custom(header="X-Shopify-Hmac-Sha256", encoding="base64")),
    Preset("twilio", "Twilio", "HMAC-SHA1 (HMAC-SHA256 when the signature settings header "
           "says so) of the public URL + sorted form params (JSON: bodySHA256 in the URL)",
           ("X-Twilio-Signature", "X-Twilio-Webhooks-Signature-Settings"),
           "headers['i-twilio-idempotency-token']"),
    Preset("standard", "Standard Webhooks", "HMAC-SHA256 of '<id>.<timestamp>.<body>', "
           "whsec_ secret", ("webhook-id", "webhook-timestamp", "webhook-signature"),
           STANDARD_ID, tolerance=300),
    Preset("svix", "Svix", "Standard Webhooks with svix-* headers",
           ("svix-id", "svix-timestamp", "svix-signature"), STANDARD_ID, tolerance=300),
    Preset("clerk", "Clerk", "Standard Webhooks (Svix)",
           ("svix-id", "svix-timestamp", "svix-signature"), STANDARD_ID, tolerance=300),
    Preset("resend", "Resend", "Standard Webhooks (Svix)",
           ("svix-id", "svix-timestamp", "svix-signature"), STANDARD_ID, tolerance=300),
    Preset("openai", "OpenAI", "Standard Webhooks",
           ("webhook-id", "webhook-timestamp", "webhook-signature"), STANDARD_ID,
           tolerance=300),
    Preset("discord", "Discord interactions", "Ed25519 of '<timestamp><body>' with the "
           "application's public key", ("X-Signature-Ed25519", "X-Signature-Timestamp"),
           "body.id", "PING (type 1) answered with type 1; interactions get a deferred "
           "response", 300,
           _custom(algorithm="ed25519", header="x-signature-ed25519",
                   timestamp_header="x-signature-timestamp",
                   signed_content="{timestamp}{body}")),
    Preset("zoom", "Zoom", "HMAC-SHA256 of 'v0:<timestamp>:<body>'",
           ("x-zm-signature", "x-zm-request-timestamp"), None,
           "endpoint.url_validation: plainToken answered with its HMAC (after the signature)",
           300, _custom(header="x-zm-signature", prefix="v0=",
                        timestamp_header="x-zm-request-timestamp",
                        signed_content="v0:{timestamp}:{body}")),
    Preset("meta", "Meta (Facebook, WhatsApp, Instagram)", "HMAC-SHA256 of the body with "
           "the app secret, 'sha256=' hex", ("X-Hub-Signature-256",), None,
           "GET hub.mode=subscribe: hub.verify_token checked, hub.challenge echoed", None,
           _custom(header="x-hub-signature-256", prefix="sha256=")),
    Preset("square", "Square", "HMAC-SHA256 of '<notification URL><body>', base64",
           ("x-square-hmacsha256-signature",), "body.event_id", None, None,
           _custom(header="x-square-hmacsha256-signature", encoding="base64",
                   signed_content="{url}{body}")),
    Preset("paddle", "Paddle Billing", "HMAC-SHA256 of '<ts>:<body>', 'ts=...;h1=...'",
           ("Paddle-Signature",), "body.event_id", None, 5,
           _custom(header="paddle-signature", signed_content="{timestamp}:{body}",
                   pairs=SignaturePairs(separator=";", timestamp="ts", signature="h1"))),
    Preset("lemonsqueezy", "Lemon Squeezy", "HMAC-SHA256 of the body, hex",
           ("X-Signature",), None, None, None, _custom(header="x-signature")),
    Preset("linear", "Linear", "HMAC-SHA256 of the body, hex; webhookTimestamp (ms) in the "
           "body within the tolerance", ("Linear-Signature",), "headers['linear-delivery']",
           None, 60, _custom(header="linear-signature", timestamp_field="webhookTimestamp",
                             timestamp_unit="ms")),
    Preset("calendly", "Calendly", "HMAC-SHA256 of '<t>.<body>', 't=...,v1=...'",
           ("Calendly-Webhook-Signature",), None, None, 180,
           _custom(header="calendly-webhook-signature", signed_content="{timestamp}.{body}",
                   pairs=SignaturePairs(separator=",", timestamp="t", signature="v1"))),
    Preset("docusign", "DocuSign Connect", "HMAC-SHA256 of the body, base64, one header per "
           "key", ("X-DocuSign-Signature-1", "X-DocuSign-Signature-2", "..."), None, None, None,
           _custom(header=[f"x-docusign-signature-{n}" for n in range(1, 11)],
                   encoding="base64")),
    Preset("intercom", "Intercom", "HMAC-SHA1 of the body with the client secret, 'sha1=' hex",
           ("X-Hub-Signature",), "body.id", None, None,
           _custom(algorithm="hmac-sha1", header="x-hub-signature", prefix="sha1=")),
    Preset("mailgun", "Mailgun", "HMAC-SHA256 of '<timestamp><token>' from the body's "
           "signature fields (JSON or form)", (), "body['event-data'].id", None, 300),
    Preset("sendgrid", "SendGrid (Twilio) Event Webhook", "ECDSA P-256 SHA-256 of "
           "'<timestamp><body>' with the verification key",
           ("X-Twilio-Email-Event-Webhook-Signature", "X-Twilio-Email-Event-Webhook-Timestamp"),
           None, None, 300,
           _custom(algorithm="ecdsa-sha256", header="x-twilio-email-event-webhook-signature",
                   encoding="base64",
                   timestamp_header="x-twilio-email-event-webhook-timestamp",
                   signed_content="{timestamp}{body}")),
    Preset("plaid", "Plaid", "JWT (ES256) with the body's SHA-256 and iat, key by kid from "
           "Plaid's API", ("Plaid-Verification",), None, None, 300),
    Preset("google-pubsub", "Google Cloud Pub/Sub push", "OIDC bearer JWT (RS256, Google's "
           "keys), audience and service-account email", ("Authorization",),
           "body.message.messageId", None, None, _google_oidc),
    Preset("gitlab", "GitLab", "X-Gitlab-Token shared token, compared in constant time",
           ("X-Gitlab-Token",),
           "'idempotency-key' in headers ? headers['idempotency-key'] : "
           "headers['x-gitlab-event-uuid']", None, None,
           _custom(algorithm="token", header="x-gitlab-token")),
    Preset("dropbox", "Dropbox", "HMAC-SHA256 of the body with the app secret, hex",
           ("X-Dropbox-Signature",), None, "GET ?challenge= echoed", None,
           _custom(header="x-dropbox-signature")),
    Preset("msgraph", "Microsoft Graph", "clientState of every notification matches a "
           "secret", (), None, "?validationToken= echoed as text/plain",
           secret_body_fields=("clientState",)),
    Preset("hmac", "(generic)", "HMAC of a signed-content template, header and encoding "
           "from the config", (), recipe=_generic_hmac),
    Preset("custom", "(any)", "a scheme fully described in the config: HMAC, Ed25519, "
           "ECDSA or a shared token", ()),
    Preset("jwt", "(generic)", "JWT from an allow-list of algorithms: secrets, PEM, JWKS "
           "file or URL", ("Authorization",)),
    Preset("none", "(unverified)", "nothing: needs insecure: true", ()),
]

PRESETS: dict[str, Preset] = {preset.name: preset for preset in _PRESET_LIST}
SCHEMES: tuple[str, ...] = tuple(PRESETS)


def verifier_options(spec: Any) -> Any:
    """The options the verifier runs with: a preset's recipe applied, or the spec itself
    with the preset's default tolerance when it sets none (the one place it is filled)."""
    preset = PRESETS[spec.scheme]
    if preset.recipe is not None:
        return preset.recipe(spec)
    if "tolerance" in type(spec).model_fields and spec.tolerance is None:
        return spec.model_copy(update={"tolerance": preset.tolerance})
    return spec


@dataclass(frozen=True)
class PresetOption:
    """One option a scheme takes, as `waitpoint providers` and the README list it."""

    name: str
    required: bool
    default: Any = None

    def __str__(self) -> str:
        """`name` when required, `name?` when optional without a default, else
        `name=default`."""
        if self.required:
            return self.name
        default = self.default
        if default is None or default == [] or default == {}:
            return f"{self.name}?"
        if default == "":
            return f'{self.name}=""'
        if isinstance(default, list):
            return f"{self.name}=[{', '.join(map(str, default))}]"
        return f"{self.name}={default}"


def _model_for(scheme: str) -> type[BaseModel]:
    for model in SCHEME_MODELS:
        if scheme in typing.get_args(model.model_fields["scheme"].annotation):
            return model
    raise KeyError(scheme)


def preset_options(scheme: str) -> tuple[PresetOption, ...]:
    """The options a scheme takes, read from its option model; a tolerance the preset
    fills is shown with the preset's value."""
    options = []
    for name, field in _model_for(scheme).model_fields.items():
        if name == "scheme":
            continue
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        if name == "tolerance" and default is None:
            default = PRESETS[scheme].tolerance
        options.append(PresetOption(name, field.is_required(), default))
    return tuple(options)


DEFAULT_DELIVERY_ID = {p.name: p.delivery_id for p in _PRESET_LIST if p.delivery_id}
"""Where each provider puts its own delivery id; other schemes dedupe on a body hash."""


UNSIGNED_DELIVERY_IDS = frozenset({"github", "shopify", "twilio", "gitlab", "linear"})
"""Schemes whose delivery id travels in a header the signature does not cover: a captured
request sent again with a new id would pass for a new delivery."""
REPLAY_WINDOW = 90 * 24 * 3600.0
"""Seconds a request whose signature has no time in it is remembered (at least as long as
its source's events are kept)."""


@dataclass(frozen=True)
class ReplayGuard:
    """What the receiver remembers of a verified request so that the same request sent
    again is a duplicate whatever its delivery id: the request itself ("request": its path
    and body) or the token its signature covers ("token": Mailgun signs a timestamp and a
    token, not the body), for `seconds`."""

    kind: Literal["request", "token"]
    seconds: float


TIMED_SCHEMES = frozenset({"stripe", "slack", "zoom", "linear", "paddle", "calendly", "mailgun",
                           "standard", "svix", "clerk", "resend", "openai", "discord",
                           "sendgrid"})
"""Schemes (as verifier options name them) whose signature covers a send time."""


def signed_time_tolerance(verifier: Any) -> float | None:
    """The tolerance of a verifier whose signature covers a send time (a timestamp header
    or pair, a time field of the body, a JWT's expiry); None when it covers no time."""
    tolerance = getattr(verifier, "tolerance", None)
    if isinstance(verifier, JwtScheme) or getattr(verifier, "scheme", "") in (
            "plaid", "google-pubsub"):
        return float(tolerance or 300)
    timed = ("{timestamp}" in getattr(verifier, "signed_content", "")
             or getattr(verifier, "timestamp_field", None)
             or getattr(getattr(verifier, "pairs", None), "timestamp", None)
             or getattr(verifier, "scheme", "") in TIMED_SCHEMES)
    return float(tolerance) if timed and tolerance else None


def replay_guard(verifier: Any, scheme: str, retention: float) -> ReplayGuard | None:
    """The replay guard a source needs: none when its signature covers a time and its
    delivery id (the tolerance and the dedupe on the id refuse a replay); the token for
    Mailgun; the request for the rest, for the tolerance when there is one, else for the
    longer of REPLAY_WINDOW and the source's retention."""
    if scheme == "none":
        return None
    tolerance = signed_time_tolerance(verifier)
    if scheme == "mailgun":
        return ReplayGuard("token", tolerance or float(PRESETS["mailgun"].tolerance or 0))
    if tolerance and scheme not in UNSIGNED_DELIVERY_IDS:
        return None
    return ReplayGuard("request", tolerance if tolerance else max(REPLAY_WINDOW, retention))
