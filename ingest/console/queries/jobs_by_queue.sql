-- Unfinished jobs per queue and state, counted now when the leader's sample is stale
-- (depth.py) (an index-only count of jobs_unfinished_idx);
-- finished jobs are the table's estimate, not a count.
SELECT queue, state::text AS state, count(*) AS jobs
FROM {schema}.jobs WHERE state NOT IN ('completed', 'cancelled', 'discarded')
GROUP BY 1, 2
ORDER BY 1, 2
