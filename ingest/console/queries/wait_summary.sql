-- How many jobs wait for a signal, since when the oldest waits, the nearest deadline
-- (jobs_waiting_idx, engine migration 014), counted now: when the leader's sample is
-- stale (depth.py).
SELECT count(*) AS waiting,
       min((meta -> 'await' ->> 'snoozed_at')::timestamptz) AS oldest_since,
       min(scheduled_at) FILTER (WHERE state = 'scheduled') AS nearest_deadline
FROM {schema}.jobs
WHERE state IN ('scheduled', 'suspended') AND meta ? 'await'
