-- Pause ($3 true) or resume source $1 as $2, and tell every receiver process (migration 007).
SELECT {schema}.set_source_pause($1::text, $2::text, $3::boolean)
