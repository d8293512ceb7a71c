-- A workflow's steps (jobs_workflow_step_idx) and its sub-workflows, for the graph.
SELECT 'step' AS kind, id, step AS name, state::text AS state, worker, deps,
       NULL::integer AS done, NULL::integer AS total
FROM {schema}.jobs WHERE workflow_id = $1
UNION ALL
SELECT 'workflow', id, name,
       CASE WHEN finished_at IS NOT NULL THEN 'finished' ELSE 'running' END, NULL, NULL,
       completed + discarded + cancelled,
       available + scheduled + suspended + executing + retryable + completed + discarded
         + cancelled
FROM {schema}.workflows WHERE parent_id = $1
ORDER BY 2
