-- Resume a suspended job: it becomes available and its producers are notified.
UPDATE {schema}.jobs SET state = 'available', scheduled_at = now()
WHERE id = $1 AND state = 'suspended'
RETURNING {job_columns}
