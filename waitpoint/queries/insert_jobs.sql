-- Insert many jobs in one round trip, one typed array per column (Query.insert_jobs):
-- no JSON document of the batch to parse, only each job's args and meta. Ids are drawn
-- up front in input order, so the rows returned are matched to the input by id. A NULL
-- (a whole column, or one job's value) is the column's default; unnest() pads a NULL
-- array to the batch's length.
WITH input AS (
  SELECT nextval(pg_get_serial_sequence('{schema}.jobs', 'id')) AS id, x.*
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
              $7::integer[], $8::integer[], $9::timestamptz[], $10::double precision[],
              $11::bigint[], $12::text[], $13::text[])
    WITH ORDINALITY AS x(state, queue, worker, args, meta, tags, max_attempts, priority,
                         scheduled_at, schedule_in, workflow_id, step, deps, position)
), inserted AS (
  INSERT INTO {schema}.jobs (id, state, queue, worker, args, meta, tags, max_attempts,
                             priority, scheduled_at, workflow_id, step, deps)
  SELECT id, coalesce(state, 'available')::{schema}.job_state, queue, worker, args::jsonb,
         coalesce(meta::jsonb, '{}'), coalesce(tags::text[], '{}'), max_attempts, priority,
         coalesce(scheduled_at, now() + make_interval(secs => coalesce(schedule_in, 0))),
         workflow_id, step, deps::text[]
  FROM input
  ORDER BY position
  RETURNING id, inserted_at, scheduled_at
)
-- Only what the database decided: the caller's Job has the rest (Job.as_inserted).
SELECT inserted.id, inserted.inserted_at, inserted.scheduled_at
FROM inserted JOIN input USING (id) ORDER BY input.position
