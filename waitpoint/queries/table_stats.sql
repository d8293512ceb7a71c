SELECT table_name, estimated_rows, total_bytes, oldest FROM {schema}.table_stats()
