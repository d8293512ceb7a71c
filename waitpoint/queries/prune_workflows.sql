-- A workflow row goes once it has finished and every one of its jobs has been pruned
-- (sub-workflows go with it). Returns how many root workflows went.
WITH pruned AS (
  DELETE FROM {schema}.workflows
  WHERE parent_id IS NULL AND finished_at IS NOT NULL
    AND available + scheduled + suspended + executing + retryable + completed + discarded
        + cancelled = 0
  RETURNING 1
)
SELECT count(*)::integer FROM pruned
