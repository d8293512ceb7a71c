-- Pause, resume or scale queue $1 on node $2 (NULL: every node); NULL leaves a field as is.
SELECT {schema}.control_queue($1::text, $2::text, $3::boolean, $4::integer)
