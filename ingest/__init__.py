"""ingest: the HTTP edge of waitpoint (signed callbacks in, durable signals out).

So far it holds the command-line tools that need the routing config.
"""
