-- A node stopping cleanly hands back the jobs its producers could not finish within the
-- grace period: available again at once (discarded when out of attempts), for any node,
-- instead of waiting for the lifeline to notice the node is gone. Returns them.
UPDATE {schema}.jobs j SET
  state = CASE WHEN j.attempt >= j.max_attempts THEN 'discarded' ELSE 'available' END::{schema}.job_state,
  discarded_at = CASE WHEN j.attempt >= j.max_attempts THEN now() ELSE j.discarded_at END,
  scheduled_at = now(),
  errors = j.errors || jsonb_build_array(jsonb_build_object(
    'at', now(), 'attempt', j.attempt,
    'error', 'released: the node running this job (' || coalesce(j.attempted_by[1], '?')
             || ') shut down before it finished'))
WHERE j.state = 'executing' AND j.attempted_by[2] = ANY($1::text[])
RETURNING j.id, j.state::text AS state
