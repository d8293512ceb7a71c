-- Top-level workflows, newest first after cursor $1, from the workflows table's own counts
-- (kept by trigger), never a scan of jobs. $2: true for finished ones only, false for
-- unfinished ones, NULL for both; sub-workflows are listed under their parent.
SELECT w.id, w.name, w.parent_id, w.unique_name, w.inserted_at, w.started_at,
       w.finished_at, {schema}.workflow_state(w) AS state,
       w.available, w.scheduled, w.suspended, w.executing, w.retryable, w.completed,
       w.discarded, w.cancelled, ARRAY[]::text[] AS signals
FROM {schema}.workflows w
WHERE w.id < $1 AND w.parent_id IS NULL
  AND ($2::boolean IS NULL OR $2 = (w.finished_at IS NOT NULL))
ORDER BY w.id DESC
LIMIT $3
