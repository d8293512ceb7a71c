-- A new workflow; for a unique name, nothing when one of that name is still running.
INSERT INTO {schema}.workflows (name, unique_name) VALUES ($1, $2)
ON CONFLICT (name) WHERE unique_name AND finished_at IS NULL AND parent_id IS NULL DO NOTHING
RETURNING id
