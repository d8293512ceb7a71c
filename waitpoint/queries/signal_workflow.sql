SELECT {schema}.signal_jobs({schema}.workflow_step_ids($1, $2::text[]), $3::bytea, $4::text)
