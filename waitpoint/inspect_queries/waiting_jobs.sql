-- Jobs waiting for a signal, newest first after cursor $1 (jobs_waiting_idx, migration 014).
SELECT id, worker, queue, state::text AS state, (meta -> 'await')::text AS wait,
       (meta -> 'await' ->> 'snoozed_at')::timestamptz AS since,
       CASE WHEN state = 'scheduled' THEN scheduled_at END AS deadline, workflow_id, step
FROM {schema}.jobs
WHERE state IN ('scheduled', 'suspended') AND meta ? 'await' AND id < $1
ORDER BY id DESC
LIMIT $2
