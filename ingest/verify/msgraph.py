"""Microsoft Graph change notifications: no signature header; every notification in the
body's `value` list carries the `clientState` secret given when subscribing, compared in
constant time. (The `validationToken` handshake is answered in ingest.handshakes.)
"""

from __future__ import annotations

import json
from typing import Any

from routing.schemes import SecretScheme

from ._base import SignedRequest, VerificationError, matches_any, secret_values
from ._verifier import Verifier


class MsGraphVerifier(Verifier[SecretScheme]):
    def check(self, request: SignedRequest, now: float) -> None:
        options = self.options
        try:
            notifications = json.loads(request.body).get("value")
        except (ValueError, AttributeError):
            notifications = None
        if not isinstance(notifications, list) or not notifications:
            raise VerificationError("missing_signature", "no notifications in value")
        expected = [secret.encode() for secret in secret_values(options)]
        for notification in notifications:
            state = notification.get("clientState") if isinstance(notification, dict) else None
            if not isinstance(state, str) or not state:
                raise VerificationError("missing_signature", "a notification has no clientState")
            if not matches_any(expected, [state.encode()]):
                raise VerificationError("bad_signature", "clientState does not match")

    def refresh_body(self, body: bytes, timestamp: int) -> bytes:
        """The body with every notification's clientState set to the secret: stored events
        and recordings keep it redacted, so a replay puts it back to verify."""
        try:
            message = json.loads(body)
        except (ValueError, RecursionError):
            return body
        notifications = message.get("value") if isinstance(message, dict) else None
        if not isinstance(notifications, list):
            return body
        secret = secret_values(self.options)[0]
        for notification in notifications:
            if isinstance(notification, dict):
                notification["clientState"] = secret
        return json.dumps(message).encode()

    def sign(self, body: bytes, **_: Any) -> dict[str, str]:
        """Graph proves itself with clientState inside the body: no headers."""
        return {}
