-- waitpoint.testing.drain_queue(with_scheduled=True): scheduled and retryable jobs of queue
-- $1 are due now.
UPDATE {schema}.jobs SET state = 'available', scheduled_at = now()
WHERE queue = $1 AND state IN ('scheduled', 'retryable')
