-- Claim up to $2 available jobs of queue $1 for producer ($3 node, $4 producer uuid).
UPDATE {schema}.jobs
SET state = 'executing', attempt = attempt + 1, attempted_at = now(),
    attempted_by = ARRAY[$3::text, $4::text]
WHERE id IN (
  SELECT id FROM {schema}.jobs
  WHERE state = 'available' AND queue = $1
  ORDER BY priority, scheduled_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
RETURNING {job_columns}
