-- Make due scheduled and retryable jobs available. Suspended jobs are never staged.
WITH due AS (
  SELECT id FROM {schema}.jobs
  WHERE state IN ('scheduled', 'retryable') AND scheduled_at <= now()
  ORDER BY scheduled_at, id
  LIMIT $1
  FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobs j SET state = 'available'
FROM due WHERE j.id = due.id
