-- Deliveries, newest first: one page after cursor $1 (an id; keyset, no OFFSET). Every
-- filter is optional (NULL). The candidates come in id order from an index (the primary
-- key, events_source_id_idx, events_unusual_outcome_idx, or the unique (source,
-- delivery_id) for a delivery id, looked up in each of the sources $3); at most $9 of them
-- are examined, so a text search ($8, in the raw body) costs a bounded time per page and
-- says how far it got.
--
-- A time range ($6, $7) also bounds the ids, found through events_received_idx, so the
-- scan starts at the range rather than at the newest event: every event received before
-- $7 has a smaller id than the first event received a minute after it (an id is taken
-- inside the transaction whose start is received_at, and an ingest transaction lasts
-- seconds, never a minute: commit_timeout), and likewise after $6.
WITH candidates AS (
  SELECT id FROM {schema}.events
  WHERE id < $1
    AND id < coalesce((SELECT e.id FROM {schema}.events e
                       WHERE $7::timestamptz IS NOT NULL
                         AND e.received_at >= $7 + interval '1 minute'
                       ORDER BY e.received_at LIMIT 1), $1)
    AND id > coalesce((SELECT e.id FROM {schema}.events e
                       WHERE $6::timestamptz IS NOT NULL
                         AND e.received_at < $6 - interval '1 minute'
                       ORDER BY e.received_at DESC LIMIT 1), 0)
    AND ($2::text IS NULL OR source = $2)
    AND ($4::text IS NULL OR (source = ANY($3::text[]) AND delivery_id = $4))
    AND ($5::text IS NULL OR outcome = $5)
    AND ($6::timestamptz IS NULL OR received_at >= $6)
    AND ($7::timestamptz IS NULL OR received_at < $7)
  ORDER BY id DESC
  LIMIT $9
), matched AS (
  SELECT e.id, e.source, e.delivery_id, e.received_at, e.outcome, e.replays,
         octet_length(e.body) AS body_bytes, jsonb_array_length(e.signals) AS deliveries,
         e.headers ->> 'content-type' AS content_type
  FROM candidates c JOIN {schema}.events e ON e.id = c.id
  WHERE $8::bytea IS NULL OR position($8::bytea IN e.body) > 0
  ORDER BY e.id DESC
  LIMIT $10
)
SELECT m.*, (SELECT min(id) FROM candidates) AS examined_to,
       (SELECT count(*) FROM candidates) AS examined
FROM (SELECT 1) AS one LEFT JOIN matched m ON true
ORDER BY m.id DESC
