"""The operator console: a web page served by waitpoint itself that shows the inbox, the
waiting jobs and the workflows, and lets an operator act on them.

Server-rendered HTML (aiohttp-jinja2), a vendored htmx for the live parts, no CDN and no
build step. Its own socket, 127.0.0.1 by default; see ingest.console.access for who may
do what. Only ingest.cli imports it (an import contract).
"""

from .access import ConsoleAccess, ConsoleRefused
from .app import create_console_app, serve_console

__all__ = ["ConsoleAccess", "ConsoleRefused", "create_console_app", "serve_console"]
