-- Set a workflow signal on the workflow and, with $5, where it propagates (migrations/007).
SELECT {schema}.broadcast_workflow_signal($1::bigint, $2::text, $3::bytea, $4::text, $5::boolean)
