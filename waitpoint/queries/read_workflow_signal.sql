-- The latest value of one of $3 on the job's workflow, recorded as call $2 (migrations/007).
SELECT payload, signal_name, db_now
FROM {schema}.read_workflow_signal($1::bigint, $2::integer, $3::text[])
