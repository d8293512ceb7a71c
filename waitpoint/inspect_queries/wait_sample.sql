-- The leader's latest sample of the waits, and how old it is (migration 015).
SELECT waiting, oldest_since, nearest_deadline, sampled_at,
       extract(epoch FROM now() - sampled_at) AS age_seconds
FROM {schema}.wait_samples
