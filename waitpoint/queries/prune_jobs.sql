-- Delete finished jobs older than $1 seconds, and signals that can no longer be used.
WITH pruned AS (
  DELETE FROM {schema}.jobs
  WHERE id IN (
    SELECT id FROM {schema}.jobs
    WHERE state IN ('completed', 'cancelled', 'discarded')
      AND coalesce(completed_at, cancelled_at, discarded_at) < now() - make_interval(secs => $1)
    LIMIT $2
  )
  RETURNING id
), signals_pruned AS (
  DELETE FROM {schema}.signals s
  WHERE s.id IN (
    SELECT id FROM {schema}.signals
    WHERE (consumed_at IS NOT NULL AND consumed_at < now() - make_interval(secs => $1))
       OR (job_id IS NULL AND expires_at < now())
       OR (job_id IN (SELECT id FROM pruned))
    LIMIT $2
  )
  RETURNING id
)
SELECT (SELECT count(*) FROM pruned) AS jobs, (SELECT count(*) FROM signals_pruned) AS signals
