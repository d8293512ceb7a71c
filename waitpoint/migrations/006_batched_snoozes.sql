-- Entering a wait is a job outcome: the producer commits the snoozes of a cycle together,
-- in the transaction of its next ack-and-fetch, instead of one round trip and one commit
-- per job (snooze_for_signal). A snooze that is lost with its process leaves the job
-- executing: the lifeline runs it again from the top, and memoized awaits make that safe.
--
-- The lost wake-up: between the job's last look for a signal and this commit, a signal
-- may have arrived. It found the job executing, so it could not wake it. Here the rows
-- are locked first (keys, then jobs: signal_key's order), and the look for pending
-- signals is a later statement with a fresh snapshot, so it sees every signal committed
-- before the locks were granted; a job that has one becomes available and re-runs (the
-- re-run consumes it), instead of suspending.

CREATE OR REPLACE FUNCTION {schema}.snooze_jobs(
  job_ids bigint[], calls integer[], wait_keys text[], wait_seconds double precision[]
)
RETURNS TABLE (job_id bigint, available boolean)
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('{schema}.key:' || k.key))
  FROM (SELECT DISTINCT key FROM unnest(wait_keys) AS u(key) WHERE key IS NOT NULL
        ORDER BY key) k;

  PERFORM 1 FROM {schema}.jobs
  WHERE id = ANY(job_ids) AND state = 'executing'
  ORDER BY id
  FOR UPDATE;

  RETURN QUERY
  WITH snoozes AS (
    SELECT * FROM unnest(job_ids, calls, wait_keys, wait_seconds) AS s(id, call, key, seconds)
  ), current AS (
    SELECT s.*, j.meta -> 'await' AS previous,
           EXISTS (SELECT 1 FROM {schema}.signals g
                   WHERE g.job_id = s.id AND g.consumed_at IS NULL)
           OR (s.key IS NOT NULL AND EXISTS (
                 SELECT 1 FROM {schema}.signals g
                 WHERE g.key = s.key AND g.job_id IS NULL AND g.consumed_at IS NULL
                   AND (g.expires_at IS NULL OR g.expires_at > now()))) AS signalled
    FROM snoozes s JOIN {schema}.jobs j ON j.id = s.id
    -- `id = ANY` keeps every plan an index lookup: jobs_executing_idx holds an entry for
    -- every job that ran since the last vacuum, and a bitmap scan of all of it (chosen
    -- when the statistics saw few executing jobs) cost 8 ms a batch at 100,000 jobs.
    WHERE j.state = 'executing' AND j.id = ANY(job_ids)
  ), decided AS (
    SELECT c.*,
           CASE WHEN (c.previous ->> 'call')::integer = c.call AND c.previous ? 'deadline'
                THEN (c.previous ->> 'deadline')::timestamptz
                WHEN c.seconds IS NOT NULL THEN now() + make_interval(secs => c.seconds)
           END AS deadline
    FROM current c
  )
  UPDATE {schema}.jobs j
  SET state = CASE WHEN d.signalled THEN 'available'
                   WHEN d.deadline IS NULL THEN 'suspended'
                   ELSE 'scheduled' END::{schema}.job_state,
      scheduled_at = CASE WHEN d.signalled THEN now() ELSE coalesce(d.deadline, now()) END,
      attempt = greatest(j.attempt - 1, 0),
      meta = j.meta || jsonb_build_object('await', jsonb_strip_nulls(jsonb_build_object(
               'call', d.call, 'key', d.key, 'deadline', d.deadline,
               'snoozed_at', coalesce(d.previous -> 'snoozed_at', to_jsonb(now())))))
  FROM decided d
  WHERE j.id = d.id AND j.id = ANY(job_ids)
  RETURNING j.id, d.signalled;
END;
$$;
