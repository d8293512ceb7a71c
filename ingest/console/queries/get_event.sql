-- One delivery, everything stored about it.
SELECT id, source, delivery_id, received_at, method, path, query, headers, body, outcome,
       signals, errors, replayed_at, replays
FROM {schema}.events WHERE id = $1
