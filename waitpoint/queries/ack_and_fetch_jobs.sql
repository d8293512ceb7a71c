-- One round trip and one commit per producer cycle: record the outcomes of the jobs that
-- just finished ($5..$10: one array per Ack field, see _ack.ack_arrays) and claim up to
-- $2 available jobs of queue $1 for producer ($3 node, $4 producer uuid). The two touch disjoint rows: acked jobs
-- are executing, claimed jobs are available.
WITH acks AS (
  SELECT * FROM unnest($5::bigint[], $6::text[], $7::double precision[], $8::text[],
                       $9::text[], $10::integer[])
    AS a(id, state, delay, error, meta, attempt_change)
), acked AS (
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
  -- `id = ANY`: an index lookup whatever the statistics say of executing jobs (see
  -- migrations/006_batched_snoozes.sql).
  WHERE j.id = a.id AND j.state = 'executing' AND j.id = ANY($5::bigint[])
  RETURNING j.id
), claimed AS (
  SELECT id FROM {schema}.jobs
  WHERE state = 'available' AND queue = $1
  ORDER BY priority, scheduled_at, id
  LIMIT $2
  FOR UPDATE SKIP LOCKED
)
UPDATE {schema}.jobs
SET state = 'executing', attempt = attempt + 1, attempted_at = now(),
    attempted_by = ARRAY[$3::text, $4::text]
WHERE id IN (SELECT id FROM claimed)
RETURNING {job_columns}
