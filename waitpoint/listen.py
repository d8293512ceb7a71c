"""LISTEN for the packages built on the engine (the receiver hears source pauses here).

The engine's own notifier, so a package that needs PostgreSQL notifications gets the same
reconnects with backoff and the same "look again after a reconnect" hook, not a second
implementation of them.

    >>> notifier = Notifier(url, {"waitpoint_sources": on_change}, on_reconnect=reload)
    >>> await notifier.start()   # returns once listening (TimeoutError after 30 s)
"""

from ._notifier import Notifier

__all__ = ["Notifier"]
