"""What every verifier is: typed options compiled once per source, a check over the raw
request, and the headers a provider would send (for replay and tests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ._base import SignedRequest, VerificationError
from .keys import KeyCache

Options = TypeVar("Options")


class Verifier(Generic[Options]):
    """A source's verifier. `verify()` may fetch keys first (JWKS, Plaid); `check()` is the
    pure part over the raw bytes and raises VerificationError."""

    def __init__(self, options: Options, keys: KeyCache) -> None:
        self.options = options
        self.keys = keys

    async def verify(self, request: SignedRequest, now: float) -> None:
        await self.fetch_keys(request)
        try:
            self.check(request, now)
        except VerificationError:
            raise
        except (ValueError, UnicodeError, RecursionError, TypeError, LookupError,
                AttributeError) as error:
            # Whatever an unverified request holds (bytes that are not UTF-8 in a header, a
            # body nested a thousand deep, a lone surrogate) is a malformed request: 401,
            # never a 500 that anyone could cause without a secret.
            raise VerificationError("malformed_signature",
                                    f"unreadable request ({type(error).__name__})") from None

    async def fetch_keys(self, request: SignedRequest) -> None:
        """Make the keys this request needs available (network IO); most need none."""

    def check(self, request: SignedRequest, now: float) -> None:
        raise NotImplementedError

    def sign(self, body: bytes, **kwargs: Any) -> dict[str, str]:
        """The headers the provider would send with `body`."""
        raise NotImplementedError

    def replay_token(self, request: SignedRequest) -> bytes | None:
        """For a scheme whose signature does not cover the body: the one-time value it
        covers (Mailgun's token), remembered so that it cannot be used again."""
        return None

    def refresh_body(self, body: bytes, timestamp: int) -> bytes:
        """The body to re-sign: unchanged unless the provider signs a time inside it."""
        return body

    def signed_url(self, path_qs: Callable[[], str], request_url: Callable[[], str]) -> str:
        """The URL the provider called, for schemes whose signature covers it (else "",
        and nothing is computed: building a URL is measurable per request). Behind a
        proxy it is the configured public URL, not the one the receiver saw."""
        return ""

    def header_names(self) -> tuple[str, ...]:
        """Headers of this scheme that carry a secret or signature (never stored)."""
        header = getattr(self.options, "header", None) or ()
        return (header,) if isinstance(header, str) else tuple(header)
