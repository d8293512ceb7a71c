-- Commit a batch of accepted callbacks (see ingest_events() in 003_events.sql).
SELECT * FROM {schema}.ingest_events($1::text::jsonb)
