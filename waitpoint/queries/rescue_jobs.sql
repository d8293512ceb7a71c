-- Jobs left executing by a producer that stopped heartbeating (a dead node) go back to
-- available, or are discarded when they have no attempts left.
WITH stale AS (
  DELETE FROM {schema}.producers
  WHERE updated_at < now() - make_interval(secs => $1)
), orphans AS (
  SELECT j.id FROM {schema}.jobs j
  WHERE j.state = 'executing'
    AND NOT EXISTS (
      SELECT 1 FROM {schema}.producers p
      WHERE p.uuid::text = j.attempted_by[2] AND p.updated_at >= now() - make_interval(secs => $1)
    )
  FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobs j SET
  state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::{schema}.job_state,
  discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE j.discarded_at END,
  errors = j.errors || jsonb_build_array(jsonb_build_object(
    'at', now(), 'attempt', j.attempt,
    'error', 'rescued: the node running this job (' || coalesce(j.attempted_by[1], '?') || ') stopped'))
FROM orphans WHERE j.id = orphans.id
RETURNING j.id, j.state::text AS state
