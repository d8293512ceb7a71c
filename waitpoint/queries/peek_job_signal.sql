-- The oldest unconsumed signal of a job under a name ($2 NULL: unnamed), left in place.
SELECT payload FROM {schema}.signals
WHERE job_id = $1 AND consumed_at IS NULL AND name IS NOT DISTINCT FROM $2
ORDER BY id LIMIT 1
