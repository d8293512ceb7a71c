SELECT EXISTS (SELECT 1 FROM {schema}.workflows WHERE id = $1)
