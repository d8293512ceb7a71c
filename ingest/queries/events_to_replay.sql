-- Stored events to route again: by source, received since, outcome and ids (each optional).
SELECT id, source, delivery_id, path, query::text AS query, headers::text AS headers, body
FROM {schema}.events
WHERE ($1::text IS NULL OR source = $1)
  AND ($2::timestamptz IS NULL OR received_at >= $2)
  AND ($3::text IS NULL OR outcome = $3)
  AND ($4::bigint[] IS NULL OR id = ANY($4))
ORDER BY id
