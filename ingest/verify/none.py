"""No verification at all, for `insecure: true` sources (development, trusted networks).
The server logs a warning for each such source when it starts."""

from __future__ import annotations

from typing import Any

from routing.schemes import NoneScheme

from ._base import SignedRequest
from ._verifier import Verifier


class NoVerifier(Verifier[NoneScheme]):
    def check(self, request: SignedRequest, now: float) -> None:
        return None

    def sign(self, body: bytes, **_: Any) -> dict[str, str]:
        return {}
