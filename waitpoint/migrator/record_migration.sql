INSERT INTO {schema}.migrations (track, version, name, applied_at)
VALUES ($1, $2, $3, coalesce($4, now()))
