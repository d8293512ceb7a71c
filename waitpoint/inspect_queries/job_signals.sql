-- Every signal sent to one job, consumed or pending (signals_job_idx, migration 014).
SELECT id, name, key, source, payload, inserted_at, consumed_at, consumed_call, expires_at
FROM {schema}.signals WHERE job_id = $1 ORDER BY id
