-- A workflow and its sub-workflows, from the aggregate table: cost independent of job count.
WITH RECURSIVE tree AS (
  SELECT w.*, ARRAY[]::text[] AS path FROM {schema}.workflows w WHERE w.id = $1
  UNION ALL
  SELECT w.*, t.path || w.name FROM {schema}.workflows w JOIN tree t ON w.parent_id = t.id
)
SELECT id, name, parent_id, path, {schema}.workflow_state(ROW(
         id, name, parent_id, unique_name, available, scheduled, suspended, executing,
         retryable, completed, discarded, cancelled, inserted_at, started_at, finished_at
       )::{schema}.workflows) AS state,
       available, scheduled, suspended, executing, retryable, completed, discarded, cancelled,
       inserted_at, started_at, finished_at, now() AS db_now
FROM tree ORDER BY array_length(path, 1) NULLS FIRST, id
