SELECT {schema}.resolve_step(id, NULL) FROM unnest($1::bigint[]) AS steps(id)
