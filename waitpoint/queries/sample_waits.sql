-- Jobs snoozed waiting for a signal: how many, since when the oldest has waited, and the
-- nearest deadline (jobs_waiting_idx, migration 014).
SELECT count(*) AS waiting,
       min((meta -> 'await' ->> 'snoozed_at')::timestamptz) AS oldest_since,
       min(scheduled_at) FILTER (WHERE state = 'scheduled') AS nearest_deadline,
       now() AS db_now
FROM {schema}.jobs
WHERE state IN ('scheduled', 'suspended') AND meta ? 'await'
