-- A workflow's steps (jobs_workflow_step_idx) and its sub-workflows, for a graph: a step's
-- state is its job's, a sub-workflow's the engine's workflow_state(). A sub-workflow's
-- dependencies are those of its first steps, written "../step".
SELECT 'step' AS kind, id, step AS name, state::text AS state, worker, deps,
       NULL::integer AS done, NULL::integer AS total
FROM {schema}.jobs WHERE workflow_id = $1
UNION ALL
SELECT 'workflow', w.id, w.name, {schema}.workflow_state(w), NULL,
       ARRAY(SELECT DISTINCT substr(d, 4) FROM {schema}.jobs j, unnest(j.deps) AS d
             WHERE j.workflow_id = w.id AND d LIKE '../%'),
       w.completed + w.discarded + w.cancelled,
       w.available + w.scheduled + w.suspended + w.executing + w.retryable + w.completed
         + w.discarded + w.cancelled
FROM {schema}.workflows w WHERE w.parent_id = $1
ORDER BY 2
