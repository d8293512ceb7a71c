-- A workflow is `executing` only while one of its jobs executes. Before, any unfinished job
-- (available, scheduled, suspended, retryable) made it `executing`, so `workflow status`
-- said executing while nothing ran. Now: `pending` until a job starts or finishes,
-- `waiting` when it has started and is idle (steps waiting for signals, dependencies, a
-- schedule or a retry), then completed / cancelled / discarded as before.
CREATE OR REPLACE FUNCTION {schema}.workflow_state(w {schema}.workflows) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE
    WHEN w.executing > 0 THEN 'executing'
    WHEN w.available + w.scheduled + w.suspended + w.retryable > 0 THEN
      CASE WHEN w.started_at IS NULL AND w.completed + w.discarded + w.cancelled = 0
           THEN 'pending' ELSE 'waiting' END
    WHEN w.discarded > 0 THEN 'discarded'
    WHEN w.cancelled > 0 THEN 'cancelled'
    WHEN w.completed > 0 THEN 'completed'
    ELSE 'pending'
  END
$$;
