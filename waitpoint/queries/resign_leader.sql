DELETE FROM {schema}.leaders WHERE name = $1 AND node = $2
