"""Twilio: `X-Twilio-Signature: base64(HMAC(url + sorted form params))`, HMAC-SHA1, or
HMAC-SHA256 when `X-Twilio-Webhooks-Signature-Settings` names it (then only that).

For JSON bodies Twilio adds `bodySHA256=<hex>` to the URL and signs the URL alone. The
URL is the public one Twilio called: behind a proxy, set the scheme's `public_url`. Both
forms of the URL (with and without the default port) are tried, as Twilio's own
validators do.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit, urlunsplit

from routing.schemes import TwilioScheme

from ._base import SignedRequest, VerificationError, b64, hmac_digest, matches_any, secret_values
from ._verifier import Verifier

HEADER = "x-twilio-signature"
SETTINGS_HEADER = "x-twilio-webhooks-signature-settings"
"""`key=<shared key id>,algorithm=HMAC_SHA256`: Twilio then signs with HMAC-SHA256 (under
the shared key's secret); without it, HMAC-SHA1 under the account's auth token."""
ALGORITHMS = {"HMAC_SHA1": "sha1", "HMAC_SHA256": "sha256"}


def signature_algorithm(settings: str | None) -> str:
    """The digest the settings header names (sha1 without one); an algorithm we do not know
    is refused rather than guessed."""
    for part in (settings or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip().lower() == "algorithm" and value.strip():
            algorithm = ALGORITHMS.get(value.strip().upper())
            if algorithm is None:
                raise VerificationError("bad_algorithm",
                                        f"unsupported Twilio algorithm {value.strip()!r}")
            return algorithm
    return "sha1"


def _url_variants(url: str) -> list[str]:
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    with_port = parts._replace(netloc=f"{host}:{parts.port or default}")
    without_port = parts._replace(netloc=host if parts.port in (None, default) else parts.netloc)
    return list(dict.fromkeys([url, urlunsplit(without_port), urlunsplit(with_port)]))


def _signed_content(url: str, body: bytes, is_json: bool) -> bytes:
    if is_json:
        return url.encode()
    params = sorted(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return (url + "".join(key + value for key, value in params)).encode()


class TwilioVerifier(Verifier[TwilioScheme]):
    def signed_url(self, path_qs: Callable[[], str], request_url: Callable[[], str]) -> str:
        if self.options.public_url:
            return self.options.public_url.rstrip("/") + path_qs()
        return request_url()

    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        signature = request.require(HEADER)
        algorithm = signature_algorithm(request.header(SETTINGS_HEADER))
        if not request.url:
            raise VerificationError("misconfigured", "twilio needs the public URL of the request")
        body_hash = parse_qs(urlsplit(request.url).query).get("bodySHA256")
        is_json = body_hash is not None
        if body_hash is not None:
            actual = hashlib.sha256(request.body).hexdigest()
            if not hmac.compare_digest(actual.encode(), body_hash[0].lower().encode()):
                raise VerificationError("bad_signature", "bodySHA256 does not match the body")
        expected = [
            b64(hmac_digest(s.encode(), _signed_content(url, request.body, is_json), algorithm))
            .encode() for s in secret_values(options) for url in _url_variants(request.url)]
        if not matches_any(expected, [signature.encode()]):
            raise VerificationError("bad_signature")

    def sign(self, body: bytes, *, url: str = "", algorithm: str | None = None,
             headers: dict[str, str] | None = None, **_: Any) -> dict[str, str]:
        """The signature Twilio would send: HMAC-SHA1, or HMAC-SHA256 with the settings
        header when `algorithm="sha256"` (or the recorded `headers` carry that header)."""
        settings = (headers or {}).get(SETTINGS_HEADER)
        if algorithm == "sha256" and settings is None:
            settings = "key=webhooks_sharedkey_waitpoint,algorithm=HMAC_SHA256"
        digest = signature_algorithm(settings)
        content = _signed_content(url, body, "bodySHA256=" in url)
        signed = {"X-Twilio-Signature": b64(hmac_digest(
            secret_values(self.options)[0].encode(), content, digest))}
        if settings is not None:
            signed["X-Twilio-Webhooks-Signature-Settings"] = settings
        return signed
