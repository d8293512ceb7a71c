-- signal_jobs() of migrations/007: $4 the signal's name (NULL: unnamed).
SELECT {schema}.signal_jobs($1::bigint[], $2::bytea, $3::text, $4::text)
