-- Record the outcome of many executions at once (group commit of acks). Only a job still
-- executing is touched: a job cancelled while it ran stays cancelled.
WITH acks AS (
  SELECT * FROM unnest($1::bigint[], $2::text[], $3::double precision[], $4::text[],
                       $5::text[], $6::integer[])
    AS a(id, state, delay, error, meta, attempt_change)
)
UPDATE {schema}.jobs j SET
  state = a.state::{schema}.job_state,
  completed_at = CASE WHEN a.state = 'completed' THEN now() ELSE j.completed_at END,
  cancelled_at = CASE WHEN a.state = 'cancelled' THEN now() ELSE j.cancelled_at END,
  discarded_at = CASE WHEN a.state = 'discarded' THEN now() ELSE j.discarded_at END,
  scheduled_at = CASE WHEN a.delay IS NULL THEN j.scheduled_at
                      ELSE now() + make_interval(secs => a.delay) END,
  errors = CASE WHEN a.error IS NULL THEN j.errors
                ELSE j.errors || jsonb_build_array(a.error::jsonb) END,
  meta = CASE WHEN a.meta IS NULL THEN j.meta ELSE j.meta || a.meta::jsonb END,
  attempt = greatest(j.attempt + a.attempt_change, 0)
FROM acks a
WHERE j.id = a.id AND j.state = 'executing'
