SELECT payload, db_now FROM {schema}.consume_signal($1::bigint, $2::integer, $3::text, $4::boolean)
