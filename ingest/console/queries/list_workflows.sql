-- Workflows, newest first after cursor $1, from the workflows table's own counts (kept
-- by trigger), never a scan of jobs. $2: 'running', 'finished' or NULL for both; sub-workflows
-- are listed under their parent.
SELECT id, name, unique_name, inserted_at, started_at, finished_at,
       available, scheduled, suspended, executing, retryable, completed, discarded, cancelled
FROM {schema}.workflows
WHERE id < $1 AND parent_id IS NULL
  AND ($2::text IS NULL OR ($2 = 'running') = (finished_at IS NULL))
ORDER BY id DESC
LIMIT $3
