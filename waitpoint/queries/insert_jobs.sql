-- Insert many jobs in one round trip. $1 is a JSON array of job fields; ids are drawn
-- up front so that returned rows can be matched to the input by position.
WITH input AS (
  SELECT nextval(pg_get_serial_sequence('{schema}.jobs', 'id')) AS id, x.*
  FROM ROWS FROM (jsonb_to_recordset($1::text::jsonb) AS (
    state text, queue text, worker text, args jsonb, meta jsonb, tags text[],
    max_attempts integer, priority integer, scheduled_at timestamptz, schedule_in double precision,
    workflow_id bigint, step text, deps text[]
  )) WITH ORDINALITY AS x(state, queue, worker, args, meta, tags, max_attempts, priority,
                          scheduled_at, schedule_in, workflow_id, step, deps, position)
), inserted AS (
  INSERT INTO {schema}.jobs (id, state, queue, worker, args, meta, tags, max_attempts,
                             priority, scheduled_at, workflow_id, step, deps)
  SELECT id, state::{schema}.job_state, queue, worker, args, meta, tags, max_attempts, priority,
         coalesce(scheduled_at, now() + make_interval(secs => coalesce(schedule_in, 0))),
         workflow_id, step, deps
  FROM input
  RETURNING id, state::text AS state, tags, inserted_at, scheduled_at
)
-- Only what the database decided: the caller's Job has the rest (Job.as_inserted).
SELECT inserted.* FROM inserted JOIN input USING (id) ORDER BY input.position
