"""ingest: the HTTP edge of waitpoint: signed callbacks in, durable signals out.

- `app.create_app()`: the aiohttp receiver (handlers in `handlers`, the middleware that
  measures, logs and records in `observe`, shared state in `context`);
- `verify`: the signature verifiers behind the provider presets of `routing.presets`;
- `prepared`: a routing evaluation made ready to store (encoded deliveries, outcome,
  status); `inbox` and `receiver_sql`: the group commit into the events table and the
  receiver's own SQL and migration track; `delivery_counts`: the per-minute counts;
- `callbacks`: per-job callback URLs; `recording_file` (the recording format),
  `request_recorder` (`serve --record`), `replay`: record and replay;
- `cli`: the receiver's commands of `waitpoint` (waitpoint.cli finds them);
  `pytest_plugin`: the `waitpoint_receiver` fixture for users' tests;
- `console`: the operator console, on its own socket.
"""
