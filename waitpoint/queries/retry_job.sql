-- Make a job available again now; one that used all its attempts gets one more.
UPDATE {schema}.jobs SET
  state = 'available', scheduled_at = now(), completed_at = NULL, cancelled_at = NULL,
  discarded_at = NULL, max_attempts = greatest(max_attempts, attempt + 1)
WHERE id = $1 AND state <> 'executing'
RETURNING {job_columns}
