-- The step and sub-workflow names already in a workflow (appending checks deps against them).
SELECT step AS name FROM {schema}.jobs WHERE workflow_id = $1 AND step IS NOT NULL
UNION
SELECT name FROM {schema}.workflows WHERE parent_id = $1
