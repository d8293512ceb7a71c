-- The leader's latest sample of unfinished jobs per queue and state (migration 015).
SELECT queue, state, jobs FROM {schema}.queue_samples ORDER BY queue, state
