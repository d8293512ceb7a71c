-- Cancel a job that has not finished. An executing job is told through NOTIFY and stops
-- cooperatively (job.cancelled()); its later ack does not overwrite the cancellation.
WITH target AS (
  SELECT id, state FROM {schema}.jobs WHERE id = $1 FOR UPDATE
), updated AS (
  UPDATE {schema}.jobs j SET state = 'cancelled', cancelled_at = now()
  FROM target t
  WHERE j.id = t.id AND t.state NOT IN ('completed', 'cancelled', 'discarded')
  RETURNING j.id, t.state::text AS previous_state
)
SELECT id, previous_state,
       CASE WHEN previous_state = 'executing'
            THEN pg_notify('{schema}_cancel', id::text) IS NOT NULL END AS notified
FROM updated
