DELETE FROM {schema}.producers WHERE uuid = ANY($1::uuid[])
