-- consume_named_signal() of migrations/007: $5 the names waited for (NULL: unnamed).
SELECT payload, signal_name, db_now
FROM {schema}.consume_named_signal($1::bigint, $2::integer, $3::text, $4::boolean, $5::text[])
