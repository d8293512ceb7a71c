SELECT {schema}.signal_key($1::text, $2::bytea, $3::text, make_interval(secs => $4))
