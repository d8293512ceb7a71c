-- The leader's sample for the metrics: unfinished jobs per queue and state
-- (jobs_unfinished_idx, migration 012), then the waits.
SELECT queue, state::text AS state, count(*) AS jobs
FROM {schema}.jobs WHERE state NOT IN ('completed', 'cancelled', 'discarded')
GROUP BY 1, 2
