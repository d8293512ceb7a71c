-- A workflow and its sub-workflows, from the aggregate table: cost independent of job count;
-- with the named workflow signals set on each (name -> when).
WITH RECURSIVE tree AS (
  SELECT w.*, ARRAY[]::text[] AS path FROM {schema}.workflows w WHERE w.id = $1
  UNION ALL
  SELECT w.*, t.path || w.name FROM {schema}.workflows w JOIN tree t ON w.parent_id = t.id
)
SELECT id, name, parent_id, path, {schema}.workflow_state(ROW(
         id, name, parent_id, unique_name, available, scheduled, suspended, executing,
         retryable, completed, discarded, cancelled, inserted_at, started_at, finished_at,
         propagate_to_parent
       )::{schema}.workflows) AS state,
       available, scheduled, suspended, executing, retryable, completed, discarded, cancelled,
       inserted_at, started_at, finished_at, now() AS db_now,
       ARRAY(SELECT s.name FROM {schema}.workflow_signals s
             WHERE s.workflow_id = tree.id ORDER BY s.name) AS signal_names,
       ARRAY(SELECT s.set_at FROM {schema}.workflow_signals s
             WHERE s.workflow_id = tree.id ORDER BY s.name) AS signal_times
FROM tree ORDER BY array_length(path, 1) NULLS FIRST, id
