SELECT payload, db_now
FROM {schema}.snooze_for_signal($1::bigint, $2::integer, $3::text, $4::double precision)
