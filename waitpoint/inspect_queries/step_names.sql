-- The step names a workflow can be signalled by: its own steps, and its sub-workflows'
-- steps as "sub/step" (jobs_workflow_step_idx, workflows_sub_name_idx).
SELECT step AS name FROM {schema}.jobs WHERE workflow_id = $1
UNION ALL
SELECT w.name || '/' || j.step
FROM {schema}.workflows w JOIN {schema}.jobs j ON j.workflow_id = w.id
WHERE w.parent_id = $1
ORDER BY 1
