SELECT track, version, name, applied_at FROM {schema}.migrations
