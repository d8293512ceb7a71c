-- One workflow, with its parent and its named signals' names.
SELECT w.id, w.name, w.parent_id, w.unique_name, w.inserted_at, w.started_at,
       w.finished_at, {schema}.workflow_state(w) AS state,
       w.available, w.scheduled, w.suspended, w.executing, w.retryable, w.completed,
       w.discarded, w.cancelled,
       ARRAY(SELECT s.name FROM {schema}.workflow_signals s WHERE s.workflow_id = w.id
             ORDER BY s.name) AS signals
FROM {schema}.workflows w WHERE w.id = $1
