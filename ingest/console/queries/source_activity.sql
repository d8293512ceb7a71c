-- Sources page: each source's newest event (events_source_id_idx: one probe per source).
SELECT s.source, e.id AS last_event, e.received_at AS last_received, e.outcome AS last_outcome
FROM unnest($1::text[]) AS s(source)
LEFT JOIN LATERAL (
  SELECT id, received_at, outcome FROM {schema}.events
  WHERE source = s.source ORDER BY id DESC LIMIT 1
) e ON true
