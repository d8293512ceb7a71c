-- Commit a batch of accepted callbacks (ingest_events() of migrations/003_ingest_index_lookup.sql).
SELECT * FROM {schema}.ingest_events($1::text::jsonb)
