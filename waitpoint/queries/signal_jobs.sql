SELECT {schema}.signal_jobs($1::bigint[], $2::bytea, $3::text)
