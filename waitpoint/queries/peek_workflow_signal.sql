-- The latest value of a workflow's named signal, and when it was set; no row: never set.
SELECT payload, set_at FROM {schema}.workflow_signals WHERE workflow_id = $1 AND name = $2
