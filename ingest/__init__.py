"""ingest: the HTTP edge of waitpoint: signed callbacks in, durable signals out.

- `app.create_app()`: the aiohttp receiver (handlers in `handlers`, the middleware that
  measures, logs and records in `observe`, shared state in `context`);
- `verify`: the signature verifiers behind the provider presets of `routing.presets`;
- `inbox` and `query`: the group commit into the events table and the receiver's own SQL
  and migration track;
- `callbacks`: per-job callback URLs; `recording`, `recorder`, `replay`: record and replay;
- `cli`: the full `waitpoint` command; `pytest_plugin`: fixtures for users' tests.
"""
